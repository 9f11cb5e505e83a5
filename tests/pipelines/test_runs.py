"""Runs on a local store, stage by stage: gates, approvals (decisions, rejection, expiry),
deploys with health checks and automatic rollback, cancel, retry."""

from __future__ import annotations

import sys

import pytest

from modelyard.errors import ConflictError, PermissionDeniedError
from tests.pipelines.conftest import Release

PY = sys.executable

GATED = """
name: release
stages:
  - {name: quality, uses: gate, when: ["candidate.metrics.auc >= 0.85"]}
  - {name: review, uses: approval, approvers: {role: approver, count: 2}, timeout: 1d}
  - {name: staging, uses: deploy, environment: staging}
"""


def test_a_failing_gate_stops_the_run_with_the_condition_and_values(release: Release) -> None:
    release.apply(GATED)
    ref = release.register(auc=0.80)
    run = release.admin.start_run("release", ref)
    release.step()
    shown = release.run(run["id"])
    assert shown["status"] == "failed"
    quality = shown["stages"][0]
    assert quality["status"] == "failed"
    assert quality["outputs"]["condition"] == "candidate.metrics.auc >= 0.85"
    assert quality["outputs"]["values"] == {"candidate.metrics.auc": 0.8}
    assert "candidate.metrics.auc=0.8" in quality["error"]
    assert [s["status"] for s in shown["stages"][1:]] == ["pending", "pending"]
    assert release.admin.list_approvals() == []


def test_gates_read_the_scan_verdict_and_signatures(release: Release) -> None:
    """A pipeline can demand what release policies check, as a gate, before any approval."""
    from tests.signers import ec_keypair

    release.apply(
        """
        name: release
        stages:
          - name: proven
            uses: gate
            when: ['candidate.scan == "clean"', 'candidate.signature.valid',
                   '"release-bot" in candidate.signature.signed_by']
        """
    )
    ref = release.register(auc=0.9)  # scanned clean, registry-signed, not signed by the bot
    first = release.admin.start_run("release", ref)
    release.step()
    shown = release.run(first["id"])
    assert shown["status"] == "failed"
    assert shown["stages"][0]["outputs"]["values"] == {
        "candidate.scan": "clean",
        "candidate.signature.valid": True,
        "candidate.signature.signed_by": [],
    }
    private, public = ec_keypair(release.tmp, "release-bot")
    release.admin.add_trusted_key("fraud", "release-bot", public.read_text())
    release.alice.sign_version(ref, sign_with=private)
    second = release.admin.retry_run(first["id"])
    release.step()
    assert release.run(second["id"])["status"] == "succeeded"


def test_n_of_m_approvals_not_by_the_registrant(release: Release) -> None:
    release.apply(GATED)
    run = release.admin.start_run("release", release.register(auc=0.9))
    release.step()
    assert release.stages(run["id"])["review"] == "waiting"
    request = release.pending_request()
    assert (request["count"], request["role"], request["registrant"]) == (2, "approver", "alice")
    with pytest.raises(PermissionDeniedError, match="separation of duties"):
        release.alice.approve_request(request["id"], comment="mine is fine")
    assert [r["id"] for r in release.bob.list_approvals(mine=True)] == [request["id"]]
    assert release.alice.list_approvals(mine=True) == []
    release.bob.approve_request(request["id"], comment="lgtm")
    with pytest.raises(PermissionDeniedError, match="already decided"):
        release.bob.approve_request(request["id"])
    release.step()
    assert release.stages(run["id"])["review"] == "waiting"  # 1 of 2
    release.carol.approve_request(request["id"], comment="ship")
    release.step()
    shown = release.run(run["id"])
    assert shown["status"] == "succeeded"
    version = release.admin.get_version("fraud/1")
    assert version.approval_status.value == "Approved"
    [decision] = release.admin.approval_history("fraud/1")
    assert decision.actor == "bob, carol"
    assert "bob: lgtm" in decision.comment and "carol: ship" in decision.comment
    assert release.admin.get_version("fraud@staging").number == 1


