"""``modelyard deploy``, ``rollback`` and ``env …``: environments and what served when."""

from __future__ import annotations

from typing import Any

import click

from modelyard.cli.output import console, json_option, print_json, print_pairs, print_table
from modelyard.cli.state import State, pass_state


def _done(deployment: dict[str, Any]) -> str:
    before = deployment["previous_version"]
    was = f" (was version {before})" if before is not None else ""
    return (
        f"{deployment['group']}@{deployment['environment']} -> version "
        f"{deployment['version']}{was}: deployment #{deployment['id']} {deployment['status']}"
    )


@click.command("deploy")
@click.argument("reference")
@click.option("--to", "to", required=True, help="The environment, e.g. staging or production.")
@click.option("--reason", default="", help="Why (kept in the deployment record and audit log).")
@json_option
@pass_state
def deploy(state: State, reference: str, to: str, reason: str, as_json: bool) -> None:
    """Deploy REFERENCE (fraud-detector/7, or fraud-detector@staging to promote) to an
    environment, after checking its policy (production needs Approved)."""
    done = state.registry.deploy(reference, to=to, reason=reason)
    print_json(done) if as_json else console.print(_done(done))


@click.command("rollback")
@click.argument("group")
@click.option("--env", required=True, help="The environment to roll back.")
@click.option("--reason", default="", help="Why (kept in the deployment record and audit log).")
@json_option
@pass_state
def rollback(state: State, group: str, env: str, reason: str, as_json: bool) -> None:
    """Put an environment back on the version of its newest successful deployment that
    differs from what it runs now (refused when there is none)."""
    done = state.registry.rollback(group, env=env, reason=reason)
    print_json(done) if as_json else console.print(_done(done))


@click.group("env")
def env() -> None:
    """Environments (protected aliases): deployment history, and what served when."""


@env.command("history")
@click.argument("group")
@click.argument("environment")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@json_option
@pass_state
def env_history(state: State, group: str, environment: str, limit: int, as_json: bool) -> None:
    """Every deployment to ENVIRONMENT of GROUP, newest first."""
    found = state.registry.environment_history(group, environment, limit=limit)
    if as_json:
        print_json(found)
        return
    print_table(
        ["#", "version", "from", "kind", "status", "by", "started", "error / reason"],
        [
            (
                d["id"],
                d["version"],
                d["previous_version"] if d["previous_version"] is not None else "-",
                d["kind"],
                d["status"],
                d["actor"],
                d["started_at"][:16].replace("T", " "),
                d["error"] or d["reason"],
            )
            for d in found
        ],
    )


@env.command("at")
@click.argument("group")
@click.argument("environment")
@click.option("--time", "time_", required=True, help="ISO-8601, e.g. 2026-10-01T12:00Z.")
@json_option
@pass_state
def env_at(state: State, group: str, environment: str, time_: str, as_json: bool) -> None:
    """Which version served ENVIRONMENT of GROUP at --time."""
    found = state.registry.environment_at(group, environment, time=time_)
    if as_json:
        print_json(found)
        return
    if found["version"] is None:
        console.print(f"no version served {group}@{environment} at {found['time']}")
        return
    print_pairs(
        [
            ("version", found["reference"]),
            ("since", found["since"]),
            ("by", found["by"]),
        ]
    )


COMMANDS = [deploy, rollback, env]
