"""Reading the report's facts out of a folded journal: times relative to the start, what each
event and step says, the incident's impact, detection and severity. Pure functions over the
events and :class:`~pyirt.core.journal.IncidentState`; every string that came from outside is
:func:`~pyirt.report.text.clean`-ed here, once.

Evidence (outputs of log, stats and change steps) is read in :mod:`pyirt.report.evidence`; key
times, questions and action items in :mod:`pyirt.report.sections`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyirt.core import journal
from pyirt.core.model import Runbook
from pyirt.report.evidence import result_text
from pyirt.report.model import Detection, Impact, StepReport, TimelineEvent
from pyirt.report.text import TEXT_LIMIT, clean, duration

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$", re.IGNORECASE)
SUCCESS_OUTCOMES = ("succeeded", "completed_with_errors")


# -- times -------------------------------------------------------------------------------------------------
def parse_ts(value: object) -> dt.datetime | None:
    """An aware datetime from RFC 3339 text (any number of fraction digits); None if it is not one."""
    if not isinstance(value, str):
        return None
    match = _STAMP.match(value.strip())
    if not match:
        return None
    head, frac, zone = match.groups()
    zone = "+00:00" if not zone or zone.upper() == "Z" else zone
    text = f"{head}.{(frac or '0')[:6].ljust(6, '0')}{zone}"
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.year > 1 else None  # Alertmanager's "0001-01-01T00:00:00Z" means "not yet"


def when(value: object) -> str:
    """A timestamp as people read it: ``2026-12-04 03:15:02 UTC``; ``unknown`` when it is none."""
    stamp = parse_ts(value)
    if stamp is None:
        return "unknown" if value in (None, "") else clean(str(value), 100)
    return stamp.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Clock:
    """Seconds relative to the incident's start (its ``incident.opened``)."""

    def __init__(self, start: str) -> None:
        self.start = parse_ts(start)

    def at(self, ts: object) -> float | None:
        stamp = parse_ts(ts)
        if stamp is None or self.start is None:
            return None
        return round((stamp - self.start).total_seconds(), 3)

    @staticmethod
    def between(first: object, last: object) -> float | None:
        a, b = parse_ts(first), parse_ts(last)
        return None if a is None or b is None else round((b - a).total_seconds(), 3)


