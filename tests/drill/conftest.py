"""Fixtures for the drill tests: a clean working directory, scenario files written on the fly,
and pyirt.testing's own ``irt_drill`` fixture (imported by name, as a user's conftest would load it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pyirt.testing import irt_drill  # noqa: F401  (the fixture, by name)
from tests.helpers import FIXTURES, REPO

DRILLS = REPO / "drills"
SHIPPED_SCENARIOS = sorted(DRILLS.glob("*.yaml"))
DRILL_FIXTURES = FIXTURES / "drills"

pytest.importorskip("docker", reason="the docker extra is not installed (pip install pyirt[docker])")
pytest.importorskip("google.cloud.run_v2", reason="the gcp extra is not installed (pip install pyirt[gcp])")

WriteScenario = Callable[[str], Path]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, with no irt config or home leaking in from the caller."""
    for name in ("IRT_CONFIG", "IRT_HOME", "IRT_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write_scenario(tmp_path: Path) -> WriteScenario:
    """Write a scenario (YAML text) into the test's folder; relative runbook paths are from the repo."""
    count = [0]

    def write(text: str) -> Path:
        count[0] += 1
        path = tmp_path / f"scenario-{count[0]}.yaml"
        path.write_text(text.replace("@REPO@", str(REPO)), encoding="utf-8")
        return path

    return write


def runbook(tmp_path: Path, body: str, name: str = "drill-test") -> Path:
    """A runbook file from its steps (YAML text after `steps:`)."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"apiVersion: irt/v1\nkind: Runbook\nname: {name}\n{body}", encoding="utf-8")
    return path
