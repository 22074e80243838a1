"""Test helpers for people who write runbooks: drill them in your own test suite.

    # conftest.py
    pytest_plugins = ["pyirt.testing"]          # the irt_drill fixture

    # test_runbooks.py
    def test_security_incident(irt_drill):
        card = irt_drill("drills/security-incident.yaml")        # fails the test with the scorecard
        assert card.time_to_mitigate is not None and card.time_to_mitigate < 60

    def test_without_the_fixture(tmp_path):
        from pyirt.testing import assert_drill
        assert_drill("drills/slack-down.yaml", incident_dir=tmp_path)

A drill needs no Docker engine and no cloud account: the simulators run in the test's process, on
loopback; the user's irt.yaml and credentials are never read. :class:`EventCapture` is an
observer that keeps a run's journal events and action messages, for ``session.respond`` or
``run_drill(observers=[...])``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyirt.drill.scorecard import Scorecard

__all__ = ["EventCapture", "assert_drill", "irt_drill", "run_drill"]


def run_drill(scenario: str | os.PathLike[str], runbook: str | os.PathLike[str] | None = None, *,
              incident_dir: str | os.PathLike[str] | None = None, inputs: Mapping[str, Any] | None = None,
              observers: Any = ()) -> Scorecard:
    """Run a drill (the journal is not fsynced: a test does not need it durable); returns the scorecard."""
    from pyirt.drill.run import run_drill as run

    return run(Path(scenario), Path(runbook) if runbook else None, incident_dir=incident_dir, inputs=inputs,
               observers=observers, sync=False)


def assert_drill(scenario: str | os.PathLike[str], runbook: str | os.PathLike[str] | None = None, *,
                 incident_dir: str | os.PathLike[str] | None = None,
                 inputs: Mapping[str, Any] | None = None) -> Scorecard:
    """Run a drill; raise AssertionError showing the scorecard when an expectation is not met."""
    __tracebackhide__ = True  # pytest shows the scorecard, not this frame
    card = run_drill(scenario, runbook, incident_dir=incident_dir, inputs=inputs)
    if not card.passed:
        raise AssertionError("the drill failed:\n" + card.text())
    return card


class EventCapture:
    """An observer keeping every event the engine journals and every message actions log."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.messages: list[tuple[str, str]] = []

    def event(self, event: Mapping[str, Any]) -> None:
        self.events.append(dict(event))

    def message(self, step: str, text: str) -> None:
        self.messages.append((step, text))

    def types(self) -> list[str]:
        return [str(e.get("type")) for e in self.events]

    def of(self, kind: str, step: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind and (step is None or e.get("step") == step)]


try:
    import pytest
except ImportError:  # pyirt.testing without pytest: the functions above still work
    pass
else:
    @pytest.fixture
    def irt_drill(tmp_path: Path) -> Iterator[Callable[..., Scorecard]]:
        """``irt_drill(scenario, runbook=None, **inputs)``: run a drill with its incidents under the
        test's temporary folder; the test fails with the scorecard when an expectation is not met."""

        def drill(scenario: str | os.PathLike[str], runbook: str | os.PathLike[str] | None = None,
                  **inputs: Any) -> Scorecard:
            __tracebackhide__ = True
            return assert_drill(scenario, runbook, incident_dir=tmp_path / "drills", inputs=inputs)

        yield drill
