"""The pipeline engine as workers see it: lease a due run, hand its current stage to an
action, record the outcome and move the run on.

Runs are durable state machines in the database: a run is due when ``next_run_at <= now``;
a worker leases it, marks the stage running (``attempts`` + 1) in one transaction, runs the
action outside any transaction, and records the outcome in another. A worker that dies
mid-stage loses its lease; the next worker finds the stage ``running`` and runs it again —
unless the action is declared non-idempotent, when the stage fails as interrupted instead
of repeating its side effect. Like ``DeliveryQueue``, this is for trusted worker processes:
it acts as the principal ``pipeline:<name>`` without authorization checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from modelyard.domain.approval import ApprovalStatus
from modelyard.domain.model import ApprovalDecision, Version
from modelyard.domain.policies import APPROVAL, Evidence
from modelyard.domain.times import iso_z
from modelyard.errors import ConflictError, NotFoundError
from modelyard.services.base import ServiceBase
from modelyard.services.catalog.alias_moves import AliasMoves
from modelyard.services.context import ServiceContext
from modelyard.services.release.policies import enforce_policy, evidence_of
from modelyard.services.release.runs import RunService, _run_event, approval_resource, run_resource
from modelyard.store.sql import aliases as alias_store
from modelyard.store.sql import approvals as approval_store
from modelyard.store.sql import deployments as deployment_store
from modelyard.store.sql import groups as group_store
from modelyard.store.sql import pipelines as pipeline_store
from modelyard.store.sql import runs as store
from modelyard.store.sql import versions as version_store
from modelyard.transfer.local_copies import download_version

SUCCEEDED, FAILED, WAITING = "succeeded", "failed", "waiting"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a stage's attempt came to: ``succeeded``, ``failed`` or ``waiting`` (for a
    person or a time: the run is due again at ``wake_at``, or when woken)."""

    status: str
    outputs: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    wake_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StageWork:
    """A leased run and the stage to run now."""

    run: dict[str, Any]
    position: int
    stage: Mapping[str, Any]  # the stage's spec: name, uses, needs and its action's settings
    version: Version
    attempt: int
    resumed: bool  # the stage was already running: a worker died during it
    spec: Mapping[str, Any]  # the whole pipeline spec of the run's revision

    @property
    def earlier_outputs(self) -> list[Mapping[str, Any]]:
        return [s["outputs"] for s in self.run["stages"][: self.position]]

    @property
    def opened_attempt(self) -> int:
        """The attempt that began the stage's current execution (a retry begins a new one;
        a resumed attempt continues it)."""
        return int(self.run["stages"][self.position]["opened_attempt"])


