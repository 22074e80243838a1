"""The journal format and the fold that turns its events into an incident's state.

A journal is JSON Lines, one event per line, each with ``seq``, ``ts`` and ``type``. The state of
an incident is :func:`fold` over its events: a pure function, total over any prefix of a valid
journal, that ignores event types it does not know (journals written by newer versions still fold).
A crash while a line is being written leaves a torn last line: :func:`parse` drops it and says so.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any, Literal

from pyirt.core.secrets import MASK, Secret
from pyirt.errors import Conflict

StepStatus = Literal["pending", "running", "succeeded", "failed", "skipped"]
UndoStatus = Literal["none", "running", "succeeded", "failed", "skipped"]
IncidentStatus = Literal["running", "paused", "closed"]

EVENT_TYPES = (
    "incident.opened", "incident.resumed", "incident.paused", "incident.closed",
    "step.started", "step.checkpoint", "step.retrying", "step.succeeded", "step.failed", "step.skipped",
    "step.in_doubt",
    "approval.requested", "approval.granted", "approval.denied",
    "undo.started", "undo.succeeded", "undo.failed", "undo.skipped",
    "rollback.started", "notify.sent", "notify.failed",
)


class JournalCorrupt(Conflict):
    pass


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _jsonable(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, redact) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return redact(str(value))
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    return redact(str(value))


def sanitize(value: Any, redact: Callable[[str], str] = lambda s: s) -> Any:
    """A JSON-ready copy of ``value`` with secrets masked and every string passed through ``redact``."""
    return _jsonable(value, redact)


def encode(event: Mapping[str, Any], redact: Callable[[str], str] = lambda s: s) -> str:
    """One journal line (with its newline)."""
    return json.dumps(sanitize(event, redact), ensure_ascii=False, separators=(",", ":")) + "\n"


@dataclass(frozen=True, slots=True)
class Parsed:
    events: tuple[dict[str, Any], ...]
    torn: bool  # the last line was incomplete and has been dropped
    valid_bytes: int  # length of the prefix made of whole lines


def parse(data: bytes) -> Parsed:
    """Events from a journal's bytes. A torn last line is dropped; damage elsewhere is an error."""
    events: list[dict[str, Any]] = []
    offset = 0
    lines = data.split(b"\n")
    torn = False
    for number, raw in enumerate(lines, start=1):
        last = number == len(lines)
        if last:
            torn = raw.strip() != b""
            break
        try:
            event = json.loads(raw)
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise ValueError("not an event")
        except (ValueError, UnicodeDecodeError):
            if number == len(lines) - 1 and not raw.endswith(b"}"):
                torn = True  # the crash hit after a partial line and a stray newline
                break
            raise JournalCorrupt(f"journal line {number} is damaged; the journal cannot be folded") from None
        events.append(event)
        offset += len(raw) + 1
    return Parsed(events=tuple(events), torn=torn, valid_bytes=offset)


@dataclass(frozen=True, slots=True)
class StepState:
    id: str
    status: StepStatus = "pending"
    action: str = ""
    phase: str = "main"
    attempts: int = 0
    output: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    started_at: str = ""
    ended_at: str = ""
    duration: float = 0.0
    approval: Literal["none", "requested", "granted", "denied"] = "none"
    undo: UndoStatus = "none"
    undo_error: str = ""
    skip_reason: str = ""
    checkpoint: Mapping[str, Any] = field(default_factory=dict)

    @property
    def in_doubt(self) -> bool:
        """Started and never ended: its side effect may or may not have happened."""
        return self.status == "running"

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "skipped")


@dataclass(frozen=True, slots=True)
class IncidentState:
    id: str = ""
    runbook_name: str = ""
    runbook_path: str = ""
    runbook_digest: str = ""
    version: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    alert: Mapping[str, Any] | None = None
    opened_at: str = ""
    closed_at: str = ""
    status: IncidentStatus = "running"
    outcome: str = ""
    pause_reason: str = ""
    aborted_by: str = ""  # id of the step whose failure ended the main phase
    rollback: bool = False
    steps: Mapping[str, StepState] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    events: int = 0
    last_ts: str = ""

    def step(self, step_id: str) -> StepState:
        return self.steps.get(step_id) or StepState(id=step_id)


