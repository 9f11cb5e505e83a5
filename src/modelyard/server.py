"""What runs a modelyard process: the HTTP app with its workers and audit checkpointer
(``modelyard server``), the workers alone (``modelyard worker``), and the ``modelyard``
command, which is the CLI plus those two.

``cli``, ``api`` and ``worker`` never import each other; this module composes them. The
heavy parts (FastAPI, uvicorn, the workers) are imported only when a command needs them, so
every other command starts fast.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelyard.cli.main import cli
from modelyard.cli.main import main as cli_main
from modelyard.cli.state import State, pass_state
from modelyard.config import Settings
from modelyard.errors import ConfigError, ModelyardError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from modelyard.registry import Registry

BOOTSTRAP_ADMIN = "admin"
TOKEN_FILE = "admin-token"

#: loggers the server prints (the ``log`` event target writes to ``modelyard.events``)
SERVER_LOGGERS = ("modelyard.access", "modelyard.server", "modelyard.events", "modelyard.worker")


@dataclass(frozen=True, slots=True)
class Bootstrap:
    created: bool
    token_file: Path


def bootstrap_admin(registry: Registry, home: Path) -> Bootstrap:
    """On first start create principal ``admin`` (admin on ``*``) and write a token for it
    to ``HOME/admin-token`` (mode 0600). Later starts change nothing."""
    token_file = home.resolve() / TOKEN_FILE
    if not registry.ensure_admin(BOOTSTRAP_ADMIN):
        return Bootstrap(created=False, token_file=token_file)
    issued = registry.acting_as(BOOTSTRAP_ADMIN).create_token(
        BOOTSTRAP_ADMIN, expires="never", description="bootstrap admin token (first start)"
    )
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(issued.secret + "\n")
    return Bootstrap(created=True, token_file=token_file)


@contextmanager
def background(registry: Registry, settings: Settings) -> Iterator[None]:
    """The server's background work while it serves: signed audit checkpoints every
    ``checkpoint_interval`` seconds, and (unless ``embedded_worker`` is off) the workers."""
    from modelyard.services.security.access import LOCAL_PRINCIPAL
    from modelyard.worker.checkpointer import Checkpointer
    from modelyard.worker.process import workers_for

    checkpointer = Checkpointer(
        registry.acting_as(LOCAL_PRINCIPAL).checkpoint_audit, settings.checkpoint_interval
    )
    checkpointer.start()
    workers = workers_for(registry, settings) if settings.embedded_worker else None
    if workers is not None:
        workers.start()
    try:
        yield
    finally:
        checkpointer.stop()
        if workers is not None:
            workers.stop()


def create_server_app(registry: Registry, settings: Settings) -> FastAPI:
    """The HTTP API over ``registry`` with the server's background work."""
    from modelyard.api.app import create_app

    return create_app(registry, settings, background=lambda: background(registry, settings))


def app_from_env() -> FastAPI:
    """The app factory each uvicorn worker calls (settings come from MODELYARD_*)."""
    from modelyard.registry import Registry

    settings = Settings.from_env()
    _configure_logging()
    return create_server_app(Registry.open(settings=settings), settings)


def _configure_logging() -> None:
    """Print the server's loggers on stdout (idempotent: also run in worker processes)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if logger.handlers:
            continue
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False


def serve(settings: Settings, *, config_file: Path | None = None) -> None:
    """Run ``modelyard server`` in the foreground until interrupted."""
    import uvicorn

    from modelyard.registry import Registry
    from modelyard.worker.process import check_settings

    _configure_logging()
    check_settings(settings)
    check_port(settings.host, settings.port)
    with Registry.open(settings=settings) as registry:
        boot = bootstrap_admin(registry, settings.home)
        pipeline = boot.created and registry.ensure_default_pipeline()
    url = f"http://{settings.host}:{settings.port}"
    if boot.created:
        print(f"first start: created principal 'admin'; its token is in {boot.token_file}")
    if pipeline:
        print("first start: created the default pipeline release (modelyard pipeline show release)")
    else:
        print(f"admin token (from the first start): {boot.token_file}")
    print(f"modelyard serving on {url}  (API {url}/api/v1, docs {url}/docs)", flush=True)
    _export(settings, config_file)
    uvicorn.run(
        "modelyard.server:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_level="warning",
        server_header=False,
    )


def check_port(host: str, port: int) -> None:
    """Fail (exit 1) before the "serving on" line when HOST:PORT cannot be listened on:
    uvicorn would only log it after the banner. Binds the way uvicorn does, then lets go."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # as uvicorn does: a port whose old connections linger in TIME_WAIT is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as e:
            in_use = e.errno == errno.EADDRINUSE
            hint = "; another process listens there: pick another port with --port or "
            raise ModelyardError(
                f"{'port' if in_use else 'host'}: cannot listen on {host}:{port}: "
                f"{e.strerror or e}" + (hint + "MODELYARD_PORT" if in_use else ""),
                field="port" if in_use else "host",
            ) from None


