"""Runbook inputs: typed values from ``-i KEY=VALUE``, defaults and alert-derived routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyirt.core.durations import parse_duration
from pyirt.core.model import Runbook
from pyirt.errors import InvalidInput

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def coerce_input(typ: str, value: Any) -> Any:
    """``value`` as the input type ``typ``. Strings (from the command line) are converted."""
    if typ == "string":
        if isinstance(value, dict | list) or value is None:
            raise ValueError(f"expected string, got {type(value).__name__}")
        return value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    if typ == "int":
        if isinstance(value, bool):
            raise ValueError("expected int, got bool")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise ValueError(f"expected int, got {value!r}")
    if typ == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected true or false, got {value!r}")
    if typ == "duration":
        parse_duration(value)  # raises ValueError with the reason
        return value
    if typ == "list":
        if isinstance(value, list | tuple):
            return list(value)
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        raise ValueError(f"expected a list, got {value!r}")
    raise ValueError(f"unknown input type {typ!r}")


def resolve_inputs(runbook: Runbook, given: Mapping[str, Any]) -> dict[str, Any]:
    """Declared inputs with defaults applied and values typed; every problem reported at once."""
    problems: list[str] = []
    declared = {spec.name for spec in runbook.inputs}
    for name in given:
        if name not in declared:
            listed = ", ".join(sorted(declared)) or "none"
            problems.append(f"input {name!r} is not declared by runbook {runbook.name} (declared: {listed})")
    values: dict[str, Any] = {}
    for spec in runbook.inputs:
        if spec.name in given:
            try:
                value = coerce_input(spec.type, given[spec.name])
            except ValueError as exc:
                problems.append(f"input {spec.name}: {exc}")
                continue
        elif spec.default is not None:
            value = spec.default
        elif spec.required:
            problems.append(f"input {spec.name} is required (-i {spec.name}=VALUE)")
            continue
        else:
            value = None
        if spec.choices and value is not None and value not in spec.choices:
            problems.append(f"input {spec.name}: {value!r} is not one of {', '.join(map(str, spec.choices))}")
            continue
        values[spec.name] = value
    if problems:
        raise InvalidInput("; ".join(problems))
    return values


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings from ``-i`` into a map; a malformed pair names itself."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"-i {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out
