"""The drill's clock: approvals after a delay (or denied), the alert that opens the incident later,
injects applied on cue (and recorded when they cannot be), ``within`` measured from the opening,
and the timeout that stops a drill whose runbook hangs."""

from __future__ import annotations

import time
from pathlib import Path

from pyirt.drill.expect import epoch
from pyirt.drill.run import run_drill
from tests.drill.conftest import WriteScenario, runbook
from tests.helpers import journal_events, of_type

APPROVE = """steps:
  - {id: ask, action: flow.approve, with: {message: "go?"}}
  - {id: after, action: notify.console, with: {text: "approved"}}
"""


def test_approvals_wait_for_approve_after_and_deny_refuses(tmp_path: Path, write_scenario: WriteScenario) -> None:
    book = runbook(tmp_path, APPROVE)
    scenario = write_scenario(f"""
kind: Scenario
runbook: {book}
world: {{}}
approve_after: 600ms
alert: {{at: 300ms, labels: {{alertname: Drill}}}}
expectations:
  - {{step: {{id: after, status: succeeded}}, within: 5s}}
""")
    started = time.time()
    card = run_drill(scenario, incident_dir=tmp_path / "out", sync=False)
    assert card.passed, card.text()
    assert card.opened is not None and card.opened - started >= 0.3  # the alert opened the incident
    events = journal_events(card.folder)
    asked = epoch(of_type(events, "approval.requested", "ask")[0]["ts"])
    granted = epoch(of_type(events, "approval.granted", "ask")[0]["ts"])
    assert asked is not None and granted is not None and granted - asked >= 0.6
    assert of_type(events, "incident.opened")[0]["alert"]["labels"] == {"alertname": "Drill"}

    denied = write_scenario(f"""
kind: Scenario
runbook: {book}
world: {{}}
deny: [ask]
expectations: [{{no_failed_steps: true}}]
""")
    card = run_drill(denied, incident_dir=tmp_path / "out", sync=False)
    assert not card.passed
    assert "ask (flow.approve): approval denied by" in card.verdicts[0].evidence


def test_injects_on_cue_and_within_from_the_opening(tmp_path: Path, write_scenario: WriteScenario) -> None:
    book = runbook(tmp_path, """steps:
  - {id: wait, action: flow.wait, with: {duration: 900ms}}
  - {id: stats, action: docker.stats, with: {container: web}}
""")
    scenario = write_scenario(f"""
kind: Scenario
runbook: {book}
world:
  containers:
    - {{name: web, memory_limit: 1g, memory_usage: 100m}}
    - {{name: nolimit}}
injects:
  - {{at: 300ms, container: web, memory_usage: 90%}}
  - {{at: 400ms, container: nolimit, memory_usage: 50%, note: cannot be applied}}
  - {{at: 500ms, container: web, state: paused}}
expectations:
  - name: memory high soon
    container: {{name: web, memory_percent: ">= 89"}}
    within: 100ms
  - {{container: {{name: web, paused: true}}, within: 2s}}
  - {{step: {{id: stats, status: succeeded}}}}
""")
    card = run_drill(scenario, incident_dir=tmp_path / "out", sync=False)
    high, paused, stats = card.verdicts
    assert not high.passed and "later than 100ms" in high.evidence  # met at ~0.3 s, not within 0.1 s
    assert paused.passed and 0.4 < (paused.met_at or 0) < 1.5
    assert stats.passed
    assert card.folder is not None
    percent = [e for e in journal_events(card.folder) if e["type"] == "step.succeeded"][-1]["output"]["memory_percent"]
    assert 89 < percent <= 90
    applied = {e.text: e for e in card.events}
    assert applied["cannot be applied"].error.startswith("ValueError: 50% of what?")
    assert abs((applied["container web: memory in use goes to 90%"].applied or 0) - card.t0 - 0.3) < 0.2


def test_a_hung_runbook_is_stopped_at_the_timeout(tmp_path: Path, write_scenario: WriteScenario) -> None:
    book = runbook(tmp_path, "steps:\n  - {id: stats, action: docker.stats, with: {container: web}}\n")
    scenario = write_scenario(f"""
kind: Scenario
runbook: {book}
world: {{containers: [{{name: web}}]}}
timeout: 1s
faults: [{{target: docker, op: stats, hang: true, times: null}}]
expectations: [{{step: {{id: stats}}}}]
""")
    started = time.monotonic()
    card = run_drill(scenario, incident_dir=tmp_path / "out", sync=False)
    assert time.monotonic() - started < 8
    assert not card.passed
    assert "the drill was stopped after its timeout (1s)" in card.notes
    assert card.verdicts[0].evidence.startswith("step stats failed")
