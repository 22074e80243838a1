"""The Docker engine simulator on its own: the wire (HTTP/1.0 until close, HTTP/1.1 kept alive and
chunked, a followed log, a TTY's raw stream), deterministic log generators, the memory curve,
faults (a status N times, latency, a hang that stop() releases), TCP, and its world file."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from pyirt.sim.cloudrun_state import WorldError
from pyirt.sim.docker_engine import DockerEngineSimulator
from pyirt.sim.docker_model import NS, rfc3339
from pyirt.sim.docker_state import DockerWorld

MB = 1024 * 1024


def _raw(sim: DockerEngineSimulator, request: bytes) -> bytes:
    """Send bytes on the simulator's socket; read until it closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(sim.socket_path))
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


def _frames(body: bytes) -> list[tuple[int, bytes]]:
    frames, pos = [], 0
    while pos < len(body):
        kind, length = struct.unpack_from(">BxxxL", body, pos)
        frames.append((kind, body[pos + 8:pos + 8 + length]))
        pos += 8 + length
    return frames


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("docker", timeout=5)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self.path)


@pytest.fixture
def sim() -> Any:
    with DockerEngineSimulator({"containers": [
        {"name": "web", "memory_limit": "1g", "memory_usage": "100m", "labels": {"app": "web"},
         "logs": {"rate": "10/s", "since": "1s", "lines": ["out {n}", {"stderr": "err {n}"}]}},
        {"name": "console", "tty": True, "logs": {"rate": "5/s", "since": "1s", "lines": ["tty line"]}},
    ]}) as simulator:
        yield simulator


