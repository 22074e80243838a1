"""The state of a simulated Cloud Run: services, revisions, traffic, long-running operations and
injected faults, all behind one lock. :mod:`pyirt.sim.cloudrun` serves it over HTTP.

It follows the Cloud Run Admin API v2: a PATCH writes the service's ``traffic`` at once (new
``generation`` and ``etag``) and returns an operation; when the operation finishes (after the
service's ``operation_delay``), ``trafficStatuses`` show the new split, or the operation fails when
the split sends traffic to a revision that is not Ready. Operations settle lazily, on the next call,
so no timer thread runs. :mod:`pyirt.sim.cloudrun_json` renders resources as the API's JSON.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyirt.core.durations import parse_duration
from pyirt.errors import InvalidInput
from pyirt.sim.cloudrun_json import LATEST, TRAFFIC_TYPES, render_operation, render_revision, render_service

# Canonical status name -> (HTTP status, gRPC code), as Google APIs pair them.
STATUSES = {
    "INVALID_ARGUMENT": (400, 3), "FAILED_PRECONDITION": (400, 9), "OUT_OF_RANGE": (400, 11),
    "UNAUTHENTICATED": (401, 16), "PERMISSION_DENIED": (403, 7), "NOT_FOUND": (404, 5), "ABORTED": (409, 10),
    "ALREADY_EXISTS": (409, 6), "RESOURCE_EXHAUSTED": (429, 8), "CANCELLED": (499, 1), "INTERNAL": (500, 13),
    "UNKNOWN": (500, 2), "UNIMPLEMENTED": (501, 12), "UNAVAILABLE": (503, 14), "DEADLINE_EXCEEDED": (504, 4),
}
HTTP_TO_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                  409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
                  502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
OPS = ("GetService", "ListServices", "UpdateService", "ListRevisions", "GetRevision", "GetOperation")
MUTABLE = ("traffic", "labels", "annotations", "description")
_TAG = re.compile(r"^[a-z]([-a-z0-9]{0,44}[a-z0-9])?$")
NOT_READY = "The user-provided container failed to start and listen on the port defined by the PORT=8080 " \
            "environment variable."

Key = tuple[str, str, str]  # project, region, service


class WorldError(InvalidInput):
    """A ``kind: World`` document that cannot be simulated; the message names the path."""


class ApiError(Exception):
    """An error a Google API answers with: HTTP status, canonical status name, message. Subclasses
    for other Google APIs set ``domain`` (the simulators share this error body)."""

    domain = "run.googleapis.com"

    def __init__(self, status: str, message: str, *, http: int | None = None,
                 retry_after: float | None = None) -> None:
        self.status = status
        self.http = http or STATUSES.get(status, (500, 2))[0]
        self.message = message
        self.retry_after = retry_after
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.http, "message": self.message, "status": self.status, "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": self.status,
             "domain": self.domain}]}}


def op_name(name: str) -> str:
    """``UpdateService`` from ``update_service``, ``updateservice`` or ``UpdateService``; ``*`` stays."""
    if name == "*":
        return name
    wanted = name.replace("_", "").replace("-", "").lower()
    for op in OPS:
        if op.lower() == wanted:
            return op
    raise ValueError(f"unknown Cloud Run operation {name!r} (known: {', '.join(OPS)}, *)")


@dataclass
class Revision:
    name: str
    created: float
    ready: bool = True
    message: str = ""
    image: str = ""
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Target:
    """One traffic entry: ``revision`` (short name) or ``latest``, a percent and an optional tag."""

    revision: str | None = None
    percent: int = 0
    tag: str | None = None
    latest: bool = False


@dataclass
class Service:
    project: str
    region: str
    name: str
    revisions: list[Revision]
    traffic: list[Target]
    statuses: list[Target] = field(default_factory=list)
    generation: int = 1
    observed: int = 1
    failure: str = ""
    url: str | None = None
    operation_delay: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    description: str = ""
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    pending: int = 0

    @property
    def key(self) -> Key:
        return self.project, self.region, self.name

    @property
    def full_name(self) -> str:
        return f"projects/{self.project}/locations/{self.region}/services/{self.name}"

    @property
    def etag(self) -> str:
        digest = hashlib.sha256(f"{self.uid}/{self.generation}".encode()).hexdigest()[:20]
        return f'"{digest}"'

    def revision(self, name: str) -> Revision | None:
        short = name.rsplit("/", 1)[-1]
        return next((r for r in self.revisions if r.name == short), None)

    def newest(self, ready_only: bool) -> Revision | None:
        pool = [r for r in self.revisions if r.ready or not ready_only]
        return max(pool, key=lambda r: r.created) if pool else None

    def uri(self, tag: str | None = None) -> str:
        if self.url:
            return self.url  # a world that names its own URL (a local health endpoint) serves every tag there
        number = int(hashlib.sha256(self.project.encode()).hexdigest(), 16) % 10**12
        host = f"{self.name}-{number:012d}.{self.region}.run.app"
        return f"https://{tag}---{host}" if tag else f"https://{host}"


@dataclass
class Operation:
    name: str
    key: Key
    generation: int
    traffic: list[Target]
    done_at: float
    started: Service
    done: bool = False
    error: tuple[int, str] | None = None
    response: Service | None = None


@dataclass
class Fault:
    """What to do to matching calls: fail ``times`` times (None: always) with ``status``, wait
    ``latency`` seconds first, ``hang`` (seconds, or forever) without answering, or let another
    writer change the service just before an update (``concurrent_update``, an etag conflict)."""

    op: str = "*"
    status: str | None = None
    http: int | None = None
    times: int | None = 1
    latency: float = 0.0
    hang: float | None = None
    retry_after: float | None = None
    message: str | None = None
    concurrent_update: bool = False
    project: str | None = None
    region: str | None = None
    service: str | None = None

    def matches(self, op: str, key: tuple[str | None, ...]) -> bool:
        if self.op not in ("*", op) or self.times == 0:
            return False
        wanted = (self.project, self.region, self.service)
        return all(w is None or (k is not None and w == k) for w, k in zip(wanted, key, strict=False))

    def error(self) -> ApiError | None:
        if self.status is None and self.http is None:
            return None
        status = self.status or HTTP_TO_STATUS.get(self.http or 500, "UNKNOWN")
        http = self.http or STATUSES.get(status, (500, 2))[0]
        message = self.message or f"simulated {status.lower().replace('_', ' ')} (injected fault)"
        return ApiError(status, message, http=http, retry_after=self.retry_after)


def make_fault(op: str = "*", **spec: Any) -> Fault:
    """A Fault from keyword or world-file fields: ``status`` is an HTTP code or a status name,
    ``hang`` true or a duration, ``latency`` and ``retry_after`` durations."""
    known = {"status", "times", "latency", "hang", "retry_after", "message", "concurrent_update",
             "project", "region", "service"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
    status, http = spec.get("status"), None
    if isinstance(status, int) and not isinstance(status, bool):
        http, status = status, HTTP_TO_STATUS.get(status, "UNKNOWN")
    elif status is not None:
        status = str(status).upper()
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r} (an HTTP code or one of {', '.join(STATUSES)})")
    hang = spec.get("hang")
    times = spec.get("times", 1)
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise ValueError("times must be a count (or null: always)")
    return Fault(
        op=op_name(str(op)), status=status, http=http, times=times,
        latency=parse_duration(spec.get("latency") or 0),
        hang=None if hang in (None, False) else float("inf") if hang is True else parse_duration(hang),
        retry_after=None if spec.get("retry_after") is None else parse_duration(spec["retry_after"]),
        message=spec.get("message"), concurrent_update=bool(spec.get("concurrent_update")),
        project=spec.get("project"), region=spec.get("region"), service=spec.get("service"),
    )



class CloudRunWorld:
    """Thread-safe simulated Cloud Run. API methods return JSON-ready maps or raise ApiError."""

    def __init__(self, services: Iterable[Service] = (), faults: Iterable[Fault] = ()) -> None:
        self._lock = threading.RLock()
        self._services: dict[Key, Service] = {s.key: s for s in services}
        self._ops: dict[str, Operation] = {}
        self._faults: list[Fault] = list(faults)
        self.calls: Counter[str] = Counter()

    @classmethod
    def from_dict(cls, world: Mapping[str, Any]) -> CloudRunWorld:
        """The ``cloudrun:`` section of a World document (other sections are left to their simulators)."""
        from pyirt.sim.cloudrun_world import parse_world

        services, faults = parse_world(world)
        return cls(services, faults)

    # -- control: tests and drills ------------------------------------------------------------------
    def inject(self, op: str = "*", **spec: Any) -> Fault:
        fault = make_fault(op, **spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, op: str, key: tuple[str | None, ...]) -> Fault | None:
        """The first fault matching this call, its count spent."""
        with self._lock:
            self.calls[op] += 1
            for fault in self._faults:
                if fault.matches(op, key):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
            return None

    def touch(self, project: str, region: str, service: str) -> str:
        """Another writer changes the service (a label): new generation and etag. Returns the etag."""
        with self._lock:
            svc = self._service(project, region, service)
            svc.generation += 1
            svc.observed = svc.generation if not svc.pending else svc.observed
            svc.labels["irt-sim-touched"] = str(svc.generation)
            svc.updated = time.time()
            return svc.etag

    def snapshot(self, project: str, region: str, service: str) -> dict[str, Any]:
        """The service as the API shows it (enums by name), for tests and drill scoring."""
        return self.get_service(project, region, service)

    def service_keys(self) -> list[Key]:
        with self._lock:
            return list(self._services)

    # -- the API -----------------------------------------------------------------------------------
    def get_service(self, project: str, region: str, service: str, ints: bool = False) -> dict[str, Any]:
        with self._lock:
            self._settle()
            return render_service(self._service(project, region, service), ints)

    def list_services(self, project: str, region: str, page_size: int = 0, page_token: str = "",
                      ints: bool = False) -> dict[str, Any]:
        with self._lock:
            self._settle()
            found = [s for s in self._services.values() if s.project == project and s.region == region]
            items, token = _page(sorted(found, key=lambda s: s.name), page_size, page_token)
            return _listing("services", [render_service(s, ints) for s in items], token)

    def list_revisions(self, project: str, region: str, service: str, page_size: int = 0, page_token: str = "",
                       ints: bool = False) -> dict[str, Any]:
        with self._lock:
            self._settle()
            svc = self._service(project, region, service)
            newest_first = sorted(svc.revisions, key=lambda r: r.created, reverse=True)
            items, token = _page(newest_first, page_size, page_token)
            return _listing("revisions", [render_revision(svc, r, ints) for r in items], token)

    def get_revision(self, project: str, region: str, service: str, revision: str,
                     ints: bool = False) -> dict[str, Any]:
        with self._lock:
            self._settle()
            svc = self._service(project, region, service)
            rev = svc.revision(revision)
            if rev is None:
                raise ApiError("NOT_FOUND", f"Resource '{revision}' of kind 'REVISION' in region '{region}' "
                                            f"in project '{project}' does not exist.")
            return render_revision(svc, rev, ints)

    def update_service(self, project: str, region: str, service: str, body: Mapping[str, Any],
                       mask: list[str] | None, validate_only: bool = False, ints: bool = False) -> dict[str, Any]:
        with self._lock:
            self._settle()
            svc = self._service(project, region, service)
            etag = body.get("etag")
            if etag and etag != svc.etag:
                raise ApiError("ABORTED", f"etag mismatch: service '{service}' was changed since it was read "
                                          f"(request etag {etag}, current {svc.etag}); read it again and retry")
            fields = _mask_fields(mask, body)
            traffic = _parse_traffic(svc, body.get("traffic") or []) if "traffic" in fields else svc.traffic
            target = copy.deepcopy(svc)
            target.traffic = traffic
            for name in ("labels", "annotations"):
                if name in fields:
                    setattr(target, name, {str(k): str(v) for k, v in (body.get(name) or {}).items()})
            if "description" in fields:
                target.description = str(body.get("description") or "")
            if not validate_only:
                target.generation = svc.generation + 1
                target.updated = time.time()
                target.pending = svc.pending + 1
                self._services[svc.key] = svc = target
            op = Operation(name=f"projects/{project}/locations/{region}/operations/{uuid.uuid4()}", key=svc.key,
                           generation=target.generation, traffic=copy.deepcopy(traffic),
                           done_at=time.monotonic() + (0.0 if validate_only else svc.operation_delay),
                           started=copy.deepcopy(target))
            if validate_only:
                op.done, op.response = True, target
            self._ops[op.name] = op
            self._settle()
            return render_operation(op, ints)

    def get_operation(self, project: str, region: str, operation: str, ints: bool = False) -> dict[str, Any]:
        with self._lock:
            self._settle()
            name = f"projects/{project}/locations/{region}/operations/{operation}"
            op = self._ops.get(name)
            if op is None:
                raise ApiError("NOT_FOUND", f"Operation '{name}' not found.")
            return render_operation(op, ints)

    # -- inside ------------------------------------------------------------------------------------
    def _service(self, project: str, region: str, service: str) -> Service:
        svc = self._services.get((project, region, service))
        if svc is None:
            raise ApiError("NOT_FOUND", f"Resource '{service}' of kind 'SERVICE' in region '{region}' "
                                        f"in project '{project}' does not exist.")
        return svc

    def _settle(self) -> None:
        now = time.monotonic()
        for op in sorted(self._ops.values(), key=lambda o: o.done_at):
            if not op.done and op.done_at <= now:
                self._complete(op)

    def _complete(self, op: Operation) -> None:
        svc = self._services[op.key]
        svc.pending = max(0, svc.pending - 1)
        blocked = [t.revision or "LATEST" for t in op.traffic if t.percent > 0 and not _ready(svc, t)]
        if blocked:
            message = f"Revision '{blocked[0]}' is not ready and cannot serve traffic. {NOT_READY}"
            op.error, svc.failure = (STATUSES["FAILED_PRECONDITION"][1], message), message
        else:
            svc.statuses = _resolve(svc, op.traffic)
            svc.failure = ""
        svc.observed = max(svc.observed, op.generation)
        op.done, op.response = True, copy.deepcopy(svc)


def _ready(svc: Service, target: Target) -> bool:
    rev = svc.newest(ready_only=True) if target.latest else svc.revision(target.revision or "")
    return rev is not None and rev.ready


def _resolve(svc: Service, traffic: list[Target]) -> list[Target]:
    """What serves: the spec with LATEST resolved to the newest Ready revision."""
    newest = svc.newest(ready_only=True)
    return [Target(newest.name if t.latest and newest else t.revision, t.percent, t.tag, t.latest) for t in traffic]


def _mask_fields(mask: list[str] | None, body: Mapping[str, Any]) -> set[str]:
    if not mask:
        return set(MUTABLE)  # no mask: the request replaces every field the simulator models
    fields = {re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), p.strip()) for p in mask if p.strip()}
    unknown = sorted(f for f in fields if f not in MUTABLE)
    if unknown:
        raise ApiError("INVALID_ARGUMENT", f"updateMask path(s) {', '.join(unknown)} cannot be updated "
                                           f"by the simulator (it models {', '.join(MUTABLE)})")
    return fields


def _enum(value: Any, table: Mapping[str, int], where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        for name, number in table.items():
            if number == value:
                return name
    elif isinstance(value, str) and value in table:
        return value
    raise ApiError("INVALID_ARGUMENT", f"Invalid value at '{where}': {value!r}")


def _parse_traffic(svc: Service, raw: Any) -> list[Target]:
    """Validated traffic: known revisions, percents 0..100 summing to 100, well-formed unique tags."""
    if not isinstance(raw, list):
        raise ApiError("INVALID_ARGUMENT", "Invalid value at 'service.traffic': expected a list")
    if not raw:
        return [Target(percent=100, latest=True)]
    result: list[Target] = []
    tags: set[str] = set()
    for i, item in enumerate(raw):
        where = f"service.traffic[{i}]"
        if not isinstance(item, Mapping):
            raise ApiError("INVALID_ARGUMENT", f"Invalid value at '{where}': expected an object")
        kind = _enum(item.get("type", 0), TRAFFIC_TYPES, f"{where}.type")
        revision = str(item.get("revision") or "") or None
        percent = item.get("percent", 0)
        if isinstance(percent, str) and percent.isdigit():
            percent = int(percent)
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise ApiError("INVALID_ARGUMENT", f"{where}.percent must be an integer from 0 to 100, got {percent!r}")
        tag = str(item.get("tag") or "") or None
        latest = kind == LATEST
        if latest and revision:
            raise ApiError("INVALID_ARGUMENT", f"{where}: a LATEST traffic target must not name a revision")
        if not latest:
            if not revision:
                raise ApiError("INVALID_ARGUMENT", f"{where}: a traffic target must name a revision "
                                                   "or have type TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST")
            if svc.revision(revision) is None:
                raise ApiError("INVALID_ARGUMENT", f"{where}: revision '{revision}' does not exist "
                                                   f"in service '{svc.name}'")
        if tag is not None:
            if not _TAG.match(tag):
                raise ApiError("INVALID_ARGUMENT", f"{where}.tag '{tag}' is not a valid tag (lowercase letters, "
                                                   "digits and hyphens, starting with a letter)")
            if tag in tags:
                raise ApiError("INVALID_ARGUMENT", f"{where}.tag '{tag}' is used twice")
            tags.add(tag)
        result.append(Target(revision.rsplit("/", 1)[-1] if revision else None, percent, tag, latest))
    total = sum(t.percent for t in result)
    if total != 100:
        raise ApiError("INVALID_ARGUMENT", f"Traffic percentages must add up to 100, got {total}")
    return result


def _page(items: list[Any], size: int, token: str) -> tuple[list[Any], str]:
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ApiError("INVALID_ARGUMENT", f"invalid page token {token!r}") from None
    if size <= 0:
        size = len(items) or 1
    end = start + size
    return items[start:end], str(end) if end < len(items) else ""


def _listing(kind: str, items: list[dict[str, Any]], token: str) -> dict[str, Any]:
    out: dict[str, Any] = {kind: items} if items else {}
    if token:
        out["nextPageToken"] = token
    return out
