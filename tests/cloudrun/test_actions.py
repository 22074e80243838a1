"""cloudrun.status, cloudrun.rollback and cloudrun.set_traffic through the engine, on the simulator."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from pyirt.actions.api import NOT_DONE, ActionContext
from pyirt.actions.cloudrun.actions import Rollback
from pyirt.sim.cloudrun import CloudRunSimulator
from tests.cloudrun.conftest import Messages, config_for, respond, traffic, write_runbook
from tests.helpers import closed_port, http_server, incident_folder, journal_events, of_type

BAD = "pixashot-00042-bad"
STABLE = "pixashot-00041-abc"
TAGS = {"stable": STABLE, "canary": BAD}


def step(result: Any, step_id: str = "rollback") -> Any:
    return result.state.step(step_id)


def test_status_reports_split_tags_urls_and_revisions(sim: CloudRunSimulator, tmp_path: Path) -> None:
    result = respond("status", tmp_path, config_for(sim))
    assert result.outcome == "succeeded", step(result, "status").error
    out = step(result, "status").output
    assert out["serving"] == {BAD: 100} and out["serving_revision"] == BAD
    assert out["tags"] == TAGS
    assert out["tag_urls"]["stable"].startswith("https://stable---pixashot-")
    assert out["latest_ready_revision"] == BAD and out["latest_created_revision"] == "pixashot-00043-oom"
    assert [(r["name"], r["ready"]) for r in out["revisions"]] == [
        ("pixashot-00043-oom", False), (BAD, True), (STABLE, True), ("pixashot-00040-old", True)]
    assert out["revisions"][0]["message"] == "Container exited: out of memory"
    assert out["revisions"][2]["image"] == "pixashot:1.41" and out["revisions"][2]["create_time"].endswith("Z")
    assert Path(out["path"]).is_file()


def test_rollback_to_the_stable_tag_moves_everything_and_keeps_every_tag(sim: CloudRunSimulator,
                                                                          tmp_path: Path) -> None:
    before = sim.world.snapshot("demo", "us-central1", "pixashot")
    result = respond("rollback", tmp_path, config_for(sim))
    assert result.outcome == "succeeded", step(result).error
    out = step(result).output
    assert (out["target_revision"], out["target"]) == (STABLE, "tag stable")
    assert traffic(sim) == ({STABLE: 100}, TAGS)
    assert out["serving"] == {STABLE: 100} and out["tags"] == TAGS and out["previous_serving"] == {BAD: 100}
    assert out["previous_split"] == [
        {"revision": BAD, "percent": 100, "tag": None, "latest": False},
        {"revision": STABLE, "percent": 0, "tag": "stable", "latest": False},
        {"revision": BAD, "percent": 0, "tag": "canary", "latest": False}]
    assert out["new_split"][0] == {"revision": STABLE, "percent": 100, "tag": None, "latest": False}
    assert out["changed"] is True and out["operation"].startswith("projects/demo/locations/us-central1/operations/")
    assert out["etag"] != before["etag"]
    checkpoint = of_type(journal_events(incident_folder(tmp_path / "incidents")), "step.checkpoint", "rollback")
    assert checkpoint[0]["data"]["previous"] == out["previous_split"]  # journaled before the write


def test_rollback_to_previous_takes_the_newest_ready_revision_older_than_the_serving_one(
        sim: CloudRunSimulator, tmp_path: Path) -> None:
    result = respond("rollback", tmp_path, config_for(sim), to="previous")
    assert result.outcome == "succeeded", step(result).error
    assert step(result).output["target_revision"] == STABLE  # 00043 is newer but failed; 00040 is older
    assert traffic(sim)[0] == {STABLE: 100}
    again = respond("rollback", tmp_path, config_for(sim), to="previous")
    assert step(again).output["target_revision"] == "pixashot-00040-old"
    assert traffic(sim) == ({"pixashot-00040-old": 100}, TAGS)


def test_rollback_to_an_explicit_revision(sim: CloudRunSimulator, tmp_path: Path) -> None:
    result = respond("rollback", tmp_path, config_for(sim), to="pixashot-00040-old")
    assert result.outcome == "succeeded", step(result).error
    assert step(result).output["target"] == "revision pixashot-00040-old"
    assert traffic(sim) == ({"pixashot-00040-old": 100}, TAGS)


def test_rollback_refuses_a_revision_that_is_not_ready_without_writing(sim: CloudRunSimulator,
                                                                         tmp_path: Path) -> None:
    result = respond("rollback", tmp_path, config_for(sim), to="pixashot-00043-oom")
    assert result.outcome == "failed"
    error = step(result).error
    assert error == ("Cloud Run service demo/us-central1/pixashot: to: revision pixashot-00043-oom is not Ready "
                     "(CONDITION_FAILED: Container exited: out of memory); refusing to send traffic to it")
    assert sim.world.calls["UpdateService"] == 0
    assert traffic(sim)[0] == {BAD: 100}


def test_rollback_refuses_a_target_that_does_not_exist(sim: CloudRunSimulator, tmp_path: Path) -> None:
    result = respond("rollback", tmp_path, config_for(sim), to="golden")
    assert "no tag or revision named 'golden' (tags: canary, stable; 4 revisions)" in step(result).error
    assert sim.world.calls["UpdateService"] == 0


def test_a_concurrent_change_is_read_again_and_written_once_more(sim: CloudRunSimulator, tmp_path: Path) -> None:
    sim.inject("UpdateService", concurrent_update=True, times=1)
    said = Messages()
    result = respond("rollback", tmp_path, config_for(sim), said)
    assert result.outcome == "succeeded", step(result).error
    assert sim.world.calls["UpdateService"] == 2
    assert traffic(sim) == ({STABLE: 100}, TAGS)
    assert any("(conflict: the service changed since it was read); reading it again" in m for m in said.lines)


def test_a_conflict_twice_in_a_row_fails_clearly(sim: CloudRunSimulator, tmp_path: Path) -> None:
    sim.inject("UpdateService", concurrent_update=True, times=2)
    result = respond("rollback", tmp_path, config_for(sim))
    assert result.outcome == "failed"
    error = step(result).error
    assert error.startswith("Cloud Run service demo/us-central1/pixashot: update traffic: etag mismatch")
    assert "(conflict: the service changed since it was read), twice in a row" in error
    assert "\n" not in error
    assert traffic(sim)[0] == {BAD: 100}


def test_an_operation_that_takes_several_polls_is_waited_for(world: dict[str, Any], tmp_path: Path) -> None:
    world["cloudrun"][0]["operation_delay"] = "300ms"
    with CloudRunSimulator(world) as sim:
        result = respond("rollback", tmp_path, config_for(sim, poll_interval=0.05))
        assert result.outcome == "succeeded", step(result).error
        assert sim.world.calls["GetOperation"] >= 3
        assert traffic(sim)[0] == {STABLE: 100}


def test_an_operation_that_outlasts_wait_fails_retryably(world: dict[str, Any], tmp_path: Path) -> None:
    world["cloudrun"][0]["operation_delay"] = "30s"
    with CloudRunSimulator(world) as sim:
        result = respond("rollback", tmp_path, config_for(sim, poll_interval=0.05), wait="300ms")
    assert result.outcome == "failed"
    assert "not done in time; it may still finish" in step(result).error


def test_a_503_is_retried_inside_the_step_honouring_retry_after(sim: CloudRunSimulator, tmp_path: Path) -> None:
    sim.inject("UpdateService", status=503, times=1, retry_after="1s")
    said = Messages()
    result = respond("rollback", tmp_path, config_for(sim), said)
    assert result.outcome == "succeeded", step(result).error
    assert sim.world.calls["UpdateService"] == 2
    assert any(m.endswith("(UNAVAILABLE 503); retrying in 1s (attempt 2 of 3)") for m in said.lines), said.lines
    assert not of_type(journal_events(incident_folder(tmp_path / "incidents")), "step.retrying")
    assert traffic(sim)[0] == {STABLE: 100}


def test_503_that_persists_gives_up_after_bounded_attempts(sim: CloudRunSimulator, tmp_path: Path) -> None:
    sim.inject("GetService", status=503, times=None, retry_after="0s")
    result = respond("rollback", tmp_path, config_for(sim, attempts=2))
    assert result.outcome == "failed"
    assert step(result).error == ("Cloud Run service demo/us-central1/pixashot: read service: simulated unavailable "
                                  "(injected fault) (UNAVAILABLE 503) (after 2 attempts)")
    assert sim.world.calls["GetService"] == 2


def test_a_server_that_is_down_is_one_line_naming_it(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    result = respond("rollback", tmp_path, config_for(endpoint=endpoint, attempts=1))
    assert result.outcome == "failed"
    assert step(result).error == (f"Cloud Run service demo/us-central1/pixashot: read service: cannot reach "
                                  f"{endpoint}: connection refused")


def test_a_server_that_hangs_hits_the_call_timeout(sim: CloudRunSimulator, tmp_path: Path) -> None:
    sim.inject("GetService", hang=True, times=None)
    result = respond("rollback", tmp_path, config_for(sim, timeout=0.3, attempts=1))
    assert step(result).error == (f"Cloud Run service demo/us-central1/pixashot: read service: {sim.url} did not "
                                  "answer within 0.3s")


def test_permission_denied_is_not_retried(sim: CloudRunSimulator, tmp_path: Path) -> None:
    sim.inject("UpdateService", status=403, times=None, message="Permission 'run.services.update' denied")
    result = respond("rollback", tmp_path, config_for(sim))
    assert step(result).error == ("Cloud Run service demo/us-central1/pixashot: update traffic: Permission "
                                  "'run.services.update' denied (permission denied: PERMISSION_DENIED)")
    assert sim.world.calls["UpdateService"] == 1


def test_set_traffic_moves_gradually_and_keeps_tags(sim: CloudRunSimulator, tmp_path: Path) -> None:
    result = respond("set-traffic", tmp_path, config_for(sim))
    assert result.outcome == "succeeded", step(result, "split").error
    assert traffic(sim) == ({STABLE: 90, BAD: 10}, TAGS)


def test_set_traffic_refuses_a_split_that_does_not_add_up(sim: CloudRunSimulator, tmp_path: Path) -> None:
    runbook = write_runbook(tmp_path, "  - id: split\n    action: cloudrun.set_traffic\n    with: {project: demo, "
                                      "region: us-central1, service: pixashot, split: {stable: 60, canary: 30}}\n")
    result = respond(runbook, tmp_path, config_for(sim))
    assert step(result, "split").error == ("Cloud Run service demo/us-central1/pixashot: split: percentages add "
                                           "up to 90, not 100")
    assert sim.world.calls["UpdateService"] == 0


def test_the_undo_restores_the_exact_90_10_split(world: dict[str, Any], tmp_path: Path) -> None:
    world["cloudrun"][0]["traffic"] = [{"revision": BAD, "percent": 90, "tag": "blue"},
                                       {"revision": STABLE, "percent": 10}]
    with CloudRunSimulator(world) as sim:
        before = copy.deepcopy(sim.world.snapshot("demo", "us-central1", "pixashot"))
        runbook = write_runbook(tmp_path, (
            "  - id: rollback\n    action: cloudrun.rollback\n"
            "    with: {project: demo, region: us-central1, service: pixashot}\n"
            "  - id: check\n    action: flow.assert\n    on_failure: rollback\n"
            "    with: {that: '{{ false }}', message: still unhealthy}\n"))
        result = respond(runbook, tmp_path, config_for(sim))
        assert result.outcome == "rolled_back"
        after = sim.world.snapshot("demo", "us-central1", "pixashot")
        assert after["traffic"] == before["traffic"]  # the exact entries, tags and order included
        assert traffic(sim) == ({BAD: 90, STABLE: 10}, {"blue": BAD, "stable": STABLE, "canary": BAD})
        undo = of_type(journal_events(incident_folder(tmp_path / "incidents")), "undo.succeeded", "rollback")
        assert undo and sim.world.calls["UpdateService"] == 2


def _ctx(tmp_path: Path, sim: CloudRunSimulator, checkpointed: dict[str, Any] | None = None,
         saved: list[dict[str, Any]] | None = None) -> ActionContext:
    return ActionContext(incident_id="i", step_id="rollback", incident_dir=tmp_path, config=config_for(sim).raw,
                         checkpointed=checkpointed or {}, checkpoint=(saved.append if saved is not None else
                                                                      lambda data: None))


def test_a_rerun_after_a_crash_keeps_the_first_before_and_writes_nothing(sim: CloudRunSimulator,
                                                                         tmp_path: Path) -> None:
    params = {"project": "demo", "region": "us-central1", "service": "pixashot", "to": "previous"}
    saved: list[dict[str, Any]] = []
    first = Rollback().run(dict(params), _ctx(tmp_path, sim, saved=saved))
    checkpoint = {k: v for data in saved for k, v in data.items()}
    again = Rollback().run(dict(params), _ctx(tmp_path, sim, checkpoint))  # "previous" would now be 00040
    assert again["target_revision"] == first["target_revision"] == STABLE
    assert again["previous_split"] == first["previous_split"] and again["changed"] is True
    assert sim.world.calls["UpdateService"] == 1
    assert Rollback().reconcile(dict(params), _ctx(tmp_path, sim, checkpoint))["new_split"] == first["new_split"]
    untouched = {"previous": checkpoint["target"], "target": checkpoint["previous"]}  # as if the write never landed
    assert Rollback().reconcile(dict(params), _ctx(tmp_path, sim, untouched)) is NOT_DONE
    assert Rollback().reconcile(dict(params), _ctx(tmp_path, sim)) is NOT_DONE


def test_the_shipped_runbook_rolls_back_checks_health_and_tells(world: dict[str, Any], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import SHIPPED, Reply

    with http_server() as health:
        health.route("/", Reply(200, body="ok"))
        world["cloudrun"][0]["url"] = health.url("/")
        with CloudRunSimulator(world) as sim:
            result = respond(SHIPPED / "cloudrun-bad-deploy.yaml", tmp_path, config_for(sim), project="demo")
            assert result.outcome == "succeeded", {k: v.error for k, v in result.state.steps.items()}
            assert traffic(sim) == ({STABLE: 100}, TAGS)
    tell = result.state.step("tell").output
    assert "rolled back from pixashot-00042-bad to pixashot-00041-abc (tag stable), 100%" in str(tell)
    assert "health check passed" in str(tell)


@pytest.mark.parametrize(("credentials", "error"), [
    ("file:/nonexistent/key.json", "credentials file:/nonexistent/key.json: [Errno 2] No such file or directory"),
    ("password123", "providers.cloudrun.credentials must be adc, anonymous or file:PATH, not 'password123'"),
])
def test_bad_credentials_settings_fail_before_any_call(sim: CloudRunSimulator, tmp_path: Path, credentials: str,
                                                       error: str) -> None:
    result = respond("status", tmp_path, config_for(sim, credentials=credentials))
    assert error in step(result, "status").error
    assert sum(sim.world.calls.values()) == 0
