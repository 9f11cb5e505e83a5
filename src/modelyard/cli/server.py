"""``modelyard server``: the HTTP API on the configured store."""

from __future__ import annotations

from dataclasses import replace

import click

from modelyard.cli.state import State, pass_state
from modelyard.errors import ConfigError
from modelyard.registry import Registry


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
def server(state: State, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the HTTP API (/api/v1, /docs, /metrics) until interrupted.

    On first start it creates the principal 'admin' (admin on every group) and writes its
    API token to HOME/admin-token (mode 0600).
    """
    from modelyard.api.server import serve

    if state.remote:
        raise ConfigError("url: the server runs on a store; unset --url/MODELYARD_URL", field="url")
    settings = replace(
        state.settings,
        host=host or state.settings.host,
        port=port or state.settings.port,
        workers=workers or state.settings.workers,
    )
    serve(settings)


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
def worker(state: State, threads: int | None, once: bool) -> None:
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
    registry = state.registry
    assert isinstance(registry, Registry)  # not remote: checked above
    if once:
        done = run_once(registry, settings)
        click.echo(
            f"delivered {done.deliveries} event(s), ran {done.stages} stage attempt(s), "
            f"scanned {done.scans} version(s)"
        )
        return
    run_worker(registry, settings)