# -- small readers -----------------------------------------------------------------------------------------
def scalar(value: Any) -> str:
    """A value as one line of text: scalars as written, lists and maps as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def text_of(event: Mapping[str, Any], key: str, limit: int = TEXT_LIMIT) -> str:
    value = event.get(key)
    return clean(scalar(value), limit) if value not in (None, "") else ""


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def labels_of(alert: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    value = alert.get(key) if alert else None
    return value if isinstance(value, Mapping) else {}


# -- the timeline ------------------------------------------------------------------------------------------
def _describe(kind: str, e: Mapping[str, Any]) -> tuple[str, str]:

    def t(key: str) -> str:  # a local shorthand keeps the table below readable
        return text_of(e, key)

    attempt = e.get("attempt")
    if kind == "incident.opened":
        runbook = e.get("runbook") if isinstance(e.get("runbook"), Mapping) else {}
        name = clean(scalar(runbook.get("name", "")), 200) if runbook else ""
        alert = e.get("alert") if isinstance(e.get("alert"), Mapping) else None
        alertname = clean(scalar(labels_of(alert, "labels").get("alertname", "")), 200)
        return "incident", f"incident opened: runbook {name or 'unknown'}" + (
            f", alert {alertname}" if alertname else ", started by hand" if alert is None else ", from an alert")
    if kind == "incident.resumed":
        repaired = e.get("repaired_bytes")
        extra = f"; {repaired} torn bytes cut from the journal" if isinstance(repaired, int) and repaired else ""
        forced = "; forced (the runbook had changed)" if e.get("forced") else ""
        return "incident", f"incident resumed{extra}{forced}"
    if kind == "incident.paused":
        return "pause", f"paused ({t('reason') or 'unknown reason'})" + (f": {t('detail')}" if t("detail") else "")
    if kind == "incident.closed":
        return "incident", f"incident closed: {t('outcome') or 'unknown outcome'}"
    if kind == "step.started":
        again = f", attempt {attempt}" if isinstance(attempt, int) and attempt > 1 else ""
        return "start", f"started {t('action')}{again}" + (" (finally)" if e.get("phase") == "finally" else "")
    if kind == "step.checkpoint":
        data = e.get("data")
        keys = ", ".join(clean(str(k), 60) for k in data) if isinstance(data, Mapping) else ""
        return "other", f"recorded the state before its change ({keys})" if keys else "checkpoint"
    if kind == "step.retrying":
        delay = number(e.get("delay"))
        wait = f"; retrying in {duration(delay)}" if delay is not None else "; retrying"
        return "retry", f"attempt {attempt} failed: {t('error')}{wait}"
    if kind == "step.succeeded":
        took = number(e.get("duration"))
        return "success", "succeeded" + (f" in {duration(took)}" if took else "") + (
            " (found done after an interruption)" if e.get("reconciled") else "")
    if kind == "step.failed":
        detail = ", ".join(x for x in (f"backend {t('backend')}" if t("backend") else "",
                                       f"on_failure {t('policy')}" if t("policy") else "",
                                       f"attempt {attempt}" if isinstance(attempt, int) and attempt else "") if x)
        return "failure", f"failed: {t('error') or 'no error recorded'}" + (f" ({detail})" if detail else "")
    if kind == "step.skipped":
        return "skip", f"skipped: {t('reason') or 'no reason recorded'}"
    if kind == "step.in_doubt":
        return "pause", f"in doubt after an interruption; {t('resolution')}" + (
            f": {t('reason')}" if t("reason") else "")
    if kind == "approval.requested":
        return "approval", f"approval requested: {t('message')}"
    if kind == "approval.granted":
        return "approval", f"approved by {t('by') or 'unknown'}"
    if kind == "approval.denied":
        return "failure", f"approval denied by {t('by') or 'unknown'}"
    if kind == "rollback.started":
        return "undo", f"rollback started: step {t('cause')} failed"
    if kind == "undo.started":
        return "undo", f"undo started: {t('action')}"
    if kind == "undo.succeeded":
        return "undo", f"undo succeeded: {t('action')}"
    if kind == "undo.failed":
        return "failure", f"undo failed: {t('error') or 'no error recorded'}"
    if kind == "undo.skipped":
        return "undo", f"not undone: {t('reason') or 'no undo'}"
    if kind == "notify.sent":
        return "notify", "notification sent" + (f" to {t('channel')}" if t("channel") else "")
    if kind == "notify.failed":
        return "failure", "notification failed" + (f" to {t('channel')}" if t("channel") else "") + (
            f": {t('error')}" if t("error") else "")
    return "other", clean(kind or "event without a type", 200)


def timeline_event(e: Mapping[str, Any], clock: Clock) -> TimelineEvent:
    kind = e.get("type")
    seq = e.get("seq")
    category, text = _describe(kind if isinstance(kind, str) else "", e)
    return TimelineEvent(seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else 0,
                         ts=text_of(e, "ts", 100), offset=clock.at(e.get("ts")),
                         type=clean(scalar(kind), 100), step=text_of(e, "step", 100), category=category,
                         text=clean(text, TEXT_LIMIT))


# -- steps -------------------------------------------------------------------------------------------------
def _ordered_ids(state: journal.IncidentState, runbook: Runbook | None) -> list[tuple[str, str, str]]:
    """(id, phase, description) for the runbook's steps in order, then any the journal adds."""
    known: list[tuple[str, str, str]] = []
    if runbook is not None:
        known += [(s.id, "main", s.description) for s in runbook.steps]
        known += [(s.id, "finally", s.description) for s in runbook.finally_steps]
    seen = {sid for sid, _, _ in known}
    known += [(sid, state.step(sid).phase, "") for sid in state.order if sid not in seen]
    return known


