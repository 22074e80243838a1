"""Bodies of ``irt respond``, ``irt resume`` and ``irt plan``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pyirt.engine import config as config_mod
from pyirt.engine import session
from pyirt.engine.observers import ConsoleObserver, JsonObserver, Observer
from pyirt.errors import EXIT_FAILED, EXIT_OK, InvalidInput, StepFailed

IN_DOUBT = ("ask", "rerun", "skip", "fail")


def _observers(json_out: bool) -> list[Observer]:
    return [JsonObserver()] if json_out else [ConsoleObserver()]


def _load_alert(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"--alert {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"--alert {path}: not a JSON file: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"--alert {path}: expected a JSON object with labels and annotations")
    return {"labels": data.get("labels") or {}, "annotations": data.get("annotations") or {},
            **{k: v for k, v in data.items() if k not in ("labels", "annotations")}}


def _finish(result: session.Result, json_out: bool) -> int:
    state = result.state
    if json_out:
        print(json.dumps({"type": "result", "incident": result.incident_id, "outcome": result.outcome,
                          "folder": str(result.folder)}))
    else:
        print(f"incident {result.incident_id}: {result.outcome}")
        print(f"folder:  {result.folder}")
    if result.ok:
        return EXIT_OK
    cause = state.aborted_by
    if cause:
        step = state.step(cause)
        raise StepFailed(f"step {cause} ({step.action}) failed: {step.error}; incident {result.outcome}",
                         step=cause, action=step.action)
    return EXIT_FAILED


def respond(runbook: str, inputs: list[str], yes: bool, incident_dir: str | None, alert: str | None,
            json_out: bool, config_file: str | None) -> int:
    from pyirt.core.inputs import parse_assignments

    config = config_mod.load(config_file)
    options = session.Options(incident_dir=incident_dir, yes=yes, observers=_observers(json_out),
                              alert=_load_alert(alert))
    result = session.respond(runbook, parse_assignments(inputs), config, options)
    return _finish(result, json_out)


def resume(incident: str, yes: bool, in_doubt: str, force: bool, incident_dir: str | None,
           json_out: bool, config_file: str | None) -> int:
    if in_doubt not in IN_DOUBT:
        raise InvalidInput(f"--in-doubt {in_doubt!r}: use one of {', '.join(IN_DOUBT)}")
    config = config_mod.load(config_file)
    options = session.Options(incident_dir=incident_dir, yes=yes, in_doubt=in_doubt,  # type: ignore[arg-type]
                              force=force, observers=_observers(json_out))
    result = session.resume(incident, config, options)
    return _finish(result, json_out)


def plan(runbook: str, inputs: list[str], json_out: bool, config_file: str | None) -> int:
    from pyirt.core.inputs import parse_assignments, resolve_inputs
    from pyirt.core.secrets import Redactor
    from pyirt.engine.plan import plan as make_plan

    config = config_mod.load(config_file)
    registry = session.load_registry(config)
    book, _ = session.read_runbook(runbook, registry)
    values = resolve_inputs(book, parse_assignments(inputs))
    steps = make_plan(book, registry, values, Redactor(config.redact))
    if json_out:
        print(json.dumps({"runbook": book.name, "inputs": values,
                          "steps": [vars(s) | {"params": dict(s.params)} for s in steps]}, default=str))
        return EXIT_OK
    out = sys.stdout
    out.write(f"runbook {book.name}: {len(steps)} steps (nothing will be executed)\n")
    for number, step in enumerate(steps, start=1):
        flags = [f for f, on in (("approval", step.approval), ("destructive", step.destructive),
                                 ("finally", step.phase == "finally")) if on]
        out.write(f"{number:>3}. {step.id}  {step.action}{'  [' + ', '.join(flags) + ']' if flags else ''}\n")
        if step.describe:
            out.write(f"       {step.describe}\n")
        if step.when:
            out.write(f"       when: {step.when}\n")
        for key, value in step.params.items():
            out.write(f"       {key}: {json.dumps(value, ensure_ascii=False)}\n")
        if step.undo:
            out.write(f"       undo: {step.undo}\n")
        if step.error:
            out.write(f"       ! {step.error}\n")
    return EXIT_OK
