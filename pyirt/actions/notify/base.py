"""What the notify actions share: the message, the common parameters and the fallback loop.

A :class:`Message` is built once from the step's parameters, every string passed through the
run's redactor (a Secret shows as ``***``): nothing secret can reach a message body, whichever
channel ends up carrying it. Credentials live on the :class:`~pyirt.actions.notify.channels.Channel`
and only reach the request target, a header or the envelope (a PagerDuty routing key).

:func:`deliver` tries the channel (its retries are bounded inside the transport), then each
fallback channel in order, whatever its kind, and reports which one delivered.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pyirt.actions.api import Action, ActionContext
from pyirt.actions.notify import channels, templates
from pyirt.actions.notify.transport import SendError
from pyirt.core import journal
from pyirt.core.actionspec import Param
from pyirt.core.durations import parse_duration
from pyirt.errors import ActionError

SEVERITIES = ("critical", "error", "warning", "info")
_ALIASES = {
    "critical": ("critical", "crit", "fatal", "emergency", "p1", "sev1", "page"),
    "error": ("error", "err", "high", "major", "p2", "sev2"),
    "warning": ("warning", "warn", "medium", "minor", "p3", "sev3"),
    "info": ("info", "low", "ok", "resolved", "notice", "p4", "p5", "sev4", "sev5"),
}
SEVERITY = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
MODULES = {"slack": "slack", "teams": "teams", "pagerduty": "pagerduty", "webhook": "webhook", "email": "smtp"}

COMMON_PARAMS = (
    Param("channel", "string", doc="a channel named under channels: in irt.yaml"),
    Param("text", "string", doc="the message; default: the notify/message.txt.j2 template"),
    Param("title", "string", doc="the headline; default: 'Incident on SERVICE' or 'Incident update'"),
    Param("severity", "string", default="warning", choices=SEVERITIES),
    Param("status", "string", doc="where the response stands: investigating, mitigated, resolved..."),
    Param("service", "string", doc="the affected service"),
    Param("facts", "map", doc="key facts, shown as fields: {name: value}"),
    Param("link", "string", doc="link to the report; default from notify.report_url in irt.yaml"),
    Param("details", "map", doc="structured data: PagerDuty custom_details, the webhook body's details"),
    Param("fallback", "list", doc="channels tried in order when delivery fails, after the channel's own"),
    Param("timeout", "duration", doc="per attempt; default the channel's timeout, else 10s"),
)
_COMMON = {p.name for p in COMMON_PARAMS}
OUTPUTS = ("delivered_via", "kind", "attempts", "failed_channels")


def severity_of(value: Any) -> str:
    return SEVERITY.get(str(value or "").strip().lower(), "warning")


@dataclass(frozen=True)
class Message:
    """One notification, already redacted. ``options`` holds the kind-specific parameters."""

    text: str
    title: str
    severity: str = "warning"
    status: str = ""
    service: str = ""
    facts: tuple[tuple[str, str], ...] = ()
    link: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    incident: Mapping[str, Any] = field(default_factory=dict)
    step: str = ""
    event: str = "message"
    options: Mapping[str, Any] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        """What templates see."""
        return {
            "text": self.text, "title": self.title, "severity": self.severity, "status": self.status,
            "service": self.service, "facts": [{"name": k, "value": v} for k, v in self.facts],
            "link": self.link, "details": dict(self.details), "incident": dict(self.incident),
            "step": self.step, "event": self.event, "options": dict(self.options), "now": journal.now(),
        }


def report_link(config: Mapping[str, Any], incident_id: str) -> str:
    section = config.get("notify")
    pattern = section.get("report_url") if isinstance(section, Mapping) else None
    return pattern.replace("{incident}", incident_id) if isinstance(pattern, str) else ""


def build_message(params: Mapping[str, Any], ctx: ActionContext, *, event: str = "message",
                  incident: Mapping[str, Any] | None = None, options_from: tuple[str, ...] = (),
                  template: str = "message.txt.j2") -> Message:
    """A Message from (rendered) step parameters. Every value is sanitized first: Secrets become
    ``***`` and known secret values are masked, so the message can go anywhere. Without a ``text``,
    the text comes from ``template``."""
    clean: dict[str, Any] = journal.sanitize(dict(params), ctx.redact)
    raw_facts, raw_details = clean.get("facts"), clean.get("details")
    facts: Mapping[str, Any] = raw_facts if isinstance(raw_facts, Mapping) else {}
    details: Mapping[str, Any] = raw_details if isinstance(raw_details, Mapping) else {}
    service = _text(clean.get("service"))
    info = {"id": ctx.incident_id, **(incident or {})}
    message = Message(
        text="", title=_text(clean.get("title")) or (f"Incident on {service}" if service else "Incident update"),
        severity=severity_of(clean.get("severity")), status=_text(clean.get("status")), service=service,
        facts=tuple((str(k), _text(v)) for k, v in facts.items()),
        link=_web_link(_text(clean.get("link")) or report_link(ctx.config, ctx.incident_id)),
        details=dict(details), incident=info, step=ctx.step_id, event=event,
        options={k: v for k, v in clean.items() if k in options_from and v is not None},
    )
    text = _text(clean.get("text"))
    if not text:
        text = ctx.redact(templates.render(ctx.config, template, message.context()))
    return dataclasses.replace(message, text=text)


def _web_link(link: str) -> str:
    """Only an http(s) URL is a link: Slack refuses a whole message over a bad button URL, and a
    ``javascript:`` one has no place in an email."""
    return link if re.fullmatch(r"https?://\S+", link.strip()) else ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping | list):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


def post_json(channel: channels.Channel, body: Mapping[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """POST ``body`` as JSON to the channel's (secret) webhook URL, with its retry policy."""
    import json

    from pyirt.actions.notify import transport

    url = channel.reveal("url")
    if not url:
        raise ActionError(f"channel {channel.name}: no url", backend="notify", retryable=False)
    content = json.dumps(body, ensure_ascii=False).encode()
    reply = transport.post(url, content, what=f"{channel.kind} channel {channel.name}", ctx=ctx,
                           policy=channel.policy, ca_file=channel.reveal("ca_file"), proxy=channel.reveal("proxy"))
    return {"attempts": reply.attempts, "status": reply.status}


