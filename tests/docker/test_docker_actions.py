"""The docker actions against the real Docker engine: runbooks through ``session.respond`` (and a few
through the ``irt`` CLI), checked with ``docker inspect`` and the artifacts they leave."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pyirt.actions.api import NOT_DONE, ActionContext
from pyirt.actions.docker import logstream
from pyirt.actions.docker.control import Update
from pyirt.core.secrets import Redactor
from pyirt.engine import config as config_mod
from pyirt.engine.session import Options, Result, respond
from tests.docker.conftest import RunContainer, unique
from tests.helpers import clean_env, irt, journal_events

pytestmark = pytest.mark.usefixtures("docker_client")  # skipped (with the reason) when no engine answers

MB = 1024 * 1024
RUN_SECRET_ENV = "IRT_DOCKER_TEST_RUN_SECRET"


# -- helpers ---------------------------------------------------------------------------------------
def runbook(folder: Path, steps: list[dict[str, Any]], name: str = "docker-test") -> Path:
    """A runbook file (JSON is YAML) with these steps."""
    path = folder / f"{name}-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(json.dumps({"apiVersion": "irt/v1", "kind": "Runbook", "name": name, "steps": steps}),
                    encoding="utf-8")
    return path


def run(folder: Path, steps: list[dict[str, Any]], config: config_mod.Config | None = None) -> Result:
    """``irt respond`` in this process, approving everything, with the journal not fsynced."""
    options = Options(sync=False, yes=True, interactive=False, incident_dir=str(folder / "incidents"))
    return respond(runbook(folder, steps), {}, config or config_mod.Config(), options)


def output(result: Result, step: str) -> dict[str, Any]:
    state = result.state.step(step)
    assert state.status == "succeeded", (step, state.status, state.error)
    return dict(state.output)


def artifact(result: Result, step: str, name: str) -> Path:
    return result.folder / "artifacts" / step / name


def host_config(container: Any) -> dict[str, Any]:
    container.reload()
    return dict(container.attrs["HostConfig"])


def epoch(stamp: str) -> float:
    """Unix seconds of an engine timestamp (RFC 3339 with nanoseconds)."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    whole = dt.datetime.fromisoformat(head).replace(tzinfo=dt.UTC).timestamp()
    return whole + float(f"0.{frac or '0'}")


def rfc3339(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def missing_name() -> str:
    return unique("irt-test-missing")


# -- a container with known logs ---------------------------------------------------------------------
# stdout: 1 early line, then (1.5 s later) 40 lines, 4 secrets, an error line, and 10 tail lines.
# stderr: 3 warnings, a private key block (4 lines) and a fatal line. The pauses between the groups
# keep their order in the log: the engine stamps each stream's lines as it reads them.
PRIVATE_KEY = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx7abcDEFghiJKLmnoPQR\n"
               "ZmFrZSBrZXkgbWF0ZXJpYWwgZm9yIHRlc3Rz\n-----END RSA PRIVATE KEY-----")
BEARER = "eyJhbGciOiJIUzI1NiJ9.dGVzdA.c2lnbmF0dXJl"
PASSWORD = "hunter2hunter2"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
SCRIPT = f"""
echo "start line"
sleep 1.5
for i in $(seq 1 40); do echo "hello $i"; done
echo "Authorization: Bearer {BEARER}"
echo "login user=alice password={PASSWORD} ok"
echo "key id {AWS_KEY} used"
echo "run value $RUN_VALUE leaked"
echo "ERROR disk almost full"
sleep 0.3
for i in 1 2 3; do echo "warn $i" >&2; done
printf '%s\\n' '{PRIVATE_KEY}' >&2
echo "FATAL engine stalled" >&2
sleep 0.3
for i in $(seq 1 10); do echo "tail $i"; done
"""
STDOUT_LINES = 1 + 40 + 5 + 10
STDERR_LINES = 3 + 4 + 1
STDERR_LINES_REDACTED = 3 + 1 + 1  # the key block becomes one line: "<timestamp> ***"
ALL_LINES = STDOUT_LINES + STDERR_LINES_REDACTED
SECRETS = 5


