"""Runbook parsing and validation: YAML text in, a frozen :class:`Runbook` out, or every problem.

The parser walks the document once, collecting a :class:`~pyirt.errors.Problem` (file, line,
column, path, message) for everything wrong and carrying on, so ``irt validate`` can report all
errors at once. It raises nothing but :class:`~pyirt.errors.ValidationFailed`.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from pyirt.core import templating, yamlsrc
from pyirt.core.actionspec import ActionSpec
from pyirt.core.durations import parse_duration
from pyirt.core.model import Call, InputSpec, RetryPolicy, Runbook, Step, freeze
from pyirt.errors import Problem, ValidationFailed

API_VERSION = "irt/v1"
TOP_KEYS = ("apiVersion", "kind", "name", "description", "inputs", "env", "steps", "finally")
STEP_KEYS = ("id", "action", "with", "when", "timeout", "retry", "on_failure", "approval", "undo", "description")
INPUT_KEYS = ("type", "default", "required", "choices", "description")
RETRY_KEYS = ("attempts", "backoff", "initial", "max", "jitter")
UNDO_KEYS = ("action", "with")
INPUT_TYPES = ("string", "int", "bool", "duration", "list")
ON_FAILURE = ("abort", "continue", "rollback")
STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_runbook(text: str, file: str, actions: Mapping[str, ActionSpec] | None = None) -> Runbook:
    """Parse and validate. ``actions`` (name -> spec) enables the action and parameter checks."""
    doc = yamlsrc.load(text, file)
    parser = _Parser(file, actions)
    runbook = parser.runbook(doc)
    if parser.problems or runbook is None:
        raise ValidationFailed(sorted(parser.problems, key=lambda p: (p.line, p.column)))
    return Runbook(
        name=runbook.name, steps=runbook.steps, finally_steps=runbook.finally_steps, inputs=runbook.inputs,
        env=runbook.env, description=runbook.description, source=file, digest=digest(text),
    )


def _suggest(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Parser:
    def __init__(self, file: str, actions: Mapping[str, ActionSpec] | None) -> None:
        self.file = file
        self.actions = actions
        self.problems: list[Problem] = []
        self.step_order: dict[str, int] = {}
        self.input_names: set[str] = set()
        self.env_names: set[str] = set()

    # -- reporting ---------------------------------------------------------------------------
    def problem(self, node: Any, path: str, message: str, *, key: Any = None, index: Any = None,
                value_of: Any = None) -> None:
        if value_of is not None:
            pos = yamlsrc.value_position(node, value_of)
        else:
            pos = yamlsrc.position(node, key=key, index=index)
        self.problems.append(Problem(self.file, pos.line, pos.column, path, message))

    def expect_map(self, node: Any, parent: Any, path: str, allowed: tuple[str, ...], **where: Any) -> bool:
        if not isinstance(node, dict):
            self.problem(parent, path, f"expected a map, got {yamlsrc.scalar_kind(node)}", **where)
            return False
        for key in node:
            if not isinstance(key, str):
                self.problem(node, path, f"keys must be strings, got {yamlsrc.scalar_kind(key)}", key=key)
            elif key not in allowed:
                sub = f"{path}.{key}" if path else key
                self.problem(node, sub, f"unknown key{_suggest(key, allowed)}", key=key)
        return True

    # -- document ----------------------------------------------------------------------------
    def runbook(self, doc: Any) -> Runbook | None:
        if not isinstance(doc, dict):
            message = "a runbook is a YAML map (apiVersion, kind, name, steps)"
            self.problems.append(Problem(self.file, 1, 1, "", message))
            return None
        self.expect_map(doc, doc, "", TOP_KEYS)
        if doc.get("apiVersion") != API_VERSION:
            self.problem(doc, "apiVersion", f"must be {API_VERSION!r}",
                         **({"value_of": "apiVersion"} if "apiVersion" in doc else {}))
        if "kind" in doc and doc.get("kind") != "Runbook":
            self.problem(doc, "kind", "must be 'Runbook'", value_of="kind")
        name = doc.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            self.problem(doc, "name", "required: letters, digits, '.', '_' or '-'",
                         **({"value_of": "name"} if "name" in doc else {}))
            name = "runbook"
        description = doc.get("description", "")
        if not isinstance(description, str):
            self.problem(doc, "description", "expected string", value_of="description")
            description = ""
        env = self.env(doc)
        inputs = self.inputs(doc)
        raw_steps = doc.get("steps")
        raw_finally = doc.get("finally", [])
        if raw_steps is None:
            self.problem(doc, "steps", "required: a list of steps")
            raw_steps = []
        # Ids first, so references can be checked against order whatever the list order.
        main_ids = self.collect_ids(doc, "steps", raw_steps, start=0)
        self.collect_ids(doc, "finally", raw_finally, start=len(main_ids))
        steps = self.step_list(doc, "steps", raw_steps, finally_phase=False)
        final = self.step_list(doc, "finally", raw_finally, finally_phase=True)
        return Runbook(name=str(name), steps=steps, finally_steps=final, inputs=inputs, env=env,
                       description=str(description))

    def env(self, doc: dict[str, Any]) -> tuple[str, ...]:
        raw = doc.get("env", [])
        if not isinstance(raw, list):
            self.problem(doc, "env", "expected a list of environment variable names", value_of="env")
            return ()
        names: list[str] = []
        for i, item in enumerate(raw):
            if not isinstance(item, str) or not ENV_NAME.match(item):
                self.problem(raw, f"env[{i}]", "not an environment variable name", index=i)
            else:
                names.append(item)
        self.env_names = set(names)
        return tuple(names)

    def inputs(self, doc: dict[str, Any]) -> tuple[InputSpec, ...]:
        raw = doc.get("inputs", {})
        if raw is None:
            return ()
        if not isinstance(raw, dict):
            self.problem(doc, "inputs", "expected a map of input name to its spec", value_of="inputs")
            return ()
        specs: list[InputSpec] = []
        for name, spec in raw.items():
            path = f"inputs.{name}"
            if not isinstance(name, str) or not ENV_NAME.match(name):
                self.problem(raw, path, "input names are letters, digits and '_'", key=name)
                continue
            self.input_names.add(name)
            if not self.expect_map(spec, raw, path, INPUT_KEYS, value_of=name):
                continue
            typ = spec.get("type", "string")
            if typ not in INPUT_TYPES:
                self.problem(spec, f"{path}.type", f"must be one of {', '.join(INPUT_TYPES)}", value_of="type")
                typ = "string"
            required = spec.get("required", False)
            if not isinstance(required, bool):
                self.problem(spec, f"{path}.required", "expected true or false", value_of="required")
                required = False
            choices = spec.get("choices", [])
            if not isinstance(choices, list):
                self.problem(spec, f"{path}.choices", "expected a list", value_of="choices")
                choices = []
            default = yamlsrc.plain(spec.get("default"))
            if default is not None:
                from pyirt.core.inputs import coerce_input

                try:
                    default = coerce_input(typ, default)
                except ValueError as exc:
                    self.problem(spec, f"{path}.default", str(exc), value_of="default")
                if choices and default not in choices:
                    self.problem(spec, f"{path}.default", "is not one of the choices", value_of="default")
            desc = spec.get("description", "")
            specs.append(InputSpec(name=name, type=typ, default=default, required=required,
                                   choices=tuple(yamlsrc.plain(choices)), description=str(desc)))
        return tuple(specs)

    def collect_ids(self, doc: dict[str, Any], key: str, raw: Any, start: int) -> list[str]:
        ids: list[str] = []
        if not isinstance(raw, list):
            return ids
        for i, item in enumerate(raw):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                sid = item["id"]
                if sid in self.step_order:
                    self.problem(item, f"{key}[{i}].id", f"duplicate step id {sid!r}", value_of="id")
                else:
                    self.step_order[sid] = start + i
                ids.append(sid)
        return ids

    def step_list(self, doc: dict[str, Any], key: str, raw: Any, finally_phase: bool) -> tuple[Step, ...]:
        if not isinstance(raw, list):
            self.problem(doc, key, f"expected a list of steps, got {yamlsrc.scalar_kind(raw)}", value_of=key)
            return ()
        if not raw and key == "steps":
            self.problem(doc, key, "a runbook needs at least one step", value_of=key)
        steps: list[Step] = []
        for i, item in enumerate(raw):
            step = self.step(raw, i, item, f"{key}[{i}]", finally_phase)
            if step is not None:
                steps.append(step)
        return tuple(steps)

    # -- steps -------------------------------------------------------------------------------
    def step(self, parent: Any, index: int, node: Any, path: str, finally_phase: bool) -> Step | None:
        if not self.expect_map(node, parent, path, STEP_KEYS, index=index):
            return None
        sid = node.get("id")
        if not isinstance(sid, str) or not STEP_ID.match(sid):
            self.problem(node, f"{path}.id", "required: lower-case letters, digits, '-' or '_'",
                         **({"value_of": "id"} if "id" in node else {"index": None}))
            sid = f"step-{index}"
        position = self.step_order.get(sid, 10**6)
        action = node.get("action")
        if not isinstance(action, str) or not action:
            self.problem(node, f"{path}.action", "required: an action name such as docker.logs",
                         **({"value_of": "action"} if "action" in node else {}))
            action = ""
        params = node.get("with", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            self.problem(node, f"{path}.with", "expected a map of parameters", value_of="with")
            params = {}
        self.check_call(node, path, action, params)
        self.check_templates(params, f"{path}.with", position, own=None)

        when = node.get("when")
        if when is not None:
            if isinstance(when, str):
                self.check_template_string(node, "when", when, f"{path}.when", position, own=None)
            elif not isinstance(when, bool):
                self.problem(node, f"{path}.when", "expected a template string or true/false", value_of="when")
                when = None

        timeout = self.duration(node, "timeout", f"{path}.timeout")
        retry = self.retry(node, f"{path}.retry")
        spec = self.actions.get(action) if self.actions is not None and action else None
        on_failure = node.get("on_failure", (spec.default_on_failure if spec else None) or "abort")
        if on_failure not in ON_FAILURE:
            self.problem(node, f"{path}.on_failure", f"must be one of {', '.join(ON_FAILURE)}",
                         value_of="on_failure")
            on_failure = "abort"
        approval_raw = node.get("approval", False)
        if approval_raw in ("required", True):
            approval = True
        elif approval_raw in ("none", False, None):
            approval = False
        else:
            self.problem(node, f"{path}.approval", "must be 'required' or 'none'", value_of="approval")
            approval = False
        undo = self.undo(node, f"{path}.undo", position, sid)
        desc = node.get("description", "")
        return Step(
            id=sid, action=action, params=freeze(yamlsrc.plain(params)),
            when=yamlsrc.plain(when), timeout=timeout, retry=retry, on_failure=on_failure,
            approval=approval, undo=undo, description=str(desc), line=yamlsrc.position(parent, index=index).line,
        )

    def duration(self, node: dict[str, Any], key: str, path: str) -> float | None:
        if key not in node or node[key] is None:
            return None
        try:
            return parse_duration(yamlsrc.plain(node[key]))
        except ValueError as exc:
            self.problem(node, path, str(exc), value_of=key)
            return None

    def retry(self, node: dict[str, Any], path: str) -> RetryPolicy:
        raw = node.get("retry")
        if raw is None:
            return RetryPolicy()
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = {"attempts": raw}
        elif not self.expect_map(raw, node, path, RETRY_KEYS, value_of="retry"):
            return RetryPolicy()
        attempts = raw.get("attempts", 1)
        if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 100:
            self.problem(raw, f"{path}.attempts", "must be a whole number from 1 to 100",
                         **({"value_of": "attempts"} if "attempts" in raw else {}))
            attempts = 1
        backoff = raw.get("backoff", "fixed")
        if backoff not in ("fixed", "exponential"):
            self.problem(raw, f"{path}.backoff", "must be 'fixed' or 'exponential'", value_of="backoff")
            backoff = "fixed"
        initial = self.duration(raw, "initial", f"{path}.initial")
        maximum = self.duration(raw, "max", f"{path}.max")
        jitter = raw.get("jitter", 0.0)
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter <= 1:
            self.problem(raw, f"{path}.jitter", "must be a fraction from 0 to 1", value_of="jitter")
            jitter = 0.0
        return RetryPolicy(attempts=int(attempts), backoff=backoff,
                           initial=1.0 if initial is None else initial,
                           max=60.0 if maximum is None else maximum, jitter=float(jitter))

    def undo(self, node: dict[str, Any], path: str, position: int, sid: str) -> Call | None:
        raw = node.get("undo")
        if raw is None:
            return None
        if not self.expect_map(raw, node, path, UNDO_KEYS, value_of="undo"):
            return None
        action = raw.get("action")
        if not isinstance(action, str) or not action:
            self.problem(raw, f"{path}.action", "required: an action name")
            return None
        params = raw.get("with", {}) or {}
        if not isinstance(params, dict):
            self.problem(raw, f"{path}.with", "expected a map of parameters", value_of="with")
            params = {}
        self.check_call(raw, path, action, params)
        self.check_templates(params, f"{path}.with", position, own=sid)
        return Call(action=action, params=freeze(yamlsrc.plain(params)))

    # -- actions and parameters ----------------------------------------------------------------
    def check_call(self, node: dict[str, Any], path: str, action: str, params: dict[str, Any]) -> None:
        if self.actions is None or not action:
            return
        spec = self.actions.get(action)
        if spec is None:
            self.problem(node, f"{path}.action", f"unknown action {action!r}{_suggest(action, self.actions)}",
                         value_of="action")
            return
        names = {p.name for p in spec.params}
        for key, value in params.items():
            if key not in names:
                self.problem(params, f"{path}.with.{key}",
                             f"{action} has no parameter {key!r}{_suggest(str(key), names)}", key=key)
                continue
            param = spec.param(key)
            if param is not None and not _contains_template(value):
                why = param.check(yamlsrc.plain(value))
                if why:
                    self.problem(params, f"{path}.with.{key}", why, value_of=key)
        for param in spec.params:
            if param.required and param.name not in params:
                self.problem(node, f"{path}.with.{param.name}", "required",
                             **({"value_of": "with"} if "with" in node else {"value_of": "action"}))
        for group in spec.one_of:
            given = [g for g in group if g in params]
            if len(given) != 1:
                what = "exactly one of" if given else "one of"
                self.problem(node, f"{path}.with", f"{what} {', '.join(group)} is required",
                             **({"value_of": "with"} if "with" in node else {"value_of": "action"}))

    # -- templates -----------------------------------------------------------------------------
    def check_templates(self, value: Any, path: str, position: int, own: str | None,
                        parent: Any = None, key: Any = None) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                self.check_templates(v, f"{path}.{k}", position, own, parent=value, key=k)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.check_templates(v, f"{path}[{i}]", position, own, parent=value, key=i)
        elif isinstance(value, str) and templating.is_template(value):
            self.check_template_string(parent, key, value, path, position, own)

    def check_template_string(self, parent: Any, key: Any, source: str, path: str, position: int,
                              own: str | None) -> None:
        def report(message: str) -> None:
            if isinstance(parent, list):
                self.problem(parent, path, message, index=key)
            elif parent is not None:
                self.problem(parent, path, message, value_of=key)
            else:
                self.problems.append(Problem(self.file, 1, 1, path, message))

        error = templating.syntax_error(source)
        if error:
            report(error)
            return
        for name in templating.private_attributes(source):
            report(f"reads {name!r}: the template sandbox refuses private attributes")
        for ref in templating.references(source):
            if ref.root == "steps":
                where = self.step_order.get(ref.key)
                if where is None:
                    report(f"refers to step {ref.key!r}, which does not exist{_suggest(ref.key, self.step_order)}")
                elif ref.key == own:
                    continue
                elif where >= position:
                    report(f"refers to step {ref.key!r}, which runs later")
            elif ref.guarded:
                continue
            elif ref.root == "inputs" and ref.key not in self.input_names:
                report(f"refers to input {ref.key!r}, which is not declared under inputs")
            elif ref.root == "env" and ref.key not in self.env_names:
                report(f"reads env {ref.key!r}, which is not declared under env")


def _contains_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_contains_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_template(v) for v in value)
    return templating.is_template(value)
