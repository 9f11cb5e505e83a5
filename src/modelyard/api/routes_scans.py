"""/api/v1/groups/{group}/versions/{selector}/scan: a version's unsafe-model scan.

``GET`` returns the newest scan (``pending``, ``running`` or ``done`` with its verdict and
every file's outcome); ``POST`` queues a new one (or returns the one still open) and answers
``202`` at once — the server's workers scan it; poll ``GET`` for the result.
"""

from __future__ import annotations

from fastapi import APIRouter

from modelyard.api.deps import Caller
from modelyard.api.responses import JSON
from modelyard.api.routes_versions import reference
from modelyard.api.schemas import ERRORS

router = APIRouter(prefix="/api/v1", tags=["scans"], responses=ERRORS)


@router.get("/groups/{group}/versions/{selector}/scan")
def get_scan(group: str, selector: str, registry: Caller) -> JSON:
    """The version's newest scan; 404 if it was never scanned."""
    return JSON(registry.version_scan(reference(group, selector)).to_dict())


@router.post("/groups/{group}/versions/{selector}/scan", status_code=202)
def scan_version(group: str, selector: str, registry: Caller) -> JSON:
    """Queue a scan of the version (needs ``version.scan``); 202 with the queued scan."""
    scan = registry.scan_version(reference(group, selector), wait=False)
    return JSON(scan.to_dict(), status_code=202)
