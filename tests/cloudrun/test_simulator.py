"""The simulator against the official client (``run_v2`` over REST, anonymous credentials): the
shapes it parses, etags, updateMask, validation, long-running operations, errors and faults."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from pyirt.sim.cloudrun import CloudRunSimulator
from pyirt.sim.cloudrun_state import CloudRunWorld, WorldError
from tests.cloudrun.conftest import SERVICE

run_v2 = pytest.importorskip("google.cloud.run_v2")
gexc = pytest.importorskip("google.api_core.exceptions")
from google.auth.credentials import AnonymousCredentials  # noqa: E402
from google.protobuf.field_mask_pb2 import FieldMask  # noqa: E402

REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
CALL = {"retry": None, "timeout": 5}


@pytest.fixture
def services(sim: CloudRunSimulator) -> Iterator[Any]:
    client = run_v2.ServicesClient(credentials=AnonymousCredentials(), transport="rest",
                                   client_options={"api_endpoint": sim.url})
    yield client
    client.transport.close()
    ops = client.transport._operations_client  # its transport has no close(): close its session
    if ops is not None:
        ops.transport._session.close()


@pytest.fixture
def revisions(sim: CloudRunSimulator) -> Iterator[Any]:
    with run_v2.RevisionsClient(credentials=AnonymousCredentials(), transport="rest",
                                client_options={"api_endpoint": sim.url}) as client:
        yield client


def target(revision: str | None, percent: int = 0, tag: str = "") -> Any:
    if revision is None:
        return run_v2.TrafficTarget(type_=LATEST, percent=percent, tag=tag)
    return run_v2.TrafficTarget(type_=REVISION, revision=revision, percent=percent, tag=tag)


def update(services: Any, traffic: list[Any], etag: str = "", mask: list[str] | None = None, **fields: Any) -> Any:
    request = run_v2.UpdateServiceRequest(service=run_v2.Service(name=SERVICE, etag=etag, traffic=traffic, **fields),
                                          update_mask=FieldMask(paths=mask) if mask else None)
    return services.update_service(request=request, **CALL)


def raw_get(sim: CloudRunSimulator, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(sim.url + path, timeout=5) as reply:  # noqa: S310 (a loopback URL)
        return json.loads(reply.read())


def test_get_service_parses_traffic_tags_statuses_and_names(services: Any) -> None:
    svc = services.get_service(name=SERVICE, **CALL)
    assert [(t.revision, t.percent, t.tag) for t in svc.traffic] == [
        ("pixashot-00042-bad", 100, ""), ("pixashot-00041-abc", 0, "stable"), ("pixashot-00042-bad", 0, "canary")]
    stable = next(s for s in svc.traffic_statuses if s.tag == "stable")
    assert stable.uri.startswith("https://stable---pixashot-")
    assert svc.latest_ready_revision == f"{SERVICE}/revisions/pixashot-00042-bad"
    assert svc.latest_created_revision == f"{SERVICE}/revisions/pixashot-00043-oom"
    assert svc.etag and svc.generation == 1
    assert svc.terminal_condition.state == run_v2.Condition.State.CONDITION_SUCCEEDED


def test_enums_come_as_numbers_when_the_client_asks_and_as_names_otherwise(sim: CloudRunSimulator) -> None:
    path = "/v2/" + SERVICE
    assert raw_get(sim, path)["traffic"][0]["type"] == "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
    numbers = raw_get(sim, path + "?%24alt=json%3Benum-encoding%3Dint")
    assert numbers["traffic"][0]["type"] == 2 and numbers["terminalCondition"]["state"] == 4
    assert numbers["generation"] == "1"  # int64 as a string, as proto3 JSON has it


def test_revisions_list_newest_first_across_pages_with_ready_state_and_image(revisions: Any) -> None:
    request = run_v2.ListRevisionsRequest(parent=SERVICE, page_size=1)
    found = list(revisions.list_revisions(request=request, **CALL))
    assert [r.name.rsplit("/", 1)[1] for r in found] == [
        "pixashot-00043-oom", "pixashot-00042-bad", "pixashot-00041-abc", "pixashot-00040-old"]
    oom = found[0].conditions[0]
    assert (oom.type_, oom.state, oom.message) == ("Ready", run_v2.Condition.State.CONDITION_FAILED,
                                                   "Container exited: out of memory")
    assert found[2].containers[0].image == "pixashot:1.41"
    assert revisions.get_revision(name=found[1].name, **CALL).name == found[1].name


def test_services_list_and_missing_resources_are_not_found(services: Any, revisions: Any) -> None:
    listed = services.list_services(parent="projects/demo/locations/us-central1", **CALL)
    assert sorted(s.name.rsplit("/", 1)[1] for s in listed) == ["pixashot", "thumbnails"]
    with pytest.raises(gexc.NotFound, match="Resource 'nope' of kind 'SERVICE'"):
        services.get_service(name="projects/demo/locations/us-central1/services/nope", **CALL)
    with pytest.raises(gexc.NotFound):
        revisions.get_revision(name=f"{SERVICE}/revisions/nope", **CALL)


def test_a_stale_etag_is_a_409_aborted_conflict(sim: CloudRunSimulator, services: Any) -> None:
    etag = services.get_service(name=SERVICE, **CALL).etag
    sim.world.touch("demo", "us-central1", "pixashot")  # another writer
    with pytest.raises(gexc.Conflict, match="etag mismatch") as caught:
        update(services, [target("pixashot-00041-abc", 100)], etag=etag, mask=["traffic"])
    assert caught.value.response.json()["error"]["status"] == "ABORTED"


def test_update_mask_limits_what_changes(sim: CloudRunSimulator, services: Any) -> None:
    update(services, [target("pixashot-00041-abc", 100)], mask=["labels"], labels={"incident": "x"}).result(5)
    svc = services.get_service(name=SERVICE, **CALL)
    assert svc.labels["incident"] == "x"
    assert [(t.revision, t.percent) for t in svc.traffic if t.percent] == [("pixashot-00042-bad", 100)]
    with pytest.raises(gexc.BadRequest, match="template cannot be updated"):
        update(services, [], mask=["template"])


@pytest.mark.parametrize(("traffic", "error"), [
    ([("pixashot-00041-abc", 90, "")], "must add up to 100, got 90"),
    ([("pixashot-00099-nope", 100, "")], "revision 'pixashot-00099-nope' does not exist"),
    ([("pixashot-00041-abc", 100, "x"), ("pixashot-00042-bad", 0, "x")], "'x' is used twice"),
    ([("pixashot-00041-abc", 100, "Bad_Tag")], "not a valid tag"),
])
def test_traffic_is_validated(services: Any, traffic: list[tuple[str, int, str]], error: str) -> None:
    with pytest.raises(gexc.BadRequest, match=error):
        update(services, [target(*t) for t in traffic], mask=["traffic"])


def test_an_operation_finishes_after_its_delay_and_then_traffic_statuses_change(
        sim: CloudRunSimulator, services: Any) -> None:
    sim.world._services[("demo", "us-central1", "pixashot")].operation_delay = 0.3
    etag = services.get_service(name=SERVICE, **CALL).etag
    future = update(services, [target("pixashot-00041-abc", 100), target("pixashot-00041-abc", 0, "stable")],
                    etag=etag, mask=["traffic"])
    assert not future.operation.done
    during = services.get_service(name=SERVICE, **CALL)
    assert during.reconciling and during.generation == 2 and during.etag != etag
    assert [s.revision for s in during.traffic_statuses if s.percent] == ["pixashot-00042-bad"]
    ops = services.transport.operations_client
    assert not ops.get_operation(future.operation.name, **CALL).done
    time.sleep(0.35)
    done = ops.get_operation(future.operation.name, **CALL)
    assert done.done and done.HasField("response")
    result = future.result(timeout=5)
    assert [(s.revision, s.percent) for s in result.traffic_statuses if s.percent] == [("pixashot-00041-abc", 100)]
    assert not services.get_service(name=SERVICE, **CALL).reconciling


def test_traffic_to_a_revision_that_is_not_ready_fails_the_operation(services: Any) -> None:
    future = update(services, [target("pixashot-00043-oom", 100)], mask=["traffic"])
    with pytest.raises(gexc.FailedPrecondition, match="'pixashot-00043-oom' is not ready"):
        future.result(timeout=5)
    svc = services.get_service(name=SERVICE, **CALL)
    assert svc.terminal_condition.state == run_v2.Condition.State.CONDITION_FAILED
    assert [s.revision for s in svc.traffic_statuses if s.percent] == ["pixashot-00042-bad"]


def test_validate_only_changes_nothing(services: Any) -> None:
    request = run_v2.UpdateServiceRequest(service=run_v2.Service(name=SERVICE, traffic=[target(None, 100)]),
                                          validate_only=True)
    services.update_service(request=request, **CALL).result(timeout=5)
    assert services.get_service(name=SERVICE, **CALL).generation == 1


def test_injected_faults_fail_n_times_with_retry_after_then_pass(sim: CloudRunSimulator, services: Any) -> None:
    sim.inject("GetService", status=503, times=2, retry_after="2s")
    for _ in range(2):
        with pytest.raises(gexc.ServiceUnavailable) as caught:
            services.get_service(name=SERVICE, **CALL)
        assert caught.value.response.headers["Retry-After"] == "2"
    assert services.get_service(name=SERVICE, **CALL).name == SERVICE
    sim.inject("get_service", status="PERMISSION_DENIED", times=None)
    with pytest.raises(gexc.Forbidden):
        services.get_service(name=SERVICE, **CALL)
    sim.clear_faults()
    assert sim.world.calls["GetService"] == 4


def test_a_hang_outlasts_the_client_timeout_and_stop_releases_it(sim: CloudRunSimulator, services: Any) -> None:
    sim.inject("GetService", hang=True)
    started = time.monotonic()
    with pytest.raises(Exception, match=r"(?i)timed? ?out"):
        services.get_service(name=SERVICE, retry=None, timeout=0.3)
    assert time.monotonic() - started < 3


def test_methods_it_does_not_simulate_answer_501(services: Any) -> None:
    with pytest.raises(gexc.MethodNotImplemented, match="not simulated"):
        services.delete_service(name=SERVICE, **CALL)


def test_concurrent_writers_each_get_a_generation(sim: CloudRunSimulator) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for _ in range(5):
                sim.world.update_service("demo", "us-central1", "pixashot",
                                         {"labels": {"w": str(n)}}, ["labels"])
                sim.world.get_service("demo", "us-central1", "pixashot")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert sim.world.get_service("demo", "us-central1", "pixashot")["generation"] == "41"


def test_a_world_ignores_other_sections_and_names_the_path_of_a_problem() -> None:
    world = CloudRunWorld.from_dict({"containers": [{"name": "x"}], "secrets": [], "cloudrun": []})
    assert world.service_keys() == []
    bad = {"cloudrun": [{"project": "p", "service": "s", "revisions": [{"name": "s-1"}],
                         "traffic": [{"revision": "s-1", "percent": 90}]}]}
    with pytest.raises(WorldError, match=r"cloudrun\[0\]\.traffic: percents add up to 90, not 100"):
        CloudRunWorld.from_dict(bad)
    with pytest.raises(WorldError, match=r"cloudrun\[0\]\.faults\[0\]: unknown Cloud Run operation 'Explode'"):
        CloudRunWorld.from_dict({"cloudrun": [{"project": "p", "service": "s", "revisions": [{"name": "s-1"}],
                                               "faults": [{"op": "Explode", "status": 500}]}]})


def test_it_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        CloudRunSimulator({}, host="0.0.0.0")  # noqa: S104 (the address it must refuse)
