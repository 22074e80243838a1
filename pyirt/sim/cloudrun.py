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

import contextlib
import json
import math
import re
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pyirt.sim.cloudrun_state import ApiError, CloudRunWorld, Fault, WorldError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_P = r"/v2/projects/(?P<project>[^/:]+)/locations/(?P<region>[^/:]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(_P + r"/services$"), "ListServices"),
    ("GET", re.compile(_P + r"/services/(?P<service>[^/:]+)$"), "GetService"),
    ("PATCH", re.compile(_P + r"/services/(?P<service>[^/:]+)$"), "UpdateService"),
    ("GET", re.compile(_P + r"/services/(?P<service>[^/:]+)/revisions$"), "ListRevisions"),
    ("GET", re.compile(_P + r"/services/(?P<service>[^/:]+)/revisions/(?P<revision>[^/:]+)$"), "GetRevision"),
    ("GET", re.compile(_P + r"/operations/(?P<operation>[^/:]+)$"), "GetOperation"),
]
MAX_BODY = 4 * 1024 * 1024


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


class CloudRunSimulator:
    """The HTTP server around a :class:`CloudRunWorld`. Safe to drive from several threads."""

    def __init__(self, world: CloudRunWorld | Mapping[str, Any] | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, log: Callable[[str], None] | None = None) -> None:
        if host not in LOOPBACK and not host.startswith("127."):
            raise ValueError(f"the simulator binds loopback addresses only, not {host!r}")
        if world is None:
            world = CloudRunWorld()
        self.world = world if isinstance(world, CloudRunWorld) else CloudRunWorld.from_dict(world)
        self.host = host
        self._port = port
        self._log = log
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> CloudRunSimulator:
        world = load_world(path)
        try:
            return cls(CloudRunWorld.from_dict(world), **kwargs)
        except WorldError as exc:
            raise WorldError(f"{path}: {exc}") from None

    # -- life ----------------------------------------------------------------------------------------
    def start(self) -> int:
        """Listen and serve in a background thread; returns the port."""
        if self._server is not None:
            return self.port
        self._stopping.clear()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server = _Server((self.host, self._port), _Handler, family, self)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="irt-sim-cloudrun", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        """Stop serving: hung calls are released, open connections closed, the port freed."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> CloudRunSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], family: socket.AddressFamily,
                 sim: CloudRunSimulator) -> None:
        self.address_family = family
        self.sim = sim
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer's own looks the host name up in DNS (socket.getfqdn): slow, and not loopback.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a hang fault, a timeout) is expected: one log line, no traceback.
        self.sim.log(f"connection from {client_address[0]} ended: {sys.exc_info()[1]!r}")

    def close_connections(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's pooled session expects
    timeout = 60  # an idle kept-alive connection is closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.sim.handle(self.command, self.path, body)
        if payload is None:  # a hang or an injected latency cut short by stop(): no answer at all
            self.close_connection = True
            return
        data = json.dumps(payload, indent=1).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        self.server.sim.log(f"{self.address_string()} {format % args}")
