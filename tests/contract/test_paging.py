"""Every listing pages by keyset, the same way locally and over HTTP: ``limit`` items a page,
``next_cursor`` to the next one (None on the last), no item twice or missed, a cursor bound to
its query, and a page that iterates across all the pages after it.

To cover a new listing, add it to LISTINGS: how to make a few items, how to list them, and what
identifies an item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from modelyard import ValidationError
from tests.conftest import MakeArtifact


@dataclass(frozen=True)
class Listing:
    name: str
    make: Callable[[Any, MakeArtifact], list[Any]]  # creates items; returns their keys in order
    list: Callable[..., Any]  # (registry, **paging) -> Page
    key: Callable[[Any], Any]
    other_query: Callable[..., Any] | None = None  # the same listing with other filters


def _groups(reg: Any, make: MakeArtifact) -> list[Any]:
    for name in ("g-a", "g-b", "g-c", "g-d", "g-e"):
        reg.create_group(name)
    return ["g-a", "g-b", "g-c", "g-d", "g-e"]


def _versions(reg: Any, make: MakeArtifact) -> list[Any]:
    reg.create_group("g")
    for n in range(5):
        reg.register_version("g", make({"m": str(n).encode()}), metrics={"auc": n / 10})
    return [5, 4, 3, 2, 1]


def _alias_moves(reg: Any, make: MakeArtifact) -> list[Any]:
    _versions(reg, make)
    for n in (1, 2, 3, 4, 5):
        reg.set_alias("g", "champion", n, reason=f"move {n}")
    return [f"move {n}" for n in (1, 2, 3, 4, 5)]


def _principals(reg: Any, make: MakeArtifact) -> list[Any]:
    names = [f"p-{n}" for n in range(5)]
    for name in names:
        reg.create_principal(name)
    return names


def _tokens(reg: Any, make: MakeArtifact) -> list[Any]:
    reg.create_principal("robot", service=True)
    return [reg.create_token("robot", expires="1d").token.id for _ in range(5)]


LISTINGS = [
    Listing("groups", _groups, lambda r, **p: r.list_groups(**p), lambda g: g.name),
    Listing("versions", _versions, lambda r, **p: r.list_versions("g", **p), lambda v: v.number),
    Listing(
        "search",
        _versions,
        lambda r, **p: r.search_versions("metrics.auc >= 0", order_by="metrics.auc desc", **p),
        lambda v: v.number,
        other_query=lambda r, **p: r.search_versions("metrics.auc >= 0.1", **p),
    ),
    Listing(
        "alias history",
        _alias_moves,
        lambda r, **p: r.alias_history("g", "champion", **p),
        lambda m: m.reason,
        other_query=lambda r, **p: r.alias_history("g", "other", **p),
    ),
    Listing("principals", _principals, lambda r, **p: r.list_principals(**p), lambda p: p.name),
    Listing(
        "tokens",
        _tokens,
        lambda r, **p: r.list_tokens(principal="robot", **p),
        lambda t: t.id,
        other_query=lambda r, **p: r.list_tokens(**p),
    ),
]


@pytest.fixture(params=LISTINGS, ids=[listing.name for listing in LISTINGS])
def listing(request: pytest.FixtureRequest) -> Listing:
    found: Listing = request.param
    return found


def test_pages_cover_every_item_once_in_order(
    listing: Listing, registry: Any, make_artifact: MakeArtifact
) -> None:
    expected = listing.make(registry, make_artifact)
    seen: list[Any] = []
    cursor = None
    for _ in range(len(expected) + 1):
        page = listing.list(registry, limit=2, cursor=cursor)
        assert len(page.items) <= 2
        seen += [listing.key(item) for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [k for k in seen if k in expected] == expected


def test_iterating_a_page_follows_the_cursors(
    listing: Listing, registry: Any, make_artifact: MakeArtifact
) -> None:
    expected = listing.make(registry, make_artifact)
    everything = [listing.key(item) for item in listing.list(registry, limit=2)]
    assert [k for k in everything if k in expected] == expected


FILTERED = [listing for listing in LISTINGS if listing.other_query is not None]


@pytest.mark.parametrize("filtered", FILTERED, ids=[listing.name for listing in FILTERED])
def test_a_cursor_from_another_query_is_refused(
    filtered: Listing, registry: Any, make_artifact: MakeArtifact
) -> None:
    listing = filtered
    listing.make(registry, make_artifact)
    assert listing.other_query is not None
    cursor = listing.list(registry, limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(ValidationError, match="cursor"):
        listing.other_query(registry, limit=1, cursor=cursor)


@pytest.mark.parametrize("limit", [0, 1001])
def test_a_bad_limit_is_refused_naming_it(
    listing: Listing, registry: Any, make_artifact: MakeArtifact, limit: int
) -> None:
    with pytest.raises(ValidationError, match="limit: must be a whole number from 1 to 1000"):
        listing.list(registry, limit=limit)


def test_every_listing_is_covered() -> None:
    """The registry's listings (methods returning a Page) are all in LISTINGS."""
    import inspect
    import typing

    from modelyard import Registry

    paged = {
        name
        for name, method in inspect.getmembers(Registry, callable)
        if not name.startswith("_")
        and "Page[" in str(typing.get_type_hints(method).get("return", ""))
    }
    covered = {
        "list_groups",
        "list_versions",
        "search_versions",
        "alias_history",
        "list_principals",
        "list_tokens",
    }
    assert paged <= covered, f"listings without a paging test: {sorted(paged - covered)}"
