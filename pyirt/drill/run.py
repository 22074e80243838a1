"""Running a drill: the runbook, unchanged, against the simulated world of a scenario.

1. Read the scenario (and its world) and the runbook; check the inputs. Nothing starts before all
   of that is valid.
2. Shield the run: no connection leaves loopback, and no credential of the user's is in reach
   (:mod:`pyirt.drill.guard`).
3. Start the simulators and build the config pointing at them (:mod:`pyirt.drill.sims`).
4. At t0 apply what is due at once, then start the timeline (injects, timed faults) and the
   monitor; when the alert fires (``alert.at``), open the incident through the engine's own
   ``session.respond``; approvals are granted after ``approve_after`` (``deny`` refuses some).
   A watchdog stops every simulator after the scenario's ``timeout``, so a hung call cannot keep
   the drill running.
5. Score the expectations and write ``drill.md`` / ``drill.json`` next to the incident's report.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pyirt.actions import registry as registry_mod
from pyirt.core.inputs import resolve_inputs
from pyirt.core.journal import IncidentState
from pyirt.drill import guard
from pyirt.drill.expect import Facts, epoch, evaluate, time_to_mitigate, world_check
from pyirt.drill.scenario import Scenario, load_scenario
from pyirt.drill.scorecard import Scorecard
from pyirt.drill.sims import Simulators
from pyirt.drill.timeline import Event, Monitor, Timeline
from pyirt.engine import session, store
from pyirt.engine.observers import Observer
from pyirt.errors import InvalidInput, Stopped

_STEP = re.compile(r"^Approve step (\S+):")


def drills_root(option: str | os.PathLike[str] | None = None) -> Path:
    """Where drill incidents go: ``--incident-dir``, else ``$IRT_HOME/drills``, else ``./drills-out``."""
    if option:
        return Path(option)
    home = os.environ.get("IRT_HOME")
    return Path(home) / "drills" if home else Path("drills-out")


class _Recorder:
    """Keeps the incident's id and the opening time as the engine journals them."""

    def __init__(self) -> None:
        self.incident = ""
        self.opened: float | None = None

    def event(self, event: Mapping[str, Any]) -> None:
        if event.get("type") == "incident.opened":
            self.incident = str(event.get("incident") or "")
            self.opened = epoch(str(event.get("ts") or "")) or time.time()

    def message(self, step: str, text: str) -> None:
        pass


def _approver(after: float, deny: Sequence[str], stop: threading.Event) -> Callable[[str], str]:
    def ask(prompt: str) -> str:
        match = _STEP.match(prompt)
        stop.wait(after)
        return "n" if match and match.group(1) in deny else "y"
    return ask


def run_drill(scenario: str | Path | Scenario, runbook: str | Path | None = None, *,
              incident_dir: str | os.PathLike[str] | None = None, inputs: Mapping[str, Any] | None = None,
              observers: Sequence[Observer] = (), sync: bool = True) -> Scorecard:
    """Run ``runbook`` (default: the scenario's ``runbook:``) against the scenario's world and score it.

    Raises ValidationFailed / InvalidInput for a bad scenario, runbook or input (before anything
    starts); otherwise returns the scorecard, whatever the runbook did."""
    plan = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    path = Path(runbook) if runbook else Path(plan.runbook) if plan.runbook else None
    if path is None:
        raise InvalidInput(f"scenario {plan.file} names no runbook: give one (irt drill RUNBOOK --scenario FILE)")
    registry = registry_mod.load(list(plan.plugins))
    book, _ = session.read_runbook(path, registry)
    _check_steps(plan, path, {s.id for s in book.all_steps()})
    given = {**plan.inputs, **(inputs or {})}
    resolve_inputs(book, given)
    root = drills_root(incident_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="irt-drill-") as tmp, guard.loopback_only(), \
            guard.isolated_environment(Path(tmp) / "home"):
        already_refused = len(guard.refused)
        sims = Simulators(plan, Path(tmp))
        try:
            sims.start()
            card = _run(plan, path, given, root, sims, observers, sync)
        finally:
            sims.stop()
        card.notes += [f"refused a connection to {what}" for what in guard.refused[already_refused:]]
    card.write()
    return card


def _check_steps(plan: Scenario, path: Path, steps: set[str]) -> None:
    """The steps a scenario names (in expectations and deny) exist in the runbook."""
    named = [(e.path + ".step.id", str(e.spec["id"])) for e in plan.expectations if e.kind == "step"]
    named += [(f"deny[{i}]", step) for i, step in enumerate(plan.deny)]
    unknown = [f"{where}: no step {step!r}" for where, step in named if step not in steps]
    if unknown:
        raise InvalidInput(f"scenario {plan.file} does not fit runbook {path} ({'; '.join(unknown)}; its steps: "
                           f"{', '.join(sorted(steps))})")


def _run(plan: Scenario, path: Path, given: Mapping[str, Any], root: Path, sims: Simulators,
         observers: Sequence[Observer], sync: bool) -> Scorecard:
    config = sims.config()
    recorder = _Recorder()
    stop = threading.Event()
    events = [Event(f.start, "fault", f.text, functools.partial(sims.inject_fault, f)) for f in plan.faults]
    events += [Event(i.at, "inject" if i.kind != "note" else "note", i.text, functools.partial(sims.apply, i))
               for i in plan.injects]
    t0 = time.time()
    timeline = Timeline(events, t0)
    monitor = Monitor(plan.expectations, lambda e: world_check(e, sims, t0)[0])
    def out_of_time() -> None:
        stop.set()
        sims.pull_the_plug()

    watchdog = threading.Timer(plan.timeout, out_of_time)
    watchdog.daemon = True
    options = session.Options(incident_dir=str(root), interactive=True, ask=_approver(plan.approve_after, plan.deny,
                                                                                      stop),
                              observers=[recorder, *observers], alert=plan.alert, sync=sync,
                              answered_by="irt drill (scenario approvals)")
    state = IncidentState()
    folder: Path | None = None
    timeline.start()
    monitor.start()
    watchdog.start()
    try:
        if plan.alert_at and stop.wait(max(0.0, t0 + plan.alert_at - time.time())):
            raise InvalidInput("the drill timed out before its alert fired")
        try:
            result = session.respond(path, given, config, options)
            state, folder = result.state, result.folder
        except Stopped:
            if recorder.incident:
                folder = root / recorder.incident
                state = store.read_state(folder)
    finally:
        stop.set()
        watchdog.cancel()
        timeline.stop()
        monitor.stop()
    ended = time.time()
    opened = recorder.opened
    facts = Facts(sims=sims, t0=t0, opened=opened, ended=ended, state=state, folder=folder, since=monitor.since)
    verdicts = evaluate(plan.expectations, facts)
    outcome = state.outcome or (f"paused ({state.pause_reason})" if state.status == "paused" else "not run")
    return Scorecard(scenario=plan.name, scenario_file=plan.file, runbook=str(path), incident=recorder.incident,
                     folder=folder, outcome=outcome, verdicts=verdicts, time_to_mitigate=time_to_mitigate(verdicts),
                     duration=ended - t0, t0=t0, opened=opened, events=timeline.events,
                     deliveries=sims.sinks.deliveries(), notes=list(sims.notes))
