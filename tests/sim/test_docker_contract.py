"""The docker action scenarios of tests/docker, run against the real engine and the simulator alike.

Each test runs once per ``backend`` (``[real]`` and ``[sim]``): the same runbooks through
``session.respond`` (a few through the ``irt`` CLI), the same assertions on outputs, artifacts and
on what the engine says afterwards through the ``docker`` SDK. Where the simulator departs from the
engine, a test here fails: that is the simulator's fidelity, pinned. A few tests also compare the
engine's own error answers (status and message) directly.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pyirt.actions.api import NOT_DONE
from pyirt.actions.docker.control import Update
from pyirt.engine import config as config_mod
from pyirt.engine.session import Options, Result, respond
from tests.docker.test_docker_actions import (
    ALL_LINES,
    AWS_KEY,
    BEARER,
    MB,
    PASSWORD,
    PRIVATE_KEY,
    RUN_SECRET_ENV,
    SECRETS,
    STDERR_LINES,
    STDERR_LINES_REDACTED,
    STDOUT_LINES,
    Crash,
    KnownLogs,
    artifact,
    context,
    epoch,
    logs_step,
    output,
    rfc3339,
    runbook,
)
from tests.helpers import irt
from tests.sim.docker_backends import Backend, unique


def config(backend: Backend) -> config_mod.Config:
    return config_mod.Config(raw={"providers": {"docker": {"host": backend.host, "timeout": 30}}})


def run(folder: Path, backend: Backend, steps: list[dict[str, Any]]) -> Result:
    options = Options(sync=False, yes=True, interactive=False, incident_dir=str(folder / "incidents"))
    return respond(runbook(folder, steps), {}, config(backend), options)


def attrs(backend: Backend, name: str) -> dict[str, Any]:
    return dict(backend.client.containers.get(name).attrs)


def limits(backend: Backend, name: str) -> tuple[int, int]:
    host = attrs(backend, name)["HostConfig"]
    return host["Memory"], host["MemorySwap"]


def failing_step() -> dict[str, Any]:
    return {"id": "boom", "action": "docker.inspect", "on_failure": "rollback",
            "with": {"container": unique("irt-test-missing")}}


# -- logs -------------------------------------------------------------------------------------------
def known_groups(run_secret: str) -> list[tuple[str, list[str]]]:
    """The same log as tests/docker's SCRIPT: an early line, 1.5 s, 45 stdout lines with secrets
    and an error, stderr warnings with a private key and a fatal line, then 10 tail lines."""
    return [
        ("stdout", ["start line"]),
        ("stdout", [*(f"hello {i}" for i in range(1, 41)), f"Authorization: Bearer {BEARER}",
                    f"login user=alice password={PASSWORD} ok", f"key id {AWS_KEY} used",
                    f"run value {run_secret} leaked", "ERROR disk almost full"]),
        ("stderr", ["warn 1", "warn 2", "warn 3", *PRIVATE_KEY.splitlines(), "FATAL engine stalled"]),
        ("stdout", [f"tail {i}" for i in range(1, 11)]),
    ]


@pytest.fixture(scope="module")
def known(backend: Backend) -> KnownLogs:
    secret = f"zq7-runval-{uuid.uuid4().hex[:12]}"
    return KnownLogs(backend.run(known_groups(secret), first_pause=1.5), secret)


def test_logs_keep_stdout_and_stderr_apart_with_counts_errors_and_timestamps(
        workdir: Path, backend: Backend, known: KnownLogs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUN_SECRET_ENV, known.run_secret)
    result = run(workdir, backend, [
        {"id": "announce", "action": "notify.console",
         "with": {"text": f"collecting with {{{{ secret('env:{RUN_SECRET_ENV}') }}}}"}},
        logs_step("logs", known.name),
    ])
    assert result.outcome == "succeeded"
    out = output(result, "logs")
    stdout, stderr = Path(out["path"]).read_text(), Path(out["stderr_path"]).read_text()
    assert out["stdout"]["lines"] == STDOUT_LINES == len(stdout.splitlines())
    assert out["stderr"]["lines"] == STDERR_LINES_REDACTED == len(stderr.splitlines())
    assert out["lines"] == ALL_LINES
    assert out["bytes"] == len(stdout.encode()) + len(stderr.encode())
    assert "hello 40" in stdout and "warn" not in stdout and "FATAL" not in stdout
    assert "warn 1" in stderr and "hello" not in stderr
    assert out["error_lines"] == 2 and out["stdout"]["error_lines"] == 1 and out["stderr"]["error_lines"] == 1
    assert out["excerpt"][0].endswith("ERROR disk almost full")
    assert out["excerpt"][1].endswith("FATAL engine stalled")
    assert out["first_timestamp"] == known.first
    assert out["last_timestamp"] == known.last
    for value in (BEARER, PASSWORD, AWS_KEY, known.run_secret, "MIIEowIBAAKCAQEA"):
        assert value not in stdout + stderr
    assert "Authorization: Bearer ***" in stdout and "run value *** leaked" in stdout
    assert out["redactions"] == SECRETS


def test_logs_without_redaction_are_exactly_what_the_engine_has(workdir: Path, backend: Backend,
                                                                 known: KnownLogs) -> None:
    result = run(workdir, backend, [logs_step("raw", known.name, redact=False)])
    out = output(result, "raw")
    text = Path(out["path"]).read_text() + Path(out["stderr_path"]).read_text()
    for value in (BEARER, PASSWORD, AWS_KEY, known.run_secret, *PRIVATE_KEY.splitlines()):
        assert value in text
    assert out["lines"] == len(known.lines) == STDOUT_LINES + STDERR_LINES
    assert sorted(text.splitlines()) == sorted(known.lines)  # the SDK's demultiplexed read agrees


def test_logs_tail_and_gzip(workdir: Path, backend: Backend, known: KnownLogs) -> None:
    result = run(workdir, backend, [logs_step("tail", known.name, tail=5), logs_step("plain", known.name),
                                    logs_step("zipped", known.name, compress=True)])
    tail = output(result, "tail")
    assert [line.split(" ", 1)[1] for line in Path(tail["path"]).read_text().splitlines()] == \
        [f"tail {i}" for i in range(6, 11)]
    assert tail["stderr"]["lines"] == 0 and tail["first_timestamp"] == known.stamps[-5]
    plain, zipped = output(result, "plain"), output(result, "zipped")
    assert gzip.decompress(Path(zipped["path"]).read_bytes()) == Path(plain["path"]).read_bytes()
    assert zipped["lines"] == plain["lines"] == ALL_LINES


def test_logs_since_and_until_in_every_form(workdir: Path, backend: Backend, known: KnownLogs) -> None:
    middle = known.middle
    cases = {
        "since-rfc3339": ({"since": rfc3339(middle)}, ALL_LINES - 1),
        "until-rfc3339": ({"until": rfc3339(middle)}, 1),
        "since-epoch": ({"since": middle}, ALL_LINES - 1),
        "until-epoch-int": ({"until": int(epoch(known.first)) - 1}, 0),
        "since-relative": ({"since": "2h"}, ALL_LINES),
        "until-relative": ({"until": "1h"}, 0),
        "window": ({"since": rfc3339(middle), "until": rfc3339(epoch(known.last) + 0.001)}, ALL_LINES - 1),
    }
    result = run(workdir, backend, [logs_step(step, known.name, **params) for step, (params, _) in cases.items()])
    for step, (_, lines) in cases.items():
        assert output(result, step)["lines"] == lines, step
    assert output(result, "since-rfc3339")["first_timestamp"] == known.second
    assert output(result, "until-rfc3339")["last_timestamp"] == known.first


def test_tail_counts_both_streams_before_picking_one(backend: Backend) -> None:
    pairs = [[("stdout", [f"out{i}"]), ("stderr", [f"err{i}"])] for i in range(1, 5)]
    container = backend.run([group for pair in pairs for group in pair], first_pause=0.05)
    assert container.logs(stdout=True, stderr=False, tail=3) == b"out4\n"
    assert container.logs(stdout=True, stderr=True, tail=3) == b"err3\nout4\nerr4\n"
    assert container.logs(stdout=False, stderr=True, tail=2) == b"err4\n"


def test_logs_of_many_containers_by_list_and_by_selector(workdir: Path, backend: Backend) -> None:
    label = uuid.uuid4().hex[:8]
    names = []
    for i in range(4):
        name = unique(f"irt-test-g{i}")
        backend.run([("stdout", [f"I am {name}", *(f"line {n}" for n in range(1, 6 + i))]),
                     ("stderr", [f"ERROR {i}"])], name=name, labels={"irt-test.group": label})
        names.append(name)
    result = run(workdir, backend, [
        {"id": "listed", "action": "docker.logs", "with": {"containers": names}},
        {"id": "by-map", "action": "docker.logs", "with": {"selector": {"irt-test.group": label}}},
        {"id": "by-text", "action": "docker.logs", "with": {"selector": f"irt-test=1,irt-test.group={label}"}},
    ])
    assert result.outcome == "succeeded"
    for step in ("listed", "by-map", "by-text"):
        out = output(result, step)
        assert sorted(out["containers"]) == sorted(names), step
        for i, name in enumerate(names):
            assert out["containers"][name]["stdout"]["lines"] == 1 + 5 + i
            assert out["containers"][name]["error_lines"] == 1
            assert artifact(result, step, f"{name}.stderr.log").read_text().endswith(f"ERROR {i}\n")


def test_one_missing_container_in_a_list_fails_alone(workdir: Path, backend: Backend) -> None:
    present = [backend.run([("stdout", ["hello"])]).name for _ in range(2)]
    missing = unique("irt-test-missing")
    listed = [present[0], missing, present[1]]
    result = run(workdir, backend, [
        {"id": "logs", "action": "docker.logs", "on_failure": "continue", "with": {"containers": listed}},
        {"id": "stats", "action": "docker.stats", "on_failure": "continue", "with": {"containers": listed}},
    ])
    assert result.outcome == "completed_with_errors"
    error = result.state.step("logs").error
    assert missing in error and "1 container" in error and present[0] not in error
    assert f"No such container: {missing}" in error
    for name in present:
        assert artifact(result, "logs", f"{name}.log").read_text().endswith(" hello\n")
    assert missing in result.state.step("stats").error


# -- stats ------------------------------------------------------------------------------------------
def test_stats_of_a_limited_container_and_a_threshold_that_triggers_a_step(workdir: Path, backend: Backend) -> None:
    name = backend.run(mem_limit="64m").name
    result = run(workdir, backend, [
        {"id": "stats", "action": "docker.stats", "with": {"container": name, "threshold": {"memory_percent": 0.0001}}},
        {"id": "react", "action": "notify.console", "when": "{{ steps['stats'].output.over_threshold }}",
         "with": {"text": "memory at {{ steps['stats'].output.memory_percent }}%"}},
        {"id": "calm", "action": "docker.stats", "with": {"container": name, "threshold": {"memory_percent": 100}}},
    ])
    out = output(result, "stats")
    assert out["memory_limit"] == 64 * MB
    assert 0 < out["memory_usage"] < 64 * MB
    assert out["memory_percent"] == pytest.approx(out["memory_usage"] / (64 * MB) * 100, abs=0.01)
    assert out["pids"] >= 1
    assert out["over_threshold"] is True and out["over_threshold_containers"] == [name]
    assert result.state.step("react").status == "succeeded"
    assert output(result, "calm")["over_threshold"] is False
    saved = json.loads(Path(out["path"]).read_text())
    assert saved["raw"]["memory_stats"]["limit"] == 64 * MB
    assert set(saved["raw"]) >= {"read", "preread", "pids_stats", "cpu_stats", "precpu_stats", "memory_stats"}


# -- update -----------------------------------------------------------------------------------------
def test_update_raises_memory_and_rollback_restores_the_exact_old_limits(workdir: Path, backend: Backend) -> None:
    name = backend.run(mem_limit="64m", memswap_limit="96m").name
    assert limits(backend, name) == (64 * MB, 96 * MB)
    result = run(workdir, backend, [
        {"id": "raise", "action": "docker.update", "with": {"container": name, "memory": "128m"}},
        {"id": "look", "action": "docker.inspect", "with": {"container": name}},
        failing_step(),
    ])
    assert result.outcome == "rolled_back"
    raised = output(result, "raise")
    assert raised["previous"]["memory"] == 64 * MB and raised["previous"]["memory_swap"] == 96 * MB
    assert (raised["current"]["memory"], raised["current"]["memory_swap"]) == (128 * MB, 160 * MB)
    seen = json.loads(Path(output(result, "look")["path"]).read_text())["container"]["HostConfig"]
    assert (seen["Memory"], seen["MemorySwap"]) == (128 * MB, 160 * MB)
    assert result.state.step("raise").undo == "succeeded"
    assert limits(backend, name) == (64 * MB, 96 * MB)


def test_update_cpus_and_pids_limit_and_lift_a_pids_limit_on_rollback(workdir: Path, backend: Backend) -> None:
    name = backend.run(mem_limit="64m", memswap_limit="64m").name
    assert not attrs(backend, name)["HostConfig"].get("PidsLimit")
    result = run(workdir, backend, [
        {"id": "limit", "action": "docker.update", "with": {"container": name, "cpus": 0.5, "pids_limit": 50}},
        failing_step(),
    ])
    assert result.outcome == "rolled_back"
    assert sorted(output(result, "limit")["changed"]) == ["NanoCpus", "PidsLimit"]
    host = attrs(backend, name)["HostConfig"]
    assert not host.get("PidsLimit")
    assert host["NanoCpus"] == 500_000_000  # no cpus before: the undo cannot put "none" back, as documented
    assert (host["Memory"], host["MemorySwap"]) == (64 * MB, 64 * MB)


def test_update_refuses_a_memory_the_engine_would_refuse(workdir: Path, backend: Backend) -> None:
    name = backend.run(mem_limit="64m").name
    result = run(workdir, backend, [{"id": "tiny", "action": "docker.update", "with": {"container": name,
                                                                                      "memory": "1m"}}])
    assert "6m" in result.state.step("tiny").error
    assert limits(backend, name)[0] == 64 * MB


# -- isolate and restart ----------------------------------------------------------------------------
def test_isolate_by_pause_and_rollback_unpauses(workdir: Path, backend: Backend) -> None:
    name = backend.run().name
    result = run(workdir, backend, [
        {"id": "freeze", "action": "docker.isolate", "with": {"container": name, "mode": "pause"}},
        {"id": "look", "action": "docker.inspect", "with": {"container": name}},
        failing_step(),
    ])
    assert result.outcome == "rolled_back"
    assert output(result, "look")["state"] == "paused"
    state = attrs(backend, name)["State"]
    assert (state["Paused"], state["Running"], state["Status"]) == (False, True, "running")


def test_isolate_by_disconnect_and_rollback_reconnects_with_the_alias(workdir: Path, backend: Backend) -> None:
    network = backend.network()
    name = backend.run(network=network, aliases=["web-alias"]).name
    assert "web-alias" in attrs(backend, name)["NetworkSettings"]["Networks"][network]["Aliases"]
    result = run(workdir, backend, [
        {"id": "cut", "action": "docker.isolate", "with": {"container": name}},
        {"id": "look", "action": "docker.inspect", "with": {"container": name}},
        failing_step(),
    ])
    assert result.outcome == "rolled_back"
    assert output(result, "cut")["networks"] == {network: ["web-alias"]}
    assert not json.loads(Path(output(result, "look")["path"]).read_text())["container"]["NetworkSettings"]["Networks"]
    networks = attrs(backend, name)["NetworkSettings"]["Networks"]
    assert list(networks) == [network] and "web-alias" in networks[network]["Aliases"]


def test_restart_changes_started_at(workdir: Path, backend: Backend) -> None:
    name = backend.run().name
    before = attrs(backend, name)["State"]["StartedAt"]
    result = run(workdir, backend, [{"id": "bounce", "action": "docker.restart",
                                     "with": {"container": name, "grace": "5s"}}])
    out = output(result, "bounce")
    state = attrs(backend, name)["State"]
    assert state["Running"] is True and state["StartedAt"] != before
    assert out["started_at"] == state["StartedAt"] and out["state"] == "running"


# -- reconcile after a crash --------------------------------------------------------------------------
def test_update_reconcile_finds_a_change_that_landed_and_one_that_did_not(workdir: Path, backend: Backend) -> None:
    name = backend.run(mem_limit="64m", memswap_limit="96m").name
    params = {"container": name, "memory": "128m"}
    cfg = dict(config(backend).raw)
    journaled: list[dict[str, Any]] = []
    with pytest.raises(Crash):
        Update().run(dict(params), with_config(context(workdir, crash=True, journaled=journaled), cfg))
    assert limits(backend, name)[0] == 64 * MB
    assert Update().reconcile(dict(params), with_config(context(workdir, checkpointed=journaled[0]), cfg)) is NOT_DONE
    out = Update().run(dict(params), with_config(context(workdir, checkpointed=journaled[0]), cfg))
    found = Update().reconcile(dict(params), with_config(context(workdir, checkpointed=journaled[0]), cfg))
    assert found == out and found["current"]["memory"] == 128 * MB and found["previous"]["memory"] == 64 * MB


def with_config(ctx: Any, cfg: dict[str, Any]) -> Any:
    ctx.config = cfg
    return ctx


# -- through the CLI ----------------------------------------------------------------------------------
def test_missing_container_and_logs_through_the_cli(workdir: Path, backend: Backend, known: KnownLogs) -> None:
    (workdir / "irt.yaml").write_text(f"providers:\n  docker: {{host: '{backend.host}', timeout: 10}}\n")
    missing = unique("irt-test-missing")
    book = runbook(workdir, [{"id": "sample", "action": "docker.stats", "with": {"container": missing}}])
    ran = irt("respond", str(book), "--yes", "--config", "irt.yaml", "--incident-dir", "incidents", cwd=workdir)
    assert ran.returncode == 1, ran
    line = ran.stderr.strip().splitlines()[-1]
    assert "sample" in line and "docker.stats" in line and f"No such container: {missing}" in line, ran.stderr
    book = runbook(workdir, [logs_step("logs", known.name, tail=20, compress=True)])
    ran = irt("respond", str(book), "--yes", "--json", "--config", "irt.yaml", "--incident-dir", "incidents",
              cwd=workdir)
    assert ran.returncode == 0, ran
    folder = Path(json.loads(ran.stdout.strip().splitlines()[-1])["folder"])
    log = gzip.decompress((folder / "artifacts" / "logs" / f"{known.name}.log.gz").read_bytes()).decode()
    assert log.splitlines()[-1].endswith(" tail 10") and AWS_KEY not in log


# -- the engine's own answers -------------------------------------------------------------------------
def _answer(call: Any) -> tuple[int, str]:
    import docker

    try:
        call()
    except docker.errors.APIError as exc:
        return int(exc.status_code or 0), str(exc.explanation)
    return 200, ""


def test_errors_have_the_engines_status_and_message(backend: Backend) -> None:
    network = backend.network()
    container = backend.run(network=network, mem_limit="64m", memswap_limit="96m")
    cid, name = container.id, container.name
    api = backend.client.api
    update = api._url("/containers/{0}/update", cid)
    missing = unique("irt-test-missing")

    def limits_call(**body: int) -> Any:
        return lambda: api._result(api._post_json(update, data=body), True)

    answers = {
        "pause": _answer(container.pause),
        "pause again": _answer(container.pause),
        "unpause": _answer(container.unpause),
        "unpause again": _answer(container.unpause),
        "disconnect": _answer(lambda: api.disconnect_container_from_network(cid, network)),
        "disconnect again": _answer(lambda: api.disconnect_container_from_network(cid, network)),
        "connect": _answer(lambda: api.connect_container_to_network(cid, network)),
        "connect again": _answer(lambda: api.connect_container_to_network(cid, network)),
        "connect to nothing": _answer(lambda: api.connect_container_to_network(cid, "irt-no-such-net")),
        "inspect missing": _answer(lambda: api.inspect_container(missing)),
        "stats missing": _answer(lambda: api.stats(missing, stream=False)),
        "memory 1m": _answer(limits_call(Memory=MB)),
        "memory over swap": _answer(limits_call(Memory=512 * MB)),
        "swap under memory": _answer(limits_call(Memory=80 * MB, MemorySwap=70 * MB)),
    }
    assert answers == {
        "pause": (200, ""),
        "pause again": (409, f"Container {cid} is already paused"),
        "unpause": (200, ""),
        "unpause again": (500, f"Container {cid} is not paused"),
        "disconnect": (200, ""),
        "disconnect again": (500, f"container {cid} is not connected to network {network}"),
        "connect": (200, ""),
        "connect again": (403, f"endpoint with name {name} already exists in network {network}"),
        "connect to nothing": (404, "network irt-no-such-net not found"),
        "inspect missing": (404, f"No such container: {missing}"),
        "stats missing": (404, f"No such container: {missing}"),
        "memory 1m": (400, "Minimum memory limit allowed is 6MB"),
        "memory over swap": (409, f"Cannot update container {cid}: Memory limit should be smaller than "  # noqa: S608
                                  "already set memoryswap limit, update the memoryswap at the same time"),
        "swap under memory": (400, "Minimum memoryswap limit should be larger than memory limit, see usage"),
    }
    assert limits(backend, name) == (64 * MB, 96 * MB)  # nothing refused was applied


def test_version_negotiation_ping_and_a_stopped_container(backend: Backend) -> None:
    api = backend.client.api
    assert api.api_version == "1.41"
    assert backend.client.ping() is True
    too_new = api._get(f"{api.base_url}/v1.99/version")
    assert too_new.status_code == 400
    assert too_new.json()["message"] == "client version 1.99 is too new. Maximum supported API version is 1.41"
    unknown = api._get(api._url("/nothing-here"))
    assert (unknown.status_code, unknown.json()) == (404, {"message": "page not found"})
    container = backend.run()
    started = time.monotonic()
    container.stop(timeout=5)
    assert time.monotonic() - started < 5
    container.reload()
    assert container.attrs["State"]["Status"] == "exited"
    sample = container.stats(stream=False, one_shot=True)
    assert sample["read"] == "0001-01-01T00:00:00Z" and sample["memory_stats"] == {}
    assert _answer(container.pause) == (409, f"Container {container.id} is not running")


def test_timestamps_are_rfc3339_nano_and_ordered(backend: Backend, known: KnownLogs) -> None:
    stamps = known.stamps
    assert all(s.endswith("Z") and "T" in s for s in stamps)
    assert [epoch(s) for s in stamps] == sorted(epoch(s) for s in stamps)
    assert epoch(known.second) - epoch(known.first) >= 1.0  # the pause after the first line is kept
    assert all(dt.datetime.fromisoformat(s.split(".")[0]).year >= 2024 for s in stamps)
