"""secrets.rotate, its undo (secrets.promote) and secrets.revoke through the engine, on every
provider: GCP (latest and alias), AWS (moto), Azure (the Key Vault simulator) and the local store."""

from __future__ import annotations

import base64
import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from pyirt.actions.api import ActionContext
from pyirt.actions.secrets.actions import Promote, Revoke
from pyirt.actions.secrets.base import PROVIDERS
from pyirt.errors import ActionError
from tests.helpers import Reply, Request, http_server, incident_folder, journal_events, of_type
from tests.secrets.conftest import Peer, config_for, respond

COPIES = ("gcp", "azure")  # stores whose current version is the newest: promoting back adds a copy


def kind(peer: Peer) -> str:
    return "gcp-alias" if peer.params().get("alias") else peer.provider


def ctx_for(peer: Peer, tmp_path: Path, step: str = "step") -> ActionContext:
    return ActionContext(incident_id="test-incident", step_id=step, incident_dir=tmp_path,
                         config=config_for(peer).raw)


def provider_class(peer: Peer) -> type:
    module, _, attr = PROVIDERS[peer.provider].partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def test_rotate_stores_verifies_and_promotes_a_new_version(peer: Peer, tmp_path: Path) -> None:
    before = peer.current()
    old = peer.value(before)
    result = respond("rotate", tmp_path, config_for(peer), **peer.params())
    rotate = result.state.step("rotate")
    assert result.outcome == "succeeded", rotate.error
    out = rotate.output
    new = peer.current()
    assert out["version"] == new != before and out["previous_version"] == before
    assert out["promoted"] is True and out["verified"] == ["read-back"] and out["resumed"] is False
    value = peer.value(new)
    assert value != old and len(base64.b64decode(value or "", validate=True)) == 32  # openssl rand -base64 32
    assert peer.states()[before] == "enabled"  # the previous version stays usable for the grace period
    events = journal_events(incident_folder(tmp_path / "incidents"))
    assert value not in json.dumps(events)
    checkpoints = of_type(events, "step.checkpoint", "rotate")
    assert checkpoints[0]["data"]["previous"] == before and checkpoints[1]["data"] == {"stored": new}
    if peer.provider == "aws":
        stages = peer.stages()  # type: ignore[attr-defined]
        assert stages[new] == ["AWSCURRENT"] and stages[before] == ["AWSPREVIOUS"]  # AWSPENDING removed
        assert new == checkpoints[0]["data"]["request"]  # the ClientRequestToken is the version id
    if kind(peer) == "gcp-alias":
        assert out["promotion"] == "alias current"


def test_the_default_undo_promotes_the_previous_version_back(peer: Peer, tmp_path: Path) -> None:
    before = peer.current()
    old = peer.value(before)
    result = respond("rotate", tmp_path, config_for(peer), fail_after=True, **peer.params())
    assert result.outcome == "rolled_back", result.state.step("then-fail").error
    rotated = result.state.step("rotate").output["version"]
    undo = of_type(journal_events(incident_folder(tmp_path / "incidents")), "undo.succeeded", "rotate")[0]
    assert undo["action"] == "secrets.promote" and undo["output"]["previous_version"] == rotated
    assert peer.value(None) == old
    if peer.provider in COPIES and kind(peer) != "gcp-alias":
        assert undo["output"]["copied_from"] == before and peer.current() not in (before, rotated)
    else:
        assert peer.current() == before and undo["output"]["version"] == before


def test_promote_again_changes_nothing(peer: Peer, tmp_path: Path) -> None:
    result = respond("rotate", tmp_path, config_for(peer), **peer.params())
    previous = result.state.step("rotate").output["previous_version"]
    ctx = ctx_for(peer, tmp_path, "undo")
    first = Promote().run({**peer.params(), "version": previous}, ctx)
    current = peer.current()
    again = Promote().run({**peer.params(), "version": previous}, ctx)
    assert first["changed"] is True and again["changed"] is False and peer.current() == current


def test_revoke_disables_the_older_versions_and_never_the_current(peer: Peer, tmp_path: Path) -> None:
    before = peer.current()
    older = {v for v, state in peer.states().items() if v != before and state == "enabled"}
    result = respond("rotate", tmp_path, config_for(peer), **peer.params())
    new = result.state.step("rotate").output["version"]
    ctx = ctx_for(peer, tmp_path)
    with pytest.raises(ActionError, match="current version: refusing"):
        Revoke().run({**peer.params(), "versions": [new]}, ctx)
    out = Revoke().run(dict(peer.params()), ctx)
    assert out["current_version"] == new and set(out["revoked"]) == older | {before}
    states = peer.states()
    assert states[new] == "enabled" and peer.current() == new
    assert all(states[v] == "disabled" for v in out["revoked"])
    assert Revoke().run(dict(peer.params()), ctx)["revoked"] == []  # nothing left to do: idempotent


