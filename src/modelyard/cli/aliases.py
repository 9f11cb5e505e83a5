"""``modelyard alias …``: set, delete, list, history."""

from __future__ import annotations

from collections.abc import Sequence

import click

from modelyard.cli.output import console, json_option, print_json, print_table
from modelyard.cli.paging import paging_options, print_page
from modelyard.cli.state import State, pass_state
from modelyard.domain.model import AliasMove


@click.group()
def alias() -> None:
    """Aliases: mutable names (champion, production) pointing at one version."""


@alias.command("set")
@click.argument("group")
@click.argument("name")
@click.argument("version")
@click.option("--reason", default="", help="Why it moves (kept in the history).")
@pass_state
def set_(state: State, group: str, name: str, version: str, reason: str) -> None:
    """Point GROUP@NAME at version number VERSION."""
    found = state.registry.set_alias(group, name, version, reason=reason)
    console.print(f"{group}@{name} -> {found.reference}")


@alias.command("delete")
@click.argument("group")
@click.argument("name")
@click.option("--reason", default="", help="Why it is removed (kept in the history).")
@pass_state
def delete(state: State, group: str, name: str, reason: str) -> None:
    """Remove alias GROUP@NAME (its history is kept)."""
    state.registry.delete_alias(group, name, reason=reason)
    console.print(f"deleted {group}@{name}")


@alias.command("list")
@click.argument("group")
@json_option
@pass_state
def list_(state: State, group: str, as_json: bool) -> None:
    """The aliases of GROUP and the versions they point at."""
    aliases = state.registry.list_aliases(group)
    if as_json:
        print_json(aliases)
        return
    print_table(
        ["alias", "version"], [(f"{group}@{n}", f"{group}/{v}") for n, v in aliases.items()]
    )


@alias.command("history")
@click.argument("group")
@click.argument("name")
@paging_options("moves")
@json_option
@pass_state
def history(
    state: State,
    group: str,
    name: str,
    limit: int,
    cursor: str | None,
    all_pages: bool,
    as_json: bool,
) -> None:
    """Every move of GROUP@NAME: when, who, from which version to which, why."""
    page = state.registry.alias_history(group, name, limit=limit, cursor=cursor)
    print_page(
        page, all_pages=all_pages, as_json=as_json, item_json=AliasMove.to_dict, table=_moves
    )


def _moves(moves: Sequence[AliasMove]) -> None:
    print_table(
        ["at", "from", "to", "by", "reason"],
        [
            (
                f"{m.at:%Y-%m-%d %H:%M:%S}",
                m.previous_version or "-",
                m.version if m.version is not None else "(deleted)",
                m.actor,
                m.reason,
            )
            for m in moves
        ],
    )
