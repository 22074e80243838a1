"""A drill never sends anything to a non-loopback address and never reads the user's real cloud
credentials: checked with the credential variables poisoned (and a HOME full of credential files),
every socket connection and every file opened recorded; and a runbook that aims at the real world
is refused, loudly, by the drill's guard."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from pyirt.drill import guard
from pyirt.drill.run import run_drill
from tests.drill.conftest import DRILLS, WriteScenario, runbook

_recording: dict[str, list[Any] | None] = {"opened": None, "connected": None}
_hooked = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    opened, connected = _recording["opened"], _recording["connected"]
    if event == "open" and opened is not None and isinstance(args[0], str | bytes):
        opened.append(os.fsdecode(args[0]))
    elif event == "socket.connect" and connected is not None:
        connected.append(args[1])


@pytest.fixture
def record() -> Any:
    """Every file opened and every address connected to, by any thread, while the test runs."""
    if not _hooked[0]:
        sys.addaudithook(_audit)  # audit hooks stay for the process: recording is switched on and off
        _hooked[0] = True
    opened: list[str] = []
    connected: list[Any] = []
    _recording.update(opened=opened, connected=connected)
    try:
        yield opened, connected
    finally:
        _recording.update(opened=None, connected=None)


def _poisoned_home(home: Path) -> list[Path]:
    files = {
        ".aws/credentials": "[default]\naws_access_key_id = AKIAPOISONFILE000000\naws_secret_access_key = poison\n",
        ".aws/config": "[default]\nregion = us-east-1\n",
        ".config/gcloud/application_default_credentials.json": '{"type": "authorized_user", "refresh_token": "poison"}',
        ".docker/config.json": '{"auths": {"registry.example.com": {"auth": "cG9pc29uOnBvaXNvbg=="}}}',
        ".azure/azureProfile.json": '{"subscriptions": []}',
    }
    made = []
    for name, text in files.items():
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        made.append(path)
    return made


def _loopback(address: Any) -> bool:
    if isinstance(address, str | bytes):
        return True  # a unix socket
    host = str(address[0])
    return host == "localhost" or ipaddress.ip_address(host.split("%")[0]).is_loopback


def test_poisoned_credentials_are_never_used_and_nothing_leaves_loopback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record: Any) -> None:
    opened, connected = record
    home = tmp_path / "home"
    planted = _poisoned_home(home)
    poison = {
        "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/poison/adc.json",
        "GOOGLE_CLOUD_PROJECT": "poison-project",
        "CLOUDSDK_CONFIG": str(home / ".config" / "gcloud"),
        "AWS_ACCESS_KEY_ID": "AKIAPOISONPOISON0000", "AWS_SECRET_ACCESS_KEY": "poison/secret/key",
        "AWS_SESSION_TOKEN": "poison-session", "AWS_PROFILE": "poison",
        "AZURE_CLIENT_ID": "poison", "AZURE_CLIENT_SECRET": "poison", "AZURE_TENANT_ID": "poison",
        "DOCKER_HOST": "tcp://203.0.113.7:2375", "DOCKER_CONFIG": str(home / ".docker"),
        "HTTPS_PROXY": "http://203.0.113.7:3128", "HTTP_PROXY": "http://203.0.113.7:3128",
        "HOME": str(home),
    }
    for name, value in poison.items():
        monkeypatch.setenv(name, value)
    before = dict(os.environ)
    patched: list[Any] = []
    real_connect = socket.socket.connect

    def spy(self: socket.socket, address: Any) -> Any:
        patched.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    refused_before = len(guard.refused)
    opened.clear()  # from here on: only what the drill does
    connected.clear()

    card = run_drill(DRILLS / "slack-down.yaml", incident_dir=tmp_path / "out", sync=False)  # every backend

    assert card.passed, card.text()
    assert dict(os.environ) == before  # the poison is back, untouched
    assert connected and patched  # docker (unix), Cloud Run, Secret Manager, Slack, SMTP (loopback)
    assert all(_loopback(a) for a in connected), [a for a in connected if not _loopback(a)]
    assert all(_loopback(a) for a in patched)
    sockets = [a for a in connected if isinstance(a, str)]
    assert sockets and all(a.endswith("/docker.sock") and a != "/var/run/docker.sock" for a in sockets), sockets
    # the drill's own engine, never this machine's (so it runs where no Docker engine is installed)
    touched = [p for p in opened if p.startswith((str(home), "/nonexistent"))]
    assert touched == [], touched
    assert all(p.is_file() for p in planted)
    assert guard.refused[refused_before:] == []  # nothing even tried to leave


def test_a_runbook_aimed_at_the_real_world_is_refused(tmp_path: Path, write_scenario: WriteScenario,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REAL_SLACK_WEBHOOK", "https://hooks.slack.com/services/T000/B000/realwebhooktoken1")
    book = runbook(tmp_path, """steps:
  - {id: probe, action: http.check, on_failure: continue, with: {url: "http://203.0.113.7:8080/health", timeout: 2s}}
  - {id: lookup, action: http.check, on_failure: continue, with: {url: "https://example.com/", timeout: 2s}}
  - id: hook
    action: notify.slack
    with: {url: "{{ secret('env:REAL_SLACK_WEBHOOK') }}", text: "the drill must not post this"}
""")
    scenario = write_scenario(f"kind: Scenario\nrunbook: {book}\nworld: {{}}\n"
                              "expectations: [{no_failed_steps: true}]\n")
    card = run_drill(scenario, incident_dir=tmp_path / "out", sync=False)
    assert not card.passed
    evidence = card.verdicts[0].evidence
    assert "probe (http.check)" in evidence and "lookup (http.check)" in evidence and "hook (notify.slack)" in evidence
    assert "irt drill refused to reach 203.0.113.7:8080" in evidence
    assert "refused a connection to 203.0.113.7:8080" in card.notes
    assert "refused a connection to example.com:443" in card.notes
    assert "refused a connection to hooks.slack.com:443" in card.notes
    assert "realwebhooktoken1" not in (card.folder / "journal.jsonl").read_text()


def test_the_guard_is_off_outside_a_drill() -> None:
    assert guard._state["active"] == 0
    guard._hook("socket.connect", (None, ("203.0.113.9", 9)))  # outside a drill: nothing refused
    guard._hook("socket.getaddrinfo", ("example.com", 443, 0, 0, 0))
    with guard.loopback_only():
        with pytest.raises(ConnectionRefusedError, match=r"203\.0\.113\.9:9"):
            socket.create_connection(("203.0.113.9", 9), timeout=0.1)
        with pytest.raises(ConnectionRefusedError, match=r"example\.com:80"):
            socket.getaddrinfo("example.com", 80)
        guard._hook("socket.connect", (None, ("127.0.0.1", 9)))
        guard._hook("socket.connect", (None, ("::1", 9, 0, 0)))
        guard._hook("socket.connect", (None, "/tmp/some.sock"))
        guard._hook("socket.getaddrinfo", ("localhost", 80, 0, 0, 0))
    assert guard._state["active"] == 0
