"""Hostile evidence comes out of every report format as inert text, and secrets come out masked:
``<script>`` and ``<img onerror>`` in log lines and errors, Jinja syntax, ANSI escapes, a 100 KB
line, invalid UTF-8, bidi controls, and a secret the log leaked (the report step masks the run's
own secret values; the built-in patterns mask ``password=...`` even without them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pyirt.cli import run as irt_run
from pyirt.report.load import read_report
from pyirt.report.render import render
from tests.report.conftest import CANARY

FENCED = re.compile(r"^(`{3,})text\n.*?^\1$", re.MULTILINE | re.DOTALL)


def reports(folder: Path) -> dict[str, str]:
    return {fmt: (folder / f"report.{fmt}").read_bytes().decode("utf-8") for fmt in ("md", "html", "json")}


def test_the_report_step_masks_the_runs_secrets_in_every_format(hostile: Path) -> None:
    # the careless test action did leak the value into its artifact; the report must not repeat it
    assert CANARY.encode() in (hostile / "artifacts" / "collect-logs" / "pixashot.stderr.log").read_bytes()
    for fmt, text in reports(hostile).items():
        assert CANARY not in text, fmt
        assert "leaked key ***" in text, fmt
        assert "password=***" in text, fmt


def test_hostile_log_lines_are_inert_in_html(hostile: Path) -> None:
    html = reports(hostile)["html"]
    assert "<script" not in html.lower()  # the template has none, and none got in
    assert "<img" not in html.lower() and "<h1>broken out" not in html
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;document.body.setAttribute(&#39;data-pwned&#39;,&#39;1&#39;)&#34;&gt;" in html
    assert "&lt;/pre&gt;&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;h1&gt;broken out&lt;/h1&gt;" in html
    assert "&lt;b&gt;pixashot&lt;/b&gt;" in html  # an input is data too
    assert "{{ 7*7 }}" in html and "{% for x in range(3) %}" in html  # data, never a template
    assert "{{ cycler.__init__.__globals__.os.system(&#39;id&#39;) }}" in html  # the hostile alert label
    assert 'http-equiv="Content-Security-Policy"' in html


def test_hostile_log_lines_are_inert_in_markdown(hostile: Path) -> None:
    md = reports(hostile)["md"]
    outside = FENCED.sub("", md)
    assert "<" not in outside.replace("&lt;", "") and ">" not in outside.replace("&gt;", "").replace("\n>", "\n")
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in outside  # the failed step's error
    blocks = "\n".join(m.group(0) for m in FENCED.finditer(md))
    assert "<script>document.title='PWNED'</script>" in blocks  # log lines: verbatim, inside a code block
    assert "\\{\\{ cycler.\\_\\_init\\_\\_" in outside  # escaped for Markdown and for wiki template engines


def test_control_characters_long_lines_and_bad_utf8_are_neutralised(hostile: Path) -> None:
    for fmt, text in reports(hostile).items():
        assert "\x1b" not in text and "\x07" not in text and "\x00" not in text and "\u202e" not in text, fmt
        assert "\\x07" in text and "\\u202e" in text, fmt  # shown, not obeyed
        assert "evil title" not in text, fmt  # an OSC title sequence is dropped whole
        assert "invalid utf-8 \ufffd\ufffd\ufffd( end" in text, fmt
        assert "A" * 100_000 not in text and "[cut; " in text, fmt
        assert max(len(line) for line in text.splitlines()) < 20_000, fmt


def test_json_carries_the_same_cleaned_facts(hostile: Path) -> None:
    data: dict[str, Any] = json.loads(reports(hostile)["json"])
    [log] = data["evidence"]["logs"]
    assert len(log["last_errors"]) == 10
    assert log["last_errors"][0].endswith("ERROR <script>document.title='PWNED'</script>")
    assert all(len(line) < 700 for line in log["last_errors"])
    failed = next(s for s in data["steps"] if s["id"] == "breaks")
    assert failed["error"] == "<script>document.title='PWNED'</script> {{ 7*7 }}"  # colours dropped
    assert any(line.endswith("ERROR red  bell\\x07  cleared") for line in log["last_errors"])
    assert data["detection"]["labels"] == [["alertname", "ContainerMemoryHigh"],
                                           ["service", "{{ cycler.__init__.__globals__.os.system('id') }}"]]


def test_irt_report_masks_secret_patterns_without_the_runs_values(hostile: Path, workdir: Path) -> None:
    code = irt_run(["report", hostile.name, "--format", "html", "--incident-dir", str(workdir / "incidents"),
                    "--output", str(workdir / "later.html")])
    assert code == 0
    html = (workdir / "later.html").read_text(encoding="utf-8")
    assert "password=***" in html  # a built-in pattern: masked in any process
    assert 'href="incidents/' in html  # links still lead to the incident folder
    # The run's own values are known only inside the run: the log kept the careless action's leak.
    report = read_report(hostile, values=[CANARY])
    for fmt in ("md", "html", "json"):
        assert CANARY not in render(report, fmt)
