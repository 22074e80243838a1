"""Two Docker engines behind one interface, for the contract tests: the real engine (containers of
the busybox test image from tests/docker, whose script prints the wanted log lines and then idles)
and the simulator (containers added through its handle, the same lines stamped in the past).

Everything else a test does goes through the ``docker`` SDK, against either engine alike.
"""

from __future__ import annotations

import contextlib
import shlex
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyirt.sim.docker_engine import DockerEngineSimulator
from pyirt.sim.docker_model import parse_size

Group = tuple[str, list[str]]  # ("stdout" | "stderr", lines): printed together, then a pause
IDLE = 'trap "exit 0" TERM INT; while :; do sleep 1 & wait $!; done'
PAUSE = 0.3


def unique(prefix: str = "irt-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Backend(Protocol):
    name: str
    host: str
    client: Any

    def run(self, logs: list[Group] | None = None, *, name: str | None = None, mem_limit: str | None = None,
            memswap_limit: str | None = None, labels: dict[str, str] | None = None, network: str | None = None,
            aliases: list[str] | None = None, first_pause: float = PAUSE) -> Any: ...

    def network(self) -> str: ...


@dataclass
class RealBackend:
    client: Any
    image: str
    host: str
    name: str = "real"
    made: list[Any] = field(default_factory=list)
    networks: list[Any] = field(default_factory=list)

    def run(self, logs: list[Group] | None = None, *, name: str | None = None, mem_limit: str | None = None,
            memswap_limit: str | None = None, labels: dict[str, str] | None = None, network: str | None = None,
            aliases: list[str] | None = None, first_pause: float = PAUSE) -> Any:
        """A running container that prints ``logs`` (each group, then a pause) and then idles."""
        script, count = [], 0
        for number, (stream, lines) in enumerate(logs or []):
            redirect = " >&2" if stream == "stderr" else ""
            script.append(f"printf '%s\\n' {' '.join(shlex.quote(line) for line in lines)}{redirect}")
            script.append(f"sleep {first_pause if number == 0 else PAUSE}")
            count += len(lines)
        script.append(IDLE)
        api = self.client.api
        host_config = api.create_host_config(network_mode=network or "none", mem_limit=mem_limit,
                                             memswap_limit=memswap_limit)
        networking = api.create_networking_config({network: api.create_endpoint_config(aliases=aliases)}) \
            if network else None
        created = api.create_container(self.image, ["sh", "-c", "\n".join(script)], name=name or unique(),
                                       labels={"irt-test": "1", **(labels or {})}, host_config=host_config,
                                       networking_config=networking)
        container = self.client.containers.get(created["Id"])
        self.made.append(container)
        container.start()
        deadline = time.monotonic() + 30
        while count and len(container.logs(stdout=True, stderr=True).splitlines()) < count:
            assert time.monotonic() < deadline, "the test container did not print its lines"
            time.sleep(0.05)
        time.sleep(PAUSE if logs else 0)  # the lines are in; the script idles from here
        container.reload()
        return container

    def network(self) -> str:
        name = unique("irt-test-net")
        self.networks.append(self.client.networks.create(name, driver="bridge", internal=True,
                                                         labels={"irt-test": "1"}))
        return name

    def close(self) -> None:
        import docker

        for container in self.made:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        for network in self.networks:
            with contextlib.suppress(docker.errors.APIError):
                network.remove()


@dataclass
class SimBackend:
    sim: DockerEngineSimulator
    client: Any
    host: str
    name: str = "sim"

    def run(self, logs: list[Group] | None = None, *, name: str | None = None, mem_limit: str | None = None,
            memswap_limit: str | None = None, labels: dict[str, str] | None = None, network: str | None = None,
            aliases: list[str] | None = None, first_pause: float = PAUSE) -> Any:
        """The same container, its lines stamped as the real one would have printed them (in the past)."""
        world = self.sim.world
        name = name or unique()
        limit = parse_size(mem_limit) if mem_limit else 0
        swap = parse_size(memswap_limit) if memswap_limit else 2 * limit  # as docker run leaves it
        groups = logs or []
        span = first_pause + PAUSE * max(0, len(groups) - 1) + 0.5
        start = time.time() - span
        world.add_container(name, image="irt-test/busybox:latest", memory_limit=limit, memory_swap=swap,
                            memory_usage="900k", labels={"irt-test": "1", **(labels or {})},
                            networks={network: list(aliases or [])} if network else {"none": []}, started=start - 0.1)
        at = start
        for number, (stream, lines) in enumerate(groups):
            for line in lines:
                world.emit(name, line, stream=stream, at=at)
                at += 0.00002
            at += first_pause if number == 0 else PAUSE
        return self.client.containers.get(name)

    def network(self) -> str:
        name = unique("irt-test-net")
        self.sim.world.add_network(name, internal=True, labels={"irt-test": "1"})
        return name


@contextlib.contextmanager
def sim_backend() -> Iterator[SimBackend]:
    import docker

    with DockerEngineSimulator() as sim:
        client = docker.DockerClient(base_url=sim.host, version="auto", timeout=30)
        try:
            yield SimBackend(sim=sim, client=client, host=sim.host)
        finally:
            client.close()
