"""`modelyard pipeline …`, `run …`, `approvals …` as a user types them."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from tests.cli.conftest import Run
from tests.pipelines.test_definitions import GOOD


def test_the_cli_applies_shows_and_refuses(run: Run, tmp_path: Path) -> None:
    good = tmp_path / "release.yaml"
    good.write_text(GOOD)
    assert "applied pipeline release: revision 1" in run("pipeline", "apply", str(good)).output
    assert "unchanged (revision 1)" in run("pipeline", "apply", str(good)).output
    assert GOOD.strip() in run("pipeline", "show", "release").output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: release\nstages:\n  - {name: a, uses: teleport}\n")
    failed = run("pipeline", "apply", str(bad), code=2)
    assert "line 3: stages[0].uses: 'teleport' is not an action" in failed.stderr
    run("pipeline", "show", "release", "--revision", "2", code=3)
    assert "no differences" in run("pipeline", "diff", "release", "--from", "1").output


def test_the_default_pipeline_runs_end_to_end(run: Run, tmp_path: Path) -> None:
    assert "created the default pipeline release" in run("init").output
    assert "created the default pipeline" not in run("init").output  # only once
    artifact = tmp_path / "model"
    artifact.mkdir()
    (artifact / "model.pkl").write_bytes(pickle.dumps({"weights": [0.5]}))  # scans clean
    run("group", "create", "fraud-detector")
    run("version", "register", "fraud-detector", str(artifact), "--metric", "auc=0.91")
    assert (
        "started run 1 of release" in run("pipeline", "run", "release", "fraud-detector/1").output
    )
    run("pipeline", "run", "release", "fraud-detector/1", code=5)  # one active run per version
    assert "ran 4 stage attempt(s)" in run("worker", "--once").output
    run("principal", "create", "reviewer")
    run("access", "grant", "reviewer", "approver")
    run("approvals", "approve", "1", code=4)  # the registrant may not approve
    mine = json.loads(run("approvals", "list", "--mine", "--json", actor="reviewer").output)
    assert [a["id"] for a in mine] == [1]
    run("approvals", "approve", "1", "--comment", "ok", actor="reviewer")
    run("worker", "--once")
    run("approvals", "reject", "2", code=2, actor="reviewer")  # a comment is required
    run("approvals", "approve", "2", "--comment", "ship", actor="reviewer")
    run("worker", "--once")
    shown = json.loads(run("run", "show", "1", "--json").output)
    assert shown["status"] == "succeeded"
    assert "succeeded" in run("env", "history", "fraud-detector", "production").output
    logs = run("run", "logs", "1").output
    assert "[quality] gate passed" in logs and "[production] deployment #2 succeeded" in logs
    assert "release r1" in run("run", "list").output
    run("run", "cancel", "1", code=5)  # already finished
