"""SIGINT and SIGTERM during a run: the first asks the engine to stop at the next safe point
(between steps, or by cancelling an idempotent action); the second stops at once, though never in
the middle of journaling an event (see :meth:`StopFlag.shield`); any further signal is ignored."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class ForcedStop(BaseException):
    """Raised in the main thread by a second signal. BaseException: no action may swallow it."""


class StopFlag:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name = ""
        self.forced = ""  # the signal that forced an immediate stop
        self._listeners: list[threading.Event] = []
        self._shielded = 0
        self._force_pending = False

    def wake_on_request(self, event: threading.Event) -> None:
        """Set ``event`` too when a stop is requested (so one wait can watch both)."""
        self._listeners.append(event)
        if self.requested:
            event.set()

    def forget(self, event: threading.Event) -> None:
        if event in self._listeners:
            self._listeners.remove(event)

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def request(self, name: str) -> None:
        self.signal_name = name
        self.event.set()
        for listener in list(self._listeners):
            listener.set()

    def force(self, name: str) -> None:
        """A second signal: raise ForcedStop now, or when the shielded section ends."""
        if self.forced:
            return
        self.forced = name
        if self._shielded:
            self._force_pending = True
            return
        raise ForcedStop(name)

    @contextmanager
    def shield(self) -> Iterator[None]:
        """Defer ForcedStop while the main thread journals an event and applies it to the state,
        so the journal and the state the engine acts on never disagree."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._shielded += 1
        try:
            yield
        finally:
            self._shielded -= 1
        if not self._shielded and self._force_pending:
            self._force_pending = False
            raise ForcedStop(self.forced)


@contextmanager
def handle_signals(flag: StopFlag) -> Iterator[StopFlag]:
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if flag.requested:
            flag.force(name)
        else:
            flag.request(name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
