"""What the pipeline and scan workers share: a few threads that lease work, run it, and
sleep until woken (a commit in this process) or until the poll interval passes (commits of
other processes on SQLite)."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from modelyard.worker.loop import worker_name

log = logging.getLogger("modelyard.worker")


class PollingWorker:
    #: thread names are PREFIX-0, PREFIX-1 …; FAILURE is logged when a round raises
    thread_prefix = "worker"
    failure = "working failed; retrying"

    def __init__(
        self, *, threads: int, poll_interval: float, lease: timedelta, name: str | None
    ) -> None:
        self.name = name or worker_name()
        self._threads_wanted = threads
        self._poll = poll_interval
        self._lease = lease
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def _has_work(self) -> bool:
        """A cheap check whether leasing is worth trying."""
        raise NotImplementedError

    def _run_one(self) -> bool:
        """Lease one piece of work and do it; False when there was none."""
        raise NotImplementedError

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._loop, name=f"{self.thread_prefix}-{i}", daemon=True)
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
        busy = False  # after a piece of work there is likely more: lease without the check
        while not self._stop.is_set():
            try:
                if busy or self._has_work():
                    busy = self._run_one()
                    if busy:
                        continue
            except Exception:
                log.exception(self.failure)
                busy = False
                self._stop.wait(1.0)
            self._wake.wait(self._poll)
            self._wake.clear()
