"""Two runs deploying to one environment at the same time: one wins, the other gets a
conflict, and the environment is never torn (one alias, one finished deployment)."""

from __future__ import annotations

import sys
import time

from modelyard.worker.runner import RunWorker
from tests.pipelines.conftest import Release


def test_concurrent_deploys_to_one_environment(release: Release) -> None:
    gate = release.tmp / "hold"
    gate.touch()
    check = release.tmp / "check.py"
    check.write_text(
        "import pathlib, sys, time\n"
        "while pathlib.Path(sys.argv[1]).exists():\n"
        "    time.sleep(0.05)\n"
    )
    release.apply(
        f"""
        name: release
        stages:
          - name: staging
            uses: deploy
            environment: staging
            check: {{run: "{sys.executable} {check} {gate}"}}
        """
    )
    runs = [release.admin.start_run("release", release.register(auc=a)) for a in (0.9, 0.95)]
    worker = RunWorker(release.admin.run_engine(), scratch=release.tmp / "scratch", threads=2)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while not any(release.run(r["id"])["status"] == "failed" for r in runs):
            assert time.monotonic() < deadline, "the second deploy never conflicted"
            time.sleep(0.05)
        gate.unlink()
        while not all(release.run(r["id"])["status"] in ("succeeded", "failed") for r in runs):
            assert time.monotonic() < deadline, "the first deploy never finished"
            time.sleep(0.05)
    finally:
        worker.stop()
    shown = {r["id"]: release.run(r["id"]) for r in runs}
    winner = next(r for r in shown.values() if r["status"] == "succeeded")
    loser = next(r for r in shown.values() if r["status"] == "failed")
    assert "still in progress; one deployment per environment at a time" in loser["error"]
    assert release.admin.get_version("fraud@staging").number == winner["version"]
    history = release.admin.environment_history("fraud", "staging")
    assert [(d["version"], d["status"]) for d in history] == [(winner["version"], "succeeded")]
