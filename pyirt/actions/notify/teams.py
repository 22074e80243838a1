"""``notify.teams``: a Microsoft Teams Workflows webhook carrying an Adaptive Card.

Office 365 connectors (MessageCard) are retired; a Workflows "when a Teams webhook request is
received" flow takes ``{"type": "message", "attachments": [{adaptive card}]}`` and answers 202.
The card comes from ``notify/teams.json.j2``.
"""

from __future__ import annotations

from typing import Any

from pyirt.actions.api import ActionContext
from pyirt.actions.notify import templates
from pyirt.actions.notify.base import COMMON_PARAMS, OUTPUTS, Message, NotifyAction, post_json
from pyirt.actions.notify.channels import Channel
from pyirt.core import journal
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.errors import ActionError

CARD = "application/vnd.microsoft.card.adaptive"


def payload(message: Message, ctx: ActionContext) -> dict[str, Any]:
    body = templates.render_json(ctx.config, "teams.json.j2", message.context())
    attachments = body.get("attachments") if isinstance(body, dict) else None
    if not isinstance(body, dict) or body.get("type") != "message" or not isinstance(attachments, list) \
            or not attachments or not all(isinstance(a, dict) and a.get("contentType") == CARD for a in attachments):
        raise ActionError(f"template notify/teams.json.j2 must give a message with {CARD} attachments",
                          backend="template", retryable=False)
    clean: dict[str, Any] = journal.sanitize(body, ctx.redact)
    return clean


def send(channel: Channel, message: Message, ctx: ActionContext) -> dict[str, Any]:
    return post_json(channel, payload(message, ctx), ctx)


class Teams(NotifyAction):
    kind = "teams"
    spec = ActionSpec(
        name="notify.teams",
        summary="Post an Adaptive Card to a Microsoft Teams Workflows webhook.",
        params=(
            *COMMON_PARAMS,
            Param("url", "secret", doc="instead of channel: the workflow URL as a reference or secret(...)"),
        ),
        one_of=(("channel", "url"),),
        idempotent=True,
        backend="teams",
        outputs=(*OUTPUTS, "status"),
        default_on_failure="continue",
    )

