"""Properties of the shipped templates: whatever the data (quotes, braces, control characters,
Slack markup, very long strings), the payloads are valid JSON that fit each service's schema, and
the data comes through intact (escaped for Slack mrkdwn where it must be)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyirt.actions.api import ActionContext
from pyirt.actions.notify import pagerduty, slack, teams, webhook
from pyirt.actions.notify.base import SEVERITIES, build_message
from pyirt.actions.notify.templates import slack_escape
from pyirt.core.secrets import Redactor
from tests.notify.peers import schema_problems

CTX = ActionContext(incident_id="20260101T000000Z-prop-0a1b", step_id="tell", incident_dir=Path("/nonexistent"),
                    redact=Redactor())
texts = st.text(min_size=1, max_size=300) | st.sampled_from(
    ['{{ 7*7 }}', '"}]}', "<!channel>", "a\x00b\x1bc", "\u202e", "x" * 4000, "*bold* _it_ `code` <http://x|y>"])
params = st.fixed_dictionaries({
    "text": texts, "title": st.none() | texts, "severity": st.sampled_from(SEVERITIES),
    "status": st.none() | texts, "service": st.none() | texts,
    "facts": st.dictionaries(st.text(max_size=40), texts, max_size=15),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params)
def test_any_data_makes_payloads_that_fit_the_formats(given_params: dict[str, object]) -> None:
    message = build_message(given_params, CTX)
    slack_body = slack.payload(message, CTX)
    assert schema_problems("slack-webhook.schema.json", slack_body) == []
    assert slack_escape(message.text)[:100] in slack_body["blocks"][1]["text"]["text"]
    teams_body = teams.payload(message, CTX)
    assert schema_problems("teams-workflows.schema.json", teams_body) == []
    assert teams_body["attachments"][0]["content"]["body"][1]["text"] == message.text
    event = {"routing_key": "k" * 32, **pagerduty.event(message)}
    assert schema_problems("pagerduty-events-v2.schema.json", event) == []
    assert webhook.payload(message, CTX)["text"] == message.text
