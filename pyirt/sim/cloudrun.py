"""A Cloud Run Admin API v2 simulator: the REST surface ``google-cloud-run`` uses, on 127.0.0.1.

    sim = CloudRunSimulator({"cloudrun": [...]})   # a World map, a CloudRunWorld, or from_file(path)
    port = sim.start()                               # port 0 picks a free one
    sim.inject("UpdateService", status=503, times=1, retry_after="1s")
    ...                                              # point providers.cloudrun.endpoint at sim.url
    sim.stop()

Routes (``{parent}`` is ``projects/P/locations/L``): ``GET {parent}/services``,
``GET|PATCH {parent}/services/S`` (``updateMask``, ``validateOnly``; the body's ``etag`` must
match), ``GET {parent}/services/S/revisions[/R]`` and ``GET {parent}/operations/O``. Errors are
Google's JSON error bodies; faults (a status N times, latency, a hang, a concurrent writer) are
injected per operation, from the World file or at run time. :mod:`pyirt.sim.cloudrun_state` holds
the state; this module only speaks HTTP. Standard library only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pyirt.sim.cloudrun_state import ApiError, CloudRunWorld, Fault, WorldError
from pyirt.sim.httpserver import JsonServer, Reply, Request, Served

_P = r"/v2/projects/(?P<project>[^/:]+)/locations/(?P<region>[^/:]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(_P + r"/services$"), "ListServices"),
    ("GET", re.compile(_P + r"/services/(?P<service>[^/:]+)$"), "GetService"),
    ("PATCH", re.compile(_P + r"/services/(?P<service>[^/:]+)$"), "UpdateService"),
    ("GET", re.compile(_P + r"/services/(?P<service>[^/:]+)/revisions$"), "ListRevisions"),
    ("GET", re.compile(_P + r"/services/(?P<service>[^/:]+)/revisions/(?P<revision>[^/:]+)$"), "GetRevision"),
    ("GET", re.compile(_P + r"/operations/(?P<operation>[^/:]+)$"), "GetOperation"),
]


def load_world(path: str | Path) -> dict[str, Any]:
    """A ``kind: World`` YAML file as a plain map (every section; each simulator reads its own)."""
    from pyirt.core import yamlsrc

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorldError(f"cannot read world {file}: {exc.strerror or exc}") from None
    doc: Any = yamlsrc.plain(yamlsrc.load(text, str(file)))
    if not isinstance(doc, dict):
        raise WorldError(f"{file}: a World is a YAML map (apiVersion: irt/v1, kind: World)")
    if doc.get("kind", "World") not in ("World", "Scenario"):
        raise WorldError(f"{file}: kind is {doc.get('kind')!r}, expected World")
    if doc.get("kind") == "Scenario" and isinstance(doc.get("world"), dict):
        return dict(doc["world"])  # a scenario that carries its world inline
    return doc


class CloudRunSimulator(Served):
    """The HTTP server around a :class:`CloudRunWorld`. Safe to drive from several threads."""

    def __init__(self, world: CloudRunWorld | Mapping[str, Any] | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, log: Callable[[str], None] | None = None) -> None:
        if world is None:
            world = CloudRunWorld()
        self.world = world if isinstance(world, CloudRunWorld) else CloudRunWorld.from_dict(world)
        self.host = host
        self._port = port
        self._log = log
        self.server = JsonServer(self._answer, host=host, port=port, name="irt-sim-cloudrun", log=self.log)
        self._stopping = self.server.stopping  # set by stop(): releases hung and slowed calls

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> CloudRunSimulator:
        world = load_world(path)
        try:
            return cls(CloudRunWorld.from_dict(world), **kwargs)
        except WorldError as exc:
            raise WorldError(f"{path}: {exc}") from None

    # -- life ----------------------------------------------------------------------------------------

    def provider(self) -> dict[str, str]:
        """What ``providers.cloudrun`` in irt.yaml needs to talk to this simulator."""
        return {"endpoint": self.url, "credentials": "anonymous"}

    # -- faults --------------------------------------------------------------------------------------
    def inject(self, op: str = "*", **spec: Any) -> Fault:
        """Add a fault: ``status`` (HTTP code or name) ``times`` times, ``latency``, ``hang``,
        ``retry_after``, ``concurrent_update``; optionally scoped by ``project``/``region``/``service``."""
        return self.world.inject(op, **spec)

    def clear_faults(self) -> None:
        self.world.clear_faults()

    # -- one request -------------------------------------------------------------------------------
    def _answer(self, request: Request) -> Reply:
        status, headers, payload = self.handle(request.method, request.target, request.body)
        return Reply(status, payload, headers)

    def handle(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        """Answer one request: (status, headers, JSON body); a None body means hang up without answering."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        ints = any("enum-encoding=int" in v for v in query.get("$alt", []))
        try:
            op, args = _route(method, parts.path)
            fault = self.world.take_fault(op, (args.get("project"), args.get("region"), args.get("service")))
            if fault is not None:
                if fault.latency and self._stopping.wait(fault.latency):
                    return 503, {}, None
                if fault.hang is not None:
                    self._stopping.wait(None if fault.hang == float("inf") else fault.hang)
                    return 503, {}, None
                if fault.concurrent_update and op == "UpdateService":
                    self.world.touch(args["project"], args["region"], args["service"])
                error = fault.error()
                if error is not None:
                    raise error
            return 200, {}, self._call(op, args, query, body, ints)
        except ApiError as exc:
            # Retry-After carries whole seconds (RFC 9110 delta-seconds)
            headers = {"Retry-After": str(math.ceil(exc.retry_after))} if exc.retry_after is not None else {}
            return exc.http, headers, exc.body()

    def _call(self, op: str, args: dict[str, str], query: dict[str, list[str]], body: bytes,
              ints: bool) -> dict[str, Any]:
        w = self.world
        page = (_int(query, "pageSize"), _first(query, "pageToken"))
        if op == "GetService":
            return w.get_service(args["project"], args["region"], args["service"], ints)
        if op == "ListServices":
            return w.list_services(args["project"], args["region"], *page, ints=ints)
        if op == "ListRevisions":
            return w.list_revisions(args["project"], args["region"], args["service"], *page, ints=ints)
        if op == "GetRevision":
            return w.get_revision(args["project"], args["region"], args["service"], args["revision"], ints)
        if op == "GetOperation":
            return w.get_operation(args["project"], args["region"], args["operation"], ints)
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise ApiError("INVALID_ARGUMENT", "Invalid JSON payload received.") from None
        if not isinstance(payload, dict):
            raise ApiError("INVALID_ARGUMENT", "Invalid JSON payload received: expected a Service object.")
        name = payload.get("name")
        path_name = f"projects/{args['project']}/locations/{args['region']}/services/{args['service']}"
        if name and name != path_name:
            raise ApiError("INVALID_ARGUMENT", f"service.name {name!r} does not match the URL ({path_name})")
        mask = [p for v in query.get("updateMask", []) for p in v.split(",") if p]
        validate = _first(query, "validateOnly").lower() in ("true", "1")
        return w.update_service(args["project"], args["region"], args["service"], payload, mask or None,
                                validate, ints)

    def log(self, line: str) -> None:
        if self._log is not None:
            self._log(line)


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    known_path = False
    for verb, pattern, op in ROUTES:
        match = pattern.match(path)
        if match:
            known_path = True
            if verb == method:
                return op, match.groupdict()
    if known_path or method in ("POST", "DELETE", "PUT"):
        raise ApiError("UNIMPLEMENTED", f"{method} {path} is not simulated (the simulator implements get, list "
                                        "and patch of services, get and list of revisions, get of operations)")
    raise ApiError("NOT_FOUND", f"The requested URL {path} was not found on this server.")


def _first(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name) or [""]
    return values[0]


def _int(query: dict[str, list[str]], name: str) -> int:
    text = _first(query, name)
    try:
        return int(text) if text else 0
    except ValueError:
        raise ApiError("INVALID_ARGUMENT", f"Invalid value for {name}: {text!r}") from None
