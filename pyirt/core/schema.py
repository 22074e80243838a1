"""The JSON Schema of the runbook format (``irt schema``), for editors that check as you type.

When action specs are given, each action's ``with:`` block gets its own schema (known parameter
names, required ones, types), selected by the step's ``action`` value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyirt.core.actionspec import ActionSpec
from pyirt.core.parse import API_VERSION, INPUT_TYPES, ON_FAILURE

DURATION = {"oneOf": [{"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"},
                      {"type": "number", "minimum": 0}]}
TEMPLATE = {"type": "string", "pattern": r"\{\{|\{%"}

_PARAM_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": ["string", "number"]},
    "int": {"type": "integer"},
    "number": {"type": "number"},
    "bool": {"type": "boolean"},
    "duration": DURATION,
    "list": {"type": "array"},
    "map": {"type": "object"},
    "any": {},
    "secret": {"type": "string"},
}


def _param_schema(kind: str, choices: tuple[str, ...], doc: str) -> dict[str, Any]:
    base: dict[str, Any] = {"enum": list(choices)} if choices else dict(_PARAM_TYPES[kind])
    schema: dict[str, Any] = {"anyOf": [base, TEMPLATE]} if base else {}
    if doc:
        schema["description"] = doc
    return schema


def _with_schema(spec: ActionSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {p.name: _param_schema(p.type, p.choices, p.doc) for p in spec.params},
        "required": [p.name for p in spec.params if p.required],
    }


def runbook_schema(actions: Mapping[str, ActionSpec] | None = None) -> dict[str, Any]:
    call = {
        "type": "object",
        "additionalProperties": False,
        "required": ["action"],
        "properties": {"action": {"type": "string"}, "with": {"type": "object"}},
    }
    step: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "action"],
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
            "action": {"type": "string"} if not actions else {"enum": sorted(actions)},
            "description": {"type": "string"},
            "with": {"type": "object"},
            "when": {"oneOf": [{"type": "string"}, {"type": "boolean"}]},
            "timeout": DURATION,
            "retry": {"oneOf": [
                {"type": "integer", "minimum": 1, "maximum": 100},
                {"type": "object", "additionalProperties": False, "properties": {
                    "attempts": {"type": "integer", "minimum": 1, "maximum": 100},
                    "backoff": {"enum": ["fixed", "exponential"]},
                    "initial": DURATION, "max": DURATION,
                    "jitter": {"type": "number", "minimum": 0, "maximum": 1},
                }},
            ]},
            "on_failure": {"enum": list(ON_FAILURE)},
            "approval": {"enum": ["required", "none", True, False]},
            "undo": call,
        },
    }
    if actions:
        step["allOf"] = [
            {"if": {"properties": {"action": {"const": name}}, "required": ["action"]},
             "then": {"properties": {"with": _with_schema(spec)}}}
            for name, spec in sorted(actions.items())
        ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://pyirt.dev/schema/runbook-v1.json",
        "title": "pyirt runbook (irt/v1)",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "name", "steps"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": "Runbook"},
            "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"},
            "description": {"type": "string"},
            "env": {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}},
            "inputs": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "type": {"enum": list(INPUT_TYPES)},
                        "default": {},
                        "required": {"type": "boolean"},
                        "choices": {"type": "array"},
                        "description": {"type": "string"},
                    },
                },
            },
            "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}},
            "finally": {"type": "array", "items": {"$ref": "#/$defs/step"}},
        },
        "$defs": {"step": step},
    }
