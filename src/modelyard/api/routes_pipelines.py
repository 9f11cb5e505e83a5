"""/api/v1 pipelines, runs (with logs), and approval requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from modelyard.api.deps import Caller
from modelyard.api.responses import JSON, created
from modelyard.api.schemas import ERRORS, ApprovalVote, PipelineApply, RunCancel, RunRetry, RunStart

router = APIRouter(prefix="/api/v1", tags=["pipelines"], responses=ERRORS)
Limit = Annotated[int, Query(description="1 to 1000.")]
ANY = "any"


@router.post("/pipelines")
def apply_pipeline(body: PipelineApply, registry: Caller) -> JSON:
    """Store the YAML as the pipeline's next revision (201), or report it unchanged (200)."""
    applied = registry.apply_pipeline(body.source)
    return JSON(applied, status_code=201 if applied["changed"] else 200)


@router.get("/pipelines")
def list_pipelines(registry: Caller) -> JSON:
    return JSON(registry.list_pipelines())


@router.get("/pipelines/{name}")
def get_pipeline(name: str, registry: Caller, revision: int | None = None) -> JSON:
    return JSON(registry.get_pipeline(name, revision=revision))


@router.get("/pipelines/{name}/diff")
def diff_pipeline(
    name: str, from_revision: int, registry: Caller, to_revision: int | None = None
) -> JSON:
    diff = registry.diff_pipeline(name, from_revision=from_revision, to_revision=to_revision)
    return JSON({"diff": diff})


@router.post("/pipelines/{name}/runs", status_code=201)
def start_run(name: str, body: RunStart, registry: Caller) -> JSON:
    return created(registry.start_run(name, body.reference))


@router.get("/runs")
def list_runs(
    registry: Caller,
    pipeline: str | None = None,
    group: str | None = None,
    status: str | None = None,
    limit: Limit = 100,
) -> JSON:
    return JSON(registry.list_runs(pipeline=pipeline, group=group, status=status, limit=limit))


@router.get("/runs/{run_id}")
def get_run(run_id: int, registry: Caller) -> JSON:
    return JSON(registry.get_run(run_id))


@router.get("/runs/{run_id}/logs")
def run_logs(
    run_id: int,
    registry: Caller,
    after: int = 0,
    limit: Annotated[int, Query(description="1 to 10000.")] = 1000,
) -> JSON:
    """Log lines after line id ``after`` (poll with the last id seen to follow)."""
    return JSON(registry.run_logs(run_id, after=after, limit=limit))


@router.post("/runs/{run_id}/cancel")
def cancel_run(run_id: int, body: RunCancel, registry: Caller) -> JSON:
    return JSON(registry.cancel_run(run_id, reason=body.reason))


@router.post("/runs/{run_id}/retry")
def retry_run(run_id: int, body: RunRetry, registry: Caller) -> JSON:
    return JSON(registry.retry_run(run_id, from_stage=body.from_stage))


@router.get("/approvals")
def list_approvals(
    registry: Caller,
    mine: bool = False,
    status: Annotated[str, Query(description="pending (default), …, or any.")] = "pending",
    limit: Limit = 100,
) -> JSON:
    return JSON(
        registry.list_approvals(mine=mine, status=None if status == ANY else status, limit=limit)
    )


@router.post("/approvals/{request_id}/approve")
def approve_request(request_id: int, body: ApprovalVote, registry: Caller) -> JSON:
    return JSON(registry.approve_request(request_id, comment=body.comment))


@router.post("/approvals/{request_id}/reject")
def reject_request(request_id: int, body: ApprovalVote, registry: Caller) -> JSON:
    return JSON(registry.reject_request(request_id, comment=body.comment))
