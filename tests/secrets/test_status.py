"""secrets.status and ``irt secrets status``: overdue versions, old versions still enabled, values
shared between environments (compared by digest, never shown), and exit codes for cron and CI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from pyirt.actions.api import ActionContext
from pyirt.actions.secrets.status import Status
from pyirt.cli import run
from pyirt.errors import ActionError
from tests.secrets.conftest import TOKEN, AwsPeer, AzurePeer, GcpPeer, LocalPeer

SHARED = "same-api-key-in-two-environments"  # the value two environments share in world.yaml


@pytest.fixture
def peers(gcp_sim: Any, kv_sim: Any, moto_url: str, tmp_path: Path) -> dict[str, Any]:
    return {"gcp": GcpPeer(gcp_sim), "azure": AzurePeer(kv_sim), "aws": AwsPeer(moto_url),
            "local": LocalPeer(tmp_path / "store")}


def entries(peers: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"provider": "gcp", "project": "demo", "name": TOKEN, "environment": "prod"},
        {"provider": "gcp", "project": "demo", "name": "stale-token", "environment": "prod"},
        {"provider": "gcp", "project": "demo", "name": "api-key-staging", "environment": "staging"},
        {"provider": "azure", "name": TOKEN, "environment": "prod"},
        {"provider": "azure", "name": "stale-token", "environment": "prod"},
        {"provider": "azure", "name": "api-key-prod", "environment": "prod"},
        {"provider": "aws", "name": peers["aws"].name, "environment": "dev"},
        {"provider": "local", "name": TOKEN, "store": str(peers["local"].folder), "environment": "dev"},
    ]


def write_config(tmp_path: Path, peers: dict[str, Any], items: list[dict[str, Any]], **extra: Any) -> Path:
    providers: dict[str, Any] = {}
    for peer in peers.values():
        providers.update(peer.config())
    path = tmp_path / "irt.yaml"
    path.write_text(json.dumps({"providers": providers, "secrets": items, **extra}))
    return path


def status(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code = run(["secrets", "status", "--json", "--config", str(config), *args])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_overdue_versions_and_shared_values_are_reported_and_fail_the_exit_code(
        peers: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = status(capsys, write_config(tmp_path, peers, entries(peers)))
    assert code == 1 and report["checked"] == 8 and report["errors"] == []
    assert report["overdue"] == ["prod: gcp:demo/stale-token", "prod: azure:stale-token"]
    assert report["shared"] == [["staging: gcp:demo/api-key-staging", "prod: azure:api-key-prod"]]
    rows = {r["label"]: r for r in report["secrets"]}
    token = rows[f"prod: gcp:demo/{TOKEN}"]
    assert token["current_version"] == "2" and token["overdue"] is False and 29.9 < token["age_days"] < 30.1
    assert token["enabled_old_versions"] == ["1"] and round(token["due_in_days"]) == 60
    assert rows["prod: azure:stale-token"]["age_days"] > 90  # its newest version is 95 days old
    assert rows["prod: azure:api-key-prod"]["shares_value_with"] == ["staging: gcp:demo/api-key-staging"]
    assert rows["dev: aws:" + peers["aws"].name]["overdue"] is False
    assert rows[f"dev: local:{TOKEN}"]["enabled_old_versions"] == ["1"]
    text = json.dumps(report)
    assert SHARED not in text and hashlib.sha256(SHARED.encode()).hexdigest() not in text  # neither value nor digest


def test_all_within_policy_exits_zero_and_a_tighter_policy_flags_the_token(
        peers: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fine = [e for e in entries(peers) if e["name"] not in ("stale-token", "api-key-staging")]
    config = write_config(tmp_path, peers, fine)
    code, report = status(capsys, config)
    assert (code, report["ok"], report["overdue"], report["shared"]) == (0, True, [], [])
    code, report = status(capsys, config, "--max-age", "20d")
    assert code == 1 and report["overdue"] == [f"prod: gcp:demo/{TOKEN}", f"prod: azure:{TOKEN}", f"dev: local:{TOKEN}"]


def test_an_entry_s_own_max_age_wins_and_the_table_is_for_people(
        peers: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [{"provider": "gcp", "project": "demo", "name": TOKEN, "environment": "prod", "max_age": "7d"}]
    assert run(["secrets", "status", "--config", str(write_config(tmp_path, peers, items))]) == 1
    out = capsys.readouterr().out
    assert f"OVERDUE prod: gcp:demo/{TOKEN}: version 2, 30d old (policy 7d); old versions enabled: 1" in out
    assert out.strip().endswith("1 checked, 1 overdue, 0 shared value(s), 0 error(s)")


def test_an_unreadable_secret_is_an_error_line_not_a_crash(
        peers: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [{"provider": "gcp", "project": "demo", "name": "no-such-secret"},
             {"provider": "gcp", "project": "demo", "name": TOKEN}]
    code, report = status(capsys, write_config(tmp_path, peers, items))
    assert code == 1 and report["errors"] == ["gcp:demo/no-such-secret"]
    assert "not found" in report["secrets"][0]["error"] and report["secrets"][1]["overdue"] is False


def test_secrets_come_from_the_audit_section_too_and_a_bad_entry_is_invalid_input(
        peers: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [{"provider": "gcp", "project": "demo", "name": TOKEN}]
    config = write_config(tmp_path, peers, [], audit={"secrets": items})
    assert status(capsys, config)[1]["checked"] == 1
    bad = write_config(tmp_path, peers, [{"provider": "vault", "name": "x"}])
    assert run(["secrets", "status", "--config", str(bad)]) == 2
    assert "provider must be one of gcp, aws, azure, local" in capsys.readouterr().err
    assert run(["secrets", "status", "--config", str(write_config(tmp_path, peers, []))]) == 2


def test_the_action_checks_one_secret_and_fails_on_request(peers: dict[str, Any], tmp_path: Path) -> None:
    ctx = ActionContext(incident_id="i", step_id="s", incident_dir=tmp_path,
                        config={"providers": peers["gcp"].config()})
    one = {"provider": "gcp", "secret": "stale-token", "project": "demo"}
    assert Status().run(dict(one), ctx)["overdue"] == ["gcp:demo/stale-token"]
    with pytest.raises(ActionError, match="overdue: gcp:demo/stale-token"):
        Status().run({**one, "fail_on": ["overdue"]}, ctx)
    with pytest.raises(ActionError, match="the current version is 1, expected 7"):
        Status().run({**one, "expect_version": "7"}, ctx)
    assert Status().run({**one, "expect_version": "1"}, ctx)["ok"] is False
