"""Event rules through the Python API, locally and over HTTP (the same tests run on both)."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError

SECRET = "0123456789abcdef-secret"
HOOK = {"type": "webhook", "url": "https://hooks.example.com/modelyard", "secret": SECRET}
PATTERN = {"type": ["version.approval_changed"], "data": {"approval_status": ["Approved"]}}


def test_create_show_list_disable_enable_delete(registry: Any) -> None:
    created = registry.create_rule("approved", PATTERN, [HOOK], description="page release")
    assert created["name"] == "approved" and created["enabled"] is True
    assert created["format"] == "cloudevents"
    assert created["pattern"] == PATTERN
    [target] = created["targets"]
    assert target["secret"] == "********", "secrets are never returned"
    assert target == {
        "type": "webhook",
        "url": HOOK["url"],
        "secret": "********",
        "timeout": 10.0,
        "max_attempts": 25,
        "max_age": "1d",
    }
    assert registry.get_rule("approved") == created
    assert [r["name"] for r in registry.list_rules()] == ["approved"]
    assert registry.disable_rule("approved")["enabled"] is False
    with pytest.raises(ConflictError, match="already disabled"):
        registry.disable_rule("approved")
    assert registry.enable_rule("approved")["enabled"] is True
    registry.delete_rule("approved")
    assert registry.list_rules() == []
    with pytest.raises(NotFoundError, match="rule 'approved' does not exist"):
        registry.get_rule("approved")
    actions = [e.action for e in registry.audit_log(resource="rule:approved", limit=10)]
    assert actions == ["rule.delete", "rule.update", "rule.update", "rule.create"]
    types = [e["type"] for e in registry.list_events(limit=4)]
    assert types == ["rule.deleted", "rule.updated", "rule.updated", "rule.created"]


def test_a_duplicate_name_conflicts(registry: Any) -> None:
    registry.create_rule("r", PATTERN, [HOOK])
    with pytest.raises(ConflictError, match="rule 'r' already exists"):
        registry.create_rule("r", PATTERN, [{"type": "log"}])


@pytest.mark.parametrize(
    ("pattern", "targets", "extra", "field", "message"),
    [
        ({"type": "version.created"}, [HOOK], {}, "pattern.type", "array"),
        ({"data": {"n": [{"numeric": [">", "x"]}]}}, [HOOK], {}, "pattern.data.n[0]", "numeric"),
        ({"type": [{"bogus": 1}]}, [HOOK], {}, "pattern.type[0]", "bogus"),
        (PATTERN, [], {}, "targets", "1 to 5"),
        (PATTERN, [{"type": "carrier-pigeon"}], {}, "targets[0].type", "not a target type"),
        (PATTERN, [{"type": "pipeline"}], {}, "targets[0].pipeline", "required"),
        (PATTERN, [{**HOOK, "url": "ftp://x"}], {}, "targets[0].url", r"http\(s\) URL"),
        (PATTERN, [{**HOOK, "url": "not a url"}], {}, "targets[0].url", r"http\(s\) URL"),
        (PATTERN, [{"type": "webhook", "url": HOOK["url"]}], {}, "targets[0].secret", "required"),
        (PATTERN, [{**HOOK, "secret": "short"}], {}, "targets[0].secret", "16 characters"),
        (PATTERN, [{"type": "log"}, {**HOOK, "timeout": 0}], {}, "targets[1].timeout", "0.1-60"),
        (PATTERN, [{**HOOK, "max_age": "forever"}], {}, "targets[0].max_age", "duration"),
        (PATTERN, [{"type": "sqs", "queue_url": "https://x"}], {}, "targets[0].queue_url", "SQS"),
        (PATTERN, [{"type": "sns", "topic_arn": "arn:x"}], {}, "targets[0].topic_arn", "SNS"),
        (PATTERN, [{"type": "log", "url": "x"}], {}, "targets[0].url", "not a field"),
        (PATTERN, [HOOK], {"format": "xml"}, "format", "cloudevents, sagemaker"),
        (PATTERN, [HOOK], {"transform": {"input_path": "data"}}, "transform.input_path", "$"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(
    registry: Any,
    pattern: Any,
    targets: list[dict[str, Any]],
    extra: dict[str, Any],
    field: str,
    message: str,
) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        registry.create_rule("bad", pattern, targets, **extra)
    assert caught.value.field == field
    assert SECRET not in str(caught.value)
    assert registry.list_rules() == []


def test_bad_rule_names_are_refused(registry: Any) -> None:
    with pytest.raises(ValidationError, match="not a rule name") as caught:
        registry.create_rule("no spaces", PATTERN, [HOOK])
    assert caught.value.field == "name"


def test_test_rule_says_whether_an_event_matches_and_what_targets_get(registry: Any) -> None:
    registry.create_rule(
        "approved",
        PATTERN,
        [HOOK],
        transform={"input_paths": {"ref": "$.data.reference"}},
    )
    event = {
        "type": "version.approval_changed",
        "data": {"approval_status": "Approved", "reference": "g/1", "group": "g"},
    }
    result = registry.test_rule("approved", event)
    assert result["matched"] is True
    assert result["input"] == {"ref": "g/1"}
    assert result["targets"] == [f"webhook {HOOK['url']}"]
    event["data"]["approval_status"] = "Rejected"
    assert registry.test_rule("approved", event)["matched"] is False


def test_only_admins_manage_rules_everyone_reads_them(open_registry: Any) -> None:
    admin = open_registry()
    admin.create_rule("r", PATTERN, [HOOK])
    member = open_registry("bob")  # contributor, approver, deployer on every group
    assert [r["name"] for r in member.list_rules()] == ["r"]
    for attempt in (
        lambda: member.create_rule("mine", PATTERN, [HOOK]),
        lambda: member.disable_rule("r"),
        lambda: member.delete_rule("r"),
        lambda: member.replay_events("r", since="1h"),
        lambda: member.redrive_deliveries(rule="r"),
    ):
        with pytest.raises(PermissionDeniedError, match="rules.manage"):
            attempt()
    assert admin.get_rule("r")["enabled"] is True


def test_event_history_and_deliveries_reject_bad_input(registry: Any) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        registry.get_event("00000000-0000-0000-0000-000000000000")
    with pytest.raises(ValidationError) as caught:
        registry.list_deliveries(status="lost")
    assert caught.value.field == "status"
    with pytest.raises(NotFoundError):
        registry.replay_events("missing", since="1h")
    registry.create_rule("r", PATTERN, [HOOK])
    with pytest.raises(ValidationError) as caught:
        registry.replay_events("r", since="yesterday")
    assert caught.value.field == "since"
    assert registry.redrive_deliveries(rule="r") == 0


def test_update_rule_in_place_keeps_redacted_secrets(registry: Any) -> None:
    registry.create_rule("approved", PATTERN, [HOOK, {"type": "log"}], description="old")
    shown = registry.get_rule("approved")
    updated = registry.update_rule(
        "approved",
        targets=[{**shown["targets"][0], "url": "https://hooks.example.com/v2"}],
        description="new",
    )
    assert updated["description"] == "new"
    assert updated["pattern"] == PATTERN  # not given: kept
    assert [t["url"] for t in updated["targets"]] == ["https://hooks.example.com/v2"]
    assert updated["targets"][0]["secret"] == "********"
    rotated = registry.update_rule(
        "approved", targets=[{**HOOK, "secret": "a-brand-new-secret-value"}]
    )
    assert rotated["targets"][0]["url"] == HOOK["url"]
    event = registry.list_events(type="rule.updated", limit=1)[0]
    assert event["data"]["changes"]["targets"][0]["secret"] == "********"
    assert "a-brand-new-secret-value" not in str(registry.list_events(limit=20))
    with pytest.raises(ValidationError, match="at least one") as caught:
        registry.update_rule("approved")
    assert caught.value.field == "rule"
    with pytest.raises(ValidationError) as caught:
        registry.update_rule("approved", pattern={"type": "not-a-list"})
    assert caught.value.field == "pattern.type"
    assert registry.get_rule("approved")["pattern"] == PATTERN  # unchanged after the refusal
    with pytest.raises(NotFoundError):
        registry.update_rule("missing", description="x")
    cleared = registry.update_rule("approved", transform={"input_path": "$.data"})
    assert cleared["transform"] == {"input_path": "$.data"}
    assert registry.update_rule("approved", transform={})["transform"] is None
