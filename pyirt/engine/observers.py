"""Observers of a run: the live console for people and JSON Lines for machines.

The engine hands every journaled event to each observer; an observer that raises is dropped for
the rest of the run (the journal, not the observer, is the record) rather than stopping the response.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from typing import Any, Protocol, TextIO

from pyirt.core.durations import format_duration


class Observer(Protocol):
    def event(self, event: Mapping[str, Any]) -> None: ...

    def message(self, step: str, text: str) -> None: ...


_SYMBOLS = {
    "step.succeeded": ("✓", "32"), "step.failed": ("✗", "31"), "step.skipped": ("-", "90"),
    "step.retrying": ("↻", "33"), "undo.succeeded": ("↶", "36"), "undo.failed": ("✗", "31"),
    "undo.skipped": ("-", "90"), "approval.requested": ("?", "35"), "approval.granted": ("✓", "35"),
    "approval.denied": ("✗", "35"), "step.in_doubt": ("!", "33"),
}


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _safe(value: Any) -> Any:
    """Control characters in data (an alert label, an input, a backend's error) shown escaped: an
    ESC or BEL printed raw would drive the operator's terminal (clear it, retitle it, recolour it)."""
    if isinstance(value, str):
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    if isinstance(value, Mapping):
        return {k: _safe(v) for k, v in value.items()}
    return value


class ConsoleObserver:
    """One line per step outcome, with its duration; colour on a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.color = hasattr(self.stream, "isatty") and self.stream.isatty()

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def event(self, event: Mapping[str, Any]) -> None:
        event = _safe(event)
        kind = str(event.get("type", ""))
        step = str(event.get("step", ""))
        if kind == "incident.opened":
            runbook = event.get("runbook") or {}
            self._line(f"incident {event.get('incident')}  runbook {runbook.get('name')}")
        elif kind == "incident.resumed":
            self._line(f"resuming incident {event.get('incident')}")
        elif kind == "step.started":
            attempt = event.get("attempt", 1)
            suffix = f" (attempt {attempt})" if isinstance(attempt, int) and attempt > 1 else ""
            self._line(f"  … {step:<24} {event.get('action')}{suffix}")
        elif kind in _SYMBOLS:
            symbol, code = _SYMBOLS[kind]
            detail = self._detail(kind, event)
            self._line(f"  {self._paint(symbol, code)} {step:<24} {detail}".rstrip())
        elif kind == "rollback.started":
            self._line(self._paint(f"  rolling back after {event.get('cause')} failed", "33"))
        elif kind == "incident.paused":
            self._line(self._paint(f"paused: {event.get('reason')} {event.get('detail', '')}".rstrip(), "33"))
        elif kind == "incident.closed":
            outcome = str(event.get("outcome", ""))
            code = "32" if outcome == "succeeded" else "33" if outcome == "completed_with_errors" else "31"
            self._line(self._paint(f"incident closed: {outcome}", code))

    @staticmethod
    def _detail(kind: str, event: Mapping[str, Any]) -> str:
        if kind == "step.succeeded":
            return format_duration(float(event.get("duration") or 0))
        if kind in ("step.failed", "undo.failed", "step.retrying"):
            extra = f" (retry in {format_duration(float(event.get('delay') or 0))})" if kind == "step.retrying" else ""
            return f"{event.get('error', '')}{extra}"
        if kind in ("step.skipped", "undo.skipped"):
            return f"skipped: {event.get('reason', '')}"
        if kind == "approval.requested":
            return f"needs approval: {event.get('message', '')}"
        if kind == "approval.granted":
            return f"approved by {event.get('by', '')}"
        if kind == "approval.denied":
            return f"denied by {event.get('by', '')}"
        if kind == "step.in_doubt":
            return f"was in doubt: {event.get('resolution', '')}"
        return ""

    def message(self, step: str, text: str) -> None:
        self._line(f"    {_safe(step)}: {_safe(text)}")


class JsonObserver:
    """Every event as one JSON object per line on stdout."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def event(self, event: Mapping[str, Any]) -> None:
        self.stream.write(json.dumps(event, ensure_ascii=False) + "\n")
        self.stream.flush()

    def message(self, step: str, text: str) -> None:
        self.stream.write(json.dumps({"type": "message", "step": step, "text": text}, ensure_ascii=False) + "\n")
        self.stream.flush()
