"""Traffic splits as plain data, and the decisions made on them: which revision a rollback targets,
the split it writes (tags kept at 0 %), a split given as a step parameter, and whether the
service now serves what was written. No SDK here: :mod:`.views` turns API objects into these maps.

An entry is ``{"revision": str | None, "percent": int, "tag": str | None, "latest": bool}``, the
shape of the API's ``TrafficTarget`` (``latest`` for ``TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Entry = dict[str, Any]
PREVIOUS = "previous"
LATEST_KEYS = ("LATEST", "latest", "@latest")


class SplitError(ValueError):
    """A split or target that cannot be written (unknown, not Ready, not adding up to 100)."""


def entry(revision: str | None = None, percent: int = 0, tag: str | None = None, latest: bool = False) -> Entry:
    return {"revision": revision, "percent": int(percent), "tag": tag or None, "latest": bool(latest)}


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1] if name else name


def resolved(e: Mapping[str, Any], latest_ready: str | None) -> str | None:
    """The revision an entry sends traffic to (LATEST is the newest Ready revision)."""
    if e.get("latest") and not e.get("revision"):
        return latest_ready
    return e.get("revision") or (latest_ready if e.get("latest") else None)


def allocation(entries: Sequence[Mapping[str, Any]], latest_ready: str | None) -> dict[str, int]:
    """Percent per revision, entries to the same revision added up, zeros left out."""
    out: dict[str, int] = {}
    for e in entries:
        if e.get("percent"):
            name = resolved(e, latest_ready) or "LATEST"
            out[name] = out.get(name, 0) + int(e["percent"])
    return out


def tags_of(entries: Sequence[Mapping[str, Any]], latest_ready: str | None) -> dict[str, str]:
    return {str(e["tag"]): resolved(e, latest_ready) or "LATEST" for e in entries if e.get("tag")}


def same_effect(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]], latest_ready: str | None) -> bool:
    """Whether two splits route the same traffic and carry the same tags."""
    return allocation(a, latest_ready) == allocation(b, latest_ready) and tags_of(a, latest_ready) == tags_of(
        b, latest_ready)


def kept_tags(current: Sequence[Mapping[str, Any]], except_tags: set[str] | None = None) -> list[Entry]:
    """Every tagged entry of ``current`` at 0 %."""
    skip = except_tags or set()
    return [entry(e.get("revision"), 0, e["tag"], bool(e.get("latest")))
            for e in current if e.get("tag") and e["tag"] not in skip]


def serving_most(view: Mapping[str, Any]) -> str | None:
    """The revision that serves the most traffic now (from traffic_statuses, else the spec)."""
    alloc = allocation(view.get("statuses") or view.get("traffic") or [], view.get("latest_ready"))
    alloc.pop("LATEST", None)
    return max(alloc, key=lambda name: alloc[name]) if alloc else None


def _by_name(revisions: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {r["name"]: r for r in revisions}


def _require_ready(name: str, revisions: Mapping[str, Mapping[str, Any]], why: str) -> None:
    rev = revisions.get(name)
    if rev is None:
        raise SplitError(f"{why}: revision {name} does not exist")
    if not rev.get("ready"):
        state = rev.get("state") or "not Ready"
        detail = f": {rev['message']}" if rev.get("message") else ""
        raise SplitError(f"{why}: revision {name} is not Ready ({state}{detail}); refusing to send traffic to it")


def rollback_target(to: str, view: Mapping[str, Any], revisions: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(revision, how it was chosen) for ``to``: a tag, a revision name, or ``previous``. The
    revision must exist and be Ready."""
    by_name = _by_name(revisions)
    latest_ready = view.get("latest_ready")
    to = str(to).strip()
    if to == PREVIOUS:
        serving = serving_most(view)
        if serving is None or serving not in by_name:
            raise SplitError("to: previous: cannot tell which revision serves now")
        created = by_name[serving].get("create_time") or ""
        older = [r for r in revisions if r.get("ready") and (r.get("create_time") or "") < created]
        if not older:
            raise SplitError(f"to: previous: no Ready revision is older than {serving}, which serves now")
        newest = max(older, key=lambda r: r.get("create_time") or "")
        return str(newest["name"]), f"previous (newest Ready revision older than {serving})"
    tags = tags_of(view.get("traffic") or [], latest_ready) or tags_of(view.get("statuses") or [], latest_ready)
    if to in tags:
        name, how = tags[to], f"tag {to}"
        if name == "LATEST":
            raise SplitError(f"to: tag {to} points at LATEST, and no revision is Ready")
    elif short(to) in by_name:
        name, how = short(to), f"revision {short(to)}"
    else:
        known = ", ".join(sorted(tags)) or "none"
        raise SplitError(f"to: no tag or revision named {to!r} (tags: {known}; {len(revisions)} revisions)")
    _require_ready(name, by_name, f"to: {how}" if how.startswith("tag") else "to")
    return name, how


def rollback_split(view: Mapping[str, Any], target: str) -> list[Entry]:
    """100 % to ``target``; every existing tag kept, at 0 %."""
    return [entry(target, 100), *kept_tags(view.get("traffic") or [])]


