"""The CLI in-process (click's runner) on a store under the test's temporary directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from modelyard.server import cli

Run = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def run(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``run(*args, code=0, actor=None, store=None)``: the CLI on ``home`` (or ``store``),
    as the principal ``local`` (or ``actor``); asserts the exit code."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(
        *args: str, code: int = 0, actor: str | None = None, store: Path | None = None
    ) -> Result:
        env = {"MODELYARD_HOME": str(store or home)}
        if actor:
            env["MODELYARD_ACTOR"] = actor
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, (result.output, result.stderr)
        return result

    return invoke
