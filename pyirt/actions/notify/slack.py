"""``notify.slack``: a Slack incoming webhook, with text and Block Kit blocks.

The payload comes from ``notify/slack.json.j2`` (severity, service, status, key facts, a button to
the report); a step may pass its own ``blocks``. Slack answers 200 ``ok``; 429 carries Retry-After.
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


def payload(message: Message, ctx: ActionContext) -> dict[str, Any]:
    body = templates.render_json(ctx.config, "slack.json.j2", message.context())
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
        raise ActionError("template notify/slack.json.j2 must give an object with a non-empty text",
                          backend="template", retryable=False)
    blocks = message.options.get("blocks")
    if isinstance(blocks, list):
        body["blocks"] = blocks
    if not isinstance(body.get("blocks", []), list):
        raise ActionError("slack blocks must be a list", backend="template", retryable=False)
    clean: dict[str, Any] = journal.sanitize(body, ctx.redact)
    return clean


def send(channel: Channel, message: Message, ctx: ActionContext) -> dict[str, Any]:
    return post_json(channel, payload(message, ctx), ctx)


class Slack(NotifyAction):
    kind = "slack"
    spec = ActionSpec(
        name="notify.slack",
        summary="Post to a Slack incoming webhook: text plus Block Kit (severity, service, status, facts, report).",
        params=(
            *COMMON_PARAMS,
            Param("url", "secret", doc="instead of channel: the webhook URL as a reference or secret(...)"),
            Param("blocks", "list", doc="Block Kit blocks replacing the template's"),
        ),
        one_of=(("channel", "url"),),
        idempotent=True,
        backend="slack",
        outputs=(*OUTPUTS, "status"),
        default_on_failure="continue",
    )

