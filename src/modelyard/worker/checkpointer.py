"""Signing audit checkpoints on a timer, beside the server (``checkpoint_interval``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from modelyard.domain.audit import Checkpoint

log = logging.getLogger("modelyard.server")


class Checkpointer:
    """Calls ``checkpoint`` every ``interval`` seconds until stopped; a failed round is
    logged and the next one tries again."""

    def __init__(self, checkpoint: Callable[[], Checkpoint], interval: float) -> None:
        self._checkpoint = checkpoint
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._checkpoint()
            except Exception:  # keep signing later; a failed round is logged, not fatal
                log.exception("audit checkpoint failed")
