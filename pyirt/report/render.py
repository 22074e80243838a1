"""Rendering a :class:`~pyirt.report.model.Report` as Markdown, HTML or JSON, and writing the files.

Templates are Jinja, looked up first in the user's template folder, then in the packaged
``templates/`` (``pyirt/templates`` in a wheel, ``<repo>/templates`` in a source checkout), so a
user's ``report/report.html.j2`` overrides ours. The environment is sandboxed with strict undefined;
HTML (every template but Markdown and plain text) is autoescaped. Report facts are data, never
templates: a log line holding ``{{ 7*7 }}`` stays those characters. JSON is not templated: it is
the model itself. Jinja is imported only here, when a report is rendered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyirt
from pyirt.errors import InvalidInput
from pyirt.report import text
from pyirt.report.facts import when
from pyirt.report.model import Report, to_dict

FORMATS = ("md", "html", "json", "pdf")
TEMPLATES = {"md": "report/report.md.j2", "html": "report/report.html.j2"}
_PLAIN = (".md.j2", ".md", ".txt", ".txt.j2")


def packaged_templates() -> Path | None:
    """``templates/`` as shipped: inside the installed package, else at the root of a checkout."""
    package = Path(pyirt.__file__).resolve().parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "report").is_dir():
            return candidate
    return None


def _autoescape(name: str | None) -> bool:
    return not (name or "").endswith(_PLAIN)


def _or_unknown(value: Any) -> Any:
    return "unknown" if value is None or value == "" else value


@lru_cache(maxsize=8)
def environment(template_dir: str | None = None) -> Any:
    """The Jinja environment for ``template_dir`` (the user's folder; may be None)."""
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    loaders = []
    if template_dir:
        if not Path(template_dir).is_dir():
            raise InvalidInput(f"template folder {template_dir} does not exist")
        loaders.append(FileSystemLoader(template_dir))
    shipped = packaged_templates()
    if shipped is not None:
        loaders.append(FileSystemLoader(str(shipped)))
    if not loaders:
        raise InvalidInput("no report templates: the packaged templates/ folder is missing; use --template-dir")
    env = SandboxedEnvironment(loader=ChoiceLoader(loaders), autoescape=_autoescape, undefined=StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update({
        "dur": text.duration, "rel": text.offset, "size": text.size, "pct": text.percent, "md": text.md_inline,
        "mdcode": text.md_code, "codeblock": text.md_code_block, "when": when, "unknown": _or_unknown,
    })
    return env


def href(path: str, base: str = "") -> str:
    """A relative link to a file of the incident folder (each segment percent-encoded)."""
    return quote(f"{base}{path}", safe="/")


def render(report: Report, fmt: str, *, template_dir: str | Path | None = None, link_base: str = "") -> str:
    """The report as text in ``fmt`` (md, html or json). ``link_base`` prefixes artifact links."""
    if fmt == "json":
        return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"
    if fmt not in TEMPLATES:
        raise InvalidInput(f"unknown report format {fmt!r}: use md, html, json or pdf")
    from jinja2 import TemplateError
    from markupsafe import Markup

    env = environment(str(template_dir) if template_dir else None)
    extra: dict[str, Any] = {}
    if fmt == "html":
        from pyirt.report.timeline import svg

        extra["timeline_svg"] = Markup(svg(report))  # noqa: S704 - built by timeline.svg, every text escaped
    try:
        template = env.get_template(TEMPLATES[fmt])
        return str(template.render(report=report, link=lambda p: href(p, link_base), **extra))
    except TemplateError as exc:
        file, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
        where = f"{file}:{line}: " if file else ""
        raise InvalidInput(f"report template {TEMPLATES[fmt]}: {where}{exc}") from None


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``path`` whole or not at all (a reader never sees half a report)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write(report: Report, formats: Iterable[str], folder: Path, *, template_dir: str | Path | None = None,
          ) -> list[Path]:
    """``report.<fmt>`` for each format in ``folder`` (the incident folder). PDF is printed from the HTML."""
    wanted = list(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise InvalidInput(f"unknown report format {', '.join(map(repr, unknown))}: use md, html, json or pdf")
    written: list[Path] = []
    for fmt in wanted:
        if fmt == "pdf":
            continue
        path = folder / f"report.{fmt}"
        write_atomic(path, render(report, fmt, template_dir=template_dir))
        written.append(path)
    if "pdf" in wanted:
        from pyirt.report import pdf

        html = folder / "report.html"
        if html not in written:
            html = folder / ".report.pdf-source.html"
            write_atomic(html, render(report, "html", template_dir=template_dir))
        try:
            written.append(pdf.print_pdf(html, folder / "report.pdf"))
        finally:
            if html.name.startswith("."):
                html.unlink(missing_ok=True)
    return written
