"""A small SMTP server on 127.0.0.1 that keeps every message it accepts: the email sink of drills.

Standard library only (``socketserver``), so a drill runs on a fresh machine: ``aiosmtpd`` is a
development dependency, not a runtime one. It speaks enough ESMTP for ``smtplib``: EHLO/HELO,
MAIL, RCPT, DATA (dot-unstuffed, size-limited), RSET, NOOP, VRFY, QUIT; STARTTLS and AUTH are
refused (a drill channel sends in clear to loopback). A fault makes it answer MAIL with a reply
code (``451`` transient, ``554`` permanent) ``times`` times, wait first, hang, or drop the
connection at once (``status: 421``).
"""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from pyirt.sim.httpserver import TrackedHandler, TrackedServer

MAX_MESSAGE = 10 * 1024 * 1024
MAX_LINE = 4096


@dataclass
class Mail:
    """One accepted message."""

    at: float
    sender: str
    recipients: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def text(self) -> str:
        """The plain-text body (the first text/plain part)."""
        part = self.message.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        content = part.get_content()
        return content if isinstance(content, str) else ""


@dataclass
class SmtpFault:
    code: int
    times: int | None = 1
    latency: float = 0.0
    hang: float | None = None
    message: str = ""


@dataclass
class SmtpSink:
    """``start()`` listens on 127.0.0.1 (port 0: a free one) and returns the port."""

    host: str = "127.0.0.1"
    port: int = 0
    name: str = "irt-drill"
    on_mail: Callable[[Mail], None] | None = None
    on_refused: Callable[[int, str], None] | None = None
    mails: list[Mail] = field(default_factory=list)
    faults: list[SmtpFault] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    _server: Any = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> int:
        if self._server is not None:
            return int(self._server.server_address[1])
        self.stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="irt-sim-smtp", daemon=True)
        self._thread.start()
        self.port = int(self._server.server_address[1])
        return self.port

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.halt(self._thread)

    def inject(self, code: int, *, times: int | None = 1, latency: float = 0.0, hang: float | None = None,
               message: str = "") -> SmtpFault:
        fault = SmtpFault(code=code, times=times, latency=latency, hang=hang, message=message)
        with self._lock:
            self.faults.append(fault)
        return fault

    def take_fault(self) -> SmtpFault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times is None or fault.times > 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
            return None

    def accept(self, sender: str, recipients: list[str], raw: bytes) -> None:
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = Mail(at=time.time(), sender=sender, recipients=recipients, raw=raw, message=parsed)
        with self._lock:
            self.mails.append(mail)
        if self.on_mail is not None:
            self.on_mail(mail)

    def refused(self, code: int, why: str) -> None:
        if self.on_refused is not None:
            self.on_refused(code, why)


class _Server(TrackedServer, socketserver.ThreadingTCPServer):
    def __init__(self, address: tuple[str, int], sink: SmtpSink) -> None:
        self.sink = sink
        super().__init__(address, _Session)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away mid-dialog


class _Session(TrackedHandler):
    server: _Server
    timeout = 30

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode("utf-8") + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        sink = self.server.sink
        self.reply(f"220 {sink.name} ESMTP pyirt drill sink")
        sender: str | None = None
        recipients: list[str] = []
        while True:
            raw = self.rfile.readline(MAX_LINE)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, rest = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.reply(f"250-{sink.name}")
                self.reply(f"250-SIZE {MAX_MESSAGE}")
                self.reply("250-8BITMIME")
                self.reply("250 SMTPUTF8")
            elif verb == "HELO":
                self.reply(f"250 {sink.name}")
            elif verb == "MAIL":
                fault = sink.take_fault()
                if fault is not None and not self._fault(fault):
                    return
                if fault is not None and fault.code:
                    if fault.code == 421:
                        self.reply(f"421 {fault.message or 'service not available, closing channel'}")
                        sink.refused(421, fault.message or "closed")
                        return
                    self.reply(f"{fault.code} {fault.message or 'simulated failure (injected fault)'}")
                    sink.refused(fault.code, fault.message or "simulated failure")
                    continue
                sender = _address(rest, "FROM:")
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                if sender is None:
                    self.reply("503 Error: need MAIL command")
                    continue
                recipients.append(_address(rest, "TO:"))
                self.reply("250 OK")
            elif verb == "DATA":
                if sender is None or not recipients:
                    self.reply("503 Error: need RCPT command")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = self._data()
                if data is None:
                    self.reply("552 Error: message too large")
                else:
                    sink.accept(sender, recipients, data)
                    self.reply("250 Message accepted for delivery")
                sender, recipients = None, []
            elif verb == "RSET":
                sender, recipients = None, []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "VRFY":
                self.reply("252 Cannot VRFY user, but will accept message and attempt delivery")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            elif verb == "STARTTLS":
                self.reply("454 TLS not available: a drill sink takes mail in clear on loopback")
            elif verb == "AUTH":
                self.reply("502 Error: authentication not enabled")
            else:
                self.reply(f'500 Error: command "{verb}" not recognized')

    def _fault(self, fault: SmtpFault) -> bool:
        """Wait or hang as the fault says; False when the connection should just end."""
        stopping = self.server.sink.stopping
        if fault.latency and stopping.wait(fault.latency):
            return False
        if fault.hang is not None:
            stopping.wait(None if fault.hang == float("inf") else fault.hang)
            return False
        return True

    def _data(self) -> bytes | None:
        lines: list[bytes] = []
        size = 0
        while True:
            raw = self.rfile.readline(MAX_LINE * 4)
            if not raw or raw in (b".\r\n", b".\n"):
                break
            if raw.startswith(b".."):
                raw = raw[1:]
            size += len(raw)
            if size <= MAX_MESSAGE:
                lines.append(raw)
        return b"".join(lines) if size <= MAX_MESSAGE else None


def _address(rest: str, prefix: str) -> str:
    text = rest.strip()
    if text.upper().startswith(prefix):
        text = text[len(prefix):].strip()
    address = text.split(" ", 1)[0]
    return address.strip("<>")
