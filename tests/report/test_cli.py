"""``irt report`` and the ``report.render`` action at their edges: formats, outputs, the user's
template folder overriding the packaged one, and the errors (each one line with its exit code)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pyirt
from pyirt.cli import run as irt_run
from pyirt.errors import EXIT_ENVIRONMENT, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_OK
from pyirt.report import render as render_mod
from tests.helpers import REPO
from tests.report.conftest import Respond

ID = "20261204T031502Z-pixashot-security-incident-3f9a"


def irt(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = irt_run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_default_is_markdown_in_the_incident_folder(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = irt(capsys, "report", "3f9a", "--incident-dir", str(seed.parent))
    assert (code, err) == (EXIT_OK, "")
    assert out.strip() == str(seed / "report.md")
    assert (seed / "report.md").read_text(encoding="utf-8").startswith("# Post-incident report: pixashot-security")


def test_json_to_stdout(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = irt(capsys, "report", ID, "--format", "json", "--output", "-", "--incident-dir", str(seed.parent))
    assert code == EXIT_OK
    data = json.loads(out)
    assert data["incident_id"] == ID and data["outcome"] == "completed_with_errors"
    assert {k["key"]: k["seconds"] for k in data["key_times"]} == {
        "detect": 314.593, "first_action": 0.021, "mitigate": 50.12, "resolve": 60.409}
    assert not (seed / "report.json").exists()


def test_html_elsewhere_links_back_to_the_incident_folder(seed: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "shared"
    out_dir.mkdir()
    code, out, _ = irt(capsys, "report", ID, "--format", "html", "-o", str(out_dir), "--incident-dir", str(seed.parent))
    assert code == EXIT_OK and out.strip() == str(out_dir / "report.html")
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert f'href="../incidents/{ID}/artifacts/collect-logs/pixashot.log"' in html
    assert f'href="../incidents/{ID}/journal.jsonl"' in html


def test_a_user_template_folder_overrides_the_packaged_templates(seed: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "my-templates" / "report"
    mine.mkdir(parents=True)
    (mine / "report.md.j2").write_text("Custom report for {{ report.incident_id }}: {{ report.outcome_text }}\n",
                                       encoding="utf-8")
    args = ("--template-dir", str(mine.parent), "--incident-dir", str(seed.parent))
    assert irt(capsys, "report", ID, *args)[0] == EXIT_OK
    assert (seed / "report.md").read_text(encoding="utf-8") == (
        f"Custom report for {ID}: Completed with errors: tell-people failed and the response went on.\n")
    assert irt(capsys, "report", ID, "--format", "html", *args)[0] == EXIT_OK  # not overridden: the packaged one
    assert "<svg" in (seed / "report.html").read_text(encoding="utf-8")


def test_a_user_html_template_is_autoescaped_and_sandboxed(seed: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "t" / "report"
    mine.mkdir(parents=True)
    (mine / "report.html.j2").write_text("{% for s in report.steps %}<p>{{ s.error }}</p>{% endfor %}",
                                         encoding="utf-8")
    assert irt(capsys, "report", ID, "--format", "html", "--template-dir", str(mine.parent),
               "--incident-dir", str(seed.parent))[0] == EXIT_OK
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in (seed / "report.html").read_text(encoding="utf-8")
    (mine / "report.html.j2").write_text("{{ report.__class__.__mro__ }}", encoding="utf-8")
    code, _, err = irt(capsys, "report", ID, "--format", "html", "--template-dir", str(mine.parent),
                       "--incident-dir", str(seed.parent))
    assert code == EXIT_INVALID and err.startswith("irt: error: report template report/report.html.j2")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "code", "message"), [
    (("--format", "xml"), EXIT_INVALID, "--format must be one of md, html, json, pdf; got 'xml'"),
    (("--format", "pdf", "-o", "-"), EXIT_INVALID, "a PDF cannot go to stdout: give --output FILE"),
    (("--template-dir", "/nonexistent/templates"), EXIT_INVALID,
     "template folder /nonexistent/templates does not exist"),
])
def test_bad_options_are_one_line_errors(seed: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                         code: int, message: str) -> None:
    got, _, err = irt(capsys, "report", ID, *args, "--incident-dir", str(seed.parent))
    assert (got, err) == (code, f"irt: error: {message}\n")


def test_an_output_that_cannot_be_written_is_one_line(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = irt(capsys, "report", ID, "-o", "/nonexistent/dir/report.md", "--incident-dir", str(seed.parent))
    assert code == EXIT_INVALID and err.startswith("irt: error: cannot write the report: ")
    assert len(err.strip().splitlines()) == 1


def test_an_unknown_incident_exits_4(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = irt(capsys, "report", "nope", "--incident-dir", str(seed.parent))
    assert code == EXIT_NOT_FOUND and "no incident 'nope'" in err


def test_pdf_without_chromium_says_what_to_install(seed: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRT_CHROMIUM", "/nonexistent/chromium")
    code, _, err = irt(capsys, "report", ID, "--format", "pdf", "--incident-dir", str(seed.parent))
    assert code == EXIT_ENVIRONMENT
    assert err.startswith("irt: error: PDF reports need headless Chromium, which is not installed: install "
                          "Debian's chromium (apt-get install chromium) or set IRT_CHROMIUM")
    assert not (seed / "report.pdf").exists() and not list(seed.glob(".report*"))


def test_report_render_without_chromium_writes_the_rest_and_fails_clearly(
        respond: Respond, workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRT_CHROMIUM", "/nonexistent/chromium")
    book = tmp_path / "pdf.yaml"
    book.write_text("apiVersion: irt/v1\nkind: Runbook\nname: pdf\nsteps:\n"
                    "  - {id: hello, action: notify.console, with: {text: hi}}\n"
                    "finally:\n  - {id: report, action: report.render, with: {formats: [md, pdf]}}\n", encoding="utf-8")
    result = respond(book)
    assert result.outcome == "completed_with_errors"
    step = result.state.step("report")
    assert step.status == "failed" and step.error.startswith("report.render: PDF reports need headless Chromium")
    assert (result.folder / "report.md").is_file() and not (result.folder / "report.pdf").exists()


def test_report_render_refuses_an_unknown_format(respond: Respond, tmp_path: Path) -> None:
    book = tmp_path / "bad.yaml"
    book.write_text("apiVersion: irt/v1\nkind: Runbook\nname: bad\nsteps:\n"
                    "  - {id: report, action: report.render, with: {formats: [md, docx]}}\n", encoding="utf-8")
    result = respond(book)
    assert result.outcome == "failed"
    assert result.state.step("report").error == "report.render: unknown format docx (use md, html, json, pdf)"


def test_templates_are_found_in_a_checkout_and_in_an_installed_package(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert render_mod.packaged_templates() == REPO / "templates"
    installed = tmp_path / "site-packages" / "pyirt"
    (installed / "templates" / "report").mkdir(parents=True)
    monkeypatch.setattr(pyirt, "__file__", str(installed / "__init__.py"))
    assert render_mod.packaged_templates() == installed / "templates"


def test_the_wheel_ships_the_templates() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"templates" = "pyirt/templates"' in pyproject
    assert '"pyirt.actions.report:ACTIONS"' in pyproject
    assert (REPO / "templates" / "report" / "report.md.j2").is_file()
    assert (REPO / "templates" / "report" / "report.html.j2").is_file()


def test_irt_report_is_listed_and_report_render_is_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = irt(capsys, "actions", "show", "report.render", "--json")
    assert code == EXIT_OK
    spec = json.loads(out)
    assert spec["idempotent"] is True and [p["name"] for p in spec["params"]] == ["formats", "template_dir"]
    code, out, _ = irt(capsys, "--help")
    assert code == EXIT_OK and "report" in out
