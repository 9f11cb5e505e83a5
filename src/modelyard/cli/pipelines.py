"""``modelyard pipeline …``, ``run …`` and ``approvals …``: release pipelines."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from modelyard.cli.output import console, json_option, print_json, print_pairs, print_table
from modelyard.cli.state import State, pass_state
from modelyard.errors import ValidationError

FOLLOW_POLL_S = 0.5
FINISHED = ("succeeded", "failed", "cancelled")


@click.group("pipeline")
def pipeline() -> None:
    """Release pipelines: YAML definitions, stored with every revision."""


@pipeline.command("apply")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@json_option
@pass_state
def pipeline_apply(state: State, file: Path, as_json: bool) -> None:
    """Validate FILE and store it as the pipeline's next revision (if it changed)."""
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValidationError(f"file: cannot read {str(file)!r}: {e}", field="file") from None
    applied = state.registry.apply_pipeline(source)
    if as_json:
        print_json(applied)
        return
    stored = applied["pipeline"]
    if applied["changed"]:
        console.print(f"applied pipeline {stored['name']}: revision {stored['revision']}")
    else:
        console.print(f"pipeline {stored['name']} unchanged (revision {stored['revision']})")


@pipeline.command("list")
@json_option
@pass_state
def pipeline_list(state: State, as_json: bool) -> None:
    """Every pipeline (its latest revision)."""
    found = state.registry.list_pipelines()
    if as_json:
        print_json(found)
        return
    print_table(
        ["name", "revision", "stages", "trigger", "applied"],
        [
            (
                p["name"],
                p["revision"],
                " → ".join(s["name"] for s in p["spec"]["stages"]),
                "yes" if p["spec"]["trigger"] else "manual only",
                f"{p['created_at'][:19]} by {p['created_by']}",
            )
            for p in found
        ],
    )


@pipeline.command("show")
@click.argument("name")
@click.option("--revision", type=click.IntRange(min=1), help="This revision [default: latest].")
@json_option
@pass_state
def pipeline_show(state: State, name: str, revision: int | None, as_json: bool) -> None:
    """A pipeline's YAML, as applied."""
    found = state.registry.get_pipeline(name, revision=revision)
    if as_json:
        print_json(found)
        return
    console.print(
        f"# {found['name']} revision {found['revision']}, applied {found['created_at']} "
        f"by {found['created_by']}"
    )
    click.echo(found["source"].rstrip("\n"))


@pipeline.command("diff")
@click.argument("name")
@click.option("--from", "from_", required=True, type=click.IntRange(min=1), help="Old revision.")
@click.option("--to", type=click.IntRange(min=1), help="New revision [default: latest].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the revisions and the diff.")
@pass_state
def pipeline_diff(state: State, name: str, from_: int, to: int | None, as_json: bool) -> None:
    """What changed between two revisions (a unified diff of the YAML)."""
    diff = state.registry.diff_pipeline(name, from_revision=from_, to_revision=to)
    if as_json:
        latest = to or state.registry.get_pipeline(name)["revision"]
        print_json({"pipeline": name, "from_revision": from_, "to_revision": latest, "diff": diff})
        return
    click.echo(diff.rstrip("\n") if diff else "no differences")


@pipeline.command("run")
@click.argument("name")
@click.argument("reference")
@json_option
@pass_state
def pipeline_run(state: State, name: str, reference: str, as_json: bool) -> None:
    """Start a run of pipeline NAME for version REFERENCE."""
    run = state.registry.start_run(name, reference)
    if as_json:
        print_json(run)
        return
    console.print(f"started run {run['id']} of {name} for {run['reference']}")


@click.group("run")
def run() -> None:
    """Pipeline runs: status, stages, logs; cancel and retry."""


