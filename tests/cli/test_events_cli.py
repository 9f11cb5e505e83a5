"""`modelyard rule …` and `modelyard events …` as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

from modelyard import Registry
from tests.cli.conftest import Run

PATTERN = '{"type": ["group.created"]}'


def test_rule_lifecycle(run: Run, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("a-webhook-secret-of-24ch\n")
    out = run(
        "rule",
        "create",
        "new-groups",
        "--pattern",
        PATTERN,
        "--webhook",
        "https://hooks.example.com/x",
        "--secret-file",
        str(secret),
        "--target",
        '{"type": "log"}',
        "--description",
        "tell the team",
    ).output
    assert "created rule new-groups (cloudevents, 2 target(s))" in out
    listed = run("rule", "list").output
    assert "new-groups" in listed and "webhook https://hooks.example.com/x" in listed
    shown = json.loads(run("rule", "show", "new-groups", "--json").output)
    assert shown["targets"][1]["secret"] == "********"
    assert "a-webhook-secret" not in run("rule", "show", "new-groups").output
    assert "disabled rule new-groups" in run("rule", "disable", "new-groups").output
    run("rule", "disable", "new-groups", code=5)
    assert "enabled rule new-groups" in run("rule", "enable", "new-groups").output
    assert "deleted rule new-groups" in run("rule", "delete", "new-groups").output
    run("rule", "show", "new-groups", code=3)


def test_rule_test_exits_0_on_a_match_and_1_otherwise(run: Run, tmp_path: Path) -> None:
    run("rule", "create", "r", "--pattern", PATTERN, "--target", '{"type": "log"}')
    run("group", "create", "fraud")
    shown = run("events", "list", "--type", "group.created", "--json").output
    event = json.loads(shown)[0]
    matching = tmp_path / "event.json"
    matching.write_text(json.dumps(event))
    assert "matches rule r" in run("rule", "test", "r", "--event", str(matching)).output
    history = json.loads(run("events", "show", event["id"], "--json").output)
    wrapped = tmp_path / "shown.json"
    wrapped.write_text(json.dumps(history))  # `events show --json` output works too
    run("rule", "test", "r", "--event", str(wrapped))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**event, "type": "group.updated"}))
    assert "does not match rule r" in run("rule", "test", "r", "--event", str(other), code=1).output


def test_bad_rules_exit_2_naming_the_field_and_change_nothing(run: Run, tmp_path: Path) -> None:
    log = '{"type": "log"}'
    cases = [
        (["--pattern", '{"type": "group.created"}', "--target", log], "pattern.type"),
        (["--pattern", "{not json", "--target", log], "pattern: not valid JSON"),
        (["--pattern", PATTERN, "--target", '{"type": "fax"}'], "targets[0].type"),
        (
            ["--pattern", PATTERN, "--target", '{"type": "webhook", "url": "https://x"}'],
            "targets[0].secret: required",
        ),
        (
            [
                "--pattern",
                PATTERN,
                "--target",
                '{"type": "webhook", "url": "nope", "secret": "0123456789abcdef"}',
            ],
            "targets[0].url",
        ),
        (["--pattern", PATTERN, "--webhook", "https://x"], "secret_file"),
        (["--pattern", PATTERN], "targets: give at least one"),
        (["--pattern", "@missing.json", "--target", log], "pattern: cannot read"),
    ]
    for args, message in cases:
        result = run("rule", "create", "bad", *args, code=2)
        assert message in result.stderr, (args, result.stderr)
    assert "bad" not in run("rule", "list").output


def test_events_show_lists_every_attempt(run: Run, home: Path) -> None:
    run("rule", "create", "r", "--pattern", PATTERN, "--target", '{"type": "log"}')
    run("group", "create", "fraud")
    with Registry.open(home) as registry:
        waiting = registry.list_events(type="group.created")[0]["id"]
    assert "not routed to rules yet" in run("events", "show", waiting).output
    deliver(home)
    with Registry.open(home) as registry:
        event_id = registry.list_events(type="group.created")[0]["id"]
    out = run("events", "show", event_id).output
    assert "r[0]" in out and "delivered" in out and " ms" in out
    deliveries = run("events", "deliveries", "--status", "delivered").output
    assert event_id in deliveries
    assert "no dead letters" in run("events", "dead-letters").output


def deliver(home: Path) -> None:
    """What the server's embedded worker does."""
    from modelyard.worker.loop import Worker

    with Registry.open(home) as registry:
        worker = Worker(registry.delivery_queue())
        worker.step()
        worker.close()


def test_redrive_and_replay(run: Run, home: Path) -> None:
    run("events", "redrive", code=2)
    assert "redriven: 0" in run("events", "redrive", "--all").output
    run("rule", "create", "r", "--pattern", PATTERN, "--target", '{"type": "log"}')
    run("group", "create", "fraud")
    deliver(home)
    assert (
        "replay: 1 deliveries queued for rule r"
        in run("events", "replay", "--rule", "r", "--since", "1h").output
    )
    run("events", "replay", "--rule", "r", "--since", "soon", code=2)
    run("events", "replay", "--rule", "missing", "--since", "1h", code=3)


def test_worker_refuses_a_remote_store(run: Run) -> None:
    result = run("--url", "http://127.0.0.1:9", "worker", code=2)
    assert "a worker runs on a store" in result.stderr


def test_rule_update_rotates_a_webhook_secret(run: Run, tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text("the-old-secret-value-1234")
    new.write_text("the-new-secret-value-5678")
    run(
        "rule",
        "create",
        "hooks",
        "--pattern",
        PATTERN,
        "--webhook",
        "https://hooks.example.com/x",
        "--secret-file",
        str(old),
    )
    out = run(
        "rule",
        "update",
        "hooks",
        "--webhook",
        "https://hooks.example.com/x",
        "--secret-file",
        str(new),
        "--description",
        "rotated",
    ).output
    assert "updated rule hooks (cloudevents, 1 target(s))" in out
    assert json.loads(run("rule", "show", "hooks", "--json").output)["description"] == "rotated"
    run("rule", "update", "hooks", code=2)
    run("rule", "update", "pipeline-x", "--description", "no", code=2)
