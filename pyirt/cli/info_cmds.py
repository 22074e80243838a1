"""Bodies of ``irt validate``, ``irt schema``, ``irt incidents`` and ``irt actions``."""

from __future__ import annotations

import json

from pyirt.engine import config as config_mod
from pyirt.engine import session, store
from pyirt.errors import EXIT_INVALID, EXIT_OK, InvalidInput, Problem, ValidationFailed


def validate(paths: list[str], json_out: bool, config_file: str | None) -> int:
    config = config_mod.load(config_file)
    registry = session.load_registry(config)
    problems: list[Problem] = []
    checked: list[dict[str, object]] = []
    for path in paths:
        try:
            book, _ = session.read_runbook(path, registry)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
            checked.append({"file": path, "ok": False, "errors": len(exc.problems)})
        except InvalidInput as exc:
            problems.append(Problem(path, 0, 0, "", str(exc)))
            checked.append({"file": path, "ok": False, "errors": 1})
        else:
            checked.append({"file": path, "ok": True, "runbook": book.name, "steps": len(book.all_steps())})
    if json_out:
        print(json.dumps({"ok": not problems, "files": checked,
                          "errors": [vars_of(p) for p in problems]}, indent=2))
    else:
        for problem in problems:
            print(problem)
        for entry in checked:
            if entry["ok"]:
                print(f"{entry['file']}: ok ({entry['runbook']}, {entry['steps']} steps)")
    return EXIT_INVALID if problems else EXIT_OK


def vars_of(problem: Problem) -> dict[str, object]:
    return {"file": problem.file, "line": problem.line, "column": problem.column, "path": problem.path,
            "message": problem.message}


def schema(config_file: str | None) -> int:
    from pyirt.core.schema import runbook_schema

    config = config_mod.load(config_file)
    print(json.dumps(runbook_schema(session.load_registry(config).specs()), indent=2))
    return EXIT_OK


def incidents_list(incident_dir: str | None, json_out: bool) -> int:
    base = store.root(incident_dir)
    rows = []
    for folder in store.list_folders(base):
        try:
            state = store.read_state(folder)
        except Exception as exc:  # one damaged journal must not hide the others
            rows.append({"id": folder.name, "status": "unreadable", "outcome": str(exc), "runbook": ""})
            continue
        rows.append({"id": folder.name, "status": state.status, "outcome": state.outcome or state.pause_reason,
                     "runbook": state.runbook_name, "opened_at": state.opened_at})
    if json_out:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no incidents in {base}")
    else:
        for row in rows:
            print(f"{row['id']:<60} {row['status']:<8} {row['outcome']}")
    return EXIT_OK


def incidents_show(ref: str, incident_dir: str | None, json_out: bool) -> int:
    folder = store.find(store.root(incident_dir), ref)
    state = store.read_state(folder)
    if json_out:
        data = {
            "id": state.id, "folder": str(folder), "runbook": state.runbook_name, "status": state.status,
            "outcome": state.outcome, "pause_reason": state.pause_reason, "opened_at": state.opened_at,
            "closed_at": state.closed_at, "inputs": dict(state.inputs),
            "steps": [{"id": s.id, "status": s.status, "action": s.action, "attempts": s.attempts,
                       "duration": s.duration, "error": s.error, "undo": s.undo, "output": dict(s.output)}
                      for s in (state.step(i) for i in state.order)],
        }
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(f"incident {state.id}")
    print(f"  runbook  {state.runbook_name} ({state.runbook_path})")
    print(f"  status   {state.status} {state.outcome or state.pause_reason}")
    print(f"  opened   {state.opened_at}" + (f"  closed {state.closed_at}" if state.closed_at else ""))
    print(f"  folder   {folder}")
    for sid in state.order:
        step = state.step(sid)
        extra = step.error or step.skip_reason
        undo = f" undo:{step.undo}" if step.undo != "none" else ""
        in_doubt = " (in doubt)" if step.in_doubt else ""
        print(f"  {step.status:<10} {sid:<24} {step.action:<20} {step.duration:7.2f}s{undo}{in_doubt} {extra}")
    return EXIT_OK


def _specs_json(name: str, config_file: str | None) -> dict[str, object]:
    config = config_mod.load(config_file)
    registry = session.load_registry(config)
    if name not in registry:
        raise InvalidInput(f"no action {name!r}; irt actions list shows them all")
    reg = registry[name]
    spec = reg.cls.spec
    return {
        "name": spec.name, "summary": spec.summary, "backend": spec.backend, "idempotent": spec.idempotent,
        "destructive": spec.destructive, "default_undo": spec.has_default_undo, "source": reg.source,
        "default_on_failure": spec.default_on_failure or "abort",
        "one_of": [list(g) for g in spec.one_of], "outputs": list(spec.outputs),
        "params": [{"name": p.name, "type": p.type, "required": p.required, "default": p.default,
                    "choices": list(p.choices), "doc": p.doc} for p in spec.params],
    }


def actions_list(json_out: bool, config_file: str | None) -> int:
    config = config_mod.load(config_file)
    registry = session.load_registry(config)
    if json_out:
        print(json.dumps([{"name": n, "summary": registry[n].cls.spec.summary} for n in registry], indent=2))
        return EXIT_OK
    for name in registry:
        spec = registry[name].cls.spec
        marks = "".join(m for m, on in (("D", spec.destructive), ("I", spec.idempotent)) if on)
        print(f"{name:<22} {marks:<3} {spec.summary}")
    print("\nD destructive · I idempotent (re-run when in doubt)")
    return EXIT_OK


def actions_show(name: str, json_out: bool, config_file: str | None) -> int:
    data = _specs_json(name, config_file)
    if json_out:
        print(json.dumps(data, indent=2, default=str))
        return EXIT_OK
    print(f"{data['name']}: {data['summary']}")
    print(f"  backend {data['backend']} · idempotent {data['idempotent']} · destructive {data['destructive']}"
          f" · default undo {data['default_undo']} · on_failure default {data['default_on_failure']}")
    print(f"  from {data['source']}")
    for group in data["one_of"]:  # type: ignore[attr-defined]
        print(f"  exactly one of: {', '.join(group)}")
    print("  parameters:")
    for p in data["params"]:  # type: ignore[attr-defined]
        req = "required" if p["required"] else f"default {p['default']!r}" if p["default"] is not None else "optional"
        choices = f" one of {', '.join(p['choices'])}" if p["choices"] else ""
        print(f"    {p['name']:<16} {p['type']:<9} {req}{choices}  {p['doc']}")
    if data["outputs"]:
        print(f"  outputs: {', '.join(data['outputs'])}")  # type: ignore[arg-type]
    return EXIT_OK


