"""What a simulated Docker engine holds: containers, their networks, memory and logs, and faults.

Plain data with no lock of its own (:class:`~pyirt.sim.docker_state.DockerWorld` holds the lock).
Time-dependent values are computed when read, never by a timer: a container's memory follows a
piecewise-linear curve that injects move, and its log is explicit lines plus generators that
produce line ``k`` at ``start + k / rate``, so the same world always gives the same log.
Standard library only.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import heapq
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

STDOUT, STDERR = 1, 2
NS = 1_000_000_000
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$", re.IGNORECASE)
_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}


class EngineError(Exception):
    """An error the Engine API answers with: an HTTP status and ``{"message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


# -- units ------------------------------------------------------------------------------------------
def parse_size(value: Any) -> int:
    """Bytes from ``2g``, ``512m``, ``1.5GiB`` or a number of bytes. ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size cannot be negative: {value}")
        return value
    if isinstance(value, float) and value >= 0 and math.isfinite(value):
        return int(value)
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (use 512m, 2g or bytes)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_share(value: Any, whole: int) -> int:
    """A size, or a percentage (``95%``) of ``whole``."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            percent = float(value.strip()[:-1])
        except ValueError:
            raise ValueError(f"not a percentage: {value!r}") from None
        if not 0 <= percent <= 1000:
            raise ValueError(f"percentage out of range: {value!r}")
        if not whole:
            raise ValueError(f"{value} of what? the container has no memory limit")
        return int(whole * percent / 100.0)
    return parse_size(value)


def parse_rate(value: Any) -> float:
    """Lines per second from ``50/s``, ``3/m``, ``100/min``, ``2/h`` or a number (per second)."""
    if isinstance(value, bool):
        raise ValueError(f"not a rate: {value!r}")
    if isinstance(value, int | float):
        rate = float(value)
    else:
        match = _RATE.match(str(value))
        if not match:
            raise ValueError(f"not a rate: {value!r} (use 50/s, 3/m or 2/h)")
        rate = float(match.group(1)) / _PER[(match.group(2) or "s").lower()]
    if not 0 < rate <= 100_000:
        raise ValueError(f"a rate must be above 0 and at most 100000/s, not {value!r}")
    return rate


def rfc3339(ns: int) -> str:
    """The engine's timestamp form: RFC 3339 with nanoseconds, trailing zeros trimmed (Go's RFC3339Nano)."""
    if ns <= 0:
        return "0001-01-01T00:00:00Z"
    seconds, frac = divmod(ns, NS)
    head = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    tail = f"{frac:09d}".rstrip("0")
    return f"{head}.{tail}Z" if tail else f"{head}Z"


def digest_id(*parts: str) -> str:
    """A 64-hex id, the same for the same parts (so a world gives the same ids every time)."""
    return hashlib.sha256("/".join(("irt-sim", *parts)).encode()).hexdigest()


# -- memory -----------------------------------------------------------------------------------------
@dataclass
class MemoryCurve:
    """Memory in use over time: straight lines between points; flat before the first and after the last."""

    points: list[tuple[float, int]]

    def at(self, t: float) -> int:
        pts = self.points
        if t <= pts[0][0]:
            return pts[0][1]
        for (t0, v0), (t1, v1) in itertools.pairwise(pts):
            if t < t1:
                return int(v0 + (v1 - v0) * (t - t0) / (t1 - t0)) if t1 > t0 else v1
        return pts[-1][1]

    def move(self, now: float, target: int, over: float = 0.0) -> None:
        """From ``now``, go to ``target`` bytes in ``over`` seconds (at once when 0)."""
        current = self.at(now)
        kept = [p for p in self.points if p[0] < now]
        self.points = [*kept, (now, current), (now + max(over, 0.0), target)]


# -- logs -------------------------------------------------------------------------------------------
Line = tuple[int, int, bytes]  # timestamp (ns), stream (1 stdout, 2 stderr), text without newline


@dataclass
class LogGenerator:
    """``lines`` cycled at ``rate`` per second from ``start``: line k at ``start + k * period``,
    until ``end`` (exclusive) when a later generator took over. ``{n}`` in a line is its number."""

    start_ns: int
    period_ns: int
    lines: tuple[tuple[int, str], ...]
    end_ns: int | None = None
    first: int = 1

    def count_upto(self, t_ns: int) -> int:
        """How many lines have a timestamp <= t_ns."""
        if t_ns < self.start_ns:
            return 0
        count = (t_ns - self.start_ns) // self.period_ns + 1
        if self.end_ns is not None:
            count = min(count, max(0, -(-(self.end_ns - self.start_ns) // self.period_ns)))
        return int(count)

    def index_from(self, t_ns: int) -> int:
        """The first index whose timestamp is >= t_ns."""
        if t_ns <= self.start_ns:
            return 0
        return int(-(-(t_ns - self.start_ns) // self.period_ns))

    def line(self, k: int) -> Line:
        stream, text = self.lines[k % len(self.lines)]
        if "{n}" in text:
            text = text.replace("{n}", str(self.first + k))
        return self.start_ns + k * self.period_ns, stream, text.encode("utf-8", "surrogateescape")


@dataclass
class LogSource:
    """A container's log: explicit lines (kept sorted) and generators (one running at a time)."""

    explicit: list[tuple[int, int, int, bytes]] = field(default_factory=list)  # ts, seq, stream, text
    generators: list[LogGenerator] = field(default_factory=list)
    _seq: int = 0

    def add(self, ts_ns: int, stream: int, text: bytes) -> None:
        for part in text.split(b"\n") if text else [b""]:
            self._seq += 1
            bisect.insort(self.explicit, (ts_ns, self._seq, stream, part))

    def generate(self, start_ns: int, rate: float, lines: list[tuple[int, str]]) -> None:
        """A new generator from ``start_ns``; the running one stops there."""
        first = 1
        for gen in self.generators:
            if gen.end_ns is None or gen.end_ns > start_ns:
                gen.end_ns = start_ns
            first = max(first, gen.first + gen.count_upto(start_ns - 1))
        if lines:
            self.generators.append(LogGenerator(start_ns, max(1, round(NS / rate)), tuple(lines), first=first))

    def read(self, now_ns: int, since_ns: int = 0, until_ns: int = 0, tail: int | None = None,
             streams: tuple[int, ...] = (STDOUT, STDERR)) -> Iterator[Line]:
        """Lines up to now in time order, as the engine selects them: the last ``tail`` lines of
        both streams first, then those of the wanted ``streams`` with since <= timestamp <= until
        (0: no bound)."""
        top = min(now_ns, until_ns) if until_ns and tail is None else now_ns
        low = since_ns if tail is None else 0
        sources: list[Iterator[tuple[int, int, int, bytes]]] = []
        end = bisect.bisect_right(self.explicit, (top, math.inf))
        begin = bisect.bisect_left(self.explicit, (low, -1))
        if tail is not None:
            begin = max(begin, end - tail)
        sources.append(iter(self.explicit[begin:end]))
        for number, gen in enumerate(self.generators):
            hi = gen.count_upto(top)
            lo = gen.index_from(low) if low else 0
            if tail is not None:
                lo = max(lo, hi - tail)
            sources.append(_generated(gen, lo, hi, -(number + 1)))
        merged: Iterator[tuple[int, int, int, bytes]] = heapq.merge(*sources)
        if tail is not None:
            last: list[tuple[int, int, int, bytes]] = []
            for item in merged:
                last.append(item)
                if len(last) > 2 * tail + 1024:
                    del last[:-tail]
            kept = last[-tail:] if tail else []
            merged = iter(kept)
        for ts, _, stream, text in merged:
            if stream not in streams:
                continue
            if since_ns and ts < since_ns:
                continue
            if until_ns and ts > until_ns:
                continue
            yield ts, stream, text


def _generated(gen: LogGenerator, lo: int, hi: int, seq: int) -> Iterator[tuple[int, int, int, bytes]]:
    for k in range(lo, hi):
        ts, stream, text = gen.line(k)
        yield ts, seq, stream, text


# -- containers and networks -------------------------------------------------------------------------
@dataclass
class Endpoint:
    network_id: str
    endpoint_id: str
    aliases: list[str]
    ip: str
    mac: str


@dataclass
class Network:
    name: str
    id: str
    driver: str = "bridge"
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    subnet: int = 18  # 172.<subnet>.0.0/16
    created_ns: int = 0
    next_host: int = 2


@dataclass
class Container:
    id: str
    name: str
    image: str
    image_id: str
    created_ns: int
    started_ns: int
    memory: MemoryCurve
    status: str = "running"  # created, running, paused, exited
    finished_ns: int = 0
    exit_code: int = 0
    pid: int = 1000
    memory_limit: int = 0
    memory_swap: int = 0
    nano_cpus: int = 0
    pids_limit: int | None = None
    cpu_shares: int = 0
    memory_reservation: int = 0
    cpu: float = 0.02  # cores busy
    pids: int = 1
    labels: dict[str, str] = field(default_factory=dict)
    env: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    tty: bool = False
    network_mode: str = "bridge"
    networks: dict[str, Endpoint] = field(default_factory=dict)
    logs: LogSource = field(default_factory=LogSource)
    restart_count: int = 0
    oom_killed: bool = False

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused")

    def memory_usage(self, now: float, host_memory: int) -> int:
        cap = self.memory_limit or host_memory
        return max(0, min(self.memory.at(now), cap))


@dataclass
class Fault:
    """Matching calls fail ``times`` times (None: always) with ``status``, or wait ``latency``
    seconds first, or ``hang`` (seconds, inf: until the simulator stops) without answering."""

    op: str = "*"
    status: int | None = None
    times: int | None = 1
    latency: float = 0.0
    hang: float | None = None
    message: str | None = None
    container: str | None = None

    def matches(self, op: str, container: str | None) -> bool:
        if self.op not in ("*", op) or self.times == 0:
            return False
        return self.container is None or self.container == container
