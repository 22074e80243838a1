"""The secret canary: a runbook uses ``secret('env:CANARY_TOKEN')`` everywhere it can, some steps fail
with the secret in their error, and the value shows up nowhere but in the request to the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyirt.errors import EXIT_FAILED, EXIT_OK
from tests.helpers import (
    CANARY,
    CONFIGS,
    PLUGINS,
    RUNBOOKS,
    Reply,
    Request,
    Server,
    clean_env,
    closed_port,
    http_server,
    irt,
    journal_events,
)

ENDS_WITH = "step breaks (fixture.fail) failed: *** went wrong; incident rolled_back"


def echo(request: Request) -> Reply:
    token = request.headers.get("authorization", "")
    return Reply(200, {"X-Echo": token}, {"ok": True, "token": token})


def echo_500(request: Request) -> Reply:
    token = request.headers.get("authorization", "")
    return Reply(500, {"X-Echo": token}, {"error": f"bad token {token}", "token": token})


@pytest.fixture
def server() -> Iterator[Server]:
    with http_server() as srv:
        srv.route("/echo", echo)
        srv.route("/echo-500", echo_500)
        yield srv


def assert_no_canary_in(folder: Path, *texts: str) -> None:
    for text in texts:
        assert CANARY not in text
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert folder / "journal.jsonl" in files
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("json_out", [False, True], ids=["human", "json"])
def test_the_canary_never_leaks(server: Server, tmp_path: Path, json_out: bool) -> None:
    env = clean_env(PYTHONPATH=str(PLUGINS), CANARY_TOKEN=CANARY)
    incidents = tmp_path / "incidents"
    args = ["respond", str(RUNBOOKS / "canary.yaml"), "-i", f"base={server.url('')}", "-i", f"closed={closed_port()}",
            "--incident-dir", str(incidents), "--config", str(CONFIGS / "fixture-actions.yaml")]
    ran = irt(*args, *(["--json"] if json_out else []), cwd=tmp_path, env=env)
    assert ran.returncode == EXIT_FAILED, ran.stderr

    # the backend got the real value, every time it was sent
    sent = [r.headers.get("authorization") for r in server.requests]
    assert sent == [f"Bearer {CANARY}", f"Bearer {CANARY}"]

    [folder] = list(incidents.iterdir())
    assert_no_canary_in(folder, ran.stdout, ran.stderr)
    assert ran.stderr.strip().splitlines()[-1] == f"irt: error: {ENDS_WITH}"

    # ...and the run did use it: masked, where it would have appeared
    events = journal_events(folder)
    by_step = {(e["type"], e.get("step")): e for e in events}
    # a string that interpolates a secret is a secret as a whole: the console prints the mask
    assert by_step[("step.succeeded", "announce")]["output"] == {"text": "***"}
    assert by_step[("step.started", "probe")]["params"]["headers"] == {"Authorization": "***"}
    assert by_step[("step.succeeded", "probe")]["output"]["json"] == {"ok": True, "token": "Bearer ***"}
    assert by_step[("step.succeeded", "probe")]["output"]["headers"]["x-echo"] == "Bearer ***"
    echo_error = by_step[("step.failed", "echo-500")]["error"]
    assert "status 500, expected 200" in echo_error and "header X-Echo: 'Bearer ***'" in echo_error
    assert "JSON token: 'Bearer ***'" in echo_error
    assert by_step[("step.failed", "secret-url")]["error"].startswith("GET ***: ")
    assert by_step[("step.failed", "careless")]["error"] == "backend rejected ***"
    assert by_step[("step.failed", "careless-plain")]["error"] == "RuntimeError: ***"
    assert "refused by the template sandbox" in by_step[("step.failed", "reveal")]["error"]
    assert by_step[("undo.started", "announce")]["params"] == {"text": "***"}
    assert by_step[("undo.succeeded", "announce")]["output"] == {"text": "***"}
    assert by_step[("step.succeeded", "close")]["output"] == {"text": "***"}
    assert by_step[("incident.closed", None)]["outcome"] == "rolled_back"

    if json_out:
        printed = [json.loads(line) for line in ran.stdout.splitlines()]
        assert {"type": "message", "step": "announce", "text": "***"} in printed
        assert printed[-1]["type"] == "result"
    else:
        assert "announce: ***" in ran.stderr

    # reading the incident back shows no more than the journal holds
    for extra in ([], ["--json"]):
        shown = irt("incidents", "show", folder.name, "--incident-dir", str(incidents), *extra, cwd=tmp_path, env=env)
        assert shown.returncode == EXIT_OK, shown.stderr
        assert_no_canary_in(folder, shown.stdout, shown.stderr)
        assert "backend rejected ***" in shown.stdout


def test_plan_shows_the_canary_masked(tmp_path: Path) -> None:
    env = clean_env(PYTHONPATH=str(PLUGINS), CANARY_TOKEN=CANARY)
    for extra in ([], ["--json"]):
        ran = irt("plan", str(RUNBOOKS / "canary.yaml"), "-i", "base=http://127.0.0.1:9", "-i", "closed=9",
                  "--config", str(CONFIGS / "fixture-actions.yaml"), *extra, cwd=tmp_path, env=env)
        assert ran.returncode == EXIT_OK, ran.stderr
        assert CANARY not in ran.stdout + ran.stderr
        assert "print: ***" in ran.stdout or '"text": "***"' in ran.stdout
