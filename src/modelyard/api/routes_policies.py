"""/api/v1 release policies: a group's policy per target (approval or an environment)."""

from __future__ import annotations

from fastapi import APIRouter

from modelyard.api.deps import Caller
from modelyard.api.responses import JSON
from modelyard.api.routes_versions import reference
from modelyard.api.schemas import ERRORS, PolicyBody

router = APIRouter(prefix="/api/v1", tags=["policies"], responses=ERRORS)
POLICY = "/groups/{group}/policies/{target}"


@router.get("/groups/{group}/policies")
def list_policies(group: str, registry: Caller) -> JSON:
    """The default policies (approval, production) and every policy the group set."""
    return JSON([p.to_dict() for p in registry.list_policies(group)])


@router.get(POLICY)
def get_policy(group: str, target: str, registry: Caller) -> JSON:
    return JSON(registry.get_policy(group, target).to_dict())


@router.put(POLICY)
def set_policy(group: str, target: str, body: PolicyBody, registry: Caller) -> JSON:
    """Replace the policy (``[]`` requires nothing); needs group.configure."""
    return JSON(registry.set_policy(group, target, body.clauses).to_dict())


@router.delete(POLICY)
def reset_policy(group: str, target: str, registry: Caller) -> JSON:
    """Back to the target's default policy; needs group.configure."""
    return JSON(registry.reset_policy(group, target).to_dict())


@router.get("/groups/{group}/versions/{selector}/policy/{target}")
def check_policy(group: str, selector: str, target: str, registry: Caller) -> JSON:
    """Why the version may not be approved / deployed to ``target`` now (empty: it may)."""
    return JSON({"violations": registry.check_policy(reference(group, selector), target)})