@pytest.mark.parametrize("which", ["gcp", "local"])
def test_revoke_can_destroy_where_the_store_can_and_keep_the_newest(which: str, tmp_path: Path,
                                                                     request: pytest.FixtureRequest) -> None:
    from tests.secrets.conftest import GcpPeer, LocalPeer

    peer: Peer = GcpPeer(request.getfixturevalue("gcp_sim")) if which == "gcp" else LocalPeer(tmp_path / "store")
    before = peer.current()
    respond("rotate", tmp_path, config_for(peer), **peer.params())
    out = Revoke().run({**peer.params(), "mode": "destroy", "keep": 1}, ctx_for(peer, tmp_path))
    assert out["kept"] == [before] and out["revoked"] == ["1"]
    assert peer.states()["1"] == "destroyed" and peer.value("1") is None
    assert peer.states()[before] == "enabled"


def test_key_vault_refuses_to_destroy_one_version(kv_sim: Any, tmp_path: Path) -> None:
    from tests.secrets.conftest import AzurePeer

    peer = AzurePeer(kv_sim)
    with pytest.raises(ActionError, match="cannot destroy a single version"):
        Revoke().run({**peer.params(), "mode": "destroy"}, ctx_for(peer, tmp_path))
    assert set(peer.states().values()) == {"enabled"}


class Crash(BaseException):
    """The process dies mid-step (no except Exception catches it): the step stays in doubt."""


