"""A small threaded JSON-over-HTTP(S) server on loopback, shared by the simulators (secret stores,
Cloud Run, the notification sinks).

    server = JsonServer(handle, host="127.0.0.1", port=0, name="irt-sim-x", tls=ssl_context)
    port = server.start()
    ...
    server.stop()      # hung calls are released, connections closed, the port freed

``handle(request)`` answers a :class:`Request` with a :class:`Reply`: a dict or list ``body`` is
sent as JSON, a bytes one as is (with the ``Content-Type`` the reply's headers give, if any), and a
None one hangs up without answering (a simulated lost response). HEAD gets the headers only. With
``tls`` the TLS handshake runs in the connection's own thread, so a slow client never stalls the
accept loop. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | list[Any] | bytes | None = field(default_factory=dict)  # bytes: sent as is
    headers: dict[str, str] = field(default_factory=dict)


def check_loopback(host: str) -> None:
    if host not in LOOPBACK and not host.startswith("127."):
        raise ValueError(f"the simulator binds loopback addresses only, not {host!r}")


class JsonServer:
    def __init__(self, handle: Callable[[Request], Reply], *, host: str = "127.0.0.1", port: int = 0,
                 name: str = "irt-sim", tls: ssl.SSLContext | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        check_loopback(host)
        self.handle = handle
        self.host = host
        self._port = port
        self.name = name
        self.tls = tls
        self.log = log or (lambda line: None)
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        if self._server is not None:
            return self.port
        self.stopping.clear()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server = _Server((self.host, self._port), _Handler, family, self)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.halt(self._thread)

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"


class Lifecycle:
    """The life of a simulator that answers through a :class:`JsonServer` kept in ``self.server``:
    ``start()`` (returns the port), ``stop()``, ``with`` and ``port``."""

    server: JsonServer

    def start(self) -> int:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self.server.port


class Served(Lifecycle):
    """A :class:`Lifecycle` with ``url``, the server's base URL."""

    @property
    def url(self) -> str:
        return self.server.url


class TrackedServer(socketserver.TCPServer):
    """A TCP server (threaded with :class:`TrackedHandler`) that knows its open connections, so that
    ``halt()`` ends kept-alive and hung ones too: the HTTP simulators' and the SMTP sink's."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[socketserver.BaseRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def close_connections(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def halt(self, thread: threading.Thread | None) -> None:
        """Stop serving (``thread`` runs ``serve_forever``), end the connections, free the port."""
        self.shutdown()
        self.close_connections()
        self.server_close()
        if thread is not None:
            thread.join(5)


class TrackedHandler(socketserver.StreamRequestHandler):
    server: TrackedServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()


class _Server(TrackedServer, ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], family: socket.AddressFamily,
                 owner: JsonServer) -> None:
        self.address_family = family
        self.owner = owner
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer's own looks the host name up in DNS (socket.getfqdn): slow, and not loopback.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = self.socket.accept()
        if self.owner.tls is not None:
            # The handshake happens on the first read, in the connection's thread.
            conn = self.owner.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a hang fault, a timeout, a refused certificate) is expected.
        self.owner.log(f"connection from {client_address[0]} ended: {sys.exc_info()[1]!r}")


class _Handler(TrackedHandler, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as pooled client sessions expect
    timeout = 60
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        reply = self.server.owner.handle(request)
        if reply.body is None:
            self.close_connection = True
            return
        raw = isinstance(reply.body, bytes)
        if reply.status == 204:
            data = b""
        elif isinstance(reply.body, bytes):
            data = reply.body
        else:
            data = json.dumps(reply.body, indent=1).encode()
        self.send_response(reply.status)
        if data and not raw:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_PATCH = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        self.server.owner.log(f"{self.address_string()} {format % args}")
