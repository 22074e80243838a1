"""``notify.pagerduty``: PagerDuty Events API v2 (``trigger``, ``acknowledge``, ``resolve``).

The ``dedup_key`` defaults to the incident id, so every event of one incident lands on one alert:
the page opened by a trigger is acknowledged and resolved by later events of the same incident.
A trigger carries ``payload`` (``summary`` <= 1024 chars, ``source``, ``severity`` in critical |
error | warning | info, ``timestamp``, ``component``, ``group``, ``class``, ``custom_details``);
acknowledge and resolve carry only the routing key, the action and the dedup key. The endpoint is
``https://events.pagerduty.com/v2/enqueue`` unless the channel sets ``url``. PagerDuty answers 202.
"""

from __future__ import annotations

import json
from typing import Any

from pyirt.actions.api import ActionContext
from pyirt.actions.notify import transport
from pyirt.actions.notify.base import COMMON_PARAMS, OUTPUTS, Message, NotifyAction
from pyirt.actions.notify.channels import Channel
from pyirt.core import journal
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.errors import ActionError

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")


def event(message: Message) -> dict[str, Any]:
    """The event without its routing key (added by :func:`send`, after redaction)."""
    options = message.options
    action = str(options.get("event_action") or "trigger")
    if action not in EVENT_ACTIONS:
        raise ActionError(f"event_action must be one of {', '.join(EVENT_ACTIONS)}", backend="pagerduty",
                          retryable=False)
    dedup = str(options.get("dedup_key") or message.incident.get("id") or "")[:255]
    body: dict[str, Any] = {"event_action": action, "dedup_key": dedup}
    if action != "trigger":
        return body
    custom = {
        "incident": message.incident.get("id"), "runbook": message.incident.get("runbook"),
        "step": message.step or None, "status": message.status or None, "service": message.service or None,
        "event": message.event, **dict(message.facts), **dict(message.details),
    }
    summary = message.text or message.title
    body["payload"] = {
        "summary": summary if len(summary) <= 1024 else summary[:1023] + "…",
        "source": str(options.get("source") or message.service or "pyirt"),
        "severity": message.severity,
        "timestamp": journal.now(),
        "component": str(options.get("component") or message.service or "") or None,
        "group": str(options.get("group") or message.incident.get("runbook") or "") or None,
        "class": str(options.get("class") or "incident-response"),
        "custom_details": {k: v for k, v in custom.items() if v not in (None, "")},
    }
    body["payload"] = {k: v for k, v in body["payload"].items() if v is not None}
    body["client"] = "pyirt"
    if message.link:
        body["client_url"] = message.link
        body["links"] = [{"href": message.link, "text": "Incident report"}]
    return body


def send(channel: Channel, message: Message, ctx: ActionContext) -> dict[str, Any]:
    key = channel.reveal("routing_key")
    if not key:
        raise ActionError(f"channel {channel.name}: no routing_key", backend="notify", retryable=False)
    clean: dict[str, Any] = journal.sanitize(event(message), ctx.redact)
    body = {"routing_key": key, **clean}
    content = json.dumps(body, ensure_ascii=False).encode()
    reply = transport.post(channel.reveal("url") or EVENTS_URL, content, what=f"pagerduty channel {channel.name}",
                           ctx=ctx, policy=channel.policy, ca_file=channel.reveal("ca_file"),
                           proxy=channel.reveal("proxy"))
    answer = reply.json()
    dedup = answer.get("dedup_key") if isinstance(answer, dict) else None
    return {"attempts": reply.attempts, "status": reply.status, "event_action": clean["event_action"],
            "dedup_key": ctx.redact(str(dedup or clean["dedup_key"]))}


class PagerDuty(NotifyAction):
    kind = "pagerduty"
    credentials = ("routing_key",)
    spec = ActionSpec(
        name="notify.pagerduty",
        summary="Send a PagerDuty Events API v2 trigger, acknowledge or resolve; dedup_key follows the incident.",
        params=(
            *COMMON_PARAMS,
            Param("routing_key", "secret", doc="instead of channel: the integration key as a reference or secret(...)"),
            Param("event_action", "string", default="trigger", choices=EVENT_ACTIONS),
            Param("dedup_key", "string", doc="default: the incident id"),
            Param("source", "string", doc="the affected system; default: service, else pyirt"),
            Param("component", "string", doc="default: service"),
            Param("group", "string", doc="default: the runbook (in lifecycle notifications)"),
            Param("class", "string", doc="default: incident-response"),
        ),
        one_of=(("channel", "routing_key"),),
        idempotent=True,
        backend="pagerduty",
        outputs=(*OUTPUTS, "status", "event_action", "dedup_key"),
        default_on_failure="continue",
    )
