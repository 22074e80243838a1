"""The ``secrets:`` section of a ``kind: World`` document, and the faults the secret-store
simulators inject. Each simulator takes the entries of its own provider.

```yaml
secrets:
  - provider: gcp                       # gcp (Secret Manager) or azure (Key Vault); others are ignored here
    project: demo                       # gcp: required
    name: pixashot-auth-token
    environment: prod                   # optional, informative
    aliases: {current: 2}               # gcp: version aliases
    versions:                           # oldest first; each gets the next number (gcp) or an id (azure)
      - {age: 120d}                     # value: random unless given; state: enabled | disabled | destroyed
      - {age: 30d, value: "shared-token-value", tags: {owner: sre}}
    faults:                             # optional, scoped to this secret
      - {op: AddSecretVersion, status: 503, times: 1, retry_after: 1s}
```

A problem raises :class:`~pyirt.sim.cloudrun_state.WorldError` naming its path.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyirt.core.durations import parse_duration
from pyirt.sim.cloudrun_state import WorldError

SECRET_KEYS = {"provider", "project", "name", "environment", "aliases", "versions", "faults", "vault"}
VERSION_KEYS = {"age", "created", "value", "state", "enabled", "tags"}
FAULT_KEYS = {"op", "status", "times", "latency", "hang", "retry_after", "message", "secret"}


@dataclass
class SeedVersion:
    created: float
    value: str
    state: str = "enabled"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class SeedSecret:
    provider: str
    name: str
    project: str = ""
    versions: list[SeedVersion] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass
class Fault:
    """Fail ``times`` calls (None: every call) of ``op`` with HTTP ``status``, after ``latency``
    seconds, or ``hang`` without answering; optionally only for one secret."""

    op: str = "*"
    status: int | None = None
    times: int | None = 1
    latency: float = 0.0
    hang: float | None = None
    retry_after: float | None = None
    message: str | None = None
    secret: str | None = None

    def matches(self, op: str, secret: str | None) -> bool:
        if self.op not in ("*", op) or self.times == 0:
            return False
        return self.secret is None or self.secret == secret


def make_fault(ops: Iterable[str], op: str = "*", **spec: Any) -> Fault:
    known = {o.lower(): o for o in ops}
    unknown = sorted(set(spec) - FAULT_KEYS)
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
    name = op if op == "*" else known.get(op.replace("_", "").lower())
    if name is None:
        raise ValueError(f"unknown operation {op!r} (known: {', '.join(sorted(known.values()))}, *)")
    status = spec.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599):
        raise ValueError(f"status must be an HTTP error code (400-599), not {status!r}")
    times = spec.get("times", 1)
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise ValueError("times must be a count (or null: always)")
    hang = spec.get("hang")
    return Fault(op=name, status=status, times=times, latency=parse_duration(spec.get("latency") or 0),
                 hang=None if hang in (None, False) else float("inf") if hang is True else parse_duration(hang),
                 retry_after=None if spec.get("retry_after") is None else parse_duration(spec["retry_after"]),
                 message=spec.get("message"), secret=spec.get("secret"))


class Faults:
    """Thread-safe fault list and call counter."""

    def __init__(self, ops: Iterable[str], faults: Iterable[Fault] = ()) -> None:
        self.ops = tuple(ops)
        self._lock = threading.Lock()
        self._faults = list(faults)
        self.calls: Counter[str] = Counter()

    def inject(self, op: str = "*", **spec: Any) -> Fault:
        fault = make_fault(self.ops, op, **spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, op: str, secret: str | None) -> Fault | None:
        with self._lock:
            self.calls[op] += 1
            for fault in self._faults:
                if fault.matches(op, secret):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
            return None


def parse_secrets(world: Mapping[str, Any], provider: str, ops: Iterable[str]) -> tuple[list[SeedSecret], list[Fault]]:
    """The entries of ``provider`` in the world's ``secrets:`` list, and their faults."""
    if not isinstance(world, Mapping):
        raise WorldError("a World is a map with a secrets: list")
    entries = world.get("secrets") or []
    if not isinstance(entries, list):
        raise WorldError("secrets: expected a list")
    found: list[SeedSecret] = []
    faults: list[Fault] = []
    now = time.time()
    for i, entry in enumerate(entries):
        where = f"secrets[{i}]"
        if not isinstance(entry, Mapping) or not entry.get("name") or not entry.get("provider"):
            raise WorldError(f"{where}: expected a map with provider and name")
        if entry["provider"] != provider:
            continue
        unknown = sorted(set(map(str, entry)) - SECRET_KEYS)
        if unknown:
            raise WorldError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(SECRET_KEYS))})")
        if provider == "gcp" and not entry.get("project"):
            raise WorldError(f"{where}.project: required for a gcp secret")
        seed = SeedSecret(provider, str(entry["name"]), str(entry.get("project") or ""))
        raw_versions = entry.get("versions") or []
        if not isinstance(raw_versions, list):
            raise WorldError(f"{where}.versions: expected a list")
        for j, raw in enumerate(raw_versions):
            seed.versions.append(_version(raw, f"{where}.versions[{j}]", now, len(raw_versions) - j))
        aliases = entry.get("aliases") or {}
        if not isinstance(aliases, Mapping):
            raise WorldError(f"{where}.aliases: expected a map of alias: version number")
        for alias, number in aliases.items():
            if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(seed.versions):
                raise WorldError(f"{where}.aliases.{alias}: {number!r} is not a version number "
                                 f"(1..{len(seed.versions)})")
            seed.aliases[str(alias)] = number
        for k, spec in enumerate(entry.get("faults") or []):
            if not isinstance(spec, Mapping):
                raise WorldError(f"{where}.faults[{k}]: expected a map with op and status, latency or hang")
            spec = dict(spec)
            op = str(spec.pop("op", "*"))
            spec.setdefault("secret", seed.name)
            try:
                faults.append(make_fault(ops, op, **spec))
            except ValueError as exc:
                raise WorldError(f"{where}.faults[{k}]: {exc}") from None
        found.append(seed)
    return found, faults


def _version(raw: Any, where: str, now: float, rank: int) -> SeedVersion:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise WorldError(f"{where}: expected a map (age, value, state)")
    unknown = sorted(set(map(str, raw)) - VERSION_KEYS)
    if unknown:
        raise WorldError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(VERSION_KEYS))})")
    if raw.get("created"):
        try:
            when = dt.datetime.fromisoformat(str(raw["created"]).replace("Z", "+00:00"))
        except ValueError:
            raise WorldError(f"{where}.created: not an RFC 3339 time: {raw['created']!r}") from None
        created = (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()
    else:
        try:  # without an age, versions are a day apart, the first listed the oldest
            created = now - (parse_duration(raw["age"]) if raw.get("age") is not None else rank * 86400.0)
        except ValueError as exc:
            raise WorldError(f"{where}.age: {exc}") from None
    state = str(raw.get("state") or ("disabled" if raw.get("enabled") is False else "enabled"))
    if state not in ("enabled", "disabled", "destroyed"):
        raise WorldError(f"{where}.state: enabled, disabled or destroyed, not {state!r}")
    value = raw.get("value")
    tags = raw.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise WorldError(f"{where}.tags: expected a map")
    return SeedVersion(created, str(value) if value is not None else secrets.token_urlsafe(32), state,
                       {str(k): str(v) for k, v in tags.items()})


def rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
