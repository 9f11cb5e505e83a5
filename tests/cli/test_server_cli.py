"""`modelyard server` as a user runs it (what `make run` does): a real process on a port."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from modelyard.server import cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(home: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["MODELYARD_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "modelyard", "server", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail("the server did not become healthy in 30 s")


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=20)
    return output


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    port = free_port()
    process = start(tmp_path / "home", port)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process)
    yield url, tmp_path / "home", process
    if process.poll() is None:
        stop(process)


def test_first_start_creates_an_admin_and_a_private_token_file(
    server: tuple[str, Path, subprocess.Popen[str]],
) -> None:
    url, home, process = server
    token_file = home / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    me = httpx.get(f"{url}/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["principal"] == "admin"
    assert httpx.get(f"{url}/readyz").json() == {"status": "ready"}
    assert httpx.get(f"{url}/api/v1/whoami").status_code == 401
    assert "modelyard_http_requests_total" in httpx.get(f"{url}/metrics").text
    assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == "modelyard"
    pipelines = httpx.get(f"{url}/api/v1/pipelines", headers={"Authorization": f"Bearer {token}"})
    assert [p["name"] for p in pipelines.json()] == ["release"]  # the default, as init makes
    output = stop(process)
    assert f"its token is in {token_file}" in output
    assert "created the default pipeline release" in output
    assert f"serving on {url}" in output
    assert token not in output, "the token must never be printed or logged"
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    whoami = [e for e in logged if e["path"] == "/api/v1/whoami"]  # JSON access log lines
    assert {(e["status"], e["principal"]) for e in whoami} == {(200, "admin"), (401, None)}
    assert all(e["route"] == "/api/v1/whoami" and e["ms"] > 0 for e in whoami)


def test_the_cli_works_against_the_server_with_url_and_token(
    server: tuple[str, Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    url, home, _ = server
    token = (home / "admin-token").read_text().strip()
    runner = CliRunner()
    env = {"MODELYARD_URL": url, "MODELYARD_TOKEN": token, "MODELYARD_HOME": str(tmp_path / "c")}
    artifact = tmp_path / "model"
    artifact.mkdir()
    (artifact / "weights.bin").write_bytes(b"w" * 10_000)

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    run("group", "create", "fraud-detector")
    run("version", "register", "fraud-detector", str(artifact), "--metric", "auc=0.9")
    assert "fraud-detector/1" in run("version", "show", "fraud-detector/1")
    run("version", "approve", "fraud-detector/1", code=4)  # the admin registered it
    run("version", "download", "fraud-detector/1", str(tmp_path / "out"))
    assert (tmp_path / "out" / "weights.bin").read_bytes() == b"w" * 10_000
    assert "ok" in run("audit", "verify").lower()
    assert f"server {url}" in run("status")
    run("init", code=2)  # init makes a local store; refused in remote mode
    bad = {**env, "MODELYARD_TOKEN": "my_aaaaaaaaaaaa_" + "x" * 43}
    result = runner.invoke(cli, ["group", "list"], env=bad)
    assert result.exit_code == 4
    assert "authentication failed: the API token is unknown" in result.output
    assert not (tmp_path / "c").exists(), "remote mode creates no local store"


def test_a_restart_keeps_the_admin_and_does_not_rewrite_the_token(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = start(tmp_path / "home", port)
    wait_healthy(url, first)
    stop(first)
    token = (tmp_path / "home" / "admin-token").read_text()
    second = start(tmp_path / "home", port)
    wait_healthy(url, second)
    output = stop(second)
    assert (tmp_path / "home" / "admin-token").read_text() == token
    assert "created principal" not in output


def test_several_worker_processes_serve_one_store(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["MODELYARD_HOME"] = str(tmp_path / "home")
    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "server", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        token = (tmp_path / "home" / "admin-token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers) as client:
            names = [f"g{i}" for i in range(20)]
            for name in names:  # new connections spread over both workers
                response = httpx.post(f"{url}/api/v1/groups", json={"name": name}, headers=headers)
                assert response.status_code == 201, response.text
            listed = client.get("/api/v1/groups").json()["items"]
            assert sorted(g["name"] for g in listed) == sorted(names)
            assert client.get("/api/v1/audit/verify").json()["ok"]
    finally:
        stop(process)
