"""Making foreign text safe to show, and the report's number formats.

Everything a report shows that came from outside the runbook (log lines, errors, alert labels,
outputs) goes through :func:`clean` once, when the report model is built: ANSI escape sequences
are removed, other control and bidi characters are shown as ``\\xNN`` / ``\\uNNNN``, lone
surrogates and undecodable bytes become U+FFFD, and long text is cut with a note of how much was
cut. The result is inert plain text; each output format then escapes it for its own syntax
(autoescaping for HTML, :func:`md_inline` and :func:`md_code_block` for Markdown).

Formats are deterministic (no clock, no locale): the same journal gives the same report.
"""

from __future__ import annotations

import re

LINE_LIMIT = 500
TEXT_LIMIT = 2000

# CSI (colours, cursor moves), OSC (titles, hyperlinks; ended by BEL or ST), and two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x9b[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# C0 and C1 controls but tab, newline and CR; zero-width, direction and byte-order marks ("trojan source").
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]")
_NEWLINES = re.compile(r"\r\n|\r|\n")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: object, limit: int = LINE_LIMIT, *, oneline: bool = True) -> str:
    """``value`` as inert, printable text of at most about ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    length = len(text)
    text = text[: limit * 4]  # never scan megabytes to keep a few hundred characters
    # Lone surrogates (from JSON "\ud800" or surrogateescape) cannot be written as UTF-8.
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = _ANSI.sub("", text)
    text = _NEWLINES.sub(" \u21b5 " if oneline else "\n", text)
    if oneline:
        text = text.replace("\t", " ")
    text = _INVISIBLE.sub(_visible, text)
    if len(text) > limit or length > limit * 4:
        return f"{text[:limit]} \u2026 [cut; {length:,} characters in all]"
    return text


def clean_tree(value: object, limit: int = LINE_LIMIT) -> object:
    """A JSON-ready copy of ``value`` with every string (keys too) cleaned."""
    if isinstance(value, str):
        return clean(value, limit)
    if isinstance(value, dict):
        return {clean(str(k), 200): clean_tree(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_tree(v, limit) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return clean(str(value), limit)


# -- numbers and times ---------------------------------------------------------------------------------
def duration(seconds: float | None) -> str:
    """``420ms``, ``4.25s``, ``12.3s``, ``4m 05s``, ``2h 03m``, ``1d 02h``; ``unknown`` for None."""
    if seconds is None:
        return "unknown"
    if seconds < 0:
        return "-" + duration(-seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"


def offset(seconds: float | None) -> str:
    """A time relative to the incident's start: ``+0:04.250``, ``+1:02:03``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    sign = "-" if seconds < 0 else "+"
    value = abs(seconds)
    if value < 3600:
        minutes, rest = divmod(value, 60)
        return f"{sign}{int(minutes)}:{rest:06.3f}"
    whole = int(value)
    return f"{sign}{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def size(count: float | None) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 KiB``, ``4.0 GiB``."""
    if count is None:
        return "unknown"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop returns


def percent(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1f}%"


# -- Markdown -------------------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}|~])")
_MD_LEADING = re.compile(r"^(\s*)([#+=-])|^(\s*\d+)([.)])(?=\s|$)")


def md_inline(text: object) -> str:
    """Clean text that Markdown shows as written: no HTML, no emphasis, links or table breaks.

    ``<``, ``>`` and ``&`` become entities (raw HTML is allowed in Markdown), punctuation that
    Markdown gives a meaning gets a backslash. The text is expected to be :func:`clean` already."""
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", value.replace("\n", " "))
    return _MD_LEADING.sub(lambda m: f"{m[1] or m[3] or ''}\\{m[2] or m[4]}", value)


def md_code(text: object) -> str:
    """An inline code span that no content can close early."""
    value = str(text).replace("\n", " ")
    if not value:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or longest else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def md_code_block(lines: object, info: str = "text") -> str:
    """A fenced code block around ``lines`` (a string or a list), with a fence no line can match."""
    items = [str(x) for x in lines] if isinstance(lines, list | tuple) else str(lines).splitlines()
    longest = max((len(run) for line in items for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([f"{fence}{info}", *items, fence])