class KnownLogs:
    def __init__(self, container: Any, run_secret: str) -> None:
        self.container = container
        self.name = container.name
        self.run_secret = run_secret
        raw = container.logs(stdout=True, stderr=True, timestamps=True).decode()
        self.lines = raw.splitlines()
        self.stamps = [line.split(" ", 1)[0] for line in self.lines]
        texts = [line.split(" ", 1)[1] for line in self.lines]
        assert texts[0] == "start line" and texts[1] == "hello 1", texts[:2]
        self.first, self.second, self.last = self.stamps[0], self.stamps[1], self.stamps[-1]
        # a moment between the early line and the rest
        self.middle = (epoch(self.first) + epoch(self.second)) / 2


@pytest.fixture(scope="module")
def known_logs(run_session_container: RunContainer) -> KnownLogs:
    run_secret = f"zq7-runval-{uuid.uuid4().hex[:12]}"
    container = run_session_container(["sh", "-c", SCRIPT], wait=True, environment={"RUN_VALUE": run_secret})
    return KnownLogs(container, run_secret)


def logs_step(step_id: str, container: str, **params: Any) -> dict[str, Any]:
    return {"id": step_id, "action": "docker.logs", "with": {"container": container, **params}}


def test_logs_keep_stdout_and_stderr_apart_with_counts_errors_and_timestamps(
        workdir: Path, known_logs: KnownLogs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUN_SECRET_ENV, known_logs.run_secret)
    result = run(workdir, [
        # the run secret is used by an earlier step, so the redactor knows its value
        {"id": "announce", "action": "notify.console",
         "with": {"text": f"collecting with {{{{ secret('env:{RUN_SECRET_ENV}') }}}}"}},
        logs_step("logs", known_logs.name),
    ])
    assert result.outcome == "succeeded"
    out = output(result, "logs")
    stdout = Path(out["path"]).read_text()
    stderr = Path(out["stderr_path"]).read_text()
    assert Path(out["path"]) == artifact(result, "logs", f"{known_logs.name}.log")
    assert Path(out["stderr_path"]) == artifact(result, "logs", f"{known_logs.name}.stderr.log")
    assert out["stdout"]["lines"] == STDOUT_LINES == len(stdout.splitlines())
    assert out["stderr"]["lines"] == STDERR_LINES_REDACTED == len(stderr.splitlines())
    assert out["lines"] == ALL_LINES
    assert out["bytes"] == len(stdout.encode()) + len(stderr.encode())
    assert "hello 40" in stdout and "warn" not in stdout and "FATAL" not in stdout
    assert "warn 1" in stderr and "hello" not in stderr and "ERROR disk" not in stderr
    # error lines: one on each stream, the excerpt quotes both (with their timestamps)
    assert out["error_lines"] == 2
    assert out["stdout"]["error_lines"] == 1 and out["stderr"]["error_lines"] == 1
    assert len(out["excerpt"]) == 2
    assert out["excerpt"][0].endswith("ERROR disk almost full")
    assert out["excerpt"][1].endswith("FATAL engine stalled")
    assert out["first_timestamp"] == known_logs.first
    assert out["last_timestamp"] == known_logs.last
    # every planted secret is scrubbed, the keys stay readable, and the count says how many
    for value in (BEARER, PASSWORD, AWS_KEY, known_logs.run_secret, "MIIEowIBAAKCAQEA", "ZmFrZSBrZXkg"):
        assert value not in stdout + stderr
    assert "Authorization: Bearer ***" in stdout
    assert "password=*** ok" in stdout
    assert "run value *** leaked" in stdout
    assert "PRIVATE KEY" not in stderr and "***" in stderr
    assert out["redactions"] == SECRETS
    # and no journal event holds one either
    journal = (result.folder / "journal.jsonl").read_text()
    assert known_logs.run_secret not in journal


def test_logs_without_redaction_keep_the_text(workdir: Path, known_logs: KnownLogs,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUN_SECRET_ENV, known_logs.run_secret)
    result = run(workdir, [
        {"id": "announce", "action": "notify.console", "with": {"text": f"{{{{ secret('env:{RUN_SECRET_ENV}') }}}}"}},
        logs_step("raw", known_logs.name, redact=False),
    ])
    out = output(result, "raw")
    text = Path(out["path"]).read_text() + Path(out["stderr_path"]).read_text()
    assert out["redactions"] == 0
    for value in (BEARER, PASSWORD, AWS_KEY, known_logs.run_secret, *PRIVATE_KEY.splitlines()):
        assert value in text
    # the raw artifact is exactly what the engine has
    assert out["lines"] == len(known_logs.lines) == STDOUT_LINES + STDERR_LINES
    assert out["stderr"]["lines"] == STDERR_LINES


