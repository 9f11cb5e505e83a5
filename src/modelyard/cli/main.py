"""The root ``modelyard`` command: global options, opening the registry, error mapping."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from modelyard.cli.errors import exit_code_for
from modelyard.cli.output import err_console
from modelyard.cli.state import State
from modelyard.config import Settings
from modelyard.errors import ModelyardError


class _Root(click.Group):
    """Maps every ModelyardError to a one-line message and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ModelyardError as error:
            err_console.print(f"[bold red]error:[/] {error}", markup=True, highlight=False)
            ctx.exit(exit_code_for(error))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # click reports these itself (usage errors exit 2)
        except Exception as error:  # the CLI's last line of defence: one line, not a traceback
            if os.environ.get("MODELYARD_DEBUG"):
                raise
            err_console.print(
                f"[bold red]error:[/] internal error: {type(error).__name__}: {error} "
                "(set MODELYARD_DEBUG=1 for a traceback)",
                markup=True,
                highlight=False,
            )
            ctx.exit(1)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    help="Embedded store directory [env MODELYARD_HOME; default ./.modelyard].",
)
@click.option(
    "--db-url",
    help="Metadata database URL, e.g. postgresql+psycopg://… "
    "[env MODELYARD_DB_URL; default sqlite under --home].",
)
@click.option(
    "--blobs-url",
    help="Blob store URL, file:///PATH or s3://BUCKET/PREFIX "
    "[env MODELYARD_BLOBS_URL; default HOME/blobs].",
)
@click.option(
    "--url",
    help="A modelyard server to talk to instead of a local store, e.g. http://host:8080 "
    "[env MODELYARD_URL].",
)
@click.option(
    "--token",
    help="API token for --url (prefer the environment: flags show up in process lists) "
    "[env MODELYARD_TOKEN].",
)
@click.version_option(package_name="modelyard")
@click.pass_context
def cli(
    ctx: click.Context,
    home: Path | None,
    db_url: str | None,
    blobs_url: str | None,
    url: str | None,
    token: str | None,
) -> None:
    """modelyard: a model registry and release gate.

    It works on the embedded store (SQLite + files under --home) unless --db-url and
    --blobs-url point elsewhere, or on a server with --url (remote mode, authenticated
    with --token).
    """
    settings = Settings.from_env(
        home=home, db_url=db_url, blobs_url=blobs_url, url=url, token=token
    )
    state = State(settings)
    ctx.obj = state
    ctx.call_on_close(state.close)


def _register_commands() -> None:
    from modelyard.cli import (
        access,
        aliases,
        audit,
        deployments,
        events,
        groups,
        ops,
        pipelines,
        policies,
        scans,
        signing,
        storage,
        versions,
    )

    cli.add_command(groups.group)
    cli.add_command(versions.version)
    for command in signing.VERSION_COMMANDS:
        versions.version.add_command(command)
    for command in scans.VERSION_COMMANDS:
        versions.version.add_command(command)
    cli.add_command(signing.signing)
    cli.add_command(aliases.alias)
    for command in ops.COMMANDS:
        cli.add_command(command)
    for command in access.COMMANDS:
        cli.add_command(command)
    cli.add_command(audit.audit)
    for command in pipelines.COMMANDS:
        cli.add_command(command)
    for command in deployments.COMMANDS:
        cli.add_command(command)
    for command in events.COMMANDS:
        cli.add_command(command)
    for command in policies.COMMANDS:
        cli.add_command(command)
    for command in storage.COMMANDS:
        cli.add_command(command)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(standalone_mode=True)
    except KeyboardInterrupt:
        if os.environ.get("MODELYARD_DEBUG"):
            raise
        err_console.print("interrupted")
        sys.exit(130)