class RunEngine(ServiceBase):
    """Records as the principal ``pipeline:<name>`` of each run's pipeline."""

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx, "pipeline")

    def now(self) -> datetime:
        return self._ctx.clock()

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every commit in this process that wrote an event (a run
        started, an approval decided: there may be work)."""
        self._ctx.db.add_commit_listener(callback)

    def _moves(self, run: Mapping[str, Any]) -> AliasMoves:
        """Environment moves done by the run's pipeline."""
        return AliasMoves(self._ctx, pipeline_actor(run))

    # --- leasing ----------------------------------------------------------------------

    def next_due_at(self) -> datetime | None:
        with self._ctx.db.transaction(write=False) as conn:
            return store.next_due_at(conn)

    def claim(self, *, worker: str, lease: timedelta) -> StageWork | None:
        """Lease the most overdue run and start (or resume) its current stage."""
        now = self._ctx.clock()
        with self._ctx.db.transaction(write=True) as conn:
            run_id = store.claim_due(conn, worker=worker, now=now, lease_until=now + lease)
            if run_id is None:
                return None
            run = store.get_run(conn, run_id)
            current = next(
                (s for s in run["stages"] if s["status"] not in (SUCCEEDED, "skipped")), None
            )
            if run["status"] not in store.ACTIVE or current is None:
                store.update_run(conn, run_id, next_run_at=None, lease_until=None, leased_by=None)
                return None
            spec = self._spec(conn, run["pipeline"], run["revision"])
            stage = spec["stages"][current["position"]]
            version = version_store.load_versions(
                conn, [version_store.version_id_of(conn, run["group"], run["version"])]
            )[0]
            resumed = current["status"] == "running"
            attempt = current["attempts"]
            fresh = current["status"] == "pending"
            if fresh or resumed:
                attempt += 1
                changes: dict[str, Any] = {"attempts": attempt}
                if fresh:
                    changes |= {"status": "running", "opened_attempt": attempt}
                    changes["started_at"] = now
                store.update_stage(conn, run_id, current["position"], **changes)
                current.update(changes)
                if "started_at" in changes:
                    current["started_at"] = iso_z(now)
            if run["status"] != "running":
                store.update_run(conn, run_id, status="running", updated_at=now)
                run["status"] = "running"
            if fresh:
                self._stage_event(conn, run, current["position"], now)
            return StageWork(
                run=run,
                position=current["position"],
                stage=stage,
                version=version,
                attempt=attempt,
                resumed=resumed,
                spec=spec,
            )

    def _spec(self, conn: Connection, pipeline: str, revision: int) -> Mapping[str, Any]:
        """A revision's spec (revisions never change, so they are cached)."""
        key = (pipeline, revision)
        found = self._ctx.caches.pipeline_specs.get(key)
        if found is None:
            found = dict(pipeline_store.get_revision(conn, pipeline, revision)["spec"])
            self._ctx.caches.pipeline_specs[key] = found
        return found

    def renew(self, work: StageWork, *, worker: str, lease: timedelta) -> bool:
        """Extend our lease on the run while a long stage runs (False: we lost it)."""
        with self._ctx.db.transaction(write=True) as conn:
            return store.renew_lease(
                conn, work.run["id"], worker=worker, lease_until=self._ctx.clock() + lease
            )

    # --- recording ----------------------------------------------------------------------

    def log(self, work: StageWork, lines: Sequence[str]) -> None:
        """Append log lines to the stage (readable at once: ``run logs --follow``)."""
        if lines:
            with self._ctx.db.transaction(write=True) as conn:
                store.append_logs(conn, work.run["id"], work.position, lines, now=self._ctx.clock())

    def finish(
        self, work: StageWork, outcome: Outcome, *, logs: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Record the stage's outcome (and its last log lines), move the run on, release it."""
        now = self._ctx.clock()
        run_id, position = work.run["id"], work.position
        with self._ctx.db.transaction(write=True) as conn:
            store.append_logs(conn, run_id, position, logs, now=now)
            run = store.get_run(conn, run_id)
            if _stale(run, work):  # cancelled (and perhaps retried) meanwhile
                if run["status"] not in store.ACTIVE:
                    store.update_run(
                        conn, run_id, lease_until=None, leased_by=None, next_run_at=None
                    )
                return run
            values: dict[str, Any] = {
                "status": outcome.status,
                "outputs": dict(outcome.outputs),
                "error": outcome.error,
            }
            if outcome.status != WAITING:
                values["finished_at"] = now
            store.update_stage(conn, run_id, position, **values)
            run_values = _next(run, position, outcome, now)
            store.update_run(conn, run_id, **run_values)
            _patch(run, position, values, run_values)  # as now stored, without reading it
            if outcome.status != WAITING or work.stage["uses"] != "approval" or not work.resumed:
                self._stage_event(conn, run, position, now)
            if run["status"] in (SUCCEEDED, FAILED):
                self._record(
                    conn,
                    actor=pipeline_actor(run),
                    action="pipeline.finish",
                    resource=run_resource(run),
                    event_type="pipeline.run_finished",
                    data=_run_event(run),
                    now=now,
                )
            return run

    def _stage_event(
        self, conn: Connection, run: dict[str, Any], position: int, now: datetime
    ) -> None:
        stage = run["stages"][position]
        self._record(
            conn,
            actor=pipeline_actor(run),
            action="pipeline.stage",
            resource=run_resource(run),
            event_type="pipeline.stage_changed",
            data=_run_event(run)
            | {
                "stage": stage["name"],
                "uses": stage["uses"],
                "stage_status": stage["status"],
                "attempt": stage["attempts"],
                "stage_error": stage["error"],
            },
            now=now,
        )

    # --- what actions need ----------------------------------------------------------------

    def materialize(self, work: StageWork, target: Path) -> None:
        """Write the run's version's files into ``target``, verifying every digest."""
        download_version(self._ctx.blobs, work.version, target)

    def evidence_of(self, version: Version) -> Evidence:
        """The candidate's scan and signatures, as release policies see them (for gates)."""
        with self._ctx.db.transaction(write=False) as conn:
            return evidence_of(conn, version, self._ctx.keys.manifest.public_key())

    def environments_of(self, group: str) -> dict[str, Version | None]:
        """Every environment name a gate may read and the version it serves in ``group`` now
        (None: nothing, or not an environment of this group)."""
        with self._ctx.db.transaction(write=False) as conn:
            group_id = group_store.group_id_of(conn, group)
            current = alias_store.list_aliases(conn, group_id)
            found: dict[str, Version | None] = dict.fromkeys(
                pipeline_store.known_environments(conn)
            )
            for env in group_store.protected_aliases(conn, group):
                number = current.get(env)
                found[env] = (
                    None
                    if number is None
                    else version_store.load_versions(
                        conn, [version_store.version_id_of(conn, group, number)]
                    )[0]
                )
            return found

    def open_approval(self, work: StageWork) -> dict[str, Any]:
        """The stage's approval request, opened (with an ``approval.requested`` event) on
        the stage's first attempt."""
        config = work.stage
        now = self._ctx.clock()
        with self._ctx.db.transaction(write=True) as conn:
            attempt = work.run["stages"][work.position]["attempts"]
            existing = approval_store.request_for_stage(
                conn, work.run["id"], work.position, since_attempt=work.opened_attempt
            )
            if existing is not None:
                return existing
            approvers = config["approvers"]
            request = approval_store.insert_request(
                conn,
                run_id=work.run["id"],
                position=work.position,
                attempt=attempt,
                group=work.version.group,
                version=work.version.number,
                role=approvers["role"],
                count=approvers["count"],
                principals=approvers.get("principals") or [],
                allow_registrant=approvers["allow_registrant"],
                registrant=work.version.created_by,
                now=now,
                expires_at=now + timedelta(seconds=config["timeout"]),
            )
            self._record(
                conn,
                actor=pipeline_actor(work.run),
                action="approval.request",
                resource=approval_resource(request),
                event_type="approval.requested",
                data={
                    "group": request["group"],
                    "version": request["version"],
                    "reference": request["reference"],
                    "approval": request["id"],
                    "run_id": request["run_id"],
                    "pipeline": request["pipeline"],
                    "stage": work.stage["name"],
                    "role": request["role"],
                    "count": request["count"],
                    "principals": request["principals"],
                    "expires_at": request["expires_at"],
                },
                now=now,
            )
            return request

    def expire_approval(self, request: Mapping[str, Any]) -> None:
        now = self._ctx.clock()
        with self._ctx.db.transaction(write=True) as conn:
            approval_store.set_status(conn, request["id"], "expired", now=now)

    def set_approval_status(
        self, work: StageWork, status: ApprovalStatus, *, actor: str, comment: str
    ) -> bool:
        """Record the pipeline's approval decision on the version (False: it already had
        that status)."""
        now = self._ctx.clock()
        with self._ctx.db.transaction(write=True) as conn:
            version_id = version_store.version_id_of(conn, work.version.group, work.version.number)
            before = version_store.load_versions(conn, [version_id])[0]
            if before.approval_status is status:
                return False
            if status is ApprovalStatus.APPROVED:
                enforce_policy(
                    conn,
                    before,
                    APPROVAL,
                    actor=actor,
                    action="version.decide",
                    resource=before.reference,
                    registry_key=self._ctx.keys.manifest.public_key(),
                )
            decision = ApprovalDecision(
                reference=before.reference,
                status=status,
                previous_status=before.approval_status,
                actor=actor,
                comment=comment,
                decided_at=now,
            )
            version_store.insert_decision(conn, version_id, decision)
            version_store.update_version(conn, version_id, now=now, approval_status=status.value)
            self._record(
                conn,
                actor=pipeline_actor(work.run),
                action="version.decide",
                resource=before.reference,
                event_type="version.approval_changed",
                data={
                    "group": before.group,
                    "version": before.number,
                    "reference": before.reference,
                    "approval_status": status.value,
                    "manifest_digest": before.manifest_digest,
                    "created_by": before.created_by,
                    "created_at": iso_z(before.created_at),
                    "comment": comment,
                    "decided_by": actor,
                    "run_id": work.run["id"],
                    "pipeline": work.run["pipeline"],
                    "previous": {"approval_status": before.approval_status.value},
                },
                now=now,
            )
            return True

    def start_deployment(self, work: StageWork, environment: str) -> dict[str, Any] | None:
        """Move the environment to the run's version (policy-checked) and return the
        in-progress deployment; or the deployment this stage already started (a worker died
        during or after it: in progress, or finished); or None when the environment already
        serves the version (nothing to do)."""
        now = self._ctx.clock()
        group = work.version.group
        with self._ctx.db.transaction(write=True) as conn:
            mine = deployment_store.latest_of_run(
                conn, group, environment, work.run["id"], since_attempt=work.opened_attempt
            )
            if mine is not None and mine["version"] == work.version.number:
                return mine
            current = alias_store.current_alias(
                conn, group_store.group_id_of(conn, group), environment
            )
            if current == work.version.number:
                return None
            return self._moves(work.run)._start_deployment(
                conn,
                work.version.group,
                environment,
                work.version.number,
                kind="deploy",
                reason=f"pipeline {work.run['pipeline']} run {work.run['id']}",
                run_id=work.run["id"],
                run_attempt=work.attempt,
                now=now,
            )

    def end_deployment(
        self, work: StageWork, deployment: Mapping[str, Any], *, error: str, roll_back: bool
    ) -> dict[str, Any]:
        now = self._ctx.clock()
        engine = self._moves(work.run)
        with self._ctx.db.transaction(write=True) as conn:
            if error and roll_back:
                return engine._roll_back_deployment(conn, dict(deployment), error=error, now=now)
            return engine._finish_deployment(conn, dict(deployment), error=error, now=now)

    def emit(self, work: StageWork, event_type: str, data: Mapping[str, Any]) -> str:
        """A ``notify`` stage's custom event; returns its id."""
        now = self._ctx.clock()
        with self._ctx.db.transaction(write=True) as conn:
            event = self._record(
                conn,
                actor=pipeline_actor(work.run),
                action="pipeline.notify",
                resource=run_resource(work.run),
                event_type=event_type,
                data={
                    "group": work.version.group,
                    "version": work.version.number,
                    "reference": work.version.reference,
                    "run_id": work.run["id"],
                    "pipeline": work.run["pipeline"],
                    **data,
                },
                now=now,
            )
            return event.id

    def start_triggered_run(self, pipeline: str, event: Mapping[str, Any]) -> str:
        """The ``pipeline`` rule target: start a run for the event's version (once per event:
        a redelivered event finds its run). Returns what happened, for the delivery log."""
        data = event.get("data") or {}
        group, number = data.get("group"), data.get("version")
        if not isinstance(group, str) or not isinstance(number, int):
            return "not a version event: no run started"
        event_id = str(event.get("id"))
        now = self._ctx.clock()
        engine = RunService(self._ctx, f"rule:pipeline-{pipeline}")
        try:
            with self._ctx.db.transaction(write=True) as conn:
                existing = store.run_for_trigger(conn, pipeline, event_id)
                if existing is not None:
                    return f"run {existing} already started for this event"
                run = engine._create_run(
                    conn,
                    pipeline,
                    group,
                    number,
                    trigger=f"event {event_id}",
                    now=now,
                    event_id=event_id,
                )
                return f"started run {run['id']}"
        except (ConflictError, NotFoundError) as e:
            return f"no run started: {e}"


def _stale(run: Mapping[str, Any], work: StageWork) -> bool:
    """Is ``work``'s outcome about an attempt the run no longer waits for?"""
    stage = run["stages"][work.position]
    return (
        run["status"] not in store.ACTIVE
        or stage["status"] not in ("running", WAITING)
        or stage["attempts"] != work.attempt
    )


def _next(run: Mapping[str, Any], position: int, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The run's new state after a stage's outcome (its lease released)."""
    values: dict[str, Any] = {"updated_at": now, "lease_until": None, "leased_by": None}
    if outcome.status == WAITING:
        return values | {"status": WAITING, "next_run_at": outcome.wake_at}
    if outcome.status == FAILED:
        stage = run["stages"][position]["name"]
        return values | {
            "status": FAILED,
            "error": f"stage {stage} failed: {outcome.error}",
            "finished_at": now,
            "next_run_at": None,
        }
    if position == len(run["stages"]) - 1:
        return values | {"status": SUCCEEDED, "finished_at": now, "next_run_at": None}
    return values | {"status": "running", "next_run_at": now}


def _patch(
    run: dict[str, Any],
    position: int,
    stage_values: Mapping[str, Any],
    run_values: Mapping[str, Any],
) -> None:
    """Apply stored changes to the in-memory run, in the shape ``get_run`` returns."""
    shown = {k: iso_z(v) if isinstance(v, datetime) else v for k, v in stage_values.items()}
    run["stages"][position].update(shown)
    for name in ("status", "error", "finished_at", "updated_at"):
        if name in run_values:
            value = run_values[name]
            run[name] = iso_z(value) if isinstance(value, datetime) else value


def pipeline_actor(run: Mapping[str, Any]) -> str:
    """Who a run's automatic steps are recorded as: ``pipeline:<name>``."""
    return f"pipeline:{run['pipeline']}"
