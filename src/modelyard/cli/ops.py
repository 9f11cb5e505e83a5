"""Top-level commands: init, status, lineage."""

from __future__ import annotations

import click

from modelyard.cli.output import console, json_option, print_json, print_pairs, print_table
from modelyard.cli.state import State, pass_state
from modelyard.errors import ConfigError

QUICKSTART = """\
modelyard is ready: {location}

Try it (from a source checkout, put the CLI on your PATH first: . .venv/bin/activate):
  mkdir -p model_dir && echo demo > model_dir/weights.bin
  modelyard group create fraud-detector --description "card fraud scorer" --tag team=risk \\
      --allow-self-approval
  modelyard version register fraud-detector ./model_dir --metric auc=0.91
  modelyard version approve fraud-detector/1 --comment "looks good"
  modelyard alias set fraud-detector champion 1
  modelyard version show fraud-detector@champion
  modelyard version search --filter "metrics.auc >= 0.9" --order-by "metrics.auc desc"

--allow-self-approval: alone, you both register and approve, so the group must allow it;
otherwise separation of duties forbids approving a version you registered yourself.
Locally the CLI acts as the admin principal "local".

Docs: docs/concepts.md, docs/cli.md, docs/search.md"""


@click.command("init")
@pass_state
def init(state: State) -> None:
    """Create (or migrate) the store and print a quickstart."""
    if state.remote:
        raise ConfigError(
            "url: init creates a local store; the server creates its own (unset --url)",
            field="url",
        )
    state.registry  # noqa: B018 - opening creates and migrates the store
    console.print(QUICKSTART.format(location=_location(state)))


def _location(state: State) -> str:
    settings = state.settings
    if settings.url:
        return f"server {settings.url}"
    if settings.db_url:
        return f"database {settings.resolved_db_url.split('@')[-1]}, blobs {settings.blobs_path}"
    return str(settings.home.resolve())


@click.command("status")
@json_option
@pass_state
def status(state: State, as_json: bool) -> None:
    """Where the store is and what it holds."""
    summary = state.registry.summary()
    info = {"store": _location(state)} | summary
    if as_json:
        print_json(info)
    else:
        print_pairs(list(info.items()))


@click.command("lineage")
@click.argument("reference")
@click.option(
    "--upstream",
    "direction",
    flag_value="upstream",
    default=True,
    help="Ancestors: parents, their parents, … (default).",
)
@click.option(
    "--downstream",
    "direction",
    flag_value="downstream",
    help="Descendants: versions derived from this one.",
)
@click.option("--depth", default=10, show_default=True, help="How many generations.")
@json_option
@pass_state
def lineage(state: State, reference: str, direction: str, depth: int, as_json: bool) -> None:
    """Walk the lineage graph from REFERENCE."""
    nodes = state.registry.lineage(
        reference,
        direction=direction,  # type: ignore[arg-type]
        depth=depth,
    )
    if as_json:
        print_json(
            {
                "reference": reference,
                "direction": direction,
                "versions": [n.to_dict() for n in nodes],
            }
        )
        return
    if not nodes:
        console.print(f"{reference} has no {direction} versions")
        return
    print_table(["depth", "version", "via"], [(n.depth, n.reference, n.via) for n in nodes])


COMMANDS = [init, status, lineage]
