"""Pipeline definitions, one row per revision (SQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select

from modelyard.domain.times import iso_z
from modelyard.errors import NotFoundError
from modelyard.store.sql.schema import groups, pipelines


def latest_revision(conn: Connection, name: str) -> int:
    found = conn.execute(
        select(func.max(pipelines.c.revision)).where(pipelines.c.name == name)
    ).scalar()
    return int(found or 0)


def insert_revision(
    conn: Connection,
    *,
    name: str,
    revision: int,
    source: str,
    spec: dict[str, Any],
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    conn.execute(
        insert(pipelines),
        {
            "name": name,
            "revision": revision,
            "source": source,
            "spec": spec,
            "created_by": actor,
            "created_at": now,
        },
    )
    return get_revision(conn, name, revision)


def get_revision(conn: Connection, name: str, revision: int | None = None) -> dict[str, Any]:
    number = revision if revision is not None else latest_revision(conn, name)
    row = conn.execute(
        select(pipelines).where(pipelines.c.name == name, pipelines.c.revision == number)
    ).first()
    if row is None:
        if revision is not None and latest_revision(conn, name):
            raise NotFoundError(
                f"pipeline {name!r} has no revision {revision} "
                f"(latest: {latest_revision(conn, name)})",
                field="revision",
            )
        raise NotFoundError(f"pipeline {name!r} does not exist", field="pipeline")
    return _revision(row)


def list_latest(conn: Connection) -> list[dict[str, Any]]:
    newest = (
        select(pipelines.c.name, func.max(pipelines.c.revision).label("revision"))
        .group_by(pipelines.c.name)
        .subquery()
    )
    rows = conn.execute(
        select(pipelines)
        .join(
            newest,
            (pipelines.c.name == newest.c.name) & (pipelines.c.revision == newest.c.revision),
        )
        .order_by(pipelines.c.name)
    )
    return [_revision(row) for row in rows]


def known_environments(conn: Connection) -> set[str]:
    """Every environment any group has (its protected aliases), plus the defaults."""
    found = {"staging", "production"}
    for value in conn.execute(select(groups.c.protected_aliases)).scalars():
        found.update(value or ())
    return found


def _revision(row: Row[Any]) -> dict[str, Any]:
    return {
        "name": row.name,
        "revision": row.revision,
        "source": row.source,
        "spec": dict(row.spec),
        "created_by": row.created_by,
        "created_at": iso_z(row.created_at),
    }
