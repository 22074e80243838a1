"""Fixtures for the notify tests: the local peers, a self-signed certificate for 127.0.0.1, the
channel credentials (each one holding the canary) in the environment, and action contexts."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pyirt.actions.api import ActionContext
from pyirt.core.secrets import Redactor
from tests.helpers import CANARY, http_server
from tests.notify.peers import Peers

# Every credential holds the canary: wherever one leaks, the canary shows.
SLACK_TOKEN = f"slacktoken-{CANARY}"
TEAMS_SIG = f"teamssig-{CANARY}"
PD_KEY = f"pdroutingkey-{CANARY}"
HMAC_KEY = f"hmackey-{CANARY}"
SMTP_USER = "irt-mailer"
SMTP_PASSWORD = f"smtppass-{CANARY}"


@pytest.fixture(scope="session")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate (and key) for 127.0.0.1, made by the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    crt, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    return crt, key


@pytest.fixture
def peers() -> Iterator[Peers]:
    with http_server() as server:
        yield Peers(server, slack_token=SLACK_TOKEN, teams_sig=TEAMS_SIG, webhook_key=HMAC_KEY)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The credentials that are not URLs, in the environment where ``env:`` references find them."""
    monkeypatch.setenv("PD_ROUTING_KEY", PD_KEY)
    monkeypatch.setenv("HOOK_SECRET", HMAC_KEY)
    monkeypatch.setenv("SMTP_USER", SMTP_USER)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)


@pytest.fixture
def env(peers: Peers, monkeypatch: pytest.MonkeyPatch) -> Peers:
    """The peers, with their URLs (credentials too) in the environment."""
    monkeypatch.setenv("SLACK_WEBHOOK_URL", peers.slack_url)
    monkeypatch.setenv("TEAMS_WORKFLOW_URL", peers.teams_url)
    monkeypatch.setenv("HOOK_URL", peers.webhook_url)
    return peers


FAST = {"timeout": "2s", "backoff": "10ms", "attempts": 3}


def channels(peers: Peers, **extra: Mapping[str, Any]) -> dict[str, Any]:
    """A ``channels:`` section pointing at the peers, with quick retries."""
    found: dict[str, Any] = {
        "oncall": {"type": "slack", "url": "env:SLACK_WEBHOOK_URL", **FAST},
        "teams": {"type": "teams", "url": "env:TEAMS_WORKFLOW_URL", **FAST},
        "pager": {"type": "pagerduty", "routing_key": "env:PD_ROUTING_KEY", "url": peers.pagerduty_url, **FAST},
        "hook": {"type": "webhook", "url": "env:HOOK_URL", "secret": "env:HOOK_SECRET", **FAST},
    }
    found.update(extra)
    return found


MakeCtx = Callable[..., ActionContext]


@pytest.fixture
def make_ctx(tmp_path: Path) -> MakeCtx:
    def make(config: Mapping[str, Any], *, step: str = "tell", redact: Redactor | None = None) -> ActionContext:
        return ActionContext(incident_id="20260101T000000Z-test-incident-0a1b", step_id=step,
                             incident_dir=tmp_path, config=config, redact=redact or Redactor())

    return make
