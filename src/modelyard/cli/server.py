"""``modelyard server``: the HTTP API on the configured store."""

from __future__ import annotations

from dataclasses import replace

import click

from modelyard.cli.state import State, pass_state
from modelyard.errors import ConfigError


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
