"""``modelyard principal …``, ``token …``, ``access …`` and ``whoami``: who may do what."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import click

from modelyard.cli.errors import DENIED
from modelyard.cli.output import console, json_option, print_json, print_pairs, print_table
from modelyard.cli.paging import paging_options, print_page
from modelyard.cli.state import State, pass_state
from modelyard.domain.access import Binding
from modelyard.domain.principals import ApiToken, Principal


def _say(text: str) -> None:
    """Print a line holding user data (no rich markup interpretation)."""
    console.print(text, markup=False)


def _when(moment: datetime | None, empty: str = "") -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else empty


# ---------------------------------------------------------------------------- principals


@click.group()
def principal() -> None:
    """Principals: users and service accounts that roles and tokens belong to."""


@principal.command("create")
@click.argument("name")
@click.option("--service", is_flag=True, help="A service account (CI, a pipeline), not a person.")
@json_option
@pass_state
def principal_create(state: State, name: str, service: bool, as_json: bool) -> None:
    """Create principal NAME (it holds no role until one is granted)."""
    created = state.registry.create_principal(name, service=service)
    if as_json:
        print_json(created.to_dict())
    else:
        _say(f"created principal {created.name} ({created.kind.value})")


@principal.command("list")
@paging_options("principals")
@json_option
@pass_state
def principal_list(
    state: State, limit: int, cursor: str | None, all_pages: bool, as_json: bool
) -> None:
    """List principals by name."""
    page = state.registry.list_principals(limit=limit, cursor=cursor)
    print_page(
        page, all_pages=all_pages, as_json=as_json, item_json=Principal.to_dict, table=_principals
    )


def _principals(found: Sequence[Principal]) -> None:
    print_table(
        ["name", "kind", "created", "by"],
        [(p.name, p.kind.value, _when(p.created_at), p.created_by) for p in found],
    )


# -------------------------------------------------------------------------------- tokens


@click.group()
def token() -> None:
    """API tokens: the bearer secrets principals authenticate to a server with."""


@token.command("create")
@click.option("--principal", "principal_name", required=True, help="Whose token it is.")
@click.option(
    "--expires",
    default="90d",
    show_default=True,
    help="Lifetime: 12h, 90d, 4w, 1y (at most 3 years) or 'never'.",
)
@click.option("--description", default="", help="What the token is for.")
@json_option
@pass_state
def token_create(
    state: State, principal_name: str, expires: str, description: str, as_json: bool
) -> None:
    """Create an API token for a principal and print its secret, once."""
    issued = state.registry.create_token(principal_name, expires=expires, description=description)
    if as_json:
        print_json(issued.to_dict())
        return
    until = _when(issued.token.expires_at, "never")
    _say(f"created token {issued.token.id} for {issued.token.principal} (expires {until})")
    click.echo(issued.secret)
    _say("Copy it now: the token cannot be shown again (only its hash is stored).")


@token.command("list")
@click.option("--principal", "principal_name", help="Only this principal's tokens.")
@paging_options("tokens")
@json_option
@pass_state
def token_list(
    state: State,
    principal_name: str | None,
    limit: int,
    cursor: str | None,
    all_pages: bool,
    as_json: bool,
) -> None:
    """List tokens with their state and last use (never their secrets), oldest first."""
    page = state.registry.list_tokens(principal=principal_name, limit=limit, cursor=cursor)
    now = datetime.now(UTC)
    print_page(
        page,
        all_pages=all_pages,
        as_json=as_json,
        item_json=lambda t: t.to_dict() | {"state": t.state(now)},
        table=lambda found: _tokens(found, now),
    )


def _tokens(found: Sequence[ApiToken], now: datetime) -> None:
    print_table(
        ["id", "principal", "state", "expires", "last used", "created", "description"],
        [
            (
                t.id,
                t.principal,
                t.state(now),
                _when(t.expires_at, "never"),
                _when(t.last_used_at, "never"),
                _when(t.created_at),
                t.description,
            )
            for t in found
        ],
    )


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@pass_state
def token_revoke(state: State, token_id: str) -> None:
    """Revoke token ID at once (it stays listed, as revoked)."""
    revoked = state.registry.revoke_token(token_id)
    _say(f"revoked token {revoked.id} of {revoked.principal}")


# ------------------------------------------------------------------------- role bindings


@click.group()
def access() -> None:
    """Role bindings: a role on a group-name pattern; everything else is denied."""


_groups_option = click.option(
    "--groups",
    default="*",
    show_default=True,
    metavar="PATTERN",
    help="Group-name pattern the role applies to, e.g. 'fraud-*'.",
)


@access.command("grant")
@click.argument("principal_name", metavar="PRINCIPAL")
@click.argument("role")
@_groups_option
@pass_state
def access_grant(state: State, principal_name: str, role: str, groups: str) -> None:
    """Give PRINCIPAL ROLE (viewer, contributor, approver, deployer, admin) on --groups."""
    binding = state.registry.grant(principal_name, role, groups=groups)
    _say(f"granted {binding.role.value} on {binding.pattern!r} to {binding.principal}")


@access.command("revoke")
@click.argument("principal_name", metavar="PRINCIPAL")
@click.argument("role")
@_groups_option
@pass_state
def access_revoke(state: State, principal_name: str, role: str, groups: str) -> None:
    """Remove PRINCIPAL's ROLE binding on --groups."""
    state.registry.revoke(principal_name, role, groups=groups)
    _say(f"revoked {role} on {groups!r} from {principal_name}")


@access.command("list")
@click.option("--principal", "principal_name", help="Only this principal's bindings.")
@json_option
@pass_state
def access_list(state: State, principal_name: str | None, as_json: bool) -> None:
    """List role bindings."""
    found = state.registry.list_bindings(principal=principal_name)
    if as_json:
        print_json([b.to_dict() for b in found])
        return
    _print_bindings(found)


def _print_bindings(bindings: list[Binding]) -> None:
    print_table(
        ["principal", "role", "groups", "granted", "by"],
        [
            (b.principal, b.role.value, b.pattern, _when(b.created_at), b.created_by)
            for b in bindings
        ],
    )


@access.command("check")
@click.argument("principal_name", metavar="PRINCIPAL")
@click.argument("action")
@click.argument("target")
@json_option
@pass_state
def access_check(
    state: State, principal_name: str, action: str, target: str, as_json: bool
) -> None:
    """Would PRINCIPAL be allowed ACTION on TARGET (a group or a reference)? Says why.

    ACTION is a verb (read, register, tag, describe, approve, reject, alias, deploy,
    create-group, configure, archive) or an action name such as version.approve.
    Exit 0 when allowed, 4 when denied.
    """
    decision = state.registry.check_access(principal_name, action, target)
    if as_json:
        print_json(decision.to_dict())
    else:
        verdict = "allowed" if decision.allowed else "denied"
        _say(f"{verdict}: {decision.reason}")
    if not decision.allowed:
        click.get_current_context().exit(DENIED)


@click.command("whoami")
@json_option
@pass_state
def whoami(state: State, as_json: bool) -> None:
    """The principal this CLI acts as, and its role bindings."""
    me = state.registry.whoami()
    if as_json:
        print_json(me)
        return
    bindings = me.get("bindings") or []
    assert isinstance(bindings, list)
    held = ", ".join(f"{b['role']} on {b['groups']!r}" for b in bindings) or "(no roles)"
    print_pairs([("principal", me["principal"]), ("roles", held)])


COMMANDS = [principal, token, access, whoami]
