"""Bodies of ``irt drill`` and of ``irt sim docker|all``.

``irt drill [RUNBOOK] --scenario FILE``: the runbook against the scenario's simulated world; the
step progress on stderr, then the scorecard and where the reports are on stdout (``--json``: the
scorecard as one JSON object). Exit 0 when every expectation is met, 1 when one is not, so CI can
drill runbooks; 2 for an invalid scenario, runbook or input.

``irt sim docker --world FILE`` serves the Docker Engine API for the world's containers;
``irt sim all --world FILE`` serves every simulator of the world at once and prints the irt.yaml
that points at them. Both run until Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from pyirt.cli.sim_cmds import serve_until_stopped
from pyirt.errors import EXIT_FAILED, EXIT_OK, InvalidInput


def drill(runbook: str | None, scenario: str, inputs: list[str], incident_dir: str | None, json_out: bool,
          quiet: bool) -> int:
    from pyirt.core.inputs import parse_assignments
    from pyirt.drill.run import run_drill
    from pyirt.engine.observers import ConsoleObserver

    observers = [] if json_out or quiet else [ConsoleObserver()]
    card = run_drill(scenario, runbook, incident_dir=incident_dir, inputs=parse_assignments(inputs),
                     observers=observers)
    if json_out:
        print(json.dumps(card.view(), ensure_ascii=False))
    else:
        print(card.text())
        for path in card.reports:
            print(f"report:       {path}")
        for path in card.drill_files():
            print(f"drill report: {path}")
    return EXIT_OK if card.passed else EXIT_FAILED


# -- irt sim docker | all ---------------------------------------------------------------------------
def _serve_until_stopped(stop_all: Any, name: str) -> int:
    try:
        serve_until_stopped()
    finally:
        stop_all()
    print(f"{name} stopped", file=sys.stderr)
    return EXIT_OK


def _world(path: str) -> dict[str, Any]:
    from pyirt.sim.world import load_world

    _, world = load_world(path)
    return world


def docker(world: str, socket_path: str | None, port: int | None, host: str, quiet: bool) -> int:
    from pyirt.sim.docker_engine import DockerEngineSimulator

    log = None if quiet else (lambda line: print(line, file=sys.stderr))
    sim = DockerEngineSimulator(_world(world), socket_path=socket_path, host=host, port=port, log=log)
    try:
        address = sim.start()
    except OSError as exc:
        raise InvalidInput(f"cannot listen: {exc.strerror or exc}") from None
    names = ", ".join(sim.world.names()) or "none"
    print(f"Docker engine simulator on {address} (containers: {names}); Ctrl-C stops it", file=sys.stderr)
    print(f"export DOCKER_HOST={address}", file=sys.stderr)
    print(f"irt.yaml:  providers: {{docker: {{host: '{address}'}}}}", file=sys.stderr)
    return _serve_until_stopped(sim.stop, "Docker engine simulator")


def all_sims(world: str, quiet: bool) -> int:
    """Every simulator of the world, and the irt.yaml that points at them (credentials in files
    under a temporary folder, removed when the simulators stop)."""
    from pyirt.drill.scenario import Scenario
    from pyirt.drill.sims import Simulators

    data = _world(world)
    folder = tempfile.TemporaryDirectory(prefix="irt-sim-all-")
    sims = Simulators(Scenario(file=world, name=Path(world).stem, world=data), Path(folder.name))
    try:
        sims.start()
    except OSError as exc:
        sims.stop()
        folder.cleanup()
        raise InvalidInput(f"cannot start the simulators: {exc.strerror or exc}") from None
    config = sims.config()
    raw = {key: value for key, value in config.raw.items() if key in ("providers", "channels")}
    print(f"simulators for {world} are serving; Ctrl-C stops them. Use this irt.yaml:", file=sys.stderr)
    print(json.dumps(raw, indent=2))
    sys.stdout.flush()

    def stop() -> None:
        sims.stop()
        folder.cleanup()

    return _serve_until_stopped(stop, "simulators")
