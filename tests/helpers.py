"""Helpers shared by tests/core, tests/actions and tests/cli: paths to the fixtures, running ``irt``
in a subprocess, reading journals, and a real HTTP server on 127.0.0.1 that records what it gets."""

from __future__ import annotations

import json
import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
RUNBOOKS = FIXTURES / "runbooks"
CONFIGS = FIXTURES / "configs"
PLUGINS = FIXTURES / "plugins"
SHIPPED = REPO / "runbooks"

CANARY = "CANARY-7f3e9a1c-do-not-leak"


# -- running irt ---------------------------------------------------------------------------------
def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a child ``irt``: no config or home leaking in from the caller."""
    env = {k: v for k, v in os.environ.items() if k not in ("IRT_CONFIG", "IRT_HOME", "IRT_DEBUG")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def irt(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed ``irt`` command (stdin closed, so never a TTY)."""
    script = Path(sys.executable).with_name("irt")
    cmd = [str(script)] if script.exists() else [sys.executable, "-c", "from pyirt.cli import main; main()"]
    return subprocess.run([*cmd, *args], cwd=cwd, env=env or clean_env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, check=False)


# -- journals --------------------------------------------------------------------------------------
def journal_events(folder: Path) -> list[dict[str, Any]]:
    lines = (folder / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def of_type(events: list[dict[str, Any]], kind: str, step: str | None = None) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind and (step is None or e.get("step") == step)]


def incident_folder(base: Path) -> Path:
    folders = [p for p in base.iterdir() if (p / "journal.jsonl").is_file()]
    assert len(folders) == 1, folders
    return folders[0]


# -- a local HTTP server -----------------------------------------------------------------------------
@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str | dict[str, Any] | list[Any] = b""
    hang: bool = False  # never answer (until the server shuts down)


Route = Callable[[Request], Reply]


class Server:
    """An HTTP server on 127.0.0.1 (port chosen by the OS) answering each path with a Route."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.routes: dict[str, Route] = {}
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                owner.requests.append(request)
                route = owner.routes.get(self.path.split("?")[0])
                reply = route(request) if route else Reply(404, body=b"no route")
                if reply.hang:
                    owner.release.wait(10)  # bounded: the fixture releases it on teardown
                    return
                payload = reply.body
                headers = dict(reply.headers)
                if isinstance(payload, dict | list):
                    payload = json.dumps(payload).encode()
                    headers.setdefault("Content-Type", "application/json")
                elif isinstance(payload, str):
                    payload = payload.encode()
                self.send_response(reply.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def server_bind(self) -> None:  # HTTPServer's own asks DNS for the host name: slow, not local
                socketserver.TCPServer.server_bind(self)
                self.server_name, self.server_port = self.server_address[:2]

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hung up on a hanging route is expected

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, reply: Reply | Route) -> None:
        self.routes[path] = reply if callable(reply) else (lambda _request, r=reply: r)


@contextmanager
def http_server() -> Iterator[Server]:
    server = Server()
    server.thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(5)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
