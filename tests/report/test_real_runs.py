"""Reports of incidents run for real through the engine: a successful run (the report written by
its own ``report.render`` finally step), a failed run rolled back (the earlier issue's
on-failure-rollback runbook, reported afterwards with ``irt report``), and resumed runs (paused
at an approval; killed after a side effect). Each report is checked against its journal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from pyirt.cli import run as irt_run
from pyirt.core import journal
from pyirt.engine import session
from pyirt.engine.config import Config
from pyirt.errors import Stopped
from pyirt.report.load import read_report
from pyirt.report.render import render
from tests.helpers import RUNBOOKS, journal_events
from tests.report.conftest import CONFIG, REPORT_FIXTURES, TEST_PLUGINS, Respond, options
from tests.report.conftest import RUNBOOKS as REPORT_RUNBOOKS


def report_json(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return data


def steps_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in data["steps"]}


def item(data: dict[str, Any], text: str) -> dict[str, Any]:
    return next(i for i in data["action_items"] if i["text"] == text)


# -- a successful run, reported by its own finally step ------------------------------------------------
def test_a_successful_run_writes_its_report_in_its_finally_step(respond: Respond, workdir: Path) -> None:
    result = respond("success.yaml", {"out": str(workdir / "out.txt"), "counter": str(workdir / "calls")})
    assert result.outcome == "succeeded"
    report_step = result.state.step("report")
    assert report_step.status == "succeeded"
    assert report_step.output == {"files": ["report.md", "report.html", "report.json"],
                                  "formats": ["md", "html", "json"]}
    data = report_json(result.folder)

    # rendered while it ran: the journal so far, the report step itself running (not in doubt)
    assert data["status"] == "running" and data["outcome"] == ""
    assert steps_of(data)["report"]["status"] == "running"
    assert data["notes"] == [f"Rendered by step report while the incident ran: the outcome and the last steps are "
                             f"not in it yet; irt report {result.incident_id} renders it again."]
    assert not any("report" in i["text"] and i["source"] == "this run" for i in data["action_items"])
    events = journal_events(result.folder)
    written = [e for e in events if e["seq"] <= len(data["timeline"])]
    assert [e["type"] for e in written] == [e["type"] for e in data["timeline"]]
    assert data["timeline"][-1]["type"] == "step.started" and data["timeline"][-1]["step"] == "report"

    steps = steps_of(data)
    assert [s["id"] for s in data["steps"]] == ["collect-logs", "collect-stats", "contain", "settle", "tell", "report"]
    assert steps["settle"]["attempts"] == 2 and steps["settle"]["retries"] == 1
    assert steps["contain"]["approval"] == "granted" and "(--yes)" in steps["contain"]["approved_by"]
    assert steps["collect-stats"]["result"] == "memory 91.5% of 2.0 GiB (threshold 85.0%: over)"
    assert data["severity"] == "sev2" and data["severity_source"] == "input severity"
    assert data["impact"]["services"] == ["pixashot"]
    assert data["detection"]["source"] == "manual"
    assert data["runbook"]["description"].startswith("Keep the evidence")

    [log] = data["evidence"]["logs"]
    assert log["path"] == "artifacts/collect-logs/pixashot.log"
    assert log["last_errors"] == ["2026-12-04T03:01:00.000000Z ERROR render timeout after 30s",
                                  "2026-12-04T03:02:00.000000Z fatal: worker died"]  # stdout and stderr, in time order
    [stats] = data["evidence"]["stats"]
    assert stats["memory_percent"] == 91.5 and stats["threshold_percent"] == 85.0 and stats["over_threshold"]
    assert [a["path"] for a in data["evidence"]["artifacts"]] == [
        "artifacts/collect-logs/pixashot.log", "artifacts/collect-logs/pixashot.stderr.log"]

    # re-rendered after the run: the same facts, now closed
    code = irt_run(["report", result.incident_id, "--format", "json", "--incident-dir", str(workdir / "incidents")])
    assert code == 0
    final = report_json(result.folder)
    assert final["status"] == "closed" and final["outcome"] == "succeeded" and final["notes"] == []
    assert steps_of(final)["report"]["status"] == "succeeded"
    assert len(final["timeline"]) == len(events)
    keys = {k["key"]: k for k in final["key_times"]}
    assert keys["resolve"]["seconds"] is not None and keys["first_action"]["seconds"] is not None
    assert keys["detect"]["seconds"] is None and "no alert" in keys["detect"]["basis"]
    assert final["steps"][:5] == data["steps"][:5]

    md = (result.folder / "report.md").read_text(encoding="utf-8")
    assert "## Response timeline" in md and "## Open questions" in md and "## Action items" in md
    html = (result.folder / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html


# -- a failed run with rollback, reported afterwards ---------------------------------------------------
def test_a_rolled_back_run_reports_the_failure_and_every_undo(respond: Respond, workdir: Path) -> None:
    record = workdir / "record.txt"
    result = respond(RUNBOOKS / "on-failure-rollback.yaml", {"record": str(record)})
    assert result.outcome == "rolled_back"
    code = irt_run(["report", result.incident_id, "--format", "json", "--incident-dir", str(workdir / "incidents")])
    assert code == 0
    data = report_json(result.folder)
    assert data["status"] == "closed" and data["outcome"] == "rolled_back"
    assert data["outcome_text"] == ("Rolled back: step breaks (fixture.fail) failed: the backend said no; "
                                    "the completed changes were undone.")
    steps = steps_of(data)
    assert steps["breaks"]["status"] == "failed" and steps["breaks"]["policy"] == "rollback"
    assert steps["breaks"]["backend"] == "fail-backend"
    assert steps["after"]["status"] == "skipped" and steps["after"]["skip_reason"] == "not run: step breaks failed"
    assert {sid: steps[sid]["undo"] for sid in ("first", "second", "third")} == {
        "first": "succeeded", "second": "succeeded", "third": "succeeded"}
    assert steps["second"]["undo_action"] == "fixture.record"
    types = [e["type"] for e in data["timeline"]]
    assert types.count("undo.succeeded") == 3 and "rollback.started" in types
    undo_order = [e["step"] for e in data["timeline"] if e["type"] == "undo.started"]
    assert undo_order == ["third", "second", "first"]
    keys = {k["key"]: k for k in data["key_times"]}
    assert keys["mitigate"]["seconds"] is None and "rolled back" in keys["mitigate"]["basis"]
    assert keys["resolve"]["seconds"] is None and "rolled_back" in keys["resolve"]["basis"]
    assert any(q["key"] == "failed:breaks" for q in data["questions"])
    assert item(data, "Fix what made step breaks (fixture.fail) fail")["status"] == "open"
    assert item(data, "Decide whether the steps that were not run still need doing")["evidence"] == "after"
    assert any(line.startswith("Rollback: 3 step(s) undone") for line in data["summary"])

    md = render(read_report(result.folder), "md")
    assert "| breaks | fixture.fail | failed |" in md
    assert "undo succeeded" in md


# -- resumed runs --------------------------------------------------------------------------------------
def test_a_run_paused_at_an_approval_and_resumed_shows_the_pause(respond: Respond, workdir: Path) -> None:
    record = workdir / "record.txt"
    try:
        respond(RUNBOOKS / "approval.yaml", {"record": str(record)}, yes=False)
        raise AssertionError("the run should stop at the approval gate")
    except Stopped:
        pass
    [folder] = (workdir / "incidents").iterdir()
    paused = read_report(folder)
    assert paused.status == "paused" and paused.outcome_text.startswith("Paused (approval)")
    assert [s.status for s in paused.steps][:2] == ["succeeded", "pending"]
    result = session.resume(folder.name, CONFIG, options(workdir, yes=True))
    assert result.outcome == "succeeded"
    report = read_report(folder)
    kinds = [e.type for e in report.timeline]
    assert kinds.count("incident.paused") == 1 and kinds.count("incident.resumed") == 1
    assert kinds.count("approval.requested") == 2 and kinds.count("approval.granted") == 2  # gate, contain
    assert any("resumed 1 time(s) (paused for: approval)" in line for line in report.summary)
    md = render(report, "md")
    assert "paused (approval): step gate needs approval" in md
    assert "incident resumed" in md


def test_a_run_killed_after_a_side_effect_and_resumed_reports_the_reconciled_step(workdir: Path) -> None:
    config = workdir / "irt.yaml"
    config.write_text("plugins: [irt_testplugin, irt_report_actions]\n", encoding="utf-8")
    out = workdir / "out.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(TEST_PLUGINS), str(REPORT_FIXTURES), env.get("PYTHONPATH", "")])
    env["IRT_CRASH_AFTER_EFFECT"] = "second"
    crashed = subprocess.run(
        [sys.executable, str(TEST_PLUGINS / "crashing_irt.py"), "respond", str(REPORT_RUNBOOKS / "resume.yaml"),
         "-i", f"out={out}", "--yes", "--config", str(config), "--incident-dir", str(workdir / "incidents")],
        env=env, cwd=workdir, capture_output=True, text=True, timeout=60, check=False)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    [folder] = (workdir / "incidents").iterdir()
    in_doubt = read_report(folder)
    assert in_doubt.status == "running"
    second = next(s for s in in_doubt.steps if s.id == "second")
    assert second.status == "running"
    assert any(i.text == "Check whether step second (testing.append) took effect" for i in in_doubt.action_items)

    result = session.resume(folder.name, Config(plugins=("irt_testplugin", "irt_report_actions")),
                            options(workdir, yes=True))
    assert result.outcome == "succeeded"
    assert out.read_text().splitlines() == ["first", "second", "third"]
    data = report_json(folder)  # written by the resumed run's finally step
    assert [e["type"] for e in data["timeline"]].count("incident.resumed") == 1
    steps = steps_of(data)
    assert steps["second"]["status"] == "succeeded" and steps["second"]["reconciled"]
    assert steps["second"]["in_doubt"] == ["reconciled"]
    assert any(q["key"] == "in_doubt:second" for q in data["questions"])
    assert any("interrupted and resumed 1 time(s) (the process stopped)" in line for line in data["summary"])
    assert journal.fold(journal.parse((folder / "journal.jsonl").read_bytes()).events).outcome == "succeeded"
