"""Named channels from ``irt.yaml``, with their credentials resolved into Secrets.

    channels:
      oncall:    {type: slack, url: env:SLACK_WEBHOOK_URL, fallback: [email-sre]}
      pager:     {type: pagerduty, routing_key: env:PD_ROUTING_KEY}
      email-sre: {type: email, host: smtp.example.com, port: 587, starttls: true, user: env:SMTP_USER,
                  password: env:SMTP_PASSWORD, from: irt@example.com, to: [sre@example.com]}

Every ``env:``/``file:`` value is resolved through the run's secret resolver, so it is registered
with the redactor before anything could print it. A webhook URL carries its own credential: for
Slack, Teams and generic webhooks the ``url`` must be a reference, like a routing key, an HMAC key
or a password; an inline one is refused without being shown. Per-channel delivery settings:
``timeout`` (per attempt), ``attempts``, ``backoff``, ``max_retry_after``, ``fallback``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from pyirt.actions.api import ActionContext
from pyirt.actions.notify.transport import Policy
from pyirt.core.durations import parse_duration
from pyirt.core.secrets import Secret
from pyirt.errors import ActionError, TemplateError

KINDS = ("slack", "teams", "pagerduty", "webhook", "email")
REFERENCE_SCHEMES = ("env:", "file:", "gcp:", "aws:", "azure:", "vault:")
# Keys whose values are credentials: a reference, never an inline value.
SECRET_KEYS: Mapping[str, tuple[str, ...]] = {
    "slack": ("url",),
    "teams": ("url",),
    "webhook": ("url", "secret"),
    "pagerduty": ("routing_key",),
    "email": ("password",),
}
DIRECT = "(direct)"


def is_reference(value: object) -> bool:
    return isinstance(value, str) and value.startswith(REFERENCE_SCHEMES)


@dataclass(frozen=True)
class Channel:
    name: str
    kind: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    fallback: tuple[str, ...] = ()
    policy: Policy = field(default_factory=Policy)

    def reveal(self, key: str) -> str | None:
        """A setting as plain text (a Secret revealed): for the backend call only."""
        value = self.settings.get(key)
        if value is None or value == "":
            return None
        return value.reveal() if isinstance(value, Secret) else str(value)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.settings.get(key)
        return default if value is None else value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.settings.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            return value.strip().lower() in ("true", "yes", "on", "1")
        return bool(value)


def _fail(message: str) -> ActionError:
    return ActionError(message, backend="notify", retryable=False)


def channels_of(config: Mapping[str, Any]) -> Mapping[str, Any]:
    raw = config.get("channels")
    return raw if isinstance(raw, Mapping) else {}


def resolve(name: str, ctx: ActionContext) -> Channel:
    """The channel ``name`` of ``irt.yaml``, its references resolved. ActionError when it is unknown,
    malformed, holds an inline credential or names a reference that cannot be read."""
    entry = channels_of(ctx.config).get(name)
    if not isinstance(entry, Mapping):
        known = ", ".join(sorted(str(k) for k in channels_of(ctx.config))) or "none"
        _raise(f"unknown channel {name!r} (channels in irt.yaml: {known})")
    kind = entry.get("type")
    if kind not in KINDS:
        _raise(f"channel {name}: type must be one of {', '.join(KINDS)}")
    settings = {str(k): v for k, v in entry.items() if k not in ("type", "fallback")}
    fallback = entry.get("fallback") or []
    if isinstance(fallback, str):
        fallback = [fallback]
    if not isinstance(fallback, list) or not all(isinstance(f, str) for f in fallback):
        _raise(f"channel {name}: fallback must be a list of channel names")
    return build(name, str(kind), settings, tuple(fallback), ctx)


def build(name: str, kind: str, settings: Mapping[str, Any], fallback: tuple[str, ...],
          ctx: ActionContext) -> Channel:
    """A channel from its settings: references resolved, inline credentials refused."""
    for key in SECRET_KEYS.get(kind, ()):
        value = settings.get(key)
        if value is not None and not isinstance(value, Secret) and not is_reference(value):
            _raise(f"channel {name}: {key} must be a reference (env:NAME or file:PATH) or secret(...), "
                   "not an inline value")
    resolved = {key: _resolve_value(name, key, value, ctx) for key, value in settings.items()}
    for key, value in resolved.items():
        if isinstance(value, Secret):
            ctx.redact.add(value.reveal())
            if key == "url":
                for part in url_secrets(value.reveal()):
                    ctx.redact.add(part)
    return Channel(name=name, kind=kind, settings=resolved, fallback=fallback, policy=_policy(name, resolved))


def url_secrets(url: str) -> list[str]:
    """The parts of a secret URL that a server might echo on their own: the path and query, a
    token-like last path segment (Slack), token-like query values (a Teams workflow's ``sig``)
    and a password in the authority. Short or word-like parts are left alone: masking ``services``
    everywhere would help nobody."""
    from urllib.parse import parse_qsl, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.path + (f"?{parts.query}" if parts.query else "")]
    segments = [s for s in parts.path.split("/") if s]
    if segments:
        found.append(segments[-1])
    found += [value for _, value in parse_qsl(parts.query)]
    if parts.password:
        found.append(parts.password)
    return [f for f in found if len(f) >= 12 and not f.isalpha()]


def _resolve_value(channel: str, key: str, value: Any, ctx: ActionContext) -> Any:
    if isinstance(value, list):
        return [_resolve_value(channel, key, item, ctx) for item in value]
    if isinstance(value, Mapping):  # headers: {Authorization: env:HOOK_TOKEN}
        return {str(k): _resolve_value(channel, f"{key}.{k}", v, ctx) for k, v in value.items()}
    if not is_reference(value):
        return value
    from pyirt.engine.secretref import resolver  # resolves env:/file: and registers with the redactor

    try:
        return resolver(ctx.redact)(str(value))
    except TemplateError as exc:
        _raise(f"channel {channel}: {key}: {exc}")


def _policy(name: str, settings: Mapping[str, Any]) -> Policy:
    defaults = Policy()
    try:
        timeout = parse_duration(settings.get("timeout") or defaults.timeout)
        backoff = parse_duration(settings.get("backoff") or defaults.backoff)
        max_after = parse_duration(settings.get("max_retry_after") or defaults.max_retry_after)
    except ValueError as exc:
        _raise(f"channel {name}: {exc}")
    attempts = settings.get("attempts", defaults.attempts)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 10:
        _raise(f"channel {name}: attempts must be a whole number from 1 to 10")
    return Policy(timeout=timeout, attempts=attempts, backoff=backoff,
                  max_delay=max(backoff, defaults.max_delay), max_retry_after=max_after)


def _raise(message: str) -> NoReturn:
    raise _fail(message)