def test_a_resumed_rotation_does_not_create_a_second_version(peer: Peer, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from pyirt.engine import session

    count = len(peer.states())
    before = peer.current()

    def crash(self: Any, version: str, request: str = "") -> Any:
        raise Crash()

    monkeypatch.setattr(provider_class(peer), "promote", crash)
    with pytest.raises(Crash):
        respond("rotate", tmp_path, config_for(peer), **peer.params())
    monkeypatch.undo()
    folder = incident_folder(tmp_path / "incidents")
    assert journal_events(folder)[-1]["type"] == "step.checkpoint"  # stored, then the crash
    stored = journal_events(folder)[-1]["data"]["stored"]
    options = session.Options(sync=False, yes=True, interactive=False, incident_dir=str(tmp_path / "incidents"))
    result = session.resume(folder.name, config_for(peer), options)
    assert result.outcome == "succeeded", result.state.step("rotate").error
    assert len(peer.states()) == count + 1  # one rotation, one version
    assert peer.current() == stored == result.state.step("rotate").output["version"]
    assert result.state.step("rotate").output["previous_version"] == before
    assert of_type(journal_events(folder), "step.in_doubt", "rotate")


def test_a_store_that_fails_between_stored_and_promoted_is_promoted_by_the_retry(
        peer: Peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    count = len(peer.states())
    cls = provider_class(peer)
    real = cls.promote
    calls: list[str] = []

    def flaky(self: Any, version: str, request: str = "") -> Any:
        calls.append(version)
        if len(calls) == 1:
            raise ActionError("the store is unavailable (simulated)", backend="secrets", retryable=True)
        return real(self, version, request)

    monkeypatch.setattr(cls, "promote", flaky)
    result = respond("rotate", tmp_path, config_for(peer), **peer.params())
    rotate = result.state.step("rotate")
    assert result.outcome == "succeeded", rotate.error
    assert rotate.attempts == 2 and rotate.output["resumed"] is True
    assert calls[0] == calls[1] == rotate.output["stored_version"]
    assert len(peer.states()) == count + 1 and peer.current() == rotate.output["version"]


def test_a_store_that_keeps_failing_leaves_staged_consumers_on_the_previous_version(
        peer: Peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = peer.current()

    def down(self: Any, version: str, request: str = "") -> Any:
        raise ActionError("the store is unavailable (simulated)", backend="secrets", retryable=True)

    monkeypatch.setattr(provider_class(peer), "promote", down)
    result = respond("rotate", tmp_path, config_for(peer), **peer.params())
    assert result.outcome == "failed" and "unavailable" in result.state.step("rotate").error
    events = journal_events(incident_folder(tmp_path / "incidents"))
    stored = [e["data"]["stored"] for e in of_type(events, "step.checkpoint", "rotate") if "stored" in e["data"]]
    assert len(stored) == 1  # two attempts, one version
    if kind(peer) in ("aws", "gcp-alias", "local"):  # staged: consumers never saw the new version
        assert peer.current() == before
    if peer.provider == "aws":
        assert peer.stages()[stored[0]] == ["AWSPENDING"]  # type: ignore[attr-defined]


def test_gcp_alias_move_that_fails_on_the_simulator_is_retried(gcp_sim: Any, tmp_path: Path) -> None:
    from tests.secrets.conftest import GcpPeer

    peer = GcpPeer(gcp_sim, alias="current")
    gcp_sim.inject("UpdateSecret", status=503, times=3)  # more than the client's own attempts (3)
    result = respond("rotate", tmp_path, config_for(peer), **peer.params())
    rotate = result.state.step("rotate")
    assert result.outcome == "succeeded", rotate.error
    assert rotate.attempts == 2 and rotate.output["version"] == "3" == peer.current()
    assert len(peer.states()) == 3


def _health(peer: Peer, seen: list[tuple[str, str]], status: int = 200) -> Any:
    def route(request: Request) -> Reply:
        seen.append((request.headers.get("authorization", ""), peer.current()))
        return Reply(status, body={"ok": status == 200})

    return route


def test_verify_url_is_called_with_the_new_token_before_promotion(peer: Peer, tmp_path: Path) -> None:
    before = peer.current()
    seen: list[tuple[str, str]] = []
    with http_server() as server:
        server.route("/health", _health(peer, seen))
        result = respond("rotate", tmp_path, config_for(peer), verify_url=server.url("/health"), **peer.params())
    out = result.state.step("rotate").output
    assert result.outcome == "succeeded" and out["verified"] == ["read-back", "url"]
    [(authorization, current_then)] = seen
    assert authorization == f"Bearer {peer.value(out['version'])}"
    if kind(peer) in ("aws", "gcp-alias", "local"):
        assert current_then == before  # staged: checked before consumers could read it


def test_a_failed_verification_keeps_the_previous_value_current(peer: Peer, tmp_path: Path) -> None:
    old = peer.value(None)
    seen: list[tuple[str, str]] = []
    with http_server() as server:
        server.route("/health", _health(peer, seen, status=401))
        result = respond("rotate", tmp_path, config_for(peer), verify_url=server.url("/health"), **peer.params())
    rotate = result.state.step("rotate")
    assert result.outcome == "failed" and rotate.attempts == 1  # not retried: the token was refused
    assert rotate.error.startswith("verification failed: GET") and "status 401" in rotate.error
    stored = next(e["data"]["stored"] for e in of_type(journal_events(incident_folder(tmp_path / "incidents")),
                                                       "step.checkpoint", "rotate") if "stored" in e["data"])
    assert peer.value(None) == old and peer.states()[stored] == "disabled"


def test_gcp_alias_move_rereads_the_secret_when_another_writer_changed_it(gcp_sim: Any, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from pyirt.actions.secrets.gcp import GcpSecrets
    from tests.secrets.conftest import GcpPeer

    peer = GcpPeer(gcp_sim, alias="current")
    real = GcpSecrets._secret
    reads: list[str] = []

    def racing(self: GcpSecrets) -> Any:
        secret = real(self)
        reads.append(secret.etag)
        if len(reads) == 2:  # promote's read: before its write, someone else changes the secret
            secret_state = gcp_sim.world._secrets[("demo", peer.name)]
            with gcp_sim.world._lock:
                secret_state.changes += 1
        return secret

    monkeypatch.setattr(GcpSecrets, "_secret", racing)
    result = respond("rotate", tmp_path, config_for(peer), **peer.params())
    assert result.outcome == "succeeded" and result.state.step("rotate").attempts == 1
    assert peer.current() == "3" and len(reads) == 3 and reads[1] != reads[2]  # read again after the conflict


def test_a_health_endpoint_in_trouble_is_retried_with_the_same_version(gcp_sim: Any, tmp_path: Path) -> None:
    from tests.secrets.conftest import GcpPeer

    peer = GcpPeer(gcp_sim, alias="current")
    answers = iter([503, 200])
    seen: list[str] = []

    def flaky(request: Request) -> Reply:
        seen.append(request.headers.get("authorization", ""))
        return Reply(next(answers), body={})

    with http_server() as server:
        server.route("/health", flaky)
        result = respond("rotate", tmp_path, config_for(peer), verify_url=server.url("/health"), **peer.params())
    rotate = result.state.step("rotate")
    assert result.outcome == "succeeded" and rotate.attempts == 2 and rotate.output["resumed"] is True
    assert len(seen) == 2 and seen[0] == seen[1]  # the same new token both times: one version
    assert len(peer.states()) == 3 and peer.current() == "3"
