"""``gate``: CEL conditions over the candidate (with its scan verdict and signatures), the
run's metrics and the versions the group's environments serve now
(``production.metrics.auc``; ``null`` when none). A failing
gate records the condition that failed and every value the conditions read. Idempotent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.domain.gates import compile_condition, evaluate
from modelyard.domain.model import Version
from modelyard.services.release.engine import Outcome
from modelyard.worker.actions.base import StageContext, failed, succeeded


def idempotent(stage: Mapping[str, Any]) -> bool:
    return True


def as_context(version: Version | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {
        "group": version.group,
        "version": version.number,
        "reference": version.reference,
        "metrics": dict(version.metrics),
        "params": dict(version.params),
        "tags": dict(version.tags),
        "metadata": dict(version.metadata),
        "approval_status": version.approval_status.value,
        "created_by": version.created_by,
        "framework": version.framework,
    }


def context_of(ctx: StageContext) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for outputs in ctx.work.earlier_outputs:
        metrics.update(outputs.get("metrics") or {})
    context: dict[str, Any] = {
        env: as_context(version)
        for env, version in ctx.engine.environments_of(ctx.work.version.group).items()
    }
    candidate = as_context(ctx.work.version)
    assert candidate is not None
    evidence = ctx.engine.evidence_of(ctx.work.version)
    # what release policies check, for gates that want it earlier or stricter
    candidate["scan"] = evidence.scan  # the latest finished scan's verdict, or null
    candidate["signature"] = {
        "valid": evidence.registry_signature_valid,
        "signed_by": list(evidence.signers),
    }
    context["candidate"] = candidate
    context["run"] = {"metrics": metrics}
    return context


def run(ctx: StageContext) -> Outcome:
    context = context_of(ctx)
    conditions = [compile_condition(source) for source in ctx.stage["when"]]
    result = evaluate(conditions, context)
    for path, value in result.values.items():
        ctx.log(f"{path} = {value!r}")
    if result.passed:
        ctx.log("gate passed")
        return succeeded(conditions=list(ctx.stage["when"]), values=result.values)
    why = f"condition failed: {result.failed}"
    if result.error:
        why += f" ({result.error})"
    shown = ", ".join(f"{path}={value!r}" for path, value in result.values.items())
    ctx.log(why)
    return failed(
        f"{why}; values: {shown}" if shown else why,
        condition=result.failed,
        values=result.values,
        evaluation_error=result.error,
    )
