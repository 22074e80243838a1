"""Notifications inside a run: a failed one is journaled and, unless the step says
``on_failure: abort``, never stops the mitigation; lifecycle notifications (opened, approval, step
failed, closed, with PagerDuty trigger then resolve on one dedup key) configured in irt.yaml."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pyirt.actions import registry as registry_mod
from pyirt.engine import config as config_mod
from pyirt.engine import session
from pyirt.errors import Stopped
from tests.helpers import FIXTURES, Reply, journal_events, of_type
from tests.notify.conftest import PD_KEY, channels
from tests.notify.peers import Peers

RUNBOOKS = FIXTURES / "notify" / "runbooks"


class Recorder:
    """An observer keeping every event and console message."""

    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []
        self.messages: list[tuple[str, str]] = []

    def event(self, event: Mapping[str, Any]) -> None:
        self.events.append(event)

    def message(self, step: str, text: str) -> None:
        self.messages.append((step, text))


def config(peers: Peers, **sections: Any) -> config_mod.Config:
    raw = {"channels": channels(peers), **sections}
    return config_mod.parse(json.dumps(raw), "irt.yaml")  # JSON is YAML: checked like a user's file


def respond(runbook: str, cfg: config_mod.Config, tmp_path: Path, *, yes: bool = True,
            recorder: Recorder | None = None) -> session.Result:
    options = session.Options(incident_dir=str(tmp_path / "incidents"), yes=yes, interactive=False,
                              observers=[recorder or Recorder()], sync=False)
    return session.respond(RUNBOOKS / runbook, {}, cfg, options)


# -- a failed notification ---------------------------------------------------------------------------
def test_notify_steps_default_to_on_failure_continue() -> None:
    registry = registry_mod.load()
    fails, _ = session.read_runbook(RUNBOOKS / "notify-fails.yaml", registry)
    abort, _ = session.read_runbook(RUNBOOKS / "notify-abort.yaml", registry)
    assert [s.on_failure for s in fails.steps] == ["continue", "abort"]  # notify.console keeps the default
    assert abort.step("tell").on_failure == "abort"


def test_a_failed_notification_is_journaled_and_the_mitigation_goes_on(env: Peers, tmp_path: Path) -> None:
    env.slack.down = Reply(500, body="internal_error")
    result = respond("notify-fails.yaml", config(env), tmp_path)
    assert result.outcome == "completed_with_errors"
    events = journal_events(result.folder)
    [failed] = of_type(events, "step.failed", "tell")
    assert failed["policy"] == "continue" and failed["backend"] == "notify"
    assert failed["error"] == "not delivered: oncall: slack channel oncall: HTTP 500 internal_error (after 3 attempts)"
    assert of_type(events, "step.succeeded", "mitigate")


def test_on_failure_abort_makes_a_notification_essential(env: Peers, tmp_path: Path) -> None:
    env.slack.down = Reply(404, body="no_service")
    result = respond("notify-abort.yaml", config(env), tmp_path)
    assert result.outcome == "failed"
    assert of_type(journal_events(result.folder), "step.skipped", "mitigate")


def test_a_delivery_is_recorded_in_the_step_output(env: Peers, tmp_path: Path) -> None:
    result = respond("notify-fails.yaml", config(env), tmp_path)
    [done] = of_type(journal_events(result.folder), "step.succeeded", "tell")
    assert done["output"] == {"delivered_via": "oncall", "kind": "slack", "attempts": 1, "failed_channels": [],
                              "status": 200}


# -- lifecycle notifications -------------------------------------------------------------------------
LIFECYCLE = {"on": ["opened", "approval", "step_failed", "closed"], "channels": ["oncall", "pager"]}


def test_lifecycle_notifications_follow_the_incident(env: Peers, tmp_path: Path) -> None:
    recorder = Recorder()
    result = respond("lifecycle.yaml", config(env, notify=LIFECYCLE), tmp_path, recorder=recorder)
    assert result.outcome == "completed_with_errors"
    assert env.problems() == []
    texts = [payload["text"] for payload in env.slack.accepted]
    assert len(texts) == 4
    assert texts[0].startswith("[ERROR] Incident opened: lifecycle-demo: Incident ")
    assert texts[1].startswith("[ERROR] Step failed: check-memory: Step check-memory (flow.assert) failed: ")
    assert "(the response goes on)" in texts[1]
    assert texts[2].startswith("[WARNING] Approval needed: contain: Step contain (notify.console) needs approval")
    assert texts[3] == f"[INFO] Incident closed: completed with errors: Incident {result.incident_id} closed: " \
                       "completed with errors."
    # PagerDuty: the page opens, is updated, and is resolved on close, all on the incident's dedup key
    actions = [(e["event_action"], e["dedup_key"], e["routing_key"]) for e in env.pagerduty.accepted]
    assert actions == [("trigger", result.incident_id, PD_KEY)] * 3 + [("resolve", result.incident_id, PD_KEY)]
    first = env.pagerduty.accepted[0]["payload"]
    assert (first["severity"], first["source"], first["group"]) == ("error", "pixashot", "lifecycle-demo")
    assert first["custom_details"]["inputs"] == {"service": "pixashot"}
    # each delivery is journaled
    sent = of_type(journal_events(result.folder), "notify.sent")
    assert sorted((e["event"], e["channel"]) for e in sent) == sorted(
        (event, channel) for event in LIFECYCLE["on"] for channel in ("oncall", "pager"))
    assert recorder.messages == [("collect", "collecting evidence for pixashot"), ("contain", "containing pixashot")]


def test_the_approval_notification_goes_out_before_the_run_pauses(env: Peers, tmp_path: Path) -> None:
    cfg = config(env, notify={"on": ["approval"], "channels": ["oncall"]}, policy={"approval": "stop"})
    with pytest.raises(Stopped):
        respond("lifecycle.yaml", cfg, tmp_path, yes=False)
    [payload] = env.slack.accepted
    assert payload["text"].startswith("[WARNING] Approval needed: contain")
    assert "irt resume " in payload["text"] and "--yes" in payload["text"]


def test_a_slow_channel_never_delays_the_response(env: Peers, tmp_path: Path) -> None:
    env.slack.down = Reply(hang=True)
    oncall = {**channels(env)["oncall"], "timeout": "1s", "attempts": 1}
    cfg = config_mod.parse(json.dumps({"channels": {**channels(env), "oncall": oncall},
                                       "notify": {"on": ["opened"], "channels": ["oncall"]}}), "irt.yaml")
    recorder = Recorder()
    started = time.monotonic()
    result = respond("notify-fails.yaml", cfg, tmp_path, recorder=recorder)
    events = journal_events(result.folder)
    opened = dt.datetime.fromisoformat(of_type(events, "incident.opened")[0]["ts"])
    first_step = dt.datetime.fromisoformat(of_type(events, "step.started")[0]["ts"])
    assert (first_step - opened).total_seconds() < 0.5  # the hanging send runs beside the steps
    assert time.monotonic() - started < 10
    [failed] = of_type(events, "notify.failed")  # the close waited for it, then it was journaled
    assert failed["event"] == "opened" and failed["error"].endswith("slack channel oncall: no answer within 1s")
    assert ("notify", f"notification opened to oncall failed: {failed['error']}") in recorder.messages


def test_a_runbook_can_have_its_own_lifecycle_settings(env: Peers, tmp_path: Path) -> None:
    notify = {**LIFECYCLE, "runbooks": {"lifecycle-demo": {"on": ["closed"], "channels": ["pager"]}}}
    respond("lifecycle.yaml", config(env, notify=notify), tmp_path)
    assert env.slack.received == []
    assert [e["event_action"] for e in env.pagerduty.accepted] == ["resolve"]


def test_pagerduty_can_keep_the_page_open_when_the_response_failed(env: Peers, tmp_path: Path) -> None:
    env.slack.down = Reply(404)
    notify = {"on": ["closed"], "channels": ["pager"], "pagerduty_resolve": "success"}
    result = respond("notify-abort.yaml", config(env, notify=notify), tmp_path)
    assert result.outcome == "failed"
    [event] = env.pagerduty.accepted
    assert event["event_action"] == "trigger" and event["payload"]["summary"].endswith("closed: failed.")


def test_a_malformed_notify_section_is_reported_on_the_console(env: Peers, tmp_path: Path) -> None:
    recorder = Recorder()
    respond("notify-fails.yaml", config(env, notify={"on": ["opened", "exploded"], "channels": ["oncall"]}),
            tmp_path, recorder=recorder)
    assert ("notify", "notify.on: unknown event 'exploded' (known: opened, approval, step_failed, closed)") \
        in recorder.messages
    assert len(env.slack.accepted) == 2  # the valid part still works: opened, plus the step's own


def test_validation_checks_notify_parameters() -> None:
    from pyirt.core.parse import parse_runbook
    from pyirt.errors import ValidationFailed

    text = """apiVersion: irt/v1
