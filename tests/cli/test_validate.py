"""``irt validate`` and ``irt schema``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
from ruamel.yaml import YAML

from pyirt.errors import EXIT_INVALID, EXIT_OK
from tests.cli.conftest import Irt
from tests.helpers import CONFIGS, RUNBOOKS, SHIPPED


def test_good_runbooks_validate(irt_run: Irt) -> None:
    shipped = SHIPPED / "local-drill.yaml"
    ran = irt_run("validate", str(shipped), str(RUNBOOKS / "every-feature.yaml"))
    assert ran.code == EXIT_OK, ran.out + ran.err
    assert ran.out.splitlines() == [f"{shipped}: ok (local-drill, 5 steps)",
                                    f"{RUNBOOKS / 'every-feature.yaml'}: ok (every-feature, 6 steps)"]


def test_every_problem_of_every_file_is_printed_with_its_place(irt_run: Irt, workdir: Path) -> None:
    shutil.copy(RUNBOOKS / "every-error.yaml", workdir / "bad.yaml")
    shutil.copy(RUNBOOKS / "yaml-syntax.yaml", workdir / "syntax.yaml")
    shutil.copy(RUNBOOKS / "minimal.yaml", workdir / "good.yaml")
    ran = irt_run("validate", "bad.yaml", "syntax.yaml", "good.yaml", "missing.yaml")
    assert ran.code == EXIT_INVALID
    lines = ran.out.splitlines()
    assert "bad.yaml:23:11: steps[3].with.url: required" in lines
    assert "bad.yaml:4:1: colour: unknown key" in lines
    assert "bad.yaml:18:9: steps[2].id: duplicate step id 'announce'" in lines
    assert "bad.yaml:16:13: steps[1].action: unknown action 'http.chek' (did you mean 'http.check'?)" in lines
    assert "bad.yaml:20:18: steps[2].with.text: refers to step 'ghost', which does not exist" in lines
    assert "bad.yaml:14:18: steps[0].with.text: refers to step 'check', which runs later" in lines
    assert "bad.yaml:24:14: steps[3].timeout: not a duration: '5 minutes' (use 500ms, 30s, 5m, 2h, 1d)" in lines
    assert "bad.yaml:7:17: inputs.level.type: must be one of string, int, bool, duration, list" in lines
    assert len([line for line in lines if line.startswith("bad.yaml:")]) == 20
    assert any(line.startswith("syntax.yaml:7:4: YAML: ") for line in lines)
    assert "missing.yaml:0:0: runbook missing.yaml does not exist" in lines
    assert "good.yaml: ok (minimal, 1 steps)" in lines


def test_validate_json(irt_run: Irt, workdir: Path) -> None:
    shutil.copy(RUNBOOKS / "every-error.yaml", workdir / "bad.yaml")
    shutil.copy(RUNBOOKS / "minimal.yaml", workdir / "good.yaml")
    ran = irt_run("validate", "--json", "bad.yaml", "good.yaml")
    assert ran.code == EXIT_INVALID
    report = json.loads(ran.out)
    assert report["ok"] is False
    assert report["files"] == [{"file": "bad.yaml", "ok": False, "errors": 20},
                               {"file": "good.yaml", "ok": True, "runbook": "minimal", "steps": 1}]
    assert {"file": "bad.yaml", "line": 23, "column": 11, "path": "steps[3].with.url",
            "message": "required"} in report["errors"]


def test_validation_knows_the_actions_of_configured_plugins(irt_run: Irt, workdir: Path) -> None:
    (workdir / "rb.yaml").write_text(
        "apiVersion: irt/v1\nname: p\nsteps:\n  - {id: f, action: fixture.flaky, with: {failures: 2}}\n")
    without = irt_run("validate", "rb.yaml")
    assert without.code == EXIT_INVALID
    assert "rb.yaml:4:21: steps[0].action: unknown action 'fixture.flaky'" in without.out
    with_plugins = irt_run("validate", "rb.yaml", "--config", str(CONFIGS / "fixture-actions.yaml"))
    assert with_plugins.code == EXIT_INVALID
    assert with_plugins.out.splitlines() == ["rb.yaml:4:42: steps[0].with.counter: required"]


def test_schema_prints_a_json_schema_that_accepts_the_shipped_runbook(irt_run: Irt) -> None:
    ran = irt_run("schema")
    assert ran.code == EXIT_OK
    schema = json.loads(ran.out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert set(schema["properties"]) >= {"apiVersion", "kind", "name", "inputs", "steps", "finally"}
    actions = schema["$defs"]["step"]["properties"]["action"]["enum"]
    assert {"flow.approve", "flow.wait", "http.check", "notify.console"} <= set(actions)
    assert actions == sorted(actions)
    runbook = YAML(typ="safe", pure=True).load((SHIPPED / "local-drill.yaml").read_text())
    jsonschema.validate(runbook, schema, cls=jsonschema.Draft202012Validator)


def test_schema_includes_configured_plugins(irt_run: Irt) -> None:
    schema = json.loads(irt_run("schema", "--config", str(CONFIGS / "fixture-actions.yaml")).out)
    assert "fixture.flaky" in schema["$defs"]["step"]["properties"]["action"]["enum"]
