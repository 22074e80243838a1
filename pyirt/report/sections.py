"""The report's judgement-free sections: key times measured from the journal, the questions only
people can answer (left as prompts, never filled in), and the action items, starting with the
seed's recovery checklist marked done where the run did it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyirt.core import journal
from pyirt.report.facts import SUCCESS_OUTCOMES, Clock
from pyirt.report.model import ActionItem, Detection, KeyTime, Question, StepReport
from pyirt.report.text import clean

CHECKLIST = "recovery checklist"
RUN = "this run"


# -- key times ----------------------------------------------------------------------------------------------
def key_times(state: journal.IncidentState, steps: Sequence[StepReport], detection: Detection, clock: Clock,
              mitigating: frozenset[str]) -> tuple[KeyTime, ...]:
    opened = state.opened_at
    if detection.fired_at:
        detect = KeyTime("detect", "Time to detect", clock.between(detection.fired_at, opened),
                         "from the alert firing (startsAt) to the incident opening")
    else:
        detect = KeyTime("detect", "Time to detect", None,
                         "unknown: no alert start time in the journal; when did the problem begin?")

    started = [s for s in steps if s.started is not None]
    first = min(started, key=lambda s: s.started or 0.0, default=None)
    act = KeyTime("first_action", "Time to first action", first.started if first else None,
                  f"from the incident opening to the start of step {first.id}" if first else "no step has started")

    fixes = [s for s in steps if s.phase == "main" and s.status == "succeeded" and s.action in mitigating]
    kept = [s for s in fixes if s.undo != "succeeded"]
    last_fix = max(kept, key=lambda s: s.ended or 0.0, default=None)
    if last_fix is not None and last_fix.ended is not None:
        mitigate = KeyTime("mitigate", "Time to mitigate", last_fix.ended,
                           f"from the incident opening to the end of the last mitigating step ({last_fix.id}, "
                           f"{last_fix.action})")
    elif fixes:
        mitigate = KeyTime("mitigate", "Time to mitigate", None,
                           "not mitigated by the run: its changes were rolled back")
    else:
        mitigate = KeyTime("mitigate", "Time to mitigate", None,
                           "unknown: no step that changes the system succeeded; was it mitigated by hand, and when?")

    if state.status == "closed" and state.outcome in SUCCESS_OUTCOMES:
        resolve = KeyTime("resolve", "Time to resolve", clock.between(opened, state.closed_at),
                          f"from the incident opening to its closing ({clean(state.outcome, 50)})")
    elif state.status == "closed":
        resolve = KeyTime("resolve", "Time to resolve", None,
                          f"not resolved by the run: it closed as {clean(state.outcome, 50) or 'unknown'}; "
                          "when was it resolved?")
    else:
        resolve = KeyTime("resolve", "Time to resolve", None, f"the incident is still open ({state.status})")
    return detect, act, mitigate, resolve


# -- questions for people ------------------------------------------------------------------------------------
def questions(state: journal.IncidentState, steps: Sequence[StepReport], detection: Detection,
              ) -> tuple[Question, ...]:
    found = [
        Question("summary", "Summary for someone who was not there: what happened, in two or three sentences?"),
        Question("impact", "What did users see, and for how long? The journal knows the response, not the impact."),
        Question("root_cause", "What was the root cause? (Not determined by the run.)"),
        Question("trigger", "What triggered it, and why then?"),
    ]
    if detection.source == "alert":
        found.append(Question("detection", "Did the alert fire early enough? What would have caught it sooner?"))
    else:
        found.append(Question("detection", "Who started the response, and what made them look? "
                                           "(The run was started by hand; the journal does not say by whom.)"))
    for step in steps:
        if step.status == "failed":
            found.append(Question(f"failed:{step.id}", f"Why did step {step.id} ({step.action}) fail "
                                                       f"({step.error}), and what would have prevented it?"))
        if step.in_doubt:
            settled = ", ".join(step.in_doubt)
            found.append(Question(f"in_doubt:{step.id}", f"Step {step.id} was in doubt after an interruption and "
                                                         f"was settled as: {settled}. Was that right?"))
    found += [
        Question("went_well", "What went well?"),
        Question("went_badly", "What went badly?"),
        Question("lucky", "Where did we get lucky?"),
    ]
    return tuple(found)


# -- action items ---------------------------------------------------------------------------------------------
def _by_action(steps: Sequence[StepReport], test: Callable[[str], bool]) -> tuple[list[StepReport], list[StepReport]]:
    """(steps that did it and kept it, steps that tried or were skipped or undone) for the check ``test``."""
    matching = [s for s in steps if test(s.action)]
    done = [s for s in matching if s.status == "succeeded" and s.undo != "succeeded"]
    return done, [s for s in matching if s not in done]


def _checklist_item(text: str, steps: Sequence[StepReport], test: Callable[[str], bool], advice: str) -> ActionItem:
    done, other = _by_action(steps, test)
    if done:
        return ActionItem(text, "done", "; ".join(f"step {s.id} ({s.action}) succeeded" for s in done), CHECKLIST)
    if other:
        why = "; ".join(f"step {s.id} ({s.action}) {_fate(s)}" for s in other)
        return ActionItem(text, "open", why, CHECKLIST)
    return ActionItem(text, "open", advice, CHECKLIST)


def _fate(step: StepReport) -> str:
    if step.undo == "succeeded":
        return "was rolled back"
    if step.status == "skipped":
        return f"was skipped ({step.skip_reason})"
    if step.status == "failed":
        return f"failed ({step.error})"
    return "did not finish" if step.status == "running" else "did not run"


def action_items(state: journal.IncidentState, steps: Sequence[StepReport], current: str = "",
                 ) -> tuple[ActionItem, ...]:
    items = [
        _checklist_item("Rotate credentials", steps, lambda a: a.startswith("secrets.rotate"),
                        "no step rotated credentials: decide which ones the incident exposed"),
        _checklist_item("Update configurations", steps,
                        lambda a: a == "docker.update" or a.startswith("cloudrun."),
                        "no step changed a configuration: check whether one must change"),
        ActionItem("Document lessons learned", "in progress",
                   "this report is the first draft: answer the open questions and review it", CHECKLIST),
        ActionItem("Update security measures", "open",
                   "decide once the root cause is known (the run does not change security measures)", CHECKLIST),
    ]
    for step in steps:
        if step.undo == "failed":
            items.append(ActionItem(f"Check by hand whether the change of step {step.id} was reverted", "open",
                                    f"undo failed: {step.undo_error or 'no error recorded'}", RUN))
        if step.status == "failed":
            items.append(ActionItem(f"Fix what made step {step.id} ({step.action}) fail", "open",
                                    step.error or "no error recorded", RUN))
        if step.status == "running" and step.id != current:
            items.append(ActionItem(f"Check whether step {step.id} ({step.action}) took effect", "open",
                                    "it started and never finished", RUN))
    not_run = [s for s in steps if s.status == "skipped" and s.skip_reason.startswith("not run")]
    if not_run:
        items.append(ActionItem("Decide whether the steps that were not run still need doing", "open",
                                ", ".join(s.id for s in not_run), RUN))
    return tuple(items)
