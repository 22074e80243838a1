"""Durations as runbooks write them: ``500ms``, ``30s``, ``5m``, ``2h``, ``1d`` and sums like ``1h30m``."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_SECONDS = 10 * 365 * 86400.0  # longer is a typo, and waits past threading.TIMEOUT_MAX overflow
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")


def parse_duration(value: object) -> float:
    """Seconds from a duration string or a bare number of seconds. Raises ValueError with the reason."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):  # .inf and .nan are YAML numbers, and overflow a wait at run time
            raise ValueError(f"not a duration: {value!r} (use 500ms, 30s, 5m, 2h, 1d)")
        if value < 0:
            raise ValueError(f"duration must not be negative: {value!r}")
        if value > MAX_SECONDS:
            raise ValueError(f"duration is longer than ten years: {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"not a duration: {value!r}")
    text = value.strip().replace(" ", "")
    if not _WHOLE.match(text):
        raise ValueError(f"not a duration: {value!r} (use 500ms, 30s, 5m, 2h, 1d)")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    if not seconds <= MAX_SECONDS:
        raise ValueError(f"duration is longer than ten years: {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form: ``850ms``, ``12.3s``, ``4m05s``, ``2h10m``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        m, s = divmod(int(seconds), 60)
        return f"{m}m{s:02d}s"
    h, rest = divmod(int(seconds), 3600)
    return f"{h}h{rest // 60:02d}m"
