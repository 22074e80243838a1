"""The Typer application: commands and their options. Bodies live in small modules beside it."""

from __future__ import annotations

from typing import Annotated

import typer

from pyirt import __version__

app = typer.Typer(
    name="irt",
    help="Incident-response runbooks: respond, resume, plan, validate. Exit codes: 0 success, "
    "1 runbook failed, 2 invalid input, 3 stopped (resumable), 4 incident not found, "
    "5 conflict, 6 missing dependency or plugin, 70 internal error.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
)
incidents_app = typer.Typer(help="List and show incidents.", rich_markup_mode=None, no_args_is_help=True)
actions_app = typer.Typer(help="List and describe actions.", rich_markup_mode=None, no_args_is_help=True)
sim_app = typer.Typer(help="Serve simulated backends for drills, demos and tests (127.0.0.1 only).",
                      rich_markup_mode=None, no_args_is_help=True)
app.add_typer(incidents_app, name="incidents")
app.add_typer(actions_app, name="actions")
app.add_typer(sim_app, name="sim")
secrets_app = typer.Typer(help="Check secrets against their rotation policy.", rich_markup_mode=None,
                          no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")

ConfigOpt = Annotated[str | None, typer.Option("--config", help="irt.yaml to use (default $IRT_CONFIG, ./irt.yaml)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
DirOpt = Annotated[str | None, typer.Option("--incident-dir", help="where incidents live ($IRT_HOME/incidents)")]
InputOpt = Annotated[list[str] | None, typer.Option("-i", "--input", help="runbook input KEY=VALUE (repeatable)")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="approve every approval gate")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"irt {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    """irt: run incident-response runbooks (use --debug anywhere for tracebacks)."""


@app.command()
def respond(
    runbook: Annotated[str, typer.Argument(help="runbook file")],
    inputs: InputOpt = None,
    yes: YesOpt = False,
    incident_dir: DirOpt = None,
    alert: Annotated[str | None, typer.Option("--alert", help="JSON file: the alert's labels and annotations")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> int:
    """Open an incident and run RUNBOOK's steps, journaling each one."""
    from pyirt.cli import run_cmds

    return run_cmds.respond(runbook, inputs or [], yes, incident_dir, alert, json_out, config)


@app.command()
def resume(
    incident: Annotated[str, typer.Argument(help="incident id (or a unique prefix or suffix)")],
    yes: YesOpt = False,
    in_doubt: Annotated[str, typer.Option("--in-doubt", help="for a step that started and never ended: "
                                          "ask, rerun, skip or fail")] = "ask",
    force: Annotated[bool, typer.Option("--force", help="resume even though the runbook file changed")] = False,
    incident_dir: DirOpt = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> int:
    """Continue an interrupted or paused incident where it stopped."""
    from pyirt.cli import run_cmds

    return run_cmds.resume(incident, yes, in_doubt, force, incident_dir, json_out, config)


@app.command()
def plan(
    runbook: Annotated[str, typer.Argument(help="runbook file")],
    inputs: InputOpt = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> int:
    """Dry run: every step with its rendered parameters; nothing is executed."""
    from pyirt.cli import run_cmds

    return run_cmds.plan(runbook, inputs or [], json_out, config)


@app.command()
def validate(
    runbooks: Annotated[list[str], typer.Argument(help="runbook files")],
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> int:
    """Check runbooks; report every error with file, line, column and path."""
    from pyirt.cli import info_cmds

    return info_cmds.validate(runbooks, json_out, config)


@app.command()
def schema(config: ConfigOpt = None) -> int:
    """Print the JSON Schema of the runbook format."""
    from pyirt.cli import info_cmds

    return info_cmds.schema(config)


@incidents_app.command("list")
def incidents_list(incident_dir: DirOpt = None, json_out: JsonOpt = False, config: ConfigOpt = None) -> int:
    """List incidents, newest last."""
    from pyirt.cli import info_cmds

    return info_cmds.incidents_list(incident_dir, json_out)


@incidents_app.command("show")
def incidents_show(
    incident: Annotated[str, typer.Argument(help="incident id (or a unique prefix or suffix)")],
    incident_dir: DirOpt = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> int:
    """Show an incident's state, folded from its journal."""
    from pyirt.cli import info_cmds

    return info_cmds.incidents_show(incident, incident_dir, json_out)


@app.command()
def report(
    incident: Annotated[str, typer.Argument(help="incident id (or a unique prefix or suffix)")],
    fmt: Annotated[str, typer.Option("--format", help="md, html, json or pdf (pdf needs Chromium)")] = "md",
    template_dir: Annotated[str | None, typer.Option("--template-dir", help="folder whose templates override "
                                                     "the packaged ones (report/report.md.j2, ...)")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="file to write, or - for stdout "
                                               "(default: report.FORMAT in the incident folder)")] = None,
    incident_dir: DirOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Render the post-incident report from the incident's journal and artifacts (any time, again)."""
    from pyirt.cli import report_cmds

    return report_cmds.report(incident, fmt, template_dir, output, incident_dir, config)


@actions_app.command("list")
def actions_list(json_out: JsonOpt = False, config: ConfigOpt = None) -> int:
    """List every registered action."""
    from pyirt.cli import info_cmds

    return info_cmds.actions_list(json_out, config)


@actions_app.command("show")
def actions_show(
    name: Annotated[str, typer.Argument(help="action name, e.g. http.check")],
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> int:
    """Describe an action: its parameters, outputs and nature."""
    from pyirt.cli import info_cmds

    return info_cmds.actions_show(name, json_out, config)


@sim_app.command("cloudrun")
def sim_cloudrun(
    world: Annotated[str, typer.Option("--world", help="World file (kind: World) with a cloudrun: section")],
    port: Annotated[int, typer.Option("--port", help="port to listen on (0: any free one)")] = 8085,
    host: Annotated[str, typer.Option("--host", help="loopback address to bind")] = "127.0.0.1",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="do not log each request")] = False,
) -> int:
    """Serve the Cloud Run Admin API v2 for a World file until Ctrl-C."""
    from pyirt.cli import sim_cmds

    return sim_cmds.cloudrun(world, port, host, quiet)


@sim_app.command("secrets")
def sim_secrets(
    world: Annotated[str, typer.Option("--world", help="World file (kind: World) with a secrets: section")],
    port: Annotated[int, typer.Option("--port", help="GCP Secret Manager port (0: any free one)")] = 8086,
    azure_port: Annotated[int, typer.Option("--azure-port", help="Azure Key Vault (HTTPS) port")] = 8443,
    host: Annotated[str, typer.Option("--host", help="loopback address to bind")] = "127.0.0.1",
    ca_file: Annotated[str, typer.Option("--ca-file", help="where to write the Key Vault simulator's "
                                         "certificate (providers.azure.ca_bundle)")] = "sim-ca.pem",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="do not log each request")] = False,
) -> int:
    """Serve GCP Secret Manager and Azure Key Vault for a World file until Ctrl-C."""
    from pyirt.cli import secrets_cmds

    return secrets_cmds.sim(world, port, azure_port, host, ca_file, quiet)


@secrets_app.command("status")
def secrets_status(
    max_age: Annotated[str, typer.Option("--max-age", help="rotation policy for entries without their own "
                                         "max_age")] = "90d",
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> int:
    """Age of each configured secret's current version against the policy, enabled old versions, values
    shared between environments. Exit 1 when something is overdue, shared or unreadable."""
    from pyirt.cli import secrets_cmds

    return secrets_cmds.status(max_age, json_out, config)


@app.command()
def drill(
    runbook: Annotated[str | None, typer.Argument(help="runbook file (default: the scenario's runbook:)")] = None,
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Scenario file (kind: Scenario): the world, "
                                          "injects, faults and expectations")] = "",
    inputs: InputOpt = None,
    incident_dir: Annotated[str | None, typer.Option("--incident-dir", help="where drill incidents go "
                                                     "($IRT_HOME/drills, else ./drills-out)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the scorecard as one JSON object")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no step progress, only the scorecard")] = False,
) -> int:
    """Run a runbook against a simulated world (never the real one) and score the response.
    Exit 0 when every expectation is met, 1 when one is not."""
    from pyirt.cli import drill_cmds
    from pyirt.errors import InvalidInput

    if not scenario:
        raise InvalidInput("irt drill needs --scenario FILE (see drills/*.yaml)")
    return drill_cmds.drill(runbook, scenario, inputs or [], incident_dir, json_out, quiet)


@sim_app.command("docker")
def sim_docker(
    world: Annotated[str, typer.Option("--world", help="World file (kind: World) with a containers: section")],
    socket_path: Annotated[str | None, typer.Option("--socket", help="unix socket to serve on (default: a new "
                                                    "one in a temporary folder)")] = None,
    port: Annotated[int | None, typer.Option("--port", help="serve on 127.0.0.1:PORT instead of a unix socket "
                                             "(0: any free port)")] = None,
    host: Annotated[str, typer.Option("--host", help="loopback address to bind with --port")] = "127.0.0.1",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="do not log each request")] = False,
) -> int:
    """Serve the Docker Engine API for a World file's containers until Ctrl-C."""
    from pyirt.cli import drill_cmds

    return drill_cmds.docker(world, socket_path, port, host, quiet)


@sim_app.command("all")
def sim_all(
    world: Annotated[str, typer.Option("--world", help="World file (kind: World)")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="do not log each request")] = False,
) -> int:
    """Serve every simulator of a World file (Docker, Cloud Run, secret stores, notification sinks)
    and print the irt.yaml that points at them, until Ctrl-C."""
    from pyirt.cli import drill_cmds

    return drill_cmds.all_sims(world, quiet)
