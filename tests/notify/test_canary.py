"""The secret canary through ``irt respond``: every notifier and every lifecycle notification, with
the canary in the run (``secret('env:IRT_CANARY')`` in texts, facts and details) and in every
channel credential. It reaches the peers only where a credential belongs (a URL, the PagerDuty
routing key, the SMTP login, the HMAC key) and appears in no message body, journal line, output
or console text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyirt.cli import run
from pyirt.errors import EXIT_OK
from tests.helpers import CANARY, Reply, Request, journal_events, of_type
from tests.notify.conftest import FAST, PD_KEY, SMTP_USER, channels
from tests.notify.peers import Peers, SmtpPeer, smtp_server
from tests.notify.test_engine import RUNBOOKS


@pytest.fixture
def mail(cert: tuple[Path, Path]) -> Iterator[SmtpPeer]:
    from tests.notify.conftest import SMTP_PASSWORD

    with smtp_server(tls="starttls", login=(SMTP_USER, SMTP_PASSWORD), cert=cert) as peer:
        yield peer


def echo(request: Request) -> Reply:
    """A broken peer that quotes back everything it got, the credential in its URL included."""
    return Reply(500, body=f"cannot deliver to {request.path}: {request.body.decode()[:200]}")


@pytest.mark.parametrize("json_out", [False, True], ids=["human", "json"])
def test_the_canary_reaches_no_message(env: Peers, mail: SmtpPeer, cert: tuple[Path, Path], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                       json_out: bool) -> None:
    monkeypatch.setenv("IRT_CANARY", CANARY)
    env.server.route(f"/echo/echotoken-{CANARY}", echo)
    monkeypatch.setenv("ECHO_URL", env.server.url(f"/echo/echotoken-{CANARY}"))
    for name in ("IRT_CONFIG", "IRT_HOME"):
        monkeypatch.delenv(name, raising=False)
    found = channels(env)
    found["echo"] = {"type": "slack", "url": "env:ECHO_URL", **FAST}
    found["email-sre"] = {"type": "email", "host": mail.host, "port": mail.port, "starttls": True,
                          "user": "env:SMTP_USER", "password": "env:SMTP_PASSWORD", "ca_file": str(cert[0]),
                          "from": "irt@example.com", "to": ["sre@example.com"], "timeout": "5s"}
    notify = {"on": ["opened", "step_failed", "closed"], "channels": ["oncall", "teams", "pager", "hook", "email-sre"],
              "report_url": "https://irt.example.com/incidents/{incident}/report.html"}
    (tmp_path / "irt.yaml").write_text(json.dumps({"channels": found, "notify": notify}))
    incidents = tmp_path / "incidents"

    code = run(["respond", str(RUNBOOKS / "canary.yaml"), "--yes", "--incident-dir", str(incidents),
                "--config", str(tmp_path / "irt.yaml"), *(["--json"] if json_out else [])])
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    [folder] = list(incidents.iterdir())
    events = journal_events(folder)
    assert of_type(events, "incident.closed")[0]["outcome"] == "completed_with_errors"

    # every peer was spoken to in its own format, credentials where they belong
    assert env.problems() == []
    # the step, the direct step, opened and closed (a failed notify step is not announced again)
    assert len(env.slack.accepted) == 1 + 1 + 2
    assert {e["routing_key"] for e in env.pagerduty.accepted} == {PD_KEY}
    assert [e["event_action"] for e in env.pagerduty.accepted].count("resolve") == 2  # the finally step + close
    assert mail.mailbox.logins and len(mail.mailbox.messages) == 1 + 2

    # ...and the canary is in no message
    for receiver in (env.slack, env.teams, env.webhook):
        for body in receiver.bodies:
            assert CANARY.encode() not in body, receiver.name
    for event in env.pagerduty.accepted:
        assert CANARY not in json.dumps({k: v for k, v in event.items() if k != "routing_key"})
    for raw in mail.mailbox.raw:
        assert CANARY.encode() not in raw
    # a string that interpolates a secret is a secret as a whole: it goes out masked
    assert "[WARNING] Incident on pixashot: ***" in [p["text"] for p in env.slack.accepted]
    assert {"summary": "***", "token": "***"} in [{"summary": e["payload"]["summary"],
                                                   "token": e["payload"]["custom_details"].get("token")}
                                                  for e in env.pagerduty.accepted if "payload" in e]

    # nor in the journal, the incident folder, the output or the console
    for path in folder.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    assert CANARY not in out and CANARY not in err
    [failed] = of_type(events, "step.failed", "echo-fails")
    assert failed["policy"] == "continue"
    assert failed["error"].startswith("not delivered: echo: slack channel echo: HTTP 500 cannot deliver to ***")
    assert len(of_type(events, "notify.sent")) == 2 * 5
