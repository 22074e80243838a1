"""The action registry: every action comes in through an entry point of the ``pyirt.actions``
group (built-ins included) or a module named in ``irt.yaml``'s ``plugins:`` list.

An entry point names a module attribute holding an Action subclass or a list of them. A plugin
that fails to load, an object that is no action, or two registrations of one name fail at once
with a message naming the sources.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from pyirt.actions.api import Action
from pyirt.core.actionspec import ActionSpec
from pyirt.errors import RegistryError

GROUP = "pyirt.actions"


@dataclass(frozen=True, slots=True)
class Registered:
    cls: type[Action]
    source: str


class Registry(Mapping[str, Registered]):
    def __init__(self) -> None:
        self._actions: dict[str, Registered] = {}

    def add(self, obj: Any, source: str) -> None:
        for cls in _actions_in(obj, source):
            name = cls.spec.name
            if name in self._actions:
                other = self._actions[name].source
                raise RegistryError(f"action {name!r} is registered twice: by {other} and by {source}")
            self._actions[name] = Registered(cls, source)

    def __getitem__(self, name: str) -> Registered:
        return self._actions[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._actions))

    def __len__(self) -> int:
        return len(self._actions)

    def specs(self) -> dict[str, ActionSpec]:
        return {name: reg.cls.spec for name, reg in self._actions.items()}

    def create(self, name: str) -> Action:
        return self._actions[name].cls()


def _actions_in(obj: Any, source: str) -> Iterator[type[Action]]:
    items = obj if isinstance(obj, list | tuple) else [obj]
    for item in items:
        spec = getattr(item, "spec", None)
        if not (isinstance(item, type) and isinstance(spec, ActionSpec) and callable(getattr(item, "run", None))):
            raise RegistryError(f"{source}: {item!r} is not an action (a class with a spec and a run method)")
        yield item


def load(plugins: Iterable[str] = ()) -> Registry:
    """All actions from entry points, then from ``plugins`` (``module`` or ``module:attr``)."""
    registry = Registry()
    for ep in sorted(entry_points(group=GROUP), key=lambda e: (e.dist.name if e.dist else "", e.name)):
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "?"
        source = f"entry point {ep.name} = {ep.value} ({dist})"
        try:
            obj = ep.load()
        except Exception as exc:
            raise RegistryError(f"{source} failed to load: {type(exc).__name__}: {exc}") from exc
        registry.add(obj, source)
    for ref in plugins:
        module_name, _, attr = ref.partition(":")
        source = f"plugin {ref}"
        try:
            module = importlib.import_module(module_name)
            obj = getattr(module, attr or "ACTIONS")
        except (ImportError, AttributeError) as exc:
            raise RegistryError(f"{source} failed to load: {type(exc).__name__}: {exc}") from exc
        registry.add(obj, source)
    return registry
