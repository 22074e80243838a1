"""Bounded delivery: one retry loop for every notifier, and the HTTP POST built on it.

Every attempt has a timeout. A transient failure (HTTP 429, 5xx, a connection error or a timeout;
for SMTP a 4xx reply or a dropped connection) is retried with exponential backoff, waiting at least
the server's ``Retry-After``; any other failure (a 4xx, a refused login) ends the delivery at once.
Error messages name the channel, never its URL, and pass through the run's redactor.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pyirt.actions.api import ActionContext

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Policy:
    """How hard one channel is tried: per-attempt ``timeout``, ``attempts`` in all, the first
    backoff delay (doubled each time, capped by ``max_delay``) and the longest ``Retry-After``
    worth waiting for (a longer one hands over to the fallback channels at once)."""

    timeout: float = 10.0
    attempts: int = 3
    backoff: float = 1.0
    max_delay: float = 10.0
    max_retry_after: float = 30.0

    def delay(self, failed_attempt: int, rand: float) -> float:
        base: float = min(self.backoff * 2.0 ** (failed_attempt - 1), self.max_delay)
        return base * (0.8 + 0.4 * rand)  # +-20 % jitter: peers retrying together spread out


class SendError(Exception):
    """One delivery attempt (or the whole delivery) failed. ``transient``: another try may work."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None,
                 attempts: int = 1) -> None:
        self.transient = transient
        self.retry_after = retry_after
        self.attempts = attempts
        super().__init__(message)


def with_retries(attempt: Callable[[], T], policy: Policy, ctx: ActionContext) -> tuple[T, int]:
    """``attempt()`` until it returns, at most ``policy.attempts`` times. Returns its result and the
    number of attempts; raises the last SendError (with ``attempts`` set) when it gives up."""
    tries = max(1, policy.attempts)
    for number in range(1, tries + 1):
        if ctx.cancel.is_set():
            raise SendError("cancelled", transient=True, attempts=number - 1)
        try:
            return attempt(), number
        except SendError as exc:
            exc.attempts = number
            if not exc.transient or number == tries:
                if exc.transient and tries > 1:
                    exc.args = (f"{exc} (after {number} attempts)",)
                raise
            delay = policy.delay(number, random.random())
            if exc.retry_after is not None:
                if exc.retry_after > policy.max_retry_after:
                    exc.args = (f"{exc}; asked to retry after {exc.retry_after:g}s, "
                                f"more than the {policy.max_retry_after:g}s allowed",)
                    raise
                delay = max(delay, exc.retry_after)
            if not ctx.sleep(delay):
                exc.args = (f"{exc} (cancelled while waiting to retry)",)
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    text: str
    attempts: int

    def json(self) -> Any:
        import json

        try:
            return json.loads(self.text)
        except ValueError:
            return None


def post(url: str, content: bytes, *, what: str, ctx: ActionContext, policy: Policy,
         headers: Mapping[str, str] | None = None,
         sign: Callable[[bytes], Mapping[str, str]] | None = None,
         ca_file: str | None = None, proxy: str | None = None) -> HttpReply:
    """POST ``content`` as JSON to ``url`` with retries. ``sign(content)`` gives extra headers for
    each attempt (a fresh timestamp each time). ``what`` names the target in errors."""
    import httpx

    from pyirt.actions.http import parse_retry_after

    base = {"content-type": "application/json", "user-agent": _user_agent(), **(headers or {})}
    secure = url.lower().startswith("https:")
    # Only https needs a TLS context (building one costs ~140 ms).
    verify: Any = (ca_file or True) if secure else False

    def once() -> HttpReply:
        sent = {**base, **(sign(content) if sign else {})}
        try:
            with httpx.Client(timeout=policy.timeout, verify=verify, follow_redirects=False,
                              trust_env=False, proxy=proxy) as client:
                response = client.post(url, content=content, headers=sent)
        except httpx.TimeoutException:
            raise SendError(f"{what}: no answer within {policy.timeout:g}s", transient=True) from None
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
            raise SendError(f"{what}: bad URL or request: {_first_line(exc, ctx)}", transient=False) from None
        except httpx.HTTPError as exc:
            raise SendError(f"{what}: {_first_line(exc, ctx)}", transient=True) from None
        reply = HttpReply(response.status_code, response.text, 1)
        if 200 <= response.status_code < 300:
            return reply
        said = _snippet(response.text, ctx)
        message = f"{what}: HTTP {response.status_code}" + (f" {said}" if said else "")
        if response.status_code == 429 or response.status_code >= 500:
            raise SendError(message, transient=True,
                            retry_after=parse_retry_after(response.headers.get("retry-after")))
        raise SendError(message, transient=False)

    reply, attempts = with_retries(once, policy, ctx)
    return HttpReply(reply.status, reply.text, attempts)


def _first_line(exc: BaseException, ctx: ActionContext) -> str:
    text = str(exc).strip().splitlines()
    return ctx.redact(text[0]) if text else type(exc).__name__


def _snippet(text: str, ctx: ActionContext, limit: int = 200) -> str:
    """What a server said, on one line, short and redacted (a body may echo what it was sent)."""
    flat = " ".join(text.split())
    flat = flat[:limit] + ("…" if len(flat) > limit else "")
    return ctx.redact(flat)


def _user_agent() -> str:
    import pyirt

    return f"pyirt/{pyirt.__version__}"
