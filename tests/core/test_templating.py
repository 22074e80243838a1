"""Templates render in a sandbox: data from inputs and alerts is never rendered again, Python
internals are out of reach, and a secret's value only ever leaves as a masked Secret."""

from __future__ import annotations

from typing import Any

import pytest

from pyirt.core import templating
from pyirt.core.secrets import MASK, Redactor, Secret
from pyirt.engine import secretref
from pyirt.errors import EXIT_INVALID, TemplateError
from tests.helpers import CANARY

INJECTIONS = ["{{ 7*7 }}", "{% for x in range(3) %}{{ x }}{% endfor %}", "{{ ''.__class__.__mro__ }}",
              "{{ secret('env:CANARY_TOKEN') }}", "{# comment #}", "{{", "}}{{"]


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch, redactor: Redactor) -> dict[str, Any]:
    monkeypatch.setenv("CANARY_TOKEN", CANARY)
    return templating.build_context(
        inputs={"service": "{{ 7*7 }}", "count": 3, "teams": ["a", "b"]},
        steps={"collect": {"output": {"memory_limit": "2g", "note": "{{ 6*7 }}"}, "status": "succeeded"}},
        incident={"id": "i-1", "started_at": "2026-01-01T00:00:00Z"},
        alert={"labels": {"service": "{{ config }}", "team": "{% raw %}x"},
               "annotations": {"summary": "{{ lipsum.__globals__ }}"}},
        env={},
        secret=secretref.resolver(redactor),
    )


# -- injected data stays data ---------------------------------------------------------------------
@pytest.mark.parametrize("payload", INJECTIONS)
def test_input_values_are_inserted_never_rendered(payload: str, context: dict[str, Any]) -> None:
    context["inputs"]["service"] = payload
    assert templating.render("{{ inputs.service }}", context) == payload
    assert templating.render("svc={{ inputs.service }}!", context) == f"svc={payload}!"


def test_alert_labels_and_annotations_stay_data(context: dict[str, Any]) -> None:
    assert templating.render("{{ alert.labels.service }}", context) == "{{ config }}"
    assert templating.render("[{{ alert.labels.team }}]", context) == "[{% raw %}x]"
    assert templating.render("{{ alert.annotations.summary }}", context) == "{{ lipsum.__globals__ }}"


def test_step_outputs_stay_data(context: dict[str, Any]) -> None:
    assert templating.render("{{ steps.collect.output.note }}", context) == "{{ 6*7 }}"
    assert templating.render("{{ steps['collect'].output.memory_limit }}", context) == "2g"


def test_a_single_expression_keeps_its_native_type(context: dict[str, Any]) -> None:
    assert templating.render("{{ inputs.count }}", context) == 3
    assert templating.render("{{ inputs.teams }}", context) == ["a", "b"]
    assert templating.render(" {{ inputs.count + 1 }} ", context) == 4
    assert templating.render("{{ inputs.count }}{{ inputs.count }}", context) == "33"


def test_render_value_renders_every_leaf_and_names_the_path(context: dict[str, Any]) -> None:
    value = {"a": ["{{ inputs.count }}", "plain"], "b": {"c": "{{ incident.id }}"}, "n": 5}
    assert templating.render_value(value, context, "w") == {"a": [3, "plain"], "b": {"c": "i-1"}, "n": 5}
    with pytest.raises(TemplateError, match=r"^w\.b\.c\[1\]: "):
        templating.render_value({"b": {"c": ["ok", "{{ nope }}"]}}, context, "w")


def test_strict_undefined_names_the_missing_value(context: dict[str, Any]) -> None:
    with pytest.raises(TemplateError) as caught:
        templating.render("hello {{ inputs.missing }}", context, "steps.a.with.text")
    assert str(caught.value).startswith("steps.a.with.text: ")
    assert "missing" in str(caught.value)
    assert caught.value.exit_code == EXIT_INVALID
    with pytest.raises(TemplateError, match="undefined"):
        templating.render("{{ nothing_here }}", context, "w")


# -- the sandbox --------------------------------------------------------------------------------------
ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ self.__init__.__globals__ }}",
    "{{ secret.__globals__ }}",
    "{{ secret('env:CANARY_TOKEN').reveal() }}",
    "{{ secret('env:CANARY_TOKEN')._value }}",
    "{{ secret('env:CANARY_TOKEN') | attr('_value') }}",
    "{{ secret('env:CANARY_TOKEN').__reduce_ex__(2) }}",
    "{{ (secret('env:CANARY_TOKEN') | attr('reveal'))() }}",
    "{{ inputs.__class__ }}",
    "{{ inputs.teams.__class__.__base__ }}",
    "{{ [].pop.__self__ }}",
    "x {{ ''.format.__globals__ }} y",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_python_internals_are_refused_by_the_sandbox(source: str, context: dict[str, Any]) -> None:
    with pytest.raises(TemplateError) as caught:
        templating.render(source, context, "steps.x.with.text")
    message = str(caught.value)
    assert message.startswith("steps.x.with.text: ")
    assert CANARY not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "source", ["{{ ''.__class__ }}", "{{ cycler.__init__ }}", "{{ secret('env:CANARY_TOKEN').reveal() }}"])
