"""Responding to an incident, end to end through the engine's entry points and the ``irt`` command:
retries and backoff, timeouts, failure policies, rollback, ``finally``, ``when`` and approvals."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from pyirt.engine import session
from pyirt.engine.config import Config
from pyirt.errors import EXIT_FAILED, EXIT_OK, EXIT_STOPPED, Stopped
from tests.cli.conftest import Irt
from tests.helpers import CONFIGS, PLUGINS, RUNBOOKS, clean_env, incident_folder, irt, journal_events, of_type

CONFIG = Config(plugins=("irt_fixture_actions",))


def respond(workdir: Path, runbook: str, inputs: dict[str, Any] | None = None, **options: Any) -> session.Result:
    opts = session.Options(incident_dir=str(workdir / "incidents"), sync=False,
                           **({"interactive": False} | options))
    return session.respond(RUNBOOKS / runbook, inputs or {}, CONFIG, opts)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


# -- retries --------------------------------------------------------------------------------------------
def test_retries_with_exponential_backoff_until_success(workdir: Path) -> None:
    counter = workdir / "calls"
    result = respond(workdir, "retry.yaml", {"counter": str(counter), "failures": "2"})
    assert result.outcome == "succeeded"
    events = journal_events(result.folder)
    assert [e["attempt"] for e in of_type(events, "step.started", "flaky")] == [1, 2, 3]
    retrying = of_type(events, "step.retrying", "flaky")
    assert [e["delay"] for e in retrying] == [0.02, 0.04]
    assert [e["error"] for e in retrying] == ["call 1 failed", "call 2 failed"]
    assert all(e["backend"] == "flaky-backend" for e in retrying)
    assert of_type(events, "step.succeeded", "flaky")[0]["output"] == {"calls": 3}
    assert result.state.step("flaky").attempts == 3
    assert of_type(events, "step.succeeded", "after")[0]["output"] == {"text": "flaky took 3 calls"}


def test_retries_stop_after_the_last_attempt(workdir: Path) -> None:
    result = respond(workdir, "retry.yaml", {"counter": str(workdir / "calls"), "failures": "5"})
    assert result.outcome == "failed"
    events = journal_events(result.folder)
    assert len(of_type(events, "step.started", "flaky")) == 3
    failed = of_type(events, "step.failed", "flaky")[0]
    assert failed["error"] == "call 3 failed" and failed["attempt"] == 3 and failed["backend"] == "flaky-backend"
    assert (workdir / "calls").read_text() == "3"
    assert of_type(events, "step.skipped", "after")[0]["reason"] == "not run: step flaky failed"


def test_a_non_retryable_error_is_not_retried(workdir: Path) -> None:
    result = respond(workdir, "retry.yaml", {"counter": str(workdir / "calls"), "failures": "1", "retryable": "no"})
    assert result.outcome == "failed"
    assert len(of_type(journal_events(result.folder), "step.started", "flaky")) == 1


def test_the_backends_retry_after_is_honoured(workdir: Path) -> None:
    started = time.monotonic()
    result = respond(workdir, "retry-after.yaml", {"counter": str(workdir / "calls")})
    assert result.outcome == "succeeded"
    assert time.monotonic() - started >= 0.3
    assert [e["delay"] for e in of_type(journal_events(result.folder), "step.retrying")] == [0.3]


# -- timeouts --------------------------------------------------------------------------------------------
def test_a_step_timeout_holds_when_the_action_hangs(workdir: Path) -> None:
    started = time.monotonic()
    result = respond(workdir, "timeout.yaml")
    assert time.monotonic() - started < 3
    assert result.outcome == "failed"
    events = journal_events(result.folder)
    failed = of_type(events, "step.failed", "slow")[0]
    assert failed["error"] == "timed out after 300ms"
    assert 0.25 <= failed["duration"] < 2
    assert of_type(events, "step.skipped", "after")
    assert of_type(events, "step.succeeded", "close")[0]["output"] == {"text": "slow ended failed"}


# -- failure policies, rollback, finally ---------------------------------------------------------------------
def test_on_failure_abort_skips_the_rest_and_runs_finally(workdir: Path) -> None:
    record = workdir / "record"
    result = respond(workdir, "on-failure-abort.yaml", {"record": str(record)})
    assert result.outcome == "failed"
    assert lines(record) == ["first", "third", "finally (failed)"]
    events = journal_events(result.folder)
    assert of_type(events, "step.failed", "breaks")[0]["error"] == "the backend said no"
    assert of_type(events, "step.skipped", "after")[0]["reason"] == "not run: step breaks failed"
    assert not of_type(events, "undo.started")
    assert result.state.aborted_by == "breaks"


def test_on_failure_continue_runs_the_next_steps(workdir: Path) -> None:
    record = workdir / "record"
    result = respond(workdir, "on-failure-continue.yaml", {"record": str(record)})
    assert result.outcome == "completed_with_errors"
    assert lines(record) == ["first", "third", "after", "finally (failed)"]
    assert result.state.step("breaks").status == "failed"
    assert result.state.aborted_by == ""


def test_on_failure_rollback_undoes_completed_steps_in_reverse_order(workdir: Path) -> None:
    record = workdir / "record"
    result = respond(workdir, "on-failure-rollback.yaml", {"record": str(record)})
    assert result.outcome == "rolled_back"
    assert lines(record) == ["first", "third", "undo third", "undo second (was second)", "undo first",
                             "finally (failed)"]
    events = journal_events(result.folder)
    undo = [(e["type"], e["step"]) for e in events if e["type"].startswith("undo.")]
    assert undo == [("undo.started", "third"), ("undo.succeeded", "third"),
                    ("undo.started", "second"), ("undo.succeeded", "second"),
                    ("undo.started", "first"), ("undo.succeeded", "first")]
    kinds = [e["type"] for e in events]
    assert kinds.index("rollback.started") == kinds.index("step.failed") + 1
    assert kinds.index("step.started", kinds.index("undo.succeeded")) > max(
        i for i, k in enumerate(kinds) if k.startswith("undo."))  # finally runs after the rollback
    assert of_type(events, "undo.started", "second")[0]["params"] == {
        "file": str(record), "line": "undo second (was second)"}
    assert all(result.state.step(s).undo == "succeeded" for s in ("first", "second", "third"))


def test_rollback_reports_an_undo_that_fails_and_goes_on(workdir: Path) -> None:
    record = workdir / "record"
    runbook = workdir / "rb.yaml"
    runbook.write_text((RUNBOOKS / "on-failure-rollback.yaml").read_text().replace(
        'line: "undo second (was {{ steps.second.output.text }})"', 'line: "{{ steps.second.output.missing }}"'))
    opts = session.Options(incident_dir=str(workdir / "incidents"), sync=False, interactive=False)
    result = session.respond(runbook, {"record": str(record)}, CONFIG, opts)
    assert result.outcome == "rollback_failed"
    failed = of_type(journal_events(result.folder), "undo.failed", "second")[0]
    assert failed["error"].startswith("steps.second.undo.with.line: ")
    assert "missing" in failed["error"]
    assert lines(record) == ["first", "third", "undo third", "undo first", "finally (failed)"]


def test_when_false_skips_the_step(workdir: Path) -> None:
    record = workdir / "record"
    result = respond(workdir, "when.yaml", {"record": str(record)})
    assert result.outcome == "succeeded"
    events = journal_events(result.folder)
    assert [e["step"] for e in of_type(events, "step.skipped")] == ["rotate", "never"]
    assert of_type(events, "step.skipped", "rotate")[0]["reason"] == "when is false"
    assert lines(record) == ["rotate was skipped"]
    again = respond(workdir, "when.yaml", {"record": str(record), "rotate": "yes"})
    assert again.state.step("rotate").status == "succeeded"
    assert again.state.step("always").status == "skipped"


# -- approvals --------------------------------------------------------------------------------------------
def test_approval_gate_without_yes_and_without_a_tty_stops_then_resume_yes_continues(workdir: Path) -> None:
    record = workdir / "record"
    env = clean_env(PYTHONPATH=str(PLUGINS))
    base = ["--incident-dir", str(workdir / "incidents"), "--config", str(CONFIGS / "fixture-actions.yaml")]
    first = irt("respond", str(RUNBOOKS / "approval.yaml"), "-i", f"record={record}", *base, cwd=workdir, env=env)
    assert first.returncode == EXIT_STOPPED, first.stderr
    folder = incident_folder(workdir / "incidents")
    assert first.stderr.strip().splitlines()[-1] == (
        f"irt: stopped: step gate needs approval; approve and continue with: irt resume {folder.name} --yes")
    assert lines(record) == ["before"]
    events = journal_events(folder)
    assert events[-1]["type"] == "incident.paused" and events[-1]["reason"] == "approval"
    assert of_type(events, "approval.requested", "gate")[0]["message"] == "Contain the service now?"

    again = irt("resume", folder.name, *base, cwd=workdir, env=env)  # still nobody to approve
    assert again.returncode == EXIT_STOPPED
    assert lines(record) == ["before"]

    done = irt("resume", folder.name, "--yes", *base, cwd=workdir, env=env)
    assert done.returncode == EXIT_OK, done.stderr
    assert lines(record) == ["before", "contain", "close"]
    events = journal_events(folder)
    assert [e["step"] for e in of_type(events, "approval.granted")] == ["gate", "contain"]
    assert len(of_type(events, "approval.requested", "gate")) == 1  # asked once, not once per resume
    assert of_type(events, "approval.granted", "gate")[0]["by"].endswith("(--yes)")
    assert events[-1] == events[-1] | {"type": "incident.closed", "outcome": "succeeded"}

    closed = irt("resume", folder.name, "--yes", *base, cwd=workdir, env=env)
    assert closed.returncode == 5
    assert "is closed (succeeded); nothing to resume" in closed.stderr


def test_respond_yes_approves_every_gate(irt_run: Irt, workdir: Path) -> None:
    record = workdir / "record"
    ran = irt_run("respond", str(RUNBOOKS / "approval.yaml"), "-i", f"record={record}", "--yes",
                  "--incident-dir", "incidents", "--config", str(CONFIGS / "fixture-actions.yaml"))
    assert ran.code == EXIT_OK, ran.err
    assert lines(record) == ["before", "contain", "close"]


def test_a_denied_approval_fails_the_step(workdir: Path) -> None:
    record = workdir / "record"
    asked: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return "n"

    result = respond(workdir, "approval.yaml", {"record": str(record)}, ask=ask, interactive=True)
    assert result.outcome == "failed"
    assert asked == ["Approve step gate: Contain the service now? [y/N] "]
    events = journal_events(result.folder)
    assert of_type(events, "approval.denied", "gate")[0]["by"].endswith("(prompt)")
    failed = of_type(events, "step.failed", "gate")[0]
    assert failed["error"].startswith("approval denied by ") and failed["backend"] == "approval"
    assert lines(record) == ["before", "close"]


def test_an_approval_granted_at_the_prompt(workdir: Path) -> None:
    record = workdir / "record"
    result = respond(workdir, "approval.yaml", {"record": str(record)}, ask=lambda q: "yes", interactive=True)
    assert result.outcome == "succeeded"
    assert lines(record) == ["before", "contain", "close"]


def test_a_stop_at_the_gate_through_the_api_raises_stopped(workdir: Path) -> None:
    with pytest.raises(Stopped, match="step gate needs approval"):
        respond(workdir, "approval.yaml", {"record": str(workdir / "record")})
    folder = incident_folder(workdir / "incidents")
    result = session.resume(folder.name, CONFIG, session.Options(
        incident_dir=str(workdir / "incidents"), sync=False, interactive=False, yes=True))
    assert result.outcome == "succeeded"
    assert journal_events(folder)[-1]["type"] == "incident.closed"


# -- the CLI's summary --------------------------------------------------------------------------------------
def test_a_failed_run_exits_1_with_one_line_naming_step_action_and_error(irt_run: Irt, workdir: Path) -> None:
    ran = irt_run("respond", str(RUNBOOKS / "timeout.yaml"), "--incident-dir", "incidents")
    assert ran.code == EXIT_FAILED
    last = ran.err.strip().splitlines()[-1]
    assert last == "irt: error: step slow (flow.wait) failed: timed out after 300ms; incident failed"
    assert "incident closed: failed" in ran.err
    assert ran.out.splitlines()[0].endswith(": failed")
