"""The pipeline worker: lease due runs, run their current stage's action, record the
outcome. Runs inside ``modelyard server`` and ``modelyard worker`` next to the event worker.

While a stage runs, a heartbeat renews the run's lease; a worker that dies stops renewing,
and after the lease another worker resumes the run (see ``services/release/engine.py``)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

from modelyard.errors import ModelyardError
from modelyard.services.release.engine import Outcome, RunEngine, StageWork
from modelyard.worker.actions import ACTIONS
from modelyard.worker.actions.base import StageContext
from modelyard.worker.loop import DEFAULT_POLL_S
from modelyard.worker.polling import PollingWorker

log = logging.getLogger("modelyard.worker")

DEFAULT_RUN_LEASE = timedelta(minutes=2)


class RunWorker(PollingWorker):
    thread_prefix = "pipeline-runner"
    failure = "running pipeline stages failed; retrying"

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
        super().__init__(threads=threads, poll_interval=poll_interval, lease=lease, name=name)
        self.engine = engine
        self._scratch = scratch

    def step(self) -> int:
        """Run due stages until none is due; returns how many stage attempts ran."""
        ran = 0
        while self._run_one():
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

    def _has_work(self) -> bool:
        due = self.engine.next_due_at()
        return due is not None and due <= self.engine.now()

    def _run_one(self) -> bool:
        work = self.engine.claim(worker=self.name, lease=self._lease)
        if work is None:
            return False
        self.execute(work)
        return True