def test_sandbox_refusal_says_so(source: str, context: dict[str, Any]) -> None:
    with pytest.raises(TemplateError, match="refused by the template sandbox"):
        templating.render(source, context, "w")


# -- secrets ------------------------------------------------------------------------------------------
def test_a_secret_renders_to_a_masked_secret_and_is_registered_for_redaction(
    context: dict[str, Any], redactor: Redactor
) -> None:
    value = templating.render("Bearer {{ secret('env:CANARY_TOKEN') }}", context, "w")
    assert isinstance(value, Secret)
    assert value.reveal() == f"Bearer {CANARY}"
    assert str(value) == MASK
    assert repr(value) == "Secret(template)"
    assert CANARY not in f"{value} {value!r} {value:>40}"
    assert redactor(f"token={CANARY};") == f"token={MASK};"


@pytest.mark.parametrize(
    "source",
    [
        "{{ secret('env:CANARY_TOKEN') | string }}",
        "{{ secret('env:CANARY_TOKEN') | upper }}",
        "{{ secret('env:CANARY_TOKEN') | pprint }}",
        "{{ secret('env:CANARY_TOKEN') ~ '' }}",
        "{{ '%s' % secret('env:CANARY_TOKEN') }}",
        "{{ secret('env:CANARY_TOKEN') | replace('C', 'K') }}",
        "{{ secret('env:CANARY_TOKEN') | string | list }}",
        "{{ secret('env:CANARY_TOKEN') | urlencode }}",
        "{% filter upper %}{{ secret('env:CANARY_TOKEN') }}{% endfilter %}",
        "{% set s %}{{ secret('env:CANARY_TOKEN') }}{% endset %}{{ s[1:] }}",
        "{{ secret('env:CANARY_TOKEN') == '" + CANARY + "' }}",
    ],
)
def test_no_filter_or_trick_turns_a_secret_into_plain_text(source: str, context: dict[str, Any]) -> None:
    try:
        value = templating.render(source, context, "w")
    except TemplateError as exc:
        assert CANARY not in str(exc)
        return
    plain = value if not isinstance(value, Secret) else str(value)
    assert CANARY not in str(plain)
    assert CANARY not in repr(plain)


def test_secret_with_unknown_scheme_or_missing_variable_is_a_template_error(
    context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(TemplateError) as caught:
        templating.render("Bearer {{ secret('env:NOT_SET_ANYWHERE') }}", context, "steps.a.with.headers.auth")
    assert str(caught.value) == ("steps.a.with.headers.auth: secret env:NOT_SET_ANYWHERE: "
                                 "environment variable NOT_SET_ANYWHERE is not set")
    with pytest.raises(TemplateError, match="unknown scheme 'vault'"):
        templating.render("{{ secret('vault:x') }}", context, "w")


def test_secret_from_a_file(tmp_path: Any, redactor: Redactor) -> None:
    path = tmp_path / "token"
    path.write_text(CANARY + "\n")
    resolve = secretref.resolver(redactor)
    assert resolve(f"file:{path}").reveal() == CANARY
    assert CANARY in redactor.values
    with pytest.raises(TemplateError, match="cannot read"):
        resolve(f"file:{tmp_path / 'absent'}")


# -- references seen by the validator -----------------------------------------------------------------
def test_references_finds_constant_keys_and_guards() -> None:
    refs = list(templating.references(
        "{{ steps.a.output.x }} {{ steps['b-c'].status }} {{ inputs.n | default(1) }} {{ env.HOME }} {{ other.y }}"
    ))
    assert [(r.root, r.key, r.guarded) for r in refs] == [
        ("steps", "a", False), ("steps", "b-c", False), ("inputs", "n", True), ("env", "HOME", False)]


@pytest.mark.parametrize(("value", "truth"), [
    ("false", False), (" No ", False), ("off", False), ("0", False), ("", False), ("none", False),
    ("null", False), ("true", True), ("yes", True), ("anything", True), (0, False), (1, True),
    ([], False), ([0], True), (None, False),
])
def test_truthy_reads_when_values_the_way_people_write_them(value: Any, truth: bool) -> None:
    assert templating.truthy(value) is truth
