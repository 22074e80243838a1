"""Runbook inputs from ``-i KEY=VALUE``: typed, defaulted, and every problem reported at once."""

from __future__ import annotations

import pytest

from pyirt.actions.registry import load as load_registry
from pyirt.core.inputs import coerce_input, parse_assignments, resolve_inputs
from pyirt.core.parse import parse_runbook
from pyirt.errors import EXIT_INVALID, InvalidInput

BOOK = parse_runbook(
    "apiVersion: irt/v1\nname: rb\ninputs:\n"
    "  project: {type: string, required: true}\n"
    "  memory: {type: string, default: 4g}\n"
    "  replicas: {type: int, default: 2}\n"
    "  rotate: {type: bool, default: true}\n"
    "  pause: {type: duration, default: 1s}\n"
    "  teams: {type: list}\n"
    "  severity: {type: string, default: sev2, choices: [sev1, sev2]}\n"
    "steps:\n  - {id: a, action: notify.console, with: {text: hi}}\n",
    "rb.yaml", load_registry().specs(),
)


def test_defaults_apply_and_strings_from_the_command_line_are_typed() -> None:
    values = resolve_inputs(BOOK, {"project": "demo", "replicas": "5", "rotate": "no", "teams": "sre, sec,"})
    assert values == {"project": "demo", "memory": "4g", "replicas": 5, "rotate": False, "pause": "1s",
                      "teams": ["sre", "sec"], "severity": "sev2"}


def test_missing_required_input_is_named_with_how_to_give_it() -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_inputs(BOOK, {})
    assert str(caught.value) == "input project is required (-i project=VALUE)"
    assert caught.value.exit_code == EXIT_INVALID


def test_every_input_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_inputs(BOOK, {"replicas": "many", "rotate": "perhaps", "severity": "sev9", "colour": "red",
                              "pause": "soon"})
    message = str(caught.value)
    for part in ("input 'colour' is not declared by runbook rb (declared: memory, pause, project, replicas, "
                 "rotate, severity, teams)", "input replicas: expected int, got 'many'",
                 "input rotate: expected true or false, got 'perhaps'",
                 "input severity: 'sev9' is not one of sev1, sev2",
                 "input project is required", "input pause: not a duration: 'soon'"):
        assert part in message


@pytest.mark.parametrize(("typ", "value", "expected"), [
    ("string", 5, "5"), ("string", True, "true"), ("int", "-3", -3), ("int", 7, 7), ("bool", "ON", True),
    ("bool", False, False), ("list", ("a",), ["a"]), ("duration", "5m", "5m"),
])
def test_coerce_input(typ: str, value: object, expected: object) -> None:
    assert coerce_input(typ, value) == expected


@pytest.mark.parametrize(("typ", "value"), [
    ("string", None), ("string", {"a": 1}), ("int", True), ("int", "1.5"), ("int", ""), ("bool", "2"),
    ("list", 3), ("duration", "fortnight"), ("float", "1"),
])
def test_coerce_input_refuses(typ: str, value: object) -> None:
    with pytest.raises(ValueError):
        coerce_input(typ, value)


def test_parse_assignments_keeps_everything_after_the_first_equals_sign() -> None:
    assert parse_assignments(["a=1", "b=x=y", "c=", " d =v"]) == {"a": "1", "b": "x=y", "c": "", "d": "v"}
    for bad in ("novalue", "=v"):
        with pytest.raises(InvalidInput, match=f"-i '{bad}': expected KEY=VALUE"):
            parse_assignments([bad])
