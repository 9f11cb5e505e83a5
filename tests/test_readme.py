"""The README works as a new user follows it: `make run` (a server on a new store), then, in a
second shell, the quickstart, the teammate commands, the Python example and the pipeline
commands, in that order, against that server over real HTTP; the events example is valid."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from modelyard import Registry
from modelyard.server import TOKEN_FILE, bootstrap_admin, cli
from tests.server import running_server

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def sh_blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", README, re.M | re.S)


def block_with(text: str) -> str:
    (block,) = [b for b in sh_blocks() if text in b]
    return block


def command_lines(block: str) -> list[str]:
    """The command lines of a ``sh`` block: continuations joined, blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line for line in joined.splitlines() if line.strip()]


def run_modelyard(line: str, env: dict[str, str | None]) -> str:
    args = shlex.split(line, comments=True)
    assert args[0] == "modelyard", line
    result = CliRunner().invoke(cli, args[1:], env=env, catch_exceptions=False)
    assert result.exit_code == 0, f"{line}\n{result.output}"
    return result.output


#: the quickstart's first lines: the virtualenv make run made, its address (the test server's
#: port differs) and the token file it writes
SET_UP = [
    ". .venv/bin/activate",
    "export MODELYARD_URL=http://127.0.0.1:8080 MODELYARD_TOKEN=$(cat .modelyard/admin-token)",
]


def prepare_shell(block: str, url: str, home: Path) -> dict[str, str | None]:
    """The quickstart's set-up lines, done as a shell would; the environment they export."""
    activate, export, make_model = command_lines(block)[:3]
    assert [activate, export] == SET_UP
    mkdir, python = make_model.split(" && ")
    assert mkdir == "mkdir -p model_dir"
    Path("model_dir").mkdir(exist_ok=True)
    command = shlex.split(python)
    assert command[:2] == ["python", "-c"]
    subprocess.run([sys.executable, *command[1:]], check=True)
    return {"MODELYARD_URL": url, "MODELYARD_TOKEN": (home / TOKEN_FILE).read_text().strip()}


def no_modelyard_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MODELYARD_"):
            monkeypatch.delenv(name)


def test_readme_runs_as_written_against_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_modelyard_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # the Client's fetch cache, ~/.cache/modelyard
    home = tmp_path / ".modelyard"
    with Registry.open(home) as registry:
        # what `modelyard server` (make run) does on its first start
        assert bootstrap_admin(registry, home).created
        assert registry.ensure_default_pipeline()
        with running_server(registry) as url:
            quickstart = block_with("modelyard group create")
            env = prepare_shell(quickstart, url, home)
            for line in [*command_lines(quickstart)[3:], *command_lines(block_with("alice"))]:
                run_modelyard(line, env)
            assert (tmp_path / "out" / "model.pkl").is_file()

            (example,) = re.findall(r"^```python\n(.*?)^```", README, re.M | re.S)
            printed: list[Any] = []
            for name, value in env.items():
                monkeypatch.setenv(name, str(value))
            exec(compile(example, "README.md", "exec"), {"print": printed.append})
            assert printed[0] == "fraud-detector/2"
            assert printed[1].is_file()

            for line in command_lines(block_with("pipeline run")):
                run_modelyard(line, env)
        assert registry.get_version("fraud-detector@champion").number == 2


def test_readme_events_example_creates_its_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a local store (no worker: nothing is sent to the example's URL)."""
    no_modelyard_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "webhook-secret.txt").write_text("whsec-4f9b2c7e1a8d6035b2e9c4a1\n")
    env: dict[str, str | None] = {"MODELYARD_HOME": str(tmp_path / "store")}
    (command,) = command_lines(block_with("rule create"))
    run_modelyard(command, env)
    assert "approvals" in run_modelyard("modelyard rule show approvals", env)
