"""Deployments of versions to environments (SQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from modelyard.domain.times import iso_z, iso_z_or_none
from modelyard.store.sql.schema import deployments

IN_PROGRESS, SUCCEEDED, FAILED, ROLLED_BACK = "in_progress", "succeeded", "failed", "rolled_back"


def active_key(group: str, environment: str) -> str:
    return f"{group}@{environment}"


def in_progress(conn: Connection, group: str, environment: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(deployments).where(deployments.c.active_key == active_key(group, environment))
    ).first()
    return None if row is None else _deployment(row)


def insert_deployment(
    conn: Connection,
    *,
    group: str,
    environment: str,
    version: int,
    previous_version: int | None,
    kind: str,
    run_id: int | None,
    actor: str,
    reason: str,
    now: datetime,
    run_attempt: int | None = None,
) -> int:
    return int(
        conn.execute(
            insert(deployments).returning(deployments.c.id),
            {
                "group_name": group,
                "environment": environment,
                "version": version,
                "previous_version": previous_version,
                "kind": kind,
                "status": IN_PROGRESS,
                "run_id": run_id,
                "run_attempt": run_attempt,
                "actor": actor,
                "reason": reason,
                "error": "",
                "started_at": now,
                "active_key": active_key(group, environment),
            },
        ).scalar_one()
    )


def finish(conn: Connection, deployment_id: int, status: str, *, error: str, now: datetime) -> None:
    conn.execute(
        update(deployments)
        .where(deployments.c.id == deployment_id)
        .values(status=status, error=error, finished_at=now, active_key=None)
    )


def get(conn: Connection, deployment_id: int) -> dict[str, Any]:
    row = conn.execute(select(deployments).where(deployments.c.id == deployment_id)).one()
    return _deployment(row)


def history(conn: Connection, group: str, environment: str, *, limit: int) -> list[dict[str, Any]]:
    """Newest first."""
    d = deployments.c
    rows = conn.execute(
        select(deployments)
        .where(d.group_name == group, d.environment == environment)
        .order_by(d.id.desc())
        .limit(limit)
    )
    return [_deployment(row) for row in rows]


def latest_of_run(
    conn: Connection, group: str, environment: str, run_id: int, *, since_attempt: int
) -> dict[str, Any] | None:
    """The newest deployment to this environment a run's stage started in its current
    execution (stage attempts from ``since_attempt`` on)."""
    d = deployments.c
    row = conn.execute(
        select(deployments)
        .where(
            d.group_name == group,
            d.environment == environment,
            d.run_id == run_id,
            d.run_attempt >= since_attempt,
        )
        .order_by(d.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _deployment(row)


def succeeded(conn: Connection, group: str, environment: str) -> list[dict[str, Any]]:
    """Successful deployments, newest first."""
    d = deployments.c
    rows = conn.execute(
        select(deployments)
        .where(d.group_name == group, d.environment == environment, d.status == SUCCEEDED)
        .order_by(d.id.desc())
    )
    return [_deployment(row) for row in rows]


def _deployment(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "group": row.group_name,
        "environment": row.environment,
        "version": row.version,
        "reference": f"{row.group_name}/{row.version}",
        "previous_version": row.previous_version,
        "kind": row.kind,
        "status": row.status,
        "run_id": row.run_id,
        "actor": row.actor,
        "reason": row.reason,
        "error": row.error,
        "started_at": iso_z(row.started_at),
        "finished_at": iso_z_or_none(row.finished_at),
    }