def send(channel: channels.Channel, message: Message, ctx: ActionContext) -> dict[str, Any]:
    """Deliver through one channel (its kind's module); SendError or ActionError when it fails."""
    module = importlib.import_module(f"pyirt.actions.notify.{MODULES[channel.kind]}")
    result: dict[str, Any] = module.send(channel, message, ctx)
    return result


def deliver(primary: channels.Channel, message: Message, ctx: ActionContext, *,
            fallback: tuple[str, ...] = (), timeout: float | None = None) -> dict[str, Any]:
    """Try ``primary``, then its fallbacks and ``fallback`` in order. Returns the output of the
    delivery (``delivered_via``, ``kind``, ``attempts``, ``failed_channels`` and the kind's own
    fields); raises ActionError naming every channel tried when none delivered."""
    names = [n for n in dict.fromkeys((*primary.fallback, *fallback)) if n != primary.name]
    failed: list[dict[str, Any]] = []
    attempts = 0
    transient = False
    for index in range(len(names) + 1):
        name = primary.name if index == 0 else names[index - 1]
        if ctx.cancel.is_set():
            failed.append({"channel": name, "error": "cancelled", "attempts": 0})
            break
        try:
            channel = primary if index == 0 else channels.resolve(names[index - 1], ctx)
            if timeout is not None:
                channel = dataclasses.replace(channel, policy=dataclasses.replace(channel.policy, timeout=timeout))
            result = send(channel, message, ctx)
        except SendError as exc:
            attempts += exc.attempts
            transient = transient or exc.transient
            failed.append({"channel": name, "error": ctx.redact(str(exc)), "attempts": exc.attempts})
            continue
        except ActionError as exc:
            failed.append({"channel": name, "error": ctx.redact(str(exc)), "attempts": 0})
            continue
        attempts += int(result.pop("attempts", 1))
        if failed:
            ctx.log(f"delivered via {name} after {', '.join(f['channel'] for f in failed)} failed")
        return {"delivered_via": name, "kind": channel.kind, "attempts": attempts, "failed_channels": failed,
                **result}
    summary = "; ".join(f"{f['channel']}: {f['error']}" for f in failed)
    raise ActionError(ctx.redact(f"not delivered: {summary}"), backend="notify", retryable=transient)


class NotifyAction(Action):
    """A notify action: ``kind`` names the channel type it sends to; ``credentials`` the parameters
    that may stand in for a named channel (given as a reference or a secret(...))."""

    kind: ClassVar[str]
    credentials: ClassVar[tuple[str, ...]] = ("url",)
    # parameters that describe the delivery, not the message: they go to the channel
    delivery: ClassVar[tuple[str, ...]] = ()

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        channel = self.channel(params, ctx)
        skip = {*_COMMON, *self.credentials, *self.delivery}
        options = tuple(p.name for p in self.spec.params if p.name not in skip)
        message = build_message(params, ctx, options_from=options)
        extra = params.get("fallback") or []
        if isinstance(extra, str):
            extra = [extra]
        timeout = parse_duration(params["timeout"]) if params.get("timeout") else None
        return deliver(channel, message, ctx, fallback=tuple(str(x) for x in extra), timeout=timeout)

    def channel(self, params: Mapping[str, Any], ctx: ActionContext) -> channels.Channel:
        name = params.get("channel")
        if name:
            channel = channels.resolve(str(name), ctx)
            if channel.kind != self.kind:
                raise ActionError(f"channel {name} is of type {channel.kind}, not {self.kind}: "
                                  f"use notify.{channel.kind}", backend="notify", retryable=False)
            extra = {k: params[k] for k in self.delivery if params.get(k) is not None}
            if extra:  # checked like the channel's own settings (a credential must be a reference)
                channel = channels.build(channel.name, channel.kind, {**channel.settings, **extra},
                                         channel.fallback, ctx)
            return channel
        settings = {k: params[k] for k in (*self.credentials, *self.delivery) if params.get(k) is not None}
        if not any(k in settings for k in self.credentials):
            raise ActionError(f"{self.spec.name} needs a channel or {' / '.join(self.credentials)}",
                              backend="notify", retryable=False)
        return channels.build(channels.DIRECT, self.kind, settings, (), ctx)

    def describe(self, params: Mapping[str, Any]) -> str:
        target = params.get("channel") or f"a {self.kind} endpoint given directly"
        text = params.get("text")
        return f"send to {target}" + (f": {text}" if text else "")
