"""The post-incident report as typed, frozen facts (the ``report.json`` format is this model).

:func:`pyirt.report.build.build_report` derives it from a journal; facts the journal does not hold
are never made up: they are ``None`` (shown as "unknown") or a question for the people who write
the postmortem.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

FORMAT = "irt.report/v1"


@dataclass(frozen=True, slots=True)
class Artifact:
    """A file under ``artifacts/``; ``last_errors`` are the last error lines of a log (scrubbed)."""

    path: str  # relative to the incident folder, with forward slashes: artifacts/<step>/<file>
    size: int
    step: str = ""
    last_errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    seq: int
    ts: str
    offset: float | None  # seconds since the incident opened
    type: str
    step: str
    category: str  # incident, start, success, failure, retry, skip, approval, undo, pause, notify, other
    text: str


@dataclass(frozen=True, slots=True)
class StepReport:
    id: str
    action: str
    phase: str  # main, finally (or pending steps' phase from the runbook)
    description: str
    status: str  # pending, running (in doubt), succeeded, failed, skipped
    attempts: int
    retries: int
    started: float | None
    ended: float | None
    duration: float | None  # first start to end, retries included
    result: str
    error: str
    backend: str
    policy: str
    skip_reason: str
    approval: str
    approved_by: str
    undo: str
    undo_action: str
    undo_error: str
    in_doubt: tuple[str, ...]  # how each interruption was settled: rerun, reconciled, skip, fail
    reconciled: bool


@dataclass(frozen=True, slots=True)
class LogEvidence:
    step: str
    container: str
    path: str | None  # artifact path, when the file is in the incident folder
    stderr_path: str | None
    recorded_path: str
    lines: int | None
    error_lines: int | None
    first_timestamp: str | None
    last_timestamp: str | None
    last_errors: tuple[str, ...]
    excerpt: tuple[str, ...]
    redactions: int | None


@dataclass(frozen=True, slots=True)
class StatsEvidence:
    step: str
    container: str
    memory_percent: float | None
    threshold_percent: float | None
    over_threshold: bool | None
    memory_usage: int | None
    memory_limit: int | None
    path: str | None


@dataclass(frozen=True, slots=True)
class ChangeEvidence:
    step: str
    container: str
    setting: str
    before: str
    after: str
    undone: bool


@dataclass(frozen=True, slots=True)
class Evidence:
    journal: str
    artifacts: tuple[Artifact, ...]
    logs: tuple[LogEvidence, ...]
    stats: tuple[StatsEvidence, ...]
    changes: tuple[ChangeEvidence, ...]


@dataclass(frozen=True, slots=True)
class Impact:
    services: tuple[str, ...]
    targets: tuple[str, ...]
    impact_start: str | None  # from the alert (startsAt), else unknown
    impact_end: str | None
    response_start: str
    response_end: str | None  # closed_at; None while the incident is open


@dataclass(frozen=True, slots=True)
class Detection:
    source: str  # alert | manual
    alert_name: str | None
    summary: str | None
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]
    fired_at: str | None
    received_at: str


@dataclass(frozen=True, slots=True)
class KeyTime:
    key: str  # detect, first_action, mitigate, resolve
    label: str
    seconds: float | None
    basis: str  # what was measured, or why it is unknown


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    prompt: str


@dataclass(frozen=True, slots=True)
class ActionItem:
    text: str
    status: str  # done, open, in progress
    evidence: str
    source: str  # recovery checklist | this run


@dataclass(frozen=True, slots=True)
class RunbookInfo:
    name: str
    path: str
    digest: str
    description: str


@dataclass(frozen=True, slots=True)
class Report:
    format: str
    incident_id: str
    title: str
    runbook: RunbookInfo
    status: str  # running, paused, closed
    outcome: str
    outcome_text: str
    severity: str | None
    severity_source: str
    opened_at: str
    closed_at: str
    last_event_at: str
    duration: float | None
    inputs: tuple[tuple[str, str], ...]
    summary: tuple[str, ...]
    impact: Impact
    detection: Detection
    timeline: tuple[TimelineEvent, ...]
    steps: tuple[StepReport, ...]
    evidence: Evidence
    key_times: tuple[KeyTime, ...]
    questions: tuple[Question, ...]
    action_items: tuple[ActionItem, ...]
    notes: tuple[str, ...]


def to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (the ``report.json`` format)."""
    return dataclasses.asdict(report)
