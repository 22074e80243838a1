"""Making foreign text inert (``clean``), escaping it for Markdown, and the report's number formats."""

from __future__ import annotations

import pytest

from pyirt.report import text


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[31mred\x1b[0m", "red"),
    ("title \x1b]0;evil\x07 after", "title  after"),
    ("link \x1b]8;;http://x\x1b\\text\x1b]8;;\x1b\\", "link text"),
    ("bell\x07 nul\x00 del\x7f", "bell\\x07 nul\\x00 del\\x7f"),
    ("c1 \x9b2J csi", "c1  csi"),
    ("bidi \u202eevil\u202c zero\u200bwidth", "bidi \\u202eevil\\u202c zero\\u200bwidth"),
    ("lone \ud800 surrogate", "lone \ufffd\ufffd\ufffd surrogate"),
    ("two\nlines\r\nand\rcr\ttab", "two \u21b5 lines \u21b5 and \u21b5 cr tab"),
    ("<script>{{ 7*7 }}</script>", "<script>{{ 7*7 }}</script>"),  # inert as text; each format escapes it
])
def test_clean_makes_text_printable_and_inert(raw: str, shown: str) -> None:
    assert text.clean(raw) == shown


def test_clean_cuts_long_text_and_says_how_long_it_was() -> None:
    cut = text.clean("x" * 100_000, 50)
    assert cut == "x" * 50 + " \u2026 [cut; 100,000 characters in all]"
    assert text.clean("y" * 50, 50) == "y" * 50


def test_clean_keeps_newlines_when_asked() -> None:
    assert text.clean("a\nb\tc", oneline=False) == "a\nb\tc"


def test_markdown_inline_escapes_html_and_markup() -> None:
    assert text.md_inline("<b>x</b> & *y* _z_ [l](u) `c` a|b {{ t }}") == (
        "&lt;b&gt;x&lt;/b&gt; &amp; \\*y\\* \\_z\\_ \\[l\\](u) \\`c\\` a\\|b \\{\\{ t \\}\\}")
    assert text.md_inline("# title") == "\\# title"
    assert text.md_inline("- item") == "\\- item"
    assert text.md_inline("12. item") == "12\\. item"
    assert text.md_inline("3.5 GiB, a-b") == "3.5 GiB, a-b"


def test_markdown_code_cannot_be_closed_by_its_content() -> None:
    assert text.md_code("plain") == "`plain`"
    assert text.md_code("a`b") == "`` a`b ``"
    block = text.md_code_block(["x ``` y", "````"])
    assert block.splitlines()[0] == "`````text" and block.splitlines()[-1] == "`````"


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, "unknown"), (0.0042, "4ms"), (0.42, "420ms"), (4.256, "4.26s"), (12.34, "12.3s"), (245, "4m 05s"),
    (7380, "2h 03m"), (93600, "1d 02h"), (-3, "-3.00s"),
])
def test_durations(seconds: float | None, shown: str) -> None:
    assert text.duration(seconds) == shown


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, "?"), (0, "+0:00.000"), (4.25, "+0:04.250"), (62.5, "+1:02.500"), (3723, "+1:02:03"), (-5, "-0:05.000"),
])
def test_offsets(seconds: float | None, shown: str) -> None:
    assert text.offset(seconds) == shown


def test_sizes_and_percentages() -> None:
    assert [text.size(n) for n in (None, 512, 1536, 4 * 1024**3)] == ["unknown", "512 B", "1.5 KiB", "4.0 GiB"]
    assert text.percent(93.414) == "93.4%" and text.percent(None) == "unknown"
