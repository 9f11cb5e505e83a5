"""The event outbox, written in the caller's transaction (the audit log: ``audit.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from modelyard.domain.events import Event
from modelyard.store.sql.database import mark_event
from modelyard.store.sql.schema import outbox

_INSERT_EVENT = insert(outbox)


def append_event(conn: Connection, event: Event) -> None:
    mark_event(conn)
    row = {"event_id": event.id, "type": event.type, "subject": event.subject}
    conn.execute(
        _INSERT_EVENT,
        row
        | {
            "group_name": event.data.get("group") or "",
            "payload": event.to_cloudevent(),
            "created_at": event.time,
        },
    )


def read_events(
    conn: Connection, *, event_type: str | None, group: str | None, limit: int
) -> list[dict[str, Any]]:
    query = select(outbox.c.payload).order_by(outbox.c.seq.desc()).limit(limit)
    if event_type:
        query = query.where(outbox.c.type == event_type)
    if group:
        query = query.where(outbox.c.group_name == group)
    return [dict(payload) for payload in conn.execute(query).scalars()]
