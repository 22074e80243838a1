"""Hostile input: template syntax smuggled in through ``-i`` inputs and alert fields stays data, and
runbook templates that reach for Python internals or a secret's value are refused by the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyirt.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from tests.cli.conftest import Irt
from tests.helpers import CANARY, FIXTURES, RUNBOOKS, incident_folder, journal_events, of_type

ALERT = FIXTURES / "alerts" / "hostile-alert.json"


@pytest.mark.parametrize("payload", ["{{ 7*7 }}", "{% if true %}yes{% endif %}", "{{ cycler.__init__.__globals__ }}",
                                     "{{ secret('env:CANARY_TOKEN') }}", "{{"])
def test_template_syntax_in_an_input_stays_data(irt_run: Irt, workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                payload: str) -> None:
    monkeypatch.setenv("CANARY_TOKEN", CANARY)
    ran = irt_run("respond", str(RUNBOOKS / "hostile.yaml"), "-i", f"service={payload}", "--alert", str(ALERT),
                  "--incident-dir", "incidents")
    assert ran.code == EXIT_OK, ran.err
    events = journal_events(incident_folder(workdir / "incidents"))
    outputs = {e["step"]: e["output"]["text"] for e in of_type(events, "step.succeeded")}
    assert outputs["from-input"] == payload
    assert outputs["from-input-inline"] == f"service={payload}"
    assert f"    from-input: {payload}\n" in ran.err
    assert "49" not in outputs["from-input"]
    assert CANARY not in ran.out + ran.err


def test_alert_labels_and_annotations_stay_data(irt_run: Irt, workdir: Path) -> None:
    ran = irt_run("respond", str(RUNBOOKS / "hostile.yaml"), "--alert", str(ALERT), "--incident-dir", "incidents",
                  "--json")
    assert ran.code == EXIT_OK, ran.err
    alert = json.loads(ALERT.read_text())
    events = journal_events(incident_folder(workdir / "incidents"))
    assert events[0]["alert"]["labels"] == alert["labels"]
    assert events[0]["alert"]["fingerprint"] == "{{ 6*7 }}"
    [done] = of_type(events, "step.succeeded", "from-alert")
    assert done["output"]["text"] == f"{alert['labels']['service']}|{alert['annotations']['summary']}"


def test_runbook_templates_that_reach_for_internals_are_refused(
    irt_run: Irt, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANARY_TOKEN", CANARY)
    ran = irt_run("respond", str(RUNBOOKS / "escapes.yaml"), "--incident-dir", "incidents")
    assert ran.code == EXIT_OK  # every step is on_failure: continue
    folder = incident_folder(workdir / "incidents")
    events = journal_events(folder)
    failed = {e["step"]: e for e in of_type(events, "step.failed")}
    assert set(failed) == {"mro", "globals", "reveal", "subclasses", "when-escape"}
    for step, event in failed.items():
        assert event["backend"] == "template"
        where = f"steps.{step}.when" if step == "when-escape" else f"steps.{step}.with.text"
        # A refused attribute becomes an undefined value: the error is the refusal itself, or the
        # next lookup on what was refused. Either way nothing past the first private name is reached.
        refused = event["error"].startswith(f"{where}: refused by the template sandbox: access to attribute ")
        chained = event["error"].startswith(f"{where}: 'jinja2.runtime.StrictUndefined object' has no attribute")
        assert refused or chained, event
    assert "'reveal' of 'Secret' object" in failed["reveal"]["error"]
    assert not of_type(events, "step.started", "mro")  # refused before the action was called
    assert of_type(events, "step.succeeded", "fine")[0]["output"] == {"text": "still running"}
    assert events[-1]["outcome"] == "completed_with_errors"
    leaked = ran.out + ran.err + (folder / "journal.jsonl").read_text()
    for needle in (CANARY, "<module", "__builtins__", "<built-in", "<class 'object'>", "<function"):
        assert needle not in leaked


def test_literal_private_names_are_refused_by_validation_before_any_run(irt_run: Irt, workdir: Path) -> None:
    ran = irt_run("respond", str(RUNBOOKS / "escapes-static.yaml"), "--incident-dir", "incidents")
    assert ran.code == EXIT_INVALID
    assert not (workdir / "incidents").exists()  # nothing opened, nothing half-written
    lines = ran.err.strip().splitlines()
    for path, name in (("steps[0].with.text", "__mro__"), ("steps[1].with.text", "__globals__"),
                       ("steps[3].with.text", "__subclasses__"), ("steps[4].when", "__globals__")):
        assert any(f"{path}: reads '{name}': the template sandbox refuses private attributes" in line
                   for line in lines), (path, lines)
    assert not any("steps[2]" in line for line in lines)  # reveal() is no private name: the sandbox's job


def test_a_refused_template_in_a_step_that_aborts_names_it_in_one_line(irt_run: Irt, workdir: Path) -> None:
    (workdir / "rb.yaml").write_text(
        "apiVersion: irt/v1\nname: bad\nsteps:\n"
        "  - {id: peek, action: notify.console, with: {text: \"{{ ''|attr('__class__') }}\"}}\n")
    ran = irt_run("respond", "rb.yaml", "--incident-dir", "incidents")
    assert ran.code == EXIT_FAILED
    assert ran.err.strip().splitlines()[-1] == (
        "irt: error: step peek (notify.console) failed: steps.peek.with.text: refused by the template sandbox: "
        "access to attribute '__class__' of 'str' object is unsafe.; incident failed")


def test_control_characters_in_data_cannot_drive_the_operators_terminal(irt_run: Irt, workdir: Path) -> None:
    """An alert label or input holding ESC / BEL / CR is shown escaped, never sent raw to the terminal."""
    payload = "web\x1b[2J\x1b]0;owned\x07\rfaked"
    alert = workdir / "alert.json"
    alert.write_text(json.dumps({"labels": {"service": payload}, "annotations": {"summary": "\x9b31m"}}))
    ran = irt_run("respond", str(RUNBOOKS / "hostile.yaml"), "-i", f"service={payload}", "--alert", str(alert),
                  "--incident-dir", "incidents")
    assert ran.code == EXIT_OK, ran.err
    for raw in ("\x1b", "\x07", "\r", "\x9b"):
        assert raw not in ran.err + ran.out
    assert "from-input: web\\x1b[2J\\x1b]0;owned\\x07\\x0dfaked" in ran.err
    # the journal keeps the data as it came (JSON escapes it)
    events = journal_events(incident_folder(workdir / "incidents"))
    assert of_type(events, "step.succeeded", "from-input")[0]["output"]["text"] == payload
