"""The runbook, parsed once into typed, frozen objects.

Parameter blocks stay as read (their leaves may be Jinja templates, rendered at run time); they
are deep-frozen (mappings become read-only, lists become tuples) so no step can change another's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

InputType = Literal["string", "int", "bool", "duration", "list"]
OnFailure = Literal["abort", "continue", "rollback"]
Backoff = Literal["fixed", "exponential"]


def freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain dicts and lists again, for JSON and for actions."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class InputSpec:
    name: str
    type: InputType = "string"
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 1
    backoff: Backoff = "fixed"
    initial: float = 1.0
    max: float = 60.0
    jitter: float = 0.0  # fraction of each delay drawn at random, 0..1

    def delay(self, failed_attempt: int, rand: float = 0.5) -> float:
        """Seconds to wait after the ``failed_attempt``-th attempt (1-based). ``rand`` in [0, 1)."""
        base = self.initial * (2 ** (failed_attempt - 1)) if self.backoff == "exponential" else self.initial
        base = min(base, self.max)
        if self.jitter:
            base = base * (1 - self.jitter) + base * self.jitter * 2 * rand
        return max(0.0, min(base, self.max))


@dataclass(frozen=True, slots=True)
class Call:
    """An action with its (unrendered) parameters: a step's undo, or a default undo."""

    action: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    action: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    when: str | bool | None = None
    timeout: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    on_failure: OnFailure = "abort"
    approval: bool = False
    undo: Call | None = None
    description: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Runbook:
    name: str
    steps: tuple[Step, ...]
    finally_steps: tuple[Step, ...] = ()
    inputs: tuple[InputSpec, ...] = ()
    env: tuple[str, ...] = ()
    description: str = ""
    source: str = ""
    digest: str = ""

    def all_steps(self) -> tuple[Step, ...]:
        return self.steps + self.finally_steps

    def step(self, step_id: str) -> Step:
        for s in self.all_steps():
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def input(self, name: str) -> InputSpec | None:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        return None
