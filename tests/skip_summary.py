"""A pytest plugin: the run ends by saying how many tests were skipped and why.

A skipped PostgreSQL or S3 test looks like a pass in a green run; this makes the gap
impossible to miss ("12 skipped: MODELYARD_TEST_POSTGRES_URL is not set; …"). Registered
from tests/conftest.py.
"""

from __future__ import annotations

from collections import Counter

import pytest

HINT = "MODELYARD_REQUIRE_SERVICES=1 turns a skip for a missing service into a failure"


def skip_reason(report: pytest.TestReport) -> str:
    """The reason a skipped test gave (``pytest.skip(reason)`` or a skip mark)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> object:
    # outermost wrapper: printed after pytest's own summaries, just before the final line
    result = yield
    reports = [r for r in terminalreporter.stats.get("skipped", []) if r.skipped]
    reasons = Counter(skip_reason(r) for r in reports)
    terminalreporter.section("skipped tests", sep="-")
    if not reasons:
        terminalreporter.line("0 skipped: every collected test ran")
        return result
    for reason, count in reasons.most_common():
        terminalreporter.line(f"{count} skipped: {reason}")
    terminalreporter.line(f"({len(reports)} in all; {HINT})")
    return result
