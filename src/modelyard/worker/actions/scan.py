"""``scan``: a placeholder until unsafe-model scanning arrives (the security issue). It
records that nothing was scanned — never "clean" — and lets the run go on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.services.run_engine import Outcome
from modelyard.worker.actions.base import StageContext, succeeded

NOT_SCANNED = "not scanned: unsafe-model scanning is not available yet"


def idempotent(stage: Mapping[str, Any]) -> bool:
    return True


def run(ctx: StageContext) -> Outcome:
    ctx.log(NOT_SCANNED)
    return succeeded(scan="not_scanned", reason=NOT_SCANNED)
