"""Approval decisions and aliases with history, on every metadata backend."""

from __future__ import annotations

import pytest

from modelyard import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
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


def test_same_decision_twice_is_refused(one_version: Registry) -> None:
    one_version.approve_version("g/1")
    with pytest.raises(InvalidTransitionError, match="already Approved"):
        one_version.approve_version("g/1")
    assert len(one_version.approval_history("g/1")) == 1


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
    types = [e["type"] for e in registry.list_events(group="g")][:3]
    assert types == ["alias.deleted", "alias.set", "alias.set"]


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
