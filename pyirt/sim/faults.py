"""The fields every simulator's faults share, checked once: ``status`` (an error status),
``times`` (a count, or null for always), ``latency`` and ``hang`` (true, or a duration)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyirt.core.durations import parse_duration


def common_fields(spec: Mapping[str, Any], *, status_hint: str = "an HTTP error status from 400 to 599",
                  ) -> tuple[int | None, int | None, float, float | None]:
    """(status, times, latency, hang) from a fault spec; ValueError names what is wrong."""
    status = spec.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599):
        raise ValueError(f"status: {status_hint}")
    times = spec.get("times", 1)
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise ValueError("times must be a count (or null: always)")
    raw_hang = spec.get("hang")
    latency = parse_duration(spec.get("latency") or 0)
    if status is None and raw_hang in (None, False) and not latency:
        raise ValueError("a fault needs a status, a latency or a hang")
    hang = None if raw_hang in (None, False) else float("inf") if raw_hang is True else parse_duration(raw_hang)
    return status, times, latency, hang
