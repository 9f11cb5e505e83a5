"""Approval decisions and aliases with history, on every metadata backend."""

from __future__ import annotations

import pytest

from modelyard import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    Registry,
    ValidationError,
)
from tests.conftest import MakeArtifact, OpenRegistry


@pytest.fixture
def one_version(registry: Registry, make_artifact: MakeArtifact) -> Registry:
    registry.create_group("g")
    registry.register_version("g", make_artifact())
    return registry


def test_approve_then_reject_records_each_decision(
    open_registry: OpenRegistry, one_version: Registry
) -> None:
    alice = open_registry(actor="alice")
    assert alice.approve_version("g/1", comment="good").approval_status.value == "Approved"
    bob = open_registry(actor="bob")
    assert bob.reject_version("g/1", comment="drift found").approval_status.value == "Rejected"
    history = one_version.approval_history("g/1")
    assert [(d.previous_status.value, d.status.value, d.actor, d.comment) for d in history] == [
        ("PendingManualApproval", "Approved", "alice", "good"),
        ("Approved", "Rejected", "bob", "drift found"),
    ]
    events = one_version.list_events(type="version.approval_changed")
    assert events[0]["data"]["approval_status"] == "Rejected"
    assert events[0]["data"]["previous"] == {"approval_status": "Approved"}
    assert events[0]["subject"] == "g/1"


def test_same_decision_twice_is_refused(open_registry: OpenRegistry, one_version: Registry) -> None:
    alice = open_registry(actor="alice")
    alice.approve_version("g/1")
    with pytest.raises(InvalidTransitionError, match="already Approved"):
        alice.approve_version("g/1")
    assert len(one_version.approval_history("g/1")) == 1


