"""Use cases for pipeline runs (start, list, show, logs, cancel, retry) and for the
approval requests their approval stages open (list, approve, reject)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from modelyard.domain.access import ANY_GROUP, Action, Role, decide
from modelyard.domain.paging import check_limit
from modelyard.domain.rules import validate_rule_name
from modelyard.domain.values import validate_text
from modelyard.errors import ConflictError, NotFoundError, ValidationError
from modelyard.services.base import AccessDenied, ServiceBase
from modelyard.store.sql import access as access_store
from modelyard.store.sql import approvals as approval_store
from modelyard.store.sql import pipelines as pipeline_store
from modelyard.store.sql import runs as store
from modelyard.store.sql.versions import load_versions

RUN_STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "cancelled")
APPROVAL_STATUSES = ("pending", "approved", "rejected", "expired", "cancelled")
MAX_COMMENT = 4096


class RunService(ServiceBase):
    def start_run(self, pipeline: str, ref: str) -> dict[str, Any]:
        """Start a run of ``pipeline``'s latest revision for version ``ref`` (by hand; a
        pipeline's ``trigger:`` starts runs on events). One active run per version."""
        validate_rule_name(pipeline, field="pipeline")
        parsed = self._parse(ref)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.PIPELINE_RUN, parsed.group, str(parsed))
            version = load_versions(conn, [self._version_id(conn, parsed)])[0]
            return self._create_run(
                conn, pipeline, version.group, version.number, trigger="manual", now=now
            )

    def _create_run(
        self,
        conn: Connection,
        pipeline: str,
        group: str,
        version: int,
        *,
        trigger: str,
        now: datetime,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        definition = pipeline_store.get_revision(conn, pipeline)
        active = store.active_run(conn, pipeline, group, version)
        if active is not None:
            raise ConflictError(
                f"run {active} of {pipeline} for {group}/{version} is still active; "
                "one active run per version per pipeline",
                field="pipeline",
            )
        stages = [(s["name"], s["uses"]) for s in definition["spec"]["stages"]]
        run_id = store.insert_run(
            conn,
            pipeline=pipeline,
            revision=definition["revision"],
            group=group,
            version=version,
            stages=stages,
            trigger=trigger,
            trigger_event_id=event_id,
            actor=self.actor,
            now=now,
        )
        run = store.get_run(conn, run_id)
        self._record(
            conn,
            action="pipeline.run",
            resource=run_resource(run),
            event_type="pipeline.run_started",
            data=_run_event(run),
            now=now,
        )
        return run

    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        group: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Runs, newest first."""
        limit = check_limit(limit)
        if status is not None and status not in RUN_STATUSES:
            raise ValidationError(
                f"status: {status!r} is not a run status (one of {', '.join(RUN_STATUSES)})",
                field="status",
            )
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, group or ANY_GROUP, "runs")
            found = store.list_runs(
                conn, pipeline=pipeline, group=group, status=status, limit=limit
            )
            return self._readable(conn, found)

    def get_run(self, run_id: int) -> dict[str, Any]:
        """A run with its stages: status, attempts, timings, outputs (gate values, metrics,
        deployment), errors."""
        _check_id(run_id, "run")
        with self._read() as conn:
            run = store.get_run(conn, run_id)
            self._authorize(conn, Action.GROUP_READ, run["group"], run_resource(run))
            return run

    def run_logs(self, run_id: int, *, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Log lines of a run's stages, oldest first, after line id ``after`` (to follow)."""
        _check_id(run_id, "run")
        limit = check_limit(limit, maximum=10_000)
        if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_ID:
            raise ValidationError("after: must be a log line id (0 or more)", field="after")
        with self._read() as conn:
            run = store.get_run(conn, run_id)  # a missing run is reported as such
            self._authorize(conn, Action.GROUP_READ, run["group"], run_resource(run))
            return store.read_logs(conn, run_id, after=after, limit=limit)

    def cancel_run(self, run_id: int, *, reason: str = "") -> dict[str, Any]:
        """Stop an active run; a stage in progress finishes its attempt, nothing more runs."""
        _check_id(run_id, "run")
        reason = validate_text(reason, field="reason", max_length=MAX_COMMENT)
        now = self._ctx.clock()
        with self._write() as conn:
            run = store.get_run(conn, run_id)
            self._authorize(conn, Action.PIPELINE_RUN, run["group"], run_resource(run))
            if run["status"] not in store.ACTIVE:
                raise ConflictError(f"run {run_id} already {run['status']}", field="run")
            for stage in run["stages"]:
                if stage["status"] in ("pending", "running", "waiting"):
                    store.update_stage(conn, run_id, stage["position"], status="cancelled")
            request = _open_request(conn, run)
            if request is not None:
                approval_store.set_status(conn, request["id"], "cancelled", now=now)
            error = f"cancelled by {self.actor}" + (f": {reason}" if reason else "")
            store.update_run(
                conn,
                run_id,
                status="cancelled",
                error=error,
                finished_at=now,
                updated_at=now,
                next_run_at=None,
                lease_until=None,
                leased_by=None,
            )
            finished = store.get_run(conn, run_id)
            self._record(
                conn,
                action="pipeline.cancel",
                resource=run_resource(run),
                event_type="pipeline.run_finished",
                data=_run_event(finished),
                now=now,
            )
            return finished

    def retry_run(self, run_id: int, *, from_stage: str | None = None) -> dict[str, Any]:
        """Run a failed or cancelled run again from ``from_stage`` (default: the stage that
        failed); earlier stages keep their results."""
        _check_id(run_id, "run")
        now = self._ctx.clock()
        with self._write() as conn:
            run = store.get_run(conn, run_id)
            self._authorize(conn, Action.PIPELINE_RUN, run["group"], run_resource(run))
            if run["status"] not in ("failed", "cancelled"):
                raise ConflictError(
                    f"run {run_id} is {run['status']}; only failed or cancelled runs are retried",
                    field="run",
                )
            start = _retry_position(run, from_stage)
            active = store.active_run(conn, run["pipeline"], run["group"], run["version"])
            if active is not None:
                raise ConflictError(
                    f"run {active} of {run['pipeline']} for {run['reference']} is active",
                    field="run",
                )
            for stage in run["stages"][start:]:
                store.update_stage(
                    conn,
                    run_id,
                    stage["position"],
                    status="pending",
                    error="",
                    started_at=None,
                    finished_at=None,
                )
            store.update_run(
                conn,
                run_id,
                status="queued",
                error="",
                finished_at=None,
                updated_at=now,
                next_run_at=now,
                lease_until=None,
                leased_by=None,
                active_key=store.active_key(run["pipeline"], run["group"], run["version"]),
            )
            retried = store.get_run(conn, run_id)
            self._record(
                conn,
                action="pipeline.retry",
                resource=run_resource(run),
                event_type="pipeline.run_started",
                data=_run_event(retried) | {"retry_from": run["stages"][start]["name"]},
                now=now,
            )
            return retried

    # --- approval requests ------------------------------------------------------------

    def list_approvals(
        self, *, mine: bool = False, status: str | None = "pending", limit: int = 100
    ) -> list[dict[str, Any]]:
        """Approval requests, newest first; ``mine``: only those you may decide now."""
        limit = check_limit(limit)
        if status is not None and status not in APPROVAL_STATUSES:
            raise ValidationError(
                f"status: {status!r} is not an approval status "
                f"(one of {', '.join(APPROVAL_STATUSES)})",
                field="status",
            )
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, ANY_GROUP, "approvals")
            found = self._readable(
                conn, approval_store.list_requests(conn, status=status, limit=limit)
            )
            if mine:
                found = [r for r in found if self._why_not(conn, r) is None]
            return found

    def approve_request(self, request_id: int, *, comment: str = "") -> dict[str, Any]:
        """Approve an approval request (you must hold its role on the group, not be the
        registrant unless allowed, and be one of its named approvers if it has any)."""
        return self._vote(request_id, "approve", comment)

    def reject_request(self, request_id: int, *, comment: str) -> dict[str, Any]:
        """Reject an approval request; a comment saying why is required. The run fails and
        the version becomes Rejected."""
        if not isinstance(comment, str) or not comment.strip():
            raise ValidationError("comment: rejecting needs a comment saying why", field="comment")
        return self._vote(request_id, "reject", comment)

    def _vote(self, request_id: int, decision: str, comment: str) -> dict[str, Any]:
        _check_id(request_id, "approval")
        comment = validate_text(comment, field="comment", max_length=MAX_COMMENT)
        now = self._ctx.clock()
        with self._write() as conn:
            request = approval_store.get_request(conn, request_id, for_update=True)
            self._authorize(conn, Action.GROUP_READ, request["group"], approval_resource(request))
            if request["status"] != "pending":
                raise ConflictError(
                    f"approval request {request_id} is already {request['status']}",
                    field="approval",
                )
            if datetime.fromisoformat(request["expires_at"].replace("Z", "+00:00")) <= now:
                raise ConflictError(f"approval request {request_id} has expired", field="approval")
            reason = self._why_not(conn, request)
            if reason is not None:
                raise AccessDenied(
                    f"{self.actor} may not decide approval request {request_id}: {reason}",
                    principal=self.actor,
                    action="approval.decide",
                    resource=approval_resource(request),
                    reason=reason,
                )
            approval_store.insert_vote(
                conn, request_id, principal=self.actor, decision=decision, comment=comment, now=now
            )
            approvals = sum(1 for v in request["votes"] if v["decision"] == "approve")
            status = "pending"
            if decision == "reject":
                status = "rejected"
            elif approvals + 1 >= request["count"]:
                status = "approved"
            if status != "pending":
                approval_store.set_status(conn, request_id, status, now=now)
                store.wake(conn, request["run_id"], now=now)
            decided = approval_store.get_request(conn, request_id)
            self._record(
                conn,
                action="approval.decide",
                resource=approval_resource(request),
                event_type="approval.decided",
                data={
                    "group": request["group"],
                    "version": request["version"],
                    "reference": request["reference"],
                    "approval": request_id,
                    "run_id": request["run_id"],
                    "pipeline": request["pipeline"],
                    "decision": decision,
                    "comment": comment,
                    "status": status,
                    "approvals": approvals + (decision == "approve"),
                    "required": request["count"],
                },
                now=now,
            )
            return decided

    def _readable(self, conn: Connection, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items (runs, approval requests) of groups the caller may read."""
        bindings = self._bindings(conn)
        allowed: dict[str, bool] = {}
        for item in items:
            group = item["group"]
            if group not in allowed:
                allowed[group] = decide(self.actor, bindings, Action.GROUP_READ, group).allowed
        return [item for item in items if allowed[item["group"]]]

    def _why_not(self, conn: Connection, request: dict[str, Any]) -> str | None:
        """Why the acting principal may not decide ``request`` now (None: they may)."""
        if request["status"] != "pending":
            return f"it is {request['status']}"
        if any(v["principal"] == self.actor for v in request["votes"]):
            return "you already decided it"
        if self.actor == request["registrant"] and not request["allow_registrant"]:
            return "you registered the version (separation of duties)"
        if request["principals"] and self.actor not in request["principals"]:
            return f"only {', '.join(request['principals'])} may decide it"
        role = Role(request["role"])
        held = access_store.bindings_of(conn, self.actor)
        if not any(b.role in (role, Role.ADMIN) and b.matches(request["group"]) for b in held):
            return f"it needs the role {role.value} on {request['group']}"
        return None


def _open_request(conn: Connection, run: dict[str, Any]) -> dict[str, Any] | None:
    for stage in run["stages"]:
        if stage["uses"] == "approval" and stage["status"] == "waiting":
            return approval_store.request_for_stage(conn, run["id"], stage["position"])
    return None


def run_resource(run: dict[str, Any]) -> str:
    """Audit resource of a run: under its version, so ``audit log --group`` shows it."""
    return f"{run['reference']}#run-{run['id']}"


def approval_resource(request: dict[str, Any]) -> str:
    return f"{request['reference']}#approval-{request['id']}"


def _retry_position(run: dict[str, Any], from_stage: str | None) -> int:
    stages = run["stages"]
    if from_stage is None:
        for stage in stages:
            if stage["status"] in ("failed", "cancelled"):
                return int(stage["position"])
        return 0
    for stage in stages:
        if stage["name"] == from_stage:
            return int(stage["position"])
    names = ", ".join(s["name"] for s in stages)
    raise NotFoundError(
        f"from_stage: run {run['id']} has no stage {from_stage!r} (stages: {names})",
        field="from_stage",
    )


MAX_ID = 2**53  # ids, revisions and log positions are far below; bigger is a typo or a probe


def _check_id(value: int, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ValidationError(f"{field}: must be a positive whole number", field=field)


def _run_event(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "group": run["group"],
        "version": run["version"],
        "reference": run["reference"],
        "run_id": run["id"],
        "pipeline": run["pipeline"],
        "revision": run["revision"],
        "status": run["status"],
        "trigger": run["trigger"],
        "error": run["error"],
    }
