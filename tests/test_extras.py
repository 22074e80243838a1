"""A missing optional SDK is one line naming the extra to install, and exit 6 from the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyirt.errors import EXIT_ENVIRONMENT, MissingExtra
from pyirt.extras import require

BLOCK_DOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "docker" or name.startswith("docker."):
            raise ImportError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from pyirt.cli import main
sys.argv = ["irt"] + sys.argv[1:]
main()
"""


def test_require_names_the_extra_to_install() -> None:
    with pytest.raises(MissingExtra) as caught:
        require("no_such_sdk_for_irt", "gcp")
    assert str(caught.value) == "no_such_sdk_for_irt is not installed: pip install 'pyirt[gcp]'"
    assert caught.value.exit_code == EXIT_ENVIRONMENT


def test_require_returns_the_module_when_present() -> None:
    assert require("json", "none").dumps([]) == "[]"


def test_a_docker_step_without_the_docker_sdk_fails_in_one_line_naming_the_extra(tmp_path: Path) -> None:
    runbook = tmp_path / "rb.yaml"
    runbook.write_text(
        "apiVersion: irt/v1\nname: needs-docker\nsteps:\n"
        "  - {id: stats, action: docker.stats, with: {container: pixashot}}\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", BLOCK_DOCKER, "respond", str(runbook), "--incident-dir", str(tmp_path / "inc")],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
    )
    assert ran.returncode == 1, ran.stderr  # the step failed; the runbook failed
    last = ran.stderr.strip().splitlines()[-1]
    assert last == ("irt: error: step stats (docker.stats) failed: docker is not installed: "
                    "pip install 'pyirt[docker]'; incident failed"), ran.stderr
    assert "Traceback" not in ran.stderr