def test_logs_tail_and_gzip(workdir: Path, known_logs: KnownLogs) -> None:
    result = run(workdir, [
        logs_step("tail", known_logs.name, tail=5),
        logs_step("plain", known_logs.name),
        logs_step("zipped", known_logs.name, compress=True),
    ])
    tail = output(result, "tail")
    lines = Path(tail["path"]).read_text().splitlines()
    assert tail["lines"] == 5
    assert [line.split(" ", 1)[1] for line in lines] == [f"tail {i}" for i in range(6, 11)]
    assert tail["stderr"]["lines"] == 0
    assert tail["first_timestamp"] == known_logs.stamps[-5]

    plain, zipped = output(result, "plain"), output(result, "zipped")
    assert zipped["path"].endswith(".log.gz") and zipped["stderr_path"].endswith(".stderr.log.gz")
    assert gzip.decompress(Path(zipped["path"]).read_bytes()) == Path(plain["path"]).read_bytes()
    assert gzip.decompress(Path(zipped["stderr_path"]).read_bytes()) == Path(plain["stderr_path"]).read_bytes()
    assert zipped["lines"] == plain["lines"] == ALL_LINES
    assert zipped["redactions"] == plain["redactions"] == SECRETS - 1  # the run secret is unknown here
    assert zipped["bytes"] == plain["bytes"]  # counted before compression


def test_logs_since_and_until_in_every_form(workdir: Path, known_logs: KnownLogs) -> None:
    middle = known_logs.middle
    everything = ALL_LINES
    cases = {
        "since-rfc3339": ({"since": rfc3339(middle)}, everything - 1),
        "until-rfc3339": ({"until": rfc3339(middle)}, 1),
        "since-offset": ({"since": dt.datetime.fromtimestamp(middle, dt.UTC).astimezone(
            dt.timezone(dt.timedelta(hours=2))).isoformat()}, everything - 1),
        "since-epoch": ({"since": middle}, everything - 1),
        "since-epoch-text": ({"since": f"{middle:.3f}"}, everything - 1),
        "until-epoch-int": ({"until": int(epoch(known_logs.first)) - 1}, 0),
        "since-relative": ({"since": "2h"}, everything),
        "until-relative": ({"until": "1h"}, 0),
        "since-date": ({"since": "2000-01-01"}, everything),
        "window": ({"since": rfc3339(middle), "until": rfc3339(epoch(known_logs.last) + 0.001)}, everything - 1),
    }
    result = run(workdir, [logs_step(step, known_logs.name, **params) for step, (params, _) in cases.items()])
    assert result.outcome == "succeeded"
    for step, (_, lines) in cases.items():
        out = output(result, step)
        assert out["lines"] == lines, (step, out)
    assert output(result, "since-rfc3339")["first_timestamp"] == known_logs.second
    assert output(result, "until-rfc3339")["last_timestamp"] == known_logs.first
    assert output(result, "until-relative")["first_timestamp"] is None


def test_logs_reject_a_time_they_cannot_read(workdir: Path, known_logs: KnownLogs) -> None:
    result = run(workdir, [logs_step("bad", known_logs.name, since="the day before yesterday-ish")])
    state = result.state.step("bad")
    assert state.status == "failed"
    assert "not a time" in state.error


# -- many containers --------------------------------------------------------------------------------
@pytest.fixture
def group(run_container: RunContainer) -> tuple[str, list[str]]:
    """Four exited containers sharing a label, each with its own log lines."""
    label = uuid.uuid4().hex[:8]
    names = []
    for i in range(4):
        name = unique(f"irt-test-g{i}")
        script = f'echo "I am {name}"; for i in $(seq 1 {5 + i}); do echo "line $i"; done; echo "ERROR {i}" >&2'
        run_container(["sh", "-c", script], name=name, labels={"irt-test.group": label}, wait=True)
        names.append(name)
    return label, names


