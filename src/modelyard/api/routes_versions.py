"""/api/v1/groups/{group}/versions: register, read, describe, tag, decide; and search.

A version is addressed as ``/groups/{group}/versions/{selector}`` where the selector is
its number (``7``) or an alias (``@production``, ``@latest``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from modelyard.api.deps import Caller
from modelyard.api.responses import JSON, created
from modelyard.api.schemas import ERRORS, Decision, Pairs, VersionCreate, VersionUpdate
from modelyard.domain.model import Lineage
from modelyard.domain.wire import manifest_from
from modelyard.errors import ValidationError
from modelyard.transfer.files import UploadResult

router = APIRouter(prefix="/api/v1", tags=["versions"], responses=ERRORS)

Limit = Annotated[int, Query(description="1 to 1000.")]


def reference(group: str, selector: str) -> str:
    """``g/7`` or ``g@alias`` from a path's group and selector."""
    if selector.startswith("@"):
        return f"{group}{selector}"
    return f"{group}/{selector}"


def _lineage(data: dict[str, Any]) -> Lineage:
    try:
        return Lineage.from_dict(data)
    except (TypeError, KeyError, ValueError, AttributeError) as e:
        raise ValidationError(
            f"lineage: not a lineage object ({type(e).__name__}: {e})", field="lineage"
        ) from e


@router.post("/groups/{group}/versions", status_code=201)
def register_version(group: str, body: VersionCreate, registry: Caller) -> JSON:
    """Register a version whose blobs were uploaded (``PUT /blobs/{sha256}``) first."""
    manifest = manifest_from([f.model_dump() for f in body.files], field="files")
    return created(
        registry.register_version(
            group,
            UploadResult(manifest=manifest, new_blobs=0, new_bytes=0),
            metrics=body.metrics,
            params=body.params,
            lineage=_lineage(body.lineage),
            framework=body.framework,
            tags=body.tags,
            metadata=body.metadata,
            description=body.description,
            model_card=body.model_card,
            signature=body.signature,
        ).to_dict()
    )


@router.get("/groups/{group}/versions")
def list_versions(
    group: str, registry: Caller, limit: Limit = 100, cursor: str | None = None
) -> JSON:
    return JSON(registry.list_versions(group, limit=limit, cursor=cursor).to_dict())


@router.get("/groups/{group}/versions/{selector}")
def get_version(group: str, selector: str, registry: Caller) -> JSON:
    return JSON(registry.get_version(reference(group, selector)).to_dict())


@router.patch("/groups/{group}/versions/{selector}")
def update_version(group: str, selector: str, body: VersionUpdate, registry: Caller) -> JSON:
    ref = reference(group, selector)
    if body.description is None and body.model_card is None:
        raise ValidationError("update: give description and/or model_card", field="description")
    version = None
    if body.description is not None:
        version = registry.update_description(ref, body.description)
    if body.model_card is not None:
        version = registry.update_model_card(ref, body.model_card)
    assert version is not None
    return JSON(version.to_dict())


@router.post("/groups/{group}/versions/{selector}/tags")
def tag_version(group: str, selector: str, body: Pairs, registry: Caller) -> JSON:
    """Set tags (``set``) or remove tags (``remove``)."""
    ref = reference(group, selector)
    if bool(body.set) == bool(body.remove):
        raise ValidationError(
            "tags: give tags to set or keys to remove (one of them)", field="tags"
        )
    if body.set:
        return JSON(registry.tag_version(ref, body.set).to_dict())
    return JSON(registry.untag_version(ref, body.remove).to_dict())


@router.post("/groups/{group}/versions/{selector}/metadata")
def set_metadata(group: str, selector: str, body: Pairs, registry: Caller) -> JSON:
    """Set and remove custom metadata pairs in one change."""
    ref = reference(group, selector)
    return JSON(registry.set_metadata(ref, body.set, remove=body.remove).to_dict())


@router.post("/groups/{group}/versions/{selector}/approve")
def approve(group: str, selector: str, body: Decision, registry: Caller) -> JSON:
    ref = reference(group, selector)
    return JSON(
        registry.approve_version(ref, comment=body.comment, break_glass=body.break_glass).to_dict()
    )


@router.post("/groups/{group}/versions/{selector}/reject")
def reject(group: str, selector: str, body: Decision, registry: Caller) -> JSON:
    if body.break_glass is not None:
        raise ValidationError("break_glass: only approvals break glass", field="break_glass")
    return JSON(registry.reject_version(reference(group, selector), comment=body.comment).to_dict())


@router.get("/groups/{group}/versions/{selector}/approvals")
def approval_history(group: str, selector: str, registry: Caller) -> JSON:
    return JSON([d.to_dict() for d in registry.approval_history(reference(group, selector))])


@router.get("/groups/{group}/versions/{selector}/lineage")
def lineage(
    group: str,
    selector: str,
    registry: Caller,
    direction: Literal["upstream", "downstream"] = "upstream",
    depth: Annotated[int, Query(description="1 to 100.")] = 10,
) -> JSON:
    nodes = registry.lineage(reference(group, selector), direction=direction, depth=depth)
    return JSON([n.to_dict() for n in nodes])


@router.get("/versions")
def search_versions(
    registry: Caller,
    filter: str | None = None,
    order_by: str | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> JSON:
    """Versions across groups matching ``filter`` (docs/search.md), cursor-paginated."""
    return JSON(
        registry.search_versions(filter, order_by=order_by, limit=limit, cursor=cursor).to_dict()
    )
