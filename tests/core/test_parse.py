"""Runbook parsing and validation: every problem at once, each with file, line, column and path."""

from __future__ import annotations

import pytest

from pyirt.actions.registry import load as load_registry
from pyirt.core.model import RetryPolicy, Runbook
from pyirt.core.parse import parse_runbook
from pyirt.errors import EXIT_INVALID, Problem, ValidationFailed
from tests.helpers import RUNBOOKS, SHIPPED

SPECS = load_registry().specs()

HEAD = "apiVersion: irt/v1\nkind: Runbook\nname: t\n"


def problems(text: str, file: str = "t.yaml") -> list[Problem]:
    with pytest.raises(ValidationFailed) as caught:
        parse_runbook(text, file, SPECS)
    assert caught.value.exit_code == EXIT_INVALID
    return caught.value.problems


def where(found: list[Problem]) -> set[tuple[int, int, str]]:
    return {(p.line, p.column, p.path) for p in found}


def messages(found: list[Problem]) -> dict[str, str]:
    return {p.path: p.message for p in found}


def test_every_error_of_a_runbook_is_reported_at_once_with_line_column_and_path() -> None:
    path = RUNBOOKS / "every-error.yaml"
    found = problems(path.read_text(), str(path))
    assert all(p.file == str(path) for p in found)
    expected = {
        (4, 1, "colour"),  # unknown top-level key
        (7, 17, "inputs.level.type"),  # bad input type
        (8, 31, "inputs.count.default"),  # default does not fit its type
        (9, 12, "inputs.region.requird"),  # unknown key in an input spec
        (10, 9, "inputs.mode"),  # an input spec that is no map
        (14, 18, "steps[0].with.text"),  # undeclared input and a step that runs later
        (16, 13, "steps[1].action"),  # unknown action
        (18, 9, "steps[2].id"),  # duplicate id
        (20, 18, "steps[2].with.text"),  # step that does not exist
        (23, 11, "steps[3].with.url"),  # missing required parameter
        (23, 25, "steps[3].with.verb"),  # undeclared parameter
        (24, 14, "steps[3].timeout"),  # bad duration
        (25, 23, "steps[3].retry.attempts"),
        (25, 35, "steps[3].retry.backoff"),
        (26, 17, "steps[3].on_failure"),
        (28, 15, "steps[3].undo.action"),
        (29, 20, "steps[3].undo.with.text"),
        (32, 22, "steps[4].with.duration"),  # a literal duration parameter that is no duration
        (33, 9, "steps[5].id"),
    }
    assert where(found) == expected
    text = "\n".join(map(str, found))
    assert "colour: unknown key" in text
    assert "refers to input 'nope', which is not declared under inputs" in text
    assert "refers to step 'check', which runs later" in text
    assert "refers to step 'ghost', which does not exist" in text
    assert "unknown action 'http.chek' (did you mean 'http.check'?)" in text
    assert "duplicate step id 'announce'" in text
    assert f"{path}:23:11: steps[3].with.url: required" in text
    assert "http.check has no parameter 'verb'" in text
    assert "not a duration: '5 minutes'" in text
    assert "not a duration: 'soon'" in text
    assert "did you mean 'required'?" in text
    # sorted by position, so a person reads them top to bottom
    assert [(p.line, p.column) for p in found] == sorted((p.line, p.column) for p in found)


def test_problem_prints_as_file_line_column_path_message() -> None:
    problem = Problem("rb.yaml", 12, 7, "steps[3].with.service", "required")
    assert str(problem) == "rb.yaml:12:7: steps[3].with.service: required"
    assert str(Problem("rb.yaml", 1, 1, "", "YAML: bad")) == "rb.yaml:1:1: YAML: bad"


def test_the_error_message_counts_the_other_problems() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_runbook((RUNBOOKS / "every-error.yaml").read_text(), "e.yaml", SPECS)
    assert str(caught.value).startswith("e.yaml:4:1: colour: unknown key (and ")
    assert str(caught.value).endswith(f"(and {len(caught.value.problems) - 1} more)")


def test_yaml_syntax_error_points_at_its_line() -> None:
    found = problems((RUNBOOKS / "yaml-syntax.yaml").read_text(), "s.yaml")
    assert len(found) == 1
    assert (found[0].line, found[0].column) == (7, 4)
    assert found[0].message.startswith("YAML: ")


