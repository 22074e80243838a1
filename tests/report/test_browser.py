"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``, installed by
``scripts/engines up``) renders it, a screenshot is saved under ``test-artifacts/report/`` for people
to look at, and the DOM proves that the ``<script>`` and ``<img onerror>`` planted in a log line
stayed text. A control page shows that this same Chromium does run scripts, so the proof is not
vacuous. The PDF is printed by the same browser."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pyirt.report import pdf
from pyirt.report.load import read_report
from pyirt.report.render import write
from tests.report.conftest import ARTIFACTS

pytestmark = pytest.mark.skipif(pdf.find_chromium() is None,
                                reason="chromium is not installed (scripts/engines up installs Debian's chromium)")


def dump_dom(page: Path) -> str:
    done = pdf.run(["--dump-dom", page.resolve().as_uri()])
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(page: Path, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / name
    target.unlink(missing_ok=True)
    done = pdf.run([f"--screenshot={target}", "--window-size=1280,2000", page.resolve().as_uri()])
    assert done.returncode == 0 and target.is_file(), done.stderr[-2000:]
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000  # a page was drawn, not a blank
    return target


def test_this_chromium_runs_scripts_on_a_page_that_has_them(tmp_path: Path) -> None:
    page = tmp_path / "control.html"
    page.write_text("<!DOCTYPE html><title>before</title><body><script>document.title='PWNED';"
                    "document.body.setAttribute('data-pwned','1')</script></body>", encoding="utf-8")
    dom = dump_dom(page)
    assert "<title>PWNED</title>" in dom and 'data-pwned="1"' in dom


def test_a_script_planted_in_a_log_line_does_not_run(hostile: Path) -> None:
    page = hostile / "report.html"
    dom = dump_dom(page)
    title = re.search(r"<title>(.*?)</title>", dom, re.DOTALL)
    assert title and title.group(1).startswith("Post-incident report: report-hostile on &lt;b&gt;pixashot")
    assert "PWNED" not in title.group(1)
    body = re.search(r"<body[^>]*>", dom)
    assert body and "data-pwned" not in body.group(0)
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert "<h1>broken out</h1>" not in dom
    # ...and the hostile lines are on the page, as text
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in dom
    assert "&lt;img src=x onerror=\"document.body.setAttribute('data-pwned','1')\"&gt;" in dom
    shot = screenshot(page, "hostile-report.png")
    assert shot.stat().st_size > 20_000


def test_the_seed_report_renders_and_prints(seed: Path) -> None:
    report = read_report(seed)
    written = write(report, ["html", "pdf"], seed)
    assert [p.name for p in written] == ["report.html", "report.pdf"]
    dom = dump_dom(seed / "report.html")
    assert dom.count("<rect") > 10 and 'class="timeline"' in dom  # the inline SVG timeline is drawn
    screenshot(seed / "report.html", "seed-report.png")
    data = (seed / "report.pdf").read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 10_000
    assert not list(seed.glob(".*.tmp")) and not (seed / ".report.pdf-source.html").exists()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(seed / "report.pdf", ARTIFACTS / "seed-report.pdf")