def test_registrant_cannot_approve_own_version_but_a_second_approver_can(
    open_registry: OpenRegistry, registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    alice = open_registry(actor="alice")
    alice.register_version("g", make_artifact())
    with pytest.raises(PermissionDeniedError, match="separation of duties") as info:
        alice.approve_version("g/1", comment="mine")
    assert info.value.field == "principal"
    assert registry.get_version("g/1").approval_status.value == "PendingManualApproval"
    assert registry.approval_history("g/1") == []
    bob = open_registry(actor="bob")
    assert bob.approve_version("g/1", comment="reviewed").approval_status.value == "Approved"
    denied, allowed = (
        next(e for e in registry.audit_log(resource="g/1") if e.action == action)
        for action in ("version.approve", "version.decide")
    )
    assert (denied.actor, denied.outcome) == ("alice", "denied")
    assert "separation of duties" in denied.details["reason"]
    assert (allowed.actor, allowed.outcome) == ("bob", "allowed")
    assert registry.verify_audit().ok


def test_the_registrant_may_reject_their_own_version(
    open_registry: OpenRegistry, registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    alice = open_registry(actor="alice")
    alice.register_version("g", make_artifact())
    assert alice.reject_version("g/1", comment="bad run").approval_status.value == "Rejected"


def test_local_mode_is_bound_by_separation_of_duties(one_version: Registry) -> None:
    with pytest.raises(PermissionDeniedError, match="separation of duties"):
        one_version.approve_version("g/1")


def test_an_admin_may_self_approve_only_by_breaking_glass(one_version: Registry) -> None:
    with pytest.raises(ValidationError, match="needs a reason"):
        one_version.approve_version("g/1", break_glass="  ")
    version = one_version.approve_version("g/1", comment="hotfix", break_glass="incident 42")
    assert version.approval_status.value == "Approved"
    (decision,) = one_version.approval_history("g/1")
    assert decision.break_glass_reason == "incident 42"
    event = one_version.list_events(type="version.approval_changed")[0]
    assert event["data"]["break_glass"] == {"reason": "incident 42"}
    entry = next(e for e in one_version.audit_log() if e.action == "version.decide")
    assert entry.details["break_glass"] == {"reason": "incident 42"}


def test_a_non_admin_cannot_break_glass(
    open_registry: OpenRegistry, registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    alice = open_registry(actor="alice")
    alice.register_version("g", make_artifact())
    with pytest.raises(PermissionDeniedError, match=r"group\.configure"):
        alice.approve_version("g/1", break_glass="I insist")
    assert registry.get_version("g/1").approval_status.value == "PendingManualApproval"


def test_groups_allowing_self_approval_and_changing_it_is_admin_only_and_audited(
    open_registry: OpenRegistry, registry: Registry, make_artifact: MakeArtifact
) -> None:
    solo = registry.create_group("solo", allow_self_approval=True)
    assert solo.allow_self_approval
    registry.register_version("solo", make_artifact())
    assert registry.approve_version("solo/1").approval_status.value == "Approved"
    alice = open_registry(actor="alice")
    with pytest.raises(PermissionDeniedError, match="group.configure"):
        alice.update_group("solo", allow_self_approval=False)
    with pytest.raises(PermissionDeniedError, match="group.configure"):
        alice.create_group("team-solo", allow_self_approval=True)
    updated = registry.update_group("solo", allow_self_approval=False)
    assert not updated.allow_self_approval
    # the newest entry but a scan a server's worker may finish meanwhile (remote mode)
    entry = next(e for e in registry.audit_log(group="solo") if e.action != "scan.finish")
    assert entry.action == "group.update"
    assert entry.details["changes"] == {"allow_self_approval": False}
    assert entry.details["previous"] == {"allow_self_approval": True}


def test_reject_needs_a_comment(one_version: Registry) -> None:
    with pytest.raises(ValidationError, match="needs a comment") as info:
        one_version.reject_version("g/1", comment="  ")
    assert info.value.field == "comment"
    assert one_version.get_version("g/1").approval_status.value == "PendingManualApproval"


def test_alias_moves_are_kept_in_history(
    open_registry: OpenRegistry, registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    for _ in range(3):
        registry.register_version("g", make_artifact())
    registry.set_alias("g", "champion", 1, reason="first")
    open_registry(actor="carol").set_alias("g", "champion", 3, reason="better auc")
    assert registry.get_version("g@champion").number == 3
    assert registry.get_version("g/3").aliases == ("champion",)
    registry.delete_alias("g", "champion", reason="retired")
    with pytest.raises(NotFoundError):
        registry.get_version("g@champion")
    moves = registry.alias_history("g", "champion")
    assert [(m.previous_version, m.version, m.actor, m.reason) for m in moves] == [
        (None, 1, "local", "first"),
        (1, 3, "carol", "better auc"),
        (3, None, "local", "retired"),
    ]
    # (not the scan.completed events a server's worker may interleave in remote mode)
    types = [e["type"] for e in registry.list_events(group="g") if e["type"] != "scan.completed"]
    assert types[:3] == ["alias.deleted", "alias.set", "alias.set"]


def test_alias_rules(one_version: Registry) -> None:
    with pytest.raises(ValidationError, match="not a valid alias name"):
        one_version.set_alias("g", "Champion", 1)
    with pytest.raises(ValidationError, match="reserved"):
        one_version.set_alias("g", "latest", 1)
    with pytest.raises(NotFoundError, match="g/2 does not exist"):
        one_version.set_alias("g", "champion", 2)
    with pytest.raises(NotFoundError, match="does not exist"):
        one_version.delete_alias("g", "champion")
    with pytest.raises(NotFoundError, match="never been set"):
        one_version.alias_history("g", "champion")
    assert one_version.list_aliases("g") == {}


def test_list_aliases(one_version: Registry) -> None:
    one_version.set_alias("g", "prod", 1)
    one_version.set_alias("g", "champion", 1)
    assert one_version.list_aliases("g") == {"champion": 1, "prod": 1}
    with pytest.raises(ConflictError):
        one_version.set_alias("g", "prod", "1")
