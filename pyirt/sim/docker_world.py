"""The ``containers:`` section of a ``kind: World`` document, read into simulated containers.

```yaml
containers:
  - name: pixashot
    image: pixashot:latest            # default NAME:latest
    state: running                    # running (default), paused, exited, created
    age: 10m                          # started this long ago (default 10m); or started: RFC 3339
    memory_limit: 2g                  # 0 or absent: no limit (the host's memory shows as the limit)
    memory_swap: 3g                   # default: twice memory_limit; -1 unlimited
    memory_usage: 1.9g                # or 95% of memory_limit (default 48m)
    cpus: 1.5                         # a CPU limit; cpu: 0.4 is the CPU it keeps busy
    pids: 12                          # processes (default 4); pids_limit: 100
    labels: {app: pixashot}
    networks: [web]                   # or {web: {aliases: [api]}}; default: the bridge network
    tty: false
    logs:                             # lines cycled at rate, from the start (or since: 5m ago)
      rate: 50/s
      lines: ["GET /screenshot 200", {stderr: "ERROR render timeout"}]
    faults:                           # scoped to this container
      - {op: stats, status: 500, times: 2}
```

A problem raises :class:`~pyirt.sim.cloudrun_state.WorldError` naming its path
(``containers[0].memory_usage: ...``). Other sections belong to other simulators.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

from pyirt.core.durations import parse_duration
from pyirt.sim.cloudrun_state import WorldError
from pyirt.sim.docker_model import (
    NS,
    STDERR,
    STDOUT,
    Container,
    Fault,
    MemoryCurve,
    digest_id,
    parse_rate,
    parse_share,
    parse_size,
)
from pyirt.sim.faults import common_fields

CONTAINER_KEYS = {"name", "image", "state", "age", "started", "memory_limit", "memory_swap", "memory_usage", "cpus",
                  "cpu", "pids", "pids_limit", "labels", "env", "command", "tty", "networks", "logs", "restarts",
                  "faults"}
LOG_KEYS = {"rate", "lines", "stream", "since"}
FAULT_KEYS = {"op", "status", "times", "latency", "hang", "message", "container"}
STATES = ("running", "paused", "exited", "created")
OPS = ("ping", "version", "list", "inspect", "logs", "stats", "update", "restart", "pause", "unpause",
       "connect", "disconnect", "image", "networks")
DEFAULT_USAGE = 48 * 1024 * 1024
DEFAULT_AGE = 600.0


Networks = dict[str, list[str]]  # network name -> aliases the container asks for there


def parse_containers(world: Mapping[str, Any], now: float | None = None,
                     ) -> tuple[list[tuple[Container, Networks]], list[Fault]]:
    """The containers (each with the networks it joins) and the faults of the section."""
    if not isinstance(world, Mapping):
        raise WorldError("a World is a map with a containers: list")
    entries = world.get("containers") or []
    if not isinstance(entries, list):
        raise WorldError("containers: expected a list of containers")
    now = time.time() if now is None else now
    containers: list[tuple[Container, Networks]] = []
    faults: list[Fault] = []
    for i, entry in enumerate(entries):
        container, networks, own = parse_container(entry, f"containers[{i}]", now)
        if any(c.name == container.name for c, _ in containers):
            raise WorldError(f"containers[{i}].name: {container.name} is defined twice")
        containers.append((container, networks))
        faults += own
    return containers, faults


def parse_container(entry: Any, where: str, now: float) -> tuple[Container, Networks, list[Fault]]:
    if not isinstance(entry, Mapping):
        raise WorldError(f"{where}: expected a map with a name")
    unknown = sorted(set(entry) - CONTAINER_KEYS)
    if unknown:
        raise WorldError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} "
                         f"(known: {', '.join(sorted(CONTAINER_KEYS))})")
    name = entry.get("name")
    if not isinstance(name, str) or not name or name.startswith("/") or any(c.isspace() for c in name):
        raise WorldError(f"{where}.name: required, a container name without spaces")
    state = entry.get("state", "running")
    if state not in STATES:
        raise WorldError(f"{where}.state: one of {', '.join(STATES)}")
    started = _started(entry, where, now)
    limit = _size(entry, "memory_limit", where, 0)
    if limit and limit < 6 * 1024 * 1024:
        raise WorldError(f"{where}.memory_limit: at least 6m (the engine refuses less)")
    swap_raw = entry.get("memory_swap")
    if swap_raw in (-1, "-1"):
        swap = -1
    else:
        swap = _size(entry, "memory_swap", where, 2 * limit if limit else 0)
        if limit and 0 < swap < limit:
            raise WorldError(f"{where}.memory_swap: at least memory_limit (it is memory plus swap)")
    try:
        usage = parse_share(entry.get("memory_usage", DEFAULT_USAGE), limit)
    except ValueError as exc:
        raise WorldError(f"{where}.memory_usage: {exc}") from None
    cpus = _number(entry, "cpus", where, 0.0)
    image = str(entry.get("image") or f"{name}:latest")
    cid = digest_id("container", name)
    started_ns = int(started * NS)
    container = Container(
        id=cid, name=name, image=image, image_id="sha256:" + digest_id("image", image),
        created_ns=started_ns - 2 * NS, started_ns=started_ns, memory=MemoryCurve([(started, usage)]),
        status=str(state), memory_limit=limit, memory_swap=swap, nano_cpus=int(cpus * 1e9),
        pids_limit=_int(entry, "pids_limit", where, None), cpu=_number(entry, "cpu", where, 0.02),
        pids=_int(entry, "pids", where, 4) or 0, labels=_labels(entry, where), env=_env(entry, where),
        cmd=_command(entry, where), tty=_bool(entry, "tty", where),
        restart_count=_int(entry, "restarts", where, 0) or 0,
        pid=1000 + int(cid[:4], 16) % 30000,
    )
    if state == "exited":
        container.finished_ns, container.pid = started_ns + NS, 0
    elif state == "created":
        container.started_ns = container.pid = 0
    container.network_mode, networks = _networks(entry, where)
    logs = entry.get("logs")
    if logs is not None:
        rate, lines, since = parse_logs(logs, f"{where}.logs")
        begin = max(started, now - since) if since is not None else started
        container.logs.generate(int(begin * NS), rate, lines)
    raw_faults = entry.get("faults") or []
    if not isinstance(raw_faults, list):
        raise WorldError(f"{where}.faults: a list of faults")
    return container, networks, [_fault(raw, f"{where}.faults[{k}]", name) for k, raw in enumerate(raw_faults)]


def parse_logs(raw: Any, where: str) -> tuple[float, list[tuple[int, str]], float | None]:
    """``{rate, lines, stream, since}`` -> (lines per second, [(stream, text)], seconds back or None)."""
    if not isinstance(raw, Mapping):
        raise WorldError(f"{where}: expected a map with rate and lines")
    unknown = sorted(set(raw) - LOG_KEYS)
    if unknown:
        raise WorldError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} "
                         f"(known: {', '.join(sorted(LOG_KEYS))})")
    try:
        rate = parse_rate(raw.get("rate", "1/s"))
    except ValueError as exc:
        raise WorldError(f"{where}.rate: {exc}") from None
    default = raw.get("stream", "stdout")
    if default not in ("stdout", "stderr"):
        raise WorldError(f"{where}.stream: stdout or stderr")
    items = raw.get("lines")
    if not isinstance(items, list) or not items:
        raise WorldError(f"{where}.lines: a non-empty list of lines")
    lines: list[tuple[int, str]] = []
    for j, item in enumerate(items):
        stream = STDERR if default == "stderr" else STDOUT
        if isinstance(item, Mapping) and len(item) == 1 and next(iter(item)) in ("stdout", "stderr"):
            key = next(iter(item))
            stream, item = (STDERR if key == "stderr" else STDOUT), item[key]
        if not isinstance(item, str | int | float) or isinstance(item, bool) or "\n" in str(item):
            raise WorldError(f"{where}.lines[{j}]: a line of text (or {{stderr: text}})")
        lines.append((stream, str(item)))
    since = None
    if raw.get("since") is not None:
        try:
            since = parse_duration(raw["since"])
        except ValueError as exc:
            raise WorldError(f"{where}.since: {exc}") from None
    return rate, lines, since


def make_fault(op: str = "*", **spec: Any) -> Fault:
    """A Fault from keyword or world-file fields (``hang`` true or a duration; durations as text)."""
    unknown = sorted(set(spec) - (FAULT_KEYS - {"op"}))
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(unknown)} (known: {', '.join(sorted(FAULT_KEYS))})")
    op = str(op or "*").lower()
    if op != "*" and op not in OPS:
        raise ValueError(f"unknown docker operation {op!r} (known: {', '.join(OPS)}, *)")
    status, times, latency, hang = common_fields(spec)
    return Fault(op=op, status=status, times=times, latency=latency, hang=hang,
                 message=spec.get("message"), container=spec.get("container"))


def _fault(raw: Any, where: str, container: str) -> Fault:
    if not isinstance(raw, Mapping):
        raise WorldError(f"{where}: expected a map with op and status, latency or hang")
    spec = dict(raw)
    op = str(spec.pop("op", "*"))
    spec.setdefault("container", container)
    try:
        return make_fault(op, **spec)
    except ValueError as exc:
        raise WorldError(f"{where}: {exc}") from None


def _started(entry: Mapping[str, Any], where: str, now: float) -> float:
    if entry.get("started") is not None:
        try:
            when = dt.datetime.fromisoformat(str(entry["started"]).replace("Z", "+00:00"))
        except ValueError:
            raise WorldError(f"{where}.started: not an RFC 3339 time: {entry['started']!r}") from None
        return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()
    try:
        return now - parse_duration(entry.get("age", DEFAULT_AGE))
    except ValueError as exc:
        raise WorldError(f"{where}.age: {exc}") from None


def _size(entry: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = entry.get(key)
    if value in (None, 0, "0"):
        return default if value is None else 0
    try:
        return parse_size(value)
    except ValueError as exc:
        raise WorldError(f"{where}.{key}: {exc}") from None


def _number(entry: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise WorldError(f"{where}.{key}: a number of CPUs (0.5, 2)")
    return float(value)


def _int(entry: Mapping[str, Any], key: str, where: str, default: int | None) -> int | None:
    value = entry.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WorldError(f"{where}.{key}: a whole number")
    return value


def _bool(entry: Mapping[str, Any], key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise WorldError(f"{where}.{key}: true or false")
    return value


def _labels(entry: Mapping[str, Any], where: str) -> dict[str, str]:
    labels = entry.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise WorldError(f"{where}.labels: a map of label: value")
    return {str(k): "" if v is None else str(v) for k, v in labels.items()}


def _env(entry: Mapping[str, Any], where: str) -> list[str]:
    env = entry.get("env") or {}
    if isinstance(env, Mapping):
        return [f"{k}={'' if v is None else v}" for k, v in env.items()]
    if isinstance(env, list) and all(isinstance(e, str) for e in env):
        return list(env)
    raise WorldError(f"{where}.env: a map of NAME: value")


def _command(entry: Mapping[str, Any], where: str) -> list[str]:
    command = entry.get("command")
    if command is None:
        return ["/app/serve"]
    if isinstance(command, str):
        return command.split()
    if isinstance(command, list) and all(isinstance(c, str) for c in command):
        return list(command)
    raise WorldError(f"{where}.command: a list of arguments or a string")


def _networks(entry: Mapping[str, Any], where: str) -> tuple[str, Networks]:
    raw = entry.get("networks")
    if raw is None:
        return "default", {"bridge": []}
    found: Networks = {}
    if isinstance(raw, list):
        for j, item in enumerate(raw):
            if not isinstance(item, str) or not item:
                raise WorldError(f"{where}.networks[{j}]: a network name")
            found[item] = []
    elif isinstance(raw, Mapping):
        for net, conf in raw.items():
            aliases = (conf or {}).get("aliases", []) if isinstance(conf, Mapping | type(None)) else conf
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise WorldError(f"{where}.networks.{net}.aliases: a list of names")
            found[str(net)] = list(aliases)
    else:
        raise WorldError(f"{where}.networks: a list of network names or a map of name: {{aliases: [...]}}")
    mode = next(iter(found), "none")
    return ("default" if mode == "bridge" else mode), found
