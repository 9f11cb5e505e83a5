"""Use cases for event history: one event with its delivery attempts, dead letters,
redrive, and replaying past events to a rule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from modelyard.domain.access import Action
from modelyard.domain.paging import check_limit
from modelyard.domain.principals import parse_since
from modelyard.domain.rule_index import RuleIndex
from modelyard.domain.rules import validate_rule_name
from modelyard.domain.times import iso_z_or_none
from modelyard.errors import NotFoundError, ValidationError
from modelyard.services.base import ServiceBase
from modelyard.services.events.routing import route_event
from modelyard.store.sql import deliveries as store
from modelyard.store.sql import rules as rule_store

STATUSES = (store.PENDING, store.DELIVERED, store.DEAD, store.CANCELLED)
MAX_REPLAY = 100_000


class EventService(ServiceBase):
    def get_event(self, event_id: str) -> dict[str, Any]:
        """One event (CloudEvents JSON) with every delivery and every attempt of each:
        when, worker, status code, latency and error."""
        if not isinstance(event_id, str) or not 1 <= len(event_id) <= 36:
            raise ValidationError("event_id: must be an event id (a UUID)", field="event_id")
        with self._read() as conn:
            self._authorize(conn, Action.EVENTS_READ, None, f"event:{event_id}")
            found = store.event_by_id(conn, event_id)
            if found is None:
                raise NotFoundError(f"event {event_id!r} does not exist", field="event_id")
            rows = store.deliveries_of(conn, event_id)
        return {
            "event": found.payload,
            "routed": found.dispatched,
            "deliveries": [_delivery(r) for r in rows],
        }

    def list_deliveries(
        self, *, status: str | None = None, rule: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest deliveries first; ``status='dead'`` lists the dead letters."""
        limit = check_limit(limit)
        if status is not None and status not in STATUSES:
            raise ValidationError(
                f"status: {status!r} is not a delivery status (one of {', '.join(STATUSES)})",
                field="status",
            )
        if rule is not None:
            validate_rule_name(rule, field="rule")
        with self._read() as conn:
            self._authorize(conn, Action.EVENTS_READ, None, "deliveries")
            rows = store.list_deliveries(conn, status=status, rule=rule, limit=limit)
        return [_delivery(r) for r in rows]

    def redrive_deliveries(
        self, ids: Sequence[int] | None = None, *, rule: str | None = None, all_dead: bool = False
    ) -> int:
        """Queue dead-lettered deliveries again — these ``ids``, all of ``rule``'s, or (with
        ``all_dead``) every one; returns how many. They get a fresh attempt budget and
        ``max_age``; attempt numbers go on counting."""
        if ids is None and rule is None and not all_dead:
            raise ValidationError(
                "ids: say which dead letters: delivery ids, a rule, or all_dead", field="ids"
            )
        if ids is not None and (
            isinstance(ids, str) or not all(isinstance(i, int) and i > 0 for i in ids)
        ):
            raise ValidationError("ids: must be delivery ids (positive integers)", field="ids")
        if rule is not None:
            validate_rule_name(rule, field="rule")
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.RULES_MANAGE, None, f"rule:{rule or '*'}")
            count = store.redrive(conn, ids, rule=rule, now=now)
            self._record(
                conn,
                action="delivery.redrive",
                resource=f"rule:{rule or '*'}",
                event_type="deliveries.redriven",
                data={
                    "group": None,
                    "rule": rule,
                    "ids": list(ids) if ids is not None else None,
                    "count": count,
                },
                now=now,
            )
            return count

    def replay_events(
        self, rule: str, *, since: str | datetime, until: str | datetime | None = None
    ) -> int:
        """Deliver again, to ``rule``'s targets, every past event since ``since`` (``2h``,
        ``7d`` or ISO-8601) that matches it now; returns how many deliveries were queued.
        Receivers see the same event ids (deduplicate on them)."""
        validate_rule_name(rule, field="rule")
        now = self._ctx.clock()
        start = parse_since(since, now=now) if isinstance(since, str) else since
        end = parse_since(until, now=now, field="until") if isinstance(until, str) else until
        if end is not None and end < start:
            raise ValidationError("until: is before since", field="until")
        with self._write() as conn:
            self._authorize(conn, Action.RULES_MANAGE, None, f"rule:{rule}")
            found = rule_store.get_rule(conn, rule)
            index = RuleIndex([(found.id, found.pattern)])
            events = store.events_since(conn, start, limit=MAX_REPLAY)
            rows = [
                row
                for event in events
                if end is None or event.created_at <= end
                for row in route_event(
                    event,
                    {found.format: index},
                    {found.id: found},
                    self._ctx.sagemaker,
                    replay=True,
                )
            ]
            store.enqueue(conn, rows, now=now)
            self._record(
                conn,
                action="events.replay",
                resource=f"rule:{rule}",
                event_type="events.replayed",
                data={
                    "group": None,
                    "rule": rule,
                    "since": start.isoformat(),
                    "until": end.isoformat() if end else None,
                    "deliveries": len(rows),
                },
                now=now,
            )
            return len(rows)


def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    pending = row["status"] == "pending"
    shown = {
        "id": row["id"],
        "event_id": row["event_id"],
        "rule": row["rule_name"],
        "target": row["target_index"],
        "status": row["status"],
        "attempts": row["attempts"],
        "replay": bool(row["replay"]),
        "created_at": iso_z_or_none(row["created_at"]),
        "next_attempt_at": iso_z_or_none(row["next_attempt_at"]) if pending else None,
        "finished_at": iso_z_or_none(row["finished_at"]),
        "last_status_code": row["last_status_code"],
        "last_error": row["last_error"],
    }
    if "type" in row:
        shown["type"] = row["type"]
    if "attempt_log" in row:
        shown["attempt_log"] = [
            {
                "attempt": a["attempt"],
                "at": iso_z_or_none(a["started_at"]),
                "worker": a["worker"],
                "ok": bool(a["ok"]),
                "status_code": a["status_code"],
                "latency_ms": round(a["latency_ms"], 3),
                "error": a["error"],
            }
            for a in row["attempt_log"]
        ]
    return shown
