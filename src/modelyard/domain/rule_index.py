"""Routing an event to the rules whose patterns match it, without testing every rule.

Each rule is filed under one of its *exact fields* (a field its pattern requires to be
one of a few literal strings, e.g. ``detail-type`` or ``data.group``): the one whose
values the fewest other rules share, so that rules all requiring ``approval_status =
Approved`` but each naming its own group are filed by group. Routing looks up the
event's values at the indexed paths, collects those rules plus the few without any exact
field, and tests only them. With 1,000 rules on distinct groups an event is tested
against a handful of patterns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from modelyard.domain.patterns import Pattern

K = TypeVar("K", bound=Hashable)


class RuleIndex(Generic[K]):
    """An immutable index of ``(key, pattern)`` rules; ``route(event)`` gives matching keys."""

    def __init__(self, rules: Iterable[tuple[K, Pattern]]) -> None:
        self._order: dict[K, int] = {}
        self._patterns: dict[K, Pattern] = {}
        self._unindexed: list[K] = []
        self._tables: dict[tuple[str, ...], dict[str, list[K]]] = {}
        exact: dict[K, dict[tuple[str, ...], frozenset[str]]] = {}
        shared: Counter[tuple[tuple[str, ...], str]] = Counter()
        for key, pattern in rules:
            if key in self._patterns:
                raise ValueError(f"rule {key!r} is given twice")
            self._order[key] = len(self._order)
            self._patterns[key] = pattern
            exact[key] = pattern.exact_fields()
            shared.update((path, v) for path, values in exact[key].items() for v in values)
        for key, fields in exact.items():
            self._file(key, fields, shared)

    def _file(
        self,
        key: K,
        fields: dict[tuple[str, ...], frozenset[str]],
        shared: Counter[tuple[tuple[str, ...], str]],
    ) -> None:
        if not fields:
            self._unindexed.append(key)
            return

        def crowd(item: tuple[tuple[str, ...], frozenset[str]]) -> tuple[int, tuple[str, ...]]:
            path, values = item
            return sum(shared[path, v] for v in values), path

        path, values = min(fields.items(), key=crowd)
        table = self._tables.setdefault(path, {})
        for value in values:
            table.setdefault(value, []).append(key)

    def __len__(self) -> int:
        return len(self._patterns)

    def candidates(self, event: Mapping[str, Any]) -> list[K]:
        """The rules that may match (a superset of those that do), in rule order."""
        found = set(self._unindexed)
        for path, table in self._tables.items():
            for value in _strings_at(event, path):
                found.update(table.get(value, ()))
        return sorted(found, key=self._order.__getitem__)

    def route(self, event: Mapping[str, Any]) -> list[K]:
        """Keys of the rules whose patterns match ``event``, in the order they were given."""
        return [key for key in self.candidates(event) if self._patterns[key].matches(event)]


def _strings_at(value: object, path: tuple[str, ...]) -> Iterator[str]:
    """The string leaves at ``path``, looking through arrays at any depth."""
    if isinstance(value, list):
        for item in value:
            yield from _strings_at(item, path)
    elif not path:
        if isinstance(value, str):
            yield value
    elif isinstance(value, Mapping) and path[0] in value:
        yield from _strings_at(value[path[0]], path[1:])
