"""/api/v1/audit (the tamper-evident log), /api/v1/events and /api/v1/summary."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

from modelyard.api.deps import Caller
from modelyard.api.responses import JSON
from modelyard.api.schemas import ERRORS

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=ERRORS)

Limit = Annotated[int, Query(description="1 to 1000.")]


@router.get("/audit")
def audit_log(  # noqa: PLR0917 - one parameter per query filter
    registry: Caller,
    group: str | None = None,
    resource: str | None = None,
    actor: str | None = None,
    since: str | None = None,
    outcome: Literal["allowed", "denied"] | None = None,
    limit: Limit = 100,
) -> JSON:
    entries = registry.audit_log(
        group=group, resource=resource, actor=actor, since=since, outcome=outcome, limit=limit
    )
    return JSON([e.to_dict() for e in entries])


@router.get("/audit/verify")
def verify_audit(registry: Caller) -> JSON:
    return JSON(registry.verify_audit().to_dict())


@router.get("/audit/checkpoints")
def list_checkpoints(registry: Caller) -> JSON:
    return JSON([c.to_dict() for c in registry.list_checkpoints()])


@router.post("/audit/checkpoints")
def checkpoint_audit(registry: Caller) -> JSON:
    return JSON(registry.checkpoint_audit().to_dict())


@router.get("/audit/public-key", response_class=PlainTextResponse)
def audit_public_key(registry: Caller) -> str:
    return registry.audit_public_key()


@router.get("/audit/entries/{seq}/proof")
def audit_proof(seq: Annotated[int, Path(ge=1)], registry: Caller) -> JSON:
    return JSON(registry.audit_proof(seq))


@router.get("/audit/consistency")
def audit_consistency(
    registry: Caller,
    old_size: Annotated[int, Query(ge=1)],
    new_size: Annotated[int, Query(ge=1)],
) -> JSON:
    return JSON(registry.audit_consistency(old_size, new_size))


@router.get("/audit/export", response_class=StreamingResponse)
def audit_export(registry: Caller) -> StreamingResponse:
    """The whole log as JSON lines (``modelyard audit verify --file`` checks it offline)."""
    lines = registry.iter_audit_export()
    first = next(lines)  # authorization happens here, before the 200 is sent
    return StreamingResponse(_chain(first, lines), media_type="application/x-ndjson")


def _chain(first: str, rest: Any) -> Any:
    yield first
    yield from rest


@router.get("/events")
def list_events(
    registry: Caller,
    type: str | None = None,
    group: str | None = None,
    limit: Limit = 100,
) -> JSON:
    return JSON(registry.list_events(type=type, group=group, limit=limit))


@router.get("/summary")
def summary(registry: Caller) -> JSON:
    return JSON(registry.summary())
