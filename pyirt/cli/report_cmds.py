"""Body of ``irt report``: render an incident's post-incident report from its journal, any time."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyirt.engine import config as config_mod
from pyirt.engine import session, store
from pyirt.errors import EXIT_OK, InvalidInput, IrtError

FORMATS = ("md", "html", "json", "pdf")


def report(ref: str, fmt: str, template_dir: str | None, output: str | None, incident_dir: str | None,
           config_file: str | None) -> int:
    try:
        return _report(ref, fmt, template_dir, output, incident_dir, config_file)
    except OSError as exc:
        raise InvalidInput(f"cannot write the report: {exc}") from None


def _report(ref: str, fmt: str, template_dir: str | None, output: str | None, incident_dir: str | None,
            config_file: str | None) -> int:
    from pyirt.report.load import read_report
    from pyirt.report.render import render, write, write_atomic

    if fmt not in FORMATS:
        raise InvalidInput(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if template_dir and not Path(template_dir).is_dir():
        raise InvalidInput(f"template folder {template_dir} does not exist")
    if output == "-" and fmt == "pdf":
        raise InvalidInput("a PDF cannot go to stdout: give --output FILE")
    config = config_mod.load(config_file)
    folder = store.find(store.root(incident_dir), ref)
    try:
        specs = session.load_registry(config).specs()
    except IrtError:  # a broken plugin must not stop the report; it only loses the runbook's extras
        specs = None
    facts = read_report(folder, patterns=config.redact, specs=specs)
    if output == "-":
        sys.stdout.write(render(facts, fmt, template_dir=template_dir))
        return EXIT_OK
    if output is None:
        [path] = write(facts, [fmt], folder, template_dir=template_dir)
    else:
        path = Path(output)
        if path.is_dir():
            path = path / f"report.{fmt}"
        base = os.path.relpath(folder.resolve(), path.resolve().parent)
        base = "" if base == "." else base.replace(os.sep, "/") + "/"
        if fmt == "pdf":
            from pyirt.report import pdf

            html = folder / ".report.pdf-source.html"
            write_atomic(html, render(facts, "html", template_dir=template_dir))
            try:
                pdf.print_pdf(html, path)
            finally:
                html.unlink(missing_ok=True)
        else:
            write_atomic(path, render(facts, fmt, template_dir=template_dir, link_base=base))
    print(path)
    return EXIT_OK
