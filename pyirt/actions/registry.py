"""The action registry: every action comes in through an entry point of the ``pyirt.actions``
group (built-ins included) or a module named in ``irt.yaml``'s ``plugins:`` list.

An entry point names a module attribute holding an Action subclass or a list of them. A plugin
that fails to load, an object that is no action, or two registrations of one name fail at once
with a message naming the sources.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
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
    """Actions by name. Entry points load lazily, by namespace: ``docker.logs`` loads the entry
    point named ``docker`` (or ``docker-…``) first and every other one only if that did not define
    it, so a runbook of flow steps never imports the docker, Cloud Run or notify adapters. Listing,
    iterating or the schema load everything (and so find every duplicate)."""

    def __init__(self) -> None:
        self._actions: dict[str, Registered] = {}
        self._pending: list[tuple[str, Any, str]] = []  # (entry point name, entry point, source)

    def add(self, obj: Any, source: str) -> None:
        for cls in _actions_in(obj, source):
            name = cls.spec.name
            if name in self._actions:
                # Entry points are named first, whichever was loaded first.
                first, second = sorted((self._actions[name].source, source), key=lambda s: not s.startswith("entry"))
                raise RegistryError(f"action {name!r} is registered twice: by {first} and by {second}")
            self._actions[name] = Registered(cls, source)

    def defer(self, ep_name: str, entry_point: Any, source: str) -> None:
        self._pending.append((ep_name, entry_point, source))

    def _load(self, wanted: Callable[[str], bool]) -> None:
        keep = []
        for ep_name, entry_point, source in self._pending:
            if not wanted(ep_name):
                keep.append((ep_name, entry_point, source))
                continue
            try:
                obj = entry_point.load()
            except Exception as exc:
                raise RegistryError(f"{source} failed to load: {type(exc).__name__}: {exc}") from exc
            self.add(obj, source)
        self._pending = keep

    def load_namespace(self, name: str) -> None:
        """Load the entry points named for ``name``'s namespace (``docker`` for ``docker.logs``)."""
        namespace = name.split(".", 1)[0]
        self._load(lambda ep: ep == namespace or ep.startswith((namespace + "-", namespace + ".")))

    def _ensure(self, name: str) -> None:
        if name in self._actions or not self._pending:
            return
        self.load_namespace(name)
        if name not in self._actions:
            self.load_all()

    def load_all(self) -> None:
        if self._pending:
            self._load(lambda ep: True)

    def __getitem__(self, name: str) -> Registered:
        self._ensure(name)
        return self._actions[name]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self._ensure(name)
        return name in self._actions

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        return iter(sorted(self._actions))

    def __len__(self) -> int:
        self.load_all()
        return len(self._actions)

    def specs(self) -> Mapping[str, ActionSpec]:
        return _Specs(self)

    def create(self, name: str) -> Action:
        return self[name].cls()


class _Specs(Mapping[str, ActionSpec]):
    """The registry seen as name -> spec, as lazy as the registry itself."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def __getitem__(self, name: str) -> ActionSpec:
        return self._registry[name].cls.spec

    def __contains__(self, name: object) -> bool:
        return name in self._registry

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)


def _actions_in(obj: Any, source: str) -> Iterator[type[Action]]:
    items = obj if isinstance(obj, list | tuple) else [obj]
    for item in items:
        spec = getattr(item, "spec", None)
        if not (isinstance(item, type) and isinstance(spec, ActionSpec) and callable(getattr(item, "run", None))):
            raise RegistryError(f"{source}: {item!r} is not an action (a class with a spec and a run method)")
        yield item


def load(plugins: Iterable[str] = ()) -> Registry:
    """Actions from entry points (loaded on demand), then from ``plugins`` (``module`` or
    ``module:attr``, imported now: they are the user's own and few)."""
    registry = Registry()
    for ep in sorted(entry_points(group=GROUP), key=lambda e: (e.dist.name if e.dist else "", e.name)):
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "?"
        registry.defer(ep.name, ep, f"entry point {ep.name} = {ep.value} ({dist})")
    for ref in plugins:
        module_name, _, attr = ref.partition(":")
        source = f"plugin {ref}"
        try:
            module = importlib.import_module(module_name)
            obj = getattr(module, attr or "ACTIONS")
        except (ImportError, AttributeError) as exc:
            raise RegistryError(f"{source} failed to load: {type(exc).__name__}: {exc}") from exc
        before = set(registry._actions)
        registry.add(obj, source)
        for name in set(registry._actions) - before:  # a plugin clashing with an entry point fails now
            registry.load_namespace(name)
    return registry
