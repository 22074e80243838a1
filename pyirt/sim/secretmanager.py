"""A GCP Secret Manager simulator: the v1 REST surface ``google-cloud-secret-manager`` uses with
``transport="rest"``, on 127.0.0.1.

    sim = SecretManagerSimulator({"secrets": [...]})   # a World map (its gcp entries), or from_file(path)
    sim.start()                                        # port 0 picks a free one
    sim.inject("AddSecretVersion", status=503, times=1, retry_after="1s")
    ...                                                # providers.gcp_secrets: sim.provider()
    sim.stop()

Routes under ``/v1/projects/P/secrets``: list and create (``?secretId=``); ``/S`` get, patch
(``updateMask`` ``versionAliases`` / ``labels``, etag checked) and delete; ``/S:addVersion`` (the
payload's ``dataCrc32c`` checked); ``/S/versions`` (``filter`` on ``state``, ``pageSize``,
``pageToken``; newest first); ``/S/versions/V`` get, ``:access``, ``:disable``, ``:enable`` and
``:destroy`` (a body ``etag`` must match). ``V`` is a number, ``latest`` (the most recently created
version, whatever its state) or an alias. Errors are Google's JSON bodies; enums are names, or
numbers when the client asks ``$alt=json;enum-encoding=int``. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pyirt.sim.cloudrun import load_world
from pyirt.sim.cloudrun_state import HTTP_TO_STATUS, ApiError, WorldError
from pyirt.sim.httpserver import JsonServer, Reply, Request, Served
from pyirt.sim.secrets_world import Fault, Faults, parse_secrets, rfc3339

OPS = ("ListSecrets", "CreateSecret", "GetSecret", "UpdateSecret", "DeleteSecret", "AddSecretVersion",
       "ListSecretVersions", "GetSecretVersion", "AccessSecretVersion", "DisableSecretVersion",
       "EnableSecretVersion", "DestroySecretVersion")
STATE_NUMBERS = {"STATE_UNSPECIFIED": 0, "ENABLED": 1, "DISABLED": 2, "DESTROYED": 3}
MAX_PAYLOAD = 64 * 1024
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
_S = r"^/v1/projects/(?P<project>[^/:]+)/secrets"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(_S + r"$"), "ListSecrets"),
    ("POST", re.compile(_S + r"$"), "CreateSecret"),
    ("GET", re.compile(_S + r"/(?P<secret>[^/:]+)$"), "GetSecret"),
    ("PATCH", re.compile(_S + r"/(?P<secret>[^/:]+)$"), "UpdateSecret"),
    ("DELETE", re.compile(_S + r"/(?P<secret>[^/:]+)$"), "DeleteSecret"),
    ("POST", re.compile(_S + r"/(?P<secret>[^/:]+):addVersion$"), "AddSecretVersion"),
    ("GET", re.compile(_S + r"/(?P<secret>[^/:]+)/versions$"), "ListSecretVersions"),
    ("GET", re.compile(_S + r"/(?P<secret>[^/:]+)/versions/(?P<version>[^/:]+)$"), "GetSecretVersion"),
    ("GET", re.compile(_S + r"/(?P<secret>[^/:]+)/versions/(?P<version>[^/:]+):access$"), "AccessSecretVersion"),
    ("POST", re.compile(_S + r"/(?P<secret>[^/:]+)/versions/(?P<version>[^/:]+):disable$"), "DisableSecretVersion"),
    ("POST", re.compile(_S + r"/(?P<secret>[^/:]+)/versions/(?P<version>[^/:]+):enable$"), "EnableSecretVersion"),
    ("POST", re.compile(_S + r"/(?P<secret>[^/:]+)/versions/(?P<version>[^/:]+):destroy$"), "DestroySecretVersion"),
]


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


class GoogleError(ApiError):
    domain = "secretmanager.googleapis.com"


@dataclass
class SmVersion:
    number: int
    created: float
    data: bytes | None
    state: str = "ENABLED"
    destroyed: float | None = None
    changes: int = 0
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(f"{self.uid}/{self.changes}".encode()).hexdigest()[:16] + '"'


@dataclass
class SmSecret:
    project: str
    name: str
    created: float = field(default_factory=time.time)
    versions: list[SmVersion] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    changes: int = 0
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def path(self) -> str:
        return f"projects/{self.project}/secrets/{self.name}"

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(f"{self.uid}/{self.changes}".encode()).hexdigest()[:16] + '"'

    def version(self, ref: str) -> SmVersion:
        if ref == "latest":
            if not self.versions:
                raise GoogleError("NOT_FOUND", f"Secret [{self.path}] not found or has no versions.")
            return self.versions[-1]
        number = int(ref) if ref.isdigit() else self.aliases.get(ref)
        found = next((v for v in self.versions if v.number == number), None) if number else None
        if found is None:
            raise GoogleError("NOT_FOUND", f"Secret Version [{self.path}/versions/{ref}] not found.")
        return found


class SecretManagerWorld:
    """Thread-safe simulated Secret Manager. Methods return JSON-ready maps or raise GoogleError."""

    def __init__(self, secrets: list[SmSecret] | None = None, faults: list[Fault] | None = None) -> None:
        self._lock = threading.RLock()
        self._secrets: dict[tuple[str, str], SmSecret] = {(s.project, s.name): s for s in secrets or []}
        self.faults = Faults(OPS, faults or [])

    @classmethod
    def from_dict(cls, world: Mapping[str, Any]) -> SecretManagerWorld:
        seeds, faults = parse_secrets(world, "gcp", OPS)
        found = []
        for seed in seeds:
            created = min((v.created for v in seed.versions), default=time.time())
            secret = SmSecret(seed.project, seed.name, created=created)
            for i, v in enumerate(seed.versions, start=1):
                state = v.state.upper()
                secret.versions.append(SmVersion(i, v.created, None if state == "DESTROYED" else v.value.encode(),
                                                 state, v.created if state == "DESTROYED" else None))
            secret.aliases = dict(seed.aliases)
            found.append(secret)
        return cls(found, faults)

    # -- for tests and drills ---------------------------------------------------------------------
    def secret_keys(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._secrets)

    def versions(self, project: str, name: str) -> list[dict[str, Any]]:
        """Every version as {number, state, created} (no data), oldest first."""
        with self._lock:
            secret = self._secret(project, name)
            return [{"number": v.number, "state": v.state, "created": v.created} for v in secret.versions]

    def value(self, project: str, name: str, version: str = "latest") -> bytes | None:
        with self._lock:
            return self._secret(project, name).version(version).data

    def aliases(self, project: str, name: str) -> dict[str, int]:
        with self._lock:
            return dict(self._secret(project, name).aliases)

    # -- the API -----------------------------------------------------------------------------------
    def call(self, op: str, args: dict[str, str], query: dict[str, list[str]], body: dict[str, Any],
             ints: bool) -> dict[str, Any]:
        with self._lock:
            project = args["project"]
            if op == "ListSecrets":
                found = sorted((s for s in self._secrets.values() if s.project == project), key=lambda s: s.name)
                return _listing("secrets", [self._render_secret(s) for s in found], len(found))
            if op == "CreateSecret":
                return self._create(project, _first(query, "secretId"), body)
            secret = self._secret(project, args["secret"])
            if op == "GetSecret":
                return self._render_secret(secret)
            if op == "UpdateSecret":
                return self._update(secret, query, body)
            if op == "DeleteSecret":
                del self._secrets[(project, secret.name)]
                return {}
            if op == "AddSecretVersion":
                return self._add(secret, body, ints)
            if op == "ListSecretVersions":
                return self._list_versions(secret, query, ints)
            version = secret.version(args["version"])
            if op == "GetSecretVersion":
                return _render_version(secret, version, ints)
            if op == "AccessSecretVersion":
                if version.state != "ENABLED" or version.data is None:
                    where = f"{secret.path}/versions/{version.number}"
                    raise GoogleError("FAILED_PRECONDITION", f"Secret Version [{where}] is in {version.state} state.")
                return {"name": f"{secret.path}/versions/{version.number}",
                        "payload": {"data": base64.b64encode(version.data).decode("ascii"),
                                    "dataCrc32c": str(crc32c(version.data))}}
            etag = body.get("etag")
            if etag and etag != version.etag:
                raise GoogleError("ABORTED", f"The etag provided in the request does not match the current etag of "
                                             f"Secret Version [{secret.path}/versions/{version.number}].")
            target = {"DisableSecretVersion": "DISABLED", "EnableSecretVersion": "ENABLED",
                      "DestroySecretVersion": "DESTROYED"}[op]
            if version.state == "DESTROYED" and target != "DESTROYED":
                raise GoogleError("FAILED_PRECONDITION", f"Secret Version [{secret.path}/versions/{version.number}] "
                                                         "is in DESTROYED state.")
            if version.state != target:
                version.state = target
                version.changes += 1
                if target == "DESTROYED":
                    version.data, version.destroyed = None, time.time()
            return _render_version(secret, version, ints)

    def _secret(self, project: str, name: str) -> SmSecret:
        secret = self._secrets.get((project, name))
        if secret is None:
            raise GoogleError("NOT_FOUND", f"Secret [projects/{project}/secrets/{name}] not found or has no versions.")
        return secret

    def _create(self, project: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if not re.match(r"^[A-Za-z0-9_-]{1,255}$", name or ""):
            raise GoogleError("INVALID_ARGUMENT", f"secretId {name!r}: letters, digits, '_' and '-', 1 to 255")
        if (project, name) in self._secrets:
            raise GoogleError("ALREADY_EXISTS", f"Secret [projects/{project}/secrets/{name}] already exists.")
        secret = SmSecret(project, name, labels={str(k): str(v) for k, v in (body.get("labels") or {}).items()})
        self._secrets[(project, name)] = secret
        return self._render_secret(secret)

    def _update(self, secret: SmSecret, query: dict[str, list[str]], body: Mapping[str, Any]) -> dict[str, Any]:
        etag = body.get("etag")
        if etag and etag != secret.etag:
            raise GoogleError("ABORTED", f"The etag provided in the request does not match the current etag of "
                                         f"Secret [{secret.path}].")
        mask = {p.strip() for v in query.get("updateMask", []) for p in v.split(",") if p.strip()}
        unknown = sorted(mask - {"versionAliases", "version_aliases", "labels"})
        if not mask or unknown:
            raise GoogleError("INVALID_ARGUMENT", f"updateMask must name versionAliases and/or labels (the fields the "
                                                  f"simulator models); got {', '.join(sorted(mask)) or 'nothing'}")
        if mask & {"versionAliases", "version_aliases"}:
            aliases: dict[str, int] = {}
            for alias, number in (body.get("versionAliases") or {}).items():
                if not _ALIAS.match(str(alias)) or str(alias).lower() in ("latest", "new"):
                    raise GoogleError("INVALID_ARGUMENT", f"invalid version alias {alias!r}")
                try:
                    version = secret.version(str(int(number)))
                except (TypeError, ValueError):
                    raise GoogleError("INVALID_ARGUMENT", f"alias {alias}: {number!r} is not a version") from None
                if version.state == "DESTROYED":
                    raise GoogleError("FAILED_PRECONDITION", f"version alias {alias}: version {number} is destroyed")
                aliases[str(alias)] = version.number
            secret.aliases = aliases
        if "labels" in mask:
            secret.labels = {str(k): str(v) for k, v in (body.get("labels") or {}).items()}
        secret.changes += 1
        return self._render_secret(secret)

    def _add(self, secret: SmSecret, body: Mapping[str, Any], ints: bool) -> dict[str, Any]:
        payload = body.get("payload") or {}
        try:
            data = base64.b64decode(str(payload.get("data") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise GoogleError("INVALID_ARGUMENT", "payload.data is not valid base64") from None
        if len(data) > MAX_PAYLOAD:
            raise GoogleError("INVALID_ARGUMENT", f"payload is {len(data)} bytes; the limit is {MAX_PAYLOAD}")
        checksum = payload.get("dataCrc32c")
        if checksum is not None and int(checksum) != crc32c(data):
            raise GoogleError("INVALID_ARGUMENT", "Checksum mismatch: payload.data_crc32c does not match the data")
        number = 1 + max((v.number for v in secret.versions), default=0)
        version = SmVersion(number, time.time(), data)
        secret.versions.append(version)
        return _render_version(secret, version, ints)

    def _list_versions(self, secret: SmSecret, query: dict[str, list[str]], ints: bool) -> dict[str, Any]:
        wanted = _state_filter(_first(query, "filter"))
        found = [v for v in reversed(secret.versions) if wanted is None or v.state in wanted]
        size = int(_first(query, "pageSize") or 0) or 25000
        token = _first(query, "pageToken")
        try:
            start = int(token) if token else 0
        except ValueError:
            raise GoogleError("INVALID_ARGUMENT", f"invalid page token {token!r}") from None
        page = found[start:start + size]
        nxt = str(start + size) if start + size < len(found) else ""
        out = _listing("versions", [_render_version(secret, v, ints) for v in page], len(found))
        if nxt:
            out["nextPageToken"] = nxt
        return out

    def _render_secret(self, secret: SmSecret) -> dict[str, Any]:
        out: dict[str, Any] = {"name": secret.path, "replication": {"automatic": {}},
                               "createTime": rfc3339(secret.created), "etag": secret.etag}
        if secret.labels:
            out["labels"] = dict(secret.labels)
        if secret.aliases:
            out["versionAliases"] = {k: str(v) for k, v in secret.aliases.items()}
        return out


def _render_version(secret: SmSecret, version: SmVersion, ints: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f"{secret.path}/versions/{version.number}", "createTime": rfc3339(version.created),
                           "state": STATE_NUMBERS[version.state] if ints else version.state, "etag": version.etag,
                           "replicationStatus": {"automatic": {}}, "clientSpecifiedPayloadChecksum": True}
    if version.destroyed is not None:
        out["destroyTime"] = rfc3339(version.destroyed)
    return out


def _listing(kind: str, items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    out: dict[str, Any] = {kind: items} if items else {}
    out["totalSize"] = total
    return out


def _first(query: dict[str, list[str]], name: str) -> str:
    return (query.get(name) or [""])[0]


_FILTER = re.compile(r"^(NOT\s+)?state\s*[:=]\s*(\(([A-Z_\s]+)\)|[A-Z_]+)$", re.IGNORECASE)


def _state_filter(text: str) -> set[str] | None:
    """``state:ENABLED``, ``state=(ENABLED OR DISABLED)``, ``NOT state:DESTROYED``; None: no filter."""
    text = text.strip()
    if not text:
        return None
    match = _FILTER.match(text)
    if not match:
        raise GoogleError("INVALID_ARGUMENT", f"unsupported filter {text!r} (the simulator filters on state only)")
    names = {n.upper() for n in (match.group(3) or match.group(2)).replace(" OR ", " ").split()}
    unknown = names - set(STATE_NUMBERS)
    if unknown:
        raise GoogleError("INVALID_ARGUMENT", f"invalid state in filter: {', '.join(sorted(unknown))}")
    return (set(STATE_NUMBERS) - names) if match.group(1) else names


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    known_path = False
    for verb, pattern, op in ROUTES:
        match = pattern.match(path)
        if match:
            known_path = True
            if verb == method:
                return op, {k: unquote(v) for k, v in match.groupdict().items()}
    if known_path:
        raise GoogleError("UNIMPLEMENTED", f"{method} {path} is not simulated")
    raise GoogleError("NOT_FOUND", f"The requested URL {path} was not found on this server.")


class SecretManagerSimulator(Served):
    """The HTTP server around a :class:`SecretManagerWorld`."""

    def __init__(self, world: SecretManagerWorld | Mapping[str, Any] | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, log: Callable[[str], None] | None = None) -> None:
        self.world = world if isinstance(world, SecretManagerWorld) else SecretManagerWorld.from_dict(world or {})
        self.server = JsonServer(self.handle, host=host, port=port, name="irt-sim-secretmanager", log=log)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> SecretManagerSimulator:
        try:
            return cls(SecretManagerWorld.from_dict(load_world(path)), **kwargs)
        except WorldError as exc:
            raise WorldError(f"{path}: {exc}") from None

    def provider(self) -> dict[str, str]:
        """What ``providers.gcp_secrets`` in irt.yaml needs to talk to this simulator."""
        return {"endpoint": self.url, "credentials": "anonymous"}

    def inject(self, op: str = "*", **spec: Any) -> Fault:
        """Add a fault: ``status`` (an HTTP code) ``times`` times, ``latency``, ``hang``, ``retry_after``;
        optionally only for one ``secret``."""
        return self.world.faults.inject(op, **spec)

    def clear_faults(self) -> None:
        self.world.faults.clear()

    def handle(self, request: Request) -> Reply:
        parts = urlsplit(request.target)
        query = parse_qs(parts.query, keep_blank_values=True)
        ints = any("enum-encoding=int" in v for v in query.get("$alt", []))
        try:
            op, args = _route(request.method, parts.path)
            fault = self.world.faults.take(op, args.get("secret"))
            if fault is not None:
                stopping = self.server.stopping
                if fault.latency and stopping.wait(fault.latency):
                    return Reply(503, None)
                if fault.hang is not None:
                    stopping.wait(None if fault.hang == float("inf") else fault.hang)
                    return Reply(503, None)
                if fault.status is not None:
                    status = HTTP_TO_STATUS.get(fault.status, "UNKNOWN")
                    raise GoogleError(status, fault.message or f"simulated {status.lower().replace('_', ' ')} "
                                                               "(injected fault)", http=fault.status,
                                      retry_after=fault.retry_after)
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                raise GoogleError("INVALID_ARGUMENT", "Invalid JSON payload received.") from None
            if not isinstance(body, dict):
                raise GoogleError("INVALID_ARGUMENT", "Invalid JSON payload received: expected an object.")
            return Reply(200, self.world.call(op, args, query, body, ints))
        except GoogleError as exc:
            headers = {"Retry-After": str(math.ceil(exc.retry_after))} if exc.retry_after is not None else {}
            return Reply(exc.http, exc.body(), headers)
