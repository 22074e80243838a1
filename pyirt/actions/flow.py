"""``flow.wait`` and ``flow.approve``: pacing and human gates inside a runbook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyirt.actions.api import Action, ActionContext
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.core.durations import format_duration, parse_duration
from pyirt.errors import ActionError


class Wait(Action):
    spec = ActionSpec(
        name="flow.wait",
        summary="Wait for a duration (interrupted early by a timeout or a stop signal).",
        params=(Param("duration", "duration", required=True, doc="how long: 500ms, 30s, 5m"),),
        idempotent=True,
        outputs=("waited",),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        seconds = parse_duration(params["duration"])
        if not ctx.sleep(seconds):
            raise ActionError("wait was interrupted", retryable=False)
        return {"waited": seconds}

    def describe(self, params: Mapping[str, Any]) -> str:
        try:
            return f"wait {format_duration(parse_duration(params.get('duration', 0)))}"
        except ValueError:
            return "wait"


class Approve(Action):
    spec = ActionSpec(
        name="flow.approve",
        summary="Stop until a person approves (a TTY prompt, --yes, or `irt resume --yes`).",
        params=(Param("message", "string", doc="what the approver is asked"),),
        idempotent=True,
        approval=True,
        outputs=("approved",),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        # The engine holds the gate before run() is called; reaching here means it was granted.
        return {"approved": True}

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"ask for approval: {params.get('message') or 'continue?'}"


class Assert(Action):
    spec = ActionSpec(
        name="flow.assert",
        summary="Fail the step unless a condition (usually a template over earlier outputs) holds.",
        params=(
            Param("that", "any", required=True, doc="a template such as {{ steps.stats.output.memory_percent < 85 }}"),
            Param("message", "string", doc="what the failure says"),
        ),
        idempotent=True,
        outputs=("held",),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        from pyirt.core.templating import truthy

        if not truthy(params["that"]):
            raise ActionError(str(params.get("message") or f"assertion failed: {params['that']!r}"),
                              retryable=True)
        return {"held": True}

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"check: {params.get('message') or params.get('that')}"


ACTIONS = [Wait, Approve, Assert]
