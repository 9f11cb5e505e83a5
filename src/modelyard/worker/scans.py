"""The scan worker: lease queued version scans, scan the files from the blob store, record the
verdict (``scan.completed``). Runs inside ``modelyard server`` and ``modelyard worker`` next to
the event and pipeline workers; woken by commits that wrote an event (a registration, a rescan
request), and polling besides (other processes' commits on SQLite).

Leases, the heartbeat and redoing a dead worker's scan are ``services/security/scan_queue.py``'s."""

from __future__ import annotations

from datetime import timedelta

from modelyard.services.security.scan_queue import DEFAULT_SCAN_LEASE, ScanQueue
from modelyard.worker.loop import DEFAULT_POLL_S
from modelyard.worker.polling import PollingWorker


class ScanWorker(PollingWorker):
    thread_prefix = "scanner"
    failure = "scanning versions failed; retrying"

    def __init__(
        self,
        queue: ScanQueue,
        *,
        threads: int = 1,
        poll_interval: float = DEFAULT_POLL_S,
        lease: timedelta = DEFAULT_SCAN_LEASE,
        name: str | None = None,
    ) -> None:
        super().__init__(threads=threads, poll_interval=poll_interval, lease=lease, name=name)
        self.queue = queue

    def step(self) -> int:
        """Scan until no scan is left to lease; returns how many were recorded."""
        done = 0
        while (work := self.queue.claim(worker=self.name, lease=self._lease)) is not None:
            if self.queue.execute(work, worker=self.name, lease=self._lease) is not None:
                done += 1
        return done

    def _has_work(self) -> bool:
        return self.queue.has_work()

    def _run_one(self) -> bool:
        work = self.queue.claim(worker=self.name, lease=self._lease)
        if work is None:
            return False
        self.queue.execute(work, worker=self.name, lease=self._lease)
        return True
