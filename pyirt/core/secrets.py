"""Masked secret values.

A :class:`Secret` renders as ``***`` through ``str``, ``repr``, ``format`` and JSON; only
:meth:`Secret.reveal` gives the value, and only an action's own call to its backend should use it.
Every value revealed in a run is also registered with a :class:`Redactor`, which scrubs it from
any text that reaches a journal, console, report or message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

MASK = "***"


class Secret:
    """A secret value. Every way of printing it prints ``***``."""

    __slots__ = ("_ref", "_value")

    def __init__(self, value: str, ref: str = "") -> None:
        self._value = value
        self._ref = ref

    def reveal(self) -> str:
        """The real value: for the backend call, nowhere else."""
        return self._value

    @property
    def ref(self) -> str:
        return self._ref

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({self._ref or MASK})" if self._ref else f"Secret({MASK})"

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


def reveal(value: object) -> object:
    """``value`` with any Secret replaced by its plain text (for the backend call only)."""
    if isinstance(value, Secret):
        return value.reveal()
    return value


class Redactor:
    """Replaces known secret values and configured patterns with ``***`` in text.

    Values shorter than 4 characters are not registered: masking every ``a`` would make logs
    unreadable and such a value is no secret worth the name.
    """

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._patterns = [re.compile(p) for p in patterns]
        self._values_re: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        if len(value) < 4:
            return
        # Messages quote what a backend said (repr) and JSON escapes it: a value holding a
        # backslash, a quote or a control character shows up escaped, and must be masked so too.
        forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
        if forms <= self._values:
            return
        self._values |= forms
        ordered = sorted(self._values, key=len, reverse=True)
        self._values_re = re.compile("|".join(re.escape(v) for v in ordered))

    def add_pattern(self, pattern: str) -> None:
        self._patterns.append(re.compile(pattern))

    @property
    def values(self) -> frozenset[str]:
        return frozenset(self._values)

    def __call__(self, text: str) -> str:
        if self._values_re is not None:
            text = self._values_re.sub(MASK, text)
        for pattern in self._patterns:
            text = pattern.sub(MASK, text)
        return text
