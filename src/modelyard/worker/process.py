"""Running a worker: from settings, until SIGINT/SIGTERM (``modelyard worker``), or beside
the HTTP server (``embedded``)."""

from __future__ import annotations

import logging
import signal
import sys
from datetime import timedelta
from types import FrameType

from modelyard.config import Settings
from modelyard.domain.sagemaker_events import to_sagemaker
from modelyard.domain.targets import parse_duration
from modelyard.registry import Registry
from modelyard.worker.loop import Worker

log = logging.getLogger("modelyard.worker")


def check_settings(settings: Settings) -> timedelta:
    """Fail fast on bad event settings; returns the retention period."""
    to_sagemaker({}, account=settings.sagemaker_account, region=settings.sagemaker_region)
    return parse_duration(settings.event_retention, field="event_retention")


def worker_for(registry: Registry, settings: Settings) -> Worker:
    retention = check_settings(settings)
    return Worker(registry.delivery_queue(), threads=settings.delivery_threads, retention=retention)


def run_worker(registry: Registry, settings: Settings) -> None:
    """Deliver until SIGINT or SIGTERM, then finish in-flight attempts and exit."""
    _log_to_stderr()
    worker = worker_for(registry, settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        worker.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"modelyard worker {worker.name}: delivering events "
        f"({settings.delivery_threads} threads); Ctrl-C stops",
        flush=True,
    )
    worker.run_forever()


def _log_to_stderr() -> None:
    for name in ("modelyard.worker", "modelyard.events"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
