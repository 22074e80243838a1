"""A fault the runbook does not handle: the drill fails, the scorecard says which expectation and
why (with the backend's words), the CLI exits 1 so CI stops, and the drill report says the same."""

from __future__ import annotations

import json
from pathlib import Path

from pyirt.drill.run import run_drill
from tests.drill.conftest import DRILL_FIXTURES
from tests.helpers import irt

UNHANDLED = DRILL_FIXTURES / "unhandled-fault.yaml"


def test_an_unhandled_fault_fails_with_a_clear_scorecard(tmp_path: Path) -> None:
    card = run_drill(UNHANDLED, incident_dir=tmp_path, sync=False)
    assert not card.passed and card.score == "1/3"
    assert card.outcome == "failed"
    traffic, no_failure, status = card.verdicts
    assert not traffic.passed
    assert traffic.evidence == ("pixashot-00041-abc (tag stable) serves 0%, not 100% "
                                "(serving: pixashot-00042-bad 100%)")
    assert not no_failure.passed
    assert no_failure.evidence.startswith("failed: rollback (cloudrun.rollback): Cloud Run service "
                                          "demo/us-central1/pixashot")
    assert "Permission 'run.services.update' denied" in no_failure.evidence
    assert status.passed
    assert card.time_to_mitigate is None
    text = card.text()
    assert text.splitlines()[0] == "drill unhandled-fault: FAILED (1/3 expectations met)"
    assert "  ✗ traffic back on stable" in text and "time to mitigate: not mitigated" in text
    markdown = (card.folder / "drill.md").read_text()
    assert "**FAILED**: 1/3 expectations met" in markdown
    assert "| ✗ | traffic back on stable |" in markdown
    assert "fault: cloudrun UpdateService: status 403, always" in markdown


def test_the_cli_exits_1_and_prints_the_scorecard(tmp_path: Path) -> None:
    ran = irt("drill", "--scenario", str(UNHANDLED), "--incident-dir", str(tmp_path / "out"), "-q", cwd=tmp_path,
              timeout=60)
    assert ran.returncode == 1, ran
    assert ran.stdout.splitlines()[0] == "drill unhandled-fault: FAILED (1/3 expectations met)"
    assert "✗ no step failed" in ran.stdout
    assert "report:       " in ran.stdout  # the finally step still wrote the report
    ran = irt("drill", "--scenario", str(UNHANDLED), "--incident-dir", str(tmp_path / "out"), "--json",
              cwd=tmp_path, timeout=60)
    assert ran.returncode == 1
    card = json.loads(ran.stdout)
    assert card["passed"] is False
    assert [e["passed"] for e in card["expectations"]] == [False, False, True]
    assert card["time_to_mitigate"] is None
