"""Reading an incident folder into a report: the journal as written so far, the artifact files,
the last error lines of collected logs, and the runbook when its file is still the one that ran.

Every string from the folder passes a scrubber first: the built-in secret patterns, the config's
``redact`` patterns and, inside a run, the run's own secret values. The journal was sanitized
when written; logs were scrubbed when collected; this is the last line of defence, not the first.
"""

from __future__ import annotations

import gzip
import re
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from pyirt.core import journal
from pyirt.core.actionspec import ActionSpec
from pyirt.core.model import Runbook
from pyirt.core.redaction import ByteScrubber
from pyirt.report.build import MITIGATING, build_report
from pyirt.report.model import Artifact, Report

JOURNAL = "journal.jsonl"
TAIL_BYTES = 1024 * 1024  # the last error lines are looked for in the last MiB of a plain log
GZIP_LIMIT = 256 * 1024 * 1024  # ... and in at most this much of a compressed one
MAX_LINE = 4096  # bytes of a log line kept before cleaning cuts it further
ERROR_LINES = 5
MAX_ARTIFACTS = 2000


class Scrubber:
    """Masks secrets in text and in log bytes."""

    def __init__(self, patterns: Iterable[str] = (), values: Iterable[str] = ()) -> None:
        self._bytes = ByteScrubber(list(patterns), list(values))

    def data(self, block: bytes) -> bytes:
        return self._bytes(block)[0]

    def __call__(self, text: str) -> str:
        return self.data(text.encode("utf-8", "surrogatepass")).decode("utf-8", "replace")


def default_error_pattern() -> str:
    from pyirt.actions.docker.collect import DEFAULT_ERROR_PATTERN  # the same test docker.logs counts with

    return DEFAULT_ERROR_PATTERN


def _pattern(source: Any) -> re.Pattern[bytes]:
    if isinstance(source, str) and source:
        try:
            return re.compile(source.encode())
        except re.error:
            pass
    return re.compile(default_error_pattern().encode())


def _tail_lines(path: Path) -> list[bytes]:
    if path.name.endswith(".gz"):
        kept: deque[bytes] = deque(maxlen=4096)
        read = 0
        with gzip.open(path, "rb") as fh:
            for line in fh:
                read += len(line)
                kept.append(line[:MAX_LINE])
                if read > GZIP_LIMIT:
                    break
        return list(kept)
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        start = max(0, size - TAIL_BYTES)
        fh.seek(start)
        data = fh.read()
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the first one is cut
    return [line[:MAX_LINE] for line in lines]


def last_error_lines(path: Path, pattern: re.Pattern[bytes], scrub: Scrubber,
                     count: int = ERROR_LINES) -> tuple[str, ...]:
    """The last ``count`` lines of a log file that match ``pattern``, scrubbed and decoded."""
    try:
        lines = _tail_lines(path)
    except (OSError, EOFError, gzip.BadGzipFile):
        return ()
    found: list[bytes] = []
    for line in reversed(lines):
        if pattern.search(line):
            found.append(line.rstrip(b"\r"))
            if len(found) == count:
                break
    return tuple(scrub.data(line).decode("utf-8", "replace") for line in reversed(found))


def scan_artifacts(folder: Path, state: journal.IncidentState, scrub: Scrubber) -> tuple[list[Artifact], bool]:
    """The files under ``artifacts/`` (symbolic links are not followed) and whether the list was cut."""
    root = folder / "artifacts"
    if not root.is_dir() or root.is_symlink():
        return [], False
    found: list[Artifact] = []
    inside = root.resolve()
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(inside):
            continue
        if len(found) == MAX_ARTIFACTS:
            return found, True
        parts = path.relative_to(root).parts
        step = parts[0] if len(parts) > 1 else ""
        errors: tuple[str, ...] = ()
        if path.name.endswith((".log", ".log.gz")):
            errors = last_error_lines(path, _pattern(state.step(step).params.get("error_pattern")), scrub)
        found.append(Artifact(path=path.relative_to(folder).as_posix(), size=path.stat().st_size, step=step,
                              last_errors=errors))
    return found, False


def read_runbook(state: journal.IncidentState) -> tuple[Runbook | None, str]:
    """The runbook that ran, parsed (without the action checks: a plugin may be gone), or None and why not.
    It is used only when its digest is the journal's."""
    from pyirt.core.parse import parse_runbook
    from pyirt.errors import IrtError

    if not state.runbook_path:
        return None, ""
    path = Path(state.runbook_path)
    try:
        book = parse_runbook(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, IrtError):
        return None, "The runbook file could not be read again: steps that never ran are not listed."
    return book, ""


def read_report(
    folder: Path,
    *,
    patterns: Iterable[str] = (),
    values: Iterable[str] = (),
    specs: Mapping[str, ActionSpec] | None = None,  # only to know which actions change things
    mitigating: Collection[str] = (),
    current_step: str = "",
) -> Report:
    """The report of the incident in ``folder``, from its journal as written so far."""
    scrub = Scrubber(patterns, values)
    parsed = journal.parse((folder / JOURNAL).read_bytes())
    events = [journal.sanitize(e, scrub) for e in parsed.events]
    state = journal.fold(events)
    notes: list[str] = []
    if parsed.torn:
        notes.append("The journal's last line was incomplete (the process stopped while writing it) and is left out.")
    runbook, why = read_runbook(state)
    if why:
        notes.append(why)
    artifacts, cut = scan_artifacts(folder, state, scrub)
    if cut:
        notes.append(f"Only the first {MAX_ARTIFACTS} artifact files are listed.")
    destructive = {name for name, spec in (specs or {}).items() if spec.destructive}
    return build_report(events, runbook=runbook, artifacts=artifacts,
                        mitigating=MITIGATING | destructive | set(mitigating), notes=notes,
                        current_step=current_step)
