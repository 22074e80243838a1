"""``kind: World`` (and ``kind: Scenario``) documents with positions, for ``irt sim`` and ``irt drill``.

A document is read once with :mod:`pyirt.core.yamlsrc`, which keeps the line and column of every
key and item; :meth:`Document.problem` turns a path such as ``containers[0].memory_usage`` into a
:class:`~pyirt.errors.Problem` at that place. :func:`check_world` hands each section to its own
simulator's parser (containers, cloudrun, secrets, channels) and reports what they refuse, each
problem at its line, all sections at once::

    apiVersion: irt/v1
    kind: World
    containers: [...]     # pyirt.sim.docker_world
    cloudrun: [...]       # pyirt.sim.cloudrun_world; a revision may also say healthy: false
    secrets: [...]        # pyirt.sim.secrets_world (gcp: Secret Manager, azure: Key Vault)
    channels: [...]       # pyirt.sim.sinks
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyirt.core import yamlsrc
from pyirt.errors import InvalidInput, Problem, ValidationFailed
from pyirt.sim.cloudrun_state import WorldError

WORLD_KEYS = ("apiVersion", "kind", "name", "description", "containers", "cloudrun", "secrets", "channels")
SECRET_PROVIDERS = {"gcp": "pyirt.sim.secretmanager", "azure": "pyirt.sim.keyvault"}
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_PATH = re.compile(r"^([A-Za-z_][\w-]*(?:\[\d+\]|\.[\w-]+)*): (.*)$", re.DOTALL)

__all__ = ["Document", "WorldError", "check_world", "load_document", "load_world"]


@dataclass(frozen=True)
class Document:
    """A YAML document: ``data`` as plain values, ``node`` with positions, ``prefix`` the path of
    ``data`` inside the file (``world`` for a world written inline in a scenario)."""

    file: str
    node: Any
    data: Any
    prefix: str = ""

    def sub(self, key: str) -> Document:
        """The document under ``key`` (its paths are reported with the prefix)."""
        node = self.node.get(key) if isinstance(self.node, Mapping) else None
        data = self.data.get(key) if isinstance(self.data, Mapping) else None
        return Document(self.file, node, data, self._join(key))

    def _join(self, path: str) -> str:
        if not self.prefix:
            return path
        if not path:
            return self.prefix
        return f"{self.prefix}{path}" if path.startswith("[") else f"{self.prefix}.{path}"

    def problem(self, path: str, message: str) -> Problem:
        pos = self.position(path)
        return Problem(self.file, pos.line, pos.column, self._join(path), message)

    def position(self, path: str) -> yamlsrc.Pos:
        """Where ``path`` (``a.b[2].c``) is: the deepest part of it the document has."""
        node, pos = self.node, yamlsrc.position(self.node)
        for name, index in _STEP.findall(path):
            if index:
                i = int(index)
                if not isinstance(node, list) or i >= len(node):
                    break
                pos, node = yamlsrc.position(node, index=i), node[i]
            else:
                if not isinstance(node, Mapping) or name not in node:
                    break
                pos, node = yamlsrc.position(node, key=name), node[name]
        return pos


def load_document(path: str | Path, kinds: tuple[str, ...] = ("World",)) -> Document:
    """Read a YAML file of one of ``kinds``; ValidationFailed (with positions) when it is not one."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    node = yamlsrc.load(text, str(file))
    doc = Document(str(file), node, yamlsrc.plain(node))
    if not isinstance(doc.data, dict):
        raise ValidationFailed([Problem(str(file), 1, 1, "", f"expected a map with apiVersion: irt/v1 and kind: "
                                                            f"{' or '.join(kinds)}")])
    problems = []
    kind = doc.data.get("kind")
    if kind not in kinds:
        problems.append(doc.problem("kind", f"expected {' or '.join(kinds)}, not {kind!r}"))
    if doc.data.get("apiVersion", "irt/v1") != "irt/v1":
        problems.append(doc.problem("apiVersion", f"expected irt/v1, not {doc.data.get('apiVersion')!r}"))
    if problems:
        raise ValidationFailed(problems)
    return doc


def load_world(path: str | Path) -> tuple[Document, dict[str, Any]]:
    """A World file, checked: (the document, its plain map). ValidationFailed lists every problem."""
    doc = load_document(path, ("World",))
    problems = check_world(doc)
    if problems:
        raise ValidationFailed(problems)
    return doc, dict(doc.data)


