"""Invariant 4: a change, its audit entry and its outbox event commit together or not at all."""

from __future__ import annotations

import pytest

from modelyard import Registry
from modelyard.store.sql import journal
from tests.conftest import MakeArtifact


def test_every_change_has_one_audit_entry_and_one_event(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g", allow_self_approval=True)
    registry.register_version("g", make_artifact())
    registry.approve_version("g/1", comment="ok")
    registry.tag_version("g/1", {"a": "b"})
    registry.set_alias("g", "champion", 1)
    # a worker scans the version meanwhile (the server's, in remote mode): its scan.completed
    # event and scan.finish entry land whenever it finishes; they pair up like the others
    events = [e for e in registry.list_events(group="g") if not e["type"].startswith("scan.")]
    audit = [a for a in registry.audit_log(group="g") if not a.action.startswith("scan.")]
    assert [e["type"] for e in reversed(events)] == [
        "group.created",
        "version.created",
        "version.approval_changed",
        "version.tagged",
        "alias.set",
    ]
    assert [a.action for a in reversed(audit)] == [
        "group.create",
        "version.create",
        "version.decide",
        "version.update",
        "alias.set",
    ]
    assert [a.details["event_id"] for a in audit] == [e["id"] for e in events]
    assert all(a.actor == "local" and a.outcome == "allowed" for a in audit)


def test_event_envelope_is_a_cloudevent(registry: Registry, make_artifact: MakeArtifact) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact())
    event = registry.list_events(type="version.created")[0]
    assert event["specversion"] == "1.0"
    assert event["source"] == "modelyard"
    assert event["subject"] == "g/1"
    assert event["time"].endswith("Z")
    assert event["data"] | {} == event["data"]
    assert {
        "group": "g",
        "version": 1,
        "reference": "g/1",
        "approval_status": "PendingManualApproval",
    }.items() <= event["data"].items()


def test_a_failed_event_write_rolls_back_the_change(
    local_registry: Registry, make_artifact: MakeArtifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = local_registry
    registry.create_group("g")
    artifact = make_artifact()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(journal, "append_event", broken)
    with pytest.raises(RuntimeError, match="outbox unavailable"):
        registry.register_version("g", artifact)
    with pytest.raises(RuntimeError):
        registry.update_group("g", description="changed")
    monkeypatch.undo()
    assert registry.get_group("g").latest_version == 0
    assert registry.get_group("g").description == ""
    assert registry.list_versions("g").items == []
    assert [e.action for e in registry.audit_log()] == ["group.create", "principal.bootstrap"]
    # the number was not used up: the next registration is still 1 (gapless)
    assert registry.register_version("g", artifact).number == 1
