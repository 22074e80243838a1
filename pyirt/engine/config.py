"""``irt.yaml``: providers, channels, routes, auth, redaction, policy and plugins.

The file is optional. ``--config FILE`` or ``$IRT_CONFIG`` name it; otherwise ``./irt.yaml`` is
read when present. Unknown top-level keys and malformed sections are reported with file and line.
Credentials are references (``env:NAME``, ``file:PATH``): an inline value under a credential key
is refused, so a config file can be committed safely.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyirt.core import yamlsrc
from pyirt.errors import InvalidInput, Problem, ValidationFailed

SECTIONS = ("providers", "channels", "routes", "auth", "redact", "policy", "plugins", "audit", "notify", "secrets")
CREDENTIAL_KEYS = ("password", "token", "url_secret", "routing_key", "secret", "api_key", "webhook_secret")
APPROVAL_POLICIES = ("interactive", "auto", "stop")


@dataclass(frozen=True)
class Config:
    path: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)
    redact: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()
    approval: str = "interactive"

    def section(self, name: str) -> Mapping[str, Any]:
        value = self.raw.get(name)
        return value if isinstance(value, Mapping) else {}


def load(option: str | None) -> Config:
    name = option or os.environ.get("IRT_CONFIG")
    if name:
        path = Path(name)
        if not path.is_file():
            raise InvalidInput(f"config file {path} does not exist")
    else:
        path = Path("irt.yaml")
        if not path.is_file():
            return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read config {path}: {exc}") from None
    return parse(text, str(path))


def parse(text: str, file: str) -> Config:
    doc = yamlsrc.load(text, file)
    if doc is None:
        return Config(path=file)
    problems: list[Problem] = []

    def problem(node: Any, path: str, message: str, key: Any = None) -> None:
        pos = yamlsrc.position(node, key=key) if key is not None else yamlsrc.position(node)
        problems.append(Problem(file, pos.line, pos.column, path, message))

    if not isinstance(doc, dict):
        raise ValidationFailed([Problem(file, 1, 1, "", "the config is a YAML map of sections")])
    for key in doc:
        if key not in SECTIONS:
            problem(doc, str(key), f"unknown section (known: {', '.join(SECTIONS)})", key=key)
    redact = doc.get("redact") or []
    if not isinstance(redact, list) or not all(isinstance(r, str) for r in redact):
        problem(doc, "redact", "expected a list of regular expressions", key="redact")
        redact = []
    for i, pattern in enumerate(redact):
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(Problem(file, yamlsrc.position(redact, index=i).line, 1, f"redact[{i}]",
                                    f"bad regular expression: {exc}"))
    plugins = doc.get("plugins") or []
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        problem(doc, "plugins", "expected a list of module or module:attribute names", key="plugins")
        plugins = []
    policy = doc.get("policy") or {}
    approval = "interactive"
    if isinstance(policy, dict):
        approval = policy.get("approval", "interactive")
        if approval not in APPROVAL_POLICIES:
            problem(policy, "policy.approval", f"must be one of {', '.join(APPROVAL_POLICIES)}", key="approval")
            approval = "interactive"
    else:
        problem(doc, "policy", "expected a map", key="policy")
    _check_inline_credentials(doc, "", problems, file)
    if problems:
        raise ValidationFailed(problems)
    return Config(path=file, raw=yamlsrc.plain(doc), redact=tuple(redact), plugins=tuple(plugins),
                  approval=str(approval))


def _check_inline_credentials(node: Any, path: str, problems: list[Problem], file: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else str(key)
            if str(key).lower() in CREDENTIAL_KEYS and isinstance(value, str) and not _is_reference(value):
                pos = yamlsrc.value_position(node, key)
                problems.append(Problem(file, pos.line, pos.column, sub,
                                        "credentials must be references (env:NAME or file:PATH), not inline"))
            else:
                _check_inline_credentials(value, sub, problems, file)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _check_inline_credentials(item, f"{path}[{i}]", problems, file)


def _is_reference(value: str) -> bool:
    return value.startswith(("env:", "file:", "gcp:", "aws:", "azure:", "vault:"))
