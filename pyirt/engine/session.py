"""Opening, resuming and reading incidents: the engine's entry points for the CLI.

``respond`` creates the incident folder, journals ``incident.opened`` and runs; ``resume`` folds
the journal, refuses a changed runbook unless forced, and runs the same loop from where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyirt
from pyirt.actions import registry as registry_mod
from pyirt.core import journal
from pyirt.core.inputs import resolve_inputs
from pyirt.core.model import Runbook
from pyirt.core.parse import digest, parse_runbook
from pyirt.core.secrets import Redactor
from pyirt.engine import lifecycle, secretref, store
from pyirt.engine.approvals import Approver, ask_tty
from pyirt.engine.config import Config
from pyirt.engine.journal_writer import JournalWriter
from pyirt.engine.observers import Observer
from pyirt.engine.runner import SUCCESS_OUTCOMES, InDoubt, Runner
from pyirt.engine.signals import ForcedStop, StopFlag, handle_signals
from pyirt.errors import Conflict, InvalidInput


@dataclass
class Options:
    incident_dir: str | None = None
    yes: bool = False
    interactive: bool | None = None
    in_doubt: InDoubt = "ask"
    force: bool = False
    observers: Sequence[Observer] = ()
    ask: Callable[[str], str] | None = None
    alert: Mapping[str, Any] | None = None
    sync: bool = True
    answered_by: str = ""  # names who answers approvals through ``ask`` when no person does (drills)


@dataclass
class Result:
    incident_id: str
    folder: Path
    outcome: str
    state: journal.IncidentState = field(default_factory=journal.IncidentState)

    @property
    def ok(self) -> bool:
        return self.outcome in SUCCESS_OUTCOMES


def load_registry(config: Config) -> registry_mod.Registry:
    return registry_mod.load(config.plugins)


def read_runbook(path: str | Path, registry: registry_mod.Registry) -> tuple[Runbook, str]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"runbook {file} does not exist") from None
    except IsADirectoryError:
        raise InvalidInput(f"runbook {file} is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read runbook {file}: {exc}") from None
    return parse_runbook(text, str(file), registry.specs()), text


def _redactor(config: Config) -> Redactor:
    return Redactor(config.redact)


def respond(path: str | Path, given: Mapping[str, Any], config: Config, options: Options) -> Result:
    registry = load_registry(config)
    runbook, _ = read_runbook(path, registry)
    inputs = resolve_inputs(runbook, given)
    base = store.root(options.incident_dir)
    incident_id = store.new_id(runbook.name)
    folder = store.create(base, incident_id)
    redactor = _redactor(config)
    with store.locked(folder), JournalWriter(folder / store.JOURNAL, redactor, sync=options.sync) as writer:
        runner = _runner(runbook, registry, folder, writer, journal.IncidentState(), config, options, redactor)
        return _run(
            runner, folder, "incident.opened", incident=incident_id, version=pyirt.__version__,
            runbook={"name": runbook.name, "path": str(Path(path).resolve()), "digest": runbook.digest},
            inputs=inputs, alert=dict(options.alert) if options.alert else None,
        )


def resume(ref: str, config: Config, options: Options) -> Result:
    base = store.root(options.incident_dir)
    folder = store.find(base, ref)
    registry = load_registry(config)
    redactor = _redactor(config)
    with store.locked(folder):
        state = store.read_state(folder)
        if not state.id:
            raise Conflict(f"incident {folder.name} has no incident.opened event; it cannot be resumed")
        if state.status == "closed":
            raise Conflict(f"incident {state.id} is closed ({state.outcome}); nothing to resume")
        path = Path(state.runbook_path)
        runbook, text = read_runbook(path, registry)
        if digest(text) != state.runbook_digest and not options.force:
            raise Conflict(f"runbook {path} changed since incident {state.id} started; "
                           "resume with --force to run the new version")
        with JournalWriter(folder / store.JOURNAL, redactor, sync=options.sync) as writer:
            runner = _runner(runbook, registry, folder, writer, state, config, options, redactor)
            return _run(runner, folder, "incident.resumed", incident=state.id, version=pyirt.__version__,
                        repaired_bytes=writer.repaired_bytes, forced=bool(options.force))


def _runner(runbook: Runbook, registry: registry_mod.Registry, folder: Path, writer: JournalWriter,
            state: journal.IncidentState, config: Config, options: Options, redactor: Redactor) -> Runner:
    yes = options.yes or config.approval == "auto"
    interactive = options.interactive
    if config.approval == "stop":
        interactive = False
    runner = Runner(
        runbook=runbook, registry=registry, folder=folder, writer=writer, state=state, config=config.raw,
        approver=Approver(yes=yes, interactive=interactive, ask=options.ask, answered_by=options.answered_by),
        observers=options.observers,
        stop=StopFlag(), redactor=redactor, secret=secretref.resolver(redactor), in_doubt=options.in_doubt,
        ask=options.ask or ask_tty,
    )
    lifecycle.attach(runner, config.raw)  # notify: in irt.yaml -> incident opened / approval / failed / closed
    return runner


def _run(runner: Runner, folder: Path, first: str, **fields: Any) -> Result:
    """Journal the opening (or resuming) event, then run. Stop signals are handled from before
    that first event: a SIGTERM right after it pauses the incident at the first safe point."""
    with handle_signals(runner.stop):
        with suppress(ForcedStop):  # the stop was requested first: run() pauses before its first step
            runner.emit(first, **fields)
        outcome = runner.run()
    return Result(incident_id=runner.state.id, folder=folder, outcome=outcome, state=runner.state)

