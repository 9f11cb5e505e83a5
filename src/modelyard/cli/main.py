"""The root ``modelyard`` command: global options, opening the registry, error mapping."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from modelyard.cli.errors import exit_code_for
from modelyard.cli.output import err_console
from modelyard.cli.state import State
from modelyard.config import load_settings
from modelyard.errors import ModelyardError


class _Root(click.Group):
    """Maps every ModelyardError to a one-line message and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ModelyardError as error:
            _print_error(str(error))
            ctx.exit(exit_code_for(error))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # click reports these itself (usage errors exit 2)
        except BrokenPipeError:
            raise  # stdout was closed (`… | head`): main() exits quietly
        except Exception as error:  # the CLI's last line of defence: one line, not a traceback
            if os.environ.get("MODELYARD_DEBUG"):
                raise
            _print_error(
                f"internal error: {type(error).__name__}: {error} "
                "(set MODELYARD_DEBUG=1 for a traceback)"
            )
            ctx.exit(1)


def _print_error(message: str) -> None:
    # escaped: messages quote user input and URLs, whose "[...]" is not rich markup
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Settings file (TOML) [env MODELYARD_CONFIG; default HOME/modelyard.toml if it exists].",
)
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
    config_file: Path | None,
    home: Path | None,
    db_url: str | None,
    blobs_url: str | None,
    url: str | None,
    token: str | None,
) -> None:
    """modelyard: a model registry and release gate.

    It works on the embedded store (SQLite + files under --home) unless --db-url and
    --blobs-url point elsewhere, or on a server with --url (remote mode, authenticated
    with --token). Settings come from defaults < the config file < MODELYARD_* < flags
    ('modelyard config show' prints them and their origins).
    """
    loaded = load_settings(
        overrides={
            "home": home,
            "db_url": db_url,
            "blobs_url": blobs_url,
            "url": url,
            "token": token,
        },
        config_file=config_file,
        origin_of_override=lambda name: "--" + name.replace("_", "-"),
    )
    state = State(loaded)
    ctx.obj = state
    ctx.call_on_close(state.close)


def _register_commands() -> None:
    from modelyard.cli import (
        access,
        aliases,
        audit,
        configuration,
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
    cli.add_command(configuration.config)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    try:
        try:
            cli.main(standalone_mode=True)
        finally:
            sys.stdout.flush()  # a closed pipe shows here, not as a warning at exit
    except BrokenPipeError:
        _exit_on_closed_stdout()
    except KeyboardInterrupt:
        if os.environ.get("MODELYARD_DEBUG"):
            raise
        err_console.print("interrupted")
        sys.exit(130)


def _exit_on_closed_stdout() -> None:
    """The reader of stdout went away (``modelyard audit log | head -1``): exit 1 without a
    traceback. Python's "Note on SIGPIPE" (signal module docs): point stdout at devnull so
    the interpreter's last flush at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(1)
