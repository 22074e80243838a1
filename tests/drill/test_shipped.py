"""Every shipped scenario passes against its shipped runbook, and the README's first drill runs
through the ``irt`` CLI, printing where the report is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyirt.drill.run import run_drill
from pyirt.drill.scenario import load_scenario
from tests.drill.conftest import DRILLS, SHIPPED_SCENARIOS
from tests.helpers import REPO, SHIPPED, irt, journal_events


@pytest.mark.parametrize("path", SHIPPED_SCENARIOS, ids=lambda p: p.stem)
def test_each_shipped_scenario_passes(path: Path, tmp_path: Path) -> None:
    card = run_drill(path, incident_dir=tmp_path, sync=False)
    assert card.passed, card.text()
    assert card.folder is not None and card.folder.parent == tmp_path
    assert (card.folder / "drill.md").read_text().startswith(f"# Drill: {card.scenario}")
    saved = json.loads((card.folder / "drill.json").read_text())
    assert saved["passed"] is True and saved["incident"] == card.incident
    assert card.duration < 20


def test_every_shipped_runbook_has_a_scenario() -> None:
    drilled = {Path(load_scenario(p).runbook or "").resolve() for p in SHIPPED_SCENARIOS}
    assert {p.resolve() for p in SHIPPED.glob("*.yaml")} <= drilled


def test_the_readme_drill_through_the_cli(workdir: Path) -> None:
    ran = irt("drill", str(REPO / "runbooks" / "security-incident.yaml"), "--scenario",
              str(DRILLS / "security-incident.yaml"), cwd=workdir, timeout=90)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    out = ran.stdout.splitlines()
    assert out[0] == "drill security-incident: PASSED (6/6 expectations met)"
    assert sum(line.lstrip().startswith("✓") for line in out) == 6
    report = next(line.split(":", 1)[1].strip() for line in out if line.startswith("report:"))
    assert report.endswith("report.md") and Path(report).is_file()
    folder = Path(report).parent
    assert folder.parent == workdir / "drills-out"  # the default drill folder, not ./incidents
    assert f"drill report: {folder / 'drill.md'}" in out
    assert "incident closed: succeeded" in ran.stderr  # the steps' progress on stderr
    events = journal_events(folder)
    granted = [e for e in events if e["type"] == "approval.granted"]
    assert [e["step"] for e in granted] == ["rollback"]
    logs = (folder / "artifacts" / "collect-logs" / "pixashot.log").read_text()
    assert "Authorization: Bearer ***" in logs and "eyJhbGciOiJIUzI1NiJ9" not in logs


def test_json_scorecard(workdir: Path) -> None:
    ran = irt("drill", "--scenario", str(DRILLS / "local-drill.yaml"), "--json", cwd=workdir, timeout=60)
    assert ran.returncode == 0, ran.stderr
    card = json.loads(ran.stdout)
    assert card["type"] == "drill" and card["passed"] is True and card["outcome"] == "succeeded"
    assert [e["passed"] for e in card["expectations"]] == [True] * 4
    assert card["drill_report"][0].endswith("drill.md")
    assert ran.stderr == ""  # no progress lines with --json
