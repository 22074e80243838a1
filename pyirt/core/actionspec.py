"""What an action declares about itself: its parameters, their types, and its nature.

The validator checks a runbook's ``with:`` blocks against these specs before anything runs, and
``irt actions show`` prints them. Specs are plain data so that listing actions never imports an SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pyirt.core.durations import parse_duration

ParamType = Literal["string", "int", "number", "bool", "duration", "list", "map", "any", "secret"]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: ParamType = "string"
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    doc: str = ""

    def check(self, value: Any) -> str | None:
        """Why a literal (untemplated) ``value`` does not fit, or None when it does."""
        if value is None:
            return None if not self.required else "must not be null"
        ok = _TYPE_CHECKS[self.type](value)
        if not ok:
            return f"expected {self.type}, got {_kind(value)}"
        if self.type == "duration":
            try:
                parse_duration(value)
            except ValueError as exc:
                return str(exc)
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}; got {value!r}"
        return None


def _kind(value: Any) -> str:
    kinds: tuple[tuple[str, type | tuple[type, ...]], ...] = (
        ("bool", bool), ("int", int), ("number", float), ("string", str), ("list", (list, tuple)), ("map", dict))
    for name, types in kinds:
        if isinstance(value, types):
            return name
    return type(value).__name__


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "duration": lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
    "list": lambda v: isinstance(v, list | tuple),
    "map": lambda v: isinstance(v, dict),
    "any": lambda v: True,
    "secret": lambda v: isinstance(v, str),
}


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An action's declaration.

    ``one_of`` lists groups of parameters of which exactly one must be given (for example
    ``("container", "containers", "selector")``). ``backend`` names what the action talks to, for
    error messages. ``idempotent`` actions are re-run when a resumed incident finds them in doubt.
    """

    name: str
    summary: str
    params: tuple[Param, ...] = ()
    idempotent: bool = False
    destructive: bool = False
    backend: str = "local"
    one_of: tuple[tuple[str, ...], ...] = ()
    has_default_undo: bool = False
    approval: bool = False  # the action is itself an approval gate (flow.approve)
    outputs: tuple[str, ...] = field(default=())
    default_on_failure: str | None = None
    """The step's ``on_failure`` when the runbook does not say (notifications: ``continue``)."""

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None