def check_world(doc: Document) -> list[Problem]:
    """Every problem of a World map (``doc.data``), each at its line: unknown sections, then what
    each simulator refuses in its own section."""
    data = doc.data
    if not isinstance(data, Mapping):
        return [doc.problem("", "a World is a map of sections (containers, cloudrun, secrets, channels)")]
    problems = [doc.problem(str(key), f"unknown section (known: {', '.join(WORLD_KEYS[2:])})")
                for key in data if key not in WORLD_KEYS]
    plain, _ = split_health(data)
    for section, parse in _parsers().items():
        if data.get(section) is None:
            continue
        try:
            parse(plain)
        except WorldError as exc:
            problems.append(_located(doc, section, str(exc)))
        except ValueError as exc:
            problems.append(doc.problem(section, str(exc)))
    problems += _unsimulated_secrets(doc)
    return problems


def split_health(world: Mapping[str, Any]) -> tuple[dict[str, Any], dict[tuple[str, str, str], set[str]]]:
    """The world without the ``healthy:`` flags of Cloud Run revisions, and the unhealthy revisions
    per (project, region, service). ``healthy: false`` is a drill's addition: the service's health
    endpoint answers 503 while such a revision serves traffic."""
    unhealthy: dict[tuple[str, str, str], set[str]] = {}
    services = world.get("cloudrun")
    if not isinstance(services, list):
        return dict(world), unhealthy
    cleaned = []
    for svc in services:
        if not isinstance(svc, Mapping) or not isinstance(svc.get("revisions"), list):
            cleaned.append(svc)
            continue
        key = (str(svc.get("project")), str(svc.get("region") or "us-central1"), str(svc.get("service")))
        revisions = []
        for rev in svc["revisions"]:
            if isinstance(rev, Mapping) and "healthy" in rev:
                if rev["healthy"] is False:
                    unhealthy.setdefault(key, set()).add(str(rev.get("name")))
                rev = {k: v for k, v in rev.items() if k != "healthy"}
            revisions.append(rev)
        cleaned.append({**svc, "revisions": revisions})
    return {**world, "cloudrun": cleaned}, unhealthy


def _parsers() -> dict[str, Callable[[Mapping[str, Any]], object]]:
    from pyirt.sim.cloudrun_world import parse_world
    from pyirt.sim.docker_world import parse_containers
    from pyirt.sim.sinks import parse_channels

    parsers: dict[str, Callable[[Mapping[str, Any]], object]] = {
        "containers": parse_containers, "cloudrun": parse_world, "channels": parse_channels}
    if any(secrets_available(p) for p in SECRET_PROVIDERS):
        parsers["secrets"] = _parse_secrets
    return parsers


def _parse_secrets(world: Mapping[str, Any]) -> object:
    """Each simulated store's entries, with the operations its faults may name."""
    from pyirt.sim.secrets_world import parse_secrets

    found = []
    for provider, module in SECRET_PROVIDERS.items():
        if secrets_available(provider):
            found.append(parse_secrets(world, provider, importlib.import_module(module).OPS))
    return found


def secrets_available(provider: str) -> bool:
    """Whether the simulator of a secret store ships with this pyirt (``pyirt.sim.secretmanager``...)."""
    module = SECRET_PROVIDERS.get(provider)
    return module is not None and importlib.util.find_spec(module) is not None


def _unsimulated_secrets(doc: Document) -> list[Problem]:
    entries = doc.data.get("secrets") if isinstance(doc.data, Mapping) else None
    if not isinstance(entries, list):
        return []
    problems = []
    for i, entry in enumerate(entries):
        provider = entry.get("provider") if isinstance(entry, Mapping) else None
        if provider is not None and not secrets_available(str(provider)):
            known = ", ".join(p for p in SECRET_PROVIDERS if secrets_available(p)) or "none in this installation"
            problems.append(doc.problem(f"secrets[{i}].provider", f"no simulator for {provider} secrets "
                                                                  f"(simulated: {known})"))
    return problems


def _located(doc: Document, section: str, message: str) -> Problem:
    """A simulator's ``path: message`` as a Problem at that path (the section when no path leads)."""
    match = _PATH.match(message)
    if match and (match.group(1) == section or match.group(1).startswith((f"{section}[", f"{section}."))):
        return doc.problem(match.group(1), match.group(2))
    return doc.problem(section, message)
