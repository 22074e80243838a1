"""Building the report: :func:`build_report`, a pure function from a journal's events, the runbook
and the incident's artifacts to a :class:`~pyirt.report.model.Report`.

Nothing here reads a file or a clock: :mod:`pyirt.report.load` gathers the inputs (and scrubs
secrets from them), :mod:`pyirt.report.render` turns the model into Markdown, HTML and JSON. The
same events always give the same report, so a report can be rendered again at any time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pyirt.core import journal
from pyirt.core.model import Runbook
from pyirt.report import evidence as evidence_mod
from pyirt.report import facts, sections
from pyirt.report.model import FORMAT, Artifact, Report, RunbookInfo
from pyirt.report.text import TEXT_LIMIT, clean

# Actions that change the world, counted as mitigation when no registry says which are destructive.
MITIGATING = frozenset({"docker.update", "docker.restart", "docker.isolate", "cloudrun.rollback",
                        "cloudrun.set_traffic", "secrets.rotate", "secrets.revoke"})


def build_report(
    events: Sequence[Mapping[str, Any]],
    *,
    runbook: Runbook | None = None,
    artifacts: Sequence[Artifact] = (),
    mitigating: Collection[str] = MITIGATING,
    notes: Sequence[str] = (),
    current_step: str = "",
) -> Report:
    """The report of the incident whose journal holds ``events`` (already scrubbed of secrets).

    ``current_step`` is the step rendering this report while the incident runs: it is shown as
    running, not as in doubt."""
    events = [e for e in events if isinstance(e, Mapping)]
    state = journal.fold(events)
    notes = list(notes)
    if runbook is not None and runbook.digest != state.runbook_digest:
        notes.append("The runbook file changed after this incident ran: steps are listed as the journal has them.")
        runbook = None
    if current_step and state.status != "closed":
        notes.append(f"Rendered by step {clean(current_step, 100)} while the incident ran: the outcome and the "
                     f"last steps are not in it yet; irt report {clean(state.id, 200)} renders it again.")
    clock = facts.Clock(state.opened_at or (str(events[0].get("ts", "")) if events else ""))
    steps = facts.step_reports(events, state, runbook, clock, current_step)
    alert = state.alert if isinstance(state.alert, Mapping) else None
    detection = facts.detection(alert, state.opened_at)
    impact = facts.impact(state, alert, events)
    severity, severity_source = facts.severity(state.inputs, alert)
    evidence = evidence_mod.evidence(state, steps, artifacts)
    end = state.closed_at or state.last_ts
    description = runbook.description if runbook is not None else ""
    service = (impact.services or impact.targets or ("",))[0]
    name = clean(state.runbook_name or "unknown runbook", 200)
    return Report(
        format=FORMAT,
        incident_id=clean(state.id, 200),
        title=f"{name} on {service}" if service else name,
        runbook=RunbookInfo(name=name, path=clean(state.runbook_path, 400), digest=clean(state.runbook_digest, 100),
                            description=clean(description, TEXT_LIMIT)),
        status=state.status,
        outcome=clean(state.outcome, 100),
        outcome_text=facts.outcome_text(state, steps),
        severity=severity,
        severity_source=severity_source,
        opened_at=clean(state.opened_at, 100),
        closed_at=clean(state.closed_at, 100),
        last_event_at=clean(state.last_ts, 100),
        duration=clock.between(state.opened_at, end),
        inputs=tuple((clean(k, 100), clean(facts.scalar(v), 300)) for k, v in sorted(state.inputs.items())),
        summary=facts.summary(state, steps, detection, impact, clock, events),
        impact=impact,
        detection=detection,
        timeline=tuple(facts.timeline_event(e, clock) for e in events),
        steps=steps,
        evidence=evidence,
        key_times=sections.key_times(state, steps, detection, clock, frozenset(mitigating)),
        questions=sections.questions(state, steps, detection),
        action_items=sections.action_items(state, steps, current_step),
        notes=tuple(clean(n, TEXT_LIMIT) for n in notes),
    )
