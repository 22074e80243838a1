"""Evidence in step outputs, read by its shape rather than by the action's name: an output with
an ``excerpt`` (or ``error_lines`` and a ``path``) is a log collection, one with ``memory_percent``
is a resource sample, one with ``previous`` and ``current`` maps is a change. ``docker.logs``,
``docker.stats`` and ``docker.update`` write these shapes; a plugin that writes them is reported
the same way. Outputs for several containers hold one such map per container under ``containers``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pyirt.core import journal
from pyirt.report.model import (
    Artifact,
    ChangeEvidence,
    Evidence,
    LogEvidence,
    StatsEvidence,
    StepReport,
)
from pyirt.report.text import LINE_LIMIT, clean, percent, size

JOURNAL = "journal.jsonl"
MAX_ERROR_LINES = 10
_SIZE_KEYS = ("memory", "memory_swap", "memory_limit", "memory_usage")


def per_container(output: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(container, its output) pairs: one per container of a multi-container output."""
    many = output.get("containers")
    if isinstance(many, Mapping) and many and all(isinstance(v, Mapping) for v in many.values()):
        for name, data in many.items():
            yield str(name), data
    else:
        name = output.get("container") or output.get("service")
        yield (str(name) if isinstance(name, str | int) else ""), output


def is_logs(data: Mapping[str, Any]) -> bool:
    return isinstance(data.get("excerpt"), list) or ("error_lines" in data and "path" in data)


def is_stats(data: Mapping[str, Any]) -> bool:
    return "memory_percent" in data


def is_change(data: Mapping[str, Any]) -> bool:
    return isinstance(data.get("previous"), Mapping) and isinstance(data.get("current"), Mapping)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any, limit: int = 100) -> str | None:
    return clean(value, limit) if isinstance(value, str) and value else None


def setting(key: str, value: Any) -> str:
    """A limit as a person reads it: ``4.0 GiB``, ``1.5 CPUs``, ``unlimited``."""
    if value is None:
        return "unknown"
    if key in _SIZE_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return "unlimited" if value == -1 else "not set" if value == 0 else size(value)
    if key == "nano_cpus" and isinstance(value, int | float) and not isinstance(value, bool):
        return "not set" if value == 0 else f"{value / 1e9:g} CPUs"
    if isinstance(value, str | int | float | bool):
        return clean(str(value), 100)
    return clean(repr(value), 200)


def _changes(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    before, after = data["previous"], data["current"]
    keys = [*before, *(k for k in after if k not in before)]

    def show(side: Mapping[str, Any], k: str) -> str:
        return setting(str(k), side[k]) if k in side else "absent"

    return [(clean(str(k), 60), show(before, k), show(after, k)) for k in keys if before.get(k) != after.get(k)]


def _result_one(data: Mapping[str, Any]) -> str:
    if is_logs(data):
        return f"{_count(data.get('lines'))} lines, {_count(data.get('error_lines'))} error lines saved"
    if is_stats(data):
        text = f"memory {percent(_num(data.get('memory_percent')))} of {setting('memory', data.get('memory_limit'))}"
        threshold = _num(data.get("threshold_percent"))
        if threshold is not None:
            over = data.get("over_threshold")
            text += f" (threshold {percent(threshold)}: {'over' if over else 'under' if over is False else '?'})"
        return text
    if is_change(data):
        moves = _changes(data)
        return "; ".join(f"{k} {a} \u2192 {b}" for k, a, b in moves) if moves else "no change needed"
    items = [(k, v) for k, v in data.items() if isinstance(v, str | int | float | bool) and v != ""]
    return "; ".join(f"{clean(str(k), 40)}: {clean(str(v), 120)}" for k, v in items[:3])


def _count(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "?"


def result_text(output: Mapping[str, Any]) -> str:
    """One line saying what a succeeded step produced."""
    parts = list(per_container(output))
    if len(parts) == 1:
        return clean(_result_one(parts[0][1]), LINE_LIMIT)
    return clean("; ".join(f"{name}: {_result_one(data)}" for name, data in parts), LINE_LIMIT)


def _artifact_path(step: str, recorded: Any, known: Mapping[str, Artifact]) -> str | None:
    """The artifact a recorded absolute path points at, when it is in this incident's folder."""
    if not isinstance(recorded, str) or not recorded:
        return None
    marker = f"artifacts/{step}/"
    at = recorded.find(marker)
    rel = recorded[at:] if at >= 0 else recorded
    return clean(rel, 400) if rel in known else None


_LEADING_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")


def _chronological(lines: list[str]) -> list[str]:
    """stdout and stderr lines merged by their engine timestamps, when every line has one."""
    stamps = [_LEADING_TS.match(line) for line in lines]
    if not lines or not all(stamps):
        return lines
    keys = [_ts_key(m.group()) for m in stamps if m]
    return [line for _, line in sorted(zip(keys, lines, strict=True), key=lambda pair: pair[0])]


def _ts_key(stamp: str) -> str:
    head, _, frac = stamp.rstrip("Z").partition(".")
    return f"{head}.{frac.ljust(9, '0')}"


def evidence(state: journal.IncidentState, steps: Sequence[StepReport],
             artifacts: Sequence[Artifact]) -> Evidence:
    known = {a.path: a for a in artifacts}
    logs: list[LogEvidence] = []
    stats: list[StatsEvidence] = []
    changes: list[ChangeEvidence] = []
    for step in steps:
        st = state.step(step.id)
        if st.status != "succeeded":
            continue
        for container, data in per_container(st.output):
            who = clean(container, 200)
            if is_logs(data):
                path = _artifact_path(st.id, data.get("path"), known)
                err_path = _artifact_path(st.id, data.get("stderr_path"), known)
                errors = _chronological([line for p in (path, err_path) if p for line in known[p].last_errors])
                raw_excerpt = data.get("excerpt")
                excerpt: list[Any] = raw_excerpt if isinstance(raw_excerpt, list) else []
                logs.append(LogEvidence(
                    step=step.id, container=who, path=path, stderr_path=err_path,
                    recorded_path=clean(str(data.get("path") or ""), 400),
                    lines=_int(data.get("lines")), error_lines=_int(data.get("error_lines")),
                    first_timestamp=_str(data.get("first_timestamp")), last_timestamp=_str(data.get("last_timestamp")),
                    last_errors=tuple(clean(line) for line in errors[-MAX_ERROR_LINES:]),
                    excerpt=tuple(clean(str(line)) for line in excerpt[-MAX_ERROR_LINES:]),
                    redactions=_int(data.get("redactions")),
                ))
            if is_stats(data):
                over = data.get("over_threshold")
                stats.append(StatsEvidence(
                    step=step.id, container=who, memory_percent=_num(data.get("memory_percent")),
                    threshold_percent=_num(data.get("threshold_percent")),
                    over_threshold=over if isinstance(over, bool) else None,
                    memory_usage=_int(data.get("memory_usage")), memory_limit=_int(data.get("memory_limit")),
                    path=_artifact_path(st.id, data.get("path"), known),
                ))
            if is_change(data):
                changes += [ChangeEvidence(step=step.id, container=who, setting=k, before=a, after=b,
                                           undone=st.undo == "succeeded") for k, a, b in _changes(data)]
    files = tuple(Artifact(path=clean(a.path, 400), size=a.size, step=clean(a.step, 100))
                  for a in sorted(artifacts, key=lambda a: a.path))
    return Evidence(journal=JOURNAL, artifacts=files, logs=tuple(logs), stats=tuple(stats), changes=tuple(changes))
