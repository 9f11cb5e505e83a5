"""The delivery worker: routes new events to rules, then delivers them, stream by stream.

One *router* thread turns committed outbox events into deliveries (one worker routes at
a time, so deliveries are created in event order); ``threads`` *sender* threads each
lease one stream (rule, target, group), deliver its due deliveries in event order,
record every attempt, and release it. A failed attempt stops its stream until the retry
is due (backoff with jitter), so a receiver never sees a group's events out of order;
other streams go on. Runs inside ``modelyard server`` and as ``modelyard worker``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from modelyard.domain.delivery import Message
from modelyard.services.events.delivery_queue import DeliveryQueue, Work
from modelyard.store.sql.deliveries import PENDING
from modelyard.worker.senders import Senders

log = logging.getLogger("modelyard.worker")

DEFAULT_LEASE = timedelta(minutes=2)
DEFAULT_BATCH = 100
DEFAULT_POLL_S = 0.25  # other processes' events are noticed this fast (own: at once)
PRUNE_EVERY_S = 600.0
ROUTE_EVERY_S = 0.005  # at most one routing pass per 5 ms while events keep coming


def worker_name() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        queue: DeliveryQueue,
        *,
        threads: int = 4,
        retention: timedelta = timedelta(days=30),
        poll_interval: float = DEFAULT_POLL_S,
        lease: timedelta = DEFAULT_LEASE,
        batch: int = DEFAULT_BATCH,
        senders: Senders | None = None,
        name: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue = queue
        self.name = name or worker_name()
        self._threads_wanted = threads
        self._retention = retention
        self._poll = poll_interval
        self._lease = lease
        self._batch = batch
        self._senders = senders or Senders()
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._new_events = threading.Event()
        self._due = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_prune = float("-inf")

    # --- synchronous (tests, tools) ------------------------------------------------------

    def step(self) -> int:
        """Route every pending event, then give every due stream one pass; returns the
        number of attempts made. Does not wait for retries that are not yet due."""
        while self.queue.route(worker=self.name):
            pass
        attempts = 0
        while work := self.queue.claim(worker=self.name, lease=self._lease, batch=self._batch):
            attempts += self.process(work)
        return attempts

    def process(self, work: Work) -> int:
        """Deliver a leased stream's due deliveries in order; stop at the first failure."""
        if work.rule is None:
            self.queue.orphaned(work, worker=self.name)
            return 0
        deadline = self._monotonic() + self._lease.total_seconds() / 2
        results = []
        for due in work.claim.deliveries:
            if due.next_attempt_at > self.queue.now() or self._monotonic() > deadline:
                break
            target = work.rule.targets[due.target_index]
            data = due.payload.get("data") or {}
            message = Message(
                event_id=due.event_id,
                event_type=str(due.payload.get("type", "")),
                group=str(data.get("group") or ""),
                body=work.body(due, self.queue.identity),
            )
            started_at = self.queue.now()
            outcome = self._senders.send(target, message)
            result = self.queue.result(work, due, outcome, started_at=started_at)
            results.append(result)
            if result.status == PENDING:
                break  # retry later; nothing after it in this stream goes first
        self.queue.record(work, results, worker=self.name)
        return len(results)

    # --- threaded ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the router and sender threads (daemons); ``stop()`` ends them."""
        self.queue.subscribe(self._new_events.set)
        router = threading.Thread(target=self._route_loop, name="events-router", daemon=True)
        self._threads = [router] + [
            threading.Thread(target=self._send_loop, name=f"events-sender-{i}", daemon=True)
            for i in range(self._threads_wanted)
        ]
        for thread in self._threads:
            thread.start()
        log.info("event worker %s started (%d sender threads)", self.name, self._threads_wanted)

    def request_stop(self) -> None:
        """Ask the threads to finish their current attempt and end (signal-safe)."""
        self._stop.set()
        self._new_events.set()
        self._due.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        for thread in self._threads:
            thread.join(timeout=timeout)
        self.close()

    def close(self) -> None:
        """Close the senders' connections (``stop`` does this for a started worker)."""
        self._senders.close()

    def run_forever(self) -> None:
        """``modelyard worker``: start, then block until stopped (SIGINT/SIGTERM)."""
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def _route_loop(self) -> None:
        while not self._stop.is_set():
            try:
                began = self._monotonic()
                routed = self.queue.route(worker=self.name)
                if routed:
                    if routed.deliveries:  # senders have work only when rules matched
                        self._due.set()
                    # under a stream of commits, let events gather for a few ms rather
                    # than paying two transactions per event (latency stays ~ms)
                    self._stop.wait(max(0.0, ROUTE_EVERY_S - (self._monotonic() - began)))
                    continue
                self._maybe_prune()
                if self.queue_has_due():
                    self._due.set()
            except Exception:
                log.exception("routing events failed; retrying")
                self._stop.wait(1.0)
            self._new_events.wait(self._poll)
            self._new_events.clear()

    def queue_has_due(self) -> bool:
        due = self.queue.next_due_at()
        return due is not None and due <= self.queue.now()

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            try:
                work = None
                if self.queue_has_due():
                    work = self.queue.claim(worker=self.name, lease=self._lease, batch=self._batch)
                if work is not None:
                    self.process(work)
                    continue
            except Exception:
                log.exception("delivering events failed; retrying")
                self._stop.wait(1.0)
            self._due.wait(self._poll)
            self._due.clear()

    def _maybe_prune(self) -> None:
        if self._monotonic() - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = self._monotonic()
        pruned = self.queue.prune(self._retention)
        if pruned:
            log.info("pruned %d events older than the retention period", pruned)
