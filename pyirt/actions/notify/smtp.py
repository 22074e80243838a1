"""``notify.email``: SMTP with STARTTLS or implicit TLS, login, and a multipart text + HTML message.

Channel settings: ``host``, ``port`` (default 465 with ``ssl``, 587 with ``starttls``, else 25),
``starttls`` (default: port 587), ``ssl`` (implicit TLS; default: port 465), ``user`` and
``password`` (references), ``from``, ``to`` (a list), ``ca_file``, ``helo``. A login is refused
without TLS: the password would cross the network in clear. Subject and bodies come from
``notify/email.subject.j2``, ``email.txt.j2`` and ``email.html.j2``.

4xx replies, dropped connections and timeouts are retried; 5xx replies and a refused login are not.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pyirt.actions.api import ActionContext
from pyirt.actions.notify import templates, transport
from pyirt.actions.notify.base import COMMON_PARAMS, OUTPUTS, Message, NotifyAction
from pyirt.actions.notify.channels import Channel
from pyirt.actions.notify.transport import SendError
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.core.secrets import Secret
from pyirt.errors import ActionError

if TYPE_CHECKING:
    from email.message import EmailMessage


def _fail(message: str) -> ActionError:
    return ActionError(message, backend="email", retryable=False)


def recipients(channel: Channel, message: Message) -> list[str]:
    raw: Any = message.options.get("to") or channel.get("to") or []
    items = raw if isinstance(raw, list) else [raw]
    found: list[str] = []
    for item in items:
        text = item.reveal() if isinstance(item, Secret) else str(item)
        found.extend(a.strip() for a in text.split(",") if a.strip())
    return found


def compose(channel: Channel, message: Message, ctx: ActionContext) -> EmailMessage:
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid, parseaddr

    sender = channel.reveal("from")
    to = recipients(channel, message)
    if not sender or not to:
        raise _fail(f"channel {channel.name}: needs from and to")
    for address in (sender, *to):
        if "@" not in parseaddr(address)[1] or re.search(r"[\r\n]", address):
            raise _fail(f"channel {channel.name}: {ctx.redact(address)!r} is not an email address")
    context = message.context()
    subject = " ".join(templates.render(ctx.config, "email.subject.j2", context).split())
    email = EmailMessage()
    email["Subject"] = ctx.redact(subject[:250])
    email["From"] = sender
    email["To"] = ", ".join(to)
    email["Date"] = format_datetime(_now())
    email["Message-ID"] = make_msgid("irt", domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost")
    email["X-Irt-Incident"] = str(message.incident.get("id", ""))
    email.set_content(ctx.redact(templates.render(ctx.config, "email.txt.j2", context)) + "\n")
    email.add_alternative(ctx.redact(templates.render(ctx.config, "email.html.j2", context)) + "\n",
                          subtype="html")
    return email


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def send(channel: Channel, message: Message, ctx: ActionContext) -> dict[str, Any]:
    import smtplib  # with ssl and email: ~20 ms, paid only when an email is sent
    import socket
    import ssl

    host = channel.reveal("host")
    if not host:
        raise _fail(f"channel {channel.name}: no host")
    implicit = channel.flag("ssl", default=str(channel.get("port", "")) == "465")
    port = int(channel.get("port") or (465 if implicit else 587 if channel.flag("starttls") else 25))
    starttls = not implicit and channel.flag("starttls", default=port == 587)
    user, password = channel.reveal("user"), channel.reveal("password")
    if (user or password) and not (implicit or starttls):
        raise _fail(f"channel {channel.name}: login without TLS is refused; set starttls: true or ssl: true")
    email = compose(channel, message, ctx)
    count = len(recipients(channel, message))
    tls = ssl.create_default_context(cafile=channel.reveal("ca_file")) if implicit or starttls else None
    timeout = channel.policy.timeout
    helo = channel.reveal("helo") or socket.gethostname()  # smtplib's default asks DNS (getfqdn): slow
    what = f"email channel {channel.name}"

    def once() -> dict[str, Any]:
        client: smtplib.SMTP | None = None
        try:
            if implicit:
                client = smtplib.SMTP_SSL(host, port, local_hostname=helo, timeout=timeout, context=tls)
            else:
                client = smtplib.SMTP(host, port, local_hostname=helo, timeout=timeout)
            client.ehlo()
            if starttls:
                client.starttls(context=tls)
                client.ehlo()
            if user and password:
                client.login(user, password)
            refused = client.send_message(email)
            return {"recipients": count - len(refused), "refused": len(refused)}
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"{what}: login refused ({_reply(exc.smtp_code, exc.smtp_error, ctx)})",
                            transient=False) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise SendError(f"{what}: every recipient refused ({', '.join(map(str, codes))})",
                            transient=all(400 <= c < 500 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            raise SendError(f"{what}: {_reply(exc.smtp_code, exc.smtp_error, ctx)}",
                            transient=400 <= exc.smtp_code < 500) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendError(f"{what}: {ctx.redact(str(exc))}", transient=False) from None
        except ssl.SSLCertVerificationError as exc:
            raise SendError(f"{what}: TLS certificate refused: {ctx.redact(exc.verify_message or str(exc))}",
                            transient=False) from None
        except TimeoutError:
            raise SendError(f"{what}: no answer within {timeout:g}s", transient=True) from None
        except OSError as exc:  # refused, reset, dropped (SMTPServerDisconnected), TLS handshake
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise SendError(f"{what}: {ctx.redact(reason)}", transient=True) from None
        finally:
            if client is not None:
                try:
                    client.quit()
                except (OSError, smtplib.SMTPException):
                    client.close()

    result, attempts = transport.with_retries(once, channel.policy, ctx)
    return {"attempts": attempts, **result}


def _reply(code: int, text: bytes | str, ctx: ActionContext) -> str:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return ctx.redact(f"{code} {' '.join(said.split())}"[:200])


class Email(NotifyAction):
    kind = "email"
    credentials = ()
    spec = ActionSpec(
        name="notify.email",
        summary="Send a multipart text + HTML email over SMTP (STARTTLS or implicit TLS, login).",
        params=(
            Param("channel", "string", required=True, doc="an email channel named under channels: in irt.yaml"),
            *COMMON_PARAMS[1:],
            Param("to", "list", doc="recipients replacing the channel's"),
        ),
        idempotent=True,
        backend="email",
        outputs=(*OUTPUTS, "recipients", "refused"),
        default_on_failure="continue",
    )