@run.command("list")
@click.option("--pipeline", "pipeline_", help="Only this pipeline's runs.")
@click.option("--group", help="Only runs for this group's versions.")
@click.option(
    "--status",
    type=click.Choice(["queued", "running", "waiting", "succeeded", "failed", "cancelled"]),
    help="Only runs in this state.",
)
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@json_option
@pass_state
def run_list(
    state: State,
    pipeline_: str | None,
    group: str | None,
    status: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Runs, newest first."""
    found = state.registry.list_runs(pipeline=pipeline_, group=group, status=status, limit=limit)
    if as_json:
        print_json(found)
        return
    print_table(
        ["run", "pipeline", "version", "status", "trigger", "started", "error"],
        [
            (
                r["id"],
                f"{r['pipeline']} r{r['revision']}",
                r["reference"],
                r["status"],
                r["trigger"],
                r["created_at"][:19],
                r["error"],
            )
            for r in found
        ],
    )


@run.command("show")
@click.argument("run_id", type=int)
@json_option
@pass_state
def run_show(state: State, run_id: int, as_json: bool) -> None:
    """A run and each stage: status, attempts, timings, error."""
    found = state.registry.get_run(run_id)
    if as_json:
        print_json(found)
        return
    print_pairs(
        [
            ("run", found["id"]),
            ("pipeline", f"{found['pipeline']} revision {found['revision']}"),
            ("version", found["reference"]),
            ("status", found["status"]),
            ("trigger", found["trigger"]),
            ("started", f"{found['created_at']} by {found['created_by']}"),
            ("finished", found["finished_at"] or "-"),
            ("error", found["error"] or "-"),
        ]
    )
    print_table(
        ["#", "stage", "uses", "status", "attempts", "started", "finished", "error"],
        [
            (
                s["position"],
                s["name"],
                s["uses"],
                s["status"],
                s["attempts"],
                (s["started_at"] or "")[:19],
                (s["finished_at"] or "")[:19],
                s["error"],
            )
            for s in found["stages"]
        ],
    )


@run.command("logs")
@click.argument("run_id", type=int)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the run ends.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: an array of lines; with --follow, one JSON object per line.",
)
@pass_state
def run_logs(state: State, run_id: int, follow: bool, as_json: bool) -> None:
    """The log lines of a run's stages."""
    stages = {s["position"]: s["name"] for s in state.registry.get_run(run_id)["stages"]}
    if as_json and not follow:
        print_json([_log_json(line, stages) for line in _all_logs(state, run_id)])
        return
    after = 0
    while True:
        lines = state.registry.run_logs(run_id, after=after)
        for line in lines:
            if as_json:  # JSON Lines: a stream cannot be one array
                click.echo(json.dumps(_log_json(line, stages), default=str))
            else:
                name = stages.get(line["stage"], line["stage"])
                click.echo(f"{line['at'][11:19]} [{name}] {line['line']}")
            after = line["id"]
        if lines:
            continue
        if not follow or state.registry.get_run(run_id)["status"] in FINISHED:
            return
        time.sleep(FOLLOW_POLL_S)


def _all_logs(state: State, run_id: int) -> Iterator[dict[str, Any]]:
    after = 0
    while lines := state.registry.run_logs(run_id, after=after):
        yield from lines
        after = lines[-1]["id"]


def _log_json(line: dict[str, Any], stages: dict[int, str]) -> dict[str, Any]:
    return {**line, "stage_name": stages.get(line["stage"])}


@run.command("cancel")
@click.argument("run_id", type=int)
@click.option("--reason", default="", help="Why (kept with the run and in the audit log).")
@pass_state
def run_cancel(state: State, run_id: int, reason: str) -> None:
    """Stop an active run."""
    state.registry.cancel_run(run_id, reason=reason)
    console.print(f"cancelled run {run_id}")


@run.command("retry")
@click.argument("run_id", type=int)
@click.option("--from-stage", help="Start again from this stage [default: the one that failed].")
@pass_state
def run_retry(state: State, run_id: int, from_stage: str | None) -> None:
    """Run a failed or cancelled run again from a stage."""
    retried = state.registry.retry_run(run_id, from_stage=from_stage)
    start = next(s["name"] for s in retried["stages"] if s["status"] == "pending")
    console.print(f"retrying run {run_id} from stage {start}")


@click.group("approvals")
def approvals() -> None:
    """Approval requests opened by pipeline approval stages."""


@approvals.command("list")
@click.option("--mine", is_flag=True, help="Only requests you may decide now.")
@click.option(
    "--status",
    type=click.Choice(["pending", "approved", "rejected", "expired", "cancelled", "any"]),
    default="pending",
    show_default=True,
    help="Only requests in this state.",
)
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@json_option
@pass_state
def approvals_list(state: State, mine: bool, status: str, limit: int, as_json: bool) -> None:
    """Approval requests, newest first."""
    found = state.registry.list_approvals(
        mine=mine, status=None if status == "any" else status, limit=limit
    )
    if as_json:
        print_json(found)
        return
    print_table(
        ["id", "version", "pipeline", "needs", "approvals", "status", "expires"],
        [
            (
                a["id"],
                a["reference"],
                f"{a['pipeline']} run {a['run_id']}",
                _needs(a),
                ", ".join(v["principal"] for v in a["votes"] if v["decision"] == "approve") or "-",
                a["status"],
                a["expires_at"][:19],
            )
            for a in found
        ],
    )


def _needs(request: dict[str, Any]) -> str:
    who = ", ".join(request["principals"]) if request["principals"] else request["role"]
    return f"{request['count']} x {who}"


@approvals.command("approve")
@click.argument("request_id", type=int)
@click.option("--comment", default="", help="Why (recorded with the decision).")
@pass_state
def approvals_approve(state: State, request_id: int, comment: str) -> None:
    """Approve an approval request."""
    decided = state.registry.approve_request(request_id, comment=comment)
    console.print(f"approved request {request_id} ({decided['reference']}): {decided['status']}")


@approvals.command("reject")
@click.argument("request_id", type=int)
@click.option("--comment", required=True, help="Why (required; recorded with the decision).")
@pass_state
def approvals_reject(state: State, request_id: int, comment: str) -> None:
    """Reject an approval request: the run fails and the version becomes Rejected."""
    state.registry.reject_request(request_id, comment=comment)
    console.print(f"rejected request {request_id}")


COMMANDS = [pipeline, run, approvals]
