"""Property tests of the journal: the fold is total over any prefix of a valid journal and agrees
with a simple model of it; a journal cut at any byte is read back as a clean prefix or as torn."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyirt.core import journal

MAIN = ("collect", "contain", "notify")
FINALLY = ("report",)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
jsonish = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=4,
)


@st.composite
def step_events(draw: st.DrawFn, step: str, phase: str) -> list[dict[str, Any]]:
    """What the engine may write for one step."""
    events: list[dict[str, Any]] = []
    if draw(st.booleans()) and draw(st.integers(0, 4)) == 0:
        return [{"type": "step.skipped", "step": step, "phase": phase, "reason": draw(text)}]
    if draw(st.integers(0, 3)) == 0:
        events.append({"type": "approval.requested", "step": step, "message": draw(text)})
        if draw(st.booleans()):
            events += [{"type": "incident.paused", "reason": "approval", "step": step},
                       {"type": "incident.resumed", "incident": "i"}]
        if draw(st.integers(0, 3)) == 0:
            return [*events, {"type": "approval.denied", "step": step, "by": draw(text)},
                    {"type": "step.failed", "step": step, "phase": phase, "error": "approval denied",
                     "policy": draw(st.sampled_from(["abort", "continue", "rollback"])), "attempt": 0}]
        events.append({"type": "approval.granted", "step": step, "by": draw(text)})
    attempts = draw(st.integers(1, 3))
    for attempt in range(1, attempts + 1):
        events.append({"type": "step.started", "step": step, "action": "x.y", "attempt": attempt,
                       "phase": phase, "params": draw(st.dictionaries(text, jsonish, max_size=2))})
        if attempt < attempts:
            events.append({"type": "step.retrying", "step": step, "attempt": attempt, "error": draw(text),
                           "delay": draw(st.floats(0, 5))})
    if draw(st.integers(0, 5)) == 0:  # a crash, then a resume that settles the doubt
        events += [{"type": "incident.resumed"}, {"type": "step.in_doubt", "step": step, "resolution": "rerun"},
                   {"type": "step.started", "step": step, "action": "x.y", "attempt": attempts + 1}]
    if draw(st.booleans()):
        events.append({"type": "step.succeeded", "step": step, "output": draw(st.dictionaries(text, jsonish,
                                                                                              max_size=3)),
                       "duration": draw(st.floats(0, 100))})
    else:
        events.append({"type": "step.failed", "step": step, "phase": phase, "error": draw(text),
                       "policy": draw(st.sampled_from(["abort", "continue", "rollback"])), "attempt": attempts,
                       "duration": draw(st.floats(0, 100))})
    return events


@st.composite
def journals(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A plausible whole journal for a runbook of three main steps and one finally step."""
    events: list[dict[str, Any]] = [{
        "type": "incident.opened", "incident": "20260101T000000Z-rb-0001", "version": "0.1.0",
        "runbook": {"name": "rb", "path": "/rb.yaml", "digest": "sha256:0"},
        "inputs": draw(st.dictionaries(text, jsonish, max_size=3)), "alert": None,
    }]
    aborted = False
    rollback = False
    for step in MAIN:
        if aborted:
            events.append({"type": "step.skipped", "step": step, "phase": "main", "reason": "not run"})
            continue
        mine = draw(step_events(step, "main"))
        events += mine
        last = mine[-1]
        if last["type"] == "step.failed" and last["policy"] in ("abort", "rollback"):
            aborted = True
            if last["policy"] == "rollback":
                rollback = True
                events.append({"type": "rollback.started", "cause": step})
    if rollback:
        for step in reversed(MAIN):
            kind = draw(st.sampled_from(["undo.succeeded", "undo.failed", "undo.skipped", None]))
            if kind is None:
                continue
            events.append({"type": "undo.started", "step": step, "action": "x.undo"})
            events.append({"type": kind, "step": step, "error": draw(text)})
    for step in FINALLY:
        events += draw(step_events(step, "finally"))
    if draw(st.booleans()):  # newer versions may write events this one does not know
        at = draw(st.integers(1, len(events)))
        events.insert(at, {"type": draw(st.sampled_from(["notify.sent", "future.event", "step.annotated"])),
                           "step": draw(st.sampled_from([*MAIN, "elsewhere"])), "x": draw(jsonish)})
    events.append({"type": "incident.closed", "outcome": draw(st.sampled_from(["succeeded", "failed"]))})
    for seq, event in enumerate(events, start=1):
        event["seq"] = seq
        event["ts"] = f"2026-01-01T00:00:{seq:02d}.000000Z"
    return events


