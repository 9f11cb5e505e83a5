"""The scan worker: lease queued version scans, scan the files from the blob store, record the
verdict (``scan.completed``). Runs inside ``modelyard server`` and ``modelyard worker`` next to
the event and pipeline workers; woken by commits that wrote an event (a registration, a rescan
request), and polling besides (other processes' commits on SQLite).

Leases, the heartbeat and redoing a dead worker's scan are ``services/scan_queue.py``'s."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from modelyard.services.scan_queue import DEFAULT_SCAN_LEASE, ScanQueue
from modelyard.worker.loop import DEFAULT_POLL_S, worker_name

log = logging.getLogger("modelyard.worker")


class ScanWorker:
    def __init__(
        self,
        queue: ScanQueue,
        *,
        threads: int = 1,
        poll_interval: float = DEFAULT_POLL_S,
        lease: timedelta = DEFAULT_SCAN_LEASE,
        name: str | None = None,
    ) -> None:
        self.queue = queue
        self.name = name or worker_name()
        self._threads_wanted = threads
        self._poll = poll_interval
        self._lease = lease
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def step(self) -> int:
        """Scan until no scan is left to lease; returns how many were recorded."""
        done = 0
        while (work := self.queue.claim(worker=self.name, lease=self._lease)) is not None:
            if self.queue.execute(work, worker=self.name, lease=self._lease) is not None:
                done += 1
        return done

    # --- threaded ----------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._loop, name=f"scanner-{i}", daemon=True)
            for i in range(self._threads_wanted)
        ]
        for thread in self._threads:
            thread.start()

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        for thread in self._threads:
            thread.join(timeout=timeout)

    def _loop(self) -> None:
        busy = False  # after a scan there is likely more: claim without the check read
        while not self._stop.is_set():
            try:
                if busy or self.queue.has_work():
                    work = self.queue.claim(worker=self.name, lease=self._lease)
                    busy = work is not None
                    if work is not None:
                        self.queue.execute(work, worker=self.name, lease=self._lease)
                        continue
            except Exception:
                log.exception("scanning versions failed; retrying")
                busy = False
                self._stop.wait(1.0)
            self._wake.wait(self._poll)
            self._wake.clear()
