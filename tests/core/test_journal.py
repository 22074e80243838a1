"""The journal format: encoding with secrets masked, parsing with a torn last line, and the fold."""

from __future__ import annotations

import json

import pytest

from pyirt.core import journal
from pyirt.core.secrets import MASK, Redactor, Secret
from pyirt.errors import EXIT_CONFLICT


def line(**event: object) -> bytes:
    return journal.encode(event).encode()


OPENED = line(seq=1, ts="t1", type="incident.opened", incident="i-1", runbook={"name": "rb", "digest": "d"},
              inputs={"service": "web"})


def test_encode_masks_secrets_and_redacts_known_values() -> None:
    redactor = Redactor()
    redactor.add("s3cr3t-value")
    text = journal.encode({"type": "step.started", "params": {"token": Secret("s3cr3t-value"),
                                                              "note": "was s3cr3t-value!"}}, redactor)
    assert text.endswith("\n") and text.count("\n") == 1
    assert "s3cr3t-value" not in text
    assert json.loads(text)["params"] == {"token": MASK, "note": f"was {MASK}!"}


def test_sanitize_makes_everything_json_ready() -> None:
    import datetime as dt
    from pathlib import PurePosixPath

    value = {"when": dt.date(2026, 1, 2), "path": PurePosixPath("/a/b"), "raw": b"\xff-bytes",
             "set": frozenset([1]), "obj": object, 1: (1, 2)}
    clean = journal.sanitize(value)
    json.dumps(clean)
    assert clean["when"] == "2026-01-02"
    assert clean["path"] == "/a/b"
    assert clean["1"] == [1, 2]


def test_parse_reads_whole_lines_and_reports_a_torn_last_line() -> None:
    started = line(seq=2, ts="t2", type="step.started", step="a", attempt=1)
    whole = journal.parse(OPENED + started)
    assert not whole.torn
    assert [e["seq"] for e in whole.events] == [1, 2]
    assert whole.valid_bytes == len(OPENED + started)
    torn = journal.parse(OPENED + started[:-5])
    assert torn.torn
    assert [e["seq"] for e in torn.events] == [1]
    assert torn.valid_bytes == len(OPENED)


def test_a_torn_line_followed_by_a_stray_newline_is_still_torn() -> None:
    parsed = journal.parse(OPENED + b'{"seq":2,"ty\n')
    assert parsed.torn
    assert len(parsed.events) == 1


def test_damage_before_the_last_line_is_an_error_not_a_silent_loss() -> None:
    damaged = OPENED + b"garbage\n" + line(seq=3, ts="t3", type="incident.closed")
    with pytest.raises(journal.JournalCorrupt) as caught:
        journal.parse(damaged)
    assert "line 2" in str(caught.value)
    assert caught.value.exit_code == EXIT_CONFLICT
    with pytest.raises(journal.JournalCorrupt):
        journal.parse(OPENED + b"[1, 2]\n" + OPENED)


def test_empty_journal_folds_to_the_empty_state() -> None:
    parsed = journal.parse(b"")
    assert parsed.events == () and not parsed.torn
    assert journal.fold(parsed.events) == journal.IncidentState()


def test_fold_follows_a_step_through_retries_to_success() -> None:
    events = [
        json.loads(OPENED),
        {"seq": 2, "ts": "t2", "type": "step.started", "step": "a", "action": "x.y", "attempt": 1},
        {"seq": 3, "ts": "t3", "type": "step.retrying", "step": "a", "error": "boom"},
        {"seq": 4, "ts": "t4", "type": "step.started", "step": "a", "action": "x.y", "attempt": 2},
    ]
    state = journal.fold(events)
    assert state.id == "i-1" and state.runbook_name == "rb" and dict(state.inputs) == {"service": "web"}
    assert state.step("a").in_doubt and state.step("a").attempts == 2
    assert state.step("a").started_at == "t2"
    state = journal.apply(state, {"seq": 5, "ts": "t5", "type": "step.succeeded", "step": "a",
                                  "output": {"n": 1}, "duration": 0.5})
    step = state.step("a")
    assert step.status == "succeeded" and step.done and not step.in_doubt
    assert dict(step.output) == {"n": 1} and step.duration == 0.5 and step.ended_at == "t5"
    assert state.events == 5 and state.last_ts == "t5"


def test_fold_records_the_step_that_aborted_the_main_phase() -> None:
    events = [
        json.loads(OPENED),
        {"type": "step.failed", "step": "a", "policy": "continue", "phase": "main", "error": "x"},
        {"type": "step.failed", "step": "b", "policy": "abort", "phase": "main", "error": "y"},
        {"type": "step.failed", "step": "c", "policy": "rollback", "phase": "main", "error": "z"},
        {"type": "step.failed", "step": "z", "policy": "abort", "phase": "finally", "error": "f"},
    ]
    state = journal.fold(events)
    assert state.aborted_by == "b"
    assert state.step("a").error == "x"


def test_fold_ignores_unknown_and_malformed_events() -> None:
    state = journal.fold([
        json.loads(OPENED),
        {"type": "from.the.future", "step": "a", "anything": [1, 2]},
        {"type": "step.started", "step": 42},
        {"type": "step.started", "step": "a", "attempt": "two", "params": "not a map"},
        {"type": "incident.opened", "runbook": "not a map", "inputs": [1], "alert": "x"},
    ])
    assert state.events == 5
    assert state.step("a").attempts == 1
    assert dict(state.step("a").params) == {}
    assert state.runbook_name == "" and dict(state.inputs) == {} and state.alert is None


def test_pause_resume_and_close() -> None:
    state = journal.fold([json.loads(OPENED), {"type": "incident.paused", "reason": "approval"}])
    assert state.status == "paused" and state.pause_reason == "approval"
    state = journal.apply(state, {"type": "incident.resumed"})
    assert state.status == "running" and state.pause_reason == ""
    state = journal.apply(state, {"type": "incident.closed", "outcome": "succeeded", "ts": "tz"})
    assert state.status == "closed" and state.outcome == "succeeded" and state.closed_at == "tz"


def test_a_step_that_fails_before_it_starts_still_names_its_action() -> None:
    state = journal.fold([json.loads(OPENED), {"type": "step.failed", "step": "a", "action": "notify.console",
                                               "error": "steps.a.with.text: bad", "policy": "abort"}])
    assert state.step("a").action == "notify.console"
    assert state.step("a").attempts == 0