def test_a_rejection_fails_the_run_and_rejects_the_version(release: Release) -> None:
    release.apply(GATED)
    run = release.admin.start_run("release", release.register(auc=0.9))
    release.step()
    request = release.pending_request()
    with pytest.raises(Exception, match="comment") as caught:
        release.bob.reject_request(request["id"], comment="")
    assert getattr(caught.value, "field", None) == "comment"
    release.bob.reject_request(request["id"], comment="drift on segment B")
    release.step()
    shown = release.run(run["id"])
    assert shown["status"] == "failed"
    assert "rejected by bob: drift on segment B" in shown["error"]
    assert release.admin.get_version("fraud/1").approval_status.value == "Rejected"
    assert release.stages(run["id"])["staging"] == "pending"


def test_an_expired_approval_rejects_the_version(release: Release) -> None:
    release.apply(GATED)
    run = release.admin.start_run("release", release.register(auc=0.9))
    release.step()
    request = release.pending_request()
    release.clock.advance(days=1, seconds=1)
    with pytest.raises(ConflictError, match="expired"):
        release.bob.approve_request(request["id"])
    release.step()
    shown = release.run(run["id"])
    assert shown["status"] == "failed" and "expired" in shown["error"]
    assert release.admin.get_version("fraud/1").approval_status.value == "Rejected"
    assert release.admin.list_approvals(status="expired")[0]["id"] == request["id"]


def test_a_failing_health_check_rolls_the_environment_back(release: Release) -> None:
    check = release.tmp / "smoke.py"
    check.write_text("import sys\nsys.exit(0 if sys.argv[1].endswith('/1') else 3)\n")
    release.apply(
        f"""
        name: release
        stages:
          - name: staging
            uses: deploy
            environment: staging
            check: {{run: "{PY} {check} {{reference}}"}}
        """
    )
    first = release.admin.start_run("release", release.register(auc=0.9))
    release.step()
    assert release.run(first["id"])["status"] == "succeeded"
    second = release.admin.start_run("release", release.register(auc=0.95))
    release.step()
    shown = release.run(second["id"])
    assert shown["status"] == "failed"
    assert "health check failed: exit code 3; rolled staging back to version 1" in shown["error"]
    assert release.admin.get_version("fraud@staging").number == 1
    history = release.admin.environment_history("fraud", "staging")
    assert [(d["version"], d["status"]) for d in history] == [
        (2, "rolled_back"),
        (1, "succeeded"),
    ]
    types = [e["type"] for e in release.admin.list_events(group="fraud", limit=50)]
    assert "deployment.rolled_back" in types


def test_one_active_run_per_version_and_cancel_and_retry(release: Release) -> None:
    release.apply(GATED)
    ref = release.register(auc=0.9)
    run = release.admin.start_run("release", ref)
    with pytest.raises(ConflictError, match="still active"):
        release.admin.start_run("release", ref)
    release.step()
    cancelled = release.admin.cancel_run(run["id"], reason="wrong model")
    assert cancelled["status"] == "cancelled"
    assert release.admin.list_approvals(status="cancelled")[0]["run_id"] == run["id"]
    with pytest.raises(ConflictError, match="already cancelled"):
        release.admin.cancel_run(run["id"])
    retried = release.admin.retry_run(run["id"], from_stage="quality")
    assert [s["status"] for s in retried["stages"]] == ["pending"] * 3
    release.step()
    assert release.stages(run["id"]) == {
        "quality": "succeeded",
        "review": "waiting",
        "staging": "pending",
    }


