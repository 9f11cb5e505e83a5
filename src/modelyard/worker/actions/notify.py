"""``notify``: emit a custom event (``custom.…``) that rules can route anywhere. Idempotent
in the at-least-once sense: a worker death can emit it twice (same data, new event id)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.services.release.engine import Outcome
from modelyard.worker.actions.base import StageContext, succeeded


def idempotent(stage: Mapping[str, Any]) -> bool:
    return True


def run(ctx: StageContext) -> Outcome:
    message = ctx.stage.get("message")
    data = {"message": ctx.expand(message) if message else "", "data": dict(ctx.stage["data"])}
    event_id = ctx.engine.emit(ctx.work, ctx.stage["type"], data)
    ctx.log(f"emitted {ctx.stage['type']} {event_id}")
    return succeeded(event_id=event_id, type=ctx.stage["type"])
