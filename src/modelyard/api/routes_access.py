"""/api/v1 principals, tokens and role bindings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from modelyard.api.deps import Caller
from modelyard.api.responses import JSON, created
from modelyard.api.schemas import ERRORS, BindingBody, PrincipalCreate, TokenCreate

router = APIRouter(prefix="/api/v1", tags=["access"], responses=ERRORS)
Limit = Annotated[int, Query(description="1 to 1000.")]


@router.get("/whoami")
def whoami(registry: Caller) -> JSON:
    return JSON(registry.whoami())


@router.post("/principals", status_code=201)
def create_principal(body: PrincipalCreate, registry: Caller) -> JSON:
    return created(registry.create_principal(body.name, service=body.service).to_dict())


@router.get("/principals")
def list_principals(registry: Caller, limit: Limit = 100, cursor: str | None = None) -> JSON:
    return JSON(registry.list_principals(limit=limit, cursor=cursor).to_dict())


@router.post("/tokens", status_code=201)
def create_token(body: TokenCreate, registry: Caller) -> JSON:
    """A new token; the response is the only place its secret (``token``) ever appears."""
    issued = registry.create_token(
        body.principal, expires=body.expires, description=body.description
    )
    return JSON(issued.to_dict(), status_code=201, headers={"Cache-Control": "no-store"})


@router.get("/tokens")
def list_tokens(
    registry: Caller, principal: str | None = None, limit: Limit = 100, cursor: str | None = None
) -> JSON:
    return JSON(registry.list_tokens(principal=principal, limit=limit, cursor=cursor).to_dict())


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: str, registry: Caller) -> JSON:
    return JSON(registry.revoke_token(token_id).to_dict())


@router.post("/bindings", status_code=201)
def grant(body: BindingBody, registry: Caller) -> JSON:
    return created(registry.grant(body.principal, body.role, groups=body.groups).to_dict())


@router.get("/bindings")
def list_bindings(registry: Caller, principal: str | None = None) -> JSON:
    return JSON([b.to_dict() for b in registry.list_bindings(principal=principal)])


@router.delete("/bindings", status_code=204)
def revoke(principal: str, role: str, registry: Caller, groups: str = "*") -> Response:
    registry.revoke(principal, role, groups=groups)
    return Response(status_code=204)


@router.get("/access/check")
def check_access(principal: str, action: str, target: str, registry: Caller) -> JSON:
    """Would ``principal`` be allowed ``action`` on ``target``, and by which binding?"""
    return JSON(registry.check_access(principal, action, target).to_dict())