def test_logs_of_many_containers_by_list_and_by_selector(workdir: Path, group: tuple[str, list[str]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    label, names = group
    # every log stream opened holds on a moment, to see how many are open at once
    real_open = logstream.open_stream
    lock, open_now, most = threading.Lock(), [0], [0]

    def slow_open(*args: Any, **kwargs: Any) -> Any:
        with lock:
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])
        try:
            time.sleep(0.2)
            return real_open(*args, **kwargs)
        finally:
            with lock:
                open_now[0] -= 1

    monkeypatch.setattr(logstream, "open_stream", slow_open)
    result = run(workdir, [
        {"id": "listed", "action": "docker.logs", "with": {"containers": names}},
        {"id": "by-map", "action": "docker.logs", "with": {"selector": {"irt-test.group": label}}},
        {"id": "by-text", "action": "docker.logs", "with": {"selector": f"irt-test=1,irt-test.group={label}"}},
    ])
    assert result.outcome == "succeeded"
    for step in ("listed", "by-map", "by-text"):
        out = output(result, step)
        assert sorted(out["containers"]) == sorted(names), step
        for i, name in enumerate(names):
            one = out["containers"][name]
            assert one["stdout"]["lines"] == 1 + 5 + i
            assert one["stderr"]["lines"] == 1 and one["error_lines"] == 1
            text = artifact(result, step, f"{name}.log").read_text()
            assert f"I am {name}" in text
            assert artifact(result, step, f"{name}.stderr.log").read_text().endswith(f"ERROR {i}\n")
    assert most[0] == len(names)  # all four at once, in parallel


def test_one_missing_container_in_a_list_fails_alone(workdir: Path, group: tuple[str, list[str]]) -> None:
    _, names = group
    missing = missing_name()
    listed = [names[0], missing, names[1]]
    result = run(workdir, [
        {"id": "logs", "action": "docker.logs", "on_failure": "continue", "with": {"containers": listed}},
        {"id": "stats", "action": "docker.stats", "on_failure": "continue", "with": {"containers": listed}},
    ])
    assert result.outcome == "completed_with_errors"
    logs = result.state.step("logs")
    assert logs.status == "failed"
    assert missing in logs.error and "1 container" in logs.error
    assert names[0] not in logs.error and names[1] not in logs.error
    for name in (names[0], names[1]):
        assert artifact(result, "logs", f"{name}.log").read_text().startswith(
            f"{known_ts_prefix(artifact(result, 'logs', f'{name}.log'))}I am {name}")
        assert artifact(result, "logs", f"{name}.stderr.log").is_file()
    assert not list((result.folder / "artifacts" / "logs").glob(f"{missing}*"))
    assert missing in result.state.step("stats").error


def known_ts_prefix(path: Path) -> str:
    first = path.read_text().split(" ", 1)[0]
    return f"{first} "


# -- stats ------------------------------------------------------------------------------------------
def test_stats_of_a_limited_container_and_a_threshold_that_triggers_a_step(
        workdir: Path, run_container: RunContainer) -> None:
    container = run_container(mem_limit="64m")
    result = run(workdir, [
        {"id": "stats", "action": "docker.stats",
         "with": {"container": container.name, "threshold": {"memory_percent": 0.0001}}},
        {"id": "react", "action": "notify.console", "when": "{{ steps['stats'].output.over_threshold }}",
         "with": {"text": "memory at {{ steps['stats'].output.memory_percent }}%"}},
        {"id": "calm", "action": "docker.stats",
         "with": {"container": container.name, "threshold": {"memory_percent": 100}}},
        {"id": "no-react", "action": "notify.console", "when": "{{ steps['calm'].output.over_threshold }}",
         "with": {"text": "should not run"}},
    ])
    assert result.outcome == "succeeded"
    out = output(result, "stats")
    assert out["memory_limit"] == 64 * MB
    assert 0 < out["memory_usage"] < 64 * MB
    assert 0 < out["memory_percent"] < 100
    assert out["memory_percent"] == pytest.approx(out["memory_usage"] / (64 * MB) * 100, abs=0.01)
    assert out["pids"] >= 1
    assert out["over_threshold"] is True and out["over_threshold_containers"] == [container.name]
    assert result.state.step("react").status == "succeeded"
    assert output(result, "calm")["over_threshold"] is False
    assert result.state.step("no-react").status == "skipped"
    saved = json.loads(Path(out["path"]).read_text())
    assert Path(out["path"]) == artifact(result, "stats", f"{container.name}.stats.json")
    assert saved["summary"]["memory_limit"] == 64 * MB
    assert saved["raw"]["memory_stats"]["limit"] == 64 * MB


