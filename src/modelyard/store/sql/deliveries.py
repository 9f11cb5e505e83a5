"""Routing the outbox into deliveries, and leasing delivery streams to workers (SQL).

A *stream* is one (rule, target, group): its deliveries go out one at a time in event
order, by whichever worker holds its lease. ``claim_stream`` uses ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so concurrent workers never lease the same stream; SQLite
serializes writers anyway. Lock order everywhere: router lock, then stream rows in key
order, then delivery rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from modelyard.store.sql.rows import utc, utc_or_none
from modelyard.store.sql.schema import (
    deliveries,
    delivery_attempts,
    delivery_streams,
    outbox,
)

PENDING, DELIVERED, DEAD, CANCELLED = "pending", "delivered", "dead", "cancelled"


def stream_key(rule_id: int, target_index: int, group: str) -> str:
    return f"{rule_id}:{target_index}:{group}"


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    seq: int
    event_id: str
    group: str
    payload: dict[str, Any]
    created_at: datetime
    dispatched: bool = True


@dataclass(frozen=True, slots=True)
class Due:
    """A pending delivery handed to a worker with its event."""

    id: int
    event_seq: int
    event_id: str
    rule_id: int
    target_index: int
    attempts: int  # made so far (numbering continues across redrives)
    budget_from: int  # attempts already made when it was last (re)queued
    queued_at: datetime  # created or redriven: the target's max_age counts from here
    next_attempt_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Claim:
    stream: str
    deliveries: list[Due]


@dataclass(frozen=True, slots=True)
class Result:
    """What became of one attempt: ``status`` pending (retry at ``next_attempt_at``),
    delivered or dead."""

    delivery_id: int
    attempt: int
    started_at: datetime
    ok: bool
    status: str
    status_code: int | None
    error: str
    latency_ms: float
    next_attempt_at: datetime | None


# --- routing --------------------------------------------------------------------------


ROUTER_LOCK = 7305102  # PostgreSQL advisory lock key: one router at a time


def take_router_lease(conn: Connection) -> bool:
    """Hold the router lock for this transaction; False when another worker is routing.
    (SQLite serializes writing transactions, which is the same guarantee.)"""
    if conn.dialect.name == "sqlite":
        return True
    return bool(conn.execute(text(f"SELECT pg_try_advisory_xact_lock({ROUTER_LOCK})")).scalar())


def undispatched(conn: Connection, *, limit: int) -> list[OutboxEvent]:
    rows = conn.execute(
        select(
            outbox.c.seq,
            outbox.c.event_id,
            outbox.c.group_name,
            outbox.c.payload,
            outbox.c.created_at,
        )
        .where(outbox.c.dispatched.is_(False))
        .order_by(outbox.c.seq)
        .limit(limit)
    )
    return [
        OutboxEvent(r.seq, r.event_id, r.group_name, dict(r.payload), utc(r.created_at))
        for r in rows
    ]


def has_undispatched(conn: Connection) -> bool:
    query = select(outbox.c.seq).where(outbox.c.dispatched.is_(False)).limit(1)
    return conn.execute(query).first() is not None


def mark_dispatched(conn: Connection, seqs: Sequence[int]) -> None:
    if seqs:
        conn.execute(update(outbox).where(outbox.c.seq.in_(seqs)).values(dispatched=True))


def enqueue(conn: Connection, rows: Sequence[Mapping[str, Any]], *, now: datetime) -> None:
    """Insert pending deliveries (``event_seq, event_id, rule_id, rule_name, target_index,
    stream``, optional ``replay``) and wake their streams."""
    if not rows:
        return
    conn.execute(
        insert(deliveries),
        [
            {
                "replay": False,
                **row,
                "status": PENDING,
                "attempts": 0,
                "budget_from": 0,
                "created_at": now,
                "queued_at": now,
                "next_attempt_at": now,
                "last_error": "",
            }
            for row in rows
        ],
    )
    wake_streams(conn, {row["stream"]: row["rule_id"] for row in rows}, now=now)


def wake_streams(conn: Connection, streams: Mapping[str, int], *, now: datetime) -> None:
    """Make idle streams due now (creating missing ones); busy ones keep their schedule."""
    keys = sorted(streams)
    known = set(
        conn.execute(
            select(delivery_streams.c.stream).where(delivery_streams.c.stream.in_(keys))
        ).scalars()
    )
    missing = [k for k in keys if k not in known]
    if missing:
        conn.execute(
            insert(delivery_streams),
            [{"stream": k, "rule_id": streams[k], "next_attempt_at": now} for k in missing],
        )
    if known:
        conn.execute(
            update(delivery_streams)
            .where(delivery_streams.c.stream.in_(sorted(known)))
            .where(delivery_streams.c.next_attempt_at.is_(None))
            .values(next_attempt_at=now)
        )


# --- delivering -----------------------------------------------------------------------


def next_due_at(conn: Connection) -> datetime | None:
    """When the earliest stream becomes due (None: nothing is pending)."""
    return utc_or_none(conn.execute(select(func.min(delivery_streams.c.next_attempt_at))).scalar())


def claim_stream(
    conn: Connection, *, worker: str, now: datetime, lease_until: datetime, batch: int
) -> Claim | None:
    """Lease the most overdue free stream and return its first ``batch`` pending deliveries."""
    s = delivery_streams.c
    query = (
        select(s.stream)
        .where(s.next_attempt_at <= now)
        .where(or_(s.lease_until.is_(None), s.lease_until < now))
        .order_by(s.next_attempt_at)
        .limit(1)
    )
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    stream = conn.execute(query).scalar()
    if stream is None:
        return None
    conn.execute(
        update(delivery_streams)
        .where(s.stream == stream)
        .values(lease_until=lease_until, leased_by=worker)
    )
    d = deliveries.c
    rows = conn.execute(
        select(
            d.id,
            d.event_seq,
            d.event_id,
            d.rule_id,
            d.target_index,
            d.attempts,
            d.budget_from,
            d.queued_at,
            d.next_attempt_at,
            outbox.c.payload,
        )
        .join(outbox, outbox.c.seq == d.event_seq)
        .where(d.stream == stream, d.status == PENDING)
        .order_by(d.event_seq, d.id)
        .limit(batch)
    )
    due = [
        Due(
            id=r.id,
            event_seq=r.event_seq,
            event_id=r.event_id,
            rule_id=r.rule_id,
            target_index=r.target_index,
            attempts=r.attempts,
            budget_from=r.budget_from,
            queued_at=utc(r.queued_at),
            next_attempt_at=utc(r.next_attempt_at),
            payload=dict(r.payload),
        )
        for r in rows
    ]
    return Claim(stream=stream, deliveries=due)


#: one prebuilt statement, run once per batch (executemany): building an UPDATE per
#: delivery cost more than running it
_RECORD_RESULT = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"), deliveries.c.status == PENDING)
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempt"),
        first_attempt_at=func.coalesce(deliveries.c.first_attempt_at, bindparam("b_started")),
        next_attempt_at=bindparam("b_next"),
        finished_at=bindparam("b_finished"),
        last_status_code=bindparam("b_code"),
        last_error=bindparam("b_error"),
    )
)


def record(conn: Connection, claim: Claim, results: Sequence[Result], *, worker: str) -> None:
    """Store the attempts, update their deliveries, and reschedule (and release) the stream."""
    if results:
        conn.execute(
            insert(delivery_attempts),
            [
                {
                    "delivery_id": r.delivery_id,
                    "attempt": r.attempt,
                    "worker": worker,
                    "started_at": r.started_at,
                    "latency_ms": r.latency_ms,
                    "status_code": r.status_code,
                    "ok": r.ok,
                    "error": r.error,
                }
                for r in results
            ],
        )
    if results:
        conn.execute(
            _RECORD_RESULT,
            [
                {
                    "b_id": r.delivery_id,
                    "b_status": r.status,
                    "b_attempt": r.attempt,
                    "b_started": r.started_at,
                    "b_next": r.next_attempt_at or r.started_at,
                    "b_finished": r.started_at if r.status != PENDING else None,
                    "b_code": r.status_code,
                    "b_error": r.error,
                }
                for r in results
            ],
        )
    release(conn, claim.stream, worker=worker)


def release(conn: Connection, stream: str, *, worker: str) -> None:
    """Reschedule ``stream`` at its first pending delivery (or idle it) and drop our lease.

    The stream row is locked first, so deliveries a concurrent router committed meanwhile
    are seen by the next statement (read committed) and never left stranded."""
    s = delivery_streams.c
    lease = conn.execute(select(s.leased_by).where(s.stream == stream).with_for_update()).scalar()
    if lease != worker:
        return  # our lease expired and another worker took the stream over
    d = deliveries.c
    head = conn.execute(
        select(d.next_attempt_at)
        .where(d.stream == stream, d.status == PENDING)
        .order_by(d.event_seq, d.id)
        .limit(1)
    ).scalar()
    conn.execute(
        update(delivery_streams)
        .where(s.stream == stream)
        .values(next_attempt_at=head, lease_until=None, leased_by=None)
    )


# --- history, dead letters, replay, retention -------------------------------------------


def event_by_id(conn: Connection, event_id: str) -> OutboxEvent | None:
    o = outbox.c
    row = conn.execute(
        select(o.seq, o.event_id, o.group_name, o.payload, o.created_at, o.dispatched).where(
            o.event_id == event_id
        )
    ).first()
    if row is None:
        return None
    payload, created = dict(row.payload), utc(row.created_at)
    return OutboxEvent(row.seq, row.event_id, row.group_name, payload, created, row.dispatched)


def events_since(conn: Connection, since: datetime, *, limit: int) -> list[OutboxEvent]:
    rows = conn.execute(
        select(
            outbox.c.seq,
            outbox.c.event_id,
            outbox.c.group_name,
            outbox.c.payload,
            outbox.c.created_at,
        )
        .where(outbox.c.created_at >= since, outbox.c.dispatched.is_(True))
        .order_by(outbox.c.seq)
        .limit(limit)
    )
    return [
        OutboxEvent(r.seq, r.event_id, r.group_name, dict(r.payload), utc(r.created_at))
        for r in rows
    ]


def deliveries_of(conn: Connection, event_id: str) -> list[dict[str, Any]]:
    """Every delivery of an event, each with its attempts (oldest first)."""
    found = [
        dict(r._mapping)
        for r in conn.execute(
            select(deliveries).where(deliveries.c.event_id == event_id).order_by(deliveries.c.id)
        )
    ]
    attempts: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in found}
    if found:
        for a in conn.execute(
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id.in_(list(attempts)))
            .order_by(delivery_attempts.c.id)
        ):
            attempts[a.delivery_id].append(dict(a._mapping))
    for row in found:
        row["attempt_log"] = attempts[row["id"]]
    return found


def list_deliveries(
    conn: Connection, *, status: str | None, rule: str | None, limit: int
) -> list[dict[str, Any]]:
    query = select(deliveries, outbox.c.type).join(outbox, outbox.c.seq == deliveries.c.event_seq)
    if status:
        query = query.where(deliveries.c.status == status)
    if rule:
        query = query.where(deliveries.c.rule_name == rule)
    query = query.order_by(deliveries.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(query)]


def redrive(conn: Connection, ids: Iterable[int] | None, *, rule: str | None, now: datetime) -> int:
    """Put dead deliveries (these ``ids``, or all of ``rule``'s, or all) back in their queue."""
    d = deliveries.c
    query = select(d.id, d.stream, d.rule_id).where(d.status == DEAD)
    if ids is not None:
        query = query.where(d.id.in_(list(ids)))
    if rule:
        query = query.where(d.rule_name == rule)
    rows = conn.execute(query).all()
    if not rows:
        return 0
    conn.execute(
        update(deliveries)
        .where(d.id.in_([r.id for r in rows]))
        .values(
            status=PENDING,
            budget_from=d.attempts,
            queued_at=now,
            finished_at=None,
            next_attempt_at=now,
        )
    )
    wake_streams(conn, {r.stream: r.rule_id for r in rows}, now=now)
    return len(rows)


def cancel_targets(conn: Connection, rule_id: int, *, from_index: int, now: datetime) -> int:
    """Cancel a rule's pending deliveries to targets it no longer has (``from_index`` on)."""
    d = deliveries.c
    done = conn.execute(
        update(deliveries)
        .where(d.rule_id == rule_id, d.target_index >= from_index, d.status == PENDING)
        .values(status=CANCELLED, finished_at=now, last_error="target removed from the rule")
    )
    return int(done.rowcount or 0)


def cancel_rule(conn: Connection, rule_id: int, *, now: datetime) -> int:
    """A deleted rule's pending deliveries are cancelled (kept for history)."""
    d = deliveries.c
    cancelled = conn.execute(
        update(deliveries)
        .where(d.rule_id == rule_id, d.status == PENDING)
        .values(status=CANCELLED, finished_at=now, last_error="rule deleted")
    ).rowcount
    conn.execute(delete(delivery_streams).where(delivery_streams.c.rule_id == rule_id))
    return int(cancelled or 0)


def prune(conn: Connection, *, before: datetime) -> int:
    """Forget events created before ``before`` whose deliveries are all finished."""
    d = deliveries.c
    pending = exists().where(and_(d.event_seq == outbox.c.seq, d.status == PENDING))
    seqs = list(
        conn.execute(
            select(outbox.c.seq)
            .where(outbox.c.created_at < before, outbox.c.dispatched.is_(True), ~pending)
            .limit(10_000)
        ).scalars()
    )
    if not seqs:
        return 0
    ids = select(d.id).where(d.event_seq.in_(seqs))
    conn.execute(delete(delivery_attempts).where(delivery_attempts.c.delivery_id.in_(ids)))
    conn.execute(delete(deliveries).where(d.event_seq.in_(seqs)))
    conn.execute(delete(outbox).where(outbox.c.seq.in_(seqs)))
    return len(seqs)
