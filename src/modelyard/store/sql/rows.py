"""Small helpers shared by the SQL repositories: time columns and key/value tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select


def utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything modelyard hands out is UTC-aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def insert_pairs(
    conn: Connection, table: Table, owner: str, owner_id: int, values: Mapping[str, Any]
) -> None:
    if values:
        conn.execute(
            insert(table), [{owner: owner_id, "key": k, "value": v} for k, v in values.items()]
        )


def replace_pairs(
    conn: Connection, table: Table, owner: str, owner_id: int, values: Mapping[str, Any]
) -> None:
    conn.execute(delete(table).where(table.c[owner] == owner_id))
    insert_pairs(conn, table, owner, owner_id, values)


def load_pairs(
    conn: Connection, table: Table, owner: str, owner_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """``{owner_id: {key: value}}`` for every owner, in one query."""
    result: dict[int, dict[str, Any]] = defaultdict(dict)
    if owner_ids:
        column = table.c[owner]
        query = select(column, table.c.key, table.c.value).where(column.in_(owner_ids))
        for owner_id, key, value in conn.execute(query.order_by(table.c.key)):
            result[owner_id][key] = value
    return result
