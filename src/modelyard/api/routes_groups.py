"""/api/v1/groups and their aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from modelyard.api.deps import Caller
from modelyard.api.responses import JSON, created
from modelyard.api.schemas import ERRORS, AliasSet, GroupCreate, GroupUpdate

router = APIRouter(prefix="/api/v1", tags=["groups"], responses=ERRORS)

Limit = Annotated[int, Query(description="1 to 1000.")]


@router.post("/groups", status_code=201)
def create_group(body: GroupCreate, registry: Caller) -> JSON:
    return created(
        registry.create_group(
            body.name,
            description=body.description,
            tags=body.tags,
            allow_self_approval=body.allow_self_approval,
        ).to_dict()
    )


@router.get("/groups")
def list_groups(
    registry: Caller,
    include_archived: bool = False,
    limit: Limit = 100,
    cursor: str | None = None,
) -> JSON:
    return JSON(
        registry.list_groups(
            include_archived=include_archived, limit=limit, cursor=cursor
        ).to_dict()
    )


@router.get("/groups/{group}")
def get_group(group: str, registry: Caller) -> JSON:
    return JSON(registry.get_group(group).to_dict())


@router.patch("/groups/{group}")
def update_group(group: str, body: GroupUpdate, registry: Caller) -> JSON:
    return JSON(
        registry.update_group(
            group,
            description=body.description,
            set_tags=body.set_tags,
            remove_tags=body.remove_tags,
            allow_self_approval=body.allow_self_approval,
            protected_aliases=body.protected_aliases,
        ).to_dict()
    )


@router.post("/groups/{group}/archive")
def archive_group(group: str, registry: Caller) -> JSON:
    return JSON(registry.archive_group(group).to_dict())


@router.get("/groups/{group}/aliases")
def list_aliases(group: str, registry: Caller) -> JSON:
    return JSON(registry.list_aliases(group))


@router.put("/groups/{group}/aliases/{alias}")
def set_alias(group: str, alias: str, body: AliasSet, registry: Caller) -> JSON:
    return JSON(registry.set_alias(group, alias, body.version, reason=body.reason).to_dict())


@router.delete("/groups/{group}/aliases/{alias}", status_code=204)
def delete_alias(group: str, alias: str, registry: Caller, reason: str = "") -> Response:
    registry.delete_alias(group, alias, reason=reason)
    return Response(status_code=204)


@router.get("/groups/{group}/aliases/{alias}/history")
def alias_history(
    group: str, alias: str, registry: Caller, limit: Limit = 100, cursor: str | None = None
) -> JSON:
    """The alias's moves, oldest first; ``cursor``: the previous page's ``next_cursor``."""
    return JSON(registry.alias_history(group, alias, limit=limit, cursor=cursor).to_dict())
