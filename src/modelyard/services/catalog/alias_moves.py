"""Moving aliases, and deploying to environments (protected aliases), inside a caller's
transaction: shared by ``AliasService`` and ``DeploymentService`` (and the pipeline engine)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from modelyard.domain.model import AliasMove
from modelyard.errors import ConflictError
from modelyard.services.base import ServiceBase
from modelyard.services.release.policies import enforce_policy
from modelyard.store.sql import aliases as store
from modelyard.store.sql import deployments as deployment_store
from modelyard.store.sql import groups as group_store
from modelyard.store.sql.versions import load_versions, version_id_of


class AliasMoves(ServiceBase):
    def _move_alias(
        self,
        conn: Connection,
        group_id: int,
        group: str,
        alias: str,
        number: int | None,
        *,
        reason: str,
        now: datetime,
    ) -> int | None:
        """Point the alias at ``number`` (None: remove it), with its history entry, audit
        entry and event; returns the version it pointed at before."""
        previous = store.current_alias(conn, group_id, alias)
        if previous == number:
            raise ConflictError(
                f"{group}@{alias} already points at version {number}", field="version"
            )
        if number is None:
            store.remove_alias(conn, group_id, alias)
        else:
            store.move_alias(
                conn,
                group_id=group_id,
                name=alias,
                version_id=version_id_of(conn, group, number),
                exists=previous is not None,
                actor=self.actor,
                now=now,
            )
        move = AliasMove(
            group=group,
            alias=alias,
            version=number,
            previous_version=previous,
            actor=self.actor,
            reason=reason,
            at=now,
        )
        store.record_move(conn, move, group_id)
        data: dict[str, Any] = {"group": group, "alias": alias}
        if number is not None:
            data |= {"version": number, "reference": f"{group}/{number}"}
        self._record(
            conn,
            action="alias.set" if number is not None else "alias.delete",
            resource=f"{group}@{alias}",
            event_type="alias.set" if number is not None else "alias.deleted",
            now=now,
            data=data | {"reason": reason, "previous": {"version": previous}},
        )
        return previous

    def _start_deployment(
        self,
        conn: Connection,
        group: str,
        environment: str,
        number: int,
        *,
        kind: str,
        reason: str,
        now: datetime,
        run_id: int | None = None,
        run_attempt: int | None = None,
    ) -> dict[str, Any]:
        """Check the environment's policy, move it to ``number`` and record an in-progress
        deployment. The caller has authorized the move (``alias.set_protected``)."""
        group_id = group_store.group_id_of(conn, group, for_update=True)  # one at a time
        busy = deployment_store.in_progress(conn, group, environment)
        if busy is not None:
            raise ConflictError(
                f"deployment #{busy['id']} of {busy['reference']} to {group}@{environment} "
                f"(by {busy['actor']}) is still in progress; one deployment per environment "
                "at a time",
                field="environment",
            )
        previous = store.current_alias(conn, group_id, environment)
        if previous == number:
            raise ConflictError(
                f"{group}@{environment} already runs version {number}", field="version"
            )
        version = load_versions(conn, [version_id_of(conn, group, number)])[0]
        enforce_policy(
            conn,
            version,
            environment,
            actor=self.actor,
            action="deployment.start",
            resource=f"{group}@{environment}",
            registry_key=self._ctx.keys.manifest.public_key(),
        )
        deployment_id = deployment_store.insert_deployment(
            conn,
            group=group,
            environment=environment,
            version=number,
            previous_version=previous,
            kind=kind,
            run_id=run_id,
            run_attempt=run_attempt,
            actor=self.actor,
            reason=reason,
            now=now,
        )
        deployment = deployment_store.get(conn, deployment_id)
        self._record_deployment(
            conn, deployment, action="deployment.start", event_type="deployment.started", now=now
        )
        self._move_alias(conn, group_id, group, environment, number, reason=reason, now=now)
        return deployment

    def _finish_deployment(
        self, conn: Connection, deployment: dict[str, Any], *, error: str = "", now: datetime
    ) -> dict[str, Any]:
        """Mark a deployment succeeded (no ``error``) or failed (the environment stays)."""
        status = deployment_store.SUCCEEDED if not error else deployment_store.FAILED
        deployment_store.finish(conn, deployment["id"], status, error=error, now=now)
        finished = deployment_store.get(conn, deployment["id"])
        self._record_deployment(
            conn,
            finished,
            action="deployment.finish",
            event_type="deployment.succeeded" if not error else "deployment.failed",
            now=now,
        )
        return finished

    def _roll_back_deployment(
        self, conn: Connection, deployment: dict[str, Any], *, error: str, now: datetime
    ) -> dict[str, Any]:
        """A deployment failed its health check: put the environment back where it was."""
        group, environment = deployment["group"], deployment["environment"]
        group_id = group_store.group_id_of(conn, group, for_update=True)
        reason = f"automatic rollback of deployment #{deployment['id']}: {error}"
        self._move_alias(
            conn,
            group_id,
            group,
            environment,
            deployment["previous_version"],
            reason=reason[:4096],
            now=now,
        )
        deployment_store.finish(
            conn, deployment["id"], deployment_store.ROLLED_BACK, error=error, now=now
        )
        finished = deployment_store.get(conn, deployment["id"])
        self._record_deployment(
            conn,
            finished,
            action="deployment.rollback",
            event_type="deployment.rolled_back",
            now=now,
        )
        return finished

    def _deploy_now(
        self,
        conn: Connection,
        group: str,
        environment: str,
        number: int,
        *,
        kind: str,
        reason: str,
        now: datetime,
    ) -> dict[str, Any]:
        """A deployment with nothing to wait for (no hook, no health check)."""
        started = self._start_deployment(
            conn, group, environment, number, kind=kind, reason=reason, now=now
        )
        return self._finish_deployment(conn, started, now=now)

    def _record_deployment(
        self,
        conn: Connection,
        deployment: dict[str, Any],
        *,
        action: str,
        event_type: str,
        now: datetime,
    ) -> None:
        self._record(
            conn,
            action=action,
            resource=f"{deployment['group']}@{deployment['environment']}",
            event_type=event_type,
            data={
                "group": deployment["group"],
                "environment": deployment["environment"],
                "version": deployment["version"],
                "reference": deployment["reference"],
                "deployment": deployment["id"],
                "kind": deployment["kind"],
                "status": deployment["status"],
                "run_id": deployment["run_id"],
                "actor": deployment["actor"],
                "reason": deployment["reason"],
                "error": deployment["error"],
                "previous": {"version": deployment["previous_version"]},
            },
            now=now,
        )
