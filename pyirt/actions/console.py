"""``notify.console``: a message on the operator's console (and in the journal)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyirt.actions.api import Action, ActionContext
from pyirt.core.actionspec import ActionSpec, Param


class Console(Action):
    spec = ActionSpec(
        name="notify.console",
        summary="Print a message on the console of whoever runs the incident.",
        params=(
            Param("text", "string", required=True, doc="the message"),
            Param("channel", "string", doc="ignored; accepted so notify steps can switch kinds freely"),
        ),
        idempotent=True,
        backend="console",
        outputs=("text",),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        text = ctx.redact(str(params["text"]))
        ctx.log(text)
        return {"text": text}

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"print: {params.get('text', '')}"


ACTIONS = [Console]
