"""The contract between the engine and an action.

An action is a class with a class attribute ``spec`` (:class:`~pyirt.core.actionspec.ActionSpec`)
and a ``run(params, ctx)`` method returning a JSON-ready output map. It reports failure by raising
:class:`~pyirt.errors.ActionError`; any other exception is reported too, with its type.

Optional hooks:
- ``undo(params, output)`` returns the call that reverses a completed run (the default undo,
  used when the step declares none);
- ``reconcile(params, ctx)`` looks at the backend after a crash and returns the output of a run
  whose effect is already there, ``NOT_DONE`` when it is surely absent, or None when it cannot
  tell: a resumed incident uses it to settle an in-doubt step;
- ``describe(params)`` says in one line what ``irt plan`` would do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pyirt.core.actionspec import ActionSpec
from pyirt.core.secrets import Redactor

NOT_DONE: dict[str, Any] = {"__irt_not_done__": True}
"""What ``reconcile`` returns when it knows the effect did not happen (so a re-run is safe)."""


@dataclass(frozen=True, slots=True)
class UndoCall:
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ActionContext:
    """What the engine gives an action for one attempt."""

    incident_id: str
    step_id: str
    incident_dir: Path
    attempt: int = 1
    dry_run: bool = False
    config: Mapping[str, Any] = field(default_factory=dict)
    redact: Redactor = field(default_factory=Redactor)
    cancel: threading.Event = field(default_factory=threading.Event)
    log: Callable[[str], None] = lambda message: None
    interactive: bool = False
    checkpoint: Callable[[Mapping[str, Any]], None] = lambda data: None
    checkpointed: Mapping[str, Any] = field(default_factory=dict)
    """``checkpoint(data)`` journals facts (fsynced) before a side effect, such as the limits a
    change is about to replace; after a crash ``checkpointed`` holds them for ``run`` and ``reconcile``."""

    @property
    def artifacts(self) -> Path:
        """``artifacts/<step-id>/`` in the incident folder, created on first use."""
        path = self.incident_dir / "artifacts" / self.step_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def sleep(self, seconds: float) -> bool:
        """Wait, waking early when the step is cancelled (timeout or signal). True if it slept fully."""
        return not self.cancel.wait(max(0.0, seconds))

    def provider(self, name: str) -> Mapping[str, Any]:
        providers = self.config.get("providers") or {}
        value = providers.get(name) if isinstance(providers, Mapping) else None
        return value if isinstance(value, Mapping) else {}


class Action:
    """Base class for actions. Subclasses set ``spec`` and implement ``run``."""

    spec: ClassVar[ActionSpec]

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        raise NotImplementedError

    def undo(self, params: Mapping[str, Any], output: Mapping[str, Any]) -> UndoCall | None:
        return None

    def reconcile(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        return None

    def describe(self, params: Mapping[str, Any]) -> str:
        return ""