def parse_split(split: Any, view: Mapping[str, Any], revisions: Sequence[Mapping[str, Any]],
                keep_tags: bool = True) -> list[Entry]:
    """The entries for ``split``: a map ``{revision | tag | LATEST: percent}`` or a list of
    ``{revision | latest, percent, tag}`` (the API's shape, as ``previous_split`` outputs hold).
    Percentages must add up to 100; revisions that get traffic must be Ready. With ``keep_tags``,
    existing tags the split does not name are kept at 0 %."""
    by_name = _by_name(revisions)
    latest_ready = view.get("latest_ready")
    current = view.get("traffic") or []
    tags = tags_of(current, latest_ready)
    entries: list[Entry] = []
    if isinstance(split, Mapping):
        for key, percent in split.items():
            pct = _percent(percent, str(key))
            if str(key) in LATEST_KEYS:
                entries.append(entry(None, pct, latest=True))
            elif str(key) in tags and tags[str(key)] != "LATEST":
                entries.append(entry(tags[str(key)], pct))
            elif short(str(key)) in by_name:
                entries.append(entry(short(str(key)), pct))
            else:
                raise SplitError(f"split: no tag or revision named {key!r} (tags: {', '.join(sorted(tags)) or 'none'})")
    elif isinstance(split, list | tuple):
        for i, item in enumerate(split):
            if not isinstance(item, Mapping):
                raise SplitError(f"split[{i}]: expected a map with revision (or latest), percent and tag")
            latest = bool(item.get("latest"))
            revision = short(str(item.get("revision"))) if item.get("revision") else None
            if not latest and not revision:
                raise SplitError(f"split[{i}]: name a revision or set latest: true")
            if revision and revision not in by_name:
                raise SplitError(f"split[{i}]: revision {revision} does not exist")
            entries.append(entry(revision, _percent(item.get("percent", 0), f"split[{i}]"), item.get("tag"), latest))
    else:
        raise SplitError("split: expected a map {revision or tag: percent} or a list of {revision, percent, tag}")
    total = sum(e["percent"] for e in entries)
    if total != 100:
        raise SplitError(f"split: percentages add up to {total}, not 100")
    named = [e["tag"] for e in entries if e["tag"]]
    if len(named) != len(set(named)):
        raise SplitError("split: a tag is given twice")
    for e in entries:
        if e["percent"] and not e["latest"]:
            _require_ready(e["revision"], by_name, "split")
        if e["percent"] and e["latest"] and not latest_ready:
            raise SplitError("split: LATEST gets traffic, and no revision is Ready")
    if keep_tags:
        entries += kept_tags(current, set(named))
    return entries


def _percent(value: Any, where: str) -> int:
    if isinstance(value, str) and value.strip().rstrip("%").isdigit():
        value = int(value.strip().rstrip("%"))
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise SplitError(f"{where}: percent must be an integer from 0 to 100, got {value!r}")
    return value


def verify(expected: Sequence[Mapping[str, Any]], view: Mapping[str, Any]) -> str | None:
    """None when traffic_statuses serve ``expected`` (split and tags), else what differs."""
    latest_ready = view.get("latest_ready")
    statuses = view.get("statuses") or []
    want, got = allocation(expected, latest_ready), allocation(statuses, latest_ready)
    if want != got:
        return f"traffic_statuses show {fmt_alloc(got)}, expected {fmt_alloc(want)}"
    want_tags, got_tags = tags_of(expected, latest_ready), tags_of(statuses, latest_ready)
    missing = {t: r for t, r in want_tags.items() if got_tags.get(t) != r}
    if missing:
        return "traffic_statuses lack tag(s) " + ", ".join(f"{t} -> {r}" for t, r in sorted(missing.items()))
    return None


def fmt_alloc(alloc: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {pct}%" for name, pct in alloc.items()) or "nothing"


def fmt(entries: Sequence[Mapping[str, Any]]) -> str:
    """``pixashot-00041-abc 100%; tag stable -> pixashot-00041-abc (0%)``."""
    parts = []
    for e in entries:
        who = e.get("revision") or "LATEST"
        parts.append(f"tag {e['tag']} -> {who} ({e.get('percent', 0)}%)" if e.get("tag")
                     else f"{who} {e.get('percent', 0)}%")
    return "; ".join(parts) or "nothing"


def describe_split(split: Any) -> str:
    """A split parameter as ``irt plan`` shows it (templates may still be unrendered)."""
    if isinstance(split, Mapping):
        return ", ".join(f"{key} {pct}%" for key, pct in split.items()) or "nothing"
    if isinstance(split, list | tuple):
        parts = []
        for item in split:
            if isinstance(item, Mapping):
                who = item.get("revision") or ("LATEST" if item.get("latest") else "?")
                tag = f" (tag {item['tag']})" if item.get("tag") else ""
                parts.append(f"{who} {item.get('percent', 0)}%{tag}")
            else:
                parts.append(str(item))
        return ", ".join(parts) or "nothing"
    return str(split)
