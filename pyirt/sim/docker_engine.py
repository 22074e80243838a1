"""A Docker Engine API simulator: the surface the docker actions (and the ``docker`` SDK) use, on a
unix socket (the default: a fresh one in a private temp folder) or on 127.0.0.1.

    sim = DockerEngineSimulator({"containers": [...]})   # a World map, a DockerWorld, or from_file(path)
    host = sim.start()                                    # unix:///tmp/irt-sim-docker-x/docker.sock
    sim.world.set_memory("pixashot", "95%", over=5)       # drive it while it runs
    sim.inject("update", status=500, times=1)             # or fail the next update
    ...                                                   # providers.docker.host: <host>
    sim.stop()

Routes (any ``/vX.Y`` prefix up to 1.41, or none): ``/_ping``, ``/version``, ``/info``,
``/containers/json``, ``/containers/{id}/json|logs|stats``, ``POST /containers/{id}/update|restart|
pause|unpause|start|stop|kill``, ``/networks``, ``/networks/{id}``, ``POST /networks/{id}/connect|disconnect``,
``/images/{name}/json``. Logs are the multiplexed stream (8-byte frame headers, one frame per line),
raw for a TTY container; over HTTP/1.0 the body runs until the connection closes (``docker.logs``
reads it so), over HTTP/1.1 it is chunked on a kept-alive connection (the SDK). Errors are
``{"message": ...}`` with the engine's status codes. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import socketserver
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pyirt.sim import docker_json
from pyirt.sim.docker_model import NS, EngineError, rfc3339
from pyirt.sim.docker_state import DockerWorld
from pyirt.sim.httpserver import TrackedHandler, TrackedServer

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 1024 * 1024
_FRAME = struct.Struct(">BxxxL")
_VERSION = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")
_C = r"/containers/(?P<id>[^/]+)"
_N = r"/networks/(?P<net>[^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/_ping$"), "ping"),
    ("HEAD", re.compile(r"^/_ping$"), "ping"),
    ("GET", re.compile(r"^/version$"), "version"),
    ("GET", re.compile(r"^/info$"), "version"),
    ("GET", re.compile(r"^/containers/json$"), "list"),
    ("GET", re.compile(_C + r"/json$"), "inspect"),
    ("GET", re.compile(_C + r"/logs$"), "logs"),
    ("GET", re.compile(_C + r"/stats$"), "stats"),
    ("POST", re.compile(_C + r"/update$"), "update"),
    ("POST", re.compile(_C + r"/restart$"), "restart"),
    ("POST", re.compile(_C + r"/start$"), "start"),
    ("POST", re.compile(_C + r"/stop$"), "stop"),
    ("POST", re.compile(_C + r"/kill$"), "kill"),
    ("POST", re.compile(_C + r"/pause$"), "pause"),
    ("POST", re.compile(_C + r"/unpause$"), "unpause"),
    ("GET", re.compile(r"^/networks$"), "networks"),
    ("GET", re.compile(_N + r"$"), "networks"),
    ("POST", re.compile(_N + r"/connect$"), "connect"),
    ("POST", re.compile(_N + r"/disconnect$"), "disconnect"),
    ("GET", re.compile(r"^/images/(?P<image>.+)/json$"), "image"),
]
Body = bytes | Iterator[bytes]


class DockerEngineSimulator:
    """The server around a :class:`DockerWorld`. Safe to drive from several threads."""

    def __init__(self, world: DockerWorld | Mapping[str, Any] | None = None, *, socket_path: str | Path | None = None,
                 host: str = "127.0.0.1", port: int | None = None, log: Callable[[str], None] | None = None) -> None:
        if host not in LOOPBACK and not host.startswith("127."):
            raise ValueError(f"the simulator binds loopback addresses only, not {host!r}")
        self.world = world if isinstance(world, DockerWorld) else DockerWorld.from_dict(world or {})
        self.socket_path = Path(socket_path) if socket_path else None
        self.bind_host = host
        self._port = port
        self._log = log
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None
        self._tempdir: str | None = None
        self.stopping = threading.Event()

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> DockerEngineSimulator:
        from pyirt.sim.cloudrun import load_world
        from pyirt.sim.cloudrun_state import WorldError

        world = load_world(path)
        try:
            return cls(DockerWorld.from_dict(world), **kwargs)
        except WorldError as exc:
            raise WorldError(f"{path}: {exc}") from None

    # -- life ----------------------------------------------------------------------------------------
    def start(self) -> str:
        """Listen and serve in a background thread; returns the engine's address for DOCKER_HOST."""
        if self._server is not None:
            return self.host
        self.stopping.clear()
        server: socketserver.BaseServer
        if self._port is None:
            path = self.socket_path
            if path is None:
                self._tempdir = tempfile.mkdtemp(prefix="irt-sim-docker-")
                path = self.socket_path = Path(self._tempdir) / "docker.sock"
            _clear_stale(path)
            server = _UnixServer(str(path), self)
            path.chmod(0o600)
        else:
            family = socket.AF_INET6 if ":" in self.bind_host else socket.AF_INET
            server = _TcpServer((self.bind_host, self._port), self, family)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="irt-sim-docker", daemon=True)
        self._thread.start()
        return self.host

    def stop(self) -> None:
        """Stop serving: hung calls and followed streams are released, connections closed, the socket removed."""
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        close = getattr(server, "close_connections", None)
        if callable(close):
            close()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        if self.socket_path is not None and self._port is None:
            with contextlib.suppress(OSError):
                self.socket_path.unlink()
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None
            self.socket_path = None

    def __enter__(self) -> DockerEngineSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        if self._port is None:
            return f"unix://{self.socket_path}"
        address = self._server.server_address
        assert isinstance(address, tuple)
        host = f"[{self.bind_host}]" if ":" in self.bind_host else self.bind_host
        return f"tcp://{host}:{address[1]}"

    def provider(self) -> dict[str, Any]:
        """What ``providers.docker`` in irt.yaml needs to talk to this simulator."""
        return {"host": self.host, "timeout": 10}

    def inject(self, op: str = "*", **spec: Any) -> Any:
        return self.world.inject(op, **spec)

    def clear_faults(self) -> None:
        self.world.clear_faults()

    def log(self, line: str) -> None:
        if self._log is not None:
            self._log(line)

    # -- one request -------------------------------------------------------------------------------
    def handle(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, str], Body | None]:
        """(status, headers, body); a None body means hang up without answering. A body iterator
        streams (logs, stats with stream=1)."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            path = _strip_version(unquote(parts.path))
            op, args = _route(method, path)
            fault = self.world.take_fault(op, args.get("id") or _container_of(op, body))
            if fault is not None:
                if fault.latency and self.stopping.wait(fault.latency):
                    return 503, {}, None
                if fault.hang is not None:
                    self.stopping.wait(None if fault.hang == float("inf") else fault.hang)
                    return 503, {}, None
                if fault.status is not None:
                    raise EngineError(fault.status, fault.message or
                                      f"simulated engine error {fault.status} (injected fault)")
            return self._call(op, method, path, args, query, body)
        except EngineError as exc:
            return exc.status, {"Content-Type": "application/json"}, _json(exc.body())

    def _call(self, op: str, method: str, path: str, args: dict[str, str], query: dict[str, list[str]],
              body: bytes) -> tuple[int, dict[str, str], Body | None]:
        w = self.world
        text = {"Content-Type": "text/plain; charset=utf-8"}
        js = {"Content-Type": "application/json"}
        if op == "ping":
            return 200, {**text, "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}, \
                b"" if method == "HEAD" else b"OK"
        if op == "version":
            if path == "/info":
                return 200, js, _json(self._info())
            return 200, js, _json(docker_json.version(w.host_cpus))
        if op == "list":
            return 200, js, _json(w.list_containers(query))
        if op == "inspect":
            return 200, js, _json(w.inspect(args["id"]))
        if op == "logs":
            tty, lines = w.logs(args["id"], query)
            stamps = _first(query, "timestamps") in ("1", "true", "True")
            stream = _log_stream(lines, tty, stamps)
            if _first(query, "follow") in ("1", "true", "True"):
                stream = _chain(stream, self._follow(args["id"], query, tty, stamps))
            return 200, {}, stream
        if op == "stats":
            if _first(query, "stream") in ("0", "false", "False"):
                return 200, js, _json(w.stats(args["id"], query))
            w.inspect(args["id"])  # a 404 before the stream starts
            return 200, js, self._stats_stream(args["id"], query)
        if op == "update":
            return 200, js, _json(w.update(args["id"], _body(body)))
        if op in ("restart", "pause", "unpause", "start", "stop", "kill"):
            changed = getattr(w, op)(args["id"])
            return (304 if changed is False else 204), {}, b""
        if op in ("connect", "disconnect"):
            getattr(w, op)(args["net"], _body(body))
            return 200, text, b"OK"
        if op == "networks":
            return 200, js, _json(w.network(args["net"]) if "net" in args else w.networks())
        return 200, js, _json(w.image(args["image"]))

    def _info(self) -> dict[str, Any]:
        names = self.world.names()
        return {"ID": "IRT-SIM", "Containers": len(names), "Name": "irt-sim", "ServerVersion":
                docker_json.ENGINE_VERSION, "NCPU": self.world.host_cpus, "MemTotal": self.world.host_memory,
                "OperatingSystem": "pyirt Docker Engine simulator", "OSType": "linux", "Architecture": "x86_64",
                "Driver": "overlay2", "CgroupVersion": "1", "KernelVersion": "6.1.0-irt-sim"}

    def _follow(self, ref: str, query: dict[str, list[str]], tty: bool, stamps: bool) -> Iterator[bytes]:
        last = time.time_ns()
        while not self.stopping.wait(0.25):
            now = time.time_ns()
            follow = {**query, "since": [f"{(last + 1) // NS}.{(last + 1) % NS:09d}"],
                      "until": [f"{now // NS}.{now % NS:09d}"], "tail": ["all"]}
            try:
                _, lines = self.world.logs(ref, follow)
            except EngineError:
                return  # the container went away
            yield from _log_stream(lines, tty, stamps)
            last = now

    def _stats_stream(self, ref: str, query: dict[str, list[str]]) -> Iterator[bytes]:
        while True:
            try:
                yield json.dumps(self.world.stats(ref, query)).encode() + b"\n"
            except EngineError:
                return
            if self.stopping.wait(1.0):
                return


def _chain(*parts: Iterable[bytes]) -> Iterator[bytes]:
    for part in parts:
        yield from part


def _log_stream(lines: Iterable[tuple[int, int, bytes]], tty: bool, stamps: bool) -> Iterator[bytes]:
    """One frame per line (or the raw bytes for a TTY), in pieces of about 64 KiB."""
    piece = bytearray()
    for ts, stream, text in lines:
        payload = (rfc3339(ts).encode() + b" " if stamps else b"") + text + b"\n"
        if not tty:
            piece += _FRAME.pack(stream, len(payload))
        piece += payload
        if len(piece) >= 65536:
            yield bytes(piece)
            piece.clear()
    if piece:
        yield bytes(piece)


def _strip_version(path: str) -> str:
    match = _VERSION.match(path)
    if not match:
        return path
    major, minor = int(match.group(1)), int(match.group(2))
    if (major, minor) > (1, 41):
        raise EngineError(400, f"client version {major}.{minor} is too new. Maximum supported API version is "
                               f"{docker_json.API_VERSION}")
    if (major, minor) < (1, 12):
        raise EngineError(400, f"client version {major}.{minor} is too old. Minimum supported API version is "
                               f"{docker_json.MIN_API_VERSION}, please upgrade your client to a newer version")
    return match.group(3)


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    for verb, pattern, op in ROUTES:
        match = pattern.match(path)
        if match and verb == method:
            return op, match.groupdict()
    raise EngineError(404, "page not found")


def _container_of(op: str, body: bytes) -> str | None:
    if op in ("connect", "disconnect"):
        with contextlib.suppress(ValueError, AttributeError):
            return str(json.loads(body or b"{}").get("Container") or "") or None
    return None


def _body(body: bytes) -> dict[str, Any]:
    if not body:
        raise EngineError(400, "got EOF while reading request body")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise EngineError(400, f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EngineError(400, "invalid JSON: expected an object")
    return data


def _first(query: Mapping[str, list[str]], name: str) -> str:
    values = query.get(name) or [""]
    return values[0]


def _json(value: Any) -> bytes:
    return json.dumps(value).encode() + b"\n"


def _clear_stale(path: Path) -> None:
    """A socket file left by a simulator that died: removed if nothing answers on it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()
            return
    raise OSError(f"{path} is in use by a running server")


