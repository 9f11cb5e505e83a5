"""The search grammar parses to the AST the store compiles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelyard import ValidationError
from modelyard.domain.cursor import decode_cursor, encode_cursor
from modelyard.domain.search import And, Comparison, Field, Not, Or, parse_filter, parse_order_by


def test_precedence_and_over_or() -> None:
    node = parse_filter("version = 1 or version = 2 and name = 'a'")
    assert isinstance(node, Or)
    assert isinstance(node.items[1], And)


def test_values_are_typed_by_field() -> None:
    node = parse_filter("metrics.auc >= 1 and version = 3 and created_at > '2026-10-01T12:00Z'")
    assert isinstance(node, And)
    values = [c.value for c in node.items if isinstance(c, Comparison)]
    assert values == [1.0, 3, datetime(2026, 10, 1, 12, tzinfo=UTC)]


def test_quotes_and_escapes() -> None:
    node = parse_filter("""tags.note = 'it\\'s' and tags.b = "x" """)
    assert isinstance(node, And)
    assert [c.value for c in node.items if isinstance(c, Comparison)] == ["it's", "x"]


def test_keywords_are_case_insensitive_and_not() -> None:
    node = parse_filter("NOT name LIKE 'a%' AND version IN (1, 2)")
    assert isinstance(node, And)
    assert isinstance(node.items[0], Not)
    assert node.items[1] == Comparison(Field("version"), "in", (1, 2))


def test_blank_filter_is_everything() -> None:
    assert parse_filter(None) is None
    assert parse_filter("   ") is None


def test_too_long_filter() -> None:
    with pytest.raises(ValidationError, match="longer than"):
        parse_filter("version = 1 or " * 400 + "version = 1")


def test_order_by() -> None:
    keys = parse_order_by("metrics.auc desc, version")
    assert [(str(k.field), k.descending) for k in keys] == [
        ("metrics.auc", True),
        ("version", False),
    ]


def test_cursor_round_trip_and_binding() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    cursor = encode_cursor([0.5, "a", when, 7], "q1")
    assert decode_cursor(cursor, "q1") == [0.5, "a", when, 7]
    with pytest.raises(ValidationError, match="different query"):
        decode_cursor(cursor, "q2")
