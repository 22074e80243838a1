"""Lifecycle notifications: people hear when an incident opens, needs an approval, has a step
fail, and closes. Configured in ``irt.yaml``::

    notify:
      on: [opened, approval, step_failed, closed]   # or {opened: [oncall], closed: [oncall, pager]}
      channels: [oncall, pager]
      severity: error                  # of the "opened" notification (default: error)
      pagerduty_resolve: always        # on close; or "success" (only a successful outcome), "never"
      flush_timeout: 60s               # the longest wait for pending sends when the run pauses or ends
      runbooks:                        # per runbook (by name): replaces on / channels / severity
        pixashot-security-incident: {on: [opened, closed], channels: [pager]}

Each event goes to every channel listed (each with its own ``fallback``). A PagerDuty channel gets
``trigger`` events and ``resolve`` on close, with the incident id as ``dedup_key``: the page
follows the incident. A failed ``notify.*`` step is not announced again (its own failure already
went through its fallbacks).

The observer sends from one background thread, in order, so a slow channel never delays the
response; when the incident pauses or closes it waits (bounded) for pending sends, since the
process may end right after. Each delivery is journaled as ``notify.sent`` or ``notify.failed``
and a failure is shown on the console. Nothing here raises into the engine.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyirt.core.durations import parse_duration
from pyirt.core.journal import IncidentState
from pyirt.core.secrets import Redactor
from pyirt.engine.runner import SUCCESS_OUTCOMES, Runner

EVENTS = {"incident.opened": "opened", "approval.requested": "approval", "step.failed": "step_failed",
          "incident.closed": "closed"}
KNOWN = tuple(EVENTS.values())
_SEVERITY = {"approval": "warning", "step_failed": "error", "closed": "info"}
SIGNAL_FLUSH = 5.0  # seconds: after SIGINT/SIGTERM the operator (or systemd) wants the process gone


@dataclass(frozen=True)
class Settings:
    routes: Mapping[str, tuple[str, ...]]  # event -> channel names
    severity: str = "error"
    resolve: str = "always"
    flush_timeout: float = 60.0
    problems: tuple[str, ...] = ()


def settings(config: Mapping[str, Any], runbook: str) -> Settings:
    """What ``notify:`` asks for this runbook. Malformed entries are reported in ``problems``."""
    section = config.get("notify")
    if not isinstance(section, Mapping):
        return Settings(routes={})
    merged = dict(section)
    per_runbook = section.get("runbooks")
    if isinstance(per_runbook, Mapping) and isinstance(per_runbook.get(runbook), Mapping):
        merged.update(per_runbook[runbook])
    problems: list[str] = []
    default_channels = _names(merged.get("channels"))
    on = merged.get("on") or []
    routes: dict[str, tuple[str, ...]] = {}
    items = on.items() if isinstance(on, Mapping) else ((name, None) for name in _names(on))
    for name, channels in items:
        if name not in KNOWN:
            problems.append(f"notify.on: unknown event {name!r} (known: {', '.join(KNOWN)})")
            continue
        chosen = _names(channels) if channels is not None else default_channels
        if chosen:
            routes[str(name)] = chosen
        else:
            problems.append(f"notify.on.{name}: no channels")
    try:
        flush = parse_duration(merged.get("flush_timeout") or 60.0)
    except ValueError as exc:
        problems.append(f"notify.flush_timeout: {exc}")
        flush = 60.0
    resolve = str(merged.get("pagerduty_resolve") or "always")
    if resolve not in ("always", "success", "never"):
        problems.append("notify.pagerduty_resolve: must be always, success or never")
        resolve = "always"
    return Settings(routes=routes, severity=str(merged.get("severity") or "error"), resolve=resolve,
                    flush_timeout=flush, problems=tuple(problems))


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str))
    return ()


def attach(runner: Runner, config: Mapping[str, Any]) -> LifecycleNotifier | None:
    """Add the lifecycle notifier to ``runner`` when ``notify:`` asks for one."""
    wanted = settings(config, runner.runbook.name)
    for problem in wanted.problems:
        runner.message("notify", problem)
    if not wanted.routes:
        return None
    notifier = LifecycleNotifier(
        wanted, config=config, folder=runner.folder, redactor=runner.redactor, state=lambda: runner.state,
        emit=runner.emit, say=lambda text: runner.message("notify", text),
    )
    runner.observers.append(notifier)
    return notifier


@dataclass
class _Job:
    event: str
    channel: str
    params: dict[str, Any]
    incident: dict[str, Any]
    step: str
    options: dict[str, Any] = field(default_factory=dict)


class LifecycleNotifier:
    """An engine observer that turns lifecycle events into notifications."""

    def __init__(self, settings: Settings, *, config: Mapping[str, Any], folder: Path, redactor: Redactor,
                 state: Callable[[], IncidentState], emit: Callable[..., Any], say: Callable[[str], None]) -> None:
        self.settings = settings
        self.config = config
        self.folder = folder
        self.redactor = redactor
        self.state = state
        self.emit = emit
        self.say = say
        self.cancel = threading.Event()
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._worker: threading.Thread | None = None
        self._quiet = False

    # -- the Observer protocol -------------------------------------------------------------------
    def event(self, event: Mapping[str, Any]) -> None:
        try:
            kind = str(event.get("type", ""))
            name = EVENTS.get(kind)
            if name in self.settings.routes and not self._own_failure(event):
                for job in self._jobs_for(str(name), event):
                    self._submit(job)
            if kind in ("incident.paused", "incident.closed"):
                # a stop signal asks for a quick exit: wait less for pending sends
                signalled = kind == "incident.paused" and event.get("reason") == "signal"
                self.flush(min(self.settings.flush_timeout, SIGNAL_FLUSH) if signalled else None)
        except Exception as exc:  # never into the engine
            self._say(f"lifecycle notification skipped: {type(exc).__name__}: {exc}")

    def message(self, step: str, text: str) -> None:
        pass

    # -- building the notifications ----------------------------------------------------------------
    @staticmethod
    def _own_failure(event: Mapping[str, Any]) -> bool:
        return event.get("type") == "step.failed" and str(event.get("action", "")).startswith("notify.")

    def _jobs_for(self, name: str, event: Mapping[str, Any]) -> list[_Job]:
        state = self.state()
        step = str(event.get("step", "") or "")
        inputs = dict(state.inputs)
        alert = state.alert or {}
        labels = alert.get("labels") if isinstance(alert.get("labels"), Mapping) else {}
        service = inputs.get("service") or (labels or {}).get("service") or ""
        incident = {"id": state.id, "runbook": state.runbook_name, "opened_at": state.opened_at,
                    "outcome": str(event.get("outcome", "")) if name == "closed" else ""}
        details: dict[str, Any] = {"inputs": inputs}
        if labels:
            details["alert"] = dict(labels)
            if labels.get("alertname"):
                details["alertname"] = labels["alertname"]
        facts: dict[str, Any] = {"Runbook": state.runbook_name}
        if name in ("approval", "step_failed"):
            details.update(action=event.get("action", ""), step=step)
            facts.update(Step=step, Action=event.get("action", ""))
        if name == "approval":
            details["question"] = event.get("message", "")
        if name == "step_failed":
            details.update(error=event.get("error", ""), policy=event.get("policy", ""),
                           backend=event.get("backend", ""))
            facts["Error"] = event.get("error", "")
        if name == "closed":
            facts["Outcome"] = incident["outcome"]
        outcome = incident["outcome"].replace("_", " ")
        titles = {"opened": f"Incident opened: {state.runbook_name}", "approval": f"Approval needed: {step}",
                  "step_failed": f"Step failed: {step}", "closed": f"Incident closed: {outcome}"}
        status = {"opened": "investigating", "approval": "waiting for approval", "step_failed": "step failed",
                  "closed": outcome}
        severity = self.settings.severity if name == "opened" else _SEVERITY[name]
        params = {"title": titles[name], "severity": severity, "status": status[name], "service": service,
                  "facts": facts, "details": details}
        return [_Job(name, channel, params, incident, step) for channel in self.settings.routes[name]]

    def _pagerduty_action(self, job: _Job) -> str | None:
        """trigger, resolve, or None to send nothing on close."""
        if job.event != "closed":
            return "trigger"
        resolve = self.settings.resolve
        if resolve == "always" or (resolve == "success" and job.incident["outcome"] in SUCCESS_OUTCOMES):
            return "resolve"
        return None if resolve == "never" else "trigger"

    # -- the sender thread ------------------------------------------------------------------------
    def _submit(self, job: _Job) -> None:
        with self._idle:
            self._pending += 1
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="irt-notify", daemon=True)
            self._worker.start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._send(job)
            except Exception as exc:
                self._say(f"notification {job.event} to {job.channel} failed: {type(exc).__name__}: {exc}")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _send(self, job: _Job) -> None:
        from pyirt.actions.api import ActionContext
        from pyirt.actions.notify import base, channels
        from pyirt.errors import ActionError

        ctx = ActionContext(incident_id=str(job.incident["id"]), step_id=job.step, incident_dir=self.folder,
                            config=self.config, redact=self.redactor, cancel=self.cancel, log=self._say)
        try:
            channel = channels.resolve(job.channel, ctx)
            options: dict[str, Any] = {}
            if channel.kind == "pagerduty":
                action = self._pagerduty_action(job)
                if action is None:
                    return
                options["event_action"] = action
            message = base.build_message({**job.params, **options}, ctx, event=job.event, incident=job.incident,
                                         options_from=tuple(options), template=f"lifecycle/{job.event}.txt.j2")
            result = base.deliver(channel, message, ctx)
        except ActionError as exc:
            error = self.redactor(str(exc))
            self._emit("notify.failed", event=job.event, channel=job.channel, step=job.step or None, error=error)
            self._say(f"notification {job.event} to {job.channel} failed: {error}")
            return
        self._emit("notify.sent", event=job.event, channel=job.channel, step=job.step or None, **result)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for pending sends (at most ``timeout``, default ``flush_timeout``), then stop the
        thread. True if all went."""
        limit = self.settings.flush_timeout if timeout is None else timeout
        with self._idle:
            done = self._idle.wait_for(lambda: self._pending == 0, timeout=limit)
        if not done:
            self.cancel.set()  # sends still running give up at their next retry
            self._say(f"gave up waiting for notifications after {limit:g}s")
            self._quiet = True  # what they report later would land after the run's own last words
        if self._worker is not None:
            self._jobs.put(None)
            self._worker = None
        return done

    def _emit(self, event_type: str, /, **fields: Any) -> None:
        if self._quiet:
            return
        try:
            self.emit(event_type, **{k: v for k, v in fields.items() if v is not None})
        except Exception:  # the journal may be closed when a send outlived the flush
            return

    def _say(self, text: str) -> None:
        if self._quiet:
            return
        try:
            self.say(self.redactor(text))
        except Exception:
            return
