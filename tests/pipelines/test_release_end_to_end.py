"""The whole release path on a real server with its embedded workers: register → the
pipeline starts on the event → gates pass → approval pending → the registrant's own
approval is refused → another user approves → staging (health-checked) → production
approval → production; the audit log and the event history tell the story in order."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard import Client, Registry
from modelyard.errors import PermissionDeniedError
from tests.conftest import MakeArtifact
from tests.server import running_server

PIPELINE = f"""
name: release
trigger: {{type: [version.created], data: {{group: [{{prefix: fraud-}}]}}}}
stages:
  - {{name: validate, uses: validate, require: [metrics.auc]}}
  - {{name: quality, uses: gate, when: ["candidate.metrics.auc >= 0.85"]}}
  - {{name: review, uses: approval, approvers: {{role: approver, count: 1}}}}
  - name: staging
    uses: deploy
    environment: staging
    check: {{run: "{sys.executable} -c 'print(\\"healthy\\")'"}}
  - {{name: go-live, uses: approval, approvers: {{role: approver, count: 1, principals: [carol]}}}}
  - {{name: production, uses: deploy, environment: production}}
"""


def wait_for(what: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[Registry, Callable[[str], Client]]]:
    registry = Registry.open(
        tmp_path / "home", db_url=db_url, blobs_url=f"file://{tmp_path / 'blobs'}"
    )
    for name, role in (("alice", "contributor"), ("bob", "approver"), ("carol", "approver")):
        registry.create_principal(name)
        registry.grant(name, role, groups="fraud-*")
    registry.create_group("fraud-detector")
    clients: list[Client] = []
    with running_server(registry) as url:

        def client(name: str) -> Client:
            token = registry.create_token(name, expires="1d").secret
            made = Client(url, token, cache_dir=tmp_path / f"cache-{name}")
            clients.append(made)
            return made

        yield registry, client
        for made in clients:
            made.close()
    registry.close()


@pytest.mark.slow
def test_register_to_production(
    server: tuple[Registry, Callable[[str], Client]], make_artifact: MakeArtifact
) -> None:
    registry, client = server
    admin, alice, bob, carol = (client(n) for n in ("local", "alice", "bob", "carol"))
    assert admin.apply_pipeline(PIPELINE)["changed"]

    model = {"model.json": b'{"weights": [0.1]}'}  # clean: production's policy needs that
    alice.register_version("fraud-detector", make_artifact(model), metrics={"auc": 0.91})
    review = wait_for(lambda: bob.list_approvals(mine=True))[0]
    [run] = admin.list_runs(pipeline="release")
    assert run["trigger"].startswith("event ")
    with pytest.raises(PermissionDeniedError, match="separation of duties"):
        alice.approve_request(review["id"], comment="I checked it myself")
    bob.approve_request(review["id"], comment="offline eval looks right")

    go_live = wait_for(lambda: carol.list_approvals(mine=True))[0]
    assert bob.list_approvals(mine=True) == []  # only carol may sign off go-live
    assert admin.get_version("fraud-detector@staging").number == 1
    carol.approve_request(go_live["id"], comment="ship it")

    done = wait_for(lambda: (r := admin.get_run(run["id"]))["status"] == "succeeded" and r)
    assert [s["status"] for s in done["stages"]] == ["succeeded"] * 6
    version = admin.get_version("fraud-detector@production")
    assert version.number == 1 and version.approval_status.value == "Approved"
    logs = [line["line"] for line in admin.run_logs(run["id"])]
    assert "[check] healthy" in logs

    entries = reversed(registry.audit_log(group="fraud-detector", limit=200))
    actions = [e.action for e in entries if e.outcome == "allowed"]
    story = [
        "version.create",
        "pipeline.run",
        "approval.request",
        "approval.decide",
        "deployment.start",
        "alias.set",
        "deployment.finish",
        "approval.request",
        "approval.decide",
        "version.decide",
        "deployment.start",
        "alias.set",
        "deployment.finish",
        "pipeline.finish",
    ]
    assert [a for a in actions if a in set(story)] == story
    denied = registry.audit_log(outcome="denied", actor="alice", limit=1)[0]
    assert denied.action == "approval.decide"
    events = [e["type"] for e in reversed(admin.list_events(group="fraud-detector", limit=200))]
    story_events = events[events.index("version.created") :]
    # the scan runs beside the pipeline, finished before production took the version
    last_deploy = len(story_events) - 1 - story_events[::-1].index("deployment.started")
    assert story_events.index("scan.completed") < last_deploy
    plot = [e for e in story_events if not e.startswith("pipeline.stage") and e[:5] != "scan."]
    assert plot == [
        "version.created",
        "pipeline.run_started",
        "approval.requested",
        "approval.decided",
        "deployment.started",
        "alias.set",
        "deployment.succeeded",
        "approval.requested",
        "approval.decided",
        "version.approval_changed",
        "deployment.started",
        "alias.set",
        "deployment.succeeded",
        "pipeline.run_finished",
    ]
