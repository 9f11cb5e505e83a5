"""Groups on every metadata backend."""

from __future__ import annotations

import pytest

from modelyard import ConflictError, NotFoundError, Registry, ValidationError
from tests.conftest import MakeArtifact


def test_create_and_show_group(registry: Registry) -> None:
    created = registry.create_group(
        "fraud-detector", description="card fraud scorer", tags={"team": "risk"}
    )
    assert created.name == "fraud-detector"
    shown = registry.get_group("fraud-detector")
    assert shown.description == "card fraud scorer"
    assert shown.tags == {"team": "risk"}
    assert shown.created_by == "local"
    assert shown.latest_version == 0


def test_group_names_follow_the_sagemaker_rule(registry: Registry) -> None:
    for good in ["a", "A1", "fraud--detector", "x" * 63]:
        registry.create_group(good)
    for bad in ["", "-a", "a-", "a_b", "a b", "x" * 64, "ü"]:
        with pytest.raises(ValidationError, match="not a valid group name") as info:
            registry.create_group(bad)
        assert info.value.field == "group"
    assert len(registry.list_groups().items) == 4


def test_duplicate_group_is_a_conflict(registry: Registry) -> None:
    registry.create_group("g")
    with pytest.raises(ConflictError, match="already exists"):
        registry.create_group("g")


def test_unknown_group_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="'nope' does not exist"):
        registry.get_group("nope")


def test_list_groups_pages_by_name(registry: Registry) -> None:
    for name in ["c", "a", "b", "d", "e"]:
        registry.create_group(name)
    first = registry.list_groups(limit=2)
    assert [g.name for g in first.items] == ["a", "b"]
    second = registry.list_groups(limit=2, cursor=first.next_cursor)
    assert [g.name for g in second.items] == ["c", "d"]
    third = registry.list_groups(limit=2, cursor=second.next_cursor)
    assert [g.name for g in third.items] == ["e"]
    assert third.next_cursor is None


def test_update_group_description_and_tags(registry: Registry) -> None:
    registry.create_group("g", tags={"team": "risk", "tier": "1"})
    updated = registry.update_group(
        "g", description="new", set_tags={"tier": "2", "x": "y"}, remove_tags=["team"]
    )
    assert updated.description == "new"
    assert updated.tags == {"tier": "2", "x": "y"}
    event = registry.list_events(type="group.updated")[0]
    assert event["data"]["previous"]["tags"] == {"team": "risk", "tier": "1"}


def test_update_group_with_nothing_is_refused(registry: Registry) -> None:
    registry.create_group("g")
    with pytest.raises(ValidationError, match="nothing to change"):
        registry.update_group("g")


def test_archived_group_is_hidden_and_takes_no_versions(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact())
    registry.archive_group("g")
    assert registry.list_groups().items == []
    assert [g.name for g in registry.list_groups(include_archived=True).items] == ["g"]
    with pytest.raises(ConflictError, match="archived"):
        registry.register_version("g", make_artifact())
    assert registry.get_version("g/1").number == 1  # old versions stay readable
    with pytest.raises(ConflictError, match="archived"):
        registry.archive_group("g")


def test_too_many_tags_are_refused(registry: Registry) -> None:
    with pytest.raises(ValidationError, match="at most 50"):
        registry.create_group("g", tags={f"k{i}": "v" for i in range(51)})
    with pytest.raises(NotFoundError):
        registry.get_group("g")
