"""``irt plan``: what a run would do, step by step, with its parameters rendered and nothing executed.

Values that only exist once earlier steps have run (``steps.X.output...``) are shown as
``<steps.X.output.field>``; secrets are resolved (so a missing one is reported) and shown masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyirt.actions.registry import Registry
from pyirt.core import journal, templating
from pyirt.core.model import Runbook, Step, thaw
from pyirt.core.secrets import Redactor
from pyirt.engine import secretref
from pyirt.errors import TemplateError


class Later:
    """A value known only at run time; renders as its path in angle brackets."""

    def __init__(self, path: str) -> None:
        self._path = path

    def __getattr__(self, name: str) -> Later:
        if name.startswith("_"):
            raise AttributeError(name)
        return Later(f"{self._path}.{name}")

    def __getitem__(self, key: object) -> Later:
        return Later(f"{self._path}.{key}" if isinstance(key, str) else f"{self._path}[{key}]")

    def __str__(self) -> str:
        return f"<{self._path}>"

    __repr__ = __str__

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Any:
        return iter(())


@dataclass(frozen=True)
class PlannedStep:
    id: str
    phase: str
    action: str
    params: Mapping[str, Any]
    when: str
    approval: bool
    destructive: bool
    idempotent: bool
    describe: str
    undo: str
    error: str = ""


def plan(runbook: Runbook, registry: Registry, inputs: Mapping[str, Any], redactor: Redactor) -> list[PlannedStep]:
    steps = {s.id: Later(f"steps.{s.id}") for s in runbook.all_steps()}
    incident = {"id": "<incident.id>", "started_at": "<incident.started_at>", "runbook": runbook.name,
                "dir": "<incident.dir>"}
    context = templating.build_context(inputs=inputs, steps=steps, incident=incident, alert=None,
                                       env={}, secret=secretref.resolver(redactor))
    context["env"] = Later("env")
    planned = [_one(s, "main", registry, context, redactor) for s in runbook.steps]
    planned += [_one(s, "finally", registry, context, redactor) for s in runbook.finally_steps]
    return planned


def _one(step: Step, phase: str, registry: Registry, context: Mapping[str, Any], redactor: Redactor) -> PlannedStep:
    action = registry.create(step.action)
    error = ""
    when = ""
    if step.when is not None:
        try:
            when = str(step.when if isinstance(step.when, bool) else templating.render(step.when, context))
        except TemplateError as exc:
            when, error = "?", str(exc)
    try:
        params = templating.render_value(thaw(step.params), context, f"steps.{step.id}.with")
    except TemplateError as exc:
        params, error = thaw(step.params), error or str(exc)
    clean = journal.sanitize(params, redactor)
    if step.undo is not None:
        undo = step.undo.action
    elif action.spec.has_default_undo:
        undo = f"{step.action} (default undo)"
    else:
        undo = ""
    return PlannedStep(
        id=step.id, phase=phase, action=step.action, params=clean, when=when,
        approval=step.approval or action.spec.approval, destructive=action.spec.destructive,
        idempotent=action.spec.idempotent, describe=redactor(action.describe(params)), undo=undo,
        error=error,
    )
