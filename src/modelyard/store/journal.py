"""The audit log and the event outbox, written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from modelyard.domain.events import Event
from modelyard.store.rows import utc
from modelyard.store.schema import audit_log, outbox

_INSERT_AUDIT = insert(audit_log)
_INSERT_EVENT = insert(outbox)


def append_audit(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    resource: str,
    outcome: str,
    details: dict[str, Any],
) -> None:
    row = {"at": at, "actor": actor, "action": action, "resource": resource}
    conn.execute(_INSERT_AUDIT, row | {"outcome": outcome, "details": details})


def append_event(conn: Connection, event: Event) -> None:
    row = {"event_id": event.id, "type": event.type, "subject": event.subject}
    conn.execute(
        _INSERT_EVENT,
        row
        | {
            "group_name": event.data["group"],
            "payload": event.to_cloudevent(),
            "created_at": event.time,
        },
    )


def read_audit(
    conn: Connection, *, resource_prefix: str | None, limit: int
) -> list[dict[str, Any]]:
    query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
    if resource_prefix:
        query = query.where(audit_log.c.resource.startswith(resource_prefix, autoescape=True))
    return [
        {
            "seq": r.seq,
            "at": utc(r.at).isoformat(),
            "actor": r.actor,
            "action": r.action,
            "resource": r.resource,
            "outcome": r.outcome,
            "details": r.details,
        }
        for r in conn.execute(query)
    ]


def read_events(
    conn: Connection, *, event_type: str | None, group: str | None, limit: int
) -> list[dict[str, Any]]:
    query = select(outbox.c.payload).order_by(outbox.c.seq.desc()).limit(limit)
    if event_type:
        query = query.where(outbox.c.type == event_type)
    if group:
        query = query.where(outbox.c.group_name == group)
    return [dict(payload) for payload in conn.execute(query).scalars()]
