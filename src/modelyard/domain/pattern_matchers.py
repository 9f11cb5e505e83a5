"""The compiled form of EventBridge patterns and how it tests events (see ``patterns.py``).

``compile_pattern`` (in ``patterns.py``) builds these objects once; here they only test
parsed JSON: matchers on leaf values, ``Leaf`` (a field's array of alternatives) and
``Object`` (AND over fields, ``$or`` branches, array-consistent descent into arrays).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Protocol

_NUMBER_TYPES: Final = (int, float)
_MISSING: Final = object()
_EMPTY: Final[Mapping[str, object]] = MappingProxyType({})


def is_number(value: object) -> bool:
    return type(value) in _NUMBER_TYPES


def literal_key(value: object) -> object:
    """Hashable identity of a scalar: strings, booleans and null as themselves, numbers by repr."""
    if type(value) in _NUMBER_TYPES:
        return ("n", repr(value))
    return value


def _leaves(value: object) -> tuple[object, ...]:
    """The scalar leaf values at a position: nested arrays flattened, objects dropped."""
    if isinstance(value, list):
        return tuple(_iter_scalars(value))
    if value is _MISSING or isinstance(value, dict):
        return ()
    return (value,)


def _iter_scalars(items: list[Any]) -> Iterator[object]:
    for item in items:
        if isinstance(item, list):
            yield from _iter_scalars(item)
        elif not isinstance(item, dict):
            yield item


def _iter_objects(items: list[Any]) -> Iterator[Mapping[str, object]]:
    for item in items:
        if isinstance(item, list):
            yield from _iter_objects(item)
        elif isinstance(item, dict):
            yield item


# --------------------------------------------------------------------------- matchers


class Matcher(Protocol):
    def test(self, value: object) -> bool: ...


@dataclass(frozen=True, slots=True)
class Prefix:
    prefix: str
    ignore_case: bool

    def test(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        return (value.lower() if self.ignore_case else value).startswith(self.prefix)


@dataclass(frozen=True, slots=True)
class Suffix:
    suffix: str
    ignore_case: bool

    def test(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        return (value.lower() if self.ignore_case else value).endswith(self.suffix)


@dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    lowered: str

    def test(self, value: object) -> bool:
        return isinstance(value, str) and value.lower() == self.lowered


@dataclass(frozen=True, slots=True)
class Wildcard:
    regex: re.Pattern[str]

    def test(self, value: object) -> bool:
        return isinstance(value, str) and self.regex.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Numeric:
    lower: float | None
    lower_inclusive: bool
    upper: float | None
    upper_inclusive: bool

    def test(self, value: object) -> bool:
        if not isinstance(value, _NUMBER_TYPES) or isinstance(value, bool):
            return False
        number = value
        lo, hi = self.lower, self.upper
        if lo is not None and not (number >= lo if self.lower_inclusive else number > lo):
            return False
        return hi is None or (number <= hi if self.upper_inclusive else number < hi)


@dataclass(frozen=True, slots=True)
class Cidr:
    version: int
    first: int
    last: int

    def test(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return address.version == self.version and self.first <= int(address) <= self.last


@dataclass(frozen=True, slots=True)
class AnythingButValues:
    """Excludes literal strings, or numbers compared numerically (``111`` excludes ``111.0``)."""

    excluded: frozenset[object]
    numbers: bool

    def test(self, value: object) -> bool:
        if (type(value) in _NUMBER_TYPES) if self.numbers else isinstance(value, str):
            return value not in self.excluded
        return True


@dataclass(frozen=True, slots=True)
class AnythingButMatch:
    """Excludes strings that any of the (string-only) matchers accepts."""

    excluded: tuple[Matcher, ...]

    def test(self, value: object) -> bool:
        if not isinstance(value, str):
            return True
        return not any(matcher.test(value) for matcher in self.excluded)


# ------------------------------------------------------------------------------ nodes


@dataclass(frozen=True, slots=True)
class Leaf:
    literals: frozenset[object]
    matchers: tuple[Matcher, ...]
    exists_true: bool
    exists_false: bool

    def test(self, value: object) -> bool:
        leaves = _leaves(value)
        if not leaves:
            return self.exists_false
        return self.exists_true or any(self._test_scalar(leaf) for leaf in leaves)

    def _test_scalar(self, value: object) -> bool:
        if self.literals and literal_key(value) in self.literals:
            return True
        return any(matcher.test(value) for matcher in self.matchers)

    def exact_strings(self) -> frozenset[str] | None:
        if self.matchers or self.exists_true or self.exists_false:
            return None
        if not all(isinstance(literal, str) for literal in self.literals):
            return None
        return frozenset(str(literal) for literal in self.literals)


@dataclass(frozen=True, slots=True)
class Object:
    fields: tuple[tuple[str, Leaf | Object], ...]
    alternatives: tuple[Object, ...]

    def test(self, value: object) -> bool:
        if isinstance(value, dict):
            return self.test_mapping(value)
        if isinstance(value, list):
            objects = list(_iter_objects(value))
            if objects:
                return any(self.test_mapping(obj) for obj in objects)
        return self.test_mapping(_EMPTY)

    def test_mapping(self, obj: Mapping[str, object]) -> bool:
        for key, node in self.fields:
            if not node.test(obj.get(key, _MISSING)):
                return False
        return not self.alternatives or any(alt.test_mapping(obj) for alt in self.alternatives)

    def exact_fields(
        self, prefix: tuple[str, ...], into: dict[tuple[str, ...], frozenset[str]]
    ) -> None:
        for key, node in self.fields:
            if isinstance(node, Object):
                node.exact_fields((*prefix, key), into)
                continue
            strings = node.exact_strings()
            if strings is not None:
                into[(*prefix, key)] = strings
