"""The notification sinks, driven by the real notify actions: each service's wire format is
accepted and recorded; what the service would refuse is refused; faults make the actions retry
and fall back; credentials reach the actions only as file references."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyirt.engine.config import Config
from pyirt.engine.session import Options, Result, respond
from pyirt.sim.cloudrun_state import WorldError
from pyirt.sim.sinks import NotificationSinks, guess_kind

CHANNELS = ["oncall", {"name": "teams-room", "type": "teams"}, "pager", "audit-hook",
            {"name": "email-sre", "type": "email", "to": ["sre@example.com"]},
            {"name": "ops", "type": "slack", "fallback": ["email-sre"], "attempts": 2, "backoff": "50ms"}]


@pytest.fixture
def sinks() -> Iterator[NotificationSinks]:
    with NotificationSinks.from_world({"channels": CHANNELS}) as running:
        yield running


def run(tmp_path: Path, sinks: NotificationSinks, steps: list[dict[str, Any]]) -> Result:
    book = tmp_path / "notify.yaml"
    book.write_text(json.dumps({"apiVersion": "irt/v1", "kind": "Runbook", "name": "notify-test", "steps": steps}))
    config = Config(raw={"channels": sinks.channel_config(tmp_path / "channels")})
    return respond(book, {}, config, Options(sync=False, yes=True, interactive=False,
                                             incident_dir=str(tmp_path / "incidents")))


def test_every_kind_is_accepted_and_recorded(tmp_path: Path, sinks: NotificationSinks) -> None:
    assert [c.kind for c in sinks.channels.values()] == ["slack", "teams", "pagerduty", "webhook", "email", "slack"]
    steps = [{"id": kind.split(".")[1], "action": kind,
              "with": {"channel": channel, "text": f"pixashot down via {kind}", "service": "pixashot"}}
             for kind, channel in (("notify.slack", "oncall"), ("notify.teams", "teams-room"),
                                   ("notify.pagerduty", "pager"), ("notify.webhook", "audit-hook"),
                                   ("notify.email", "email-sre"))]
    result = run(tmp_path, sinks, steps)
    assert result.outcome == "succeeded", {s: v.error for s, v in result.state.steps.items()}
    got = {d.channel: d for d in sinks.deliveries()}
    assert set(got) == {"oncall", "teams-room", "pager", "audit-hook", "email-sre"}
    assert all(d.accepted and not d.problems for d in got.values()), [d.problems for d in got.values()]
    assert got["oncall"].status == 200 and "pixashot down via notify.slack" in got["oncall"].text
    assert got["teams-room"].status == 202 and "pixashot down via notify.teams" in got["teams-room"].text
    assert got["pager"].payload["event_action"] == "trigger"
    assert got["pager"].payload["dedup_key"] == result.incident_id
    assert got["audit-hook"].payload["text"] == "pixashot down via notify.webhook"
    assert got["email-sre"].payload["to"] == ["sre@example.com"]
    assert "pixashot down via notify.email" in got["email-sre"].text
    assert result.state.step("pagerduty").output["dedup_key"] == result.incident_id
    # the credentials went to the actions as files, and no journal line holds one
    journal = (result.folder / "journal.jsonl").read_text()
    for channel in sinks.channels.values():
        assert channel.token not in journal


def test_what_the_service_refuses_is_refused_and_recorded(sinks: NotificationSinks) -> None:
    def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(url, data=body, method="POST",  # noqa: S310 (the sinks, on loopback)
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    assert post(sinks.endpoint("oncall"), b'{"blocks": "nope"}') == (400, "invalid_payload")
    assert post(sinks.endpoint("oncall").replace(sinks.channels["oncall"].token, "guessed"), b'{"text": "x"}')[0] == 400
    status, body = post(sinks.endpoint("pager"), json.dumps({"routing_key": "x" * 32, "event_action": "trigger"})
                        .encode())
    assert status == 400 and json.loads(body)["status"] == "invalid event"
    assert post(sinks.endpoint("audit-hook"), b'{"incident": {}, "text": "t", "severity": "info"}',
                {"X-Irt-Timestamp": str(int(time.time())), "X-Irt-Signature": "sha256=00"})[0] == 401
    assert post(sinks.endpoint("teams-room"), b'{"type": "message"}')[0] == 400
    refused = sinks.deliveries(accepted=False)
    assert [d.channel for d in refused] == ["oncall", "oncall", "pager", "audit-hook", "teams-room"]
    assert "no_text" not in refused[0].problems[0] and "invalid_blocks" in refused[0].problems[0]
    assert "the webhook token does not match" in refused[1].problems
    assert "invalid routing_key" in refused[2].problems and "payload is required for trigger" in refused[2].problems
    assert refused[3].problems == ("X-Irt-Signature does not match",)
    assert sinks.deliveries(accepted=True) == []


def test_faults_make_the_actions_retry_and_fall_back(tmp_path: Path, sinks: NotificationSinks) -> None:
    sinks.inject("oncall", status=503, times=2)
    sinks.inject("ops", status=503, times=None, message="slack is down")
    sinks.inject("email-sre", status=451, times=1, message="greylisted, try again")
    result = run(tmp_path, sinks, [
        {"id": "flaky", "action": "notify.slack", "with": {"channel": "oncall", "text": "one"}},
        {"id": "down", "action": "notify.slack", "with": {"channel": "ops", "text": "two"}},
    ])
    assert result.outcome == "succeeded", {s: v.error for s, v in result.state.steps.items()}
    assert result.state.step("flaky").output["attempts"] == 3
    down = result.state.step("down").output
    assert down["delivered_via"] == "email-sre" and down["failed_channels"][0]["channel"] == "ops"
    assert "slack is down" in down["failed_channels"][0]["error"]
    email = sinks.deliveries("email-sre")
    assert [(d.accepted, d.status) for d in email] == [(False, 451), (True, 250)]  # greylisted once, then taken


def test_email_down_drops_the_connection_and_a_hang_is_released_at_stop(tmp_path: Path) -> None:
    sinks = NotificationSinks.from_world({"channels": [{"name": "mail", "type": "email", "down": True,
                                                        "attempts": 1}, {"name": "chat", "type": "slack"}]})
    with sinks:
        result = run(tmp_path, sinks, [{"id": "mail", "action": "notify.email", "with": {"channel": "mail",
                                                                                           "text": "x"}}])
        assert "421" in result.state.step("mail").error
        sinks.inject("chat", hang=True, times=None)
        answers: list[Any] = []

        def call() -> None:
            request = urllib.request.Request(sinks.endpoint("chat"), data=b"{}", method="POST")  # noqa: S310
            try:
                urllib.request.urlopen(request, timeout=10)  # noqa: S310 (the sinks, on loopback)
            except Exception as exc:
                answers.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(0.2)
        assert caller.is_alive()
    caller.join(5)
    assert not caller.is_alive() and answers


def test_channel_kinds_and_world_errors() -> None:
    assert [guess_kind(n) for n in ("oncall", "email-sre", "pagerduty-sre", "teams-ops", "audit-webhook")] == \
        ["slack", "email", "pagerduty", "teams", "webhook"]
    for channels, message in (
            ([{"name": "a", "type": "fax"}], "channels[0].type: one of slack"),
            (["a", "a"], "channels[1]: channel a is listed twice"),
            ([{"name": "a", "fallback": ["b"]}], "channel a: fallback b is not a channel of the world"),
            ([{"name": "a", "faults": [{"status": 200}]}], "channels[0].faults[0]: status: an error status"),
            ({"a": {"type": "slack", "colour": "red"}}, "channels.a: unknown key(s) colour")):
        with pytest.raises(WorldError) as failed:
            NotificationSinks.from_world({"channels": channels})
        assert str(failed.value).startswith(message), str(failed.value)
