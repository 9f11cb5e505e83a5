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
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Join

from modelyard.domain.search import And, Comparison, Field, Node, Not, Or, OrderKey
from modelyard.store.sql.groups import name_matches
from modelyard.store.sql.schema import (
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


#: a tag value held by fewer versions than this (1% of the store, at least 1,000, at most
#: 20,000) drives the query from the tag index; above it, walking the sort order is faster
RARE_TAG_MIN_ROWS, RARE_TAG_MAX_ROWS = 1000, 20_000


class DrivingJoin(Join):
    """``left JOIN right`` that keeps ``left`` as the outer loop: SQLite's ``CROSS JOIN``
    (its documented way to fix the join order); an ordinary join elsewhere."""

    inherit_cache = True


@compiles(DrivingJoin, "sqlite")
def _driving_join_sqlite(join: DrivingJoin, compiler: SQLCompiler, **kw: Any) -> str:
    kw["asfrom"] = True
    left = compiler.process(join.left, **kw)
    right = compiler.process(join.right, **kw)
    assert join.onclause is not None  # always built with one
    return f"{left} CROSS JOIN {right} ON {compiler.process(join.onclause, **kw)}"


@compiles(DrivingJoin)
def _driving_join(join: DrivingJoin, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.visit_join(join, **kw))  # type: ignore[no-untyped-call]


def compile_filter(
    node: Node | None,
    rare_tags: frozenset[tuple[str, str]] = frozenset(),
    enforced: frozenset[Comparison] = frozenset(),
) -> ColumnElement[bool]:
    """The WHERE clause of ``node``. ``rare_tags`` are ``tags.K = 'V'`` comparisons that may
    be compiled as an index lookup (see :func:`rare_tag_comparisons`); ``enforced`` ones hold
    for every row the query's joins produce, wherever they appear, so they compile to TRUE."""
    if node is None:
        return true()
    if isinstance(node, And):
        return and_(*(compile_filter(n, rare_tags, enforced) for n in node.items))
    if isinstance(node, Or):
        return or_(*(compile_filter(n, rare_tags, enforced) for n in node.items))
    if isinstance(node, Not):
        return not_(compile_filter(node.item, rare_tags, enforced))
    return _leaf(node, rare_tags, enforced)


def _leaf(
    node: Comparison, rare_tags: frozenset[tuple[str, str]], enforced: frozenset[Comparison]
) -> ColumnElement[bool]:
    if node in enforced:  # true for every row the joins let through (see _ordered_columns)
        return true()
    if node.field.kind == "tags" and node.op == "=" and (node.field.key, node.value) in rare_tags:
        return versions.c.id.in_(
            select(version_tags.c.version_id).where(
                version_tags.c.key == node.field.key, version_tags.c.value == node.value
            )
        )
    return _comparison(node)


def _conjuncts(node: Node | None) -> list[Comparison]:
    """The comparisons every result must satisfy (the top-level ``and`` chain)."""
    if isinstance(node, Comparison):
        return [node]
    if isinstance(node, And):
        return [c for item in node.items for c in _conjuncts(item)]
    return []


def rare_tag_comparisons(conn: Connection, node: Node | None) -> frozenset[tuple[str, str]]:
    """Required ``tags.K = 'V'`` comparisons worth driving the query from the tag index.

    SQLite's planner cannot know that a tag is rare: it walks the sort order and probes each
    row, which for a tag on 10 of 1,000,000 versions means a full scan. When no group defines
    K (so the version's own tag decides) and V is rare, ``id IN (tag lookup)`` is equivalent
    and fast; for common values the probing plan stays, as it is the faster one there.
    """
    found: set[tuple[str, str]] = set()
    tag_equalities = [c for c in _conjuncts(node) if c.field.kind == "tags" and c.op == "="]
    threshold = _rare_threshold(conn) if tag_equalities else 0
    for comparison in tag_equalities:
        key, value = comparison.field.key, comparison.value
        group_defines = conn.execute(
            select(group_tags.c.key).where(group_tags.c.key == key).limit(1)
        ).first()
        if group_defines is None and _count_upto(conn, key, value, threshold) < threshold:
            found.add((str(key), str(value)))
    return frozenset(found)


def _rare_threshold(conn: Connection) -> int:
    newest = conn.execute(select(func.max(versions.c.id))).scalar() or 0  # O(1), ≈ store size
    return int(min(RARE_TAG_MAX_ROWS, max(RARE_TAG_MIN_ROWS, newest // 100)))


def _count_upto(conn: Connection, key: object, value: object, limit: int) -> int:
    matching = (
        select(version_tags.c.version_id)
        .where(version_tags.c.key == key, version_tags.c.value == value)
        .limit(limit)
        .subquery()
    )
    return int(conn.execute(select(func.count()).select_from(matching)).scalar_one())


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
    node: Node | None,
    order: tuple[OrderKey, ...],
    after: list[Any] | None,
    limit: int,
    rare_tags: frozenset[tuple[str, str]] = frozenset(),
    *,
    patterns: list[str] | None = None,
) -> Select[Any]:
    """SELECT version id + sort values, filtered, ordered, after the cursor, limited;
    only versions of groups matching ``patterns`` (``None``: every group)."""
    required = _conjuncts(node)
    driver = next(
        (
            c
            for c in required
            if c.field.kind == "tags" and c.op == "=" and (c.field.key, c.value) in rare_tags
        ),
        None,
    )
    columns, query, enforced = _ordered_columns(order, required, driver)
    query = query.where(compile_filter(node, rare_tags, enforced))
    if patterns is not None:
        readable = select(groups.c.id).where(name_matches(groups.c.name, patterns))
        query = query.where(versions.c.group_id.in_(readable))
    if after is not None:
        query = query.where(_after(columns, after))
    ordering = [c.desc() if desc else c.asc() for c, desc in columns]
    return query.order_by(*ordering).limit(limit)


_RANGE_OPS = frozenset({"=", "<", "<=", ">", ">="})


def _ordered_columns(
    order: tuple[OrderKey, ...], required: list[Comparison], driver: Comparison | None
) -> tuple[list[tuple[Any, bool]], Select[Any], frozenset[Comparison]]:
    """The sort columns, the query joining what they need, and the required comparisons
    those joins already enforce. A rare ``driver`` tag becomes the outer loop."""
    enforced: set[Comparison] = set()
    start: Any = versions
    if driver is not None:
        tag = version_tags.alias("driving_tag")
        start = DrivingJoin(
            tag,
            versions,
            and_(
                versions.c.id == tag.c.version_id,
                tag.c.key == driver.field.key,
                tag.c.value == driver.value,
            ),
        )
        enforced.add(driver)
    query_from = start.join(groups, groups.c.id == versions.c.group_id)
    columns: list[tuple[Any, bool]] = []
    for index, key in enumerate(order):
        if key.field.kind == "metrics":
            metric = version_metrics.alias(f"order_metric_{index}")
            # A required range on the same metric is repeated on the join, so the index walk
            # that yields the order also skips the rows outside the range.
            pushed = [c for c in required if c.field == key.field and c.op in _RANGE_OPS]
            enforced.update(pushed)
            ranges = [_apply(metric.c.value, c.op, c.value) for c in pushed]
            query_from = query_from.join(
                metric,
                and_(metric.c.version_id == versions.c.id, metric.c.key == key.field.key, *ranges),
            )
            columns.append((metric.c.value, key.descending))
        else:
            columns.append((_PLAIN_COLUMNS[key.field.kind], key.descending))
    tie_descending = columns[-1][1] if columns else True
    columns.append((versions.c.id, tie_descending))
    query = select(*(c for c, _ in columns)).select_from(query_from)
    return columns, query, frozenset(enforced)


def _after(columns: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the sort order (lexicographic keyset condition).

    The leading ``first <= v`` (or ``>=``) is implied by the OR chain but stated on its own:
    it is the range the database can seek to in the index, instead of re-walking every
    earlier page.
    """
    if len(values) != len(columns):
        return false()
    branches = []
    for i, (column, descending) in enumerate(columns):
        equal_prefix = [c == v for (c, _), v in zip(columns[:i], values[:i], strict=True)]
        beyond = column < values[i] if descending else column > values[i]
        branches.append(and_(*equal_prefix, beyond))
    first, first_descending = columns[0]
    seek = first <= values[0] if first_descending else first >= values[0]
    return and_(seek, or_(*branches))


def run_search(
    conn: Connection,
    node: Node | None,
    order: tuple[OrderKey, ...],
    after: list[Any] | None,
    limit: int,
    *,
    patterns: list[str] | None = None,
) -> tuple[list[int], list[Any] | None]:
    """Version ids of one page and the sort key of its last row (for the next cursor)."""
    rare = rare_tag_comparisons(conn, node)
    rows = conn.execute(search_query(node, order, after, limit + 1, rare, patterns=patterns)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [row[-1] for row in rows]
    last = list(rows[-1]) if (rows and more) else None
    return ids, last
