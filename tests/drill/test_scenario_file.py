"""Scenario files: every problem at once, each with file, line and path (in the scenario or in the
World file it names); the JSON Schema accepts every shipped scenario, refuses broken ones, and
knows every key the parser knows."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from pyirt.drill import criteria
from pyirt.drill import scenario as scenario_mod
from pyirt.drill.scenario import load_scenario
from pyirt.errors import ValidationFailed
from pyirt.sim import docker_world, sinks
from tests.drill.conftest import DRILLS, SHIPPED_SCENARIOS, WriteScenario
from tests.helpers import irt

BROKEN = """apiVersion: irt/v1
kind: Scenario
runbook: @REPO@/runbooks/container-memory.yaml
colour: blue
approve_after: soon
world:
  containers:
    - {name: web, memory_limit: 2g, memory_usage: lots}
  cloudrun:
    - {project: demo, service: api, revisions: []}
  channels: [{name: oncall, type: carrier-pigeon}]
injects:
  - {at: 1s, container: nope, memory_usage: 90%}
  - {at: 2s, container: web, memory_usage: 90%, state: paused}
faults:
  - {target: mainframe, status: 500}
  - {target: docker, op: explode, status: 500}
  - {target: channel, channel: pager, status: 503}
expectations:
  - {traffic: {service: api}}
  - {container: {name: web, memory_percent: "about 80"}}
  - {outcome: succeeded, within: 5s}
  - {vibes: good}
"""


def test_every_problem_has_its_line_and_path(write_scenario: WriteScenario) -> None:
    path = write_scenario(BROKEN)
    with pytest.raises(ValidationFailed) as failed:
        load_scenario(path)
    found = {(p.line, p.path): p.message for p in failed.value.problems}
    assert all(p.file == str(path) for p in failed.value.problems)
    expected = {
        (4, "colour"): "unknown key",
        (5, "approve_after"): "not a duration",
        (8, "world.containers[0].memory_usage"): "not a size: 'lots'",
        (10, "world.cloudrun[0].revisions"): "a non-empty list is required",
        (11, "world.channels[0].type"): "one of slack, teams, pagerduty, webhook, email",
        (13, "injects[0].container"): "no container nope in the world (containers: web)",
        (14, "injects[1]"): "one change per inject",
        (16, "faults[0].target"): "one of docker, cloudrun, secrets, channel",
        (17, "faults[1]"): "unknown docker operation 'explode'",
        (18, "faults[2].channel"): "a channel of the world (oncall)",
        (20, "expectations[0].traffic.to"): "required",
        (21, "expectations[1].container.memory_percent"): "not a number: 'about 80'",
        (22, "expectations[2].within"): "within applies to traffic, container, secret, notified, step",
        (23, "expectations[3].vibes"): "one expectation per entry",
    }
    for where, text in expected.items():
        assert where in found, (where, sorted(found))
        assert text in found[where], (where, found[where])
    assert len(found) == len(expected), sorted(found)


def test_a_world_file_reports_its_own_lines(write_scenario: WriteScenario, tmp_path: Path) -> None:
    (tmp_path / "world.yaml").write_text("apiVersion: irt/v1\nkind: World\ncontainers:\n  - name: web\n"
                                         "    logs: {rate: fast, lines: [hi]}\nplanets: [mars]\n")
    path = write_scenario("kind: Scenario\nworld: world.yaml\nexpectations: [{no_failed_steps: true}]\n")
    with pytest.raises(ValidationFailed) as failed:
        load_scenario(path)
    shown = sorted(str(p) for p in failed.value.problems)
    world = tmp_path / "world.yaml"
    assert shown == [
        f"{world}:5:12: containers[0].logs.rate: not a rate: 'fast' (use 50/s, 3/m or 2/h)",
        f"{world}:6:1: planets: unknown section (known: name, description, containers, cloudrun, secrets, "
        "channels)"], shown


def test_the_cli_shows_every_problem_and_exits_2(write_scenario: WriteScenario, tmp_path: Path) -> None:
    path = write_scenario(BROKEN)
    ran = irt("drill", "--scenario", str(path), cwd=tmp_path)
    assert ran.returncode == 2
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 14
    assert lines[0] == (f"irt: error: {path}:4:1: colour: unknown key (known: name, description, runbook, inputs, "
                        "world, alert, approve_after, deny, timeout, notify, plugins, redact, injects, faults, "
                        "expectations)")
    assert ran.stdout == ""
    missing = irt("drill", "--scenario", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert (missing.returncode, missing.stderr.strip()) == (2, f"irt: error: {tmp_path / 'nope.yaml'} does not exist")
    typo = write_scenario(f"kind: Scenario\nrunbook: {DRILLS.parent / 'runbooks' / 'local-drill.yaml'}\nworld: {{}}\n"
                          "deny: [confirm]\nexpectations: [{step: {id: mitigat}}]\n")
    ran = irt("drill", "--scenario", str(typo), cwd=tmp_path)
    assert ran.returncode == 2
    assert "expectations[0].step.id: no step 'mitigat'; deny[0]: no step 'confirm'; its steps: announce, close, " \
           "confirm-mitigation, mitigate, settle)" in ran.stderr
    bare = write_scenario("kind: Scenario\nworld: {}\nexpectations: [{no_failed_steps: true}]\n")
    no_runbook = irt("drill", "--scenario", str(bare), cwd=tmp_path)
    assert no_runbook.returncode == 2 and "names no runbook" in no_runbook.stderr


@cache
def _schema() -> Any:
    from jsonschema import Draft202012Validator

    schema = json.loads((DRILLS / "scenario.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _yaml(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


@pytest.mark.parametrize("path", SHIPPED_SCENARIOS, ids=lambda p: p.stem)
def test_the_schema_accepts_each_shipped_scenario(path: Path) -> None:
    assert [e.message for e in _schema().iter_errors(_yaml(path.read_text()))] == []


def test_the_schema_refuses_a_broken_scenario() -> None:
    errors = list(_schema().iter_errors(_yaml(BROKEN.replace("@REPO@", "/repo"))))
    assert errors
    paths = {"/".join(map(str, e.absolute_path)) for e in errors}
    assert "" in paths  # colour: an unknown key at the top


def test_the_schema_knows_every_key_the_parser_knows() -> None:
    schema = json.loads((DRILLS / "scenario.schema.json").read_text())
    assert set(schema["properties"]) == set(scenario_mod.SCENARIO_KEYS)
    world = schema["$defs"]["world"]
    container = world["properties"]["containers"]["items"]["properties"]
    assert set(container) == docker_world.CONTAINER_KEYS
    channel_keys = set(world["properties"]["channels"]["anyOf"][0]["items"]["anyOf"][1]["properties"])
    assert channel_keys == sinks.CHANNEL_KEYS
    kinds = {next(iter(k["required"])): k["properties"] for k in schema["properties"]["expectations"]["items"]["oneOf"]}
    assert set(kinds) == set(criteria.EXPECTATION_KEYS)
    for kind, keys in criteria.EXPECTATION_KEYS.items():
        if keys:
            assert set(kinds[kind][kind]["properties"]) == keys, kind
    inject = set(schema["properties"]["injects"]["items"]["properties"])
    assert {"at", "container", "cloudrun", "note", "over", "stream", *scenario_mod.CONTAINER_CHANGES} <= inject
