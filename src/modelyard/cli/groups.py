"""``modelyard group …``: create, list, show, update, archive."""

from __future__ import annotations

from collections.abc import Sequence

import click

from modelyard.cli.output import (
    console,
    format_map,
    json_option,
    print_json,
    print_pairs,
    print_table,
)
from modelyard.cli.paging import paging_options, print_page
from modelyard.cli.state import State, pass_state
from modelyard.domain.model import Group
from modelyard.domain.values import parse_pairs


@click.group()
def group() -> None:
    """Groups: named families of model versions."""


@group.command("create")
@click.argument("name")
@click.option("--description", default="", help="What this model does.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag (repeatable).")
@click.option(
    "--allow-self-approval",
    is_flag=True,
    help="Let a version's registrant approve it, for single-user setups (admin only).",
)
@json_option
@pass_state
def create(
    state: State,
    name: str,
    description: str,
    tags: tuple[str, ...],
    allow_self_approval: bool,
    as_json: bool,
) -> None:
    """Create group NAME."""
    created = state.registry.create_group(
        name,
        description=description,
        tags=dict(parse_pairs(tags, field="tags")),
        allow_self_approval=allow_self_approval,
    )
    if as_json:
        print_json(created.to_dict())
    else:
        console.print(f"created group {created.name}")


@group.command("list")
@click.option("--include-archived", is_flag=True, help="Include archived groups.")
@paging_options("groups")
@json_option
@pass_state
def list_(
    state: State,
    include_archived: bool,
    limit: int,
    cursor: str | None,
    all_pages: bool,
    as_json: bool,
) -> None:
    """List groups by name."""
    page = state.registry.list_groups(include_archived=include_archived, limit=limit, cursor=cursor)
    print_page(page, all_pages=all_pages, as_json=as_json, item_json=Group.to_dict, table=_table)


def _table(groups: Sequence[Group]) -> None:
    print_table(
        ["name", "versions", "description", "tags", "archived"],
        [
            (
                g.name,
                g.latest_version,
                g.description,
                format_map(g.tags),
                "yes" if g.archived else "",
            )
            for g in groups
        ],
    )


@group.command("show")
@click.argument("name")
@json_option
@pass_state
def show(state: State, name: str, as_json: bool) -> None:
    """Show group NAME with its aliases."""
    found = state.registry.get_group(name)
    aliases = state.registry.list_aliases(name)
    if as_json:
        print_json(found.to_dict() | {"aliases": aliases})
        return
    _print_group(found, aliases)


def _print_group(found: Group, aliases: dict[str, int]) -> None:
    print_pairs(
        [
            ("name", found.name),
            ("description", found.description),
            ("tags", format_map(found.tags)),
            ("versions", found.latest_version),
            ("aliases", format_map(aliases)),
            ("self-approval", "allowed" if found.allow_self_approval else "forbidden"),
            ("protected aliases", ", ".join(found.protected_aliases)),
            ("created", f"{found.created_at:%Y-%m-%d %H:%M:%S} UTC by {found.created_by}"),
            (
                "archived",
                f"{found.archived_at:%Y-%m-%d %H:%M:%S} UTC" if found.archived_at else "no",
            ),
        ]
    )


@group.command("update")
@click.argument("name")
@click.option("--description", help="New description.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Set a tag (repeatable).")
@click.option("--untag", "untags", multiple=True, metavar="KEY", help="Remove a tag (repeatable).")
@click.option(
    "--allow-self-approval/--no-allow-self-approval",
    default=None,
    help="Let (or stop letting) a version's registrant approve it (admin only).",
)
@click.option(
    "--protected-alias",
    "protected_aliases",
    multiple=True,
    metavar="NAME",
    help="An alias only deployers may move; the list given replaces the current one "
    "(repeatable; '' for none; admin only).",
)
@pass_state
def update(
    state: State,
    name: str,
    description: str | None,
    tags: tuple[str, ...],
    untags: tuple[str, ...],
    allow_self_approval: bool | None,
    protected_aliases: tuple[str, ...],
) -> None:
    """Change the description, tags or access settings of group NAME."""
    state.registry.update_group(
        name,
        description=description,
        set_tags=dict(parse_pairs(tags, field="tags")),
        remove_tags=untags,
        allow_self_approval=allow_self_approval,
        protected_aliases=[a for a in protected_aliases if a] if protected_aliases else None,
    )
    console.print(f"updated group {name}")


@group.command("archive")
@click.argument("name")
@pass_state
def archive(state: State, name: str) -> None:
    """Archive group NAME: hidden from lists, no new versions; versions stay readable."""
    state.registry.archive_group(name)
    console.print(f"archived group {name}")
