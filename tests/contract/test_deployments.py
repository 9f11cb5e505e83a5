"""Environments: deploy (policy-checked), rollback, history, and what served when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelyard import Registry
from modelyard.errors import ConflictError, NotFoundError, PermissionDeniedError, PolicyError
from modelyard.services.catalog.alias_moves import AliasMoves
from tests.conftest import MakeArtifact


@pytest.fixture
def versions(registry: Any, make_artifact: MakeArtifact) -> Any:
    registry.create_group("fraud", allow_self_approval=True)
    for n in range(3):
        registry.register_version("fraud", make_artifact({"m.json": f'{{"n": {n}}}'.encode()}))
        # production's default policy needs a clean scan (a worker's job after registration)
        assert registry.scan_version(f"fraud/{n + 1}", timeout=60).verdict == "clean"
    return registry


def test_production_needs_an_approved_version(versions: Any) -> None:
    with pytest.raises(PolicyError, match="production requires Approved") as caught:
        versions.deploy("fraud/1", to="production")
    assert caught.value.field == "environment"
    assert versions.list_aliases("fraud") == {}
    refused = versions.audit_log(outcome="denied", limit=1)[0]
    assert (refused.action, refused.resource) == ("deployment.start", "fraud@production")
    versions.approve_version("fraud/1", comment="ok")
    done = versions.deploy("fraud/1", to="production", reason="first release")
    assert (done["version"], done["status"], done["kind"]) == (1, "succeeded", "deploy")
    assert done["previous_version"] is None and done["reason"] == "first release"
    assert versions.get_version("fraud@production").number == 1


def test_promote_from_staging_and_roll_back(versions: Any) -> None:
    versions.deploy("fraud/1", to="staging")
    versions.deploy("fraud/2", to="staging")
    versions.approve_version("fraud/2", comment="ok")
    versions.deploy("fraud@staging", to="production")  # promote what staging runs
    assert versions.get_version("fraud@production").number == 2
    back = versions.rollback("fraud", env="staging", reason="canary errors")
    assert (back["version"], back["previous_version"], back["kind"]) == (1, 2, "rollback")
    history = versions.environment_history("fraud", "staging")
    assert [(d["version"], d["kind"], d["status"]) for d in history] == [
        (1, "rollback", "succeeded"),
        (2, "deploy", "succeeded"),
        (1, "deploy", "succeeded"),
    ]
    events = [e["type"] for e in versions.list_events(group="fraud", limit=3)]
    assert events == ["deployment.succeeded", "alias.set", "deployment.started"]


def test_rollback_refuses_without_an_earlier_deployment(versions: Any) -> None:
    with pytest.raises(ConflictError, match="no earlier successful deployment"):
        versions.rollback("fraud", env="staging")
    versions.deploy("fraud/1", to="staging")
    with pytest.raises(ConflictError, match="no earlier successful deployment"):
        versions.rollback("fraud", env="staging")


def test_unknown_environments_and_versions(versions: Any) -> None:
    with pytest.raises(NotFoundError, match="'canary' is not an environment of fraud") as caught:
        versions.deploy("fraud/1", to="canary")
    assert caught.value.field == "to"
    with pytest.raises(NotFoundError, match="version"):
        versions.deploy("fraud/9", to="staging")
    with pytest.raises(NotFoundError, match="group 'nope' does not exist"):
        versions.environment_history("nope", "staging")


def test_which_version_served_when(versions: Any) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    versions.deploy("fraud/1", to="staging")
    versions.deploy("fraud/2", to="staging")
    moves = versions.alias_history("fraud", "staging").items
    assert versions.environment_at("fraud", "staging", time=before)["version"] is None
    first = versions.environment_at("fraud", "staging", time=moves[0].at.isoformat())
    assert first["version"] == 1 and first["reference"] == "fraud/1"
    now = versions.environment_at("fraud", "staging", time=moves[1].at + timedelta(seconds=1))
    assert now["version"] == 2 and now["by"] == "local"
    with pytest.raises(Exception, match="time zone") as caught:
        versions.environment_at("fraud", "staging", time="2026-10-01T12:00")
    assert getattr(caught.value, "field", None) == "time"


def test_setting_an_environment_alias_is_a_deployment(versions: Any) -> None:
    with pytest.raises(PolicyError):
        versions.set_alias("fraud", "production", 1)
    versions.set_alias("fraud", "staging", 1)
    [deployment] = versions.environment_history("fraud", "staging")
    assert deployment["kind"] == "alias"


def test_only_deployers_deploy(open_registry: Any, make_artifact: MakeArtifact) -> None:
    admin = open_registry()
    admin.create_group("fraud")
    admin.register_version("fraud", make_artifact())
    contributor = open_registry("carol", roles=("contributor",))
    with pytest.raises(PermissionDeniedError, match="alias.set_protected"):
        contributor.deploy("fraud/1", to="staging")
    deployer = open_registry("dave", roles=("deployer",))
    assert deployer.deploy("fraud/1", to="staging")["actor"] == "dave"


def test_a_deployment_in_progress_blocks_another(
    local_registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry = local_registry
    registry.create_group("fraud")
    registry.register_version("fraud", make_artifact())
    registry.register_version("fraud", make_artifact({"x": b"2"}))
    moves = AliasMoves(registry._ctx, registry.actor)
    with registry._ctx.db.transaction() as conn:  # what a pipeline deploy with a health check holds
        started = moves._start_deployment(
            conn, "fraud", "staging", 1, kind="deploy", reason="", now=datetime.now(UTC)
        )
    with pytest.raises(ConflictError, match=f"deployment #{started['id']} .* still in progress"):
        registry.deploy("fraud/2", to="staging")
    assert registry.get_version("fraud@staging").number == 1  # no torn state
    assert [d["status"] for d in registry.environment_history("fraud", "staging")] == [
        "in_progress"
    ]
