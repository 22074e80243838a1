"""The state of a simulated Docker engine, behind one lock: the Engine API operations the docker
actions use (each returns JSON-ready data or raises :class:`~pyirt.sim.docker_model.EngineError`
with the engine's own status and message), and the handle tests and drills drive it with
(``add_container``, ``emit``, ``set_memory``, ``set_logs``, ``set_state``, ``inject``).

Errors follow Docker Engine 20.10: 404 ``No such container: x``, 409 for pausing a paused or
stopped container, 500 for unpausing one that is not paused or disconnecting one that is not
connected, 403 for connecting one twice, 400 for a memory limit under 6 MB.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pyirt.sim import docker_json
from pyirt.sim.docker_model import (
    NS,
    STDERR,
    STDOUT,
    Container,
    Endpoint,
    EngineError,
    Fault,
    MemoryCurve,
    Network,
    digest_id,
    parse_share,
)
from pyirt.sim.docker_world import Networks, make_fault, parse_containers, parse_logs

MIN_MEMORY = 6 * 1024 * 1024
LIST_FILTERS = ("label", "name", "id", "status", "ancestor", "network")


class DockerWorld:
    """Thread-safe simulated engine. ``host_cpus`` and ``host_memory`` are what the host offers."""

    def __init__(self, containers: Iterable[tuple[Container, Networks]] = (), faults: Iterable[Fault] = (), *,
                 host_cpus: int = 4, host_memory: int = 8 * 1024**3) -> None:
        self._lock = threading.RLock()
        self.host_cpus = host_cpus
        self.host_memory = host_memory
        self.boot = time.time() - 86400.0
        self._containers: dict[str, Container] = {}
        self._networks: dict[str, Network] = {}
        self._faults: list[Fault] = list(faults)
        self.calls: Counter[str] = Counter()
        for name in ("bridge", "host", "none"):
            self.add_network(name)
        for container, networks in containers:
            self._insert(container, networks)

    @classmethod
    def from_dict(cls, world: Mapping[str, Any]) -> DockerWorld:
        """The ``containers:`` section of a World document (other sections are left to their simulators)."""
        containers, faults = parse_containers(world)
        return cls(containers, faults)

    # -- the handle: tests and drills ---------------------------------------------------------------
    def add_network(self, name: str, *, internal: bool = False, labels: Mapping[str, str] | None = None) -> Network:
        with self._lock:
            if name in self._networks:
                return self._networks[name]
            net = Network(name=name, id=digest_id("network", name), internal=internal, labels=dict(labels or {}),
                          subnet=17 + len(self._networks), created_ns=int(self.boot * NS))
            self._networks[name] = net
            return net

    def remove_network(self, name: str) -> None:
        with self._lock:
            if any(name in c.networks for c in self._containers.values()):
                raise EngineError(403, f"error while removing network: network {name} id "
                                       f"{self._networks[name].id} has active endpoints")
            self._networks.pop(name, None)

    def add_container(self, name: str, *, image: str | None = None, memory_limit: int = 0,
                      memory_swap: int | None = None, memory_usage: int | str = 48 * 1024 * 1024,
                      labels: Mapping[str, str] | None = None, networks: Mapping[str, list[str]] | None = None,
                      state: str = "running", tty: bool = False, env: Mapping[str, str] | None = None,
                      pids: int = 4, started: float | None = None) -> dict[str, Any]:
        """Add a container (as ``docker run`` would leave it); returns its inspect JSON."""
        now = time.time()
        started = now - 1.0 if started is None else started
        image = image or f"{name}:latest"
        usage = parse_share(memory_usage, memory_limit)
        swap = (2 * memory_limit if memory_limit else 0) if memory_swap is None else memory_swap
        cid = digest_id("container", name, str(now))
        container = Container(id=cid, name=name, image=image, image_id="sha256:" + digest_id("image", image),
                              created_ns=int((started - 1) * NS), started_ns=int(started * NS),
                              memory=MemoryCurve([(started, usage)]), status=state, memory_limit=memory_limit,
                              memory_swap=swap, labels=dict(labels or {}), tty=tty, pids=pids,
                              env=[f"{k}={v}" for k, v in (env or {}).items()], pid=1000 + int(cid[:4], 16) % 30000)
        nets: Networks = dict(networks) if networks is not None else {"bridge": []}
        container.network_mode = "default" if not nets or "bridge" in nets else next(iter(nets))
        with self._lock:
            if self._find(name, strict=False) is not None:
                raise EngineError(409, f'Conflict. The container name "/{name}" is already in use')
            self._insert(container, nets)
            return docker_json.inspect(container, self._networks)

    def remove_container(self, name: str) -> None:
        with self._lock:
            container = self._get(name)
            del self._containers[container.id]

    def emit(self, container: str, text: str, *, stream: str = "stdout", at: float | None = None) -> None:
        """Append a log line (or several, split on newlines) stamped ``at`` (default now)."""
        with self._lock:
            c = self._get(container)
            c.logs.add(int((time.time() if at is None else at) * NS), STDERR if stream == "stderr" else STDOUT,
                       text.encode("utf-8", "surrogateescape"))

    def set_logs(self, container: str, spec: Mapping[str, Any], *, at: float | None = None) -> None:
        """From now on the container logs ``{rate, lines}`` (replacing its generator)."""
        rate, lines, _ = parse_logs(spec, f"logs of {container}")
        with self._lock:
            self._get(container).logs.generate(int((time.time() if at is None else at) * NS), rate, lines)

    def set_memory(self, container: str, usage: int | str, *, over: float = 0.0) -> int:
        """Memory in use goes to ``usage`` (bytes, ``1.9g`` or ``95%`` of the current limit) over
        ``over`` seconds. Returns the target in bytes."""
        with self._lock:
            c = self._get(container)
            target = parse_share(usage, c.memory_limit)
            c.memory.move(time.time(), target, over)
            return target

    def set_state(self, container: str, state: str) -> None:
        """running, paused, exited (stops it) or restarted (a new start, as if it crashed and came back)."""
        with self._lock:
            c = self._get(container)
            now_ns = time.time_ns()
            if state == "restarted":
                c.restart_count += 1
                state = "running"
                c.started_ns, c.finished_ns = now_ns, now_ns
            elif state == "exited" and c.running:
                c.finished_ns, c.exit_code = now_ns, 137
            elif state == "running" and not c.running:
                c.started_ns = now_ns
            if state not in ("running", "paused", "exited"):
                raise ValueError(f"unknown state {state!r} (running, paused, exited, restarted)")
            c.status = state

    def snapshot(self, container: str) -> dict[str, Any]:
        """The container as ``docker inspect`` shows it, plus ``memory_usage`` now (for scoring)."""
        with self._lock:
            c = self._get(container)
            data = docker_json.inspect(c, self._networks)
            data["memory_usage"] = c.memory_usage(time.time(), self.host_memory) if c.running else 0
            return data

    def names(self) -> list[str]:
        with self._lock:
            return sorted(c.name for c in self._containers.values())

    def inject(self, op: str = "*", **spec: Any) -> Fault:
        """Add a fault: ``status`` ``times`` times (None: always), ``latency``, ``hang``; ``container`` scopes it."""
        fault = make_fault(op, **spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, op: str, container: str | None) -> Fault | None:
        """The first fault matching this call (by name or id of the container), its count spent."""
        with self._lock:
            self.calls[op] += 1
            found = self._find(container, strict=False) if container else None
            name = found.name if found else container
            for fault in self._faults:
                if fault.matches(op, name):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
            return None

    # -- the Engine API ---------------------------------------------------------------------------
    def list_containers(self, query: Mapping[str, list[str]]) -> list[dict[str, Any]]:
        show_all = _first(query, "all") in ("1", "true", "True")
        filters = _filters(_first(query, "filters"))
        with self._lock:
            now = time.time()
            found = [c for c in self._containers.values() if (show_all or c.running) and self._passes(c, filters)]
            found.sort(key=lambda c: c.created_ns, reverse=True)
            limit = _first(query, "limit")
            if limit.lstrip("-").isdigit() and int(limit) > 0:
                found = found[:int(limit)]
            return [docker_json.summary(c, self._networks, now) for c in found]

    def inspect(self, ref: str) -> dict[str, Any]:
        with self._lock:
            return docker_json.inspect(self._get(ref), self._networks)

    def tty(self, ref: str) -> bool:
        with self._lock:
            return self._get(ref).tty

    def stats(self, ref: str, query: Mapping[str, list[str]]) -> dict[str, Any]:
        one_shot = _first(query, "one-shot") in ("1", "true", "True")
        with self._lock:
            c = self._get(ref)
            return docker_json.stats(c, time.time(), host_cpus=self.host_cpus, host_memory=self.host_memory,
                                     boot=self.boot, one_shot=one_shot)

    def logs(self, ref: str, query: Mapping[str, list[str]]) -> tuple[bool, Iterator[tuple[int, int, bytes]]]:
        """(tty, lines): the log lines the query selects, as (timestamp ns, stream, text)."""
        stdout = _first(query, "stdout") in ("1", "true", "True")
        stderr = _first(query, "stderr") in ("1", "true", "True")
        if not stdout and not stderr:
            raise EngineError(400, "Bad parameters: you must choose at least one stream")
        since, until = _stamp(query, "since"), _stamp(query, "until")
        tail_text = _first(query, "tail") or "all"
        if tail_text == "all":
            tail = None
        elif tail_text.lstrip("-").isdigit():
            tail = None if int(tail_text) < 0 else int(tail_text)
        else:
            raise EngineError(400, f'invalid value for "tail": {tail_text!r}')
        streams = tuple(s for s, on in ((STDOUT, stdout), (STDERR, stderr)) if on)
        with self._lock:
            c = self._get(ref)
            lines = list(c.logs.read(time.time_ns(), since, until, tail, streams))
            return c.tty, iter(lines)

    def update(self, ref: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            c = self._get(ref)
            memory, swap = _int(body, "Memory"), _int(body, "MemorySwap")
            if memory and memory < MIN_MEMORY:
                raise EngineError(400, "Minimum memory limit allowed is 6MB")
            new_memory = memory or c.memory_limit
            if swap and swap > 0 and new_memory and swap < new_memory:
                raise EngineError(400, "Minimum memoryswap limit should be larger than memory limit, see usage")
            if memory and not swap and c.memory_swap > 0 and memory > c.memory_swap:
                # the engine's own words (S608 takes "update ... set" for SQL)
                raise EngineError(409, f"Cannot update container {c.id}: Memory limit should be smaller than "  # noqa: S608
                                       "already set memoryswap limit, update the memoryswap at the same time")
            cpus = _int(body, "NanoCpus")
            if cpus and not 10_000_000 <= cpus <= self.host_cpus * 1_000_000_000:
                raise EngineError(400, f"Range of CPUs is from 0.01 to {self.host_cpus}.00, as there are only "
                                       f"{self.host_cpus} CPUs available")
            if memory:
                c.memory_limit = memory
            if swap:
                c.memory_swap = swap
            if cpus:
                c.nano_cpus = cpus
            if "PidsLimit" in body and body["PidsLimit"] is not None:
                c.pids_limit = max(0, int(body["PidsLimit"]))
            if _int(body, "CpuShares"):
                c.cpu_shares = _int(body, "CpuShares")
            if _int(body, "MemoryReservation"):
                c.memory_reservation = _int(body, "MemoryReservation")
            return {"Warnings": None}

    def restart(self, ref: str) -> None:
        with self._lock:
            c = self._get(ref)
            now_ns = max(time.time_ns(), c.started_ns + 1)
            if c.running:
                c.finished_ns = now_ns
            c.status, c.started_ns, c.exit_code = "running", now_ns, 0
            c.pid = 1000 + (c.pid + 7919) % 30000

    def start(self, ref: str) -> bool:
        """False when it was running already (the engine answers 304 Not Modified)."""
        with self._lock:
            c = self._get(ref)
            if c.running:
                return False
            c.status, c.started_ns, c.exit_code = "running", max(time.time_ns(), c.finished_ns + 1), 0
            c.pid = 1000 + (c.pid + 7919) % 30000
            return True

    def stop(self, ref: str) -> bool:
        """False when it was stopped already (304). Simulated processes stop at once on SIGTERM."""
        with self._lock:
            c = self._get(ref)
            if not c.running:
                return False
            c.status, c.finished_ns, c.exit_code = "exited", time.time_ns(), 0
            return True

    def kill(self, ref: str) -> bool:
        with self._lock:
            c = self._get(ref)
            if not c.running:
                raise EngineError(409, f"Cannot kill container: {ref}: Container {c.id} is not running")
            c.status, c.finished_ns, c.exit_code = "exited", time.time_ns(), 137
            return True

    def pause(self, ref: str) -> None:
        with self._lock:
            c = self._get(ref)
            if c.status == "paused":
                raise EngineError(409, f"Container {c.id} is already paused")
            if not c.running:
                raise EngineError(409, f"Container {c.id} is not running")
            c.status = "paused"

    def unpause(self, ref: str) -> None:
        with self._lock:
            c = self._get(ref)
            if c.status != "paused":
                raise EngineError(500, f"Container {c.id} is not paused")
            c.status = "running"

    def connect(self, network: str, body: Mapping[str, Any]) -> None:
        with self._lock:
            net = self._network(network)
            c = self._get(str(body.get("Container") or ""))
            if net.name in c.networks:
                raise EngineError(403, f"endpoint with name {c.name} already exists in network {net.name}")
            config = body.get("EndpointConfig") or {}
            aliases = [str(a) for a in (config.get("Aliases") or [])] if isinstance(config, Mapping) else []
            self._attach(c, net, aliases)

    def disconnect(self, network: str, body: Mapping[str, Any]) -> None:
        with self._lock:
            net = self._network(network)
            c = self._get(str(body.get("Container") or ""))
            if net.name not in c.networks:
                raise EngineError(500, f"container {c.id} is not connected to network {net.name}")
            del c.networks[net.name]

    def image(self, ref: str) -> dict[str, Any]:
        with self._lock:
            for c in self._containers.values():
                if ref in (c.image, c.image_id, c.image_id[7:]) or (len(ref) >= 12 and c.image_id[7:].startswith(ref)):
                    return docker_json.image(c.image, c.image_id, int(self.boot * NS))
        tagged = ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"
        raise EngineError(404, f"no such image: {ref}: No such image: {tagged}")

    def networks(self) -> list[dict[str, Any]]:
        with self._lock:
            return [docker_json.network(n, list(self._containers.values())) for n in self._networks.values()]

    def network(self, ref: str) -> dict[str, Any]:
        with self._lock:
            return docker_json.network(self._network(ref), list(self._containers.values()))

    # -- inside --------------------------------------------------------------------------------------
    def _insert(self, container: Container, networks: Networks) -> None:
        self._containers[container.id] = container
        for name, aliases in networks.items():
            self._attach(container, self.add_network(name), aliases)

    def _attach(self, c: Container, net: Network, aliases: list[str]) -> None:
        host = net.next_host
        net.next_host += 1
        user_defined = net.name not in ("bridge", "host", "none")
        c.networks[net.name] = Endpoint(
            network_id=net.id, endpoint_id=digest_id("endpoint", c.id, net.id, str(host)),
            aliases=[*aliases, c.short_id] if user_defined else list(aliases),
            ip=f"172.{net.subnet}.{host // 256}.{host % 256}", mac=f"02:42:ac:{net.subnet:02x}:{host // 256:02x}:"
                                                                   f"{host % 256:02x}")

    def _find(self, ref: str | None, strict: bool = True) -> Container | None:
        if not ref:
            return None
        ref = ref.lstrip("/")
        if ref in self._containers:
            return self._containers[ref]
        for c in self._containers.values():
            if c.name == ref:
                return c
        matches = [c for c in self._containers.values() if c.id.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    def _get(self, ref: str) -> Container:
        found = self._find(ref)
        if found is None:
            raise EngineError(404, f"No such container: {ref}")
        return found

    def _network(self, ref: str) -> Network:
        for net in self._networks.values():
            if ref in (net.name, net.id) or (len(ref) >= 12 and net.id.startswith(ref)):
                return net
        raise EngineError(404, f"network {ref} not found")

    def _passes(self, c: Container, filters: Mapping[str, list[str]]) -> bool:
        for label in filters.get("label", []):
            key, eq, value = label.partition("=")
            if key not in c.labels or (eq and c.labels[key] != value):
                return False
        if filters.get("name") and not any(n.lstrip("/") in c.name for n in filters["name"]):
            return False
        if filters.get("id") and not any(c.id.startswith(i) for i in filters["id"]):
            return False
        if filters.get("status") and c.status not in filters["status"]:
            return False
        if filters.get("ancestor") and c.image not in filters["ancestor"]:
            return False
        return not (filters.get("network") and not any(n in c.networks for n in filters["network"]))


def _first(query: Mapping[str, list[str]], name: str) -> str:
    values = query.get(name) or [""]
    return values[0]


def _filters(text: str) -> dict[str, list[str]]:
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        raise EngineError(400, f"invalid filter: {text!r}") from None
    if not isinstance(raw, dict):
        raise EngineError(400, "invalid filter: expected a JSON object")
    result: dict[str, list[str]] = {}
    for key, value in raw.items():
        if key not in LIST_FILTERS:
            raise EngineError(400, f"Invalid filter '{key}'")
        items = list(value) if isinstance(value, list | dict) else [value]
        result[key] = [str(v) for v in items]
    return result


def _stamp(query: Mapping[str, list[str]], name: str) -> int:
    """since/until as the engine reads them: seconds[.nanoseconds]; 0 or absent: no bound."""
    text = _first(query, name)
    if not text:
        return 0
    try:
        seconds, _, frac = text.partition(".")
        return int(seconds) * NS + int(frac.ljust(9, "0")[:9] or 0)
    except ValueError:
        raise EngineError(400, f"invalid value for {name}: {text!r}") from None


def _int(body: Mapping[str, Any], key: str) -> int:
    value = body.get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
