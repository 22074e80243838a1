"""Run the ``irt`` CLI with crash points injected, for the crash-and-resume tests.

Usage: ``python crashing_irt.py ARGS...`` behaves as ``irt ARGS...``; environment variables
(each optional) inject a signal at a precise point of this process:

``IRT_CRASH_AFTER_EVENT=N``
    Right after the N-th journal event of this process is written and fsynced: after a
    ``step.started`` that is before the side effect, after ``step.succeeded`` between two steps.
``IRT_CRASH_AFTER_EFFECT=LINE``
    Right after ``testing.append*`` wrote and fsynced LINE (from the action's worker thread): the
    side effect happened and ``step.succeeded`` is not written yet.
``IRT_CRASH_AFTER_EFFECT_COUNT=K``
    Right after this process's K-th appended line, whatever it is.
``IRT_CRASH_SIGNAL=KILL|TERM|INT``
    The signal sent to this process at those points (default KILL). ``IRT_CRASH_SIGNAL_COUNT``
    sends it that many times in a row (two TERMs force an immediate stop).
``IRT_CRASH_TEAR_EVENT=N``
    Write only the first half of the N-th journal line, fsync, then SIGKILL: a torn last line.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def _hit() -> None:
    name = os.environ.get("IRT_CRASH_SIGNAL") or "KILL"
    sig = signal.Signals[f"SIG{name.upper().removeprefix('SIG')}"]
    if sig == signal.SIGKILL:
        _die()
    for _ in range(int(os.environ.get("IRT_CRASH_SIGNAL_COUNT") or 1)):
        os.kill(os.getpid(), sig)


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install() -> None:
    from pyirt.core import journal
    from pyirt.engine.journal_writer import JournalWriter

    after = int(os.environ.get("IRT_CRASH_AFTER_EVENT") or 0)
    tear = int(os.environ.get("IRT_CRASH_TEAR_EVENT") or 0)
    if after or tear:
        original = JournalWriter.append
        count = 0

        def append(self: JournalWriter, event_type: str, **fields: Any) -> dict[str, Any]:
            nonlocal count
            count += 1
            if count == tear:
                event = {"seq": self.seq + 1, "ts": journal.now(), "type": event_type, **fields}
                line = journal.encode(journal.sanitize(event)).encode("utf-8")
                os.write(self._fd, line[: len(line) // 2])
                os.fsync(self._fd)
                _die()
            written = original(self, event_type, **fields)
            if count == after:
                _hit()
            return written

        JournalWriter.append = append  # type: ignore[method-assign]

    effect_line = os.environ.get("IRT_CRASH_AFTER_EFFECT")
    effect_count = int(os.environ.get("IRT_CRASH_AFTER_EFFECT_COUNT") or 0)
    if effect_line is not None or effect_count:
        import irt_testplugin

        original_append = irt_testplugin.append_line
        effects = 0

        def append_line(path: str, line: str) -> None:
            nonlocal effects
            original_append(path, line)
            effects += 1
            if line == effect_line or effects == effect_count:
                _hit()

        irt_testplugin.append_line = append_line


if __name__ == "__main__":
    install()
    from pyirt.cli import main

    main()