def step_reports(events: Sequence[Mapping[str, Any]], state: journal.IncidentState, runbook: Runbook | None,
                 clock: Clock, current: str = "") -> tuple[StepReport, ...]:
    by_step: dict[str, list[Mapping[str, Any]]] = {}
    for e in events:
        if isinstance(e.get("step"), str):
            by_step.setdefault(e["step"], []).append(e)
    reports = []
    for sid, phase, description in _ordered_ids(state, runbook):
        st = state.step(sid)
        mine = by_step.get(sid, [])
        failed = _last(mine, "step.failed")
        verdict = _last(mine, "approval.granted") or _last(mine, "approval.denied")
        undo_event = _last(mine, "undo.started") or _last(mine, "undo.failed")
        started = clock.at(st.started_at) if st.started_at else None
        ended = clock.at(st.ended_at) if st.ended_at and st.status != "running" else None
        took = round(ended - started, 3) if started is not None and ended is not None else (
            st.duration if st.status in ("succeeded", "failed") and st.duration else None)
        reports.append(StepReport(
            id=clean(sid, 100), action=clean(st.action or _named_action(mine) or _runbook_action(runbook, sid), 200),
            phase=clean(st.phase if st.status != "pending" else phase, 20), description=clean(description, TEXT_LIMIT),
            status=st.status, attempts=st.attempts,
            retries=sum(1 for e in mine if e.get("type") == "step.retrying"),
            started=started, ended=ended, duration=took,
            result=result_text(st.output) if st.status == "succeeded" else (
                "running: it is rendering this report" if sid == current and st.status == "running" else ""),
            error=clean(st.error, TEXT_LIMIT) if st.status == "failed" else "",
            backend=text_of(failed, "backend", 200), policy=text_of(failed, "policy", 50),
            skip_reason=clean(st.skip_reason, TEXT_LIMIT) if st.status == "skipped" else "",
            approval=st.approval, approved_by=text_of(verdict, "by", 200),
            undo=st.undo, undo_action=text_of(undo_event, "action", 200), undo_error=clean(st.undo_error, TEXT_LIMIT),
            in_doubt=tuple(text_of(e, "resolution", 50) for e in mine if e.get("type") == "step.in_doubt"),
            reconciled=any(e.get("type") == "step.succeeded" and e.get("reconciled") for e in mine),
        ))
    return tuple(reports)


def _last(events: Sequence[Mapping[str, Any]], kind: str) -> Mapping[str, Any]:
    return next((e for e in reversed(events) if e.get("type") == kind), {})


def _named_action(events: Sequence[Mapping[str, Any]]) -> str:
    """The action an event of a step that never started names (an approval request does)."""
    return next((e["action"] for e in events if isinstance(e.get("action"), str) and e["action"]), "")


def _runbook_action(runbook: Runbook | None, sid: str) -> str:
    if runbook is None:
        return ""
    try:
        return runbook.step(sid).action
    except KeyError:
        return ""


# -- who, what, how bad -----------------------------------------------------------------------------------
def _unique(values: Iterable[Any], limit: int = 200) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if item not in (None, "") and not isinstance(item, Mapping | list | tuple):
                seen.setdefault(clean(scalar(item), limit), None)
    return tuple(seen)


def impact(state: journal.IncidentState, alert: Mapping[str, Any] | None,
           events: Sequence[Mapping[str, Any]]) -> Impact:
    labels = labels_of(alert, "labels")
    params: list[Mapping[str, Any]] = [e["params"] for e in events
                                       if e.get("type") == "step.started" and isinstance(e.get("params"), Mapping)]
    services = _unique([state.inputs.get("service"), labels.get("service")])
    targets = _unique([state.inputs.get("container"), state.inputs.get("containers"), labels.get("container"),
                       labels.get("instance"), labels.get("pod"),
                       *(p.get(k) for p in params for k in ("container", "containers", "service"))])
    fired = _alert_time(alert, ("startsAt", "starts_at", "firedAt"))
    ended = _alert_time(alert, ("endsAt", "ends_at"))
    return Impact(services=services, targets=targets, impact_start=fired, impact_end=ended,
                  response_start=clean(state.opened_at, 100),
                  response_end=clean(state.closed_at, 100) if state.closed_at else None)


