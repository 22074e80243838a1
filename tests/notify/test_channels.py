"""Channels named in irt.yaml: references resolved into Secrets the redactor knows, inline
credentials refused without being shown, and the errors a runbook author sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyirt.actions.notify import channels
from pyirt.actions.notify.slack import Slack
from pyirt.actions.notify.webhook import Webhook
from pyirt.core.secrets import Secret
from pyirt.errors import ActionError
from tests.helpers import CANARY
from tests.notify.conftest import HMAC_KEY, MakeCtx
from tests.notify.peers import Peers


def refused(call: Any, *args: Any) -> str:
    with pytest.raises(ActionError) as caught:
        call(*args)
    assert not caught.value.retryable
    assert CANARY not in str(caught.value)
    return str(caught.value)


def test_references_become_secrets_registered_with_the_redactor(env: Peers, make_ctx: MakeCtx) -> None:
    ctx = make_ctx({"channels": {"oncall": {"type": "slack", "url": "env:SLACK_WEBHOOK_URL", "timeout": "3s",
                                            "attempts": 2, "fallback": ["email-sre"]}}})
    channel = channels.resolve("oncall", ctx)
    assert channel.kind == "slack" and channel.fallback == ("email-sre",)
    assert isinstance(channel.settings["url"], Secret)
    assert channel.reveal("url") == env.slack_url
    assert ctx.redact(f"posting to {env.slack_url}") == "posting to ***"
    assert (channel.policy.timeout, channel.policy.attempts) == (3.0, 2)


def test_file_references_are_read(tmp_path: Path, make_ctx: MakeCtx) -> None:
    key, url = tmp_path / "hmac.key", tmp_path / "hook.url"
    key.write_text(HMAC_KEY + "\n")
    url.write_text("http://127.0.0.1:9/hooks/irt\n")
    ctx = make_ctx({"channels": {"hook": {"type": "webhook", "url": f"file:{url}", "secret": f"file:{key}"}}})
    channel = channels.resolve("hook", ctx)
    assert (channel.reveal("url"), channel.reveal("secret")) == ("http://127.0.0.1:9/hooks/irt", HMAC_KEY)
    assert ctx.redact(HMAC_KEY) == "***"


@pytest.mark.parametrize(("kind", "key", "value"), [
    ("slack", "url", f"https://hooks.slack.test/services/T0/B0/{CANARY}"),
    ("teams", "url", f"https://workflows.test/invoke?sig={CANARY}"),
    ("webhook", "secret", CANARY),
    ("pagerduty", "routing_key", CANARY),
    ("email", "password", CANARY),
])
def test_inline_credentials_are_refused_unseen(make_ctx: MakeCtx, kind: str, key: str, value: str) -> None:
    settings = {"type": kind, "url": "env:HOOK_URL", key: value}
    message = refused(channels.resolve, "team", make_ctx({"channels": {"team": settings}}))
    assert message == f"channel team: {key} must be a reference (env:NAME or file:PATH) or secret(...), " \
                      "not an inline value"


def test_an_unknown_channel_lists_the_known_ones(make_ctx: MakeCtx) -> None:
    ctx = make_ctx({"channels": {"oncall": {"type": "slack", "url": "env:X"}, "pager": {"type": "pagerduty"}}})
    assert refused(channels.resolve, "oncal", ctx) == "unknown channel 'oncal' (channels in irt.yaml: oncall, pager)"


def test_a_missing_environment_variable_names_the_reference(make_ctx: MakeCtx,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    ctx = make_ctx({"channels": {"oncall": {"type": "slack", "url": "env:NOT_SET_ANYWHERE"}}})
    assert refused(channels.resolve, "oncall", ctx) == \
        "channel oncall: url: secret env:NOT_SET_ANYWHERE: environment variable NOT_SET_ANYWHERE is not set"


@pytest.mark.parametrize(("settings", "error"), [
    ({"type": "sms"}, "channel c: type must be one of slack, teams, pagerduty, webhook, email"),
    ({"type": "slack", "url": "env:HOOK_URL", "attempts": 0},
     "channel c: attempts must be a whole number from 1 to 10"),
    ({"type": "slack", "url": "env:HOOK_URL", "timeout": "soon"}, "channel c: "),
    ({"type": "slack", "url": "env:HOOK_URL", "fallback": [1]}, "channel c: fallback must be a list of channel names"),
])
def test_malformed_channels_are_reported(env: Peers, make_ctx: MakeCtx, settings: dict[str, Any],
                                         error: str) -> None:
    assert refused(channels.resolve, "c", make_ctx({"channels": {"c": settings}})).startswith(error)


def test_an_action_refuses_a_channel_of_another_kind(env: Peers, make_ctx: MakeCtx) -> None:
    ctx = make_ctx({"channels": {"pager": {"type": "pagerduty", "routing_key": "env:PD_ROUTING_KEY"}}})
    assert refused(Slack().run, {"channel": "pager", "text": "hi"}, ctx) == \
        "channel pager is of type pagerduty, not slack: use notify.pagerduty"


def test_a_direct_url_must_be_a_reference_or_a_secret(env: Peers, make_ctx: MakeCtx) -> None:
    ctx = make_ctx({})
    assert refused(Slack().run, {"url": env.slack_url, "text": "hi"}, ctx).startswith(
        "channel (direct): url must be a reference")
    assert Slack().run({"url": "env:SLACK_WEBHOOK_URL", "text": "hi"}, ctx)["delivered_via"] == "(direct)"
    assert Slack().run({"url": Secret(env.slack_url), "text": "hi"}, ctx)["delivered_via"] == "(direct)"
    assert len(env.slack.accepted) == 2


def test_a_step_cannot_slip_an_inline_hmac_key_into_a_named_channel(env: Peers, make_ctx: MakeCtx) -> None:
    ctx = make_ctx({"channels": {"hook": {"type": "webhook", "url": "env:HOOK_URL"}}})
    assert refused(Webhook().run, {"channel": "hook", "secret": CANARY}, ctx).startswith(
        "channel hook: secret must be a reference")
    out = Webhook().run({"channel": "hook", "secret": "env:HOOK_SECRET"}, ctx)
    assert out["signed"] is True and env.webhook.problems == []


def test_the_token_parts_of_a_secret_url_are_masked_on_their_own(make_ctx: MakeCtx,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    token, sig = "XyZ123abcDEF456ghiJKL789", "kQ2vP9xL0wR7sT3u"
    monkeypatch.setenv("HOOK", f"https://hooks.example.test/services/T0A1/B0B2/{token}")
    monkeypatch.setenv("FLOW", f"https://flows.example.test/workflows/abc/invoke?api-version=2016-06-01&sig={sig}")
    ctx = make_ctx({"channels": {"s": {"type": "slack", "url": "env:HOOK"}, "t": {"type": "teams", "url": "env:FLOW"}}})
    channels.resolve("s", ctx)
    channels.resolve("t", ctx)
    echoed = f"no hook /services/T0A1/B0B2/{token} (token {token}); bad signature {sig}; path /services ok"
    assert ctx.redact(echoed) == "no hook *** (token ***); bad signature ***; path /services ok"
