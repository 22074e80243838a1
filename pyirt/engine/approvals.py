"""Approval gates: who says yes to a destructive step.

``--yes`` (or ``policy.approval: auto``) grants every gate; on a terminal the operator is asked;
anywhere else the run stops at the gate, resumable with ``irt resume ID --yes``.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Decision = Literal["granted", "denied", "pending"]


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    by: str = ""


def operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Approver:
    def __init__(self, *, yes: bool = False, interactive: bool | None = None,
                 ask: Callable[[str], str] | None = None, answered_by: str = "") -> None:
        self.yes = yes
        self.interactive = sys.stdin.isatty() and sys.stderr.isatty() if interactive is None else interactive
        self._ask = ask or ask_tty
        self._by = answered_by  # who answers through ``ask`` when it is no person (a drill)

    def decide(self, step: str, question: str) -> Verdict:
        if self.yes:
            return Verdict("granted", f"{operator()} (--yes)")
        if not self.interactive:
            return Verdict("pending")
        try:
            answer = self._ask(f"Approve step {step}: {question} [y/N] ").strip().lower()
        except (EOFError, KeyboardInterrupt):
            return Verdict("pending")
        by = self._by or f"{operator()} (prompt)"
        if answer in ("y", "yes"):
            return Verdict("granted", by)
        return Verdict("denied", by)


def ask_tty(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line
