"""The local built-ins: ``flow.wait``, ``flow.approve`` and ``notify.console``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pyirt.actions.api import ActionContext
from pyirt.actions.console import Console
from pyirt.actions.flow import Approve, Wait
from pyirt.core.secrets import MASK, Redactor
from pyirt.errors import ActionError


@pytest.fixture
def ctx(tmp_path: Path) -> ActionContext:
    return ActionContext(incident_id="i-1", step_id="s", incident_dir=tmp_path, redact=Redactor())


def test_wait_waits_for_its_duration(ctx: ActionContext) -> None:
    started = time.monotonic()
    assert Wait().run({"duration": "50ms"}, ctx) == {"waited": 0.05}
    assert time.monotonic() - started >= 0.045


def test_wait_stops_early_when_cancelled(ctx: ActionContext) -> None:
    timer = threading.Timer(0.05, ctx.cancel.set)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(ActionError, match="interrupted") as caught:
            Wait().run({"duration": "10s"}, ctx)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2
    assert caught.value.retryable is False


def test_wait_and_approve_describe_themselves() -> None:
    assert Wait().describe({"duration": "90s"}) == "wait 1m30s"
    assert Wait().describe({"duration": "soon"}) == "wait"
    assert Approve().describe({}) == "ask for approval: continue?"
    assert Approve.spec.approval is True


def test_console_logs_the_redacted_text(ctx: ActionContext) -> None:
    logged: list[str] = []
    ctx.log = logged.append
    ctx.redact.add("hunter2-secret")
    assert Console().run({"text": "password is hunter2-secret"}, ctx) == {"text": f"password is {MASK}"}
    assert logged == [f"password is {MASK}"]


def test_artifacts_folder_is_per_step(ctx: ActionContext, tmp_path: Path) -> None:
    assert ctx.artifacts == tmp_path / "artifacts" / "s"
    assert ctx.artifacts.is_dir()
