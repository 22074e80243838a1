"""Appends events to ``journal.jsonl``: each line written whole and fsynced before the caller goes
on to the side effect it announces. Opening an existing journal cuts a torn last line first."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyirt.core import journal


class JournalWriter:
    def __init__(self, path: Path, redact: Callable[[str], str], *, sync: bool = True) -> None:
        self.path = path
        self._redact = redact
        self._sync = sync
        existed = path.exists()
        self.repaired_bytes = 0
        self.seq = 0
        if existed:
            parsed = journal.parse(path.read_bytes())
            self.seq = len(parsed.events)
            size = path.stat().st_size
            if parsed.torn or size != parsed.valid_bytes:
                self.repaired_bytes = size - parsed.valid_bytes
                os.truncate(path, parsed.valid_bytes)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if not existed and sync:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def append(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Write one event durably; returns it as written (sanitized, with seq and ts)."""
        self.seq += 1
        event: dict[str, Any] = {"seq": self.seq, "ts": journal.now(), "type": event_type, **fields}
        clean: dict[str, Any] = journal.sanitize(event, self._redact)
        line = journal.encode(clean).encode("utf-8")
        written = os.write(self._fd, line)
        while written < len(line):  # a short write: finish the line before anything else
            written += os.write(self._fd, line[written:])
        if self._sync:
            os.fdatasync(self._fd)
        return clean

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