def _export(settings: Settings, config_file: Path | None = None) -> None:
    """Hand the resolved settings to worker processes through the environment."""
    os.environ["MODELYARD_HOME"] = str(settings.home.resolve())
    if config_file is not None:  # the same file, also when --config named it
        os.environ["MODELYARD_CONFIG"] = str(config_file.resolve())
    for name in ("db_url", "blobs_url", "cache_dir", "audit_key_file"):
        value = getattr(settings, name)
        if value is not None:
            os.environ[f"MODELYARD_{name.upper()}"] = str(value)
    for name in (
        "max_blob_bytes",
        "checkpoint_interval",
        "embedded_worker",
        "delivery_threads",
        "run_threads",
        "event_retention",
        "sagemaker_account",
        "sagemaker_region",
    ):
        os.environ[f"MODELYARD_{name.upper()}"] = str(getattr(settings, name))


# -- the two commands that run processes -------------------------------------------------


@click.command("server")
@click.option("--host", help="Address to listen on [env MODELYARD_HOST; default 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Port to listen on [env MODELYARD_PORT; default 8080].",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Server processes [env MODELYARD_WORKERS; default 1].",
)
@pass_state
def server_command(state: State, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the HTTP API (/api/v1, /docs, /metrics) until interrupted.

    On first start it creates the principal 'admin' (admin on every group) and writes its
    API token to HOME/admin-token (mode 0600).
    """
    if state.remote:
        raise ConfigError("url: the server runs on a store; unset --url/MODELYARD_URL", field="url")
    settings = replace(
        state.settings,
        host=host or state.settings.host,
        port=port or state.settings.port,
        workers=workers or state.settings.workers,
    )
    serve(settings, config_file=state.loaded.config_file)


@click.command("worker")
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    help="Concurrent event deliveries [env MODELYARD_DELIVERY_THREADS; default 4]; "
    "pipeline stages run on MODELYARD_RUN_THREADS (default 2).",
)
@click.option(
    "--once",
    is_flag=True,
    help="Do what is due now (scan new versions, deliver, run stages until they wait), then exit.",
)
@pass_state
def worker_command(state: State, threads: int | None, once: bool) -> None:
    """Deliver events to rule targets, run pipeline stages and scan new versions until
    interrupted (scale-out next to the server).

    Run as many as you like against one PostgreSQL store: they share the work, and never
    deliver the same attempt twice concurrently. `modelyard server` runs one already
    (unless MODELYARD_EMBEDDED_WORKER=false).
    """
    from modelyard.worker.process import run_once, run_worker

    if state.remote:
        raise ConfigError(
            "url: a worker runs on a store (--db-url/--home), not through a server; unset --url",
            field="url",
        )
    settings = replace(state.settings, delivery_threads=threads or state.settings.delivery_threads)
    registry = state.local_registry()
    if once:
        done = run_once(registry, settings)
        click.echo(
            f"delivered {done.deliveries} event(s), ran {done.stages} stage attempt(s), "
            f"scanned {done.scans} version(s)"
        )
        return
    run_worker(registry, settings)


cli.add_command(server_command)
cli.add_command(worker_command)


def main() -> None:
    """The ``modelyard`` console script."""
    cli_main()
