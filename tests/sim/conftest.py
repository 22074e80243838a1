"""Fixtures for the simulators' tests. ``backend`` is a Docker engine, once the real one (skipped
with the reason when none answers; a failure under IRT_REQUIRE_ENGINES=1) and once the simulator:
the contract tests run the same docker action scenarios against both."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("docker", reason="the docker SDK is not installed (pip install pyirt[docker])")

from tests.docker.conftest import docker_client, test_image  # noqa: F401  (fixtures, by name)
from tests.sim.docker_backends import Backend, RealBackend, sim_backend


@pytest.fixture(scope="module", params=["real", "sim"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "sim":
        with sim_backend() as sim:
            yield sim
        return
    client = request.getfixturevalue("docker_client")
    image = request.getfixturevalue("test_image")
    real = RealBackend(client=client, image=image, host=os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
    try:
        yield real
    finally:
        real.close()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, with no irt config or home leaking in from the caller."""
    for name in ("IRT_CONFIG", "IRT_HOME", "IRT_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
