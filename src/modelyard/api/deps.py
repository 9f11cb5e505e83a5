"""Request dependencies: who is calling (bearer token → principal → their registry view)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from modelyard.registry import Registry

bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`modelyard token create`), sent as `Authorization: Bearer my_…`.",
)


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Registry:
    """The registry acting as the token's principal; 401 (audited) without a valid token.

    A plain ``def``, so FastAPI runs it in the threadpool: the token check is an indexed
    read, but it also writes (the token's last-used time, at most once a minute; the audit
    entry of a failure), and a write can wait seconds for SQLite's write lock. On the
    event loop that wait would stall every request in the process.
    """
    registry = registry_of(request)
    principal = registry.authenticate(credentials.credentials if credentials else None)
    request.state.principal = principal
    return registry.acting_as(principal)


Caller = Annotated[Registry, Depends(caller)]
