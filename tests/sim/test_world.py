"""World files: every section checked by its own simulator, each problem at its line; and the
``irt sim docker`` / ``irt sim all`` commands serving a world until SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import docker
import pytest

from pyirt.errors import ValidationFailed
from pyirt.sim.world import load_world
from tests.helpers import REPO, clean_env, irt

PIXASHOT = REPO / "drills" / "worlds" / "pixashot.yaml"


def test_every_section_is_checked_with_positions(tmp_path: Path) -> None:
    world = tmp_path / "world.yaml"
    world.write_text("""apiVersion: irt/v1
kind: World
containers:
  - {name: web, state: sleeping}
cloudrun:
  - project: demo
    service: api
    revisions: [{name: r1, age: forever}]
secrets:
  - {provider: gcp, name: token}
  - {provider: vault9000, name: other}
channels: [{name: chat, type: slack, fallback: [nobody]}]
weather: sunny
""")
    with pytest.raises(ValidationFailed) as failed:
        load_world(world)
    shown = [f"{p.line}:{p.path}: {p.message.split(' (')[0]}" for p in failed.value.problems]
    assert shown == [
        "13:weather: unknown section",
        "4:containers[0].state: one of running, paused, exited, created",
        "8:cloudrun[0].revisions[0].age: not a duration: 'forever'",
        "12:channels: channel chat: fallback nobody is not a channel of the world",
        "10:secrets[0].project: required for a gcp secret",
        "11:secrets[1].provider: no simulator for vault9000 secrets",
    ], shown
    doc, data = load_world(PIXASHOT)
    assert doc.file == str(PIXASHOT) and [c["name"] for c in data["containers"]] == ["pixashot"]


def _serve(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    script = Path(sys.executable).with_name("irt")
    return subprocess.Popen([str(script), *args], cwd=cwd, env=clean_env(), text=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def test_irt_sim_docker_serves_the_world_until_sigterm(tmp_path: Path) -> None:
    sock = tmp_path / "engine.sock"
    process = _serve(["sim", "docker", "--world", str(PIXASHOT), "--socket", str(sock), "--quiet"], tmp_path)
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert banner.startswith(f"Docker engine simulator on unix://{sock} (containers: pixashot)"), banner
        assert process.stderr.readline().strip() == f"export DOCKER_HOST=unix://{sock}"
        client = docker.DockerClient(base_url=f"unix://{sock}", version="auto", timeout=5)
        container = client.containers.get("pixashot")
        assert container.attrs["HostConfig"]["Memory"] == 2 * 1024**3
        assert b"ERROR render timeout" in container.logs(tail=10)
        client.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert not sock.exists()
    finally:
        _stop(process)


def test_irt_sim_all_prints_the_config_that_points_at_every_simulator(tmp_path: Path) -> None:
    process = _serve(["sim", "all", "--world", str(PIXASHOT)], tmp_path)
    try:
        assert process.stdout is not None
        text, line = "", ""
        while line != "}\n":  # the JSON document's last line
            line = process.stdout.readline()
            assert line, "irt sim all ended early"
            text += line
        config: dict[str, Any] = json.loads(text)
        providers = config["providers"]
        assert set(providers) >= {"docker", "cloudrun", "gcp_secrets"}
        assert set(config["channels"]) == {"incidents", "email-sre"}
        assert config["channels"]["incidents"]["url"].startswith("file:")
        client = docker.DockerClient(base_url=providers["docker"]["host"], version="auto", timeout=5)
        assert [c.name for c in client.containers.list()] == ["pixashot"]
        client.close()
        endpoint = providers["cloudrun"]["endpoint"]
        with urllib.request.urlopen(f"{endpoint}/v2/projects/demo/locations/us-central1/services/pixashot",  # noqa: S310
                                    timeout=5) as reply:
            assert json.loads(reply.read())["traffic"][0]["revision"] == "pixashot-00042-bad"
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        _stop(process)


def test_a_bad_world_is_exit_2_with_its_line(tmp_path: Path) -> None:
    world = tmp_path / "world.yaml"
    world.write_text("kind: World\ncontainers:\n  - {name: web, memory_limit: 1m}\n")
    ran = irt("sim", "docker", "--world", str(world), cwd=tmp_path)
    assert ran.returncode == 2
    assert ran.stderr.strip() == f"irt: error: {world}:3:17: containers[0].memory_limit: at least 6m (the engine " \
                                 "refuses less)"
