"""The config file through the real CLI: `config show` with origins, precedence, bad files
(exit 2, nothing created), and `modelyard server` (and its app) reading a --config file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner, Result

from modelyard.cli.main import cli
from modelyard.config import Settings
from tests.cli.conftest import Run
from tests.conftest import free_port

SERVER_START_CAP_S = 300  # only a hang ends here; a healthy server ends the wait at once


def invoke(*args: str, env: dict[str, str], code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, (result.output, result.stderr)
    return result


def shown(result: Result) -> dict[str, dict[str, object]]:
    settings: dict[str, dict[str, object]] = json.loads(result.output)["settings"]
    return settings


def test_config_show_names_each_origin(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    file = home / "modelyard.toml"
    file.write_text(
        'db_url = "sqlite:///from-file.db"\nrun_threads = 3\nactor = "file-actor"\n'
        'token = "file-secret-token"\n'
    )
    env = {
        "MODELYARD_HOME": str(home),
        "MODELYARD_DB_URL": "postgresql+psycopg://bob:hunter2@db.internal/registry",
        "MODELYARD_ACTOR": "env-actor",
    }
    result = invoke("--db-url", "sqlite:///from-flag.db", "config", "show", "--json", env=env)
    settings = shown(result)
    assert json.loads(result.output)["config_file"] == str(file)
    assert settings["db_url"] == {"value": "sqlite:///from-flag.db", "origin": "--db-url"}
    assert settings["actor"] == {"value": "env-actor", "origin": "MODELYARD_ACTOR"}
    assert settings["run_threads"] == {"value": 3, "origin": str(file)}
    assert settings["workers"] == {"value": 1, "origin": "default"}
    assert settings["home"] == {"value": str(home.resolve()), "origin": "MODELYARD_HOME"}
    assert settings["blobs_url"]["value"] == f"file://{home.resolve() / 'blobs'}"
    assert settings["token"] == {"value": "***", "origin": str(file)}
    assert set(settings) == set(Settings.__dataclass_fields__)
    assert "file-secret-token" not in result.output

    env["MODELYARD_TOKEN"] = "env-secret-token"
    table = invoke("--token", "flag-secret-token", "config", "show", env=env).output
    assert table.splitlines()[0] == f"config file: {file}"
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[2:]}
    assert rows["token"] == ["***", "--token"]
    assert rows["run_threads"] == ["3", str(file)]
    assert rows["embedded_worker"] == ["true", "default"]
    assert "secret" not in table
    without = invoke("config", "show", "--json", env=env)
    assert "hunter2" not in without.output
    assert shown(without)["db_url"]["value"] == "postgresql+psycopg://bob:***@db.internal/registry"
    assert not (home / "registry.db").exists(), "config show opens no store"


def test_config_and_its_env_twin_name_the_file(tmp_path: Path) -> None:
    one, two = tmp_path / "one.toml", tmp_path / "two.toml"
    one.write_text("scan_threads = 2\n")
    two.write_text("scan_threads = 4\n")
    env = {"MODELYARD_HOME": str(tmp_path / "home"), "MODELYARD_CONFIG": str(one)}
    assert shown(invoke("config", "show", "--json", env=env))["scan_threads"]["value"] == 2
    result = invoke("--config", str(two), "config", "show", "--json", env=env)
    assert shown(result)["scan_threads"] == {"value": 4, "origin": str(two)}
    missing = invoke("--config", str(tmp_path / "nope.toml"), "status", env=env, code=2)
    assert missing.stderr.strip() == f"error: config: '{tmp_path / 'nope.toml'}' does not exist"


def test_a_bad_file_is_exit_2_naming_file_and_key_and_creates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    file = home / "modelyard.toml"
    for text, expected in (
        ("delivery_thread = 2\n", f"error: {file}: delivery_thread: not a setting (did you mean"),
        ("port = 80.5\n", f"error: {file}: port: expected a positive whole number, got float"),
        ("[server\n", f"error: {file}: not valid TOML"),
    ):
        file.write_text(text)
        for command in (["status"], ["config", "show"], ["group", "list"]):
            result = invoke(*command, env={"MODELYARD_HOME": str(home)}, code=2)
            assert result.stderr.startswith(expected), result.stderr
            assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in home.iterdir()) == ["modelyard.toml"], "no store was created"


def test_the_store_settings_of_the_file_are_used(run: Run, home: Path, tmp_path: Path) -> None:
    home.mkdir()
    (home / "modelyard.toml").write_text(
        f'db_url = "sqlite:///{tmp_path}/shared/meta.db"\n'
        f'blobs_url = "file://{tmp_path}/shared/blobs"\n'
    )
    (tmp_path / "shared").mkdir()
    run("init")
    assert (tmp_path / "shared" / "meta.db").is_file()
    assert (tmp_path / "shared" / "blobs").is_dir()
    assert not (home / "registry.db").exists()


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    """Until the server answers; fails at once, with its output, if it exits."""
    deadline = time.monotonic() + SERVER_START_CAP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read() if process.stdout else "")
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)  # polling interval, not a wait for a race
    raise AssertionError(f"the server did not answer in {SERVER_START_CAP_S} s")


def test_the_server_and_its_app_read_a_config_file(tmp_path: Path) -> None:
    """--config names a file outside HOME: the server's port comes from it, and the app
    (created by uvicorn's factory from the environment) reads the same file."""
    port = free_port()
    file = tmp_path / "etc" / "team.toml"
    file.parent.mkdir()
    file.write_text(f'home = "store"\nport = {port}\nsigning_key_file = "keys/team-signing.pem"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "--config", str(file), "server"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    store = tmp_path / "etc" / "store"
    try:
        _wait_healthy(url, process)
        token = (store / "admin-token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        key = httpx.get(f"{url}/api/v1/signing/public-key", headers=headers)
        assert key.status_code == 200, key.text
        assert (file.parent / "keys" / "team-signing.pem").is_file()  # relative to the file
        assert not (store / "keys" / "signing-ed25519.pem").exists()
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=60)
    assert f"serving on {url}" in output
