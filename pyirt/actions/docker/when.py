"""``since`` / ``until`` as people write them: RFC 3339, plain dates, epoch seconds, or a duration
back from now (``2h``, ``30m``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyirt.core.durations import parse_duration


def to_epoch(value: Any, now: dt.datetime | None = None) -> float:
    """Unix seconds for ``value``. Raises ValueError naming what could not be read."""
    now = now or dt.datetime.now(dt.UTC)
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if not text:
        raise ValueError("empty time")
    if text.replace(".", "", 1).isdigit() and len(text.split(".")[0]) >= 9:
        return float(text)  # epoch seconds
    try:
        return (now - dt.timedelta(seconds=parse_duration(text))).timestamp()
    except ValueError:
        pass
    from dateutil import parser

    try:
        when = parser.isoparse(text)
    except ValueError:
        try:
            when = parser.parse(text)
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"not a time: {text!r} (use RFC 3339, a date, epoch seconds or 2h)") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return float(when.timestamp())
