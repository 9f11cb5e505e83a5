"""Errors a user causes are named, not "internal": a closed stdout pipe (a quiet exit), a
port in use (exit 1 before "serving on"), a server URL pasted with its API root (accepted)
or without a scheme (exit 2, naming where it came from), a message with [brackets]. An
unwritable destination: test_destinations_cli.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelyard import Registry
from modelyard.cli.main import cli
from tests.cli.conftest import Run
from tests.cli.test_destinations_cli import one_error_line
from tests.server import running_server


def modelyard(
    *args: str, home: Path, stdout: int | None = subprocess.PIPE, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """The installed CLI as a separate process (a real stdout, a real exit)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["MODELYARD_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "modelyard", *args],
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,  # a hang, not a slow machine, is what this catches
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.fixture
def version(run: Run, tmp_path: Path) -> str:
    artifact = tmp_path / "model"
    artifact.mkdir()
    (artifact / "model.bin").write_bytes(b"weights")
    run("group", "create", "fraud")
    run("version", "register", "fraud", str(artifact))
    return "fraud/1"


# ---------------------------------------------------------------- a closed stdout


@pytest.mark.parametrize(
    "args",
    [["audit", "log"], ["audit", "log", "--json"], ["version", "show", "fraud/1", "--json"]],
    ids=" ".join,
)
def test_a_closed_stdout_is_a_quiet_exit(
    args: list[str], version: str, home: Path, tmp_path: Path
) -> None:
    """The reader (``head``, a pager) is gone before the first write, so every write fails
    with EPIPE, whatever the size of the output. (When a reader leaves in the middle of one
    large write, Python drops the rest silently: nothing to report then.)"""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = modelyard(*args, home=home, stdout=write_end)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (1, "")


# ---------------------------------------------------------------- a port in use


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_port_in_use_is_exit_1_before_serving_on(busy_port: int, tmp_path: Path) -> None:
    done = modelyard("server", "--port", str(busy_port), home=tmp_path / "home")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "serving on" not in done.stdout
    line = one_error_line(done.stderr)
    assert f"port: cannot listen on 127.0.0.1:{busy_port}" in line
    assert "--port" in line


def test_a_host_that_is_not_this_machine_is_exit_1(tmp_path: Path) -> None:
    done = modelyard("server", "--host", "no-such-host.invalid", home=tmp_path / "home")
    assert done.returncode == 1
    assert "serving on" not in done.stdout
    assert "host: cannot listen on no-such-host.invalid:8080" in one_error_line(done.stderr)


# ---------------------------------------------------------------- server URLs


def test_a_url_with_the_api_root_is_accepted(local_registry: Registry, tmp_path: Path) -> None:
    local_registry.create_group("fraud")
    token = local_registry.create_token("local", expires="1d").secret
    with running_server(local_registry) as url:
        for given in (f"{url}/api/v1", f"{url}/api/v1/", f"{url}/"):
            for how in ("flag", "env"):
                args = ["--url", given] if how == "flag" else []
                env = {"MODELYARD_TOKEN": token} | (
                    {"MODELYARD_URL": given} if how == "env" else {}
                )
                result = CliRunner().invoke(cli, [*args, "group", "list", "--json"], env=env)
                assert result.exit_code == 0, (given, how, result.output)
                assert [g["name"] for g in json.loads(result.output)["items"]] == ["fraud"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("127.0.0.1:8080", "it does not start with http:// or https://"),
        ("ftp://host/registry", "it does not start with http:// or https://"),
        ("http://", "no host"),
        ("http://host:99999", "Port out of range"),
        ("http://host:8080/?x=1", "no ?query or #fragment"),
    ],
)
def test_a_bad_url_is_exit_2_naming_its_origin(url: str, why: str, tmp_path: Path) -> None:
    runner = CliRunner()
    for args, env, origin in (
        (["--url", url], {}, "--url"),
        ([], {"MODELYARD_URL": url}, "MODELYARD_URL"),
    ):
        result = runner.invoke(cli, [*args, "group", "list"], env=env)
        assert result.exit_code == 2, result.output
        line = one_error_line(result.stderr)
        assert line.startswith(f"error: {origin}: {url!r} is not a server URL"), line
        assert why in line


def test_error_messages_are_printed_literally_not_as_markup(run: Run) -> None:
    """A message quoting input with [brackets] is not rich markup (it used to crash)."""
    result = run("group", "show", "bad[/name]", code=2)
    assert "bad[/name]" in one_error_line(result.stderr)
