"""Drills: the very same runbook against a simulated world, with faults injected on cue, scored.

    from pyirt.drill import run_drill
    card = run_drill("drills/security-incident.yaml")        # the scenario names its runbook
    print(card.text()); assert card.passed

Modules: :mod:`~pyirt.drill.scenario` (the ``kind: Scenario`` file), :mod:`~pyirt.drill.sims`
(the simulators and the config pointing at them), :mod:`~pyirt.drill.timeline` (injects on cue,
the monitor), :mod:`~pyirt.drill.expect` (expectations and their evidence),
:mod:`~pyirt.drill.scorecard` (what is printed and written), :mod:`~pyirt.drill.guard` (loopback
only, no real credentials) and :mod:`~pyirt.drill.run` (the order of it all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyirt.drill.run import run_drill
    from pyirt.drill.scenario import Scenario, load_scenario
    from pyirt.drill.scorecard import Scorecard

__all__ = ["Scenario", "Scorecard", "load_scenario", "run_drill"]


def __getattr__(name: str) -> Any:  # the engine and the simulators load only when a drill is used
    if name == "run_drill":
        from pyirt.drill.run import run_drill

        return run_drill
    if name in ("Scenario", "load_scenario"):
        from pyirt.drill import scenario

        return getattr(scenario, name)
    if name == "Scorecard":
        from pyirt.drill.scorecard import Scorecard

        return Scorecard
    raise AttributeError(name)
