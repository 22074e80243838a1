"""Shared test settings. With IRT_REQUIRE_ENGINES=1 (set by .ci/run) a skipped test fails:
CI must never pass because an engine was missing."""

from __future__ import annotations

import os

import pytest

REQUIRE_ENGINES = os.environ.get("IRT_REQUIRE_ENGINES") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_ENGINES and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped, but IRT_REQUIRE_ENGINES=1 forbids skips: {reason}"