# -- update -----------------------------------------------------------------------------------------
def failing_step(on_failure: str = "rollback") -> dict[str, Any]:
    """A step that fails for sure (it inspects a container that does not exist)."""
    return {"id": "boom", "action": "docker.inspect", "on_failure": on_failure,
            "with": {"container": missing_name()}}


def test_update_raises_memory_and_rollback_restores_the_exact_old_limits(
        workdir: Path, run_container: RunContainer) -> None:
    container = run_container(mem_limit="64m", memswap_limit="96m")
    before = host_config(container)
    assert (before["Memory"], before["MemorySwap"]) == (64 * MB, 96 * MB)
    result = run(workdir, [
        {"id": "raise", "action": "docker.update", "with": {"container": container.name, "memory": "128m"}},
        {"id": "look", "action": "docker.inspect", "with": {"container": container.name}},
        failing_step(),
    ])
    assert result.outcome == "rolled_back"
    raised = output(result, "raise")
    assert raised["previous"]["memory"] == 64 * MB and raised["previous"]["memory_swap"] == 96 * MB
    assert raised["current"]["memory"] == 128 * MB
    assert raised["current"]["memory_swap"] == 160 * MB  # raised with memory, keeping 32m of swap
    assert sorted(raised["changed"]) == ["Memory", "MemorySwap"]
    # what the engine said between the raise and the rollback
    seen = json.loads(Path(output(result, "look")["path"]).read_text())["container"]["HostConfig"]
    assert (seen["Memory"], seen["MemorySwap"]) == (128 * MB, 160 * MB)
    # the default undo put the exact old limits back
    assert result.state.step("raise").undo == "succeeded"
    after = host_config(container)
    assert (after["Memory"], after["MemorySwap"]) == (64 * MB, 96 * MB)
    events = journal_events(result.folder)
    checkpoint = [e for e in events if e["type"] == "step.checkpoint" and e.get("step") == "raise"]
    assert checkpoint and checkpoint[0]["data"]["previous"]["memory"] == 64 * MB


def test_update_cpus_and_pids_limit(workdir: Path, run_container: RunContainer) -> None:
    container = run_container(mem_limit="64m", memswap_limit="64m")
    result = run(workdir, [
        {"id": "limit", "action": "docker.update",
         "with": {"container": container.name, "cpus": 0.5, "pids_limit": 50}},
    ])
    out = output(result, "limit")
    assert sorted(out["changed"]) == ["NanoCpus", "PidsLimit"]
    after = host_config(container)
    assert after["NanoCpus"] == 500_000_000
    assert after["PidsLimit"] == 50
    assert (after["Memory"], after["MemorySwap"]) == (64 * MB, 64 * MB)  # untouched
    result = run(workdir, [
        {"id": "more", "action": "docker.update",
         "with": {"container": container.name, "cpus": 1.5, "pids_limit": 200, "memory": "96m"}},
        failing_step(),
    ])
    assert result.outcome == "rolled_back"
    assert output(result, "more")["current"]["memory_swap"] == 96 * MB  # no swap before, none after
    back = host_config(container)
    assert (back["NanoCpus"], back["PidsLimit"]) == (500_000_000, 50)
    assert (back["Memory"], back["MemorySwap"]) == (64 * MB, 64 * MB)


def test_rollback_lifts_a_pids_limit_the_container_did_not_have(workdir: Path, run_container: RunContainer) -> None:
    container = run_container(mem_limit="64m", memswap_limit="64m")
    assert not host_config(container).get("PidsLimit")  # no limit (null or 0)
    result = run(workdir, [
        {"id": "limit", "action": "docker.update", "with": {"container": container.name, "pids_limit": 50}},
        failing_step(),
    ])
    assert result.outcome == "rolled_back"
    assert output(result, "limit")["current"]["pids_limit"] == 50
    assert result.state.step("limit").undo == "succeeded"
    assert not host_config(container).get("PidsLimit")


def test_update_refuses_a_memory_the_engine_would_refuse(workdir: Path, run_container: RunContainer) -> None:
    container = run_container(mem_limit="64m")
    result = run(workdir, [{"id": "tiny", "action": "docker.update",
                            "with": {"container": container.name, "memory": "1m"}}])
    assert result.state.step("tiny").status == "failed"
    assert "6m" in result.state.step("tiny").error
    assert host_config(container)["Memory"] == 64 * MB