def _alert_time(alert: Mapping[str, Any] | None, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = alert.get(key) if alert else None
        if parse_ts(value) is not None:
            return clean(str(value), 100)
    return None


def detection(alert: Mapping[str, Any] | None, opened_at: str) -> Detection:
    received = clean(opened_at, 100)
    if alert is None:
        return Detection(source="manual", alert_name=None, summary=None, labels=(), annotations=(),
                         fired_at=None, received_at=received)
    labels, notes = labels_of(alert, "labels"), labels_of(alert, "annotations")

    def pairs(m: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        return tuple((clean(str(k), 100), clean(scalar(v), 500)) for k, v in sorted(m.items(), key=str))

    name = labels.get("alertname")
    summary = notes.get("summary") or notes.get("description")
    return Detection(source="alert", alert_name=clean(scalar(name), 200) if name else None,
                     summary=clean(scalar(summary), TEXT_LIMIT) if summary else None,
                     labels=pairs(labels), annotations=pairs(notes),
                     fired_at=_alert_time(alert, ("startsAt", "starts_at", "firedAt")), received_at=received)


def severity(inputs: Mapping[str, Any], alert: Mapping[str, Any] | None) -> tuple[str | None, str]:
    if inputs.get("severity") not in (None, ""):
        return clean(scalar(inputs["severity"]), 100), "input severity"
    labels = labels_of(alert, "labels")
    for key in ("severity", "priority"):
        if labels.get(key) not in (None, ""):
            return clean(scalar(labels[key]), 100), f"alert label {key}"
    return None, "not given: no severity input or alert label"


# -- the story in brief ------------------------------------------------------------------------------------
def _names(steps: Iterable[StepReport]) -> str:
    return ", ".join(s.id for s in steps)


def outcome_text(state: journal.IncidentState, steps: Sequence[StepReport]) -> str:
    failed = [s for s in steps if s.status == "failed"]
    cause = next((s for s in steps if s.id == state.aborted_by), failed[0] if failed else None)
    why = f"step {cause.id} ({cause.action}) failed: {cause.error}" if cause else "a step failed"
    if state.status == "paused":
        return f"Paused ({clean(state.pause_reason, 100) or 'unknown reason'}); resume with: irt resume {state.id}"
    if state.status == "running":
        return "Still running when this report was rendered."
    undo_failed = [s for s in steps if s.undo == "failed"]
    texts = {
        "succeeded": "Resolved: every step that ran succeeded.",
        "completed_with_errors": f"Completed with errors: {_names(failed)} failed and the response went on.",
        "failed": f"Failed: {why}; the remaining steps were not run.",
        "rolled_back": f"Rolled back: {why}; the completed changes were undone.",
        "rollback_failed": f"Rollback failed: {why}; undo failed for {_names(undo_failed) or 'a step'}.",
    }
    return clean(texts.get(state.outcome, f"Closed: {state.outcome or 'no outcome recorded'}."), TEXT_LIMIT)


def summary(state: journal.IncidentState, steps: Sequence[StepReport], detection: Detection, impact: Impact,
            clock: Clock, events: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    where = ", ".join(impact.services or impact.targets) or "an affected service not named in the journal"
    trigger = f"alert {detection.alert_name}" if detection.alert_name else (
        "an alert" if detection.source == "alert" else "an operator (started by hand)")
    took = clock.between(state.opened_at, state.closed_at or state.last_ts)
    lines = [f"Runbook {clean(state.runbook_name, 200) or 'unknown'} responded to {trigger} on {where}, "
             f"opened {when(state.opened_at)}"
             + (f" and closed {duration(took)} later." if state.closed_at else f"; {duration(took)} recorded so far.")]
    lines.append(outcome_text(state, steps))
    words = {"succeeded": "succeeded", "failed": "failed", "skipped": "skipped", "running": "in doubt or running",
             "pending": "not reached"}
    counts = {k: sum(1 for s in steps if s.status == k) for k in words}
    lines.append("Steps: " + ", ".join(f"{n} {words[k]}" for k, n in counts.items() if n) + "." if steps else
                 "No step ran.")
    undone = [s for s in steps if s.undo == "succeeded"]
    if state.rollback or undone:
        lines.append(f"Rollback: {len(undone)} step(s) undone"
                     + (f" ({_names(undone)})" if undone else "")
                     + "".join(f"; undo of {s.id} failed" for s in steps if s.undo == "failed") + ".")
    resumed = sum(1 for e in events if e.get("type") == "incident.resumed")
    if resumed:
        reasons = _unique(e.get("reason") for e in events if e.get("type") == "incident.paused")
        lines.append(f"The response was interrupted and resumed {resumed} time(s)"
                     + (f" (paused for: {', '.join(reasons)})" if reasons else " (the process stopped)") + ".")
    return tuple(clean(line, TEXT_LIMIT) for line in lines)
