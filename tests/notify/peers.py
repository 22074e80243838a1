"""Local peers for the notify tests, all on 127.0.0.1.

HTTP receivers check every payload against the service's real format (the JSON Schemas in
``tests/fixtures/notify/``, plus the HMAC signature for the generic webhook) and answer as the
service does: Slack ``200 ok``, a Teams workflow ``202``, PagerDuty ``202`` with the dedup key, or
the service's own 400 for a malformed payload. A scripted fault (429 with Retry-After, 500, a hang)
can be queued for the next requests. SMTP peers are real servers (aiosmtpd), with and without TLS
and authentication, that keep each message they accept.
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import hmac
import json
import socket
import ssl
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any, Literal

from tests.helpers import FIXTURES, Reply, Request, Server

SCHEMAS = FIXTURES / "notify"
SLACK_PATH = "/services/T0IRT0001/B0IRT0001"
TEAMS_PATH = "/workflows/0a1b2c3d/triggers/manual/paths/invoke"
PAGERDUTY_PATH = "/v2/enqueue"
WEBHOOK_PATH = "/hooks/irt"


@cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_problems(name: str, document: Any) -> list[str]:
    """Every way ``document`` breaks the schema ``name`` (empty when it fits)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in _validator(name).iter_errors(document)]


def _json_body(request: Request) -> tuple[Any, list[str]]:
    problems = []
    if request.method != "POST":
        problems.append(f"method {request.method}, expected POST")
    if not request.headers.get("content-type", "").startswith("application/json"):
        problems.append(f"content-type {request.headers.get('content-type')!r}, expected application/json")
    try:
        return json.loads(request.body), problems
    except ValueError as exc:
        return None, [*problems, f"body is not JSON: {exc}"]


@dataclass
class Receiver:
    """One endpoint. ``faults`` are answered first, one per request; ``down`` answers every request."""

    name: str
    check: Callable[[Request, Any], list[str]]
    ok: Callable[[Any], Reply]
    invalid: Callable[[list[str]], Reply]
    received: list[Request] = field(default_factory=list)
    accepted: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    faults: deque[Reply] = field(default_factory=deque)
    down: Reply | None = None

    def __call__(self, request: Request) -> Reply:
        self.received.append(request)
        document, problems = _json_body(request)
        if document is not None:
            problems += self.check(request, document)
        if problems:
            self.problems += problems
            return self.invalid(problems)
        if self.faults:
            return self.faults.popleft()
        if self.down is not None:
            return self.down
        self.accepted.append(document)
        return self.ok(document)

    def fail(self, *replies: Reply) -> None:
        self.faults.extend(replies)

    @property
    def bodies(self) -> list[bytes]:
        return [r.body for r in self.received]


def _slack(request: Request, document: Any) -> list[str]:
    return schema_problems("slack-webhook.schema.json", document)


def _teams(request: Request, document: Any) -> list[str]:
    return schema_problems("teams-workflows.schema.json", document)


def _pagerduty(request: Request, document: Any) -> list[str]:
    problems = schema_problems("pagerduty-events-v2.schema.json", document)
    stamp = (document.get("payload") or {}).get("timestamp") if isinstance(document, dict) else None
    if isinstance(stamp, str):
        try:
            dt.datetime.fromisoformat(stamp)
        except ValueError:
            problems.append(f"payload/timestamp: {stamp!r} is not ISO 8601")
    return problems


def webhook_check(key: str) -> Callable[[Request, Any], list[str]]:
    """The receiver side of the documented signature: HMAC-SHA256(key, "<timestamp>.<body>")."""

    def check(request: Request, document: Any) -> list[str]:
        stamp = request.headers.get("x-irt-timestamp", "")
        given = request.headers.get("x-irt-signature", "")
        if not stamp.isdigit():
            return ["X-Irt-Timestamp missing"]
        if abs(int(stamp) - dt.datetime.now(dt.UTC).timestamp()) > 300:
            return ["X-Irt-Timestamp is stale"]
        mac = hmac.new(key.encode(), stamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, f"sha256={mac}"):
            return ["X-Irt-Signature does not match"]
        if not isinstance(document, dict) or not {"incident", "text", "severity"} <= set(document):
            return ["body lacks incident, text or severity"]
        return []

    return check


