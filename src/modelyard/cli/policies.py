"""`modelyard policy`: a group's release policies (what approval and each environment need)."""

from __future__ import annotations

import click
from rich.markup import escape

from modelyard.cli.errors import FAILURE
from modelyard.cli.output import console, json_option, print_json, print_table
from modelyard.cli.state import State, pass_state
from modelyard.domain.policies import ReleasePolicy


def _show(policy: ReleasePolicy) -> None:
    clauses = " && ".join(policy.clauses) or "(nothing)"
    where = "default" if policy.default else f"set by {policy.updated_by}"
    console.print(
        f"{policy.group} {policy.target}: {clauses}  ({where})", highlight=False, markup=False
    )


@click.group("policy")
def policy() -> None:
    """Release policies: what a version needs before it may be approved (target
    `approval`) or deployed to an environment (target: its name).

    Clauses: approved, scan == clean, scan != unsafe, signature.valid, signed_by in
    [KEY, ...]. Defaults: approval needs scan != unsafe; production needs approved,
    scan == clean and signature.valid.
    """


@policy.command("list")
@click.argument("group")
@json_option
@pass_state
def list_(state: State, group: str, as_json: bool) -> None:
    """GROUP's policies: the defaults and every one it set."""
    policies = state.registry.list_policies(group)
    if as_json:
        print_json([p.to_dict() for p in policies])
        return
    print_table(
        ["target", "requires", "set by"],
        [
            (p.target, " && ".join(p.clauses) or "(nothing)", p.updated_by or "default")
            for p in policies
        ],
    )


@policy.command("show")
@click.argument("group")
@click.argument("target")
@json_option
@pass_state
def show(state: State, group: str, target: str, as_json: bool) -> None:
    """GROUP's policy for TARGET (`approval` or an environment)."""
    found = state.registry.get_policy(group, target)
    if as_json:
        print_json(found.to_dict())
    else:
        _show(found)


@policy.command("set")
@click.argument("group")
@click.argument("target")
@click.argument("clauses", nargs=-1, metavar="CLAUSE...")
@json_option
@pass_state
def set_(state: State, group: str, target: str, clauses: tuple[str, ...], as_json: bool) -> None:
    """Replace GROUP's policy for TARGET with CLAUSE... (none: require nothing).

    Quote each clause: modelyard policy set fraud-detector production approved
    "scan == clean" signature.valid "signed_by in [alice]". Needs group.configure;
    audited (policy.set) with the previous clauses.
    """
    changed = state.registry.set_policy(group, target, list(clauses))
    if as_json:
        print_json(changed.to_dict())
    else:
        _show(changed)


@policy.command("reset")
@click.argument("group")
@click.argument("target")
@json_option
@pass_state
def reset(state: State, group: str, target: str, as_json: bool) -> None:
    """Drop GROUP's own policy for TARGET: its default applies again."""
    changed = state.registry.reset_policy(group, target)
    if as_json:
        print_json(changed.to_dict())
    else:
        _show(changed)


@policy.command("check")
@click.argument("reference")
@click.argument("target")
@json_option
@pass_state
def check(state: State, reference: str, target: str, as_json: bool) -> None:
    """Whether REFERENCE may be approved (TARGET `approval`) or deployed to TARGET now;
    exit 1 and say why not."""
    violations = state.registry.check_policy(reference, target)
    if as_json:
        print_json({"reference": reference, "target": target, "violations": violations})
    elif violations:
        for violation in violations:
            console.print(f"[red]✗[/] {escape(violation)}", highlight=False)
    else:
        console.print(f"{reference} satisfies the {target} policy", highlight=False, markup=False)
    if violations:
        raise click.exceptions.Exit(FAILURE)


COMMANDS = [policy]
