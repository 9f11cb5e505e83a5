"""A worker SIGKILLed mid-stage: another worker finishes the run, and a stage declared
non-idempotent never runs its side effect twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from modelyard import Registry
from modelyard.store.sql.schema import pipeline_runs
from modelyard.worker.runner import RunWorker
from tests.conftest import MakeArtifact

SIDE_EFFECT = """\
import os, pathlib, sys, time
here = pathlib.Path(sys.argv[1])
with open(here / "effects.txt", "a") as out:
    out.write(f"{os.getpid()}\\n")
while (here / "block").exists():
    time.sleep(0.05)
"""


@pytest.mark.slow
@pytest.mark.parametrize("idempotent", [False, True])
def test_a_killed_worker_is_replaced(
    db_url: str, tmp_path: Path, make_artifact: MakeArtifact, idempotent: bool
) -> None:
    home, blobs = tmp_path / "home", f"file://{tmp_path / 'blobs'}"
    (tmp_path / "effect.py").write_text(SIDE_EFFECT)
    (tmp_path / "block").touch()
    registry = Registry.open(home, db_url=db_url, blobs_url=blobs)
    registry.apply_pipeline(
        textwrap.dedent(
            f"""
            name: release
            stages:
              - name: side-effect
                uses: command
                run: "{sys.executable} {tmp_path / "effect.py"} {tmp_path}"
                idempotent: {str(idempotent).lower()}
              - {{name: after, uses: notify, type: custom.done}}
            """
        )
    )
    registry.create_group("g")
    registry.register_version("g", make_artifact())
    run = registry.start_run("release", "g/1")
    env = {**os.environ, "MODELYARD_HOME": str(home), "MODELYARD_DB_URL": db_url}
    env["MODELYARD_BLOBS_URL"] = blobs
    worker = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    effects = tmp_path / "effects.txt"
    deadline = time.monotonic() + 60
    while not effects.exists():
        assert worker.poll() is None, "the worker exited"
        assert time.monotonic() < deadline, "the stage never started"
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    os.kill(int(effects.read_text().split()[0]), signal.SIGKILL)  # its orphaned command
    (tmp_path / "block").unlink()
    assert registry.get_run(run["id"])["stages"][0]["status"] == "running"

    with registry._ctx.db.transaction() as conn:  # the dead worker's lease runs out
        conn.execute(
            update(pipeline_runs).values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    successor = RunWorker(registry.run_engine(), scratch=tmp_path / "scratch")
    successor.step()
    shown = registry.get_run(run["id"])
    runs_of_side_effect = len(effects.read_text().split())
    if idempotent:
        assert shown["status"] == "succeeded"
        assert shown["stages"][0]["attempts"] == 2
        assert runs_of_side_effect == 2  # declared safe to repeat: it was
    else:
        assert shown["status"] == "failed"
        assert "not idempotent" in shown["stages"][0]["error"]
        assert runs_of_side_effect == 1  # never twice
        assert shown["stages"][1]["status"] == "pending"
    registry.close()
