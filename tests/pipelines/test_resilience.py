"""Edge cases of resuming and racing: a stage resumed after its side effect finished, a
stale outcome after cancel + retry, an approval stage resumed, and what the spec refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from modelyard.errors import ValidationError
from modelyard.services.release.engine import Outcome
from modelyard.store.sql.schema import pipeline_runs, run_stages
from tests.pipelines.conftest import Release

LEASE = timedelta(minutes=2)


def crash_during(release: Release, run_id: int, position: int) -> None:
    """Make the stage look like its worker died in it: running, lease expired."""
    with release.admin._ctx.db.transaction() as conn:
        conn.execute(
            update(run_stages)
            .where(run_stages.c.run_id == run_id, run_stages.c.position == position)
            .values(status="running", finished_at=None)
        )
        conn.execute(
            update(pipeline_runs)
            .where(pipeline_runs.c.id == run_id)
            .values(
                status="running",
                finished_at=None,
                next_run_at=release.clock.now - timedelta(seconds=1),  # due on its clock
                lease_until=None,
                active_key=f"release fraud/{release.run(run_id)['version']}",
            )
        )


def test_a_deploy_resumed_after_it_finished_is_not_done_again(release: Release) -> None:
    release.apply("name: release\nstages:\n  - {name: s, uses: deploy, environment: staging}\n")
    run = release.admin.start_run("release", release.register(auc=0.9))
    release.step()
    crash_during(release, run["id"], 0)  # died after the deployment, before recording it
    release.step()
    shown = release.run(run["id"])
    assert shown["status"] == "succeeded"
    assert shown["stages"][0]["attempts"] == 2
    assert len(release.admin.environment_history("fraud", "staging")) == 1


def test_deploying_what_the_environment_already_serves_succeeds(release: Release) -> None:
    release.apply("name: release\nstages:\n  - {name: s, uses: deploy, environment: staging}\n")
    ref = release.register(auc=0.9)
    release.admin.deploy(ref, to="staging")
    run = release.admin.start_run("release", ref)
    release.step()
    shown = release.run(run["id"])
    assert shown["status"] == "succeeded"
    assert shown["stages"][0]["outputs"]["status"] == "unchanged"


def test_a_stale_outcome_after_cancel_and_retry_is_dropped(release: Release) -> None:
    release.apply("name: release\nstages:\n  - {name: tell, uses: notify, type: custom.x}\n")
    run = release.admin.start_run("release", release.register(auc=0.9))
    engine = release.admin.run_engine()
    work = engine.claim(worker="slow", lease=LEASE)
    assert work is not None
    release.admin.cancel_run(run["id"])
    release.admin.retry_run(run["id"])
    engine.finish(work, Outcome(status="succeeded", outputs={"stale": True}))
    assert release.stages(run["id"]) == {"tell": "pending"}
    release.step()
    shown = release.run(run["id"])
    assert shown["status"] == "succeeded"
    assert "stale" not in shown["stages"][0]["outputs"]


def test_an_approval_stage_resumed_keeps_its_request(release: Release) -> None:
    release.apply(
        "name: release\nstages:\n"
        "  - {name: review, uses: approval, approvers: {role: approver, count: 1}}\n"
    )
    run = release.admin.start_run("release", release.register(auc=0.9))
    release.step()
    crash_during(release, run["id"], 0)
    release.step()
    [request] = release.admin.list_approvals(status=None)
    assert request["status"] == "pending"
    assert len(release.admin.list_events(type="approval.requested")) == 1
    release.bob.approve_request(request["id"], comment="ok")
    release.step()
    assert release.run(run["id"])["status"] == "succeeded"


def test_validate_finds_metric_keys_with_dots(release: Release) -> None:
    release.apply(
        "name: release\nstages:\n  - {name: v, uses: validate, require: [metrics.val.auc]}\n"
    )
    version = release.alice.register_version(
        "fraud", release.make_artifact(), metrics={"val.auc": 0.9}
    )
    run = release.admin.start_run("release", version.reference)
    release.step()
    assert release.run(run["id"])["status"] == "succeeded"


def test_trigger_rules_belong_to_their_pipelines(release: Release) -> None:
    release.apply(
        "name: release\ntrigger: {type: [version.created]}\nstages:\n  - {name: s, uses: scan}\n"
    )
    with pytest.raises(ValidationError, match="pipeline triggers"):
        release.admin.delete_rule("pipeline-release")
    with pytest.raises(ValidationError, match="pipeline triggers"):
        release.admin.create_rule("pipeline-x", {"type": ["a"]}, [{"type": "log"}])
    release.admin.disable_rule("pipeline-release")  # pausing a trigger is fine
    with pytest.raises(ValidationError, match="1-54"):
        release.apply(f"name: {'p' * 55}\nstages:\n  - {{name: s, uses: scan}}\n")
    with pytest.raises(ValidationError, match="not a placeholder"):
        release.apply(
            "name: release\nstages:\n  - name: d\n    uses: deploy\n    environment: staging\n"
            "    check: {url: 'http://127.0.0.1:9/{model}'}\n"
        )
