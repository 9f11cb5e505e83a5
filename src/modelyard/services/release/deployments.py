"""Use cases for environments: deploy a version, roll back, and what served when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from modelyard.domain.access import Action
from modelyard.domain.names import validate_alias_name, validate_group_name
from modelyard.domain.paging import check_limit
from modelyard.domain.times import iso_z
from modelyard.domain.values import validate_text
from modelyard.errors import ConflictError, NotFoundError, ValidationError
from modelyard.services.catalog.alias_moves import AliasMoves
from modelyard.services.catalog.aliases import MAX_REASON_LENGTH
from modelyard.store.sql import aliases as alias_store
from modelyard.store.sql import deployments as store
from modelyard.store.sql import groups as group_store
from modelyard.store.sql.versions import load_versions


class DeploymentService(AliasMoves):
    def deploy(self, ref: str, *, to: str, reason: str = "") -> dict[str, Any]:
        """Deploy version ``ref`` (``fraud/7``, or ``fraud@staging`` to promote) to the
        environment ``to``: its policy is checked (production: Approved), the environment
        moves, and the deployment is recorded and audited."""
        parsed = self._parse(ref)
        validate_alias_name(to, field="to")
        reason = validate_text(reason, field="reason", max_length=MAX_REASON_LENGTH)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.ALIAS_SET_PROTECTED, parsed.group, f"{parsed.group}@{to}")
            self._check_environment(conn, parsed.group, to, field="to")
            number = load_versions(conn, [self._version_id(conn, parsed)])[0].number
            return self._deploy_now(
                conn, parsed.group, to, number, kind="deploy", reason=reason, now=now
            )

    def rollback(self, group: str, *, env: str, reason: str = "") -> dict[str, Any]:
        """Put ``env`` back on the version of its newest successful deployment other than
        the current one; refuses when there is none."""
        validate_group_name(group)
        validate_alias_name(env, field="env")
        reason = validate_text(reason, field="reason", max_length=MAX_REASON_LENGTH)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.ALIAS_SET_PROTECTED, group, f"{group}@{env}")
            self._check_environment(conn, group, env, field="env")
            group_id = group_store.group_id_of(conn, group)
            current = alias_store.current_alias(conn, group_id, env)
            target = next(
                (d for d in store.succeeded(conn, group, env) if d["version"] != current), None
            )
            if target is None:
                raise ConflictError(
                    f"{group}@{env} has no earlier successful deployment to roll back to",
                    field="env",
                )
            why = reason or f"rollback to deployment #{target['id']}"
            return self._deploy_now(
                conn, group, env, target["version"], kind="rollback", reason=why, now=now
            )

    def environment_history(
        self, group: str, env: str, *, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The environment's deployments, newest first (pipeline, manual, rollbacks)."""
        validate_group_name(group)
        validate_alias_name(env, field="env")
        limit = check_limit(limit)
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, group)
            self._check_environment(conn, group, env, field="env")
            return store.history(conn, group, env, limit=limit)

    def environment_at(self, group: str, env: str, *, time: str | datetime) -> dict[str, Any]:
        """Which version served ``env`` at ``time`` (ISO-8601): ``version`` is None when none
        did; ``since`` is when it got there."""
        validate_group_name(group)
        validate_alias_name(env, field="env")
        moment = _parse_time(time)
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, group)
            self._check_environment(conn, group, env, field="env")
            group_id = group_store.group_id_of(conn, group)
            moves = [m for m in alias_store.history(conn, group_id, group, env) if m.at <= moment]
        last = moves[-1] if moves else None
        return {
            "group": group,
            "environment": env,
            "time": iso_z(moment),
            "version": last.version if last else None,
            "reference": f"{group}/{last.version}" if last and last.version else None,
            "since": iso_z(last.at) if last else None,
            "by": last.actor if last else None,
        }

    def _check_environment(self, conn: Connection, group: str, env: str, *, field: str) -> None:
        environments = group_store.protected_aliases(conn, group)
        if not environments:
            group_store.get_group(conn, group)  # a missing group is reported as such
        if env not in environments:
            raise NotFoundError(
                f"{env!r} is not an environment of {group} "
                f"(its environments: {', '.join(environments) or 'none'})",
                field=field,
            )


def _parse_time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (ValueError, AttributeError):
            raise ValidationError(
                f"time: {value!r} is not an ISO-8601 time like 2026-10-01T12:00Z", field="time"
            ) from None
    if moment.tzinfo is None:
        raise ValidationError(f"time: {value!r} has no time zone (add Z for UTC)", field="time")
    return moment