# -- isolate and restart ----------------------------------------------------------------------------
def test_isolate_by_pause_and_rollback_unpauses(workdir: Path, run_container: RunContainer) -> None:
    container = run_container()
    result = run(workdir, [
        {"id": "freeze", "action": "docker.isolate", "with": {"container": container.name, "mode": "pause"}},
        {"id": "look", "action": "docker.inspect", "with": {"container": container.name}},
        failing_step(),
    ])
    assert result.outcome == "rolled_back"
    assert output(result, "freeze")["mode"] == "pause"
    assert output(result, "look")["state"] == "paused"
    assert result.state.step("freeze").undo == "succeeded"
    container.reload()
    assert container.attrs["State"]["Paused"] is False
    assert container.attrs["State"]["Running"] is True


def test_isolate_by_disconnect_and_rollback_reconnects_with_the_alias(
        workdir: Path, run_container: RunContainer, internal_network: str) -> None:
    container = run_container(network=internal_network, aliases=["web-alias"])
    attached = container.attrs["NetworkSettings"]["Networks"]
    assert "web-alias" in attached[internal_network]["Aliases"]
    result = run(workdir, [
        {"id": "cut", "action": "docker.isolate", "with": {"container": container.name}},
        {"id": "look", "action": "docker.inspect", "with": {"container": container.name}},
        failing_step(),
    ])
    assert result.outcome == "rolled_back"
    assert output(result, "cut")["networks"] == {internal_network: ["web-alias"]}
    seen = json.loads(Path(output(result, "look")["path"]).read_text())["container"]
    assert not seen["NetworkSettings"]["Networks"]  # cut off from every network
    assert result.state.step("cut").undo == "succeeded"
    container.reload()
    networks = container.attrs["NetworkSettings"]["Networks"]
    assert list(networks) == [internal_network]
    assert "web-alias" in networks[internal_network]["Aliases"]


def test_isolate_without_rollback_leaves_it_disconnected(
        workdir: Path, run_container: RunContainer, internal_network: str) -> None:
    container = run_container(network=internal_network, aliases=["svc"])
    result = run(workdir, [{"id": "cut", "action": "docker.isolate", "with": {"container": container.name}}])
    assert result.outcome == "succeeded"
    container.reload()
    assert not container.attrs["NetworkSettings"]["Networks"]


def test_restart_changes_started_at(workdir: Path, run_container: RunContainer) -> None:
    container = run_container()
    before = container.attrs["State"]["StartedAt"]
    result = run(workdir, [{"id": "bounce", "action": "docker.restart",
                            "with": {"container": container.name, "grace": "5s"}}])
    out = output(result, "bounce")
    container.reload()
    assert container.attrs["State"]["Running"] is True
    assert container.attrs["State"]["StartedAt"] != before
    assert out["started_at"] == container.attrs["State"]["StartedAt"]
    assert out["state"] == "running"


# -- failures through the CLI -----------------------------------------------------------------------
def test_missing_container_is_one_line_naming_step_action_and_container(workdir: Path) -> None:
    missing = missing_name()
    book = runbook(workdir, [{"id": "sample", "action": "docker.stats", "with": {"container": missing}}])
    ran = irt("respond", str(book), "--yes", "--incident-dir", str(workdir / "incidents"), cwd=workdir)
    assert ran.returncode == 1, ran
    line = ran.stderr.strip().splitlines()[-1]
    assert "sample" in line and "docker.stats" in line and missing in line, ran.stderr
    assert "Traceback" not in ran.stderr


def test_logs_end_to_end_through_the_cli(workdir: Path, known_logs: KnownLogs) -> None:
    book = runbook(workdir, [logs_step("logs", known_logs.name, tail=20, compress=True)])
    ran = irt("respond", str(book), "--yes", "--json", "--incident-dir", str(workdir / "incidents"), cwd=workdir)
    assert ran.returncode == 0, ran
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "succeeded"
    folder = Path(result["folder"])
    log = gzip.decompress((folder / "artifacts" / "logs" / f"{known_logs.name}.log.gz").read_bytes()).decode()
    assert log.splitlines()[-1].endswith(" tail 10")
    assert AWS_KEY not in log


def nowhere(tmp: Path) -> str:
    return f"unix://{tmp}/irt-no-engine-{uuid.uuid4().hex[:6]}.sock"


