"""``build_report``: the pure function from journal events (plus runbook and artifacts) to the
report's facts. Unknown facts stay unknown, the checklist follows what the run did, and any
prefix of a journal, or any junk in its events, still gives a report every format can render."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyirt.core import journal
from pyirt.core.parse import parse_runbook
from pyirt.report.build import build_report
from pyirt.report.model import Artifact
from pyirt.report.render import render
from tests.report.conftest import SEED

T0 = "2026-12-04T03:15:02.000000Z"


def at(seconds: float) -> str:
    whole, frac = divmod(round(seconds * 1000), 1000)
    return f"2026-12-04T03:{15 + (2 + whole) // 60:02d}:{(2 + whole) % 60:02d}.{frac:03d}000Z"


def events(*items: tuple[float, str, dict[str, Any]], inputs: dict[str, Any] | None = None,
           alert: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    opened = {"seq": 1, "ts": T0, "type": "incident.opened", "incident": "INC-1", "version": "0",
              "runbook": {"name": "book", "path": "/nowhere/book.yaml", "digest": "sha256:x"},
              "inputs": inputs or {}, "alert": alert}
    return [opened, *({"seq": n, "ts": at(t), "type": kind, **fields} for n, (t, kind, fields) in
                      enumerate(items, start=2))]


def ran(step: str, action: str, start: float, end: float, output: dict[str, Any] | None = None,
        ) -> Iterator[tuple[float, str, dict[str, Any]]]:
    yield start, "step.started", {"step": step, "action": action, "attempt": 1, "phase": "main", "params": {}}
    yield end, "step.succeeded", {"step": step, "output": output or {}, "duration": end - start}


def test_an_empty_journal_gives_a_report_of_unknowns() -> None:
    report = build_report([])
    assert report.status == "running" and report.severity is None and report.duration is None
    assert report.detection.source == "manual" and report.impact.services == ()
    assert all(k.seconds is None for k in report.key_times)
    for fmt in ("md", "html", "json"):
        assert render(report, fmt)


def test_severity_comes_from_the_input_then_the_alert_labels() -> None:
    alert = {"labels": {"alertname": "X", "severity": "page"}}
    assert build_report(events(inputs={"severity": "sev1"}, alert=alert)).severity == "sev1"
    by_label = build_report(events(alert=alert))
    assert (by_label.severity, by_label.severity_source) == ("page", "alert label severity")
    assert build_report(events()).severity is None


def test_key_times_from_an_alert_with_nanoseconds() -> None:
    alert = {"labels": {"alertname": "MemoryHigh"}, "startsAt": "2026-12-04T03:14:02.123456789Z"}
    evs = events(*ran("bump", "docker.update", 2.0, 5.5), (6.0, "incident.closed", {"outcome": "succeeded"}),
                 alert=alert)
    keys = {k.key: k.seconds for k in build_report(evs).key_times}
    assert keys == {"detect": 59.877, "first_action": 2.0, "mitigate": 5.5, "resolve": 6.0}


def test_the_checklist_follows_what_the_run_did() -> None:
    evs = events(*ran("rotate", "secrets.rotate", 1, 2), *ran("bump", "docker.update", 3, 4),
                 (5, "step.skipped", {"step": "traffic", "phase": "main", "reason": "when is false"}),
                 (6, "undo.started", {"step": "bump", "action": "docker.update"}),
                 (7, "undo.succeeded", {"step": "bump", "action": "docker.update"}))
    items = {i.text: i for i in build_report(evs).action_items}
    assert items["Rotate credentials"].status == "done"
    assert items["Rotate credentials"].evidence == "step rotate (secrets.rotate) succeeded"
    assert items["Update configurations"].status == "open"
    assert items["Update configurations"].evidence == "step bump (docker.update) was rolled back"
    assert items["Document lessons learned"].status == "in progress"
    assert items["Update security measures"].status == "open"


def test_cloud_run_changes_count_as_configuration_updates() -> None:
    items = {i.text: i for i in build_report(events(*ran("roll", "cloudrun.rollback", 1, 2))).action_items}
    assert items["Update configurations"].status == "done"
    assert items["Rotate credentials"].status == "open"


def test_multi_container_evidence_is_reported_per_container() -> None:
    def logs(name: str) -> dict[str, Any]:
        base = f"/x/INC-1/artifacts/logs/{name}"
        return {"path": f"{base}.log", "stderr_path": f"{base}.stderr.log",
                "lines": 3, "error_lines": 1, "excerpt": ["a"], "first_timestamp": None, "last_timestamp": None}

    output = {"containers": {"web": logs("web"), "db": logs("db")}}
    stats = {"containers": {"web": {"memory_percent": 50.0, "memory_limit": 1024}, "db": {"memory_percent": 97.5}}}
    evs = events(*ran("logs", "docker.logs", 1, 2, output), *ran("stats", "docker.stats", 2, 3, stats))
    arts = [Artifact("artifacts/logs/web.log", 10, "logs", ("web ERROR one",)),
            Artifact("artifacts/logs/web.stderr.log", 5, "logs", ("web ERROR two",))]
    report = build_report(evs, artifacts=arts)
    web, db = report.evidence.logs
    assert (web.container, web.path, web.last_errors) == ("web", "artifacts/logs/web.log",
                                                        ("web ERROR one", "web ERROR two"))
    assert (db.container, db.path, db.recorded_path) == ("db", None, "/x/INC-1/artifacts/logs/db.log")
    assert [(s.container, s.memory_percent, s.threshold_percent) for s in report.evidence.stats] == [
        ("web", 50.0, None), ("db", 97.5, None)]
    assert report.steps[1].result == "web: memory 50.0% of 1.0 KiB; db: memory 97.5% of unknown"


def test_the_runbook_adds_steps_not_reached_only_when_it_is_the_one_that_ran() -> None:
    text = ("apiVersion: irt/v1\nkind: Runbook\nname: book\ndescription: Contain it.\nsteps:\n"
            "  - {id: one, action: a.b, description: first}\n  - {id: two, action: c.d}\n")
    book = parse_runbook(text, "book.yaml")
    evs = events(*ran("one", "a.b", 1, 2))
    evs[0]["runbook"]["digest"] = book.digest
    report = build_report(evs, runbook=book)
    assert [(s.id, s.status, s.action, s.description) for s in report.steps] == [
        ("one", "succeeded", "a.b", "first"), ("two", "pending", "c.d", "")]
    assert report.runbook.description == "Contain it."
    evs[0]["runbook"]["digest"] = "sha256:other"
    changed = build_report(evs, runbook=book)
    assert [s.id for s in changed.steps] == ["one"] and changed.runbook.description == ""
    assert changed.notes == (
        "The runbook file changed after this incident ran: steps are listed as the journal has them.",)


def test_unknown_events_are_listed_as_they_are() -> None:
    report = build_report(events((1, "notify.sent", {"step": "tell", "channel": "oncall"}),
                                 (2, "something.new", {"step": "tell"})))
    assert [(e.type, e.category, e.text) for e in report.timeline[1:]] == [
        ("notify.sent", "notify", "notification sent to oncall"), ("something.new", "other", "something.new")]


SEED_EVENTS = list(journal.parse((SEED / "journal.jsonl").read_bytes()).events)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(SEED_EVENTS)))
def test_every_prefix_of_a_journal_renders(cut: int) -> None:
    report = build_report(SEED_EVENTS[:cut])
    assert len(report.timeline) == cut
    for fmt in ("md", "html", "json"):
        assert render(report, fmt)


JUNK = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries(
    {"type": st.sampled_from([*journal.EVENT_TYPES, "other"])},
    optional={"seq": JUNK, "ts": st.one_of(JUNK, st.just(T0)), "step": st.one_of(JUNK, st.sampled_from(["a", "b"])),
              "output": JUNK, "error": JUNK, "attempt": JUNK, "duration": JUNK, "params": JUNK, "alert": JUNK,
              "inputs": JUNK, "runbook": JUNK, "action": JUNK, "reason": JUNK}), max_size=12))
def test_junk_in_events_never_breaks_a_report(evs: list[dict[str, Any]]) -> None:
    report = build_report(evs)
    for fmt in ("md", "html", "json"):
        assert render(report, fmt)