def test_commands_write_metrics_gates_read(release: Release) -> None:
    script = release.tmp / "evaluate.py"
    script.write_text(
        "import json, pathlib, sys\n"
        "files = sorted(p.name for p in pathlib.Path(sys.argv[1]).iterdir())\n"
        "print('files:', files)\n"
        "json.dump({'latency_ms': 12.5}, open(sys.argv[2], 'w'))\n"
    )
    release.apply(
        f"""
        name: release
        stages:
          - {{name: evaluate, uses: command, run: "{PY} {script} {{artifact_dir}} {{metrics_out}}"}}
          - {{name: fast, uses: gate, when: ["run.metrics.latency_ms < 10.0"]}}
        """
    )
    run = release.admin.start_run("release", release.register(auc=0.9))
    release.step()
    shown = release.run(run["id"])
    assert shown["stages"][0]["outputs"]["metrics"] == {"latency_ms": 12.5}
    assert shown["stages"][1]["outputs"]["values"] == {"run.metrics.latency_ms": 12.5}
    assert shown["status"] == "failed"
    lines = [line["line"] for line in release.admin.run_logs(run["id"])]
    assert "files: ['m.json']" in lines


def test_a_command_that_times_out_fails(release: Release) -> None:
    release.apply(
        f"""
        name: release
        stages:
          - {{name: slow, uses: command, run: "{PY} -c 'import time; time.sleep(30)'", timeout: 1s}}
        """
    )
    run = release.admin.start_run("release", release.register(auc=0.9))
    release.step()
    shown = release.run(run["id"])
    assert shown["status"] == "failed" and "timed out after 1 s" in shown["error"]


def test_notify_emits_a_custom_event(release: Release) -> None:
    release.apply(
        """
        name: release
        stages:
          - {name: tell, uses: notify, type: custom.release_ready, message: "{reference} ready"}
        """
    )
    release.admin.start_run("release", release.register(auc=0.9))
    release.step()
    [event] = release.admin.list_events(type="custom.release_ready")
    assert event["data"]["message"] == "fraud/1 ready"
    assert event["data"]["pipeline"] == "release"


def test_validate_requires_fields_and_runs_custom_checks(release: Release) -> None:
    release.apply(
        """
        name: release
        stages:
          - name: validate
            uses: validate
            require: [metrics.auc, lineage.code.commit]
        """
    )
    run = release.admin.start_run("release", release.register(auc=0.9))
    release.step()
    shown = release.run(run["id"])
    assert shown["stages"][0]["error"] == "missing: lineage.code.commit"
    release.apply(
        """
        name: release
        stages:
          - name: validate
            uses: validate
            require: [metrics.auc]
            checks: ["candidate.metrics.auc > 0.95"]
        """
    )
    run = release.admin.start_run("release", release.register(auc=0.91))
    release.step()
    stage = release.run(run["id"])["stages"][0]
    assert stage["error"] == "check failed: candidate.metrics.auc > 0.95"
    assert stage["outputs"]["values"] == {"candidate.metrics.auc": 0.91}


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("echo pwned",))


def test_the_scan_stage_fails_a_dangerous_pickle_and_passes_safe_files(release: Release) -> None:
    import pickle
    import struct

    release.apply("name: release\nstages:\n  - {name: scan, uses: scan}\n")
    evil = release.alice.register_version(
        "fraud",
        release.make_artifact({"model.pkl": pickle.dumps(_Evil()), "README.md": b"# model\n"}),
    )
    run = release.admin.start_run("release", evil.reference)
    release.step()
    stage = release.run(run["id"])["stages"][0]
    assert stage["status"] == "failed"
    assert stage["error"].startswith("unsafe: model.pkl: posix.system (dangerous)")
    assert stage["outputs"]["verdict"] == "unsafe"

    header = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    safetensors = struct.pack("<Q", len(header)) + header + b"\x00" * 8
    safe = release.alice.register_version(
        "fraud",
        release.make_artifact(
            {"model.safetensors": safetensors, "params.pkl": pickle.dumps({"lr": 0.1})}
        ),
    )
    run = release.admin.start_run("release", safe.reference)
    release.step()
    stage = release.run(run["id"])["stages"][0]
    assert stage["status"] == "succeeded"
    assert stage["outputs"]["verdict"] == "clean"
    statuses = {f["path"]: f["status"] for f in stage["outputs"]["files"]}
    assert statuses == {"model.safetensors": "data_only", "params.pkl": "clean"}