class Peers:
    """The HTTP receivers, on one local server. Their URLs hold credentials, as the real ones do:
    a Slack webhook's last path segment, a Teams workflow's ``sig`` query parameter."""

    def __init__(self, server: Server, *, slack_token: str, teams_sig: str, webhook_key: str) -> None:
        self.server = server
        self.slack = Receiver("slack", _slack, lambda d: Reply(200, {"Content-Type": "text/plain"}, "ok"),
                              lambda p: Reply(400, {"Content-Type": "text/plain"}, "invalid_blocks"))
        self.teams = Receiver("teams", _teams, lambda d: Reply(202, body=b""),
                              lambda p: Reply(400, body={"error": {"code": "InvalidRequestContent",
                                                                   "message": "; ".join(p)}}))
        self.pagerduty = Receiver(
            "pagerduty", _pagerduty,
            lambda d: Reply(202, body={"status": "success", "message": "Event processed",
                                       "dedup_key": d.get("dedup_key") or "generated-by-peer"}),
            lambda p: Reply(400, body={"status": "invalid event", "message": "Event object is invalid",
                                       "errors": p}))
        self.webhook = Receiver("webhook", webhook_check(webhook_key), lambda d: Reply(200, body={"ok": True}),
                                lambda p: Reply(401, body={"error": "; ".join(p)}))
        server.route(f"{SLACK_PATH}/{slack_token}", self.slack)
        server.route(TEAMS_PATH, self.teams)
        server.route(PAGERDUTY_PATH, self.pagerduty)
        server.route(WEBHOOK_PATH, self.webhook)
        self.slack_url = server.url(f"{SLACK_PATH}/{slack_token}")
        self.teams_url = server.url(f"{TEAMS_PATH}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0"
                                    f"&sig={teams_sig}")
        self.pagerduty_url = server.url(PAGERDUTY_PATH)
        self.webhook_url = server.url(WEBHOOK_PATH)

    def all(self) -> list[Receiver]:
        return [self.slack, self.teams, self.pagerduty, self.webhook]

    def problems(self) -> list[str]:
        return [f"{r.name}: {p}" for r in self.all() for p in r.problems]


# -- SMTP ------------------------------------------------------------------------------------------
@dataclass
class Mailbox:
    """An aiosmtpd handler keeping what it accepts."""

    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.original_content or envelope.content)
        self.senders.append(envelope.mail_from)
        self.recipients.append(list(envelope.rcpt_tos))
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


@dataclass
class SmtpPeer:
    host: str
    port: int
    mailbox: Mailbox


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _implicit_tls_controller() -> type:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    class ImplicitTlsSMTP(SMTP):  # type: ignore[misc]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            # aiosmtpd counts only STARTTLS as TLS, so it would refuse AUTH on an SMTPS connection,
            # which is TLS from its first byte.
            if transport.get_extra_info("sslcontext") is not None:
                self._tls_protocol = transport

    class ImplicitTlsController(Controller):  # type: ignore[misc]
        def factory(self) -> Any:
            return ImplicitTlsSMTP(self.handler, **self.SMTP_kwargs)

    return ImplicitTlsController


@contextmanager
def smtp_server(*, tls: Literal["none", "starttls", "implicit"] = "none", login: tuple[str, str] | None = None,
                cert: tuple[Path, Path] | None = None) -> Iterator[SmtpPeer]:
    """A real SMTP server on 127.0.0.1: plain, STARTTLS (required) or implicit TLS, with AUTH
    (LOGIN/PLAIN, only over TLS, as aiosmtpd insists) when ``login`` is given."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    mailbox = Mailbox()
    server_tls = None
    if tls != "none":
        assert cert is not None
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(str(cert[0]), str(cert[1]))

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and login is not None and \
                (data.login.decode(), data.password.decode()) == login:
            mailbox.logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    kwargs: dict[str, Any] = {}
    if tls == "starttls":
        kwargs.update(tls_context=server_tls, require_starttls=True)
    elif tls == "implicit":
        kwargs.update(ssl_context=server_tls)
    if login is not None:
        kwargs.update(authenticator=authenticate, auth_required=True)
    port = free_port()
    maker = _implicit_tls_controller() if tls == "implicit" else Controller
    controller = maker(mailbox, hostname="127.0.0.1", port=port, ready_timeout=5, **kwargs)
    controller.start()
    try:
        yield SmtpPeer("127.0.0.1", port, mailbox)
    finally:
        controller.stop()
