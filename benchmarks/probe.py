"""A paced ``GET /healthz`` prober on its own thread and keep-alive connection.

Latency counts from each probe's *scheduled* send time, and the slots that pass while a
probe is in flight are counted as probes that would have waited for the same response
(HdrHistogram's correction for coordinated omission): a server stalled for 5 s shows up as
hundreds of slow probes, not as one slow probe among thousands of fast ones.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass(slots=True)
class Probes:
    """Samples as (scheduled monotonic time, latency in seconds)."""

    raw: list[tuple[float, float]] = field(default_factory=list)  # one per request sent
    corrected: list[tuple[float, float]] = field(default_factory=list)  # + the missed slots
    failures: int = 0

    def window(self, start: float, end: float, *, corrected: bool = True) -> list[float]:
        """Latencies of the probes scheduled in ``[start, end]``."""
        samples = self.corrected if corrected else self.raw
        return [latency for at, latency in samples if start <= at <= end]


class Prober:
    """``with Prober(url, interval) as p:`` probes ``url`` every ``interval`` seconds until
    the block ends; ``p.probes`` holds the samples."""

    def __init__(self, url: str, interval: float) -> None:
        self._url = url
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="healthz-prober", daemon=True)
        self.probes = Probes()

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = self._interval
        with httpx.Client(timeout=120.0, trust_env=False) as http:
            next_at = time.monotonic()
            while not self._stop.is_set():
                wait = next_at - time.monotonic()
                if wait > 0:
                    self._stop.wait(wait)
                    continue
                scheduled = next_at
                try:
                    ok = http.get(self._url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                done = time.monotonic()
                if not ok:
                    self.probes.failures += 1
                self._record(scheduled, done)
                next_at = scheduled + interval
                while next_at <= done - interval:  # slots missed by at least one interval
                    self.probes.corrected.append((next_at, done - next_at))
                    next_at += interval

    def _record(self, scheduled: float, done: float) -> None:
        self.probes.raw.append((scheduled, done - scheduled))
        self.probes.corrected.append((scheduled, done - scheduled))
