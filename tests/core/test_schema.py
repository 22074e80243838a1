"""``irt schema``'s JSON Schema: a valid draft 2020-12 schema that accepts good runbooks and rejects
the mistakes an editor should underline."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from pyirt.actions.registry import load as load_registry
from pyirt.core.schema import runbook_schema
from tests.helpers import RUNBOOKS, SHIPPED

SCHEMA = runbook_schema(load_registry().specs())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def load(path: Any) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


def test_the_schema_is_itself_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator.check_schema(runbook_schema())
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["required"] == ["apiVersion", "name", "steps"]
    assert SCHEMA["properties"]["apiVersion"] == {"const": "irt/v1"}


@pytest.mark.parametrize("path", [SHIPPED / "local-drill.yaml", RUNBOOKS / "every-feature.yaml",
                                  RUNBOOKS / "minimal.yaml"], ids=lambda p: p.name)
def test_good_runbooks_match_the_schema(path: Any) -> None:
    errors = [e.message for e in VALIDATOR.iter_errors(load(path))]
    assert errors == []


def step_errors(step: dict[str, Any]) -> list[str]:
    document = {"apiVersion": "irt/v1", "name": "rb", "steps": [step]}
    return [e.message for e in VALIDATOR.iter_errors(document)]


@pytest.mark.parametrize("step", [
    {"id": "a", "action": "notify.consol", "with": {"text": "x"}},  # unknown action
    {"id": "a", "action": "notify.console", "with": {"txt": "x"}},  # unknown parameter
    {"id": "a", "action": "http.check", "with": {}},  # missing required url
    {"id": "a", "action": "http.check", "with": {"url": "x", "method": "FETCH"}},  # not a choice
    {"id": "a", "action": "http.check", "with": {"url": "x", "headers": ["a"]}},  # wrong type
    {"id": "a", "action": "flow.wait", "with": {"duration": "soon"}},
    {"id": "a", "action": "flow.wait", "with": {"duration": "1s"}, "timeout": "5 minutes"},
    {"id": "a", "action": "flow.wait", "with": {"duration": "1s"}, "retry": {"attempts": 0}},
    {"id": "a", "action": "flow.wait", "with": {"duration": "1s"}, "on_failure": "explode"},
    {"id": "a", "action": "flow.wait", "with": {"duration": "1s"}, "colour": "red"},
    {"id": "Bad Id", "action": "flow.wait", "with": {"duration": "1s"}},
    {"action": "flow.wait", "with": {"duration": "1s"}},
])
def test_mistakes_are_rejected(step: dict[str, Any]) -> None:
    assert step_errors(step)


def test_templated_parameters_are_accepted_whatever_their_type() -> None:
    assert step_errors({"id": "a", "action": "flow.wait", "with": {"duration": "{{ inputs.pause }}"}}) == []
    assert step_errors({"id": "a", "action": "http.check", "with": {"url": "{{ inputs.url }}",
                                                                   "verify_tls": "{{ inputs.tls }}"}}) == []


def test_top_level_mistakes_are_rejected() -> None:
    assert list(VALIDATOR.iter_errors({"apiVersion": "irt/v1", "name": "rb", "steps": []}))
    assert list(VALIDATOR.iter_errors({"apiVersion": "irt/v2", "name": "rb",
                                       "steps": [{"id": "a", "action": "flow.wait", "with": {"duration": 1}}]}))
    assert list(VALIDATOR.iter_errors({"apiVersion": "irt/v1", "name": "rb", "colour": 1,
                                       "steps": [{"id": "a", "action": "flow.wait", "with": {"duration": 1}}]}))
    assert list(VALIDATOR.iter_errors({"apiVersion": "irt/v1", "name": "rb", "inputs": {"x": {"type": "float"}},
                                       "steps": [{"id": "a", "action": "flow.wait", "with": {"duration": 1}}]}))
