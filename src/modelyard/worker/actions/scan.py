"""``scan``: unsafe-model scanning of the version's files (``scanning/scanner.py``: picklescan
for pickle-family files, data-only formats recognised, anything else reported as not
scanned — never "clean").

The stage fails when a file is ``unsafe`` (it imports something dangerous: ``os.system``,
``eval``, ``__import__`` …) or could not be scanned (``error``). ``suspicious`` files (imports
neither dangerous nor on the scanner's allowlist, such as a model's own classes) are logged for
review and do not fail the stage; the report with every file's status is the stage's output.
Idempotent: it only reads. (Every version is also scanned at registration; see
``services/security/scan_queue.py``.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.domain.scans import ERROR, SUSPICIOUS, UNSAFE
from modelyard.scanning.scanner import FileScan, scan_directory
from modelyard.services.release.engine import Outcome
from modelyard.worker.actions.base import StageContext, failed, succeeded


def idempotent(stage: Mapping[str, Any]) -> bool:
    return True


def run(ctx: StageContext) -> Outcome:
    report = scan_directory(ctx.materialize())
    for file in report.files:
        ctx.log(_line(file))
    outputs = report.to_dict()
    dangerous = [f for f in report.files if f.status == UNSAFE]
    if dangerous:
        named = "; ".join(f"{f.path}: {', '.join(f.findings)}" for f in dangerous)
        return failed(f"unsafe: {named}", **outputs)
    broken = [f for f in report.files if f.status == ERROR]
    if broken:
        named = "; ".join(f"{f.path}: {f.detail}" for f in broken)
        return failed(f"could not scan: {named}", **outputs)
    suspicious = [f for f in report.files if f.status == SUSPICIOUS]
    if suspicious:
        ctx.log("suspicious imports (review them): " + "; ".join(f.path for f in suspicious))
    ctx.log(f"scan verdict: {report.verdict} ({report.scanner})")
    return succeeded(**outputs)


def _line(file: FileScan) -> str:
    found = f" {', '.join(file.findings)}" if file.findings else ""
    detail = f" — {file.detail}" if file.detail else ""
    return f"{file.path}: {file.status} ({file.kind}){found}{detail}"