def test_duplicate_yaml_key_is_an_error_not_a_silent_overwrite() -> None:
    found = problems((RUNBOOKS / "duplicate-keys.yaml").read_text(), "d.yaml")
    assert len(found) == 1
    assert found[0].line == 7
    assert 'duplicate key "action"' in found[0].message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", 1),
        ("just a string\n", 1),
        ("- a\n- b\n", 1),
        ("\t- tab\n", 1),
        ("a: &x [*x]\nb: *y\n", 2),  # an alias to no anchor
    ],
)
def test_documents_that_are_no_runbook_are_refused(text: str, line: int) -> None:
    found = problems(text)
    assert found
    assert found[0].line == line


def test_missing_required_parameter_without_a_with_block_points_at_the_action() -> None:
    found = problems(HEAD + "steps:\n  - id: probe\n    action: http.check\n")
    assert where(found) == {(6, 13, "steps[0].with.url")}
    assert messages(found) == {"steps[0].with.url": "required"}


def test_literal_parameter_of_the_wrong_type_is_reported() -> None:
    text = HEAD + "steps:\n  - id: p\n    action: http.check\n    with: {url: x, method: FETCH, headers: [a]}\n"
    found = messages(problems(text))
    assert found["steps[0].with.method"].startswith("must be one of GET, HEAD")
    assert found["steps[0].with.headers"] == "expected map, got list"


def test_templated_parameter_is_not_type_checked_before_it_renders() -> None:
    text = HEAD + (
        "inputs: {h: {type: string, default: x}}\n"
        "steps:\n  - id: p\n    action: http.check\n    with: {url: x, headers: '{{ inputs.h }}'}\n"
    )
    assert parse_runbook(text, "t.yaml", SPECS).steps[0].params["headers"] == "{{ inputs.h }}"


def test_a_step_may_not_refer_to_itself_but_its_undo_may() -> None:
    own = HEAD + "steps:\n  - id: a\n    action: notify.console\n    with: {text: '{{ steps.a.output.text }}'}\n"
    assert "refers to step 'a', which runs later" in messages(problems(own))["steps[0].with.text"]
    undo = HEAD + (
        "steps:\n  - id: a\n    action: notify.console\n    with: {text: hi}\n"
        "    undo: {action: notify.console, with: {text: 'was {{ steps.a.output.text }}'}}\n"
    )
    assert parse_runbook(undo, "t.yaml", SPECS).steps[0].undo is not None


def test_finally_steps_may_read_main_steps_but_not_the_reverse() -> None:
    ok = HEAD + (
        "steps:\n  - {id: a, action: notify.console, with: {text: hi}}\n"
        "finally:\n  - {id: z, action: notify.console, with: {text: '{{ steps.a.status }}'}}\n"
    )
    assert [s.id for s in parse_runbook(ok, "t.yaml", SPECS).finally_steps] == ["z"]
    bad = HEAD + (
        "steps:\n  - {id: a, action: notify.console, with: {text: '{{ steps.z.status }}'}}\n"
        "finally:\n  - {id: z, action: notify.console, with: {text: hi}}\n"
    )
    assert "which runs later" in messages(problems(bad))["steps[0].with.text"]


def test_guarded_reference_to_an_undeclared_input_is_allowed() -> None:
    text = HEAD + "steps:\n  - {id: a, action: notify.console, with: {text: \"{{ inputs.x | default('y') }}\"}}\n"
    assert parse_runbook(text, "t.yaml", SPECS).steps[0].id == "a"


def test_env_must_be_declared_to_be_read() -> None:
    text = HEAD + "steps:\n  - {id: a, action: notify.console, with: {text: '{{ env.HOME }}'}}\n"
    assert "reads env 'HOME', which is not declared under env" in messages(problems(text))["steps[0].with.text"]
    declared = HEAD + "env: [HOME]\n" + text.removeprefix(HEAD)
    assert parse_runbook(declared, "t.yaml", SPECS).env == ("HOME",)


def test_template_syntax_error_is_a_validation_problem() -> None:
    text = HEAD + "steps:\n  - {id: a, action: notify.console, with: {text: '{{ oops( }}'}}\n"
    assert messages(problems(text))["steps[0].with.text"].startswith("template syntax:")


@pytest.mark.parametrize(
    ("inputs", "path", "message"),
    [
        ("inputs: [a, b]", "inputs", "expected a map of input name to its spec"),
        ("inputs: {bad-name: {type: string}}", "inputs.bad-name", "input names are letters, digits and '_'"),
        ("inputs: {x: {required: maybe}}", "inputs.x.required", "expected true or false"),
        ("inputs: {x: {choices: a}}", "inputs.x.choices", "expected a list"),
        ("inputs: {x: {default: c, choices: [a, b]}}", "inputs.x.default", "is not one of the choices"),
        ("inputs: {x: {type: duration, default: fortnight}}", "inputs.x.default", "not a duration"),
        ("inputs: {x: {type: bool, default: perhaps}}", "inputs.x.default", "expected true or false"),
    ],
)
def test_bad_inputs_spec(inputs: str, path: str, message: str) -> None:
    text = HEAD + inputs + "\nsteps:\n  - {id: a, action: notify.console, with: {text: hi}}\n"
    found = messages(problems(text))
    assert message in found[path]


