"""Groups' release policies (one row per group and target; none: the default)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from modelyard.store.sql.schema import release_policies


def get_policy(conn: Connection, group: str, target: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(release_policies).where(
            release_policies.c.group_name == group, release_policies.c.target == target
        )
    ).first()
    return None if row is None else dict(row._mapping)


def list_policies(conn: Connection, group: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(release_policies)
        .where(release_policies.c.group_name == group)
        .order_by(release_policies.c.target)
    )
    return [dict(r._mapping) for r in rows]


def put_policy(
    conn: Connection, group: str, target: str, clauses: list[str], *, actor: str, now: datetime
) -> None:
    remove_policy(conn, group, target)
    conn.execute(
        release_policies.insert().values(
            group_name=group, target=target, clauses=clauses, updated_by=actor, updated_at=now
        )
    )


def remove_policy(conn: Connection, group: str, target: str) -> bool:
    result = conn.execute(
        delete(release_policies).where(
            release_policies.c.group_name == group, release_policies.c.target == target
        )
    )
    return bool(result.rowcount)
