"""``notify.webhook``: a JSON POST to any endpoint, signed with HMAC-SHA256.

The body comes from ``notify/webhook.json.j2``. When the channel has a ``secret``, each attempt
carries::

    X-Irt-Timestamp: <unix seconds>
    X-Irt-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

so a receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes, compares in
constant time and refuses stale timestamps (replays). ``X-Irt-Event`` names the event and
``X-Irt-Delivery`` is one id per notification, the same on every retry, for de-duplication.
Extra ``headers`` (values may be references) go with every request.

The shipped body: ``{"version": 1, "event", "incident": {"id", ...}, "step", "title", "text",
"severity", "status", "service", "facts": [{"name", "value"}], "link", "details", "sent_at"}``
(absent values are null).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from pyirt.actions.api import ActionContext
from pyirt.actions.notify import templates, transport
from pyirt.actions.notify.base import COMMON_PARAMS, OUTPUTS, Message, NotifyAction
from pyirt.actions.notify.channels import Channel
from pyirt.core import journal
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.core.secrets import Secret
from pyirt.errors import ActionError

SIGNATURE = "X-Irt-Signature"
TIMESTAMP = "X-Irt-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signer(secret: str) -> Callable[[bytes], Mapping[str, str]]:
    def sign(body: bytes) -> Mapping[str, str]:
        stamp = str(int(time.time()))
        return {TIMESTAMP: stamp, SIGNATURE: signature(secret, stamp, body)}

    return sign


def payload(message: Message, ctx: ActionContext) -> dict[str, Any]:
    body = templates.render_json(ctx.config, "webhook.json.j2", message.context())
    if not isinstance(body, dict):
        raise ActionError("template notify/webhook.json.j2 must give a JSON object", backend="template",
                          retryable=False)
    clean: dict[str, Any] = journal.sanitize(body, ctx.redact)
    return clean


def send(channel: Channel, message: Message, ctx: ActionContext) -> dict[str, Any]:
    url = channel.reveal("url")
    if not url:
        raise ActionError(f"channel {channel.name}: no url", backend="notify", retryable=False)
    raw_headers = channel.get("headers") or {}
    if not isinstance(raw_headers, Mapping):
        raise ActionError(f"channel {channel.name}: headers must be a map", backend="notify", retryable=False)
    headers = {str(k): v.reveal() if isinstance(v, Secret) else str(v) for k, v in raw_headers.items()}
    headers["X-Irt-Event"] = str(message.options.get("event") or message.event)
    headers["X-Irt-Delivery"] = uuid.uuid4().hex
    secret = channel.reveal("secret")
    content = json.dumps(payload(message, ctx), ensure_ascii=False, separators=(",", ":")).encode()
    reply = transport.post(url, content, what=f"webhook channel {channel.name}", ctx=ctx, policy=channel.policy,
                           headers=headers, sign=signer(secret) if secret else None,
                           ca_file=channel.reveal("ca_file"), proxy=channel.reveal("proxy"))
    return {"attempts": reply.attempts, "status": reply.status, "signed": bool(secret),
            "delivery": headers["X-Irt-Delivery"]}


class Webhook(NotifyAction):
    kind = "webhook"
    credentials = ("url",)
    delivery = ("secret", "headers")
    spec = ActionSpec(
        name="notify.webhook",
        summary="POST the notification as JSON to any endpoint, signed with HMAC-SHA256 (X-Irt-Signature).",
        params=(
            *COMMON_PARAMS,
            Param("url", "secret", doc="instead of channel: the endpoint as a reference or secret(...)"),
            Param("secret", "secret", doc="HMAC key (a reference or secret(...)); default: the channel's"),
            Param("headers", "map", doc="extra request headers; values may be secret(...)"),
            Param("event", "string", doc="the event name in the body and X-Irt-Event; default: message"),
        ),
        one_of=(("channel", "url"),),
        idempotent=True,
        backend="webhook",
        outputs=(*OUTPUTS, "status", "signed", "delivery"),
        default_on_failure="continue",
    )
