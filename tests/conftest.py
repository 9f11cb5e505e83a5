"""Shared fixtures: real SQLite files, the real PostgreSQL server, artifact directories.

PostgreSQL tests need ``MODELYARD_TEST_POSTGRES_URL`` (a database on a server this user can
create databases on). Without it they are skipped, unless ``MODELYARD_REQUIRE_SERVICES=1``,
which turns the skip into a failure (CI sets both).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from modelyard import Client, Registry
from modelyard.store.sql.schema import metadata

pytest_plugins = ["tests.skip_summary"]  # the run ends by listing skips and why

PG_URL = os.environ.get("MODELYARD_TEST_POSTGRES_URL")
REQUIRE_SERVICES = os.environ.get("MODELYARD_REQUIRE_SERVICES") == "1"


def need_service(reason: str) -> None:
    """Skip (or, with MODELYARD_REQUIRE_SERVICES=1, fail) a test whose service is missing."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (MODELYARD_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this test worker, dropped at the end."""
    if not PG_URL:
        need_service("MODELYARD_TEST_POSTGRES_URL is not set; PostgreSQL tests need a server")
    assert PG_URL is not None
    base = make_url(PG_URL)
    name = f"{base.database}_{worker_id}".lower()
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        need_service(f"cannot reach PostgreSQL at {base.render_as_string()}: {e}")
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The metadata database URL, once per backend: a SQLite file and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    url: str = request.getfixturevalue("postgres_url")
    migrate = tmp_path / "migrate"  # its own blobs: a test may create a store of its own
    Registry.open(migrate, db_url=url, blobs_url=f"file://{migrate}/blobs").close()
    _truncate(url)
    return url


OpenRegistry = Callable[..., Any]
MEMBER_ROLES = ("contributor", "approver", "deployer")


def _local_opener(db_url: str, tmp_path: Path, opened: list[Registry]) -> Callable[..., Registry]:
    def open_(actor: str = "local", roles: tuple[str, ...] = MEMBER_ROLES) -> Registry:
        reg = Registry.open(
            tmp_path / "home", db_url=db_url, blobs_url=f"file://{tmp_path / 'blobs'}", actor=actor
        )
        opened.append(reg)
        if actor != "local":
            admin = reg.acting_as("local")
            if actor not in {p.name for p in admin.list_principals()}:
                admin.create_principal(actor)
                for role in roles:
                    admin.grant(actor, role, groups="*")
        return reg

    return open_


@pytest.fixture
def open_local_registry(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Registry]]:
    """Open local registries on the same stores, e.g. ``open_local_registry(actor="bob")``.

    A principal other than ``local`` is created on first use with ``roles`` on every group
    (by default contributor, approver and deployer: everything but admin).
    """
    opened: list[Registry] = []
    yield _local_opener(db_url, tmp_path, opened)
    for reg in opened:
        reg.close()


@pytest.fixture
def local_registry(open_local_registry: Callable[..., Registry]) -> Registry:
    """The local registry (for tests of local-only internals: SQL, crashes, migrations)."""
    return open_local_registry()


@pytest.fixture(params=["local", pytest.param("remote", marks=pytest.mark.remote)])
def open_registry(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path
) -> Iterator[OpenRegistry]:
    """Open registries on one store, once per API: the local ``Registry`` and the HTTP
    ``Client`` against a real server on a loopback port. The same tests run on both."""
    opened: list[Registry] = []
    local = _local_opener(db_url, tmp_path, opened)
    if request.param == "local":
        yield local
    else:
        from tests.server import running_server

        server_registry = local()
        clients: list[Client] = []
        with running_server(server_registry) as url:

            def open_remote(actor: str = "local", roles: tuple[str, ...] = MEMBER_ROLES) -> Client:
                local(actor, roles)  # the principal and its bindings
                token = server_registry.create_token(actor, expires="1d").secret
                client = Client(url, token, cache_dir=tmp_path / f"client-cache-{actor}")
                clients.append(client)
                return client

            yield open_remote
            for client in clients:
                client.close()
    for reg in opened:
        reg.close()


@pytest.fixture
def registry(open_registry: OpenRegistry) -> Any:
    return open_registry()


MakeArtifact = Callable[..., Path]


@pytest.fixture
def make_artifact(tmp_path: Path) -> MakeArtifact:
    """Write a directory of files: ``make_artifact({"model.pkl": b"…"})`` → its path."""
    counter = iter(range(1_000_000))

    def make(files: dict[str, bytes] | None = None) -> Path:
        root = tmp_path / f"artifact-{next(counter)}"
        for rel, content in (files or {"model.bin": b"weights"}).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        root.mkdir(parents=True, exist_ok=True)
        return root

    return make


# -- a real moto server (``moto_server``, from ``moto[server]``) on a loopback port -----------
# One server per test process (so one per xdist worker), started on first use and killed at
# the end of the session. Without it the AWS tests are skipped, unless
# ``MODELYARD_REQUIRE_SERVICES=1``, which makes that a failure.

REGION = "us-east-1"
STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    """A loopback port nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if not with 200
    except OSError:
        return False


def _moto_server_command() -> list[str] | None:
    script = Path(sys.executable).with_name("moto_server")
    if script.exists():
        return [str(script)]
    found = shutil.which("moto_server")
    return [found] if found else None


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a moto server of this test process."""
    command = _moto_server_command()
    if command is None:
        need_service("moto_server is not installed (pip install 'moto[server]')")
    assert command is not None
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")[-2000:]
                need_service(f"moto_server did not start on {url}: {output or 'no output'}")
            time.sleep(0.1)
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and region; no shared config, profile or instance metadata."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
