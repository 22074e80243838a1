"""The run loop: main steps in order, rollback when asked, ``finally`` steps always.

State is never kept on the side: every decision reads :attr:`Runner.state`, the fold of the
events written so far, and every event is journaled (flushed and fsynced) before the side effect
it announces. Resuming an incident is therefore the same loop over a longer journal.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pyirt.actions.api import NOT_DONE, Action, ActionContext, UndoCall
from pyirt.actions.registry import Registry
from pyirt.core import journal, templating
from pyirt.core.durations import format_duration
from pyirt.core.model import Runbook, Step, thaw
from pyirt.core.secrets import Redactor, Secret
from pyirt.engine.approvals import Approver
from pyirt.engine.journal_writer import JournalWriter
from pyirt.engine.observers import Observer
from pyirt.engine.signals import ForcedStop, StopFlag
from pyirt.errors import ActionError, IrtError, StepTimedOut, Stopped, TemplateError

InDoubt = Literal["ask", "rerun", "skip", "fail"]
Phase = Literal["main", "finally"]
STOP_GRACE = 2.0  # seconds an idempotent action gets to notice a cancel before we move on
TIMEOUT_GRACE = 1.0

SUCCESS_OUTCOMES = ("succeeded", "completed_with_errors")


class _Interrupted(Exception):
    """The step was cancelled because a stop was requested; it stays in doubt."""


@dataclass(frozen=True)
class Failure:
    message: str
    backend: str
    retryable: bool
    retry_after: float | None


class Runner:
    def __init__(
        self,
        *,
        runbook: Runbook,
        registry: Registry,
        folder: Path,
        writer: JournalWriter,
        state: journal.IncidentState,
        config: Mapping[str, Any],
        approver: Approver,
        observers: Sequence[Observer],
        stop: StopFlag,
        redactor: Redactor,
        secret: Callable[[str], Secret],
        in_doubt: InDoubt = "ask",
        ask: Callable[[str], str] | None = None,
    ) -> None:
        self.runbook = runbook
        self.registry = registry
        self.folder = folder
        self.writer = writer
        self.state = state
        self.config = config
        self.approver = approver
        self.observers = list(observers)
        self.stop = stop
        self.redactor = redactor
        self.secret = secret
        self.in_doubt = in_doubt
        self._ask = ask
        self._lock = threading.RLock()

    # -- journal and observers -------------------------------------------------------------------
    def emit(self, event_type: str, **fields: Any) -> dict[str, Any]:
        with self._lock, self.stop.shield():  # actions checkpoint from their worker thread
            event = self.writer.append(event_type, **fields)
            self.state = journal.apply(self.state, event)
        for observer in list(self.observers):
            try:
                observer.event(event)
            except Exception:  # an observer must never stop a response
                self.observers.remove(observer)
        return event

    def _checkpoint_data(self, step: str, data: Mapping[str, Any]) -> None:
        self.emit("step.checkpoint", step=step, data=dict(data))

    def message(self, step: str, text: str) -> None:
        """A line for the people watching (console, --json), redacted; not journaled."""
        clean = self.redactor(text)
        for observer in list(self.observers):
            try:
                observer.message(step, clean)
            except Exception:
                self.observers.remove(observer)

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> str:
        """Run (or continue) the incident to its end. Returns the outcome; raises Stopped."""
        try:
            for step in self.runbook.steps:
                if self.state.aborted_by:
                    if not self.state.step(step.id).done:
                        self.emit("step.skipped", step=step.id, phase="main",
                                  reason=f"not run: step {self.state.aborted_by} failed")
                    continue
                self._execute(step, "main")
            if self.state.rollback:
                self._rollback()
            for step in self.runbook.finally_steps:
                self._execute(step, "finally")
            outcome = self._outcome()
            self.emit("incident.closed", outcome=outcome)
            return outcome
        except ForcedStop as exc:
            if self.state.status == "closed":  # the stop came as the incident.closed was journaled
                return self.state.outcome
            if self.state.status != "paused":
                self.emit("incident.paused", reason="signal", detail=f"{exc} (forced)")
            raise Stopped(f"stopped by {exc}; resume with: irt resume {self.state.id}") from None

    def _checkpoint(self) -> None:
        """A safe point: stop here when a signal asked for it."""
        if self.stop.requested:
            self.emit("incident.paused", reason="signal", detail=self.stop.signal_name)
            raise Stopped(f"stopped by {self.stop.signal_name}; resume with: irt resume {self.state.id}")

    def _outcome(self) -> str:
        state = self.state
        if state.rollback:
            undos = [state.step(s.id).undo for s in self.runbook.steps]
            return "rollback_failed" if "failed" in undos else "rolled_back"
        if state.aborted_by:
            return "failed"
        if any(state.step(s.id).status == "failed" for s in self.runbook.all_steps()):
            return "completed_with_errors"
        return "succeeded"

    def context(self) -> dict[str, Any]:
        state = self.state
        steps = {
            sid: {"output": st.output, "status": st.status, "error": st.error}
            for sid, st in state.steps.items()
        }
        incident = {"id": state.id, "started_at": state.opened_at, "runbook": self.runbook.name,
                    "dir": str(self.folder)}
        env = {name: os.environ[name] for name in self.runbook.env if name in os.environ}
        return templating.build_context(inputs=state.inputs, steps=steps, incident=incident,
                                        alert=state.alert, env=env, secret=self.secret)

    # -- one step ----------------------------------------------------------------------------------
    def _execute(self, step: Step, phase: Phase) -> None:
        current = self.state.step(step.id)
        if current.done:
            return
        self._checkpoint()
        if current.in_doubt and not self._settle_doubt(step, phase):
            return
        context = self.context()
        if step.when is not None:
            try:
                when = step.when if isinstance(step.when, bool) else templating.render(
                    step.when, context, f"steps.{step.id}.when")
            except TemplateError as exc:
                self._fail(step, phase, str(exc), "template", attempt=current.attempts)
                return
            if not templating.truthy(when):
                self.emit("step.skipped", step=step.id, phase=phase, reason="when is false")
                return
        try:
            params = self._render(step.params, context, f"steps.{step.id}.with")
        except TemplateError as exc:
            self._fail(step, phase, str(exc), "template", attempt=current.attempts)
            return
        action = self.registry.create(step.action)
        gated = (step.approval or action.spec.approval) and self.state.step(step.id).approval != "granted"
        if gated and not self._gate(step, action, params, phase):
            return
        self._attempts(step, action, params, phase)

    def _render(self, params: Mapping[str, Any], context: Mapping[str, Any], where: str) -> dict[str, Any]:
        rendered = templating.render_value(thaw(params), context, where)
        return rendered if isinstance(rendered, dict) else {}

    def _attempts(self, step: Step, action: Action, params: dict[str, Any], phase: Phase) -> None:
        attempt = self.state.step(step.id).attempts
        while True:
            self._checkpoint()
            attempt += 1
            self.emit("step.started", step=step.id, action=step.action, attempt=attempt, phase=phase,
                      params=params)
            started = time.monotonic()
            try:
                output = self._call(action, params, step.id, step.timeout, attempt)
            except _Interrupted:
                self._checkpoint()
                raise  # unreachable: _Interrupted is only raised when a stop was requested
            except Exception as exc:
                failure = _describe(exc, action)
                if attempt < step.retry.attempts and failure.retryable and not self.stop.requested:
                    delay = max(step.retry.delay(attempt, random.random()), failure.retry_after or 0.0)
                    self.emit("step.retrying", step=step.id, attempt=attempt, error=failure.message,
                              backend=failure.backend, delay=round(delay, 3))
                    self.stop.event.wait(delay)
                    continue
                self._fail(step, phase, failure.message, failure.backend, attempt=attempt,
                           duration=time.monotonic() - started)
                return
            self.emit("step.succeeded", step=step.id, output=output,
                      duration=round(time.monotonic() - started, 6))
            return

    def _fail(self, step: Step, phase: Phase, message: str, backend: str, *, attempt: int,
              duration: float = 0.0) -> None:
        self.emit("step.failed", step=step.id, action=step.action, phase=phase, error=message,
                  backend=backend, attempt=attempt, policy=step.on_failure, duration=round(duration, 6))
        if phase == "main" and step.on_failure == "rollback" and not self.state.rollback:
            self.emit("rollback.started", cause=step.id)

    def _call(self, action: Action, params: dict[str, Any], step_id: str, timeout: float | None,
              attempt: int, *, checkpoints: bool = True) -> dict[str, Any]:
        """Run the action in a worker thread so a timeout holds even when it hangs.

        Undo calls run without checkpoints: theirs would mix with the step's own."""
        ctx = ActionContext(
            incident_id=self.state.id, step_id=step_id, incident_dir=self.folder, attempt=attempt,
            config=self.config, redact=self.redactor, log=lambda text: self.message(step_id, text),
            interactive=self.approver.interactive,
            checkpointed=dict(self.state.step(step_id).checkpoint) if checkpoints else {},
            checkpoint=(lambda data: self._checkpoint_data(step_id, data)) if checkpoints else (lambda data: None),
        )
        box: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                box["output"] = action.run(dict(params), ctx)
            except BaseException as exc:
                box["error"] = exc
            finally:
                done.set()

        thread = threading.Thread(target=work, name=f"irt-{step_id}", daemon=True)
        self.stop.wake_on_request(done)
        try:
            thread.start()
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                done.wait(remaining)
                if "output" in box or "error" in box:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    ctx.cancel.set()
                    thread.join(TIMEOUT_GRACE)
                    if "output" in box:
                        break
                    # An action that gave up because it was cancelled failed by the timeout, not
                    # by its own error ("wait was interrupted" would hide the cause).
                    raise StepTimedOut(f"timed out after {format_duration(timeout or 0)}", step=step_id)
                if self.stop.requested:
                    if action.spec.idempotent:
                        ctx.cancel.set()
                        thread.join(STOP_GRACE)
                        raise _Interrupted()
                    done.clear()  # a non-idempotent action is let finish: its end is the safe point
                    self.stop.forget(done)
                    if "output" in box or "error" in box:
                        break
        finally:
            self.stop.forget(done)
        if "error" in box:
            raise box["error"]
        output = box.get("output")
        if output is None:
            return {}
        if not isinstance(output, Mapping):
            raise ActionError(f"returned {type(output).__name__}, expected a map", retryable=False)
        return dict(output)

    # -- approvals -------------------------------------------------------------------------------
    def _gate(self, step: Step, action: Action, params: dict[str, Any], phase: Phase) -> bool:
        """True when approved. Stops the run when nobody can answer now."""
        question = str(params.get("message") or action.describe(params) or step.action)
        question = self.redactor(question)
        if self.state.step(step.id).approval != "requested":
            self.emit("approval.requested", step=step.id, action=step.action, message=question)
        verdict = self.approver.decide(step.id, question)
        if verdict.decision == "granted":
            self.emit("approval.granted", step=step.id, by=verdict.by)
            return True
        if verdict.decision == "denied":
            self.emit("approval.denied", step=step.id, by=verdict.by)
            self._fail(step, phase, f"approval denied by {verdict.by}", "approval", attempt=0)
            return False
        self.emit("incident.paused", reason="approval", step=step.id, detail=f"step {step.id} needs approval")
        raise Stopped(f"step {step.id} needs approval; approve and continue with: "
                      f"irt resume {self.state.id} --yes")

    # -- in-doubt steps after a crash -----------------------------------------------------------
    def _settle_doubt(self, step: Step, phase: Phase) -> bool:
        """Decide what to do with a step that started and never ended. True: run it now."""
        action = self.registry.create(step.action)
        try:
            params = self._render(step.params, self.context(), f"steps.{step.id}.with")
        except TemplateError:
            params = {}
        ctx = ActionContext(incident_id=self.state.id, step_id=step.id, incident_dir=self.folder,
                            config=self.config, redact=self.redactor,
                            checkpointed=dict(self.state.step(step.id).checkpoint))
        try:
            found = action.reconcile(params, ctx) if params else None
        except Exception:
            found = None
        if found is NOT_DONE:
            self.emit("step.in_doubt", step=step.id, resolution="rerun", reason="the action found no effect")
            return True
        if isinstance(found, Mapping):
            self.emit("step.in_doubt", step=step.id, resolution="reconciled",
                      reason="the action found its effect in place")
            self.emit("step.succeeded", step=step.id, output=dict(found), duration=0.0, reconciled=True)
            return False
        if action.spec.idempotent:
            self.emit("step.in_doubt", step=step.id, resolution="rerun", reason="the action is idempotent")
            return True
        choice = self.in_doubt
        if choice == "ask":
            choice = self._ask_in_doubt(step)
        if choice == "rerun":
            self.emit("step.in_doubt", step=step.id, resolution="rerun", reason="operator")
            return True
        if choice == "skip":
            self.emit("step.in_doubt", step=step.id, resolution="skip", reason="operator")
            self.emit("step.skipped", step=step.id, phase=phase, reason="in doubt; skipped by the operator")
            return False
        self.emit("step.in_doubt", step=step.id, resolution="fail", reason="operator")
        self._fail(step, phase, "in doubt after an interruption: its effect is unknown", "journal",
                   attempt=self.state.step(step.id).attempts)
        return False

    def _ask_in_doubt(self, step: Step) -> InDoubt:
        question = (f"Step {step.id} ({step.action}) started but never finished; its effect is unknown. "
                    "[r]erun, [s]kip or [f]ail? ")
        if self.approver.interactive and self._ask is not None:
            try:
                answer = self._ask(question).strip().lower()
            except (EOFError, KeyboardInterrupt):
                answer = ""
            options: tuple[InDoubt, ...] = ("rerun", "skip", "fail")
            for option in options:
                if answer and option.startswith(answer):
                    return option
        self.emit("incident.paused", reason="in_doubt", step=step.id,
                  detail=f"step {step.id} is in doubt")
        raise Stopped(f"step {step.id} ({step.action}) is in doubt: it started and never finished. "
                      f"Check its effect, then: irt resume {self.state.id} --in-doubt=rerun|skip|fail")

    # -- rollback ----------------------------------------------------------------------------------
    def _rollback(self) -> None:
        for step in reversed(self.runbook.steps):
            current = self.state.step(step.id)
            if current.status != "succeeded" or current.undo in ("succeeded", "failed", "skipped"):
                continue
            self._checkpoint()
            try:
                call = self._undo_call(step)
            except TemplateError as exc:
                self.emit("undo.failed", step=step.id, error=str(exc))
                continue
            if call is None:
                self.emit("undo.skipped", step=step.id, reason="no undo declared")
                continue
            action = self.registry.create(call.action)
            if current.undo == "running" and not action.spec.idempotent:
                self.emit("undo.failed", step=step.id, action=call.action,
                          error="undo was interrupted and is not idempotent: check it by hand")
                continue
            params = dict(call.params)
            self.emit("undo.started", step=step.id, action=call.action, params=params)
            try:
                output = self._call(action, params, step.id, step.timeout, 1, checkpoints=False)
            except _Interrupted:
                self._checkpoint()
                raise
            except Exception as exc:
                failure = _describe(exc, action)
                self.emit("undo.failed", step=step.id, action=call.action, error=failure.message,
                          backend=failure.backend)
                continue
            self.emit("undo.succeeded", step=step.id, action=call.action, output=output)

    def _undo_call(self, step: Step) -> UndoCall | None:
        context = self.context()
        if step.undo is not None:
            params = self._render(step.undo.params, context, f"steps.{step.id}.undo.with")
            return UndoCall(step.undo.action, params)
        action = self.registry.create(step.action)
        params = self._render(step.params, context, f"steps.{step.id}.with")
        return action.undo(params, self.state.step(step.id).output)


def _describe(exc: BaseException, action: Action) -> Failure:
    backend = action.spec.backend
    if isinstance(exc, ActionError):
        return Failure(str(exc) or "failed", exc.backend or backend, exc.retryable, exc.retry_after)
    if isinstance(exc, StepTimedOut):
        return Failure(str(exc), backend, True, None)
    if isinstance(exc, TemplateError):
        return Failure(str(exc), "template", False, None)
    if isinstance(exc, IrtError):  # a missing extra, a bad parameter: another attempt cannot help
        return Failure(str(exc), backend, False, None)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return Failure(f"{type(exc).__name__}: {text}".rstrip(": "), backend, True, None)
