"""A Cloud Run simulator per test (port 0, a fresh world from tests/fixtures/cloudrun/world.yaml),
a Config pointing ``providers.cloudrun`` at it, and a helper that runs a runbook through the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyirt.engine import session
from pyirt.engine.config import Config
from pyirt.sim.cloudrun import CloudRunSimulator, load_world
from tests.helpers import FIXTURES

pytest.importorskip("google.cloud.run_v2", reason="the gcp extra is not installed")

CLOUDRUN = FIXTURES / "cloudrun"
RUNBOOKS = CLOUDRUN / "runbooks"
SERVICE = "projects/demo/locations/us-central1/services/pixashot"


@pytest.fixture
def world() -> dict[str, Any]:
    """The World document as a map: a test may edit it before the simulator starts."""
    return load_world(CLOUDRUN / "world.yaml")


@pytest.fixture
def sim(world: dict[str, Any]) -> Iterator[CloudRunSimulator]:
    simulator = CloudRunSimulator(world)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def config_for(sim: CloudRunSimulator | None = None, **provider: Any) -> Config:
    """``providers.cloudrun`` on the simulator, polling fast; ``provider`` overrides any key."""
    base: dict[str, Any] = {"credentials": "anonymous", "poll_interval": 0.02, "timeout": 5}
    if sim is not None:
        base["endpoint"] = sim.url
    return Config(raw={"providers": {"cloudrun": {**base, **provider}}})


class Messages:
    """An observer keeping what actions said through ``ctx.log`` (messages are not journaled)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def event(self, event: Any) -> None:
        pass

    def message(self, step: str, text: str) -> None:
        self.lines.append(text)


def respond(runbook: str | Path, tmp_path: Path, config: Config, messages: Messages | None = None,
            **inputs: Any) -> session.Result:
    path = runbook if isinstance(runbook, Path) else RUNBOOKS / f"{runbook}.yaml"
    options = session.Options(sync=False, yes=True, interactive=False, incident_dir=str(tmp_path / "incidents"),
                              observers=[messages] if messages is not None else ())
    return session.respond(path, inputs, config, options)


def write_runbook(tmp_path: Path, steps: str, name: str = "inline") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"apiVersion: irt/v1\nkind: Runbook\nname: {name}\nsteps:\n{steps}", encoding="utf-8")
    return path


def traffic(sim: CloudRunSimulator, service: str = "pixashot") -> tuple[dict[str, int], dict[str, str]]:
    """(percent per revision, tag -> revision) that the simulator serves now, from trafficStatuses."""
    doc = sim.world.snapshot("demo", "us-central1", service)
    split: dict[str, int] = {}
    for status in doc.get("trafficStatuses", []):
        if status.get("percent"):
            split[status["revision"]] = split.get(status["revision"], 0) + status["percent"]
    tags = {s["tag"]: s["revision"] for s in doc.get("trafficStatuses", []) if s.get("tag")}
    return split, tags
