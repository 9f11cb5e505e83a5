"""SQL repository for aliases and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from modelyard.domain.model import AliasMove
from modelyard.store.sql.rows import utc
from modelyard.store.sql.schema import alias_history, aliases, versions


def current_alias(conn: Connection, group_id: int, name: str) -> int | None:
    """The version number the alias points at, or None."""
    query = (
        select(versions.c.number)
        .join(aliases, aliases.c.version_id == versions.c.id)
        .where(aliases.c.group_id == group_id, aliases.c.name == name)
    )
    number = conn.execute(query).scalar()
    return None if number is None else int(number)


def move_alias(
    conn: Connection,
    *,
    group_id: int,
    name: str,
    version_id: int,
    exists: bool,
    actor: str,
    now: datetime,
) -> None:
    values = {"version_id": version_id, "updated_by": actor, "updated_at": now}
    if exists:
        conn.execute(
            update(aliases)
            .where(aliases.c.group_id == group_id, aliases.c.name == name)
            .values(**values)
        )
    else:
        conn.execute(insert(aliases).values(group_id=group_id, name=name, **values))


def remove_alias(conn: Connection, group_id: int, name: str) -> None:
    conn.execute(delete(aliases).where(aliases.c.group_id == group_id, aliases.c.name == name))


def record_move(conn: Connection, move: AliasMove, group_id: int) -> None:
    conn.execute(
        insert(alias_history).values(
            group_id=group_id,
            name=move.alias,
            version=move.version,
            previous_version=move.previous_version,
            actor=move.actor,
            reason=move.reason,
            at=move.at,
        )
    )


def history(conn: Connection, group_id: int, group: str, name: str) -> list[AliasMove]:
    """Every move of the alias, oldest first."""
    return [move for _, move in history_page(conn, group_id, group, name, after=None, limit=None)]


def history_page(
    conn: Connection,
    group_id: int,
    group: str,
    name: str,
    *,
    after: int | None,
    limit: int | None,
) -> list[tuple[list[Any], AliasMove]]:
    """The alias's moves, oldest first, after history row ``after``: (sort key, move)."""
    h = alias_history.c
    query = select(alias_history).where(h.group_id == group_id, h.name == name).order_by(h.id)
    if limit is not None:
        query = query.limit(limit)
    if after is not None:
        query = query.where(h.id > after)
    return [
        (
            [r.id],
            AliasMove(
                group=group,
                alias=r.name,
                version=r.version,
                previous_version=r.previous_version,
                actor=r.actor,
                reason=r.reason,
                at=utc(r.at),
            ),
        )
        for r in conn.execute(query)
    ]


def list_aliases(conn: Connection, group_id: int) -> dict[str, int]:
    query = (
        select(aliases.c.name, versions.c.number)
        .join(versions, versions.c.id == aliases.c.version_id)
        .where(aliases.c.group_id == group_id)
        .order_by(aliases.c.name)
    )
    return {name: number for name, number in conn.execute(query)}
