"""Pages, keyset cursors and iterating across pages (domain/paging.py)."""

from __future__ import annotations

import pytest

from modelyard.domain.paging import Keyset, Page, check_limit, paged
from modelyard.errors import ValidationError

ROWS = list(range(1, 8))


class Listing:
    """A listing over ROWS by the rules every registry listing follows."""

    def __init__(self) -> None:
        self.calls = 0

    @paged
    def list_numbers(
        self, *, odd: bool = False, limit: int = 100, cursor: str | None = None
    ) -> Page[int]:
        self.calls += 1
        keyset = Keyset("numbers", odd, cursor=cursor, limit=limit)
        after = keyset.after_value() or 0
        rows = [n for n in ROWS if n > after and (not odd or n % 2)][: keyset.fetch]
        return keyset.page(rows, lambda n: [n])


def test_a_page_holds_its_items_and_a_cursor_to_the_next() -> None:
    first = Listing().list_numbers(limit=3)
    assert first.items == [1, 2, 3]
    assert first.next_cursor is not None
    second = Listing().list_numbers(limit=3, cursor=first.next_cursor)
    assert second.items == [4, 5, 6]


def test_the_last_page_has_no_cursor() -> None:
    assert Listing().list_numbers(limit=7).next_cursor is None
    assert Listing().list_numbers(limit=100).items == ROWS


def test_iterating_a_page_follows_the_cursors_with_the_same_arguments() -> None:
    listing = Listing()
    assert list(listing.list_numbers(odd=True, limit=2)) == [1, 3, 5, 7]
    assert listing.calls == 2  # pages fetched as the iteration got there
    assert list(Listing().list_numbers(limit=3)) == ROWS


def test_a_cursor_of_another_query_is_refused() -> None:
    cursor = Listing().list_numbers(limit=2).next_cursor
    with pytest.raises(ValidationError, match="belongs to a different query"):
        Listing().list_numbers(odd=True, limit=2, cursor=cursor)


@pytest.mark.parametrize("cursor", ["garbage", "e30", ""])
def test_a_cursor_this_server_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(ValidationError, match="cursor"):
        Listing().list_numbers(cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, 1001, True, 2.5])
def test_a_limit_outside_1_to_1000_is_refused(limit: object) -> None:
    with pytest.raises(ValidationError, match="limit: must be a whole number from 1 to 1000"):
        check_limit(limit)  # type: ignore[arg-type]


def test_pages_serialize_with_their_items_shape() -> None:
    class Item:
        def to_dict(self) -> dict[str, int]:
            return {"n": 1}

    assert Page([Item()], "c").to_dict() == {"items": [{"n": 1}], "next_cursor": "c"}
