"""pyirt.testing, as a user's test suite uses it: the ``irt_drill`` fixture and ``assert_drill``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pyirt.drill.scorecard import Scorecard
from pyirt.testing import EventCapture, assert_drill, run_drill
from tests.drill.conftest import DRILL_FIXTURES, DRILLS


def test_the_fixture_runs_a_drill_under_the_tests_folder(irt_drill: Callable[..., Scorecard], tmp_path: Path) -> None:
    card = irt_drill(DRILLS / "local-drill.yaml", service="web")
    assert card.passed and card.folder is not None
    assert card.folder.parent == tmp_path / "drills"


def test_a_failing_drill_fails_the_test_with_the_scorecard(tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as failed:
        assert_drill(DRILL_FIXTURES / "unhandled-fault.yaml", incident_dir=tmp_path)
    message = str(failed.value)
    assert message.startswith("the drill failed:\ndrill unhandled-fault: FAILED")
    assert "✗ traffic back on stable" in message


def test_event_capture_keeps_the_journal_events(tmp_path: Path) -> None:
    capture = EventCapture()
    card = run_drill(DRILLS / "local-drill.yaml", incident_dir=tmp_path, observers=[capture])
    assert card.passed
    assert capture.types()[0] == "incident.opened" and capture.types()[-1] == "incident.closed"
    assert [e["step"] for e in capture.of("approval.granted")] == ["confirm-mitigation"]
