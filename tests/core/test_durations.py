"""Durations as runbooks write them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyirt.core.durations import MAX_SECONDS, format_duration, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1h30m", 5400),
    ("1.5s", 1.5), (" 2 m ", 120), (0, 0.0), (12, 12.0), (0.25, 0.25),
])
def test_good_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", [
    "", "5", "5 minutes", "m5", "1w", "-1s", "1s-", "ms", True, None, [1], {"s": 1}, -0.5,
    float("inf"), float("nan"), float("-inf"), "9" * 400 + "s", "3651d", MAX_SECONDS + 1,
])
def test_bad_durations_say_why(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=20), st.floats(), st.integers(), st.none(), st.booleans()))
def test_parse_duration_returns_a_finite_bounded_number_or_raises_value_error(value: object) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError:
        return
    assert 0 <= seconds <= MAX_SECONDS


@pytest.mark.parametrize(("seconds", "text"), [(0.85, "850ms"), (12.34, "12.3s"), (245, "4m05s"), (7800, "2h10m")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
