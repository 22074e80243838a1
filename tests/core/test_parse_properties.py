"""Property tests of the parser: whatever the text, ``parse_runbook`` returns a Runbook or raises
ValidationFailed, and nothing else (no KeyError, TypeError, RecursionError... from odd documents)."""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from pyirt.actions.registry import load as load_registry
from pyirt.core.model import Runbook
from pyirt.core.parse import STEP_KEYS, TOP_KEYS, parse_runbook
from pyirt.errors import Problem, ValidationFailed
from tests.helpers import RUNBOOKS, SHIPPED

SPECS = load_registry().specs()
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def outcome(text: str) -> Runbook | list[Problem]:
    """The only two things parse_runbook may do."""
    try:
        book = parse_runbook(text, "x.yaml", SPECS)
    except ValidationFailed as exc:
        assert exc.problems, "ValidationFailed without a problem"
        for problem in exc.problems:
            assert problem.file == "x.yaml"
            assert problem.line >= 1 and problem.column >= 1
            assert problem.message and "\n" not in problem.message
        return exc.problems
    assert isinstance(book, Runbook)
    assert book.steps
    return book


# -- arbitrary text ---------------------------------------------------------------------------------
@SETTINGS
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises_anything_but_validation_failed(text: str) -> None:
    outcome(text)


YAML_CHARS = st.sampled_from([*":-[]{},&*!|>'\"%@`#? \n\t", "  ", "- ", ": ", "{{", "}}", "{%", "%}",
                              "steps", "id", "action", "with", "\n  - "])


@SETTINGS
@given(st.lists(YAML_CHARS | st.text(alphabet="abcxyz019._", max_size=4), max_size=60).map("".join))
def test_yaml_punctuation_soup_never_raises_anything_but_validation_failed(text: str) -> None:
    outcome(text)


# -- YAML-ish documents -------------------------------------------------------------------------------
KEYS = st.sampled_from([*TOP_KEYS, *STEP_KEYS, "attempts", "backoff", "initial", "jitter", "type", "default",
                        "required", "choices", "text", "url", "duration", "message", "0", "", "on"])
KEYS = KEYS | st.text(max_size=6)
TEMPLATES = st.sampled_from([
    "{{ inputs.service }}", "{{ steps.a.output.x }}", "{{ steps['b'].status }}", "{{ steps[0] }}", "{{ env.HOME }}",
    "{{ }}", "{{ oops( }}", "{% if %}", "{{ inputs.x | default(1) }}", "{{ secret('env:X') }}", "{{ steps }}",
    "{{ steps.a.output[inputs.k] }}", "{{ 1/0 }}", "{{ ''.__class__ }}",
])
SCALARS = (st.none() | st.booleans() | st.integers(-10, 10**12) | st.floats(allow_nan=True) | st.text(max_size=10)
           | TEMPLATES | st.sampled_from(["irt/v1", "Runbook", "notify.console", "http.check", "flow.wait", "5s",
                                          "10 parsecs", "exponential", "rollback", "required", "a", "b", "string"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                      max_leaves=25)


def step_strategy() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"id": st.sampled_from(["a", "b", "c", "a", "Bad Id"]) | SCALARS,
         "action": st.sampled_from(["notify.console", "http.check", "flow.wait", "flow.approve", "nope.x"]) | SCALARS},
        optional={"with": st.dictionaries(st.sampled_from(["text", "url", "duration", "headers", "expect_status",
                                                           "bogus"]), VALUES, max_size=3) | VALUES,
                  "when": VALUES, "timeout": VALUES, "retry": VALUES, "on_failure": VALUES, "approval": VALUES,
                  "undo": st.fixed_dictionaries({"action": SCALARS}, optional={"with": VALUES}) | VALUES,
                  "description": VALUES, "extra": VALUES},
    )


RUNBOOKISH = st.fixed_dictionaries(
    {"apiVersion": st.just("irt/v1") | SCALARS, "name": st.just("rb") | SCALARS,
     "steps": st.lists(step_strategy(), max_size=4) | VALUES},
    optional={"kind": st.just("Runbook") | SCALARS, "inputs": st.dictionaries(KEYS, VALUES, max_size=3) | VALUES,
              "env": st.lists(SCALARS, max_size=3) | VALUES, "finally": st.lists(step_strategy(), max_size=2) | VALUES,
              "description": VALUES, "unknown": VALUES},
)


def as_yaml(document: Any) -> str:
    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(document, stream)
    return stream.getvalue()


@SETTINGS
@given(RUNBOOKISH)
def test_runbook_shaped_documents_in_block_yaml(document: dict[str, Any]) -> None:
    outcome(as_yaml(document))


@SETTINGS
@given(RUNBOOKISH | VALUES)
def test_runbook_shaped_documents_in_flow_style_json(document: Any) -> None:
    outcome(json.dumps(document))


def _good_texts() -> list[str]:
    return [(RUNBOOKS / "every-feature.yaml").read_text(), (SHIPPED / "local-drill.yaml").read_text()]


@SETTINGS
@given(st.sampled_from(_good_texts()), st.data())
def test_a_good_runbook_with_random_edits(text: str, data: st.DataObject) -> None:
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        at = data.draw(st.integers(0, len(text)), label="at")
        cut = data.draw(st.integers(0, 12), label="cut")
        insert = data.draw(YAML_CHARS | st.text(max_size=3), label="insert")
        text = text[:at] + insert + text[at + cut:]
    outcome(text)


def test_the_strategies_reach_both_outcomes() -> None:
    """Guard against a generator that only ever produces garbage: a plain valid document parses."""
    document = {"apiVersion": "irt/v1", "name": "rb", "steps": [{"id": "a", "action": "notify.console",
                                                                 "with": {"text": "{{ inputs.x | default(1) }}"}}]}
    assert isinstance(outcome(as_yaml(document)), Runbook)
    assert isinstance(outcome(json.dumps(document)), Runbook)
