"""Fixtures for the docker actions against the real Docker engine (``scripts/engines up``).

Without an engine every test here is skipped with the reason; under IRT_REQUIRE_ENGINES=1 the root
conftest turns that skip into a failure. The test image is a static busybox with a few applet
links, made once with ``docker import``; every container runs with ``--network none`` (or on an
internal network made by the test), carries the label ``irt-test=1`` and is removed afterwards.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

docker = pytest.importorskip("docker", reason="the docker SDK is not installed (pip install pyirt[docker])")

IMAGE = "irt-test/busybox:latest"
APPLETS = ("sh", "echo", "seq", "yes", "head", "sleep", "cat", "printf", "true", "wc", "ls")
APPLETS_LABEL = "irt-test.applets"
BUSYBOX = Path("/bin/busybox")
TEST_LABEL = "irt-test"

RunContainer = Callable[..., Any]


def _engine_client() -> Any:
    """A client of the engine the actions will use (DOCKER_HOST or the local socket), or a skip."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if host.startswith("unix://"):  # the SDK leaves its socket open when the engine is not there
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(5)
            try:
                probe.connect(host[len("unix://"):])
            except OSError as exc:
                pytest.skip(f"no Docker engine answers at {host} (run scripts/engines up): {exc}")
    try:
        client = docker.DockerClient(base_url=host, timeout=30, version="auto")
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine answers at {host} (run scripts/engines up): {str(exc).splitlines()[0]}")
    try:
        client.ping()
    except Exception as exc:
        client.close()
        pytest.skip(f"the Docker engine at {host} does not answer a ping (run scripts/engines up): {exc}")
    return client


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    client = _engine_client()
    try:
        yield client
    finally:
        client.close()


def _image_ok(client: Any) -> bool:
    try:
        image = client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        return False
    return (image.labels or {}).get(APPLETS_LABEL) == ",".join(APPLETS)


@pytest.fixture(scope="session")
def test_image(docker_client: Any) -> str:
    """``irt-test/busybox:latest``: /bin/busybox and its applet links, imported from a temp folder."""
    if _image_ok(docker_client):
        return IMAGE
    if not BUSYBOX.is_file():
        pytest.skip(f"{BUSYBOX} is missing (scripts/engines up installs busybox-static)")
    with tempfile.TemporaryDirectory(prefix="irt-image-") as tmp:
        root = Path(tmp)
        (root / "bin").mkdir()
        (root / "tmp").mkdir()
        shutil.copy2(BUSYBOX, root / "bin" / "busybox")
        for applet in APPLETS:
            (root / "bin" / applet).symlink_to("busybox")
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            for path in sorted(root.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    repository, _, tag = IMAGE.rpartition(":")
    docker_client.api.import_image_from_data(
        data.getvalue(), repository=repository, tag=tag,
        changes=[f'LABEL {APPLETS_LABEL}="{",".join(APPLETS)}"', 'ENV PATH="/bin"'],
    )
    assert _image_ok(docker_client), f"docker import did not produce {IMAGE}"
    return IMAGE


def unique(prefix: str = "irt-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# A command that idles and exits at once on SIGTERM (a shell as PID 1 ignores it otherwise).
IDLE = ["sh", "-c", 'trap "exit 0" TERM INT; while :; do sleep 1 & wait $!; done']


@pytest.fixture(scope="session")
def _session_containers(docker_client: Any) -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    _remove(made)


@pytest.fixture
def _test_containers(docker_client: Any) -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    _remove(made)


def _remove(containers: list[Any]) -> None:
    for container in containers:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def _factory(client: Any, image: str, made: list[Any]) -> RunContainer:
    def run(cmd: list[str] | str | None = None, *, name: str | None = None, mem_limit: str | int | None = None,
            memswap_limit: str | int | None = None, labels: dict[str, str] | None = None,
            network: str | None = None, aliases: list[str] | None = None, wait: bool = False,
            environment: dict[str, str] | None = None) -> Any:
        """Start a container of the test image (``--network none`` unless ``network`` names one, then
        attached with ``aliases``). ``wait``: return once it has exited."""
        name = name or unique()
        all_labels = {TEST_LABEL: "1", **(labels or {})}
        command = cmd if cmd is not None else IDLE
        if network:
            api = client.api
            host_config = api.create_host_config(network_mode=network, mem_limit=mem_limit,
                                                 memswap_limit=memswap_limit)
            networking = api.create_networking_config({network: api.create_endpoint_config(aliases=aliases)})
            created = api.create_container(image, command, name=name, labels=all_labels, host_config=host_config,
                                           networking_config=networking, environment=environment)
            container = client.containers.get(created["Id"])
            made.append(container)
            container.start()
        else:
            container = client.containers.run(image, command, name=name, detach=True, network_mode="none",
                                              mem_limit=mem_limit, memswap_limit=memswap_limit,
                                              labels=all_labels, environment=environment)
            made.append(container)
        if wait:
            result = container.wait(timeout=60)
            assert result.get("StatusCode") == 0, (result, container.logs()[-500:])
        container.reload()
        return container

    return run


@pytest.fixture
def run_container(docker_client: Any, test_image: str, _test_containers: list[Any]) -> RunContainer:
    """Run a test container for this test; it is removed (forced) at teardown."""
    return _factory(docker_client, test_image, _test_containers)


@pytest.fixture(scope="session")
def run_session_container(docker_client: Any, test_image: str, _session_containers: list[Any]) -> RunContainer:
    """Run a container shared by several tests; removed at the end of the session."""
    return _factory(docker_client, test_image, _session_containers)


@pytest.fixture
def internal_network(docker_client: Any) -> Iterator[str]:
    """An internal (no outside route) bridge network; nothing is ever sent on it. Removed afterwards."""
    name = unique("irt-test-net")
    network = docker_client.networks.create(name, driver="bridge", internal=True, labels={TEST_LABEL: "1"})
    try:
        yield name
    finally:
        network.reload()
        for container in network.containers:
            with contextlib.suppress(docker.errors.APIError):
                network.disconnect(container, force=True)
        network.remove()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, with no irt config or home leaking in from the caller."""
    for name in ("IRT_CONFIG", "IRT_HOME", "IRT_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
