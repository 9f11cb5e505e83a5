"""``deploy``: move an environment to the version (after its policy check), run the optional
deploy hook (a command, or a signed webhook), then the optional health check (a command, or
a URL polled until it answers the expected status); on failure the environment goes back to
the version it served before (``rollback_on_failure``, default true), both recorded.

Idempotent: a worker that dies mid-stage leaves the deployment in progress; the next
attempt finds it (the alias is not moved twice) and runs hook and check again, so hooks
must tolerate running twice."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from modelyard.domain.delivery import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign
from modelyard.errors import ModelyardError
from modelyard.services.release.engine import Outcome
from modelyard.worker.actions.base import StageContext, failed, run_command, succeeded

HOOK_TIMEOUT_S = 30.0
POLL_EVERY_S = 2.0


def idempotent(stage: Mapping[str, Any]) -> bool:
    return True


def run(ctx: StageContext) -> Outcome:
    environment = ctx.stage["environment"]
    try:
        deployment = ctx.engine.start_deployment(ctx.work, environment)
    except ModelyardError as e:
        return failed(str(e), environment=environment)
    if deployment is None or deployment["status"] != "in_progress":
        return _already(ctx, environment, deployment)
    was = deployment["previous_version"]
    ctx.log(
        f"deployment #{deployment['id']}: {ctx.work.version.group}@{environment} -> "
        f"version {deployment['version']} (was {was if was is not None else 'nothing'})"
    )
    outputs: dict[str, Any] = {
        "deployment": deployment["id"],
        "environment": environment,
        "previous_version": was,
    }
    try:
        error = _hook(ctx, ctx.stage.get("hook"), deployment) or _check(ctx, ctx.stage.get("check"))
    except Exception as e:  # never leave the environment locked by an in-progress deployment
        error = f"deploy stage error: {type(e).__name__}: {e}"
    rollback = bool(ctx.stage["rollback_on_failure"])
    finished = ctx.engine.end_deployment(ctx.work, deployment, error=error, roll_back=rollback)
    outputs["status"] = finished["status"]
    if not error:
        ctx.log(f"deployment #{deployment['id']} succeeded")
        return succeeded(**outputs)
    if finished["status"] == "rolled_back":
        back = f"version {was}" if was is not None else "no version (the alias was removed)"
        ctx.log(f"{error}; rolled {environment} back to {back}")
        return failed(f"{error}; rolled {environment} back to {back}", **outputs)
    return failed(error, **outputs)


def _already(ctx: StageContext, environment: str, deployment: Mapping[str, Any] | None) -> Outcome:
    """Nothing to deploy: the environment serves the version already, or this stage's
    deployment finished before the worker running it died."""
    if deployment is None:
        ctx.log(f"{ctx.work.version.group}@{environment} already serves this version")
        return succeeded(environment=environment, deployment=None, status="unchanged")
    ctx.log(f"deployment #{deployment['id']} already {deployment['status']}")
    outputs = {"deployment": deployment["id"], "environment": environment}
    if deployment["status"] == "succeeded":
        return succeeded(**outputs, status="succeeded")
    return failed(deployment["error"] or deployment["status"], **outputs)


def _hook(ctx: StageContext, hook: Mapping[str, Any] | None, deployment: Mapping[str, Any]) -> str:
    if not hook:
        return ""
    if "run" in hook:
        done = run_command(ctx, hook["run"], timeout=HOOK_TIMEOUT_S * 10, label="hook")
        return f"deploy hook failed: {done.error}" if done.exit_code != 0 else ""
    body = json.dumps(
        {
            "deployment": deployment["id"],
            "environment": deployment["environment"],
            "reference": deployment["reference"],
            "previous_version": deployment["previous_version"],
            "run_id": ctx.work.run["id"],
            "pipeline": ctx.work.run["pipeline"],
        }
    ).encode()
    delivery_id, timestamp = f"deployment-{deployment['id']}", int(time.time())
    headers = {
        "Content-Type": "application/json",
        HEADER_ID: delivery_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(hook["secret"], delivery_id, timestamp, body),
    }
    ctx.log(f"[hook] POST {hook['webhook']}")
    try:
        response = httpx.post(
            hook["webhook"], content=body, headers=headers, timeout=HOOK_TIMEOUT_S
        )
    except httpx.HTTPError as e:
        return f"deploy hook failed: {type(e).__name__}: {e}"
    ctx.log(f"[hook] HTTP {response.status_code}")
    ok = 200 <= response.status_code < 300
    return "" if ok else f"deploy hook failed: HTTP {response.status_code}"


def _check(ctx: StageContext, check: Mapping[str, Any] | None) -> str:
    if not check:
        return ""
    if "run" in check:
        done = run_command(ctx, check["run"], timeout=check["timeout"], label="check")
        return f"health check failed: {done.error}" if done.exit_code != 0 else ""
    url, expected = ctx.expand(check["url"]), check["expect_status"]
    deadline = time.monotonic() + check["timeout"]
    last = "no answer"
    while True:
        try:
            status = httpx.get(url, timeout=min(10.0, check["timeout"])).status_code
            last = f"HTTP {status}"
            ctx.log(f"[check] GET {url}: {last}")
            if status == expected:
                return ""
        except httpx.HTTPError as e:
            last = f"{type(e).__name__}: {e}"
            ctx.log(f"[check] GET {url}: {last}")
        if time.monotonic() + POLL_EVERY_S > deadline:
            return f"health check failed: {url} answered {last}, expected HTTP {expected}"
        time.sleep(POLL_EVERY_S)
