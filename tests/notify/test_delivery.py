"""Surviving failures: retries inside one call (429 honouring Retry-After, 5xx, hangs), none on
other 4xx, then the fallback channels in order, whatever their kind; the output says who delivered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pyirt.actions.notify.pagerduty import PagerDuty
from pyirt.actions.notify.slack import Slack
from pyirt.errors import ActionError
from tests.helpers import CANARY, Reply
from tests.notify.conftest import MakeCtx, channels
from tests.notify.peers import Peers, SmtpPeer, smtp_server


@pytest.fixture
def mail() -> Iterator[SmtpPeer]:
    with smtp_server() as peer:
        yield peer


def config(peers: Peers, mail: SmtpPeer | None = None, **oncall: Any) -> dict[str, Any]:
    found = channels(peers)
    found["oncall"] = {**found["oncall"], **oncall}
    if mail is not None:
        found["email-sre"] = {"type": "email", "host": mail.host, "port": mail.port, "from": "irt@example.com",
                              "to": ["sre@example.com"], "timeout": "2s"}
    return {"channels": found}


def test_a_429_is_retried_after_retry_after_within_the_call(env: Peers, make_ctx: MakeCtx) -> None:
    env.slack.fail(Reply(429, {"Retry-After": "1"}, "rate_limited"))
    started = time.monotonic()
    out = Slack().run({"channel": "oncall", "text": "hi"}, make_ctx(config(env)))
    assert time.monotonic() - started >= 0.95
    assert (out["delivered_via"], out["attempts"], out["failed_channels"]) == ("oncall", 2, [])
    assert len(env.slack.received) == 2 and len(env.slack.accepted) == 1


def test_5xx_exhausts_the_retries_then_the_fallback_delivers(env: Peers, mail: SmtpPeer, make_ctx: MakeCtx) -> None:
    env.slack.down = Reply(500, body="internal_error")
    out = Slack().run({"channel": "oncall", "text": "memory raised", "severity": "error"},
                      make_ctx(config(env, mail, fallback=["email-sre"])))
    assert len(env.slack.received) == 3
    assert out["delivered_via"] == "email-sre" and out["kind"] == "email" and out["attempts"] == 4
    assert out["failed_channels"] == [{"channel": "oncall", "attempts": 3,
                                       "error": "slack channel oncall: HTTP 500 internal_error (after 3 attempts)"}]
    [message] = mail.mailbox.messages
    assert message["Subject"] == "[ERROR] Incident update"


def test_a_4xx_goes_straight_to_the_fallback(env: Peers, mail: SmtpPeer, make_ctx: MakeCtx) -> None:
    env.slack.down = Reply(404, body="no_service")
    out = Slack().run({"channel": "oncall", "text": "hi"}, make_ctx(config(env, mail, fallback=["email-sre"])))
    assert len(env.slack.received) == 1 and out["delivered_via"] == "email-sre"
    assert out["failed_channels"][0]["error"] == "slack channel oncall: HTTP 404 no_service"


def test_a_hanging_peer_times_out_and_falls_back_in_order(env: Peers, make_ctx: MakeCtx) -> None:
    env.slack.down = Reply(hang=True)
    env.teams.down = Reply(503)
    ctx = make_ctx(config(env, timeout="300ms", attempts=2, fallback=["teams", "hook"]))
    started = time.monotonic()
    out = Slack().run({"channel": "oncall", "text": "hi"}, ctx)
    assert time.monotonic() - started < 3
    assert out["delivered_via"] == "hook" and out["kind"] == "webhook"
    assert [f["channel"] for f in out["failed_channels"]] == ["oncall", "teams"]
    assert out["failed_channels"][0]["error"] == "slack channel oncall: no answer within 0.3s (after 2 attempts)"
    assert env.webhook.problems == [] and len(env.webhook.accepted) == 1


def test_a_steps_fallback_list_adds_to_the_channels(env: Peers, make_ctx: MakeCtx) -> None:
    env.slack.down = Reply(500)
    out = Slack().run({"channel": "oncall", "text": "hi", "fallback": ["pager"]}, make_ctx(config(env)))
    assert out["delivered_via"] == "pager" and out["event_action"] == "trigger"
    assert env.pagerduty.problems == [] and env.pagerduty.accepted[0]["payload"]["summary"] == "hi"


def test_when_every_channel_fails_the_error_names_each(env: Peers, make_ctx: MakeCtx) -> None:
    env.slack.down = Reply(500, body=f"boom {CANARY}")
    env.teams.down = Reply(403, body="Forbidden")
    ctx = make_ctx(config(env, fallback=["teams", "nowhere"]))
    ctx.redact.add(CANARY)
    with pytest.raises(ActionError) as caught:
        Slack().run({"channel": "oncall", "text": "hi"}, ctx)
    assert str(caught.value) == (
        "not delivered: oncall: slack channel oncall: HTTP 500 boom *** (after 3 attempts); "
        "teams: teams channel teams: HTTP 403 Forbidden; "
        "nowhere: unknown channel 'nowhere' (channels in irt.yaml: hook, oncall, pager, teams)")
    assert caught.value.retryable  # the 5xx was transient: a step's own retry: may try again later


def test_a_permanent_failure_everywhere_is_not_retryable(env: Peers, make_ctx: MakeCtx) -> None:
    env.pagerduty.down = Reply(400, body={"status": "invalid event"})
    with pytest.raises(ActionError) as caught:
        PagerDuty().run({"channel": "pager", "text": "hi"}, make_ctx(config(env)))
    assert not caught.value.retryable


def test_the_step_timeout_replaces_the_channels(env: Peers, make_ctx: MakeCtx) -> None:
    env.slack.down = Reply(hang=True)
    with pytest.raises(ActionError) as caught:
        Slack().run({"channel": "oncall", "text": "hi", "timeout": "200ms"}, make_ctx(config(env, attempts=1)))
    assert "no answer within 0.2s" in str(caught.value)


def test_a_fallback_is_logged_for_the_operator(env: Peers, make_ctx: MakeCtx) -> None:
    env.slack.down = Reply(500)
    said: list[str] = []
    ctx = make_ctx(config(env, fallback=["teams"]))
    ctx.log = said.append
    Slack().run({"channel": "oncall", "text": "hi"}, ctx)
    assert said == ["delivered via teams after oncall failed"]
