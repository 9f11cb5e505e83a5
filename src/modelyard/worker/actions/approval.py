"""``approval``: wait for N approvals from principals holding a role on the group (the
registrant excluded unless allowed; optionally only named approvers), or a rejection, or the
timeout. Opening the request emits ``approval.requested``; when the last approval stage of
the pipeline passes the version becomes Approved, and a rejection or expiry makes it
Rejected, with the approvers' comments. Idempotent: the request is opened once per stage."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelyard.domain.approval import ApprovalStatus
from modelyard.services.release.engine import Outcome
from modelyard.worker.actions.base import StageContext, failed, succeeded


def idempotent(stage: Mapping[str, Any]) -> bool:
    return True


def run(ctx: StageContext) -> Outcome:
    request = ctx.engine.open_approval(ctx.work)
    votes = request["votes"]
    approvers = [v["principal"] for v in votes if v["decision"] == "approve"]
    comments = "; ".join(f"{v['principal']}: {v['comment']}" for v in votes if v["comment"])
    outputs = {"approval": request["id"], "approved_by": approvers, "votes": votes}
    if request["status"] == "approved":
        ctx.log(f"approved by {', '.join(approvers)}")
        if _last_approval_stage(ctx):
            ctx.engine.set_approval_status(
                ctx.work,
                ApprovalStatus.APPROVED,
                actor=", ".join(approvers),
                comment=comments or f"approved in pipeline {ctx.work.run['pipeline']}",
            )
        return succeeded(**outputs)
    if request["status"] == "rejected":
        rejecter = next(v for v in votes if v["decision"] == "reject")
        error = f"rejected by {rejecter['principal']}: {rejecter['comment']}"
        ctx.engine.set_approval_status(
            ctx.work, ApprovalStatus.REJECTED, actor=rejecter["principal"], comment=comments
        )
        return failed(error, **outputs)
    expires = datetime.fromisoformat(request["expires_at"].replace("Z", "+00:00"))
    if request["status"] == "pending" and ctx.engine.now() >= expires:
        ctx.engine.expire_approval(request)
        error = f"approval request {request['id']} expired at {request['expires_at']}"
        ctx.engine.set_approval_status(
            ctx.work,
            ApprovalStatus.REJECTED,
            actor=f"pipeline:{ctx.work.run['pipeline']}",
            comment=error,
        )
        return failed(error, **outputs)
    if request["status"] != "pending":  # cancelled with the run
        return failed(f"approval request {request['id']} was {request['status']}", **outputs)
    ctx.log(
        f"waiting for {request['count'] - len(approvers)} more approval(s) "
        f"(role {request['role']}), until {request['expires_at']}"
    )
    return Outcome(status="waiting", outputs=outputs, wake_at=expires)


def _last_approval_stage(ctx: StageContext) -> bool:
    later = ctx.work.spec["stages"][ctx.work.position + 1 :]
    return not any(stage["uses"] == "approval" for stage in later)
