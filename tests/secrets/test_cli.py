"""``irt sim secrets``, the shipped token-compromise runbook, and the cost of importing the actions."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SHIPPED, clean_env, http_server, incident_folder, journal_events, of_type
from tests.secrets.conftest import SECRETS, Peer, config_for, respond


def test_listing_the_secrets_actions_imports_no_sdk() -> None:
    code = ("import sys; from pyirt.actions import registry; r = registry.load(()); "
            "assert 'secrets.rotate' in r; "
            "print([m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'azure', 'google', 'moto')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.strip() == "[]"


def test_irt_sim_secrets_serves_both_stores_until_sigterm(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("irt")
    ca = tmp_path / "ca.pem"
    proc = subprocess.Popen([str(script), "sim", "secrets", "--world", str(SECRETS / "world.yaml"), "--port", "0",
                             "--azure-port", "0", "--ca-file", str(ca), "-q"], stderr=subprocess.PIPE, text=True,
                            env=clean_env(), cwd=tmp_path)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(line.startswith("irt.yaml:") for line in lines):
            line = proc.stderr.readline() if proc.stderr else ""
            if not line:
                break
            lines.append(line)
        text = "".join(lines)
        assert "GCP Secret Manager simulator on http://127.0.0.1:" in text, text
        assert "demo/pixashot-auth-token" in text and "Azure Key Vault simulator on https://127.0.0.1:" in text
        assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert not list(tmp_path.glob("*key*"))  # the private key stays in the simulator's own folder
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(15)
        if proc.stderr:
            proc.stderr.close()
    assert rc == 0


def test_the_shipped_token_compromise_runbook_rotates_verifies_revokes_and_tells(
        peer: Peer, tmp_path: Path) -> None:
    before = peer.current()
    seen: list[str] = []

    def health(request: Any) -> Any:
        from tests.helpers import Reply

        seen.append(request.path)
        return Reply(200, body={"status": "ok"})

    with http_server() as server:
        server.route("/healthz", health)
        result = respond(SHIPPED / "token-compromise.yaml", tmp_path, config_for(peer),
                         health_url=server.url("/healthz"), **peer.params())
    state = result.state
    assert result.outcome == "succeeded", {s: state.step(s).error for s in state.order}
    new = state.step("rotate").output["version"]
    assert peer.current() == new and state.step("verify").output["secrets"][0]["current_version"] == new
    assert state.step("restart-consumer").status == "skipped" and seen == ["/healthz"]
    # a compromise revokes every older version, not only the one just replaced
    revoked = state.step("revoke-old").output["revoked"]
    assert before in revoked and new not in revoked
    assert all(status == "disabled" for version, status in peer.states().items() if version != new)
    assert f"version {new} is current" in state.step("notify").output["text"]
    assert f"Old version {before}: disabled." in state.step("notify").output["text"]
    folder = incident_folder(tmp_path / "incidents")
    assert (folder / "report.md").is_file()
    approvals = of_type(journal_events(folder), "approval.granted")
    assert [a["step"] for a in approvals] == ["rotate", "revoke-old"]


@pytest.mark.parametrize("peer", ["gcp", "local"], indirect=True)  # the undo on every store: test_rotate
def test_a_failed_check_after_the_rotation_rolls_it_back(peer: Peer, tmp_path: Path,
                                                         monkeypatch: Any) -> None:
    from pyirt.actions.secrets import status

    before, old = peer.current(), peer.value(None)
    real = status.collect

    def wrong_version(entries: Any, ctx: Any) -> dict[str, Any]:
        report = real(entries, ctx)
        report["secrets"][0]["current_version"] = "not-the-rotated-one"
        return report

    monkeypatch.setattr(status, "collect", wrong_version)
    result = respond(SHIPPED / "token-compromise.yaml", tmp_path, config_for(peer), **peer.params())
    assert result.outcome == "rolled_back", result.state.step("verify").error
    assert peer.value(None) == old
    assert result.state.step("revoke-old").status == "skipped" and peer.states()[before] == "enabled"
