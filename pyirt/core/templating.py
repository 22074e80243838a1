"""Jinja templates in runbooks, rendered in a sandbox with strict undefined.

Only the runbook's own strings are templates. Values that come from inputs, alerts, step outputs
or secrets are data: they are inserted, never rendered again, so ``{{ 7*7 }}`` in an alert label
stays those eight characters.

A string that is exactly one ``{{ expression }}`` renders to the expression's native value (a
list stays a list, a number a number). ``secret(ref)`` returns a :class:`Secret`; a string that
interpolates one becomes a Secret as a whole, so its plain text reaches the action and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pyirt.core.secrets import MASK, Secret
from pyirt.errors import TemplateError

_SINGLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)
_SECRET_TOKEN = re.compile("\x1esecret:(\\d+)\x1e")
_secrets_seen: ContextVar[list[Secret] | None] = ContextVar("_secrets_seen", default=None)

REF_ROOTS = ("steps", "inputs", "env")


def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _finalize(value: Any) -> Any:
    """Called by Jinja on each ``{{ }}`` result: a Secret becomes a token swapped out afterwards."""
    if isinstance(value, Secret):
        seen = _secrets_seen.get()
        if seen is None:
            return MASK
        seen.append(value)
        return f"\x1esecret:{len(seen) - 1}\x1e"
    return value


@lru_cache(maxsize=1)
def environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class _Sandbox(SandboxedEnvironment):
        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            # A Secret exposes nothing to templates: not even reveal().
            if isinstance(obj, Secret):
                return False
            return bool(super().is_safe_attribute(obj, attr, value))

    env = _Sandbox(undefined=StrictUndefined, autoescape=False, finalize=_finalize)
    env.filters["duration"] = _duration_filter
    return env


def _duration_filter(value: Any) -> float:
    from pyirt.core.durations import parse_duration

    return parse_duration(value)


@lru_cache(maxsize=4096)
def _compile(source: str) -> Any:
    return environment().from_string(source)


@lru_cache(maxsize=4096)
def _compile_expr(expr: str) -> Any:
    return environment().compile_expression(expr, undefined_to_none=False)


def syntax_error(source: str) -> str | None:
    """The Jinja syntax error in ``source``, or None."""
    from jinja2 import TemplateSyntaxError

    try:
        environment().parse(source)
    except TemplateSyntaxError as exc:
        return f"template syntax: {exc.message}"
    return None


@dataclass(frozen=True, slots=True)
class Reference:
    root: str  # steps | inputs | env
    key: str
    guarded: bool = False  # read through ``| default(...)``: absence is allowed


def private_attributes(source: str) -> list[str]:
    """Names like ``__class__`` that ``source`` reads: the sandbox refuses them at run time, so
    validation reports them up front."""
    from jinja2 import nodes

    ast = environment().parse(source)
    found = [n.attr for n in ast.find_all(nodes.Getattr) if n.attr.startswith("_")]
    found += [str(n.arg.value) for n in ast.find_all(nodes.Getitem)
              if isinstance(n.arg, nodes.Const) and isinstance(n.arg.value, str) and n.arg.value.startswith("_")]
    return found


def references(source: str) -> Iterator[Reference]:
    """Every ``steps.X`` / ``steps['X']`` / ``inputs.X`` / ``env.X`` that ``source`` reads.

    Only constant keys are seen; ``steps[name]`` with a computed name is checked at run time.
    """
    from jinja2 import nodes

    ast = environment().parse(source)
    guarded = {id(f.node) for f in ast.find_all(nodes.Filter) if f.name in ("default", "d")}
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not (isinstance(target, nodes.Name) and target.name in REF_ROOTS):
            continue
        if isinstance(node, nodes.Getattr):
            yield Reference(target.name, node.attr, id(node) in guarded)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            yield Reference(target.name, node.arg.value, id(node) in guarded)


def render(source: str, context: Mapping[str, Any], where: str = "") -> Any:
    """Render one template string. Raises TemplateError naming ``where`` on any failure."""
    from jinja2 import TemplateError as JinjaError
    from jinja2 import Undefined
    from jinja2.exceptions import SecurityError

    seen: list[Secret] = []
    token = _secrets_seen.set(seen)
    try:
        match = _SINGLE_EXPR.match(source)
        if match and "{{" not in match.group("expr") and "}}" not in match.group("expr"):
            result = _compile_expr(match.group("expr"))(**context)
            if isinstance(result, Undefined):
                str(result)  # StrictUndefined raises here with the missing name
            return result
        text = _compile(source).render(**context)
    except SecurityError as exc:
        raise TemplateError(f"{where}: refused by the template sandbox: {exc}") from None
    except JinjaError as exc:
        text = _describe(exc)
        if text.endswith("is unsafe."):  # the attr filter's refusal surfaces as an undefined value
            raise TemplateError(f"{where}: refused by the template sandbox: {text}") from None
        raise TemplateError(f"{where}: {text}") from None
    except TemplateError as exc:  # from secret(): name the path like every other failure
        raise TemplateError(f"{where}: {exc}" if where else str(exc)) from None
    except Exception as exc:  # a filter or test raised on bad data: still the runbook's problem
        raise TemplateError(f"{where}: {type(exc).__name__}: {_describe(exc)}") from None
    finally:
        _secrets_seen.reset(token)
    if not seen:
        return text
    plain = _SECRET_TOKEN.sub(lambda m: seen[int(m.group(1))].reveal(), text)
    return Secret(plain, ref="template")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def render_value(value: Any, context: Mapping[str, Any], where: str = "") -> Any:
    """Render every template leaf of a nested value; non-template leaves pass through unchanged."""
    if isinstance(value, str):
        return render(value, context, where) if is_template(value) else value
    if isinstance(value, Mapping):
        return {k: render_value(v, context, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render_value(v, context, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def truthy(value: Any) -> bool:
    """How ``when:`` reads a rendered value: real booleans, and the strings people write."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "off", "0", "none", "null")
    return bool(value)


def build_context(
    *,
    inputs: Mapping[str, Any],
    steps: Mapping[str, Any],
    incident: Mapping[str, Any],
    alert: Mapping[str, Any] | None,
    env: Mapping[str, str],
    secret: Callable[[str], Secret],
) -> dict[str, Any]:
    return {
        "inputs": dict(inputs),
        "steps": dict(steps),
        "incident": dict(incident),
        "alert": dict(alert or {"labels": {}, "annotations": {}}),
        "env": dict(env),
        "secret": secret,
    }
