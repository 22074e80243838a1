"""Snapshots of the Markdown report for fixed journals (tests/fixtures/report/seed-incident: the
seed's security runbook, closed with an error; and the same journal cut while it waited for an
approval). Rendering is deterministic: times are relative to the journal, never to "now".

To accept a deliberate change: IRT_UPDATE_SNAPSHOTS=1 pytest tests/report/test_snapshot.py,
then review the diff of the .expected.md files."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from pyirt.core import journal
from pyirt.report.build import build_report
from pyirt.report.load import Scrubber, read_report, scan_artifacts
from pyirt.report.render import render
from tests.report.conftest import REPORT_FIXTURES, SEED

UPDATE = os.environ.get("IRT_UPDATE_SNAPSHOTS") == "1"


def check(text: str, expected: Path) -> None:
    if UPDATE:
        expected.write_text(text, encoding="utf-8")
    assert expected.is_file(), f"no snapshot {expected}: run with IRT_UPDATE_SNAPSHOTS=1 to write it"
    want = expected.read_text(encoding="utf-8")
    if text != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True), str(expected), "rendered"))
        pytest.fail(f"the report differs from its snapshot:\n{diff}")


def test_markdown_of_the_seed_incident_matches_its_snapshot(seed: Path) -> None:
    check(render(read_report(seed), "md"), REPORT_FIXTURES / "seed-incident.expected.md")


def test_markdown_of_an_incident_paused_at_an_approval_matches_its_snapshot() -> None:
    events = list(journal.parse((SEED / "journal.jsonl").read_bytes()).events)
    cut = [e for e in events if e["seq"] <= 9]  # up to approval.requested for the rollback step
    assert cut[-1]["type"] == "approval.requested"
    paused = {"seq": 10, "ts": "2026-12-04T03:15:05.001000Z", "type": "incident.paused", "reason": "approval",
              "step": "rollback", "detail": "step rollback needs approval"}
    artifacts, _ = scan_artifacts(SEED, journal.fold(cut), Scrubber())
    report = build_report([*cut, paused], artifacts=artifacts)
    check(render(report, "md"), REPORT_FIXTURES / "seed-incident-paused.expected.md")


def test_rendering_twice_gives_the_same_bytes(seed: Path) -> None:
    first, second = read_report(seed), read_report(seed)
    for fmt in ("md", "html", "json"):
        assert render(first, fmt) == render(second, fmt)
    assert json.loads(render(first, "json"))["format"] == "irt.report/v1"
