"""Drills reach every simulated secret store: Azure Key Vault (HTTPS, its own certificate) as well as
GCP Secret Manager, with faults on the store's own operations."""

from __future__ import annotations

from pathlib import Path

from pyirt.drill.run import run_drill
from tests.drill.conftest import WriteScenario
from tests.helpers import REPO


def test_a_token_in_key_vault_is_rotated_through_a_failing_write(tmp_path: Path,
                                                                   write_scenario: WriteScenario) -> None:
    scenario = write_scenario(f"""
kind: Scenario
runbook: {REPO / "runbooks" / "token-compromise.yaml"}
inputs: {{provider: azure, secret: pixashot-auth-token}}
world:
  secrets: [{{provider: azure, name: pixashot-auth-token, versions: [{{age: 100d}}]}}]
approve_after: 100ms
faults:
  - {{target: secrets, provider: azure, op: SetSecret, status: 503, times: 1}}
expectations:
  - {{secret: {{provider: azure, name: pixashot-auth-token, rotated: true, previous: disabled}}, within: 30s}}
  - {{no_failed_steps: true}}
""")
    card = run_drill(scenario, incident_dir=tmp_path / "out", sync=False)
    assert card.passed, card.text()
    assert card.verdicts[0].evidence.startswith("secret pixashot-auth-token: new version ")
    assert [e.text for e in card.events] == ["secrets SetSecret: status 503, 1 time"]
