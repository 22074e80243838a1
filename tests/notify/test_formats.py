"""Each notifier speaks its service's real wire format: the local peers check every payload against
the service's schema (Slack text + Block Kit, the Teams Adaptive Card envelope, PagerDuty Events
v2) or signature (the generic webhook), and answer as the service does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyirt.actions.notify.pagerduty import PagerDuty
from pyirt.actions.notify.slack import Slack
from pyirt.actions.notify.teams import Teams
from pyirt.actions.notify.webhook import Webhook, signature
from pyirt.errors import ActionError
from tests.helpers import Reply
from tests.notify.conftest import HMAC_KEY, PD_KEY, MakeCtx, channels
from tests.notify.peers import Peers, schema_problems

INCIDENT = "20260101T000000Z-test-incident-0a1b"
REPORT = "https://irt.example.com/incidents/{incident}/report.html"
MESSAGE = {"text": "Memory of pixashot at 97%; limit raised to 4g", "severity": "critical", "service": "pixashot",
           "status": "mitigating", "facts": {"memory": "4g", "revision": "pixashot-00041-abc"}}


def config(peers: Peers, **notify: Any) -> dict[str, Any]:
    return {"channels": channels(peers), "notify": {"report_url": REPORT, **notify}}


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    found = []
    for block in payload["blocks"]:
        for item in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                found.append(item["text"])
    return found


# -- Slack -----------------------------------------------------------------------------------------
def test_slack_gets_text_and_block_kit_with_the_key_facts(env: Peers, make_ctx: MakeCtx) -> None:
    out = Slack().run({"channel": "oncall", **MESSAGE}, make_ctx(config(env)))
    assert out == {"delivered_via": "oncall", "kind": "slack", "attempts": 1, "failed_channels": [], "status": 200}
    assert env.slack.problems == []
    [payload] = env.slack.accepted
    assert payload["text"] == f"[CRITICAL] Incident on pixashot: {MESSAGE['text']}"
    header, body, fields, actions, context = payload["blocks"]
    assert header["type"] == "header" and header["text"]["text"] == ":red_circle: Incident on pixashot"
    assert body["text"]["text"] == MESSAGE["text"]
    assert [f["text"] for f in fields["fields"]] == ["*Severity*\nCRITICAL", "*Service*\npixashot",
                                                     "*Status*\nmitigating", "*memory*\n4g",
                                                     "*revision*\npixashot-00041-abc"]
    assert actions["elements"][0]["url"] == REPORT.replace("{incident}", INCIDENT)
    assert INCIDENT in context["elements"][0]["text"]


def test_slack_data_can_neither_ping_the_channel_nor_forge_links(env: Peers, make_ctx: MakeCtx) -> None:
    hostile = "<!channel> see <https://evil.example|your bank> & <@U123>"
    Slack().run({"channel": "oncall", "text": hostile, "facts": {"label": "<!here>"}}, make_ctx(config(env)))
    [payload] = env.slack.accepted
    for text in [payload["text"], *mrkdwn_texts(payload)]:
        assert "<!" not in text and "<http" not in text and "<@" not in text
    assert "&lt;!channel&gt; see &lt;https://evil.example|your bank&gt; &amp; &lt;@U123&gt;" in payload["text"]


def test_slack_limits_hold_for_long_texts_and_many_facts(env: Peers, make_ctx: MakeCtx) -> None:
    facts = {f"fact-{i}": "v" * 5000 for i in range(30)}
    Slack().run({"channel": "oncall", "text": "x" * 50_000, "title": "t" * 500, "service": "s" * 3000,
                 "facts": facts}, make_ctx(config(env)))
    assert env.slack.problems == []  # the schema holds Slack's limits: header 150, fields 10 of 2000...
    [payload] = env.slack.accepted
    assert len(payload["blocks"][2]["fields"]) == 10


def test_slack_takes_a_steps_own_blocks(env: Peers, make_ctx: MakeCtx) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*custom*"}}, {"type": "divider"}]
    Slack().run({"channel": "oncall", "text": "hi", "blocks": blocks}, make_ctx(config(env)))
    assert env.slack.accepted[0]["blocks"] == blocks


# -- Teams -----------------------------------------------------------------------------------------
def test_teams_gets_an_adaptive_card_in_the_workflows_envelope(env: Peers, make_ctx: MakeCtx) -> None:
    out = Teams().run({"channel": "teams", **MESSAGE}, make_ctx(config(env)))
    assert (out["delivered_via"], out["status"]) == ("teams", 202)
    assert env.teams.problems == []
    [payload] = env.teams.accepted
    [attachment] = payload["attachments"]
    card = attachment["content"]
    assert (payload["type"], attachment["contentType"]) == ("message", "application/vnd.microsoft.card.adaptive")
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, text, facts = card["body"]
    assert (title["text"], title["color"], text["text"]) == ("Incident on pixashot", "Attention", MESSAGE["text"])
    assert {f["title"]: f["value"] for f in facts["facts"]} == {
        "Severity": "CRITICAL", "Service": "pixashot", "Status": "mitigating", "memory": "4g",
        "revision": "pixashot-00041-abc", "Incident": INCIDENT, "Step": "tell"}
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Incident report",
                                "url": REPORT.replace("{incident}", INCIDENT)}]


# -- PagerDuty -------------------------------------------------------------------------------------
def test_pagerduty_trigger_follows_the_incident(env: Peers, make_ctx: MakeCtx) -> None:
    out = PagerDuty().run({"channel": "pager", **MESSAGE, "details": {"memory_limit": "2g"}}, make_ctx(config(env)))
    assert (out["event_action"], out["dedup_key"], out["status"]) == ("trigger", INCIDENT, 202)
    assert env.pagerduty.problems == []
    [event] = env.pagerduty.accepted
    assert (event["routing_key"], event["event_action"], event["dedup_key"]) == (PD_KEY, "trigger", INCIDENT)
    payload = event["payload"]
    assert (payload["summary"], payload["source"], payload["severity"]) == (MESSAGE["text"], "pixashot", "critical")
    assert payload["custom_details"] == {"incident": INCIDENT, "step": "tell", "status": "mitigating",
                                         "service": "pixashot", "event": "message", "memory": "4g",
                                         "revision": "pixashot-00041-abc", "memory_limit": "2g"}
    assert event["links"] == [{"href": REPORT.replace("{incident}", INCIDENT), "text": "Incident report"}]


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_pagerduty_acknowledge_and_resolve_carry_the_dedup_key(env: Peers, make_ctx: MakeCtx, action: str) -> None:
    PagerDuty().run({"channel": "pager", "event_action": action}, make_ctx(config(env)))
    assert env.pagerduty.problems == []
    assert env.pagerduty.accepted == [{"routing_key": PD_KEY, "event_action": action, "dedup_key": INCIDENT}]


@pytest.mark.parametrize(("given", "sent"), [
    ("critical", "critical"), ("P1", "critical"), ("high", "error"), ("error", "error"), ("major", "error"),
    ("warning", "warning"), ("medium", "warning"), ("info", "info"), ("low", "info"), ("whatever", "warning"),
])
def test_pagerduty_severity_is_mapped(env: Peers, make_ctx: MakeCtx, given: str, sent: str) -> None:
    PagerDuty().run({"channel": "pager", "text": "x", "severity": given}, make_ctx(config(env)))
    assert env.pagerduty.accepted[0]["payload"]["severity"] == sent


def test_pagerduty_summary_is_cut_at_1024_and_a_custom_dedup_key_is_kept(env: Peers, make_ctx: MakeCtx) -> None:
    PagerDuty().run({"channel": "pager", "text": "y" * 5000, "dedup_key": "pixashot-memory"},
                    make_ctx(config(env)))
    assert env.pagerduty.problems == []
    [event] = env.pagerduty.accepted
    assert len(event["payload"]["summary"]) == 1024 and event["dedup_key"] == "pixashot-memory"


def test_pagerduty_refusing_an_event_is_a_clear_failure(env: Peers, make_ctx: MakeCtx) -> None:
    env.pagerduty.fail(Reply(
        400, body={"status": "invalid event", "message": "Event object is invalid", "errors": ["bad"]}))
    with pytest.raises(ActionError) as caught:
        PagerDuty().run({"channel": "pager", "text": "x"}, make_ctx(config(env)))
    assert str(caught.value).startswith("not delivered: pager: pagerduty channel pager: HTTP 400 ")
    assert len(env.pagerduty.received) == 1  # a 400 is not retried


# -- the generic webhook ---------------------------------------------------------------------------
def test_webhook_is_signed_over_timestamp_and_body(env: Peers, make_ctx: MakeCtx) -> None:
    out = Webhook().run({"channel": "hook", **MESSAGE, "event": "memory.raised"}, make_ctx(config(env)))
    assert out["signed"] is True and env.webhook.problems == []  # the peer checked the HMAC
    [request] = env.webhook.received
    stamp = request.headers["x-irt-timestamp"]
    assert request.headers["x-irt-signature"] == signature(HMAC_KEY, stamp, request.body)
    assert request.headers["x-irt-event"] == "memory.raised"
    assert request.headers["x-irt-delivery"] == out["delivery"]
    body = json.loads(request.body)
    assert {k: body[k] for k in ("version", "event", "text", "severity", "service", "status")} == {
        "version": 1, "event": "memory.raised", "text": MESSAGE["text"], "severity": "critical",
        "service": "pixashot", "status": "mitigating"}
    assert body["incident"] == {"id": INCIDENT} and body["step"] == "tell"
    assert body["facts"] == [{"name": "memory", "value": "4g"}, {"name": "revision", "value": "pixashot-00041-abc"}]


def test_a_tampered_webhook_body_fails_the_peers_check() -> None:
    stamp, body = "1767225600", b'{"text": "hi"}'
    good = signature(HMAC_KEY, stamp, body)
    assert good.startswith("sha256=") and len(good) == len("sha256=") + 64
    assert signature(HMAC_KEY, stamp, body + b" ") != good
    assert signature(HMAC_KEY, str(int(stamp) + 1), body) != good


def test_webhook_extra_headers_may_be_references(env: Peers, make_ctx: MakeCtx) -> None:
    settings = {**channels(env)["hook"], "headers": {"Authorization": "env:HOOK_SECRET", "X-Team": "sre"}}
    Webhook().run({"channel": "hook", "text": "hi"}, make_ctx({"channels": {"hook": settings}}))
    [request] = env.webhook.received
    assert (request.headers["authorization"], request.headers["x-team"]) == (HMAC_KEY, "sre")


# -- templates -------------------------------------------------------------------------------------
def test_a_users_template_folder_overrides_the_shipped_one(env: Peers, make_ctx: MakeCtx, tmp_path: Path) -> None:
    (tmp_path / "mine" / "notify").mkdir(parents=True)
    (tmp_path / "mine" / "notify" / "slack.json.j2").write_text(
        '{{ {"text": "custom: " ~ text, "blocks": [{"type": "divider"}]} | tojson }}')
    (tmp_path / "mine" / "notify" / "message.txt.j2").write_text("default text for {{ incident.id }}")
    Slack().run({"channel": "oncall"}, make_ctx(config(env, templates=str(tmp_path / "mine"))))
    assert env.slack.accepted == [{"text": f"custom: default text for {INCIDENT}", "blocks": [{"type": "divider"}]}]


def test_a_broken_template_is_a_one_line_error_naming_it(env: Peers, make_ctx: MakeCtx, tmp_path: Path) -> None:
    (tmp_path / "notify").mkdir()
    (tmp_path / "notify" / "slack.json.j2").write_text("{{ text ")
    with pytest.raises(ActionError) as caught:
        Slack().run({"channel": "oncall", "text": "hi"}, make_ctx(config(env, templates=str(tmp_path))))
    assert "template notify/slack.json.j2 line 1: " in str(caught.value)
    assert "\n" not in str(caught.value) and env.slack.received == []


def test_only_http_links_are_linked(env: Peers, make_ctx: MakeCtx) -> None:
    Slack().run({"channel": "oncall", "text": "hi", "link": "javascript:alert(1)"},
                make_ctx({"channels": channels(env)}))
    assert [b["type"] for b in env.slack.accepted[0]["blocks"]] == ["header", "section", "section", "context"]


def test_the_shipped_payloads_fit_the_schemas_for_every_severity(env: Peers, make_ctx: MakeCtx) -> None:
    for severity in ("critical", "error", "warning", "info"):
        params = {**MESSAGE, "severity": severity}
        Slack().run({"channel": "oncall", **params}, make_ctx(config(env)))
        Teams().run({"channel": "teams", **params}, make_ctx(config(env)))
        PagerDuty().run({"channel": "pager", **params}, make_ctx(config(env)))
    assert env.problems() == []
    assert schema_problems("slack-webhook.schema.json", {"text": "", "blocks": []})  # the schema does bite
