"""The pipeline worker: lease due runs, run their current stage's action, record the
outcome. Runs inside ``modelyard server`` and ``modelyard worker`` next to the event worker.

While a stage runs, a heartbeat renews the run's lease; a worker that dies stops renewing,
and after the lease another worker resumes the run (see ``services/run_engine.py``)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

from modelyard.errors import ModelyardError
from modelyard.services.run_engine import Outcome, RunEngine, StageWork
from modelyard.worker.actions import ACTIONS
from modelyard.worker.actions.base import StageContext
from modelyard.worker.loop import DEFAULT_POLL_S, worker_name

log = logging.getLogger("modelyard.worker")

DEFAULT_RUN_LEASE = timedelta(minutes=2)


class RunWorker:
    def __init__(
        self,
        engine: RunEngine,
        *,
        scratch: Path,
        threads: int = 2,
        poll_interval: float = DEFAULT_POLL_S,
        lease: timedelta = DEFAULT_RUN_LEASE,
        name: str | None = None,
    ) -> None:
        self.engine = engine
        self.name = name or worker_name()
        self._scratch = scratch
        self._threads_wanted = threads
        self._poll = poll_interval
        self._lease = lease
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def step(self) -> int:
        """Run due stages until none is due; returns how many stage attempts ran."""
        ran = 0
        while (work := self.engine.claim(worker=self.name, lease=self._lease)) is not None:
            self.execute(work)
            ran += 1
        return ran

    def execute(self, work: StageWork) -> None:
        action = ACTIONS[work.stage["uses"]]
        if work.resumed and not action.idempotent(work.stage):
            outcome = Outcome(
                status="failed",
                error="interrupted: a worker stopped during this stage, which is not "
                "idempotent (idempotent: false), so it is not run again; retry the run "
                "to run it anyway",
            )
            self.engine.finish(work, outcome)
            return
        self._scratch.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"run-{work.run['id']}-", dir=self._scratch))
        ctx = StageContext(engine=self.engine, work=work, workdir=workdir)
        heartbeat = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(work, heartbeat), daemon=True)
        beat.start()
        try:
            outcome = action.run(ctx)
        except ModelyardError as e:
            outcome = Outcome(status="failed", error=str(e))
        except Exception as e:  # an action bug fails the stage, not the worker
            log.exception("stage %s of run %s crashed", work.stage["name"], work.run["id"])
            outcome = Outcome(status="failed", error=f"internal error: {type(e).__name__}: {e}")
        finally:
            heartbeat.set()
            beat.join()
            shutil.rmtree(workdir, ignore_errors=True)
        self.engine.finish(work, outcome, logs=ctx.take_lines())  # one transaction for both

    def _heartbeat(self, work: StageWork, done: threading.Event) -> None:
        while not done.wait(self._lease.total_seconds() / 3):
            try:
                self.engine.renew(work, worker=self.name, lease=self._lease)
            except Exception:
                log.exception("renewing the lease of run %s failed", work.run["id"])

    # --- threaded ----------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._loop, name=f"pipeline-runner-{i}", daemon=True)
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
        busy = False  # after a stage there is likely more: claim without the due-check read
        while not self._stop.is_set():
            try:
                due = None if busy else self.engine.next_due_at()
                if busy or (due is not None and due <= self.engine.now()):
                    work = self.engine.claim(worker=self.name, lease=self._lease)
                    busy = work is not None
                    if work is not None:
                        self.execute(work)
                        continue
            except Exception:
                log.exception("running pipeline stages failed; retrying")
                self._stop.wait(1.0)
            self._wake.wait(self._poll)
            self._wake.clear()
