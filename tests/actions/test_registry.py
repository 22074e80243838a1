"""The action registry: built-ins come in through entry points like any plugin; a plugin that does
not load, is no action, or clashes with another fails at once, naming where both came from."""

from __future__ import annotations

from typing import Any

import pytest

from pyirt.actions.api import Action, ActionContext
from pyirt.actions.registry import Registry, load
from pyirt.core.actionspec import ActionSpec
from pyirt.errors import EXIT_ENVIRONMENT, RegistryError
from tests.helpers import PLUGINS

BUILT_INS = {"flow.approve", "flow.wait", "http.check", "notify.console"}


class Hello(Action):
    spec = ActionSpec(name="test.hello", summary="says hello")

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        return {"hello": True}


def test_built_ins_are_registered_through_entry_points() -> None:
    registry = load()
    assert set(registry) >= BUILT_INS
    assert list(registry) == sorted(registry)
    for name in BUILT_INS:
        assert registry[name].source.startswith("entry point ")
        assert "(pyirt " in registry[name].source
        assert registry.specs()[name].name == name
        assert isinstance(registry.create(name), Action)


def test_plugins_named_in_the_config_are_added(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    registry = load(["irt_fixture_actions"])
    assert {"fixture.flaky", "fixture.fail", "fixture.record"} <= set(registry)
    assert registry["fixture.flaky"].source == "plugin irt_fixture_actions"


def test_a_plugin_may_name_one_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    registry = load(["irt_fixture_actions:Flaky"])
    assert "fixture.flaky" in registry
    assert "fixture.fail" not in registry


def test_a_duplicate_name_fails_naming_both_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    with pytest.raises(RegistryError) as caught:
        load(["irt_fixture_dup"])
    message = str(caught.value)
    assert "action 'notify.console' is registered twice" in message
    assert "entry point notify-console = pyirt.actions.console:ACTIONS (pyirt " in message
    assert "plugin irt_fixture_dup" in message
    assert caught.value.exit_code == EXIT_ENVIRONMENT


def test_the_same_action_twice_is_a_duplicate_too() -> None:
    registry = Registry()
    registry.add(Hello, "plugin a")
    with pytest.raises(RegistryError, match="registered twice: by plugin a and by plugin b"):
        registry.add([Hello], "plugin b")


@pytest.mark.parametrize("ref", ["irt_no_such_module_anywhere", "irt_fixture_actions:NOPE"])
def test_a_plugin_that_does_not_load_is_named(monkeypatch: pytest.MonkeyPatch, ref: str) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    with pytest.raises(RegistryError, match=f"plugin {ref} failed to load: "):
        load([ref])


@pytest.mark.parametrize("thing", [object(), "notify.console", [Hello, 3], type("NoSpec", (), {"run": None})])
def test_something_that_is_no_action_is_refused(thing: object) -> None:
    with pytest.raises(RegistryError, match=r"plugin x: .* is not an action"):
        Registry().add(thing, "plugin x")
