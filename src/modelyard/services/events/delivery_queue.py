"""The delivery queue as workers see it: route new outbox events to rules' deliveries,
lease a stream's due deliveries, record what each attempt achieved, prune old history.

Workers are trusted processes next to the database (``modelyard server``'s embedded
worker, ``modelyard worker``): this is not part of the registry API, and it bypasses
per-principal authorization the way the outbox itself does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock

from sqlalchemy import Connection

from modelyard.domain.delivery import Outcome, next_attempt
from modelyard.domain.rule_index import RuleIndex
from modelyard.domain.rules import Rule
from modelyard.services.events.routing import (
    SageMakerIdentity,
    indexes_of,
    render_body,
    route_event,
)
from modelyard.store.sql import deliveries as store
from modelyard.store.sql import rules as rule_store
from modelyard.store.sql.database import Database

ROUTE_BATCH = 500


@dataclass(frozen=True, slots=True)
class Routed:
    """What one routing pass did: events routed, deliveries they caused."""

    events: int
    deliveries: int

    def __bool__(self) -> bool:
        return self.events > 0


@dataclass(frozen=True, slots=True)
class Work:
    """One leased stream: its rule and the deliveries to attempt, in order."""

    claim: store.Claim
    rule: Rule | None  # None: the rule was deleted meanwhile

    def body(self, due: store.Due, identity: SageMakerIdentity) -> bytes:
        assert self.rule is not None
        return render_body(self.rule, due.payload, identity)


class DeliveryQueue:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime],
        identity: SageMakerIdentity,
        jitter: Callable[[], float] = random.random,
        unseal: Callable[[Rule], Rule] = lambda rule: rule,
    ) -> None:
        self._db = db
        self._unseal = unseal  # webhook secrets are sealed at rest (services/security/secrets.py)
        self._clock = clock
        self.identity = identity
        self._jitter = jitter
        self._lock = Lock()
        self._fingerprint: tuple[object, ...] | None = None
        self._rules: dict[int, Rule] = {}
        self._indexes: dict[str, RuleIndex[int]] = {}

    def now(self) -> datetime:
        return self._clock()

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every commit (in this process) that wrote an event."""
        self._db.add_commit_listener(callback)

    def _load_rules(self, conn: Connection) -> None:
        fingerprint = rule_store.rules_fingerprint(conn)
        with self._lock:
            if fingerprint == self._fingerprint:
                return
            rules = {rule.id: self._unseal(rule) for rule in rule_store.list_rules(conn)}
            self._rules, self._indexes = rules, indexes_of(rules)
            self._fingerprint = fingerprint

    def route(self, *, worker: str) -> Routed:
        """Turn the next batch of undispatched events into deliveries (false: nothing to
        do, or another worker is routing)."""
        with self._db.transaction(write=False) as conn:
            if not store.has_undispatched(conn):
                return Routed(0, 0)
        now = self._clock()
        with self._db.transaction(write=True) as conn:
            if not store.take_router_lease(conn):
                return Routed(0, 0)
            events = store.undispatched(conn, limit=ROUTE_BATCH)
            if not events:
                return Routed(0, 0)
            self._load_rules(conn)
            rows = [
                row
                for event in events
                for row in route_event(event, self._indexes, self._rules, self.identity)
            ]
            store.enqueue(conn, rows, now=now)
            store.mark_dispatched(conn, [event.seq for event in events])
            return Routed(len(events), len(rows))

    def claim(self, *, worker: str, lease: timedelta, batch: int) -> Work | None:
        """Lease the most overdue stream; None when nothing is due."""
        now = self._clock()
        with self._db.transaction(write=True) as conn:
            claim = store.claim_stream(
                conn, worker=worker, now=now, lease_until=now + lease, batch=batch
            )
            if claim is None:
                return None
            self._load_rules(conn)
        rule = self._rules.get(claim.deliveries[0].rule_id) if claim.deliveries else None
        return Work(claim=claim, rule=rule)

    def result(
        self, work: Work, due: store.Due, outcome: Outcome, *, started_at: datetime
    ) -> store.Result:
        """Classify one attempt: delivered, retry later (with backoff), or dead letter."""
        attempt = due.attempts + 1
        if outcome.ok:
            status, when = store.DELIVERED, None
        else:
            assert work.rule is not None
            target = work.rule.targets[due.target_index]
            when = next_attempt(
                target,
                attempts=attempt - due.budget_from,
                queued_at=due.queued_at,
                now=self._clock(),
                jitter=self._jitter(),
            )
            status = store.PENDING if when is not None else store.DEAD
        return store.Result(
            delivery_id=due.id,
            attempt=attempt,
            started_at=started_at,
            ok=outcome.ok,
            status=status,
            status_code=outcome.status_code,
            error=outcome.error,
            latency_ms=outcome.latency_ms,
            next_attempt_at=when,
        )

    def record(self, work: Work, results: Sequence[store.Result], *, worker: str) -> None:
        """Store the attempts and release the stream (rescheduled at its next delivery)."""
        with self._db.transaction(write=True) as conn:
            store.record(conn, work.claim, results, worker=worker)

    def orphaned(self, work: Work, *, worker: str) -> None:
        """A leased stream whose rule is gone: cancel what it holds and release it."""
        now = self._clock()
        with self._db.transaction(write=True) as conn:
            if work.claim.deliveries:
                store.cancel_rule(conn, work.claim.deliveries[0].rule_id, now=now)
            else:
                store.release(conn, work.claim.stream, worker=worker)

    def next_due_at(self) -> datetime | None:
        with self._db.transaction(write=False) as conn:
            return store.next_due_at(conn)

    def prune(self, retention: timedelta) -> int:
        """Forget finished events older than ``retention``; returns how many."""
        with self._db.transaction(write=True) as conn:
            return store.prune(conn, before=self._clock() - retention)
