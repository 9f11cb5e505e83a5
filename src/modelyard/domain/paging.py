"""Listings page by keyset: a page of items, an opaque cursor to the next one, and a page
that can be iterated across every following page.

Every listing of the registry takes ``limit`` (1 to 1,000) and ``cursor`` (a page's
``next_cursor``) and returns a :class:`Page`. A cursor carries the sort key of the page's
last item and a fingerprint of the listing and its filters, so it cannot be replayed against
another query (``domain/cursor.py``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, ParamSpec, Protocol, TypeVar

from modelyard.domain.cursor import decode_cursor, encode_cursor, query_fingerprint
from modelyard.errors import ValidationError

T = TypeVar("T")
P = ParamSpec("P")
MAX_LIMIT = 1000


class _Serializable(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results; pass ``next_cursor`` back to get the next (None: no more).

    ``page.items`` is this page. Iterating the page yields its items and then those of every
    following page, fetched as the iteration gets there (``for run in reg.list_runs(): …``).
    """

    items: list[T]
    next_cursor: str | None
    fetch_next: Callable[[str], Page[T]] | None = field(default=None, repr=False, compare=False)

    def __iter__(self) -> Iterator[T]:
        page: Page[T] = self
        while True:
            yield from page.items
            if page.next_cursor is None or page.fetch_next is None:
                return
            page = page.fetch_next(page.next_cursor)

    def to_dict(self) -> dict[str, Any]:
        items: list[Any] = self.items
        return {
            "items": [item.to_dict() for item in items],
            "next_cursor": self.next_cursor,
        }


def paged(method: Callable[P, Page[T]]) -> Callable[P, Page[T]]:
    """Make the pages ``method`` returns iterable across pages: each knows how to fetch the
    next one, by calling ``method`` again with the same arguments and ``cursor=``."""
    signature = inspect.signature(method)
    if "cursor" not in signature.parameters:
        raise TypeError(f"{method.__qualname__} takes no cursor")

    @functools.wraps(method)
    def listing(*args: P.args, **kwargs: P.kwargs) -> Page[T]:
        page = method(*args, **kwargs)
        if page.next_cursor is None:
            return page
        bound = signature.bind(*args, **kwargs)

        def fetch_next(cursor: str) -> Page[T]:
            bound.arguments["cursor"] = cursor
            return listing(*bound.args, **bound.kwargs)

        return replace(page, fetch_next=fetch_next)

    return listing


def check_limit(limit: int, *, maximum: int = MAX_LIMIT, field: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise ValidationError(f"{field}: must be a whole number from 1 to {maximum}", field=field)
    return limit


class Keyset:
    """The cursor side of one listing: ``after`` is the sort key the page continues after
    (None: the first page); ``page`` cuts rows fetched with ``limit + 1`` into a page."""

    def __init__(self, listing: str, *filters: object, cursor: str | None, limit: int) -> None:
        if cursor is not None and not isinstance(cursor, str):
            raise ValidationError("cursor: must be a page's next_cursor", field="cursor")
        self.limit = check_limit(limit)
        self._query = query_fingerprint(listing, *filters)
        self.after: list[Any] | None = (
            None if cursor is None else decode_cursor(cursor, self._query)
        )

    @property
    def fetch(self) -> int:
        """How many rows to read: one more than the page, to know whether there is more."""
        return self.limit + 1

    def page(self, rows: Sequence[T], key: Callable[[T], list[Any]]) -> Page[T]:
        items = list(rows[: self.limit])
        more = len(rows) > self.limit
        return Page(items, encode_cursor(key(items[-1]), self._query) if more else None)

    def keyed_page(self, rows: Sequence[tuple[list[Any], T]]) -> Page[T]:
        """A page of ``(sort key, item)`` rows: for items that do not carry their key."""
        page = self.page(rows, lambda row: row[0])
        return Page([item for _, item in page.items], page.next_cursor)

    def after_value(self, index: int = 0) -> Any:
        """One value of the sort key to continue after (None on the first page)."""
        return None if self.after is None else self.after[index]


def page_dict(page: Page[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """A page in its wire shape when its items serialize with ``item``."""
    return {"items": [item(i) for i in page.items], "next_cursor": page.next_cursor}
