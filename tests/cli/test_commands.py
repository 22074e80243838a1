"""The ``irt`` command line: version, actions, exit codes, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pyirt
from pyirt.errors import EXIT_ENVIRONMENT, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_OK
from tests.cli.conftest import Irt
from tests.helpers import CONFIGS, RUNBOOKS, SHIPPED, clean_env, irt

INPUTS_RUNBOOK = """\
apiVersion: irt/v1
kind: Runbook
name: needs-inputs
inputs:
  project: {type: string, required: true}
  replicas: {type: int, default: 1}
steps:
  - id: hello
    action: notify.console
    with: {text: "{{ inputs.project }} x{{ inputs.replicas }}"}
"""


def test_version(irt_run: Irt) -> None:
    ran = irt_run("--version")
    assert ran.code == EXIT_OK
    assert ran.out.strip() == f"irt {pyirt.__version__}"


def test_actions_list(irt_run: Irt) -> None:
    ran = irt_run("actions", "list")
    assert ran.code == EXIT_OK
    names = [line.split()[0] for line in ran.out.splitlines() if line and not line.startswith("D ")]
    assert {"flow.approve", "flow.wait", "http.check", "notify.console"} <= set(names)
    listed = json.loads(irt_run("actions", "list", "--json").out)
    assert {"name": "http.check", "summary": "Request a URL and check its status, JSON fields and headers."} in listed


def test_actions_list_does_not_import_any_sdk(tmp_path: Path) -> None:
    code = ("import sys; from pyirt.cli import run; run(['actions','list']); "
            "print(any(m.split('.')[0] in ('docker','boto3','google','azure','temporalio') for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(),
                          timeout=60, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_actions_show_http_check(irt_run: Irt) -> None:
    ran = irt_run("actions", "show", "http.check")
    assert ran.code == EXIT_OK
    assert ran.out.startswith("http.check: Request a URL")
    for param in ("url", "method", "headers", "body", "expect_status", "expect_json", "expect_headers", "timeout"):
        assert f"\n    {param} " in ran.out
    assert "from entry point http = pyirt.actions.http:ACTIONS" in ran.out
    data = json.loads(irt_run("actions", "show", "http.check", "--json").out)
    assert data["idempotent"] is True
    url = {"name": "url", "type": "string", "required": True, "default": None, "choices": [], "doc": ""}
    assert url in data["params"]


def test_actions_show_unknown_action(irt_run: Irt) -> None:
    ran = irt_run("actions", "show", "http.chek")
    assert ran.code == EXIT_INVALID
    assert ran.err == "irt: error: no action 'http.chek'; irt actions list shows them all\n"


@pytest.mark.parametrize("args", [
    ["respond", "--bogus", "x.yaml"], ["respond"], ["frobnicate"], ["resume", "x", "--in-doubt"],
    ["validate", "--json=3", "x.yaml"], ["--nope"],
])
def test_bad_usage_gives_exit_2_and_one_line(irt_run: Irt, args: list[str]) -> None:
    ran = irt_run(*args)
    assert ran.code == EXIT_INVALID
    assert ran.err.count("\n") == 1, ran.err
    assert ran.err.startswith("irt: error: ")
    assert ran.out == ""


def test_bad_flag_names_the_flag(irt_run: Irt) -> None:
    assert irt_run("respond", "--bogus", "x.yaml").err == (
        "irt: error: No such option: --bogus (see: irt respond --help)\n")


def test_unknown_in_doubt_choice(irt_run: Irt, workdir: Path) -> None:
    ran = irt_run("resume", "whatever", "--in-doubt", "maybe", "--incident-dir", str(workdir))
    assert ran.code == EXIT_INVALID
    assert "--in-doubt 'maybe': use one of ask, rerun, skip, fail" in ran.err


@pytest.mark.parametrize("command", [["resume"], ["incidents", "show"]])
def test_unknown_incident_gives_exit_4(irt_run: Irt, workdir: Path, command: list[str]) -> None:
    ran = irt_run(*command, "20260101T000000Z-nothing-0000", "--incident-dir", str(workdir / "incidents"))
    assert ran.code == EXIT_NOT_FOUND
    assert ran.err.startswith("irt: error: no incident '20260101T000000Z-nothing-0000' in ")
    assert ran.err.count("\n") == 1


def test_missing_required_input_gives_exit_2_naming_it(irt_run: Irt, workdir: Path) -> None:
    (workdir / "rb.yaml").write_text(INPUTS_RUNBOOK)
    ran = irt_run("respond", "rb.yaml", "--incident-dir", "inc")
    assert ran.code == EXIT_INVALID
    assert ran.err == "irt: error: input project is required (-i project=VALUE)\n"
    assert not (workdir / "inc").exists()  # nothing was opened


def test_undeclared_input_gives_exit_2_naming_it(irt_run: Irt, workdir: Path) -> None:
    (workdir / "rb.yaml").write_text(INPUTS_RUNBOOK)
    ran = irt_run("respond", "rb.yaml", "-i", "project=demo", "-i", "colour=red", "--incident-dir", "inc")
    assert ran.code == EXIT_INVALID
    assert "input 'colour' is not declared by runbook needs-inputs (declared: project, replicas)" in ran.err
    bad_type = irt_run("plan", "rb.yaml", "-i", "project=demo", "-i", "replicas=lots")
    assert bad_type.code == EXIT_INVALID
    assert "input replicas: expected int, got 'lots'" in bad_type.err
    malformed = irt_run("respond", "rb.yaml", "-i", "project")
    assert malformed.code == EXIT_INVALID
    assert "-i 'project': expected KEY=VALUE" in malformed.err


def test_inputs_reach_the_run(irt_run: Irt, workdir: Path) -> None:
    (workdir / "rb.yaml").write_text(INPUTS_RUNBOOK)
    ran = irt_run("respond", "rb.yaml", "-i", "project=demo", "-i", "replicas=3", "--incident-dir", "inc", "--json")
    assert ran.code == EXIT_OK, ran.err
    events = [json.loads(line) for line in ran.out.splitlines()]
    assert events[0]["type"] == "incident.opened"
    assert events[0]["inputs"] == {"project": "demo", "replicas": 3}
    assert {"type": "message", "step": "hello", "text": "demo x3"} in events
    assert events[-1]["type"] == "result" and events[-1]["outcome"] == "succeeded"


def test_missing_runbook_file(irt_run: Irt) -> None:
    ran = irt_run("respond", "nowhere.yaml")
    assert ran.code == EXIT_INVALID
    assert ran.err == "irt: error: runbook nowhere.yaml does not exist\n"


# -- configuration ---------------------------------------------------------------------------------------
def test_config_with_an_unknown_section_gives_exit_2_with_file_and_line(irt_run: Irt) -> None:
    config = CONFIGS / "unknown-section.yaml"
    ran = irt_run("actions", "list", "--config", str(config))
    assert ran.code == EXIT_INVALID
    assert ran.err.startswith(f"irt: error: {config}:3:1: notifications: unknown section (known: providers, ")
    assert ran.out == ""


def test_config_with_an_inline_password_gives_exit_2_with_file_and_line(irt_run: Irt) -> None:
    config = CONFIGS / "inline-password.yaml"
    ran = irt_run("validate", str(RUNBOOKS / "minimal.yaml"), "--config", str(config))
    assert ran.code == EXIT_INVALID
    assert ran.err == (f"irt: error: {config}:7:15: channels.email-sre.password: "
                       "credentials must be references (env:NAME or file:PATH), not inline\n")
    assert "hunter2" not in ran.err


def test_config_from_the_environment_and_from_the_working_directory(
    irt_run: Irt, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRT_CONFIG", str(CONFIGS / "unknown-section.yaml"))
    assert irt_run("actions", "list").code == EXIT_INVALID
    monkeypatch.delenv("IRT_CONFIG")
    (workdir / "irt.yaml").write_text("plugins: [irt_fixture_actions]\n")
    assert "fixture.flaky" in irt_run("actions", "list").out


def test_a_good_config_is_accepted(irt_run: Irt) -> None:
    ran = irt_run("validate", str(RUNBOOKS / "minimal.yaml"), "--config", str(CONFIGS / "good.yaml"))
    assert ran.code == EXIT_OK, ran.err


def test_a_config_file_that_does_not_exist(irt_run: Irt) -> None:
    ran = irt_run("actions", "list", "--config", "absent.yaml")
    assert ran.code == EXIT_INVALID
    assert ran.err == "irt: error: config file absent.yaml does not exist\n"


# -- the action registry ---------------------------------------------------------------------------------
def test_a_duplicate_action_name_fails_naming_both_sources(irt_run: Irt) -> None:
    ran = irt_run("actions", "list", "--config", str(CONFIGS / "duplicate-action.yaml"))
    assert ran.code == EXIT_ENVIRONMENT
    assert ran.err.count("\n") == 1
    assert "action 'notify.console' is registered twice: by entry point notify-console = " in ran.err
    assert "and by plugin irt_fixture_dup" in ran.err


def test_plugins_from_the_config_are_listed(irt_run: Irt) -> None:
    ran = irt_run("actions", "list", "--config", str(CONFIGS / "fixture-actions.yaml"))
    assert ran.code == EXIT_OK
    rows = {line.split()[0]: line.split()[1] for line in ran.out.splitlines() if line.startswith("fixture.")}
    assert rows == {"fixture.fail": "Always", "fixture.flaky": "I", "fixture.record": "D"}


def make_dist(root: Path, *, module: str, body: str, value: str) -> None:
    """A minimal installed distribution: a module plus its dist-info with one pyirt.actions entry point."""
    (root / f"{module}.py").write_text(body)
    info = root / "fakeplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[pyirt.actions]\nfake = {value}\n")


FAKE_PLUGIN = '''
from pyirt.actions.api import Action
from pyirt.core.actionspec import ActionSpec, Param


class Hello(Action):
    spec = ActionSpec(name="fake.hello", summary="Say hello from an installed plugin.",
                      params=(Param("who", "string", required=True),), idempotent=True)

    def run(self, params, ctx):
        ctx.log(f"hello {params['who']}")
        return {"greeted": params["who"]}


ACTIONS = [Hello]
'''


def test_an_entry_point_plugin_from_a_dist_info_on_pythonpath_is_listed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, module="fakeplugin_actions", body=FAKE_PLUGIN, value="fakeplugin_actions:ACTIONS")
    env = clean_env(PYTHONPATH=str(site))
    listed = irt("actions", "list", cwd=tmp_path, env=env)
    assert listed.returncode == EXIT_OK, listed.stderr
    assert any(line.split()[:3] == ["fake.hello", "I", "Say"] for line in listed.stdout.splitlines())
    shown = irt("actions", "show", "fake.hello", cwd=tmp_path, env=env)
    assert "from entry point fake = fakeplugin_actions:ACTIONS (fakeplugin 0.1)" in shown.stdout
    runbook = tmp_path / "rb.yaml"
    runbook.write_text("apiVersion: irt/v1\nname: fake\nsteps:\n  - {id: hi, action: fake.hello, with: {who: ops}}\n")
    ran = irt("respond", str(runbook), "--incident-dir", str(tmp_path / "inc"), cwd=tmp_path, env=env)
    assert ran.returncode == EXIT_OK, ran.stderr
    assert "hi: hello ops" in ran.stderr
    # without the plugin on the path, the same runbook does not validate
    plain = irt("validate", str(runbook), cwd=tmp_path)
    assert plain.returncode == EXIT_INVALID
    assert "steps[0].action: unknown action 'fake.hello'" in plain.stdout


def test_an_entry_point_that_fails_to_load_gives_exit_6(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, module="fakeplugin_broken", body="raise ImportError('needs libfoo')\n",
              value="fakeplugin_broken:ACTIONS")
    ran = irt("actions", "list", cwd=tmp_path, env=clean_env(PYTHONPATH=str(site)))
    assert ran.returncode == EXIT_ENVIRONMENT
    assert ran.stderr == ("irt: error: entry point fake = fakeplugin_broken:ACTIONS (fakeplugin 0.1) failed to load: "
                          "ImportError: needs libfoo\n")


# -- incidents and plan --------------------------------------------------------------------------------
def test_the_shipped_drill_runs_end_to_end_and_is_listed(irt_run: Irt, workdir: Path) -> None:
    ran = irt_run("respond", str(SHIPPED / "local-drill.yaml"), "--yes", "-i", "pause=10ms",
                  "--incident-dir", "incidents")
    assert ran.code == EXIT_OK, ran.err
    incident = ran.out.splitlines()[0].removeprefix("incident ").removesuffix(": succeeded")
    assert "mitigate: Mitigation of pixashot started after a 0.01s pause" in ran.err
    listed = irt_run("incidents", "list", "--incident-dir", "incidents")
    assert listed.code == EXIT_OK
    assert listed.out.split() == [incident, "closed", "succeeded"]
    rows = json.loads(irt_run("incidents", "list", "--incident-dir", "incidents", "--json").out)
    assert [(r["id"], r["runbook"], r["status"]) for r in rows] == [(incident, "local-drill", "closed")]
    shown = json.loads(irt_run("incidents", "show", incident[-4:], "--incident-dir", "incidents", "--json").out)
    assert [(s["id"], s["status"]) for s in shown["steps"]] == [
        ("announce", "succeeded"), ("settle", "succeeded"), ("confirm-mitigation", "succeeded"),
        ("mitigate", "succeeded"), ("close", "succeeded")]
    assert shown["inputs"] == {"service": "pixashot", "pause": "10ms", "severity": "sev2"}


def test_no_incidents_yet(irt_run: Irt) -> None:
    ran = irt_run("incidents", "list", "--incident-dir", "incidents")
    assert ran.code == EXIT_OK
    assert ran.out == "no incidents in incidents\n"


def test_a_journal_damaged_in_the_middle_is_a_conflict_not_a_silent_loss(irt_run: Irt, workdir: Path) -> None:
    assert irt_run("respond", str(RUNBOOKS / "minimal.yaml"), "--incident-dir", "incidents").code == EXIT_OK
    [folder] = (workdir / "incidents").iterdir()
    journal = folder / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text(lines[0] + "{not json\n" + "".join(lines[2:]))
    shown = irt_run("incidents", "show", folder.name, "--incident-dir", "incidents")
    assert shown.code == 5
    assert shown.err == "irt: error: journal line 2 is damaged; the journal cannot be folded\n"
    listed = irt_run("incidents", "list", "--incident-dir", "incidents")
    assert listed.code == EXIT_OK
    assert "unreadable" in listed.out


def test_plan_renders_parameters_and_executes_nothing(irt_run: Irt, workdir: Path) -> None:
    ran = irt_run("plan", str(SHIPPED / "local-drill.yaml"), "-i", "service=web")
    assert ran.code == EXIT_OK, ran.err
    assert ran.out.splitlines()[0] == "runbook local-drill: 5 steps (nothing will be executed)"
    assert '       text: "Incident on web (sev2) opened at <incident.started_at>"' in ran.out
    assert "  3. confirm-mitigation  flow.approve  [approval]" in ran.out
    assert "<steps.settle.output.waited>" in ran.out
    assert not (workdir / "incidents").exists()
    planned = json.loads(irt_run("plan", str(SHIPPED / "local-drill.yaml"), "--json").out)
    assert [s["id"] for s in planned["steps"]] == ["announce", "settle", "confirm-mitigation", "mitigate", "close"]
