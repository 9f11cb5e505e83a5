"""``modelyard rule …`` and ``modelyard events …``: event rules, history, replay, dead letters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from modelyard.cli.output import console, json_option, print_json, print_pairs, print_table
from modelyard.cli.state import State, pass_state
from modelyard.errors import ValidationError

NO_MATCH = 1  # `rule test` exits 1 when the event does not match, like grep


def read_json(value: str, *, field: str) -> Any:
    """A JSON text, or ``@path`` to a file holding one."""
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ValidationError(
                f"{field}: cannot read {str(path)!r}: {e.strerror}", field=field
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(
            f"{field}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})", field=field
        ) from None


def _secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ValidationError(
            f"secret_file: cannot read {str(path)!r}: {e.strerror}", field="secret_file"
        ) from None


# --- rules ----------------------------------------------------------------------------


@click.group("rule")
def rule() -> None:
    """Event rules: an EventBridge pattern, targets (webhook, sqs, sns, eventbridge, log)."""


@rule.command("create")
@click.argument("name")
@click.option("--pattern", required=True, help="The event pattern: JSON, or @FILE holding it.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    help='A target as JSON (or @FILE), e.g. \'{"type": "sqs", "queue_url": "…"}\'. Repeatable.',
)
@click.option("--webhook", help="Shortcut for a webhook target at this URL (needs --secret-file).")
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File holding the --webhook signing secret (16+ characters).",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["cloudevents", "sagemaker"]),
    help="Event shape to match and deliver [default: inferred from the pattern].",
)
@click.option("--transform", help="Input transform JSON (or @FILE): input_path or input_paths.")
@click.option("--description", default="", help="What the rule is for.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@json_option
@pass_state
def rule_create(
    state: State,
    name: str,
    pattern: str,
    targets: tuple[str, ...],
    webhook: str | None,
    secret_file: Path | None,
    format_: str | None,
    transform: str | None,
    description: str,
    disabled: bool,
    as_json: bool,
) -> None:
    """Create rule NAME: events matching --pattern go to every target."""
    specs = _target_specs(targets, webhook, secret_file)
    if not specs:
        raise ValidationError("targets: give at least one --target or --webhook", field="targets")
    created = state.registry.create_rule(
        name,
        read_json(pattern, field="pattern"),
        specs,
        format=format_,
        transform=read_json(transform, field="transform") if transform else None,
        description=description,
        enabled=not disabled,
    )
    if as_json:
        print_json(created)
        return
    console.print(f"created rule {name} ({created['format']}, {len(specs)} target(s))")


def _target_specs(
    targets: tuple[str, ...], webhook: str | None, secret_file: Path | None
) -> list[Any]:
    """``--target`` JSON (or @FILE) specs, plus the ``--webhook`` shortcut."""
    specs = [read_json(t, field=f"targets[{i}]") for i, t in enumerate(targets)]
    if webhook is not None:
        if secret_file is None:
            raise ValidationError(
                "secret_file: --webhook needs --secret-file (the signing secret)",
                field="secret_file",
            )
        specs.append({"type": "webhook", "url": webhook, "secret": _secret(secret_file)})
    elif secret_file is not None:
        raise ValidationError("secret_file: only used with --webhook", field="secret_file")
    return specs


@rule.command("update")
@click.argument("name")
@click.option("--pattern", help="A new event pattern: JSON, or @FILE holding it.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    help="Replace the targets with these (JSON or @FILE; repeatable). A webhook secret of "
    "******** keeps the stored one.",
)
@click.option("--webhook", help="Shortcut for a webhook target at this URL (needs --secret-file).")
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File holding the --webhook signing secret (16+ characters).",
)
@click.option(
    "--format", "format_", type=click.Choice(["cloudevents", "sagemaker"]), help="New format."
)
@click.option("--transform", help="New input transform JSON (or @FILE); '{}' removes it.")
@click.option("--description", help="New description.")
@json_option
@pass_state
def rule_update(
    state: State,
    name: str,
    pattern: str | None,
    targets: tuple[str, ...],
    webhook: str | None,
    secret_file: Path | None,
    format_: str | None,
    transform: str | None,
    description: str | None,
    as_json: bool,
) -> None:
    """Change rule NAME in place (what is not given stays), e.g. to rotate a webhook secret.
    Pending deliveries to targets it no longer has are cancelled."""
    specs = _target_specs(targets, webhook, secret_file)
    updated = state.registry.update_rule(
        name,
        pattern=read_json(pattern, field="pattern") if pattern else None,
        targets=specs or None,
        format=format_,
        transform=read_json(transform, field="transform") if transform else None,
        description=description,
    )
    if as_json:
        print_json(updated)
        return
    console.print(f"updated rule {name} ({updated['format']}, {len(updated['targets'])} target(s))")


@rule.command("list")
@json_option
@pass_state
def rule_list(state: State, as_json: bool) -> None:
    """Every rule."""
    found = state.registry.list_rules()
    if as_json:
        print_json(found)
        return
    print_table(
        ["name", "enabled", "format", "targets", "pattern"],
        [
            (
                r["name"],
                "yes" if r["enabled"] else "no",
                r["format"],
                ", ".join(_describe(t) for t in r["targets"]),
                json.dumps(r["pattern"], separators=(",", ":")),
            )
            for r in found
        ],
    )


def _describe(target: dict[str, Any]) -> str:
    where = next(
        (target[k] for k in ("url", "queue_url", "topic_arn", "event_bus") if k in target), ""
    )
    return f"{target['type']} {where}".strip()


@rule.command("show")
@click.argument("name")
@json_option
@pass_state
def rule_show(state: State, name: str, as_json: bool) -> None:
    """A rule, its pattern and targets (secrets redacted)."""
    found = state.registry.get_rule(name)
    if as_json:
        print_json(found)
        return
    print_pairs(
        [
            ("name", found["name"]),
            ("enabled", "yes" if found["enabled"] else "no"),
            ("format", found["format"]),
            ("description", found["description"]),
            ("pattern", json.dumps(found["pattern"])),
            *((f"target {i}", json.dumps(t)) for i, t in enumerate(found["targets"])),
            ("transform", json.dumps(found["transform"]) if found["transform"] else "-"),
            ("created", f"{found['created_at']} by {found['created_by']}"),
        ]
    )


@rule.command("test")
@click.argument("name")
@click.option(
    "--event",
    "event_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A JSON file holding the event (as `events show --json` prints it, or its 'event').",
)
@json_option
@pass_state
def rule_test(state: State, name: str, event_file: Path, as_json: bool) -> None:
    """Would this event match rule NAME, and what would its targets receive?

    Exits 0 when it matches, 1 when it does not."""
    event = read_json(f"@{event_file}", field="event")
    if isinstance(event, dict) and isinstance(event.get("event"), dict):
        event = event["event"]  # the output of `events show --json`
    result = state.registry.test_rule(name, event)
    if as_json:
        print_json(result)
    elif result["matched"]:
        console.print(f"matches rule {name}; its targets receive:")
        console.print_json(json.dumps(result["input"]))
    else:
        console.print(f"does not match rule {name}")
    if not result["matched"]:
        raise SystemExit(NO_MATCH)


@rule.command("enable")
@click.argument("name")
@pass_state
def rule_enable(state: State, name: str) -> None:
    """Route new matching events to the rule again."""
    state.registry.enable_rule(name)
    console.print(f"enabled rule {name}")


@rule.command("disable")
@click.argument("name")
@pass_state
def rule_disable(state: State, name: str) -> None:
    """Stop routing new events to the rule (queued deliveries still go out)."""
    state.registry.disable_rule(name)
    console.print(f"disabled rule {name}")


@rule.command("delete")
@click.argument("name")
@pass_state
def rule_delete(state: State, name: str) -> None:
    """Delete the rule; its pending deliveries are cancelled, history is kept."""
    state.registry.delete_rule(name)
    console.print(f"deleted rule {name}")


# --- events ---------------------------------------------------------------------------


@click.group("events")
def events() -> None:
    """Lifecycle events (CloudEvents): history, deliveries, replay and dead letters."""


@events.command("list")
@click.option("--type", "type_", help="Only this event type, e.g. version.created.")
@click.option("--group", help="Only events of this group.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@json_option
@pass_state
def events_list(
    state: State, type_: str | None, group: str | None, limit: int, as_json: bool
) -> None:
    """Newest events first."""
    found = state.registry.list_events(type=type_, group=group, limit=limit)
    if as_json:
        print_json(found)
        return
    print_table(
        ["time", "type", "subject", "id"],
        [(e["time"][:19], e["type"], e["subject"], e["id"]) for e in found],
    )


@events.command("show")
@click.argument("event_id")
@json_option
@pass_state
def events_show(state: State, event_id: str, as_json: bool) -> None:
    """One event and every delivery attempt: time, status code, latency, error."""
    found = state.registry.get_event(event_id)
    if as_json:
        print_json(found)
        return
    console.print_json(json.dumps(found["event"]))
    if not found["deliveries"]:
        console.print(
            "no deliveries (no rule matched it when it was routed)"
            if found["routed"]
            else "not routed to rules yet (is a worker or the server running?)"
        )
        return
    rows = []
    for d in found["deliveries"]:
        where = f"{d['rule']}[{d['target']}]"
        if not d["attempt_log"]:
            rows.append((where, d["status"], "-", "", "", "", d["last_error"]))
        for a in d["attempt_log"]:
            rows.append(
                (
                    where,
                    d["status"],
                    a["attempt"],
                    a["at"][:23],
                    a["status_code"] or "",
                    f"{a['latency_ms']:.1f} ms",
                    a["error"],
                )
            )
    print_table(["rule[target]", "status", "attempt", "at", "code", "latency", "error"], rows)


def _deliveries_table(found: list[dict[str, Any]]) -> None:
    print_table(
        ["id", "rule[target]", "type", "event", "status", "attempts", "last error"],
        [
            (
                d["id"],
                f"{d['rule']}[{d['target']}]",
                d.get("type", ""),
                d["event_id"],
                d["status"],
                d["attempts"],
                d["last_error"][:80],
            )
            for d in found
        ],
    )


@events.command("deliveries")
@click.option(
    "--status", type=click.Choice(["pending", "delivered", "dead", "cancelled"]), help="Only these."
)
@click.option("--rule", help="Only this rule's deliveries.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@json_option
@pass_state
def events_deliveries(
    state: State, status: str | None, rule: str | None, limit: int, as_json: bool
) -> None:
    """Deliveries, newest first."""
    found = state.registry.list_deliveries(status=status, rule=rule, limit=limit)
    if as_json:
        print_json(found)
        return
    _deliveries_table(found)


@events.command("dead-letters")
@click.option("--rule", help="Only this rule's dead letters.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@json_option
@pass_state
def events_dead_letters(state: State, rule: str | None, limit: int, as_json: bool) -> None:
    """Deliveries that gave up (attempts or age exhausted)."""
    found = state.registry.list_deliveries(status="dead", rule=rule, limit=limit)
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no dead letters")
        return
    _deliveries_table(found)


@events.command("redrive")
@click.argument("ids", nargs=-1, type=click.IntRange(min=1))
@click.option("--rule", help="Every dead letter of this rule.")
@click.option("--all", "all_", is_flag=True, help="Every dead letter.")
@pass_state
def events_redrive(state: State, ids: tuple[int, ...], rule: str | None, all_: bool) -> None:
    """Queue dead letters (by delivery ID, --rule or --all) for delivery again."""
    if not ids and rule is None and not all_:
        raise ValidationError("ids: give delivery IDs, --rule or --all", field="ids")
    count = state.registry.redrive_deliveries(list(ids) if ids else None, rule=rule, all_dead=all_)
    console.print(f"redriven: {count} deliveries queued again")


@events.command("replay")
@click.option("--rule", required=True, help="Deliver to this rule's targets.")
@click.option("--since", required=True, help="From this far back (2h, 7d) or an ISO-8601 time.")
@click.option("--until", help="Up to this time (a duration ago or ISO-8601) [default: now].")
@pass_state
def events_replay(state: State, rule: str, since: str, until: str | None) -> None:
    """Re-deliver past events that match RULE now (same event ids: receivers dedupe)."""
    count = state.registry.replay_events(rule, since=since, until=until)
    console.print(f"replay: {count} deliveries queued for rule {rule}")


COMMANDS = [rule, events]
