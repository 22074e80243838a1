"""``notify.email`` against real SMTP servers (aiosmtpd) on 127.0.0.1: plain, STARTTLS with login,
implicit TLS with login; a multipart text + HTML message; the failures that are and are not retried."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyirt.actions.notify.smtp import Email
from pyirt.errors import ActionError
from tests.helpers import CANARY, closed_port
from tests.notify.conftest import SMTP_PASSWORD, SMTP_USER, MakeCtx
from tests.notify.peers import SmtpPeer, smtp_server

MESSAGE = {"text": "Memory of pixashot at 97%; limit raised to 4g", "severity": "error", "service": "pixashot",
           "status": "mitigating", "facts": {"memory": "4g"}}


def channel(peer: SmtpPeer, **settings: Any) -> dict[str, Any]:
    return {"type": "email", "host": peer.host, "port": peer.port, "from": "irt@example.com",
            "to": ["sre@example.com", "lead@example.com"], "timeout": "5s", "backoff": "10ms", **settings}


@pytest.fixture
def plain() -> Iterator[SmtpPeer]:
    with smtp_server() as peer:
        yield peer


@pytest.fixture
def starttls(cert: tuple[Path, Path]) -> Iterator[SmtpPeer]:
    with smtp_server(tls="starttls", login=(SMTP_USER, SMTP_PASSWORD), cert=cert) as peer:
        yield peer


@pytest.fixture
def implicit(cert: tuple[Path, Path]) -> Iterator[SmtpPeer]:
    with smtp_server(tls="implicit", login=(SMTP_USER, SMTP_PASSWORD), cert=cert) as peer:
        yield peer


def send(make_ctx: MakeCtx, settings: dict[str, Any], **params: Any) -> dict[str, Any]:
    return Email().run({"channel": "mail", **MESSAGE, **params}, make_ctx({"channels": {"mail": settings}}))


def failure(make_ctx: MakeCtx, settings: dict[str, Any]) -> str:
    with pytest.raises(ActionError) as caught:
        send(make_ctx, settings)
    assert CANARY not in str(caught.value) and "\n" not in str(caught.value)
    return str(caught.value)


def test_a_plain_server_without_login_gets_a_multipart_message(plain: SmtpPeer, make_ctx: MakeCtx) -> None:
    out = send(make_ctx, channel(plain))
    assert out == {"delivered_via": "mail", "kind": "email", "attempts": 1, "failed_channels": [],
                   "recipients": 2, "refused": 0}
    [message] = plain.mailbox.messages
    assert plain.mailbox.recipients == [["sre@example.com", "lead@example.com"]]
    assert message["Subject"] == "[ERROR] Incident on pixashot - mitigating"
    assert (message["From"], message["To"]) == ("irt@example.com", "sre@example.com, lead@example.com")
    assert message["X-Irt-Incident"] == "20260101T000000Z-test-incident-0a1b"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert MESSAGE["text"] in text.get_content() and "Service:  pixashot" in text.get_content()
    assert "<h2" in html.get_content() and "97%; limit raised to 4g" in html.get_content()


def test_html_is_escaped(plain: SmtpPeer, make_ctx: MakeCtx) -> None:
    send(make_ctx, channel(plain), text="<script>alert(1)</script>", facts={"<b>": "<i>"})
    html = plain.mailbox.messages[0].get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "<script>" not in content and "&lt;script&gt;" in content and "&lt;b&gt;" in content


def test_starttls_with_login(starttls: SmtpPeer, make_ctx: MakeCtx, cert: tuple[Path, Path]) -> None:
    settings = channel(starttls, starttls=True, user="env:SMTP_USER", password="env:SMTP_PASSWORD",
                       ca_file=str(cert[0]))
    assert send(make_ctx, settings)["recipients"] == 2
    assert starttls.mailbox.logins == [SMTP_USER]
    assert CANARY.encode() not in starttls.mailbox.raw[0]


def test_implicit_tls_with_login(implicit: SmtpPeer, make_ctx: MakeCtx, cert: tuple[Path, Path]) -> None:
    settings = channel(implicit, ssl=True, user="env:SMTP_USER", password="env:SMTP_PASSWORD", ca_file=str(cert[0]))
    assert send(make_ctx, settings)["delivered_via"] == "mail"
    assert implicit.mailbox.logins == [SMTP_USER] and len(implicit.mailbox.messages) == 1


def test_a_refused_login_is_not_retried(starttls: SmtpPeer, make_ctx: MakeCtx, cert: tuple[Path, Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRONG_PASSWORD", f"wrong-{CANARY}")
    settings = channel(starttls, starttls=True, user="env:SMTP_USER", password="env:WRONG_PASSWORD",
                       ca_file=str(cert[0]))
    error = failure(make_ctx, settings)
    assert error.startswith("not delivered: mail: email channel mail: login refused (535 ")
    assert "after" not in error  # one attempt only
    assert starttls.mailbox.messages == []


def test_an_unknown_certificate_is_refused(starttls: SmtpPeer, make_ctx: MakeCtx) -> None:
    settings = channel(starttls, starttls=True, user="env:SMTP_USER", password="env:SMTP_PASSWORD")
    assert "TLS certificate refused" in failure(make_ctx, settings)


def test_a_login_without_tls_is_refused_before_connecting(make_ctx: MakeCtx) -> None:
    settings = {"type": "email", "host": "127.0.0.1", "port": closed_port(), "from": "irt@example.com",
                "to": ["sre@example.com"], "user": "env:SMTP_USER", "password": "env:SMTP_PASSWORD"}
    assert "login without TLS is refused" in failure(make_ctx, settings)


def test_a_server_that_is_down_is_retried_then_reported(make_ctx: MakeCtx) -> None:
    settings = {"type": "email", "host": "127.0.0.1", "port": closed_port(), "from": "irt@example.com",
                "to": ["sre@example.com"], "attempts": 2, "backoff": "10ms", "timeout": "2s"}
    error = failure(make_ctx, settings)
    assert error.startswith("not delivered: mail: email channel mail: ") and error.endswith("(after 2 attempts)")


def test_the_step_can_name_other_recipients(plain: SmtpPeer, make_ctx: MakeCtx) -> None:
    assert send(make_ctx, channel(plain), to=["ciso@example.com"])["recipients"] == 1
    assert plain.mailbox.recipients == [["ciso@example.com"]]


def test_a_header_injection_in_an_address_is_refused(plain: SmtpPeer, make_ctx: MakeCtx) -> None:
    error = failure(make_ctx, channel(plain, to=["sre@example.com\r\nBcc: evil@example.com"]))
    assert "is not an email address" in error and plain.mailbox.messages == []
