"""Fixtures for the report tests: incidents run for real through the engine (``session.respond``)
with the test plugins, and the fixed journal of ``tests/fixtures/report/seed-incident``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from pyirt.engine import config as config_mod
from pyirt.engine import session
from tests.helpers import FIXTURES, PLUGINS, REPO

REPORT_FIXTURES = FIXTURES / "report"
RUNBOOKS = REPORT_FIXTURES / "runbooks"
SEED = REPORT_FIXTURES / "seed-incident"
TEST_PLUGINS = REPO / "tests" / "plugins"
ARTIFACTS = REPO / "test-artifacts" / "report"
CONFIG_TEXT = "plugins: [irt_testplugin, irt_fixture_actions, irt_report_actions]\n"
CONFIG = config_mod.parse(CONFIG_TEXT, "irt.yaml")

CANARY = "CANARY-report-51d2e8-do-not-leak"
HOSTILE_ALERT = json.loads((FIXTURES / "alerts" / "hostile-alert.json").read_text(encoding="utf-8"))

Respond = Callable[..., session.Result]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose ./irt.yaml loads the three test plugins, their folders importable."""
    for name in ("IRT_CONFIG", "IRT_HOME", "IRT_DEBUG", "IRT_CHROMIUM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "irt.yaml").write_text(CONFIG_TEXT, encoding="utf-8")
    for folder in (TEST_PLUGINS, PLUGINS, REPORT_FIXTURES):
        monkeypatch.syspath_prepend(str(folder))
    return tmp_path


def options(workdir: Path, **changes: Any) -> session.Options:
    return session.Options(**({"incident_dir": str(workdir / "incidents"), "sync": False, "yes": True,
                                "interactive": False} | changes))


@pytest.fixture
def respond(workdir: Path) -> Respond:
    """Run a runbook (a path, or a name in tests/fixtures/report/runbooks) to its end, for real."""

    def run(runbook: str | Path, inputs: Mapping[str, Any] | None = None, **changes: Any) -> session.Result:
        path = Path(runbook) if Path(runbook).is_absolute() else RUNBOOKS / runbook
        return session.respond(path, dict(inputs or {}), CONFIG, options(workdir, **changes))

    return run


@pytest.fixture
def seed(workdir: Path) -> Path:
    """A copy of the fixed seed incident (its reports are written into the copy)."""
    folder = workdir / "incidents" / "20261204T031502Z-pixashot-security-incident-3f9a"
    shutil.copytree(SEED, folder)
    return folder


@pytest.fixture
def hostile(respond: Respond, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder of a real run of runbooks/hostile.yaml (hostile logs, a leaked secret, a hostile alert)."""
    monkeypatch.setenv("REPORT_CANARY", CANARY)
    result = respond("hostile.yaml", alert=HOSTILE_ALERT)
    assert result.outcome == "completed_with_errors"
    return result.folder
