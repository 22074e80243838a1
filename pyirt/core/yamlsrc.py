"""YAML with positions: loads a document with ruamel's round-trip loader, which keeps the line
and column of every key and item, and turns its nodes into plain Python values on demand.

Loading never raises anything but :class:`~pyirt.errors.ValidationFailed`: syntax errors,
duplicate keys, recursive aliases and absurdly large documents all become one Problem.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from pyirt.errors import Problem, ValidationFailed

MAX_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Pos:
    line: int  # 1-based
    column: int  # 1-based


def load(text: str, file: str) -> Any:
    """Parse one YAML document; the result keeps ruamel's position data."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    if len(text) > MAX_BYTES:
        raise ValidationFailed([Problem(file, 1, 1, "", f"file is larger than {MAX_BYTES} bytes")])
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = (exc.problem or exc.context or "invalid YAML").strip()
        raise ValidationFailed([Problem(file, line, col, "", f"YAML: {what}")]) from None
    except (YAMLError, RecursionError, ValueError, TypeError, AttributeError, IndexError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationFailed([Problem(file, 1, 1, "", f"YAML: {msg}")]) from None
    _check_shape(doc, file)
    return doc


def _check_shape(doc: Any, file: str) -> None:
    """Refuse recursive aliases and alias bombs before anything walks the tree."""
    count = 0
    stack: list[tuple[Any, int, frozenset[int]]] = [(doc, 0, frozenset())]
    while stack:
        node, depth, ancestors = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ValidationFailed([Problem(file, 1, 1, "", f"document has more than {MAX_NODES} nodes")])
        if depth > MAX_DEPTH:
            pos = position(node)
            raise ValidationFailed([Problem(file, pos.line, pos.column, "", "document is nested too deeply")])
        if isinstance(node, dict | list):
            if id(node) in ancestors:
                pos = position(node)
                raise ValidationFailed([Problem(file, pos.line, pos.column, "", "recursive alias")])
            inner = ancestors | {id(node)}
            children = list(node.values()) if isinstance(node, dict) else list(node)
            stack.extend((child, depth + 1, inner) for child in children)


def position(node: Any, key: Any = None, index: int | None = None) -> Pos:
    """Where ``node`` (or its ``key``, or its item ``index``) stands in the source."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return Pos(1, 1)
    try:
        if key is not None:
            line, col = lc.key(key)
        elif index is not None:
            line, col = lc.item(index)
        else:
            line, col = lc.line, lc.col
    except (KeyError, IndexError, TypeError, AttributeError):
        line, col = getattr(lc, "line", 0) or 0, getattr(lc, "col", 0) or 0
    return Pos(int(line) + 1, int(col) + 1)


def value_position(node: Any, key: Any) -> Pos:
    lc = getattr(node, "lc", None)
    try:
        line, col = lc.value(key)  # type: ignore[union-attr]
    except (KeyError, IndexError, TypeError, AttributeError):
        return position(node, key=key)
    return Pos(int(line) + 1, int(col) + 1)


def plain(node: Any) -> Any:
    """ruamel's node types turned into dict, list, str, int, float, bool and None."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, _dt.datetime | _dt.date):
        return node.isoformat()
    if node is None:
        return None
    return str(node)


def scalar_kind(value: Any) -> str:
    """The runbook-facing name of a YAML value's type, for error messages."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    if value is None:
        return "null"
    return type(value).__name__
