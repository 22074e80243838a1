"""Bodies of ``irt secrets status`` and ``irt sim secrets``.

``irt secrets status`` checks every secret listed in irt.yaml (``secrets:``, then ``audit.secrets``):
the age of its current version against the rotation policy, old versions still enabled, and values
shared between environments. Exit codes: 0 all fine, 1 something is overdue, shared or unreadable
(so it can run from cron or CI), 2 bad configuration, 6 a provider's SDK is missing.

``irt sim secrets --world FILE`` serves the ``secrets:`` section of a World: GCP Secret Manager over
HTTP (``--port``, default 8086) and Azure Key Vault over HTTPS (``--azure-port``, default 8443) with a
self-signed certificate written to ``--ca-file``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from pyirt.cli.sim_cmds import serve_until_stopped
from pyirt.errors import EXIT_FAILED, EXIT_OK, InvalidInput


def status(max_age: str, json_out: bool, config_file: str | None) -> int:
    from pyirt.actions.api import ActionContext
    from pyirt.actions.secrets.status import collect, configured, render_table
    from pyirt.core.durations import parse_duration
    from pyirt.core.secrets import Redactor
    from pyirt.engine import config as config_mod
    from pyirt.errors import ActionError

    config = config_mod.load(config_file)
    try:
        policy = parse_duration(max_age)
    except ValueError as exc:
        raise InvalidInput(f"--max-age: {exc}") from None
    redact = Redactor(config.redact)
    ctx = ActionContext(incident_id="", step_id="secrets-status", incident_dir=Path.cwd(), config=config.raw,
                        redact=redact, log=lambda text: print(f"irt: {redact(text)}", file=sys.stderr))
    try:
        entries = configured(config.raw, policy)
    except ActionError as exc:
        raise InvalidInput(f"{config.path or 'irt.yaml'}: {exc}") from None
    if not entries:
        raise InvalidInput(f"{config.path or 'irt.yaml'} lists no secrets: add a secrets: list of "
                           "{provider, name, ...} entries")
    report = collect(entries, ctx)
    if json_out:
        print(json.dumps(report, indent=2))
    else:
        print(render_table(report))
    return EXIT_OK if report["ok"] else EXIT_FAILED


def sim(world: str, port: int, azure_port: int, host: str, ca_file: str, quiet: bool) -> int:
    from pyirt.sim.keyvault import KeyVaultSimulator
    from pyirt.sim.secretmanager import SecretManagerSimulator

    log = None if quiet else (lambda line: print(line, file=sys.stderr))
    try:
        gcp = SecretManagerSimulator.from_file(world, host=host, port=port, log=log)
        azure = KeyVaultSimulator.from_file(world, host=host, port=azure_port, log=log)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    started = []
    try:
        for simulator, where in ((gcp, port), (azure, azure_port)):
            try:
                simulator.start()
            except OSError as exc:
                raise InvalidInput(f"cannot listen on {host}:{where}: {exc.strerror or exc}") from None
            started.append(simulator)
        ca = Path(ca_file).expanduser().resolve()
        try:
            shutil.copyfile(azure.ca_path, ca)  # the certificate only: its key stays in the simulator's folder
        except OSError as exc:
            raise InvalidInput(f"cannot write the certificate to {ca}: {exc.strerror or exc}") from None
        names = [f"{p}/{n}" for p, n in gcp.world.secret_keys()]
        print(f"GCP Secret Manager simulator on {gcp.url} (secrets: {', '.join(names) or 'none'})", file=sys.stderr)
        print(f"Azure Key Vault simulator on {azure.url} (secrets: {', '.join(azure.world.names()) or 'none'}; "
              f"certificate {ca}); Ctrl-C stops them", file=sys.stderr)
        print(f"irt.yaml:  providers: {{gcp_secrets: {{endpoint: {gcp.url}, credentials: anonymous}}, "
              f"azure: {{vault_url: {azure.url}, ca_bundle: {ca}, credential: static}}}}", file=sys.stderr)
        serve_until_stopped()
    finally:
        for simulator in reversed(started):
            simulator.stop()
    print("secret store simulators stopped", file=sys.stderr)
    return EXIT_OK
