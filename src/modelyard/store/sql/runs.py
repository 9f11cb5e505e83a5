"""Pipeline runs, their stages and logs, and leasing due runs to workers (SQL).

A run is *due* when ``next_run_at <= now``; a worker leases it (``FOR UPDATE SKIP LOCKED``
on PostgreSQL), runs its current stage, records the outcome and releases it with the time it
is next due (``NULL``: finished, or waiting for a person).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, or_, select, update

from modelyard.domain.times import iso_z, iso_z_or_none
from modelyard.errors import NotFoundError
from modelyard.store.sql.rows import utc_or_none
from modelyard.store.sql.schema import pipeline_runs, run_stages, stage_logs

ACTIVE = ("queued", "running", "waiting")
FINISHED = ("succeeded", "failed", "cancelled")


def active_key(pipeline: str, group: str, version: int) -> str:
    return f"{pipeline} {group}/{version}"


def active_run(conn: Connection, pipeline: str, group: str, version: int) -> int | None:
    found = conn.execute(
        select(pipeline_runs.c.id).where(
            pipeline_runs.c.active_key == active_key(pipeline, group, version)
        )
    ).scalar()
    return None if found is None else int(found)


def run_for_trigger(conn: Connection, pipeline: str, event_id: str) -> int | None:
    found = conn.execute(
        select(pipeline_runs.c.id).where(
            pipeline_runs.c.pipeline == pipeline, pipeline_runs.c.trigger_event_id == event_id
        )
    ).scalar()
    return None if found is None else int(found)


def insert_run(
    conn: Connection,
    *,
    pipeline: str,
    revision: int,
    group: str,
    version: int,
    stages: Sequence[tuple[str, str]],
    trigger: str,
    trigger_event_id: str | None,
    actor: str,
    now: datetime,
) -> int:
    run_id = int(
        conn.execute(
            insert(pipeline_runs).returning(pipeline_runs.c.id),
            {
                "pipeline": pipeline,
                "revision": revision,
                "group_name": group,
                "version": version,
                "status": "queued",
                "trigger": trigger,
                "trigger_event_id": trigger_event_id,
                "active_key": active_key(pipeline, group, version),
                "created_by": actor,
                "created_at": now,
                "updated_at": now,
                "next_run_at": now,
                "error": "",
            },
        ).scalar_one()
    )
    conn.execute(
        insert(run_stages),
        [
            {
                "run_id": run_id,
                "position": i,
                "name": name,
                "uses": uses,
                "status": "pending",
                "attempts": 0,
                "opened_attempt": 0,
                "outputs": {},
                "error": "",
            }
            for i, (name, uses) in enumerate(stages)
        ],
    )
    return run_id


def get_run(conn: Connection, run_id: int) -> dict[str, Any]:
    row = conn.execute(select(pipeline_runs).where(pipeline_runs.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"run {run_id} does not exist", field="run")
    run = _run(row)
    run["stages"] = [
        _stage(s)
        for s in conn.execute(
            select(run_stages).where(run_stages.c.run_id == run_id).order_by(run_stages.c.position)
        )
    ]
    return run


def list_runs(
    conn: Connection,
    *,
    pipeline: str | None,
    group: str | None,
    status: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    r = pipeline_runs.c
    query = select(pipeline_runs).order_by(r.id.desc()).limit(limit)
    if pipeline:
        query = query.where(r.pipeline == pipeline)
    if group:
        query = query.where(r.group_name == group)
    if status:
        query = query.where(r.status == status)
    return [_run(row) for row in conn.execute(query)]


def claim_due(conn: Connection, *, worker: str, now: datetime, lease_until: datetime) -> int | None:
    r = pipeline_runs.c
    query = (
        select(r.id)
        .where(r.next_run_at <= now, or_(r.lease_until.is_(None), r.lease_until < now))
        .order_by(r.next_run_at)
        .limit(1)
    )
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    run_id = conn.execute(query).scalar()
    if run_id is None:
        return None
    conn.execute(
        update(pipeline_runs)
        .where(r.id == run_id)
        .values(lease_until=lease_until, leased_by=worker)
    )
    return int(run_id)


def renew_lease(conn: Connection, run_id: int, *, worker: str, lease_until: datetime) -> bool:
    r = pipeline_runs.c
    done = conn.execute(
        update(pipeline_runs)
        .where(r.id == run_id, r.leased_by == worker)
        .values(lease_until=lease_until)
    )
    return bool(done.rowcount)


def next_due_at(conn: Connection) -> datetime | None:
    return utc_or_none(conn.execute(select(func.min(pipeline_runs.c.next_run_at))).scalar())


def update_run(conn: Connection, run_id: int, **values: Any) -> None:
    if values.get("status") in FINISHED:
        values["active_key"] = None
    conn.execute(update(pipeline_runs).where(pipeline_runs.c.id == run_id).values(**values))


def update_stage(conn: Connection, run_id: int, position: int, **values: Any) -> None:
    conn.execute(
        update(run_stages)
        .where(run_stages.c.run_id == run_id, run_stages.c.position == position)
        .values(**values)
    )


def wake(conn: Connection, run_id: int, *, now: datetime) -> None:
    """Make a waiting run due now (an approval was decided)."""
    conn.execute(
        update(pipeline_runs)
        .where(pipeline_runs.c.id == run_id, pipeline_runs.c.status.in_(ACTIVE))
        .values(next_run_at=now)
    )


def append_logs(
    conn: Connection, run_id: int, position: int, lines: Sequence[str], *, now: datetime
) -> None:
    if lines:
        conn.execute(
            insert(stage_logs),
            [{"run_id": run_id, "position": position, "at": now, "line": line} for line in lines],
        )


def read_logs(
    conn: Connection, run_id: int, *, after: int, limit: int, position: int | None = None
) -> list[dict[str, Any]]:
    s = stage_logs.c
    query = select(stage_logs).where(s.run_id == run_id, s.id > after).order_by(s.id).limit(limit)
    if position is not None:
        query = query.where(s.position == position)
    return [
        {
            "id": row.id,
            "stage": row.position,
            "at": iso_z(row.at),
            "line": row.line,
        }
        for row in conn.execute(query)
    ]


def _run(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "pipeline": row.pipeline,
        "revision": row.revision,
        "group": row.group_name,
        "version": row.version,
        "reference": f"{row.group_name}/{row.version}",
        "status": row.status,
        "trigger": row.trigger,
        "created_by": row.created_by,
        "created_at": iso_z_or_none(row.created_at),
        "updated_at": iso_z_or_none(row.updated_at),
        "finished_at": iso_z_or_none(row.finished_at),
        "error": row.error,
    }


def _stage(row: Row[Any]) -> dict[str, Any]:
    return {
        "position": row.position,
        "name": row.name,
        "uses": row.uses,
        "status": row.status,
        "attempts": row.attempts,
        "opened_attempt": row.opened_attempt,
        "started_at": iso_z_or_none(row.started_at),
        "finished_at": iso_z_or_none(row.finished_at),
        "outputs": dict(row.outputs or {}),
        "error": row.error,
    }
