"""What the SDK-backed adapters (Cloud Run, the secret stores) share: call settings read from a
``providers:`` entry, one bounded retry loop honouring Retry-After, and Google credentials from
``adc | anonymous | file:PATH`` (and ``clip``/``first_line`` for one-line error messages).

Each adapter keeps its own error mapping and messages: it passes them in as callbacks. No SDK is
imported here at module level; :func:`google_credentials` imports google-auth when it is called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

from pyirt.actions.api import ActionContext
from pyirt.errors import ActionError
from pyirt.extras import require

T = TypeVar("T")


def number(provider: Mapping[str, Any], key: str, default: float, low: float) -> float:
    """``provider[key]`` as a number no lower than ``low``; ``default`` when missing or not a number."""
    value = provider.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return max(low, float(value))


def clip(text: str) -> str:
    """One line of at most 300 characters."""
    return " ".join(text.split())[:300]


def first_line(exc: BaseException) -> str:
    """An exception's first line, clipped; its type's name when it has no text."""
    text = str(exc).strip()
    return clip(text.splitlines()[0]) if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class CallSettings:
    """Per call: its ``timeout`` (seconds), ``attempts`` in all, and the longest Retry-After waited."""

    timeout: float = 30.0
    attempts: int = 3
    max_retry_after: float = 30.0

    @classmethod
    def from_provider(cls, provider: Mapping[str, Any]) -> CallSettings:
        return CallSettings(timeout=number(provider, "timeout", 30.0, 0.1),
                            attempts=int(number(provider, "attempts", 3, 1)),
                            max_retry_after=number(provider, "max_retry_after", 30.0, 0.0))


def _annotate(exc: ActionError, message: str) -> ActionError:
    return ActionError(message, backend=exc.backend, retry_after=exc.retry_after)


def retrying(settings: CallSettings, ctx: ActionContext, once: Callable[[], T], *,
             again: Callable[[ActionError], bool], cancelled: Callable[[], ActionError],
             annotate: Callable[[ActionError, str], ActionError] = _annotate) -> T:
    """``once()`` (which raises ActionErrors), retried while the error is retryable and ``again``
    says so, at most ``settings.attempts`` times in all, waiting Retry-After (or a short backoff).
    A wait longer than ``max_retry_after`` re-raises at once (the step's retry policy waits it);
    giving up after retries re-raises ``annotate(exc, "… (after N attempts)")``; a cancelled wait
    raises ``cancelled()``."""
    attempts = settings.attempts
    for attempt in range(1, attempts + 1):
        try:
            return once()
        except ActionError as exc:
            if not (exc.retryable and again(exc)) or attempt == attempts:
                if exc.retryable and attempt > 1:
                    raise annotate(exc, f"{exc} (after {attempt} attempts)") from None
                raise
            delay = exc.retry_after if exc.retry_after is not None else min(0.5 * 2 ** (attempt - 1), 8.0)
            if delay > settings.max_retry_after:
                raise  # longer than a step should block: the step's retry policy waits it
            ctx.log(f"{exc}; retrying in {delay:g}s (attempt {attempt + 1} of {attempts})")
            if not ctx.sleep(delay):
                raise cancelled() from None
    raise AssertionError("unreachable")  # pragma: no cover


def google_credentials(kind: str, scopes: list[str], *, setting: str,
                       guard: Callable[[], AbstractContextManager[None]],
                       fail: Callable[[str], ActionError], head: str = "") -> Any:
    """Google credentials for ``providers.<setting>.credentials``: ``adc`` (or ``default``),
    ``anonymous`` or ``file:PATH``. ``guard()`` maps errors while Application Default Credentials
    load; ``fail(message)`` builds the error for an unreadable key file (its message starting with
    ``head``) or an unknown kind."""
    if kind == "anonymous":
        return require("google.auth.credentials", "gcp").AnonymousCredentials()
    if kind in ("adc", "default"):
        google_auth = require("google.auth", "gcp")
        with guard():
            credentials, _ = google_auth.default(scopes=scopes)
        return credentials
    if kind.startswith("file:"):
        service_account = require("google.oauth2.service_account", "gcp")
        try:
            return service_account.Credentials.from_service_account_file(kind[5:], scopes=scopes)
        except (OSError, ValueError) as exc:
            raise fail(f"{head}credentials {kind}: {first_line(exc)}") from None
    raise fail(f"providers.{setting}.credentials must be adc, anonymous or file:PATH, not {kind!r}")

