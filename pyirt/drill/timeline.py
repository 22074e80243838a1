"""When things happen in a drill: injects and timed faults on a timer thread, and a monitor that
samples the world-state expectations while the runbook runs.

Times are seconds after the drill's start (t0). What is due at t+0 is applied before the runbook
starts, so a drill is deterministic at its start; later events are applied by one thread, in
order, each recorded with when it actually took effect (or the error it raised: an inject that
cannot be applied is a fact of the drill, not a crash of it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyirt.drill.criteria import Expectation


@dataclass
class Event:
    at: float  # planned, seconds after t0
    kind: str  # inject, fault, alert, note
    text: str
    apply: Callable[[], None]
    applied: float | None = None  # epoch seconds
    error: str = ""


class Timeline:
    """Applies ``events`` at t0 + at. ``start()`` applies what is due at once, then runs a thread."""

    def __init__(self, events: Sequence[Event], t0: float) -> None:
        self.events = sorted(events, key=lambda e: e.at)
        self.t0 = t0
        self.stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        later = []
        for event in self.events:
            if event.at <= 0:
                self._apply(event)
            else:
                later.append(event)
        if later:
            self._thread = threading.Thread(target=self._run, args=(later,), name="irt-drill-timeline", daemon=True)
            self._thread.start()

    def _run(self, events: list[Event]) -> None:
        for event in events:
            if self.stopped.wait(max(0.0, self.t0 + event.at - time.time())):
                return
            self._apply(event)

    def _apply(self, event: Event) -> None:
        try:
            event.apply()
        except Exception as exc:  # recorded in the scorecard's timeline
            event.error = f"{type(exc).__name__}: {exc}"
        event.applied = time.time()

    def stop(self) -> None:
        self.stopped.set()
        if self._thread is not None:
            self._thread.join(5)


class Monitor:
    """Samples each world-state expectation every ``interval`` seconds: ``since[name]`` is when it
    last became true (None while false), so "within" reads when it was met and stayed met."""

    def __init__(self, expectations: Sequence[Expectation], check: Callable[[Expectation], bool],
                 interval: float = 0.1) -> None:
        self.expectations = [e for e in expectations if e.world_state]
        self.check = check
        self.interval = interval
        self.since: dict[str, float | None] = {e.path: None for e in self.expectations}
        self.stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.expectations:
            return
        self.sample()
        self._thread = threading.Thread(target=self._run, name="irt-drill-monitor", daemon=True)
        self._thread.start()

    def sample(self) -> None:
        now = time.time()
        for expectation in self.expectations:
            try:
                ok = self.check(expectation)
            except Exception:
                ok = False
            if not ok:
                self.since[expectation.path] = None
            elif self.since[expectation.path] is None:
                self.since[expectation.path] = now

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self.stopped.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.expectations:
            self.sample()  # the final state counts, whatever the last tick saw
