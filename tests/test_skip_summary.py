"""The skip summary plugin, in a real pytest run of its own (a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ["-p", "tests.skip_summary", "-p", "no:cacheprovider", "-p", "no:xdist"]

TESTS = """
import pytest

@pytest.fixture
def database():
    pytest.skip("PostgreSQL tests need MODELYARD_TEST_POSTGRES_URL")

def test_runs():
    pass

@pytest.mark.parametrize("n", [1, 2, 3])
def test_needs_the_database(database, n):
    pass

@pytest.mark.skip(reason="not on this platform")
def test_marked():
    pass

@pytest.mark.xfail(reason="a known bug")
def test_known_bug():
    raise AssertionError
"""


def pytest_run(directory: Path, body: str, *args: str) -> list[str]:
    (directory / "test_sample.py").write_text(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *PLUGINS, *args, str(directory)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.stdout.splitlines()


def test_the_run_ends_with_the_skips_and_their_reasons(tmp_path: Path) -> None:
    lines = pytest_run(tmp_path, TESTS, "-ra")
    start = lines.index(next(line for line in lines if "skipped tests" in line))
    assert lines[start + 1 : start + 4] == [
        "3 skipped: PostgreSQL tests need MODELYARD_TEST_POSTGRES_URL",
        "1 skipped: not on this platform",
        "(4 in all; MODELYARD_REQUIRE_SERVICES=1 turns a skip for a missing service into a "
        "failure)",
    ]
    assert lines[start + 4].startswith("=") and "4 skipped" in lines[start + 4], lines[start:]
    assert "short test summary info" in "\n".join(lines[:start]), "after pytest's summaries"


def test_a_run_without_skips_says_so(tmp_path: Path) -> None:
    lines = pytest_run(tmp_path, "def test_one():\n    pass\n", "-q")
    assert "0 skipped: every collected test ran" in lines
