"""Streaming a container's logs to files at the speed of the socket, in constant memory.

The SDK's ``logs(stream=True)`` parses every frame in a generator (about half the speed of the
docker CLI) and ``logs()`` holds the whole log in memory. Here one HTTP/1.0 request goes straight
to the engine's socket (HTTP/1.0, so the body is the raw multiplexed stream, no chunked framing),
the 8-byte frame headers are split off in large reads, and each stream goes to its own file in
line-aligned blocks that are scrubbed of secrets, counted and scanned for error lines on the way.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import queue
import re
import socket
import ssl
import struct
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from pyirt.actions.docker.collect import EXCERPT_LINES
from pyirt.actions.docker.engine import Engine
from pyirt.core.redaction import ByteScrubber
from pyirt.errors import ActionError

READ_SIZE = 1 << 20
PIECE = 256 << 10
QUEUED = 16
BLOCK = 1 << 20
EXCERPT_WIDTH = 300
_HEADER = struct.Struct(">BxxxL")
_TS = re.compile(rb"(\d{4}-\d\d-\d\dT[0-9:.]+Z) ")


class ErrorScan:
    """Finds what marks an error line. A plain list of words (the default) is searched with
    ``bytes.find`` on a lower-cased copy, several times faster than a case-insensitive regex."""

    WORDS = re.compile(r"^\(\?i\)\\b\(\?:([a-z|]+)\)\\b$")

    def __init__(self, pattern: str) -> None:
        words = self.WORDS.match(pattern)
        self.words = [w.encode() for w in words.group(1).split("|")] if words else None
        self.regex = None if words else re.compile(pattern.encode())

    def spans(self, block: bytes) -> list[tuple[int, int]]:
        if self.regex is not None:
            return [m.span() for m in self.regex.finditer(block)]
        assert self.words is not None
        lower = block.lower()
        found: list[tuple[int, int]] = []
        for word in self.words:
            at = lower.find(word)
            while at >= 0:
                end = at + len(word)
                if (at == 0 or not _wordish(lower[at - 1])) and (end >= len(lower) or not _wordish(lower[end])):
                    found.append((at, end))
                at = lower.find(word, end)
        found.sort()
        return found


def _wordish(byte: int) -> bool:
    return byte == 95 or 48 <= byte <= 57 or 97 <= byte <= 122 or 65 <= byte <= 90


@dataclass
class StreamSink:
    """One output stream (stdout or stderr) of one container, written to one file."""

    path: Path
    scrub: ByteScrubber | None
    error_lines: ErrorScan
    compress: bool = False
    size: int = 0
    lines: int = 0
    redactions: int = 0
    errors: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    excerpt: deque[bytes] = field(default_factory=lambda: deque(maxlen=EXCERPT_LINES))
    _pending: bytearray = field(default_factory=bytearray)
    _file: Any = None

    def open(self) -> None:
        self._file = gzip.open(self.path, "wb", compresslevel=1) if self.compress else self.path.open("wb")  # noqa: SIM115 (closed in close())

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._pending += data
        if len(self._pending) >= BLOCK:
            cut = self._pending.rfind(b"\n") + 1
            if cut:
                self._process(bytes(self._pending[:cut]))
                del self._pending[:cut]

    def close(self) -> None:
        if self._pending:
            tail = bytes(self._pending)
            self._pending.clear()
            self._process(tail, final=True)
        if self._file is not None:
            self._file.close()
            self._file = None

    def _process(self, block: bytes, final: bool = False) -> None:
        if self.scrub is not None:
            block, carry = (block, b"") if final else ByteScrubber.split_open_block(block)
            if carry:  # a private key block runs on into the next block: finish it there
                self._pending[:0] = carry
            if not block:
                return
            block, count = self.scrub(block)
            self.redactions += count
        assert self._file is not None
        self._file.write(block)
        self.size += len(block)
        self.lines += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        if self.first_ts is None:
            match = _TS.match(block)
            self.first_ts = match.group(1).decode() if match else None
        last_start = block.rfind(b"\n", 0, len(block) - 1) + 1
        match = _TS.match(block, last_start)
        if match:
            self.last_ts = match.group(1).decode()
        line_end = -1
        for start, stop in self.error_lines.spans(block):
            if start < line_end:
                continue  # another match on a line already counted
            line_start = block.rfind(b"\n", 0, start) + 1
            line_end = block.find(b"\n", stop)
            if line_end < 0:
                line_end = len(block)
            self.errors += 1
            self.excerpt.append(block[line_start:min(line_end, line_start + EXCERPT_WIDTH)])

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "bytes": self.size, "lines": self.lines, "error_lines": self.errors,
            "first_timestamp": self.first_ts, "last_timestamp": self.last_ts, "redactions": self.redactions,
            "excerpt": [line.decode("utf-8", "replace").rstrip("\r") for line in self.excerpt],
        }


def open_stream(engine: Engine, api_version: str, path: str, timeout: float) -> tuple[socket.socket, bytes]:
    """Send ``GET path`` as HTTP/1.0 to the engine; return the socket and the first body bytes."""
    target = engine.host
    sock: socket.socket
    try:
        if target.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(target[len("unix://"):])
        else:
            parts = urlsplit(target.replace("tcp://", "http://", 1))
            default_port = 2376 if engine.ca or engine.cert else 2375
            sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port),
                                            timeout=timeout)
            if engine.ca or engine.cert:
                context = ssl.create_default_context(cafile=engine.ca)
                if not engine.verify:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                if engine.cert and engine.key:
                    context.load_cert_chain(engine.cert, engine.key)
                sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        request = f"GET /v{api_version}{path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: pyirt\r\n\r\n"
        sock.sendall(request.encode("ascii"))
        head = b""
        while b"\r\n\r\n" not in head:
            more = sock.recv(65536)
            if not more:
                raise ActionError(f"docker engine {target} closed the connection", backend="docker")
            head += more
            if len(head) > 1 << 16:
                raise ActionError(f"docker engine {target}: response header too large", backend="docker")
    except PermissionError:
        raise ActionError(f"permission denied on docker engine {target}", backend="docker", retryable=False) from None
    except (ConnectionError, FileNotFoundError):
        raise ActionError(f"cannot reach docker engine {target}: connection refused (is the engine running?)",
                          backend="docker") from None
    except TimeoutError:
        raise ActionError(f"docker engine {target} did not answer within {timeout:g}s", backend="docker") from None
    header, _, body = head.partition(b"\r\n\r\n")
    status_line = header.split(b"\r\n", 1)[0].decode("latin-1")
    try:
        status = int(status_line.split()[1])
    except (IndexError, ValueError):
        sock.close()
        raise ActionError(f"docker engine {target}: bad response {status_line!r}", backend="docker") from None
    if status != 200:
        rest = body + _read_all(sock, limit=1 << 16)
        sock.close()
        try:
            message = json.loads(rest).get("message", "")
        except ValueError:
            message = rest.decode("utf-8", "replace")[:200]
        raise ActionError(f"docker engine {target} answered {status}: {message}", backend="docker",
                          retryable=status >= 500)
    return sock, body


def _read_all(sock: socket.socket, limit: int) -> bytes:
    chunks = b""
    while len(chunks) < limit:
        more = sock.recv(65536)
        if not more:
            break
        chunks += more
    return chunks


def logs_path(container_id: str, *, timestamps: bool, since: float | None, until: float | None,
              tail: int | None) -> str:
    query: dict[str, Any] = {"stdout": 1, "stderr": 1, "follow": 0, "timestamps": int(timestamps)}
    if since is not None:
        query["since"] = f"{since:.9f}"
    if until is not None:
        query["until"] = f"{until:.9f}"
    query["tail"] = "all" if tail is None else str(tail)
    return f"/containers/{container_id}/logs?{urlencode(query)}"


def _read(sock: socket.socket, chunks: queue.Queue[bytes | BaseException | None], stop: threading.Event) -> None:
    """Drain the socket as fast as the engine writes, in ~256 KiB pieces, so parsing never stalls it."""
    piece = bytearray()
    try:
        while not stop.is_set():
            data = sock.recv(READ_SIZE)
            if not data:
                break
            piece += data
            if len(piece) >= PIECE:
                chunks.put(bytes(piece))
                piece.clear()
        if piece:
            chunks.put(bytes(piece))
    except BaseException as exc:  # handed to the consumer, which raises it in the step's thread
        chunks.put(exc)
    finally:
        chunks.put(None)


def pump(sock: socket.socket, first: bytes, tty: bool, out: StreamSink, err: StreamSink,
         cancelled: Callable[[], bool]) -> None:
    """Copy the response body into the sinks, splitting frames unless the container has a TTY.

    A reader thread drains the socket while this thread parses; the queue between them is bounded
    (QUEUED pieces), so memory stays constant whatever the log size."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=QUEUED)
    stop = threading.Event()
    reader = threading.Thread(target=_read, args=(sock, chunks, stop), name="irt-docker-logs", daemon=True)
    reader.start()
    buffer = bytearray(first)
    unpack = _HEADER.unpack_from
    out_add, err_add = out._pending.extend, err._pending.extend
    try:
        while True:
            if tty:
                out.feed(buffer)
                buffer.clear()
            else:
                view = memoryview(buffer)
                pos, size = 0, len(buffer)
                while pos + 8 <= size:
                    kind, length = unpack(view, pos)
                    end = pos + 8 + length
                    if end > size:
                        break
                    (err_add if kind == 2 else out_add)(view[pos + 8:end])
                    pos = end
                view.release()
                del buffer[:pos]
                out.feed(b"")
                err.feed(b"")
            if cancelled():
                raise ActionError("log collection was cancelled", backend="docker", retryable=False)
            try:
                item = chunks.get(timeout=1.0)
            except queue.Empty:
                continue
            if item is None:
                break
            if isinstance(item, BaseException):
                if isinstance(item, TimeoutError):
                    raise ActionError("docker engine stopped sending logs (read timed out)", backend="docker")
                raise ActionError(f"reading logs from the docker engine failed: {item}", backend="docker")
            buffer += item
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            with contextlib.suppress(queue.Empty):
                chunks.get_nowait()
            reader.join(0.05)
