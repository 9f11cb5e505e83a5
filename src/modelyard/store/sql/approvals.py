"""Approval requests of pipeline approval stages, and their votes (SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from modelyard.domain.times import iso_z, iso_z_or_none
from modelyard.errors import NotFoundError
from modelyard.store.sql.schema import approval_requests, approval_votes, pipeline_runs

PENDING = "pending"


def insert_request(
    conn: Connection,
    *,
    run_id: int,
    position: int,
    attempt: int,
    group: str,
    version: int,
    role: str,
    count: int,
    principals: Sequence[str],
    allow_registrant: bool,
    registrant: str,
    now: datetime,
    expires_at: datetime,
) -> dict[str, Any]:
    request_id = conn.execute(
        insert(approval_requests).returning(approval_requests.c.id),
        {
            "run_id": run_id,
            "position": position,
            "attempt": attempt,
            "group_name": group,
            "version": version,
            "role": role,
            "count": count,
            "principals": list(principals),
            "allow_registrant": allow_registrant,
            "registrant": registrant,
            "status": PENDING,
            "created_at": now,
            "expires_at": expires_at,
        },
    ).scalar_one()
    return get_request(conn, int(request_id))


def request_for_stage(
    conn: Connection, run_id: int, position: int, *, since_attempt: int | None = None
) -> dict[str, Any] | None:
    """The stage's newest request (with ``since_attempt``: one its current execution
    opened, not one from before a retry)."""
    a = approval_requests.c
    query = _REQUESTS.where(a.run_id == run_id, a.position == position)
    if since_attempt is not None:
        query = query.where(a.attempt >= since_attempt)
    row = conn.execute(query.order_by(a.id.desc()).limit(1)).first()
    return None if row is None else _with_votes(conn, [row])[0]


def get_request(conn: Connection, request_id: int, *, for_update: bool = False) -> dict[str, Any]:
    query = _REQUESTS.where(approval_requests.c.id == request_id)
    if for_update and conn.dialect.name != "sqlite":
        query = query.with_for_update(of=approval_requests)
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"approval request {request_id} does not exist", field="approval")
    return _with_votes(conn, [row])[0]


def list_requests(conn: Connection, *, status: str | None, limit: int) -> list[dict[str, Any]]:
    a = approval_requests.c
    query = _REQUESTS.order_by(a.id.desc()).limit(limit)
    if status:
        query = query.where(a.status == status)
    return _with_votes(conn, list(conn.execute(query)))


def insert_vote(
    conn: Connection, request_id: int, *, principal: str, decision: str, comment: str, now: datetime
) -> None:
    conn.execute(
        insert(approval_votes),
        {
            "request_id": request_id,
            "principal": principal,
            "decision": decision,
            "comment": comment,
            "at": now,
        },
    )


def set_status(conn: Connection, request_id: int, status: str, *, now: datetime) -> None:
    conn.execute(
        update(approval_requests)
        .where(approval_requests.c.id == request_id)
        .values(status=status, decided_at=now)
    )


#: requests with their run's pipeline name
_REQUESTS = select(approval_requests, pipeline_runs.c.pipeline).join(
    pipeline_runs, pipeline_runs.c.id == approval_requests.c.run_id
)


def _with_votes(conn: Connection, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """Requests as dicts, with every vote; two queries for any number of requests."""
    votes: dict[int, list[dict[str, Any]]] = {row.id: [] for row in rows}
    if votes:
        v = approval_votes.c
        for vote in conn.execute(
            select(approval_votes).where(v.request_id.in_(list(votes))).order_by(v.id)
        ):
            votes[vote.request_id].append(
                {
                    "principal": vote.principal,
                    "decision": vote.decision,
                    "comment": vote.comment,
                    "at": iso_z(vote.at),
                }
            )
    return [
        {
            "id": row.id,
            "run_id": row.run_id,
            "pipeline": row.pipeline,
            "stage": row.position,
            "group": row.group_name,
            "version": row.version,
            "reference": f"{row.group_name}/{row.version}",
            "role": row.role,
            "count": row.count,
            "principals": list(row.principals),
            "allow_registrant": bool(row.allow_registrant),
            "registrant": row.registrant,
            "status": row.status,
            "created_at": iso_z(row.created_at),
            "expires_at": iso_z(row.expires_at),
            "decided_at": iso_z_or_none(row.decided_at),
            "votes": votes[row.id],
        }
        for row in rows
    ]
