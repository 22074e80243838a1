"""The value never leaves the provider's API call. On every provider, a planted canary goes through
``irt respond --json`` three times (a rotation whose verification the health endpoint refuses, a
rotation rolled back by a later failure, a rotation that succeeds), then ``irt secrets status
--json`` and ``irt report``; a generated value is caught the same way. Neither the canary nor its
base64 form (how GCP carries payloads) may appear in any journal line, artifact, report, console
or JSON output, log record (SDK debug logs included) or error text.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from pyirt.cli import run
from tests.helpers import CANARY, Reply, Request, http_server
from tests.secrets.conftest import RUNBOOKS, Peer

GENERATED_BYTES = (CANARY + "-generated-0123456789")[:32].encode()
GENERATED = base64.b64encode(GENERATED_BYTES).decode()
SERVER_SIDE = ("moto", "werkzeug")  # moto runs in this process: its server logs what it receives, as a store may


def write_config(tmp_path: Path, peer: Peer) -> Path:
    entry = {k if k != "secret" else "name": v for k, v in peer.params().items()}
    path = tmp_path / "irt.yaml"
    path.write_text(json.dumps({"providers": peer.config(), "secrets": [{**entry, "environment": "test"}]}))
    return path


def inputs(peer: Peer, **extra: str) -> list[str]:
    pairs = {**{k: str(v) for k, v in peer.params().items()}, **extra}
    return [arg for k, v in pairs.items() for arg in ("-i", f"{k}={v}")]


def assert_nowhere(needles: list[str], tmp_path: Path, texts: list[str], caplog: pytest.LogCaptureFixture,
                   sdk: bool) -> None:
    forms = [n for needle in needles for n in (needle, base64.b64encode(needle.encode()).decode())]
    files = [p for p in (tmp_path / "incidents").rglob("*") if p.is_file()]
    assert any(p.name == "report.md" for p in files) and any(p.name == "journal.jsonl" for p in files)
    for path in files:
        data = path.read_bytes()
        for form in forms:
            assert form.encode() not in data, path
    for text in texts:
        for form in forms:
            assert form not in text
    records = [r for r in caplog.records if not r.name.startswith(SERVER_SIDE)]
    assert records or not sdk, "no SDK log record was captured: the check would prove nothing"
    for record in records:
        shown = f"{record.getMessage()} {vars(record)}"
        for form in forms:
            assert form not in shown, record.name


def echo(request: Request) -> Reply:  # a health endpoint that refuses the token and quotes it back
    return Reply(403, body={"error": f"refused {request.headers.get('authorization')}"})


def test_a_planted_canary_reaches_no_output(peer: Peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str],
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("IRT_CANARY", CANARY)
    config = write_config(tmp_path, peer)
    base = ["respond", str(RUNBOOKS / "rotate-canary.yaml"), "--yes", "--json", "--config", str(config),
            "--incident-dir", str(tmp_path / "incidents")]
    texts: list[str] = []
    with http_server() as server:
        server.route("/health", echo)
        assert run([*base, *inputs(peer, verify_url=server.url("/health"))]) == 1
    assert run([*base, *inputs(peer, fail_after="true")]) == 1  # rolled back by the undo
    assert run([*base, *inputs(peer)]) == 0
    out, err = capsys.readouterr()
    texts += [out, err]
    failures = [json.loads(line) for line in out.splitlines() if '"step.failed"' in line]
    assert any("verification failed" in f["error"] for f in failures)
    assert run(["secrets", "status", "--json", "--config", str(config)]) == 0
    incident = sorted(p.name for p in (tmp_path / "incidents").iterdir())[-1]
    assert run(["report", incident, "--incident-dir", str(tmp_path / "incidents"), "--format", "json",
                "--output", "-"]) == 0
    out, err = capsys.readouterr()
    texts += [out, err]
    assert json.loads(out.split("\n}\n")[0] + "\n}")["secrets"][0]["current_version"]
    assert_nowhere([CANARY], tmp_path, texts, caplog, sdk=peer.provider != "local")
    assert peer.value(None) == CANARY  # it did reach the store (read last: the test's own SDK call logs it)


def test_a_generated_value_reaches_no_output(peer: Peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str],
                                             caplog: pytest.LogCaptureFixture) -> None:
    import pyirt.actions.secrets.generate as generate

    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(generate, "token_bytes", lambda n: GENERATED_BYTES[:n])
    config = write_config(tmp_path, peer)
    assert run(["respond", str(RUNBOOKS / "rotate.yaml"), "--yes", "--json", "--config", str(config),
                "--incident-dir", str(tmp_path / "incidents"), *inputs(peer, fail_after="true")]) == 1
    rotated: Any = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    version = next(e for e in rotated if e["type"] == "step.succeeded")["output"]["version"]
    out, err = capsys.readouterr()
    (tmp_path / "incidents" / "report.md").write_text("placeholder: this run has no report step")
    assert_nowhere([GENERATED], tmp_path, [json.dumps(rotated), out, err], caplog, sdk=peer.provider != "local")
    assert peer.value(version) == GENERATED