def _with_step(state: IncidentState, step_id: str, **changes: Any) -> IncidentState:
    current = state.step(step_id)
    steps = dict(state.steps)
    steps[step_id] = replace(current, **changes)
    order = state.order if step_id in state.order else (*state.order, step_id)
    return replace(state, steps=steps, order=order)


def apply(state: IncidentState, event: Mapping[str, Any]) -> IncidentState:
    """One event applied to ``state``. Unknown or malformed events change only the counters."""
    kind = event.get("type")
    ts = str(event.get("ts", ""))
    state = replace(state, events=state.events + 1, last_ts=ts or state.last_ts)
    sid = event.get("step")
    step_id = sid if isinstance(sid, str) else ""
    if kind == "incident.opened":
        raw = event.get("runbook")
        runbook: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        inputs = event.get("inputs")
        alert = event.get("alert")
        return replace(
            state, id=str(event.get("incident", "")), runbook_name=str(runbook.get("name", "")),
            runbook_path=str(runbook.get("path", "")), runbook_digest=str(runbook.get("digest", "")),
            version=str(event.get("version", "")), inputs=dict(inputs) if isinstance(inputs, Mapping) else {},
            alert=dict(alert) if isinstance(alert, Mapping) else None, opened_at=ts, status="running",
        )
    if kind == "incident.resumed":
        return replace(state, status="running", pause_reason="")
    if kind == "incident.paused":
        return replace(state, status="paused", pause_reason=str(event.get("reason", "")))
    if kind == "incident.closed":
        return replace(state, status="closed", outcome=str(event.get("outcome", "")), closed_at=ts)
    if kind == "rollback.started":
        return replace(state, rollback=True)
    if not step_id:
        return state
    if kind == "step.started":
        attempt = event.get("attempt", 1)
        params = event.get("params")
        return _with_step(
            state, step_id, status="running", action=str(event.get("action", "")),
            phase=str(event.get("phase", "main")), attempts=attempt if isinstance(attempt, int) else 1,
            params=dict(params) if isinstance(params, Mapping) else {},
            started_at=state.step(step_id).started_at or ts, error="",
        )
    if kind == "step.checkpoint":
        data = event.get("data")
        merged = {**state.step(step_id).checkpoint, **(data if isinstance(data, Mapping) else {})}
        return _with_step(state, step_id, checkpoint=merged)
    if kind == "step.retrying":  # the failed attempt is over: nothing is in doubt until the next start
        return _with_step(state, step_id, status="pending", error=str(event.get("error", "")))
    if kind == "step.succeeded":
        output = event.get("output")
        return _with_step(
            state, step_id, status="succeeded", output=dict(output) if isinstance(output, Mapping) else {},
            ended_at=ts, duration=_num(event.get("duration")), error="",
        )
    if kind == "step.failed":
        # A step can fail before it starts (a template or an approval): its action is named here.
        action = event.get("action")
        named = {"action": action} if isinstance(action, str) and action else {}
        new = _with_step(state, step_id, status="failed", error=str(event.get("error", "")), ended_at=ts,
                         duration=_num(event.get("duration")), **named)
        if event.get("policy") in ("abort", "rollback") and event.get("phase", "main") == "main":
            new = replace(new, aborted_by=new.aborted_by or step_id)
        return new
    if kind == "step.skipped":
        return _with_step(state, step_id, status="skipped", skip_reason=str(event.get("reason", "")), ended_at=ts)
    if kind == "step.in_doubt":
        resolution = event.get("resolution")
        if resolution == "rerun":
            return _with_step(state, step_id, status="pending")
        return state  # skip and fail are followed by their own step.* event
    if kind == "approval.requested":
        return _with_step(state, step_id, approval="requested")
    if kind == "approval.granted":
        return _with_step(state, step_id, approval="granted")
    if kind == "approval.denied":
        return _with_step(state, step_id, approval="denied")
    if kind == "undo.started":
        return _with_step(state, step_id, undo="running")
    if kind == "undo.succeeded":
        return _with_step(state, step_id, undo="succeeded")
    if kind == "undo.failed":
        return _with_step(state, step_id, undo="failed", undo_error=str(event.get("error", "")))
    if kind == "undo.skipped":
        return _with_step(state, step_id, undo="skipped")
    return state


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def fold(events: Iterable[Mapping[str, Any]]) -> IncidentState:
    state = IncidentState()
    for event in events:
        state = apply(state, event)
    return state
