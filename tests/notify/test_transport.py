"""The bounded POST under every HTTP notifier, against a local server: which failures are retried,
how long it waits (Retry-After honoured, capped), how it stops, and that errors show no secret."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyirt.actions.api import ActionContext
from pyirt.actions.notify.transport import Policy, SendError, post, with_retries
from pyirt.core.secrets import Redactor
from tests.helpers import CANARY, Reply, Request, Server, closed_port, http_server

QUICK = Policy(timeout=2.0, attempts=3, backoff=0.01, max_delay=0.05, max_retry_after=5.0)


@pytest.fixture
def server() -> Iterator[Server]:
    with http_server() as srv:
        yield srv


@pytest.fixture
def ctx(tmp_path: Path) -> ActionContext:
    redactor = Redactor()
    redactor.add(CANARY)
    return ActionContext(incident_id="i-1", step_id="tell", incident_dir=tmp_path, redact=redactor)


def scripted(server: Server, path: str, *replies: Reply) -> list[float]:
    """Answer ``path`` with ``replies`` in turn (the last one repeats); returns the arrival times."""
    times: list[float] = []
    queue = list(replies)

    def route(request: Request) -> Reply:
        times.append(time.monotonic())
        return queue.pop(0) if len(queue) > 1 else queue[0]

    server.route(path, route)
    return times


def send(server: Server, path: str, ctx: ActionContext, policy: Policy = QUICK) -> int:
    return post(server.url(path), b'{"text": "hi"}', what="slack channel oncall", ctx=ctx, policy=policy).attempts


def test_a_429_waits_for_retry_after_then_delivers(server: Server, ctx: ActionContext) -> None:
    times = scripted(server, "/hook", Reply(429, {"Retry-After": "1"}, "rate_limited"), Reply(200, body="ok"))
    assert send(server, "/hook", ctx) == 2
    assert times[1] - times[0] >= 0.95  # the server's Retry-After, not the 10 ms backoff


def test_5xx_is_retried_with_backoff_until_it_succeeds(server: Server, ctx: ActionContext) -> None:
    times = scripted(server, "/hook", Reply(500), Reply(503), Reply(200, body="ok"))
    assert send(server, "/hook", ctx) == 3
    assert len(times) == 3


def test_5xx_gives_up_after_the_bounded_attempts(server: Server, ctx: ActionContext) -> None:
    times = scripted(server, "/hook", Reply(502, body="bad gateway"))
    with pytest.raises(SendError) as caught:
        send(server, "/hook", ctx)
    assert len(times) == 3
    assert caught.value.transient and caught.value.attempts == 3
    assert str(caught.value) == "slack channel oncall: HTTP 502 bad gateway (after 3 attempts)"


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_other_4xx_are_not_retried(server: Server, ctx: ActionContext, status: int) -> None:
    times = scripted(server, "/hook", Reply(status, body="invalid_payload"))
    with pytest.raises(SendError) as caught:
        send(server, "/hook", ctx)
    assert len(times) == 1
    assert not caught.value.transient
    assert str(caught.value) == f"slack channel oncall: HTTP {status} invalid_payload"


def test_a_hanging_peer_times_out_on_every_attempt(server: Server, ctx: ActionContext) -> None:
    scripted(server, "/hook", Reply(hang=True))
    started = time.monotonic()
    with pytest.raises(SendError) as caught:
        send(server, "/hook", ctx, Policy(timeout=0.3, attempts=2, backoff=0.01))
    assert time.monotonic() - started < 3
    assert caught.value.transient and caught.value.attempts == 2
    assert str(caught.value) == "slack channel oncall: no answer within 0.3s (after 2 attempts)"


def test_connection_errors_are_retried(ctx: ActionContext) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    with pytest.raises(SendError) as caught:
        post(url, b"{}", what="webhook channel hook", ctx=ctx, policy=QUICK)
    assert caught.value.transient and caught.value.attempts == 3
    assert str(caught.value).startswith("webhook channel hook: ")
    assert "127.0.0.1" not in str(caught.value)  # the URL (a credential) is never quoted


def test_a_retry_after_beyond_the_cap_hands_over_at_once(server: Server, ctx: ActionContext) -> None:
    times = scripted(server, "/hook", Reply(429, {"Retry-After": "3600"}, "slow down"))
    started = time.monotonic()
    with pytest.raises(SendError) as caught:
        send(server, "/hook", ctx)
    assert len(times) == 1 and time.monotonic() - started < 1
    assert "asked to retry after 300s" in str(caught.value)  # Retry-After is read capped at 5 minutes


def test_a_cancel_stops_the_wait_between_attempts(server: Server, ctx: ActionContext) -> None:
    times = scripted(server, "/hook", Reply(429, {"Retry-After": "4"}))
    threading.Timer(0.3, ctx.cancel.set).start()
    started = time.monotonic()
    with pytest.raises(SendError) as caught:
        send(server, "/hook", ctx)
    assert time.monotonic() - started < 2 and len(times) == 1
    assert "cancelled while waiting to retry" in str(caught.value)


def test_what_a_peer_echoes_back_is_redacted(server: Server, ctx: ActionContext) -> None:
    server.route(f"/hook/{CANARY}", lambda r: Reply(400, body=f"no such hook {r.path}\n(token {CANARY})"))
    with pytest.raises(SendError) as caught:
        post(server.url(f"/hook/{CANARY}"), b"{}", what="slack channel oncall", ctx=ctx, policy=QUICK)
    assert CANARY not in str(caught.value)
    assert str(caught.value) == "slack channel oncall: HTTP 400 no such hook /hook/*** (token ***)"


def test_every_attempt_is_signed_afresh(server: Server, ctx: ActionContext) -> None:
    seen: list[str] = []

    def route(request: Request) -> Reply:
        seen.append(request.headers.get("x-sig", ""))
        return Reply(500) if len(seen) == 1 else Reply(200)

    server.route("/hook", route)
    counter = iter(range(10))
    post(server.url("/hook"), b"{}", what="hook", ctx=ctx, policy=QUICK,
         sign=lambda body: {"X-Sig": str(next(counter))})
    assert seen == ["0", "1"]


def test_with_retries_returns_the_result_and_the_attempts(ctx: ActionContext) -> None:
    calls = iter([SendError("busy", transient=True), SendError("busy", transient=True), "done"])

    def attempt() -> str:
        item = next(calls)
        if isinstance(item, SendError):
            raise item
        return item

    assert with_retries(attempt, QUICK, ctx) == ("done", 3)
