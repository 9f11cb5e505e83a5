"""Top-level commands: init, status, lineage."""

from __future__ import annotations

import click

from modelyard.cli.output import console, json_option, print_json, print_pairs, print_table
from modelyard.cli.state import State, pass_state
from modelyard.domain.default_pipeline import DEFAULT_PIPELINE_NAME
from modelyard.errors import ConfigError

#: a small pickled "model" (the default pipeline's scan stage and the production policy
#: need files the scanner understands: a pickle with safe contents is clean)
MAKE_MODEL = (
    'python -c "import pickle; '
    "pickle.dump({'weights': [0.12, -0.4]}, open('model_dir/model.pkl', 'wb'))\""
)

QUICKSTART = """\
modelyard is ready: {location}
{pipeline}
Try it (from a source checkout, put the CLI on your PATH first: . .venv/bin/activate):
  mkdir -p model_dir && {make_model}
  modelyard group create fraud-detector --description "card fraud scorer" --tag team=risk
  modelyard version register fraud-detector ./model_dir --metric auc=0.91
  modelyard pipeline run release fraud-detector/1
  modelyard worker --once          # runs the stages until one waits (here: the review)
  modelyard principal create reviewer && modelyard access grant reviewer approver
  MODELYARD_ACTOR=reviewer modelyard approvals approve 1 --comment "looks good"
  modelyard worker --once          # deploys to staging, then waits for the go-live approval
  MODELYARD_ACTOR=reviewer modelyard approvals approve 2 --comment "ship it"
  modelyard worker --once          # the version is Approved and deployed to production
  modelyard run show 1
  modelyard env history fraud-detector production

You registered the version, so separation of duties lets someone else (reviewer) approve it.
Locally the CLI acts as the admin principal "local"; `modelyard server` runs the worker for
you. The pipeline: modelyard pipeline show release.

Docs: docs/concepts.md, docs/pipelines.md, docs/cli.md, docs/events.md, docs/search.md,
docs/security.md"""


@click.command("init")
@click.option(
    "--no-pipeline",
    "with_pipeline",
    flag_value=False,
    default=True,
    help="Do not create the default release pipeline.",
)
@pass_state
def init(state: State, with_pipeline: bool) -> None:
    """Create (or migrate) the store, add the default release pipeline (unless there is one
    already), and print a quickstart."""
    if state.remote:
        raise ConfigError(
            "url: init creates a local store; the server creates its own (unset --url)",
            field="url",
        )
    registry = state.local_registry()  # opening creates and migrates the store
    note = ""
    if with_pipeline and registry.ensure_default_pipeline():
        note = f"created the default pipeline {DEFAULT_PIPELINE_NAME}\n"
    console.print(
        QUICKSTART.format(location=_location(state), pipeline=note, make_model=MAKE_MODEL)
    )


def _location(state: State) -> str:
    settings = state.settings
    if settings.url:
        return f"server {settings.url}"
    if settings.db_url:
        database = settings.resolved_db_url.split("@")[-1]
        return f"database {database}, blobs {settings.resolved_blobs_url}"
    return str(settings.home.resolve())


@click.command("status")
@json_option
@pass_state
def status(state: State, as_json: bool) -> None:
    """Where the store is and what it holds."""
    summary = state.registry.summary()
    info: dict[str, object] = {"store": _location(state), **summary}
    if not state.remote:  # the blob store is the server's business remotely
        blobs = state.local_registry().blob_store_info()
        info["blobs"] = blobs["location"]
        info["blob_encryption"] = blobs["encryption"]
        if "key_encryption_key" in blobs:
            info["key_encryption_key"] = blobs["key_encryption_key"]
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
