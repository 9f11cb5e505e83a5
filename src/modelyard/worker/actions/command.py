"""``command``: run a command next to the version's files.

Placeholders: ``{artifact_dir}`` (the version's files, digests verified), ``{metrics_out}``
(write a JSON object of numbers there: they become the run's metrics, usable by gates as
``run.metrics.NAME``), ``{reference}``, ``{group}``, ``{version}``, ``{run_id}``,
``{pipeline}``. Exit code 0 = success; the timeout kills the whole process group. Retried
after a worker death unless the stage says ``idempotent: false``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from modelyard.services.release.engine import Outcome
from modelyard.worker.actions.base import StageContext, failed, run_command, succeeded


def idempotent(stage: Mapping[str, Any]) -> bool:
    return bool(stage.get("idempotent", True))


def run(ctx: StageContext) -> Outcome:
    done = run_command(ctx, ctx.stage["run"], timeout=ctx.stage["timeout"], env=ctx.stage["env"])
    if done.exit_code != 0:
        return failed(done.error, exit_code=done.exit_code)
    metrics_file = ctx.workdir / "metrics.json"
    if not metrics_file.exists():
        return succeeded(exit_code=0, metrics={})
    try:
        metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return failed(f"metrics_out: not a JSON object of numbers ({e})", exit_code=0)
    bad = _bad_metric(metrics)
    if bad:
        return failed(f"metrics_out: {bad}", exit_code=0)
    ctx.log(f"metrics: {json.dumps(metrics, sort_keys=True)}")
    return succeeded(exit_code=0, metrics=metrics)


def _bad_metric(metrics: object) -> str | None:
    if not isinstance(metrics, dict):
        return "must be a JSON object of name: number"
    for name, value in metrics.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            return f"{name!r} is not a finite number"
    return None
