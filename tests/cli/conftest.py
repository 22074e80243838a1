"""Fixtures for the CLI tests: a clean working directory and ``irt`` run in-process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pyirt.cli import run
from tests.helpers import PLUGINS


@dataclass
class Ran:
    code: int
    out: str
    err: str


Irt = Callable[..., Ran]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (no ./irt.yaml, no ./incidents), with the test plugins importable."""
    for name in ("IRT_CONFIG", "IRT_HOME", "IRT_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(PLUGINS))
    return tmp_path


@pytest.fixture
def irt_run(workdir: Path, capsys: pytest.CaptureFixture[str]) -> Irt:
    """``irt ARGS...`` in this process: the exit code and what it printed."""

    def call(*args: str) -> Ran:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return call