def encode_all(events: list[dict[str, Any]]) -> bytes:
    return b"".join(journal.encode(e).encode("utf-8") for e in events)


STATUS_OF = {"step.started": "running", "step.retrying": "pending", "step.succeeded": "succeeded",
             "step.failed": "failed", "step.skipped": "skipped"}
INCIDENT_STATUS = {"incident.opened": "running", "incident.resumed": "running", "incident.paused": "paused",
                   "incident.closed": "closed"}


def check_consistent(state: journal.IncidentState, events: list[dict[str, Any]]) -> None:
    """The fold agrees with a direct reading of the events."""
    assert state.events == len(events)
    expected_status: dict[str, str] = {}
    expected_attempts: dict[str, int] = {}
    order: list[str] = []
    incident_status = "running"
    aborted_by = ""
    for event in events:
        kind = event["type"]
        incident_status = INCIDENT_STATUS.get(kind, incident_status)
        step = event.get("step")
        if not isinstance(step, str) or not step:
            continue
        if (kind in STATUS_OF or kind.startswith(("approval.", "undo."))) and step not in order:
            order.append(step)
        if kind in STATUS_OF:
            expected_status[step] = STATUS_OF[kind]
        if kind == "step.in_doubt" and event.get("resolution") == "rerun":
            expected_status[step] = "pending"
        if kind == "step.started":
            expected_attempts[step] = event["attempt"]
        if kind == "step.failed" and event.get("policy") in ("abort", "rollback") and event.get("phase") == "main":
            aborted_by = aborted_by or step
    assert state.status == incident_status
    assert state.aborted_by == aborted_by
    assert set(state.steps) == set(state.order)
    assert len(set(state.order)) == len(state.order)
    assert [s for s in state.order if s in order] == order
    for step, status in expected_status.items():
        assert state.step(step).status == status, (step, events)
        assert state.step(step).in_doubt == (status == "running")
    for step, attempts in expected_attempts.items():
        assert state.step(step).attempts == attempts
    if events:
        assert state.id == "20260101T000000Z-rb-0001"
        assert state.last_ts == events[-1]["ts"]
    if state.status == "closed":
        assert state.closed_at and state.outcome
    assert state.rollback == any(e["type"] == "rollback.started" for e in events)


@SETTINGS
@given(journals(), st.data())
def test_fold_of_any_prefix_of_a_valid_journal_is_consistent(events: list[dict[str, Any]], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(events)), label="events kept")
    prefix = events[:cut]
    parsed = journal.parse(encode_all(prefix))
    assert not parsed.torn
    assert list(parsed.events) == prefix  # the encoding round-trips
    check_consistent(journal.fold(parsed.events), prefix)


@SETTINGS
@given(journals(), st.data())
def test_a_journal_cut_at_any_byte_reads_back_as_a_clean_prefix_or_torn(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    blob = encode_all(events)
    cut = data.draw(st.integers(0, len(blob)), label="bytes kept")
    parsed = journal.parse(blob[:cut])
    whole_lines = blob[:cut].count(b"\n")
    assert list(parsed.events) == events[:whole_lines]
    assert parsed.valid_bytes == len(b"".join(blob[:cut].split(b"\n")[:whole_lines])) + whole_lines
    at_boundary = cut == 0 or blob[cut - 1:cut] == b"\n"
    assert parsed.torn is not at_boundary
    check_consistent(journal.fold(parsed.events), events[:whole_lines])


@SETTINGS
@given(st.binary(max_size=300))
def test_parse_never_raises_anything_but_journal_corrupt(blob: bytes) -> None:
    try:
        parsed = journal.parse(blob)
    except journal.JournalCorrupt:
        return
    assert parsed.valid_bytes <= len(blob)
    journal.fold(parsed.events)


@SETTINGS
@given(st.lists(st.dictionaries(st.sampled_from(["type", "step", "attempt", "output", "params", "policy",
                                                 "phase", "runbook", "inputs", "alert", "ts", "resolution"]),
                                jsonish | st.sampled_from(list(journal.EVENT_TYPES)) | st.sampled_from(MAIN)),
                max_size=20))
def test_fold_is_total_over_arbitrary_event_maps(events: list[dict[str, Any]]) -> None:
    state = journal.fold(events)
    assert state.events == len(events)
    assert set(state.steps) == set(state.order)