def test_stopped_engine_is_a_clear_quick_error(workdir: Path) -> None:
    sock = nowhere(Path("/tmp"))
    book = runbook(workdir, [{"id": "logs", "action": "docker.logs", "with": {"container": "anything"}}])
    started = time.monotonic()
    ran = irt("respond", str(book), "--yes", "--incident-dir", str(workdir / "incidents"), cwd=workdir,
              env=clean_env(DOCKER_HOST=sock))
    took = time.monotonic() - started
    assert ran.returncode == 1, ran
    line = ran.stderr.strip().splitlines()[-1]
    assert "cannot reach docker engine" in line and sock in line, ran.stderr
    assert "logs" in line and "docker.logs" in line
    assert took < 10


def test_stopped_engine_named_in_the_config(workdir: Path) -> None:
    sock = nowhere(Path("/tmp"))
    (workdir / "irt.yaml").write_text(f"providers:\n  docker: {{host: '{sock}', timeout: 5}}\n")
    book = runbook(workdir, [{"id": "bump", "action": "docker.update", "with": {"container": "x", "memory": "1g"}}])
    started = time.monotonic()
    ran = irt("respond", str(book), "--yes", "--config", str(workdir / "irt.yaml"),
              "--incident-dir", str(workdir / "incidents"), cwd=workdir)
    assert ran.returncode == 1, ran
    assert "cannot reach docker engine" in ran.stderr and sock in ran.stderr, ran.stderr
    assert time.monotonic() - started < 10


def test_stopped_engine_in_process(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock = nowhere(Path("/tmp"))
    monkeypatch.setenv("DOCKER_HOST", sock)
    started = time.monotonic()
    result = run(workdir, [{"id": "stats", "action": "docker.stats", "with": {"container": "x"}}])
    assert time.monotonic() - started < 10
    error = result.state.step("stats").error
    assert result.outcome == "failed"
    assert "cannot reach docker engine" in error and sock in error


# -- in doubt after a crash: docker.update's reconcile ------------------------------------------------
class Crash(Exception):
    """The process died right after the checkpoint was journaled."""


def context(folder: Path, checkpointed: dict[str, Any] | None = None, crash: bool = False,
            journaled: list[dict[str, Any]] | None = None) -> ActionContext:
    def checkpoint(data: Any) -> None:
        if journaled is not None:
            journaled.append(json.loads(json.dumps(dict(data))))  # as the journal would hold it
        if crash:
            raise Crash()

    return ActionContext(incident_id="i-1", step_id="raise", incident_dir=folder, redact=Redactor(),
                         checkpoint=checkpoint, checkpointed=checkpointed or {})


def test_update_reconcile_finds_a_change_that_landed(workdir: Path, run_container: RunContainer) -> None:
    container = run_container(mem_limit="64m", memswap_limit="96m")
    params = {"container": container.name, "memory": "128m"}
    journaled: list[dict[str, Any]] = []
    out = Update().run(dict(params), context(workdir, journaled=journaled))  # then the process dies
    assert len(journaled) == 1
    found = Update().reconcile(dict(params), context(workdir, checkpointed=journaled[0]))
    assert found is not NOT_DONE
    assert found == out  # the output the run would have journaled
    assert found["current"]["memory"] == 128 * MB
    # a re-run after the crash keeps the first "previous", so the undo still restores the original
    again = Update().run(dict(params), context(workdir, checkpointed=journaled[0]))
    assert again["previous"]["memory"] == 64 * MB and again["changed"] == []


def test_update_reconcile_says_not_done_when_the_crash_came_first(
        workdir: Path, run_container: RunContainer) -> None:
    container = run_container(mem_limit="64m", memswap_limit="96m")
    params = {"container": container.name, "memory": "128m"}
    journaled: list[dict[str, Any]] = []
    with pytest.raises(Crash):
        Update().run(dict(params), context(workdir, crash=True, journaled=journaled))
    assert host_config(container)["Memory"] == 64 * MB  # the change never happened
    assert Update().reconcile(dict(params), context(workdir, checkpointed=journaled[0])) is NOT_DONE
    assert Update().reconcile(dict(params), context(workdir)) is NOT_DONE  # no checkpoint at all
    # the change landed, then someone put other limits in place: not what the step set
    Update().run(dict(params), context(workdir, checkpointed=journaled[0]))
    container.update(mem_limit="100m", memswap_limit="132m")
    assert Update().reconcile(dict(params), context(workdir, checkpointed=journaled[0])) is NOT_DONE
