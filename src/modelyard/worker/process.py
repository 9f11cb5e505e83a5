"""Running the workers — event delivery and pipeline runs — from settings: until SIGINT /
SIGTERM (``modelyard worker``), or beside the HTTP server (embedded)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType

from modelyard.config import Settings
from modelyard.domain.sagemaker_events import to_sagemaker
from modelyard.domain.targets import parse_duration
from modelyard.registry import Registry
from modelyard.worker.loop import Worker
from modelyard.worker.runner import RunWorker
from modelyard.worker.scans import ScanWorker
from modelyard.worker.senders import Senders

log = logging.getLogger("modelyard.worker")


class Workers:
    """An event worker, a pipeline worker and a scan worker, started and stopped together."""

    def __init__(self, events: Worker, runs: RunWorker, scans: ScanWorker) -> None:
        self.events, self.runs, self.scans = events, runs, scans
        self.name = events.name
        self._stopped = threading.Event()

    def start(self) -> None:
        self.events.start()
        self.runs.engine.subscribe(self.runs.wake)
        self.runs.start()
        self.scans.queue.subscribe(self.scans.wake)
        self.scans.start()

    def request_stop(self) -> None:
        """Ask every thread to finish what it is doing and end (signal-safe)."""
        self._stopped.set()
        self.events.request_stop()
        self.runs.request_stop()
        self.scans.request_stop()

    def stop(self) -> None:
        self.request_stop()
        self.scans.stop()
        self.runs.stop()
        self.events.stop()

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stopped.wait(1.0):
                pass
        finally:
            self.stop()


def check_settings(settings: Settings) -> timedelta:
    """Fail fast on bad event settings; returns the retention period."""
    to_sagemaker({}, account=settings.sagemaker_account, region=settings.sagemaker_region)
    return parse_duration(settings.event_retention, field="event_retention")


def workers_for(registry: Registry, settings: Settings) -> Workers:
    retention = check_settings(settings)
    engine = registry.run_engine()
    events = Worker(
        registry.delivery_queue(),
        threads=settings.delivery_threads,
        retention=retention,
        senders=Senders(start_run=engine.start_triggered_run),
    )
    runs = RunWorker(
        engine,
        scratch=settings.resolved_cache_dir / "runs",
        threads=settings.run_threads,
        name=events.name,
    )
    scans = ScanWorker(registry.scan_queue(), threads=settings.scan_threads, name=events.name)
    return Workers(events, runs, scans)


@dataclass(frozen=True, slots=True)
class Done:
    deliveries: int
    stages: int
    scans: int = 0


def run_once(registry: Registry, settings: Settings) -> Done:
    """Scan queued versions, deliver what is due and run stages until every run waits or
    ends; then return."""
    workers = workers_for(registry, settings)
    deliveries = stages = scans = 0
    try:
        while True:
            scanned = workers.scans.step()
            sent, ran = workers.events.step(), workers.runs.step()
            deliveries, stages, scans = deliveries + sent, stages + ran, scans + scanned
            if not (scanned or sent or ran or workers.events.queue_has_due()):
                return Done(deliveries, stages, scans)
    finally:
        workers.events.close()


def run_worker(registry: Registry, settings: Settings) -> None:
    """Work until SIGINT or SIGTERM, then finish in-flight attempts and exit."""
    _log_to_stderr()
    workers = workers_for(registry, settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        workers.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"modelyard worker {workers.name}: delivering events "
        f"({settings.delivery_threads} threads), running pipelines "
        f"({settings.run_threads} threads) and scanning versions "
        f"({settings.scan_threads} threads); Ctrl-C stops",
        flush=True,
    )
    workers.run_forever()


def _log_to_stderr() -> None:
    for name in ("modelyard.worker", "modelyard.events"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
