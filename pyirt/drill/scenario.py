"""A drill scenario (``kind: Scenario``): the world, what happens to it and when, and what a good
response achieves. Parsed once into frozen objects; every problem is reported at once, each with
its file, line and path (``injects[2].memory_usage``).

```yaml
apiVersion: irt/v1
kind: Scenario
name: security-incident
runbook: ../runbooks/security-incident.yaml   # the default runbook (relative to this file)
inputs: {project: demo}
world: worlds/pixashot.yaml                   # a World file (relative to this file), or the map inline
alert: {at: 1s, labels: {alertname: ContainerMemoryHigh}}   # when the incident opens (default at once)
approve_after: 2s                              # approval gates are granted after this (default at once)
deny: []                                       # steps whose approval is denied
timeout: 2m                                    # the drill is stopped after this
notify: {on: [opened, closed], channels: [oncall]}   # lifecycle notifications, as in irt.yaml
injects:                                       # at t+N (t = the drill's start)
  - {at: 2s, container: pixashot, memory_usage: 95%, over: 3s}
  - {at: 1s, cloudrun: pixashot, traffic: [{revision: pixashot-00042-bad, percent: 100}]}
faults:                                        # per operation, from t+from (default 0)
  - {target: cloudrun, op: UpdateService, status: 503, times: 2}
  - {target: channel, channel: oncall, status: 503, times: null}
expectations:                                  # over the final world and the journal
  - {traffic: {service: pixashot, to: stable, percent: 100}, within: 60s}
  - {secret: {name: pixashot-auth-token, project: demo, rotated: true, previous: disabled}}
  - {notified: {channel: oncall}, within: 2m}
  - {no_failed_steps: true}
  - {report: [md, html]}
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyirt.core.durations import format_duration, parse_duration
from pyirt.drill.criteria import Expectation, parse_expectations
from pyirt.errors import Problem, ValidationFailed
from pyirt.sim.world import Document, check_world, load_document

SCENARIO_KEYS = ("apiVersion", "kind", "name", "description", "runbook", "inputs", "world", "alert", "approve_after",
                 "deny", "timeout", "notify", "plugins", "redact", "injects", "faults", "expectations")
CONTAINER_CHANGES = ("memory_usage", "logs", "state", "emit")
CONTAINER_STATES = ("running", "paused", "exited", "restarted")
FAULT_TARGETS = ("docker", "cloudrun", "secrets", "channel")
FAULT_COMMON = {"target", "op", "status", "times", "latency", "hang", "message", "from"}
FAULT_SCOPE = {"docker": {"container"}, "cloudrun": {"project", "region", "service", "retry_after",
                                                     "concurrent_update"},
               "secrets": {"provider", "secret", "retry_after"}, "channel": {"channel", "retry_after"}}


@dataclass(frozen=True)
class Inject:
    at: float
    kind: str  # container, cloudrun, note
    target: str
    change: Mapping[str, Any]
    path: str
    text: str


@dataclass(frozen=True)
class FaultSpec:
    target: str  # docker, cloudrun, secrets, channel
    op: str
    fields: Mapping[str, Any]  # for the simulator's inject()
    start: float
    path: str
    text: str


@dataclass(frozen=True)
class Scenario:
    file: str
    name: str
    description: str = ""
    runbook: str | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    world: Mapping[str, Any] = field(default_factory=dict)
    alert: Mapping[str, Any] | None = None
    alert_at: float = 0.0
    approve_after: float = 0.0
    deny: tuple[str, ...] = ()
    timeout: float = 300.0
    notify: Mapping[str, Any] | None = None
    plugins: tuple[str, ...] = ()
    redact: tuple[str, ...] = ()
    injects: tuple[Inject, ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    expectations: tuple[Expectation, ...] = ()


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file and its world. Raises ValidationFailed with every problem."""
    doc = load_document(path, ("Scenario",))
    return parse_scenario(doc)


