"""The shipped runbooks/container-memory.yaml against the real Docker engine, and its report built
from that real run: the evidence in report.md is what the engine logged, scrubbed of its secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyirt.engine import config as config_mod
from pyirt.engine.session import Options, respond
from tests.docker.conftest import RunContainer

RUNBOOK = Path(__file__).resolve().parents[2] / "runbooks" / "container-memory.yaml"
PLANTED = "hunter2-do-not-print"


def test_container_memory_runbook_raises_the_limit_and_reports_the_real_evidence(
    run_container: RunContainer, tmp_path: Path
) -> None:
    script = (f"echo 'GET /screenshot 200'; echo 'ERROR render timeout password={PLANTED}' >&2; "
              "yes x | head -n 20000 >/dev/null; sleep 300")
    container: Any = run_container(["sh", "-c", script], mem_limit="64m")
    options = Options(sync=False, yes=True, interactive=False, incident_dir=str(tmp_path / "incidents"))
    result = respond(RUNBOOK, {"container": container.name, "threshold": "0", "memory": "128m"},
                     config_mod.Config(), options)
    assert result.outcome == "succeeded", {s: result.state.step(s).error for s in result.state.order}

    container.reload()
    assert container.attrs["HostConfig"]["Memory"] == 128 * 1024 * 1024
    assert result.state.step("check-limit").status == "succeeded"

    report = (result.folder / "report.md").read_text(encoding="utf-8")
    assert "ERROR render timeout" in report  # the last error line the engine really logged
    assert "docker.update" in report and container.name in report
    for path in result.folder.rglob("*"):
        if path.is_file():
            assert PLANTED not in path.read_text(encoding="utf-8", errors="replace"), path
