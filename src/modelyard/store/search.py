"""Compile the search AST (domain/search.py) to SQL; keyset pagination over the sort key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from modelyard.domain.search import And, Comparison, Field, Node, Not, Or, OrderKey
from modelyard.store.schema import (
    aliases,
    group_tags,
    groups,
    version_metadata,
    version_metrics,
    version_params,
    version_tags,
    versions,
)

_PLAIN_COLUMNS = {
    "name": groups.c.name,
    "version": versions.c.number,
    "approval_status": versions.c.approval_status,
    "created_at": versions.c.created_at,
    "created_by": versions.c.created_by,
    "framework": func.coalesce(versions.c.framework, ""),  # no framework compares as ""
    "description": versions.c.description,
    "manifest_digest": versions.c.manifest_digest,
}
_KEYED_TABLES = {"metrics": version_metrics, "params": version_params, "metadata": version_metadata}


def _apply(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    ops: dict[str, Any] = {
        "=": lambda: column == value,
        "!=": lambda: column != value,
        "<": lambda: column < value,
        "<=": lambda: column <= value,
        ">": lambda: column > value,
        ">=": lambda: column >= value,
        "like": lambda: column.like(value),
        "ilike": lambda: column.ilike(value),
        "in": lambda: column.in_(value),
        "notin": lambda: column.not_in(value),
    }
    result: ColumnElement[bool] = ops[op]()
    return result


def compile_filter(node: Node | None) -> ColumnElement[bool]:
    if node is None:
        return true()
    if isinstance(node, And):
        return and_(*(compile_filter(n) for n in node.items))
    if isinstance(node, Or):
        return or_(*(compile_filter(n) for n in node.items))
    if isinstance(node, Not):
        return not_(compile_filter(node.item))
    return _comparison(node)


def _comparison(node: Comparison) -> ColumnElement[bool]:
    field = node.field
    if field.key is None and field.kind != "alias":
        return _apply(_PLAIN_COLUMNS[field.kind], node.op, node.value)
    if field.kind == "alias":
        return _alias(node)
    if field.kind == "tags":
        return _tag(field, node.op, node.value)
    table = _KEYED_TABLES[field.kind]
    return exists().where(
        table.c.version_id == versions.c.id,
        table.c.key == field.key,
        _apply(table.c.value, node.op, node.value),
    )


def _alias(node: Comparison) -> ColumnElement[bool]:
    # "alias != 'x'" and "alias not in (…)" mean: no such alias points here.
    positive = {"!=": "=", "notin": "in"}.get(node.op, node.op)
    clause = exists().where(
        aliases.c.version_id == versions.c.id, _apply(aliases.c.name, positive, node.value)
    )
    return not_(clause) if positive != node.op else clause


def _tag(field: Field, op: str, value: Any) -> ColumnElement[bool]:
    """A version's own tag, or its group's tag when the version does not set that key."""
    own = version_tags
    has_own = exists().where(own.c.version_id == versions.c.id, own.c.key == field.key)
    own_matches = exists().where(
        own.c.version_id == versions.c.id, own.c.key == field.key, _apply(own.c.value, op, value)
    )
    group_matches = exists().where(
        group_tags.c.group_id == versions.c.group_id,
        group_tags.c.key == field.key,
        _apply(group_tags.c.value, op, value),
    )
    return or_(own_matches, and_(not_(has_own), group_matches))


def search_query(
    node: Node | None, order: tuple[OrderKey, ...], after: list[Any] | None, limit: int
) -> Select[Any]:
    """SELECT version id + sort values, filtered, ordered, after the cursor, limited."""
    columns, query = _ordered_columns(order)
    query = query.where(compile_filter(node))
    if after is not None:
        query = query.where(_after(columns, after))
    ordering = [c.desc() if desc else c.asc() for c, desc in columns]
    return query.order_by(*ordering).limit(limit)


def _ordered_columns(order: tuple[OrderKey, ...]) -> tuple[list[tuple[Any, bool]], Select[Any]]:
    query_from = versions.join(groups, groups.c.id == versions.c.group_id)
    columns: list[tuple[Any, bool]] = []
    for index, key in enumerate(order):
        if key.field.kind == "metrics":
            metric = version_metrics.alias(f"order_metric_{index}")
            query_from = query_from.join(
                metric, and_(metric.c.version_id == versions.c.id, metric.c.key == key.field.key)
            )
            columns.append((metric.c.value, key.descending))
        else:
            columns.append((_PLAIN_COLUMNS[key.field.kind], key.descending))
    tie_descending = columns[-1][1] if columns else True
    columns.append((versions.c.id, tie_descending))
    query = select(*(c for c, _ in columns)).select_from(query_from)
    return columns, query


def _after(columns: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the sort order (lexicographic keyset condition)."""
    if len(values) != len(columns):
        return false()
    branches = []
    for i, (column, descending) in enumerate(columns):
        equal_prefix = [c == v for (c, _), v in zip(columns[:i], values[:i], strict=True)]
        beyond = column < values[i] if descending else column > values[i]
        branches.append(and_(*equal_prefix, beyond))
    return or_(*branches)


def run_search(
    conn: Connection,
    node: Node | None,
    order: tuple[OrderKey, ...],
    after: list[Any] | None,
    limit: int,
) -> tuple[list[int], list[Any] | None]:
    """Version ids of one page and the sort key of its last row (for the next cursor)."""
    rows = conn.execute(search_query(node, order, after, limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [row[-1] for row in rows]
    last = list(rows[-1]) if (rows and more) else None
    return ids, last