def parse_scenario(doc: Document) -> Scenario:
    reader = _Reader(doc)
    data: dict[str, Any] = doc.data
    for key in data:
        if key not in SCENARIO_KEYS:
            reader.fail(str(key), f"unknown key (known: {', '.join(SCENARIO_KEYS[2:])})")
    base = Path(doc.file).resolve().parent
    world, world_problems = _world(doc, base)
    reader.problems += world_problems
    runbook = data.get("runbook")
    if runbook is not None and not isinstance(runbook, str):
        reader.fail("runbook", "a path to a runbook file (relative to the scenario)")
        runbook = None
    inputs = data.get("inputs") or {}
    if not isinstance(inputs, Mapping):
        reader.fail("inputs", "a map of input: value")
        inputs = {}
    alert, alert_at = _alert(reader, data.get("alert"))
    deny = data.get("deny") or []
    if not isinstance(deny, list) or not all(isinstance(d, str) for d in deny):
        reader.fail("deny", "a list of step ids")
        deny = []
    notify = data.get("notify")
    if notify is not None and not isinstance(notify, Mapping):
        reader.fail("notify", "a map, as notify: in irt.yaml (on, channels...)")
        notify = None
    scenario = Scenario(
        file=doc.file, name=str(data.get("name") or Path(doc.file).stem),
        description=str(data.get("description") or ""),
        runbook=str((base / runbook).resolve()) if runbook else None, inputs=dict(inputs), world=world,
        alert=alert, alert_at=alert_at, approve_after=reader.duration("approve_after", data.get("approve_after"), 0.0),
        deny=tuple(deny), timeout=reader.duration("timeout", data.get("timeout"), 300.0) or 300.0,
        notify=dict(notify) if notify else None, plugins=reader.strings("plugins", data.get("plugins")),
        redact=reader.strings("redact", data.get("redact")),
        injects=tuple(_injects(reader, data.get("injects"), world)),
        faults=tuple(_faults(reader, data.get("faults"), world)),
        expectations=tuple(parse_expectations(reader, data.get("expectations"))),
    )
    if scenario.alert_at >= scenario.timeout:
        reader.fail("alert.at", f"the alert must fire before the drill's timeout ({format_duration(scenario.timeout)})")
    if reader.problems:
        raise ValidationFailed(sorted(reader.problems, key=lambda p: (p.file != doc.file, p.file, p.line, p.column)))
    return scenario