kind: Runbook
name: bad-notify
steps:
  - id: both
    action: notify.slack
    with: {channel: oncall, url: "env:SLACK_WEBHOOK_URL", text: hi}
  - id: loud
    action: notify.pagerduty
    with: {channel: pager, severity: apocalyptic, event_action: escalate}
  - id: mail
    action: notify.email
    with: {text: "no channel"}
"""
    with pytest.raises(ValidationFailed) as caught:
        parse_runbook(text, "bad.yaml", registry_mod.load().specs())
    found = sorted(f"{p.path}: {p.message}" for p in caught.value.problems)
    assert found == [
        "steps[0].with: exactly one of channel, url is required",
        "steps[1].with.event_action: must be one of trigger, acknowledge, resolve; got 'escalate'",
        "steps[1].with.severity: must be one of critical, error, warning, info; got 'apocalyptic'",
        "steps[2].with.channel: required",
    ]


def test_waiting_for_pending_notifications_is_bounded(env: Peers, tmp_path: Path) -> None:
    env.slack.down = Reply(hang=True)
    oncall = {**channels(env)["oncall"], "timeout": "5s", "attempts": 3}
    cfg = config_mod.parse(json.dumps({"channels": {**channels(env), "oncall": oncall}, "notify": {
        "on": ["opened"], "channels": ["oncall"], "flush_timeout": "500ms"}}), "irt.yaml")
    recorder = Recorder()
    started = time.monotonic()
    result = respond("lifecycle.yaml", cfg, tmp_path, recorder=recorder)
    assert time.monotonic() - started < 3
    assert result.outcome == "completed_with_errors"
    assert ("notify", "gave up waiting for notifications after 0.5s") in recorder.messages