def test_logs_over_http_1_0_are_raw_frames_until_the_connection_closes(sim: DockerEngineSimulator) -> None:
    reply = _raw(sim, b"GET /v1.41/containers/web/logs?stdout=1&stderr=1&timestamps=1 HTTP/1.0\r\nHost: d\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].endswith(b" 200 OK")
    assert b"transfer-encoding" not in head.lower() and b"content-length" not in head.lower()
    frames = _frames(body)
    assert 8 <= len(frames) <= 12  # 10 lines a second for the last second
    assert {k for k, _ in frames} == {1, 2}
    for kind, payload in frames:
        stamp, text = payload.decode().rstrip("\n").split(" ", 1)
        assert stamp.endswith("Z") and text.startswith("out " if kind == 1 else "err ")
    tty = _raw(sim, b"GET /containers/console/logs?stdout=1 HTTP/1.0\r\n\r\n").partition(b"\r\n\r\n")[2]
    assert tty.startswith(b"tty line\n")  # a TTY's log has no frame headers


def test_http_1_1_keeps_the_connection_and_chunks_streams(sim: DockerEngineSimulator) -> None:
    conn = _UnixConnection(str(sim.socket_path))
    conn.request("GET", "/v1.41/containers/web/logs?stdout=1&stderr=1&tail=3")
    reply = conn.getresponse()
    assert reply.getheader("Transfer-Encoding") == "chunked" and reply.getheader("Api-Version") == "1.41"
    frames = _frames(reply.read())
    assert len(frames) == 3 and {k for k, _ in frames} == {1, 2}
    conn.request("GET", "/containers/web/json")  # the same connection, kept alive
    again = conn.getresponse()
    assert json.loads(again.read())["Name"] == "/web"
    conn.close()


def test_a_followed_log_streams_new_lines_until_the_simulator_stops(sim: DockerEngineSimulator) -> None:
    client = docker.DockerClient(base_url=sim.host, version="auto", timeout=10)
    stream = client.api.logs("web", stdout=True, stderr=False, stream=True, follow=True, tail=0)
    seen: list[bytes] = []

    def read() -> None:
        for chunk in stream:
            seen.append(chunk)
            if len(seen) >= 3:
                break

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(5)
    assert len(seen) >= 3 and all(s.startswith(b"out ") for s in seen)
    sim.stop()  # the followed stream ends with the simulator
    rest = b"".join(stream)  # drained to its end, so the connection goes back to the pool
    assert all(line.startswith(b"out ") for line in rest.splitlines())
    stream.close()
    client.close()


def test_generated_logs_are_deterministic_numbered_and_switch_at_an_inject() -> None:
    started = time.time() - 10
    spec = {"containers": [{"name": "a", "started": rfc3339(int(started * NS)),
                            "logs": {"rate": "2/s", "lines": ["line {n}", "other"]}}]}
    one, two = DockerWorld.from_dict(spec), DockerWorld.from_dict(spec)
    until = {"until": [f"{int(started) + 5}"], "stdout": ["1"], "timestamps": ["1"]}
    assert list(one.logs("a", until)[1]) == list(two.logs("a", until)[1])
    lines = [text for _, _, text in one.logs("a", {"stdout": ["1"]})[1]]
    assert lines[:4] == [b"line 1", b"other", b"line 3", b"other"]
    assert 19 <= len(lines) <= 21
    one.set_logs("a", {"rate": "100/s", "lines": ["fast {n}"]}, at=time.time() - 1)
    after = [text for _, _, text in one.logs("a", {"stdout": ["1"], "tail": ["5"]})[1]]
    assert all(t.startswith(b"fast ") for t in after)
    numbers = [int(t.split()[1]) for t in after]
    assert numbers == sorted(numbers) and numbers[0] > 20  # the numbering goes on from the old generator


def test_tail_first_then_since_as_the_engine_does() -> None:
    world = DockerWorld()
    world.add_container("c")
    base = time.time() - 5
    for i in range(10):
        world.emit("c", f"l{i}", at=base + i * 0.1)
    middle = base + 0.75
    since = {"stdout": ["1"], "since": [f"{middle:.9f}"]}
    assert [t for _, _, t in world.logs("c", since)[1]] == [b"l8", b"l9"]
    assert [t for _, _, t in world.logs("c", {**since, "tail": ["5"]})[1]] == [b"l8", b"l9"]
    assert [t for _, _, t in world.logs("c", {"stdout": ["1"], "tail": ["3"]})[1]] == [b"l7", b"l8", b"l9"]
    assert list(world.logs("c", {"stdout": ["1"], "tail": ["0"]})[1]) == []


def test_memory_follows_its_curve_and_stays_under_the_limit() -> None:
    world = DockerWorld()
    world.add_container("m", memory_limit=1024 * MB, memory_usage="100m")
    world.set_memory("m", "90%", over=1.0)
    time.sleep(0.5)
    middle = world.stats("m", {})["memory_stats"]["usage"]
    assert 400 * MB < middle < 700 * MB
    time.sleep(0.6)
    assert world.stats("m", {})["memory_stats"]["usage"] == int(1024 * MB * 0.9)
    world.set_memory("m", "2g")
    assert world.stats("m", {})["memory_stats"]["usage"] == 1024 * MB  # capped at the limit
    with pytest.raises(ValueError, match="no memory limit"):
        world.add_container("free")
        world.set_memory("free", "50%")


def test_faults_fail_n_times_then_pass_and_a_hang_is_released_by_stop(sim: DockerEngineSimulator) -> None:
    client = docker.DockerClient(base_url=sim.host, version="auto", timeout=10)
    sim.inject("stats", status=500, times=2, message="cgroup read failed")
    for _ in range(2):
        with pytest.raises(docker.errors.APIError) as failed:
            client.api.stats("web", stream=False)
        assert (failed.value.status_code, failed.value.explanation) == (500, "cgroup read failed")
    assert client.api.stats("web", stream=False)["name"] == "/web"
    sim.inject("inspect", latency="300ms", container="web")
    started = time.monotonic()
    client.api.inspect_container("console")  # not the scoped container: no latency
    assert time.monotonic() - started < 0.25
    client.api.inspect_container("web")
    assert time.monotonic() - started >= 0.3
    sim.inject("list", hang=True, times=None)
    errors: list[BaseException] = []

    def hang() -> None:
        try:
            client.containers.list()
        except BaseException as exc:
            errors.append(exc)

    caller = threading.Thread(target=hang)
    caller.start()
    time.sleep(0.3)
    assert caller.is_alive()
    sim.stop()
    caller.join(5)
    assert not caller.is_alive() and errors  # released at once, as a failed call
    assert sim.world.calls["list"] == 1
    client.close()


def test_tcp_on_loopback_and_a_stale_socket(tmp_path: Path) -> None:
    with DockerEngineSimulator({"containers": [{"name": "t"}]}, port=0) as tcp:
        assert tcp.host.startswith("tcp://127.0.0.1:")
        client = docker.DockerClient(base_url=tcp.host, version="auto", timeout=5)
        assert [c.name for c in client.containers.list()] == ["t"]
        client.close()
    with pytest.raises(ValueError, match="loopback"):
        DockerEngineSimulator(host="0.0.0.0", port=0)  # noqa: S104 (refused: the point of the test)
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(path))  # a socket file nobody listens on: what a killed simulator leaves
    with DockerEngineSimulator(socket_path=path) as sim:
        assert sim.host == f"unix://{path}"
        with pytest.raises(OSError, match="in use"):
            DockerEngineSimulator(socket_path=path).start()
    assert not path.exists()


def test_world_errors_name_their_path() -> None:
    cases = {
        "containers[0].name: required": [{"image": "x"}],
        "containers[0].memory_limit: at least 6m": [{"name": "a", "memory_limit": "1m"}],
        "containers[0].state: one of running, paused, exited, created": [{"name": "a", "state": "dead"}],
        "containers[1].name: a is defined twice": [{"name": "a"}, {"name": "a"}],
        "containers[0].logs.lines[0]: a line of text": [{"name": "a", "logs": {"lines": [["x"]]}}],
        "containers[0].faults[0]: unknown docker operation 'boom'": [{"name": "a", "faults": [{"op": "boom",
                                                                                                "status": 500}]}],
        "containers[0]: unknown key(s) colour": [{"name": "a", "colour": "red"}],
    }
    for message, containers in cases.items():
        with pytest.raises(WorldError) as failed:
            DockerWorld.from_dict({"containers": containers})
        assert str(failed.value).startswith(message), (message, str(failed.value))
