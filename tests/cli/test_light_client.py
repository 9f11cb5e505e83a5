"""The client and the CLI's remote mode stay light: they never load the store (SQLAlchemy,
Alembic, psycopg), FastAPI or boto3, and ``import modelyard`` loads almost nothing. Checked
on real processes with ``python -X importtime``, which lists every module a process imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard import Registry
from tests.conftest import MakeArtifact
from tests.server import running_server

SERVER_SIDE = {"sqlalchemy", "alembic", "psycopg", "fastapi", "starlette", "uvicorn", "boto3"}


def imported(*args: str, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """The top-level packages a fresh ``python -X importtime ARGS`` imports, and its stdout."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return names, done.stdout


def test_import_modelyard_loads_neither_the_store_nor_http() -> None:
    names, _ = imported("-c", "import modelyard")
    assert not names & (SERVER_SIDE | {"httpx", "cryptography", "click"})


def test_the_client_loads_no_server_side_package() -> None:
    names, _ = imported("-c", "from modelyard import Client, Version, Page")
    assert "httpx" in names
    assert not names & SERVER_SIDE


def test_cli_help_loads_no_store_and_no_http() -> None:
    names, out = imported("-m", "modelyard", "--help")
    assert "Usage: " in out
    assert not names & (SERVER_SIDE | {"httpx"})


def test_remote_version_show_loads_no_server_side_package(
    local_registry: Registry, make_artifact: MakeArtifact, tmp_path: Path
) -> None:
    local_registry.create_group("fraud")
    local_registry.register_version("fraud", make_artifact())
    token = local_registry.create_token("local", expires="1d").secret
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    with running_server(local_registry) as url:
        env |= {"MODELYARD_URL": url, "MODELYARD_TOKEN": token, "MODELYARD_HOME": str(tmp_path)}
        names, out = imported("-m", "modelyard", "version", "show", "fraud/1", env=env)
    assert "fraud/1" in out
    assert not names & SERVER_SIDE


@pytest.mark.parametrize("package", ["sqlalchemy", "fastapi"])
def test_the_check_would_see_a_server_side_import(package: str) -> None:
    names, _ = imported("-c", f"import modelyard; import {package}")
    assert package in names