# -- the servers ------------------------------------------------------------------------------------
class _Tracking:
    sim: DockerEngineSimulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a hang fault, a timeout, a followed log closed) is expected.
        self.sim.log(f"connection ended: {sys.exc_info()[1]!r}")


class _UnixServer(_Tracking, TrackedServer, socketserver.ThreadingUnixStreamServer):
    allow_reuse_address = False

    def __init__(self, path: str, sim: DockerEngineSimulator) -> None:
        self.sim = sim
        super().__init__(path, _Handler)  # type: ignore[arg-type]  # a unix server's address is a path


class _TcpServer(_Tracking, TrackedServer, socketserver.ThreadingTCPServer):
    def __init__(self, address: tuple[str, int], sim: DockerEngineSimulator, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.sim = sim
        super().__init__(address, _Handler)


class _Handler(TrackedHandler, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for the SDK; an HTTP/1.0 request still closes after its answer
    timeout = 60
    server: _UnixServer | _TcpServer

    def address_string(self) -> str:
        return self.client_address[0] if isinstance(self.client_address, tuple) else "unix"

    def version_string(self) -> str:
        return docker_json.HEADERS["Server"]

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    return None
        length = int(self.headers.get("Content-Length") or 0)
        return None if length > MAX_BODY else self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            self.send_error(413)
            return
        status, headers, payload = self.server.sim.handle(self.command, self.path, body)
        if payload is None:  # a hang or a latency cut short by stop(): no answer at all
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in {**docker_json.HEADERS, **headers}.items():
            if name != "Server":
                self.send_header(name, value)
        if isinstance(payload, bytes):
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        old = self.request_version == "HTTP/1.0"
        if old:  # the body runs until the connection closes (what docker.logs reads)
            self.close_connection = True
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for piece in payload:
                if not piece:
                    continue
                self.wfile.write(piece if old else b"%x\r\n%b\r\n" % (len(piece), piece))
                self.wfile.flush()
            if not old:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        self.server.sim.log(f"{self.address_string()} {format % args}")
