"""Search: the filter grammar compiled to SQL, ordering and keyset pagination."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from modelyard import Registry, ValidationError
from tests.conftest import MakeArtifact


@pytest.fixture
def populated(registry: Registry, make_artifact: MakeArtifact) -> Registry:
    registry.create_group("fraud-detector", tags={"team": "risk"}, allow_self_approval=True)
    registry.create_group("churn", tags={"team": "growth"})
    aucs = [0.80, 0.91, 0.95, 0.93, 0.70]
    for i, auc in enumerate(aucs):
        registry.register_version(
            "fraud-detector",
            make_artifact(),
            metrics={"auc": auc},
            params={"depth": str(i)},
            tags={"run": f"r{i}"},
        )
    registry.register_version(
        "churn", make_artifact(), metrics={"auc": 0.99}, tags={"team": "risk"}
    )  # the version's tag overrides its group's
    registry.register_version("churn", make_artifact(), metrics={"f1": 0.5})
    registry.approve_version("fraud-detector/3")
    registry.approve_version("fraud-detector/2")
    registry.set_alias("fraud-detector", "champion", 3)
    return registry


def refs(registry: Registry, filter: str | None, order_by: str | None = None) -> list[str]:
    return [v.reference for v in registry.search_versions(filter, order_by=order_by).items]


def test_issue_example(populated: Registry) -> None:
    found = refs(
        populated,
        "metrics.auc >= 0.9 and tags.team = 'risk' and approval_status = 'Approved'",
        "metrics.auc desc",
    )
    assert found == ["fraud-detector/3", "fraud-detector/2"]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        (
            "tags.team = 'risk'",
            {
                "fraud-detector/1",
                "fraud-detector/2",
                "fraud-detector/3",
                "fraud-detector/4",
                "fraud-detector/5",
                "churn/1",
            },
        ),
        ("tags.team = 'growth'", {"churn/2"}),
        ("name = 'churn'", {"churn/1", "churn/2"}),
        ("name like 'fraud-%' and version > 3", {"fraud-detector/4", "fraud-detector/5"}),
        ("metrics.auc < 0.85", {"fraud-detector/1", "fraud-detector/5"}),
        (
            "metrics.auc != 0.8",
            {
                "fraud-detector/2",
                "fraud-detector/3",
                "fraud-detector/4",
                "fraud-detector/5",
                "churn/1",
            },
        ),
        ("params.depth in ('1', '2')", {"fraud-detector/2", "fraud-detector/3"}),
        ("alias = 'champion'", {"fraud-detector/3"}),
        ("approval_status != 'PendingManualApproval'", {"fraud-detector/2", "fraud-detector/3"}),
        (
            "not (name = 'fraud-detector') or version = 1",
            {"churn/1", "churn/2", "fraud-detector/1"},
        ),
        (
            "created_by = 'local' and created_at > '2000-01-01T00:00Z' and metrics.f1 >= 0.5",
            {"churn/2"},
        ),
        ("tags.run ilike 'R4'", {"fraud-detector/5"}),
        ("version not in (1, 2, 3, 4) and name = 'fraud-detector'", {"fraud-detector/5"}),
    ],
)
def test_filters(populated: Registry, filter: str, expected: set[str]) -> None:
    assert set(refs(populated, filter)) == expected


def test_default_order_is_newest_first(populated: Registry) -> None:
    assert refs(populated, "name = 'churn'") == ["churn/2", "churn/1"]


def test_order_by_metric_only_returns_versions_with_it(populated: Registry) -> None:
    assert refs(populated, None, "metrics.auc asc") == [
        "fraud-detector/5",
        "fraud-detector/1",
        "fraud-detector/2",
        "fraud-detector/4",
        "fraud-detector/3",
        "churn/1",
    ]


def test_cursor_pages_cover_everything_once(populated: Registry) -> None:
    for order in [None, "metrics.auc desc", "name asc, version desc", "created_at asc"]:
        everything = refs(populated, None, order)
        seen: list[str] = []
        cursor = None
        while True:
            page = populated.search_versions(None, order_by=order, limit=2, cursor=cursor)
            seen += [v.reference for v in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == everything, order


def test_a_cursor_only_fits_its_own_query(populated: Registry) -> None:
    page = populated.search_versions("metrics.auc > 0", limit=1)
    assert page.next_cursor
    with pytest.raises(ValidationError, match="different query"):
        populated.search_versions("metrics.auc > 0.5", limit=1, cursor=page.next_cursor)
    with pytest.raises(ValidationError, match="not a cursor"):
        populated.search_versions(None, cursor="garbage!")


@pytest.mark.parametrize(
    ("filter", "message"),
    [
        ("metrics.auc >=", "ends too early|syntax error"),
        ("metrics.auc >= 'high'", "compares with numbers"),
        ("colour = 'red'", "unknown field 'colour'"),
        ("tags.team > 'a'", "does not support '>'"),
        ("approval_status = 'Maybe'", "not one of"),
        ("created_at > 'yesterday'", "ISO 8601"),
        ("(name = 'a'", "ends too early|syntax error"),
        ("name = 'a' and and", "ends too early"),
        ("name = 'a' or or version = 1", "syntax error at column"),
    ],
)
def test_malformed_filters_are_validation_errors(
    populated: Registry, filter: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        populated.search_versions(filter)
    assert info.value.field == "filter"


@pytest.mark.parametrize(
    "order",
    [
        "tags.team desc",
        "metrics.auc sideways",
        "a,b,c,d",
        "version desc, name, created_at, metrics.x",
    ],
)
def test_malformed_order_by_is_refused(populated: Registry, order: str) -> None:
    with pytest.raises(ValidationError) as info:
        populated.search_versions(None, order_by=order)
    assert info.value.field == "order_by"


def test_limit_bounds(populated: Registry) -> None:
    with pytest.raises(ValidationError, match="limit"):
        populated.search_versions(None, limit=0)
    with pytest.raises(ValidationError, match="limit"):
        populated.search_versions(None, limit=10_001)


def test_like_is_case_sensitive_and_ilike_is_not_on_every_backend(populated: Registry) -> None:
    assert refs(populated, "name like 'FRAUD%'") == []
    assert len(refs(populated, "name ilike 'FRAUD%'")) == 5


def test_times_with_an_offset_compare_as_utc(populated: Registry) -> None:
    created = populated.get_version("churn/2").created_at
    later = created.astimezone(timezone(timedelta(hours=-5))) + timedelta(minutes=30)
    assert "churn/2" not in refs(populated, f"created_at > '{later.isoformat()}'")
    earlier = later - timedelta(hours=1)
    assert "churn/2" in refs(populated, f"created_at > '{earlier.isoformat()}'")


def test_versions_without_framework_compare_as_empty(populated: Registry) -> None:
    assert len(refs(populated, "framework != 'torch'")) == 7
    assert refs(populated, "framework = ''") == refs(populated, None)


def test_rare_tags_use_the_tag_index_with_the_same_results(populated: Registry) -> None:
    # no group defines "run", and r4 is rare: compiled as an index lookup
    assert refs(populated, "tags.run = 'r4'") == ["fraud-detector/5"]
    assert refs(populated, "tags.run = 'r4' and metrics.auc < 0.8", "metrics.auc desc") == [
        "fraud-detector/5"
    ]
    # groups define "team": the group fallback still applies
    assert refs(populated, "tags.team = 'growth'") == ["churn/2"]


def test_paging_with_a_range_on_the_ordered_metric(populated: Registry) -> None:
    seen, cursor = [], None
    while True:
        page = populated.search_versions(
            "metrics.auc >= 0.85", order_by="metrics.auc desc", limit=1, cursor=cursor
        )
        seen += [v.reference for v in page.items]
        if not (cursor := page.next_cursor):
            break
    assert seen == ["churn/1", "fraud-detector/3", "fraud-detector/4", "fraud-detector/2"]


def test_only_equality_on_a_rare_tag_becomes_a_lookup(populated: Registry) -> None:
    assert refs(populated, "tags.run = 'r4' and tags.run != 'r4'") == []
    assert refs(populated, "tags.run = 'r4' and not tags.run = 'r4'") == []
    assert refs(populated, "tags.run = 'r4' and tags.run like 'r%'") == ["fraud-detector/5"]
    assert refs(populated, "tags.run = 'r4' or tags.run like 'R%'") == ["fraud-detector/5"]


def test_a_pushed_down_range_still_means_what_it_says(populated: Registry) -> None:
    order = "metrics.auc desc"
    assert refs(populated, "metrics.auc >= 0.9 and not metrics.auc >= 0.9", order) == []
    assert refs(populated, "metrics.auc > 0.92 and (metrics.auc > 0.92 or version = 1)", order) == [
        "churn/1",
        "fraud-detector/3",
        "fraud-detector/4",
    ]
    assert refs(populated, "metrics.auc < 0.85 or metrics.auc > 0.98", order) == [
        "churn/1",
        "fraud-detector/1",
        "fraud-detector/5",
    ]


def test_a_rare_tag_driving_the_query_pages_like_any_other(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    for i, auc in enumerate([0.5, 0.9, 0.7, 0.8]):
        tags = {"batch": "b1"} if i != 3 else {"batch": "b2"}
        registry.register_version("g", make_artifact(), metrics={"auc": auc}, tags=tags)
    for order, expected in [
        ("metrics.auc desc", ["g/2", "g/3", "g/1"]),
        (None, ["g/3", "g/2", "g/1"]),
        ("version asc", ["g/1", "g/2", "g/3"]),
    ]:
        seen, cursor = [], None
        while True:
            page = registry.search_versions(
                "tags.batch = 'b1'", order_by=order, limit=1, cursor=cursor
            )
            seen += [v.reference for v in page.items]
            if not (cursor := page.next_cursor):
                break
        assert seen == expected, order
