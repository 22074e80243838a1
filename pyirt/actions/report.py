"""``report.render``: write the post-incident report from the journal as written so far.

Usually a ``finally`` step. The report is derived from the journal and the artifacts, never the
other way round: rendering it again (here or with ``irt report ID``) gives the same facts, plus
whatever happened since. The run's own secret values are masked, with the config's patterns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyirt.actions.api import Action, ActionContext
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.errors import ActionError, IrtError

DEFAULT_FORMATS = ("md", "html", "json")
FORMATS = ("md", "html", "json", "pdf")


def _formats(value: Any) -> list[str]:
    if value in (None, "", []):
        return list(DEFAULT_FORMATS)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(f, str) for f in items):
        raise ActionError("report.render: formats must be a list of md, html, json, pdf", retryable=False)
    unknown = [f for f in items if f not in FORMATS]
    if unknown:
        raise ActionError(f"report.render: unknown format {', '.join(unknown)} (use md, html, json, pdf)",
                          retryable=False)
    return list(dict.fromkeys(items))


def _specs(config: Mapping[str, Any]) -> Any:
    """The registered actions' specs (to re-read the runbook and know which actions change things)."""
    from pyirt.actions import registry

    plugins = config.get("plugins")
    try:
        return registry.load([str(p) for p in plugins] if isinstance(plugins, list) else []).specs()
    except IrtError:
        return None


class Render(Action):
    spec = ActionSpec(
        name="report.render",
        summary="Write the post-incident report (report.md, .html, .json, .pdf) from the journal so far.",
        params=(
            Param("formats", "list", default=list(DEFAULT_FORMATS), doc="any of md, html, json, pdf"),
            Param("template_dir", "string", doc="a folder whose templates override the packaged ones"),
        ),
        idempotent=True,
        backend="report",
        outputs=("files", "formats"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        from pyirt.report.load import read_report
        from pyirt.report.render import write

        formats = _formats(params.get("formats"))
        patterns = ctx.config.get("redact")
        try:
            report = read_report(ctx.incident_dir, patterns=[str(p) for p in patterns or []],
                                 values=ctx.redact.values, specs=_specs(ctx.config), current_step=ctx.step_id)
            files = write(report, formats, ctx.incident_dir, template_dir=params.get("template_dir") or None)
        except IrtError as exc:  # a bad template or no Chromium: the other formats are written already
            raise ActionError(f"report.render: {exc}", backend="report", retryable=False) from None
        except OSError as exc:
            raise ActionError(f"report.render: cannot write the report: {exc}", backend="report") from None
        return {"files": [p.name for p in files], "formats": formats}

    def describe(self, params: Mapping[str, Any]) -> str:
        try:
            return f"write the report as {', '.join(_formats(params.get('formats')))}"
        except ActionError:
            return "write the report"


ACTIONS = [Render]