@pytest.mark.parametrize(
    ("step", "path", "message"),
    [
        ("timeout: -5", "steps[0].timeout", "must not be negative"),
        ("timeout: 10 parsecs", "steps[0].timeout", "not a duration"),
        ("retry: {initial: 1x}", "steps[0].retry.initial", "not a duration"),
        ("retry: {max: true}", "steps[0].retry.max", "not a duration"),
        ("retry: {jitter: 2}", "steps[0].retry.jitter", "must be a fraction from 0 to 1"),
        ("retry: {attempts: 101}", "steps[0].retry.attempts", "from 1 to 100"),
        ("retry: {tries: 3}", "steps[0].retry.tries", "unknown key"),
        ("retry: many", "steps[0].retry", "expected a map"),
        ("approval: maybe", "steps[0].approval", "must be 'required' or 'none'"),
        ("when: 3", "steps[0].when", "expected a template string or true/false"),
        ("with: [text]", "steps[0].with", "expected a map of parameters"),
        ("undo: {action: notify.console, with: {text: x}, why: no}", "steps[0].undo.why", "unknown key"),
        ("undo: {with: {text: x}}", "steps[0].undo.action", "required"),
        ("actoin: x", "steps[0].actoin", "unknown key (did you mean 'action'?)"),
    ],
)
def test_bad_step_fields(step: str, path: str, message: str) -> None:
    params = "" if step.startswith("with:") else "    with: {text: hi}\n"
    text = HEAD + f"steps:\n  - id: a\n    action: notify.console\n{params}    {step}\n"
    found = messages(problems(text))
    assert message in found[path], found


def test_top_level_problems() -> None:
    found = messages(problems("apiVersion: irt/v2\nkind: Playbook\nname: 'no spaces'\nsteps: []\n"))
    assert found["apiVersion"] == "must be 'irt/v1'"
    assert found["kind"] == "must be 'Runbook'"
    assert found["name"].startswith("required")
    assert found["steps"] == "a runbook needs at least one step"


def test_good_runbooks_parse_into_frozen_objects() -> None:
    book = parse_runbook((RUNBOOKS / "every-feature.yaml").read_text(), "every-feature.yaml", SPECS)
    assert isinstance(book, Runbook)
    assert [s.id for s in book.steps] == ["announce", "settle", "gate", "probe", "tell"]
    assert [s.id for s in book.finally_steps] == ["close"]
    settle = book.step("settle")
    assert settle.timeout == 2.0
    assert settle.retry == RetryPolicy(attempts=3, backoff="exponential", initial=0.01, max=1.0, jitter=0.5)
    probe = book.step("probe")
    assert probe.approval is True
    assert probe.on_failure == "continue"
    assert probe.retry.attempts == 2
    assert book.step("tell").when is True
    assert book.input("teams") is not None and book.input("teams").default == ["sre", "sec"]  # type: ignore[union-attr]
    assert book.digest.startswith("sha256:")
    with pytest.raises(TypeError):
        probe.params["url"] = "http://elsewhere"  # type: ignore[index]


@pytest.mark.parametrize("path", [SHIPPED / "local-drill.yaml", RUNBOOKS / "minimal.yaml"], ids=lambda p: p.name)
def test_shipped_and_fixture_runbooks_are_valid(path: object) -> None:
    book = parse_runbook(path.read_text(), str(path), SPECS)  # type: ignore[attr-defined]
    assert book.steps


def test_without_action_specs_unknown_actions_are_not_checked() -> None:
    text = HEAD + "steps:\n  - {id: a, action: vendor.thing, with: {anything: 1}}\n"
    assert parse_runbook(text, "t.yaml").steps[0].action == "vendor.thing"
    assert "unknown action" in messages(problems(text))["steps[0].action"]


def test_oversized_and_deeply_nested_documents_are_refused_quickly() -> None:
    huge = HEAD + "description: '" + "x" * (2 * 1024 * 1024 + 1) + "'\n"
    assert "larger than" in problems(huge)[0].message
    deep = HEAD + "description: " + "[" * 100 + "]" * 100 + "\n"
    assert "nested too deeply" in problems(deep)[0].message


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    found = problems("\n".join(lines) + "\n")
    assert any("more than" in p.message for p in found)
