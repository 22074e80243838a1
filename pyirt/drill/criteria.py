"""What a scenario expects of the response: the kinds of expectation, their keys, comparisons such
as ``>= 4g`` or ``< 85``, and a default name for each. Parsing reports problems through the
scenario's reader, at their paths (``expectations[2].container.memory_percent``).

    traffic:   {service, project, region, to, percent}           the split that serves (Cloud Run)
    container: {name, running, paused, state, memory_limit, memory_usage, memory_percent,
                restarted, connected, networks}                  a container's state (Docker)
    secret:    {name, provider, project, rotated, previous, versions}   a secret's versions
    notified:  {channel, kind, contains, count}                  what the sinks accepted
    step:      {id, status, attempts}                            a step of the journal
    no_failed_steps: true · outcome: succeeded · report: [md, html]
    within: 60s   (traffic, container, secret, notified, step: from the incident's opening)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class Reader(Protocol):
    def fail(self, path: str, message: str) -> None: ...

    def duration(self, path: str, value: Any, default: float | None) -> float: ...


EXPECTATION_KEYS: dict[str, set[str]] = {
    "traffic": {"service", "project", "region", "to", "percent"},
    "container": {"name", "running", "paused", "state", "memory_limit", "memory_usage", "memory_percent",
                  "restarted", "connected", "networks"},
    "secret": {"name", "provider", "project", "rotated", "previous", "versions"},
    "notified": {"channel", "kind", "contains", "count"},
    "step": {"id", "status", "attempts"},
    "no_failed_steps": set(),
    "outcome": set(),
    "report": set(),
}
TIMED = ("traffic", "container", "secret", "notified", "step")
WORLD_STATE = ("traffic", "container", "secret")
SIZES = ("memory_limit", "memory_usage")
_COMPARE = re.compile(r"^\s*(<=|>=|==|!=|<|>)?\s*(.+?)\s*$")


@dataclass(frozen=True)
class Compare:
    """``>= 4g``, ``< 85``, or a plain value (equality)."""

    op: str
    value: float
    text: str = ""

    def __str__(self) -> str:
        return f"{self.op} {self.text}" if self.text else f"{self.op} {self.value:g}"

    def __call__(self, actual: float) -> bool:
        return {"<": actual < self.value, "<=": actual <= self.value, ">": actual > self.value,
                ">=": actual >= self.value, "==": actual == self.value, "!=": actual != self.value}[self.op]


@dataclass(frozen=True)
class Expectation:
    name: str
    kind: str
    spec: Mapping[str, Any]
    within: float | None
    path: str

    @property
    def world_state(self) -> bool:
        return self.kind in WORLD_STATE


def parse_expectations(reader: Reader, raw: Any) -> list[Expectation]:
    if raw is None or raw == []:
        reader.fail("expectations", "at least one expectation: a drill scores the response against them")
        return []
    if not isinstance(raw, list):
        reader.fail("expectations", "a list of expectations")
        return []
    found = []
    for i, item in enumerate(raw):
        where = f"expectations[{i}]"
        if not isinstance(item, Mapping):
            reader.fail(where, f"a map with one of {', '.join(EXPECTATION_KEYS)}")
            continue
        kinds = [k for k in item if k in EXPECTATION_KEYS]
        others = [k for k in item if k not in EXPECTATION_KEYS and k not in ("name", "within")]
        if len(kinds) != 1 or others:
            reader.fail(f"{where}.{others[0]}" if others else where,
                        f"one expectation per entry: {', '.join(EXPECTATION_KEYS)} (with name and within)")
            continue
        kind = kinds[0]
        spec = _expectation_spec(reader, f"{where}.{kind}", kind, item[kind])
        if spec is None:
            continue
        within = None
        if item.get("within") is not None:
            if kind not in TIMED:
                reader.fail(f"{where}.within", f"within applies to {', '.join(TIMED)}")
            within = reader.duration(f"{where}.within", item["within"], None)
        found.append(Expectation(str(item.get("name") or describe(kind, spec)), kind, spec, within, where))
    return found


def _expectation_spec(reader: Reader, where: str, kind: str, value: Any) -> dict[str, Any] | None:
    if kind == "no_failed_steps":
        if value is not True:
            reader.fail(where, "true")
            return None
        return {}
    if kind == "outcome":
        outcomes = [value] if isinstance(value, str) else value
        if not isinstance(outcomes, list) or not all(isinstance(o, str) for o in outcomes):
            reader.fail(where, "an outcome (succeeded, completed_with_errors...) or a list of them")
            return None
        return {"outcomes": outcomes}
    if kind == "report":
        formats = ["md"] if value is True else [value] if isinstance(value, str) else value
        if not isinstance(formats, list) or not all(f in ("md", "html", "json", "pdf") for f in formats):
            reader.fail(where, "true, or a list of formats (md, html, json, pdf)")
            return None
        return {"formats": formats}
    if not isinstance(value, Mapping):
        reader.fail(where, f"a map ({', '.join(sorted(EXPECTATION_KEYS[kind]))})")
        return None
    spec = dict(value)
    for key in spec:
        if key not in EXPECTATION_KEYS[kind]:
            reader.fail(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(EXPECTATION_KEYS[kind]))})")
            return None
    required = {"traffic": ("service", "to"), "container": ("name",), "secret": ("name",), "step": ("id",)}
    for key in required.get(kind, ()):
        if not spec.get(key):
            reader.fail(f"{where}.{key}", "required")
            return None
    for key in ("memory_limit", "memory_usage", "memory_percent", "versions", "count", "attempts"):
        if key in spec:
            try:
                spec[key] = parse_compare(spec[key], size=key in SIZES)
            except ValueError as exc:
                reader.fail(f"{where}.{key}", str(exc))
                return None
    if kind == "traffic":
        percent = spec.get("percent", 100)
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            reader.fail(f"{where}.percent", "a whole number from 0 to 100")
            return None
        spec["percent"] = percent
    if kind == "secret" and spec.get("previous") not in (None, "enabled", "disabled", "destroyed", "revoked"):
        reader.fail(f"{where}.previous", "enabled, disabled, destroyed or revoked (disabled or destroyed)")
        return None
    if kind == "notified" and "count" not in spec:
        spec["count"] = Compare(">=", 1)
    return spec


def parse_compare(value: Any, *, size: bool = False) -> Compare:
    from pyirt.sim.docker_model import parse_size

    if isinstance(value, bool):
        raise ValueError("a number or a comparison such as '>= 4g' or '< 85'")
    if isinstance(value, int | float):
        return Compare("==", float(value), f"{value:g}")
    match = _COMPARE.match(str(value))
    if not match:
        raise ValueError("a number or a comparison such as '>= 4g' or '< 85'")
    op, text = match.group(1) or "==", match.group(2).rstrip("%")
    try:
        return Compare(op, float(parse_size(text)) if size else float(text), match.group(2))
    except ValueError:
        raise ValueError(f"not a {'size' if size else 'number'}: {text!r} (e.g. '>= 4g' or '< 85')") from None


def describe(kind: str, spec: Mapping[str, Any]) -> str:
    """A default name for an expectation, from what it checks."""
    if kind == "traffic":
        return f"traffic {spec.get('percent', 100)}% on {spec['to']} ({spec['service']})"
    if kind == "container":
        parts = [f"{k} {_show(v)}" for k, v in spec.items() if k != "name"]
        return f"container {spec['name']}: {', '.join(parts) or 'exists'}"
    if kind == "secret":
        parts = ["rotated" if spec.get("rotated") else ""] + \
                ([f"previous versions {spec['previous']}"] if spec.get("previous") else [])
        return f"secret {spec['name']} " + (", ".join(p for p in parts if p) or "checked")
    if kind == "notified":
        who = spec.get("channel") or spec.get("kind") or "stakeholders"
        who = ", ".join(who) if isinstance(who, list) else who
        return f"{who} notified" + (f" ({spec['contains']!r})" if spec.get("contains") else "")
    if kind == "step":
        return f"step {spec['id']} {spec.get('status', 'succeeded')}"
    if kind == "no_failed_steps":
        return "no step failed"
    if kind == "outcome":
        return f"incident {' or '.join(spec['outcomes'])}"
    return f"report written ({', '.join(spec['formats'])})"


def _show(value: Any) -> str:
    if isinstance(value, Compare):
        return str(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
