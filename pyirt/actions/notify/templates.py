"""Message templates: Jinja files under ``templates/notify/``, overridable by the user.

The search path is the folders listed in ``irt.yaml`` under ``notify: {templates: DIR}`` (a string
or a list), then the templates shipped with pyirt. A user folder mirrors the shipped layout: to
restyle Slack messages, put ``notify/slack.json.j2`` in it. Templates render in a sandbox with
strict undefined; ``*.json.j2`` ones must produce JSON, ``*.html.j2`` ones are autoescaped.
Everything they get is data that was already redacted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pyirt.errors import ActionError


def packaged_dir() -> Path:
    """The shipped ``templates/``: inside the package in a wheel, at the repository root otherwise."""
    import pyirt

    here = Path(pyirt.__file__).resolve().parent
    inside = here / "templates"
    return inside if (inside / "notify").is_dir() else here.parent / "templates"


def search_path(config: Mapping[str, Any]) -> tuple[str, ...]:
    section = config.get("notify")
    user: Any = section.get("templates") if isinstance(section, Mapping) else None
    dirs = [user] if isinstance(user, str) else list(user) if isinstance(user, list) else []
    return (*(str(Path(d).expanduser()) for d in dirs if isinstance(d, str)), str(packaged_dir()))


def slack_escape(value: Any) -> str:
    """Slack mrkdwn control characters escaped: data (an alert label) can neither ping
    ``<!channel>`` nor forge a link."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@lru_cache(maxsize=8)
def _environment(paths: tuple[str, ...]) -> Any:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=FileSystemLoader(list(paths)), undefined=StrictUndefined,
        autoescape=lambda name: bool(name) and name.endswith((".html.j2", ".html")),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
    )
    env.filters["mrkdwn"] = slack_escape
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    return env


def render(config: Mapping[str, Any], name: str, context: Mapping[str, Any]) -> str:
    """Render ``notify/<name>``. A missing or failing template is an ActionError naming it."""
    from jinja2 import TemplateError, TemplateNotFound

    where = f"notify/{name}"
    try:
        template = _environment(search_path(config)).get_template(where)
        return str(template.render(**context)).strip()
    except TemplateNotFound:
        raise ActionError(f"template {where} not found", backend="template", retryable=False) from None
    except TemplateError as exc:
        lineno = getattr(exc, "lineno", None)
        line = f" line {lineno}" if lineno else ""
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ActionError(f"template {where}{line}: {reason}", backend="template", retryable=False) from None
    except Exception as exc:  # a filter or test that choked on the data: still the template's problem
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise ActionError(f"template {where}: {type(exc).__name__}: {reason}".rstrip(": "), backend="template",
                          retryable=False) from None


def render_json(config: Mapping[str, Any], name: str, context: Mapping[str, Any]) -> Any:
    text = render(config, name, context)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ActionError(f"template notify/{name} did not produce JSON: {exc}", backend="template",
                          retryable=False) from None