# -- reading ------------------------------------------------------------------------------------------
class _Reader:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def duration(self, path: str, value: Any, default: float | None) -> float:
        if value is None:
            return float(default or 0.0)
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(path, str(exc))
            return float(default or 0.0)

    def strings(self, path: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(path, "a list of strings")
            return ()
        return tuple(value)


def _world(doc: Document, base: Path) -> tuple[dict[str, Any], list[Problem]]:
    raw = doc.data.get("world")
    if raw is None:
        return {}, [doc.problem("world", "required: a World file (relative to the scenario) or the world inline")]
    if isinstance(raw, str):
        try:
            world_doc = load_document(base / raw, ("World",))
        except ValidationFailed as exc:
            return {}, list(exc.problems)
        except Exception as exc:
            return {}, [doc.problem("world", str(exc))]
    elif isinstance(raw, Mapping):
        world_doc = doc.sub("world")
    else:
        return {}, [doc.problem("world", "a World file name or a map (containers, cloudrun, secrets, channels)")]
    data = {k: v for k, v in world_doc.data.items() if k not in ("apiVersion", "kind")}
    inner = Document(world_doc.file, world_doc.node, data, world_doc.prefix)
    return data, check_world(inner)


def _alert(reader: _Reader, raw: Any) -> tuple[dict[str, Any] | None, float]:
    if raw is None:
        return None, 0.0
    if not isinstance(raw, Mapping):
        reader.fail("alert", "a map: at, labels, annotations")
        return None, 0.0
    for key in raw:
        if key not in ("at", "labels", "annotations"):
            reader.fail(f"alert.{key}", "unknown key (known: at, labels, annotations)")
    labels, annotations = raw.get("labels") or {}, raw.get("annotations") or {}
    if not isinstance(labels, Mapping) or not isinstance(annotations, Mapping):
        reader.fail("alert", "labels and annotations are maps of name: value")
        return None, 0.0
    at = reader.duration("alert.at", raw.get("at"), 0.0)
    return {"labels": {str(k): str(v) for k, v in labels.items()},
            "annotations": {str(k): str(v) for k, v in annotations.items()}}, at


def _names(world: Mapping[str, Any], section: str, key: str) -> set[str]:
    entries = world.get(section)
    if not isinstance(entries, list):
        return set()
    return {str(e.get(key)) for e in entries if isinstance(e, Mapping) and e.get(key)}


def _channels(world: Mapping[str, Any]) -> set[str]:
    raw = world.get("channels")
    if isinstance(raw, Mapping):
        return {str(k) for k in raw}
    if isinstance(raw, list):
        return {e if isinstance(e, str) else str(e.get("name")) for e in raw if isinstance(e, str | Mapping)}
    return set()


def _injects(reader: _Reader, raw: Any, world: Mapping[str, Any]) -> list[Inject]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        reader.fail("injects", "a list of injects, each with at and a container, cloudrun or note")
        return []
    containers, services = _names(world, "containers", "name"), _names(world, "cloudrun", "service")
    found = []
    for i, item in enumerate(raw):
        where = f"injects[{i}]"
        if not isinstance(item, Mapping) or "at" not in item:
            reader.fail(where, "a map with at (t+N) and a container, cloudrun or note")
            continue
        at = reader.duration(f"{where}.at", item["at"], 0.0)
        note = str(item.get("note") or "")
        if "container" in item:
            name = str(item["container"])
            if name not in containers:
                reader.fail(f"{where}.container", f"no container {name} in the world "
                                                  f"(containers: {', '.join(sorted(containers)) or 'none'})")
            change = _container_change(reader, where, item)
            if change is not None:
                found.append(Inject(at, "container", name, change, where, note or _change_text(name, change)))
        elif "cloudrun" in item:
            service = str(item["cloudrun"])
            if service not in services:
                reader.fail(f"{where}.cloudrun", f"no Cloud Run service {service} in the world "
                                                 f"(services: {', '.join(sorted(services)) or 'none'})")
            extra = sorted(set(item) - {"at", "cloudrun", "project", "region", "traffic", "note"})
            if extra:
                reader.fail(f"{where}.{extra[0]}", "unknown key (known: at, cloudrun, project, region, traffic, note)")
            traffic = item.get("traffic")
            if not isinstance(traffic, list) or not traffic or not all(isinstance(t, Mapping) for t in traffic):
                reader.fail(f"{where}.traffic", "a list of {revision, percent} (the new split)")
                continue
            change = {"traffic": [dict(t) for t in traffic], "project": item.get("project"),
                      "region": item.get("region")}
            split = ", ".join(f"{t.get('revision') or 'latest'} {t.get('percent', 0)}%" for t in traffic)
            text = note or f"Cloud Run {service}: traffic {split}"
            found.append(Inject(at, "cloudrun", service, change, where, text))
        elif note:
            found.append(Inject(at, "note", "", {}, where, note))
        else:
            reader.fail(where, "name a container, a cloudrun service, or give a note")
    return sorted(found, key=lambda inject: inject.at)


def _container_change(reader: _Reader, where: str, item: Mapping[str, Any]) -> dict[str, Any] | None:
    allowed = {"at", "container", "note", "over", "stream", *CONTAINER_CHANGES}
    for key in item:
        if key not in allowed:
            reader.fail(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(allowed))})")
    changes = [k for k in CONTAINER_CHANGES if k in item]
    if len(changes) != 1:
        reader.fail(where, f"one change per inject: {', '.join(CONTAINER_CHANGES)}")
        return None
    kind = changes[0]
    value = item[kind]
    if kind == "memory_usage":
        from pyirt.sim.docker_model import parse_size

        text = str(value).strip()
        try:
            if not text.endswith("%"):
                parse_size(value)
        except ValueError as exc:
            reader.fail(f"{where}.memory_usage", str(exc))
            return None
        return {"memory_usage": value, "over": reader.duration(f"{where}.over", item.get("over"), 0.0)}
    if kind == "state":
        if value not in CONTAINER_STATES:
            reader.fail(f"{where}.state", f"one of {', '.join(CONTAINER_STATES)}")
            return None
        return {"state": value}
    if kind == "logs":
        from pyirt.sim.cloudrun_state import WorldError
        from pyirt.sim.docker_world import parse_logs

        try:
            parse_logs(value, f"{where}.logs")
        except WorldError as exc:
            reader.fail(f"{where}.logs", str(exc).split(": ", 1)[-1])
            return None
        return {"logs": dict(value)}
    stream = item.get("stream", "stdout")
    if stream not in ("stdout", "stderr"):
        reader.fail(f"{where}.stream", "stdout or stderr")
    return {"emit": str(value), "stream": stream}


