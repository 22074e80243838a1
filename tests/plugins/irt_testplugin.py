"""Test actions for the crash-and-resume suite (loaded through ``irt.yaml``'s ``plugins:`` list).

``testing.append`` appends one line to a file: a non-idempotent side effect whose every repeat
shows. It can tell after a crash whether its line is already there (``reconcile``).
``testing.append_blind`` does the same but cannot tell, so an in-doubt step is the operator's call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyirt.actions.api import NOT_DONE, Action, ActionContext
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.core.durations import parse_duration
from pyirt.errors import ActionError

PARAMS = (
    Param("path", "string", required=True, doc="file to append to"),
    Param("line", "string", required=True, doc="the line to append (without newline)"),
    Param("sleep_before", "duration", default=0, doc="wait before appending"),
    Param("sleep_after", "duration", default=0, doc="wait after appending"),
)


def append_line(path: str, line: str) -> None:
    """Append ``line`` and a newline in one write, durably."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        data = (line + "\n").encode("utf-8")
        written = os.write(fd, data)
        if written != len(data):
            raise ActionError(f"short write to {path}", retryable=False)
        os.fsync(fd)
    finally:
        os.close(fd)


def lines_of(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


class Append(Action):
    spec = ActionSpec(
        name="testing.append",
        summary="Append a line to a file (test action; not idempotent, reconcilable).",
        params=PARAMS,
        idempotent=False,
        backend="file",
        outputs=("line", "path"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        path, line = str(params["path"]), str(params["line"])
        if not ctx.sleep(parse_duration(params.get("sleep_before") or 0)):
            raise ActionError("cancelled before appending", retryable=False)
        append_line(path, line)
        ctx.sleep(parse_duration(params.get("sleep_after") or 0))
        return {"line": line, "path": path}

    def reconcile(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        path, line = str(params["path"]), str(params["line"])
        if line in lines_of(path):
            return {"line": line, "path": path}
        return NOT_DONE

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"append {params.get('line')!r} to {params.get('path')}"


class AppendBlind(Append):
    spec = ActionSpec(
        name="testing.append_blind",
        summary="Append a line to a file (test action; not idempotent, cannot reconcile).",
        params=PARAMS,
        idempotent=False,
        backend="file",
        outputs=("line", "path"),
    )

    def reconcile(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        return None


ACTIONS = [Append, AppendBlind]
