"""/api/v1 deployments to environments, rollback, and environment history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from modelyard.api.deps import Caller
from modelyard.api.responses import JSON, created
from modelyard.api.schemas import ERRORS, DeployBody, RollbackBody

router = APIRouter(prefix="/api/v1", tags=["deployments"], responses=ERRORS)
Limit = Annotated[int, Query(description="1 to 1000.")]
ENV = "/groups/{group}/environments/{env}"


@router.post("/deployments", status_code=201)
def deploy(body: DeployBody, registry: Caller) -> JSON:
    """Deploy a version to an environment (policy-checked, recorded, audited)."""
    return created(registry.deploy(body.reference, to=body.to, reason=body.reason))


@router.post(ENV + "/rollback", status_code=201)
def rollback(group: str, env: str, body: RollbackBody, registry: Caller) -> JSON:
    """Back to the newest earlier successful deployment."""
    return created(registry.rollback(group, env=env, reason=body.reason))


@router.get(ENV + "/deployments")
def environment_history(group: str, env: str, registry: Caller, limit: Limit = 100) -> JSON:
    return JSON(registry.environment_history(group, env, limit=limit))


@router.get(ENV + "/at")
def environment_at(group: str, env: str, time: str, registry: Caller) -> JSON:
    """Which version served the environment at ``time`` (ISO-8601)."""
    return JSON(registry.environment_at(group, env, time=time))