def _change_text(name: str, change: Mapping[str, Any]) -> str:
    if "memory_usage" in change:
        over = float(change.get("over") or 0)
        return f"container {name}: memory in use goes to {change['memory_usage']}" + \
            (f" over {format_duration(over)}" if over else "")
    if "logs" in change:
        logs = change["logs"]
        return f"container {name}: logs {logs.get('rate', '1/s')}, {len(logs['lines'])} kinds of line"
    if "state" in change:
        return f"container {name}: {change['state']}"
    return f"container {name} logs {change['emit']!r} on {change['stream']}"


def _faults(reader: _Reader, raw: Any, world: Mapping[str, Any]) -> list[FaultSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        reader.fail("faults", "a list of faults, each with a target (docker, cloudrun, secrets, channel)")
        return []
    channels = _channels(world)
    found = []
    for i, item in enumerate(raw):
        where = f"faults[{i}]"
        if not isinstance(item, Mapping) or item.get("target") not in FAULT_TARGETS:
            reader.fail(f"{where}.target", f"one of {', '.join(FAULT_TARGETS)}")
            continue
        target = str(item["target"])
        allowed = FAULT_COMMON | FAULT_SCOPE[target]
        unknown = sorted(set(item) - allowed)
        if unknown:
            reader.fail(f"{where}.{unknown[0]}",
                        f"unknown key for a {target} fault (known: {', '.join(sorted(allowed))})")
            continue
        start = reader.duration(f"{where}.from", item.get("from"), 0.0)
        fields = {k: v for k, v in item.items() if k not in ("target", "op", "from")}
        op = str(item.get("op") or "*")
        if target == "channel":
            name = fields.pop("channel", None)
            if name not in channels:
                reader.fail(f"{where}.channel", f"a channel of the world ({', '.join(sorted(channels)) or 'none'})")
                continue
            op = str(name)
        error = _check_fault(target, op, fields)
        if error:
            reader.fail(where, error)
            continue
        times = fields.get("times", 1)
        what = (f"status {fields['status']}" if fields.get("status") else
                f"latency {fields.get('latency')}" if fields.get("latency") else "hang")
        count = "always" if times is None else f"{times} time{'s' if times != 1 else ''}"
        where_text = f"channel {op}" if target == "channel" else f"{target} {op}"
        text = f"{where_text}: {what}, {count}" + (f", from t+{format_duration(start)}" if start else "")
        found.append(FaultSpec(target, op, fields, start, where, text))
    return found


def _check_fault(target: str, op: str, fields: Mapping[str, Any]) -> str | None:
    """Whether the simulator would take this fault (its own maker checks it)."""
    try:
        if target == "docker":
            from pyirt.sim.docker_world import make_fault as docker_fault

            docker_fault(op, **fields)
        elif target == "cloudrun":
            from pyirt.sim.cloudrun_state import make_fault as cloudrun_fault

            cloudrun_fault(op, **fields)
        elif target == "channel":
            from pyirt.sim.sinks import make_fault as channel_fault

            channel_fault(fields)
        else:
            from pyirt.sim.world import SECRET_PROVIDERS, secrets_available

            provider = str(fields.get("provider") or "gcp")
            if not secrets_available(provider):
                return f"no simulator for {provider} secrets in this installation"
            import importlib

            from pyirt.sim.secrets_world import make_fault as secrets_fault

            ops = importlib.import_module(SECRET_PROVIDERS[provider]).OPS
            secrets_fault(ops, op, **{k: v for k, v in fields.items() if k != "provider"})
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


