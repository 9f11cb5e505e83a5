"""What every service shares: the context, the acting principal and its authorization, and
the journal (audit log + outbox)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from modelyard.domain.access import Action, Binding, Decision, decide
from modelyard.domain.events import Event
from modelyard.domain.model import Version
from modelyard.domain.references import Reference, parse_reference
from modelyard.errors import NotFoundError, PermissionDeniedError, PolicyError
from modelyard.services.context import ServiceContext
from modelyard.store.sql import access as access_store
from modelyard.store.sql import audit as audit_store
from modelyard.store.sql import journal
from modelyard.store.sql.groups import get_group
from modelyard.store.sql.versions import load_versions, version_id_by_alias, version_id_of

#: What the HTTP layer is serving (method and path, never headers or bodies); audit
#: entries written while it is set record it as their request summary.
REQUEST: ContextVar[dict[str, str] | None] = ContextVar("modelyard_request", default=None)


def request_details(details: dict[str, Any]) -> dict[str, Any]:
    request = REQUEST.get()
    return details if request is None else {**details, "request": request}


class AccessDenied(PermissionDeniedError):
    """A denial by the authorization rules; recorded in the audit log as it propagates."""

    def __init__(
        self, message: str, *, principal: str, action: str, resource: str, reason: str
    ) -> None:
        super().__init__(message, field="principal")
        self.principal, self.action, self.resource, self.reason = (
            principal,
            action,
            resource,
            reason,
        )
        self.audited = False

    @classmethod
    def of(cls, decision: Decision, resource: str) -> AccessDenied:
        return cls(
            f"{decision.principal} may not {decision.action.value} on {resource}: "
            f"{decision.reason}",
            principal=decision.principal,
            action=decision.action.value,
            resource=resource,
            reason=decision.reason,
        )


class PolicyDenied(PolicyError):
    """A release policy's refusal; recorded in the audit log as it propagates."""

    def __init__(
        self,
        message: str,
        *,
        principal: str,
        action: str,
        resource: str,
        field: str = "environment",
    ) -> None:
        super().__init__(message, field=field)
        self.principal, self.action, self.resource = principal, action, resource
        self.reason = message
        self.audited = False


class ServiceBase:
    """A use case's view of the registry: the shared context, acting as one principal."""

    def __init__(self, ctx: ServiceContext, actor: str = "local") -> None:
        self._ctx = ctx
        self.actor = actor

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._ctx.db.transaction(write=True) as conn:
                yield conn
        except (AccessDenied, PolicyDenied) as denied:
            self._audit_denial(denied)
            raise

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._ctx.db.transaction(write=False) as conn:
                yield conn
        except (AccessDenied, PolicyDenied) as denied:
            self._audit_denial(denied)
            raise

    def _authorize(
        self, conn: Connection, action: Action, group: str | None, resource: str | None = None
    ) -> Decision:
        """Allow, or raise :class:`AccessDenied` (default deny); see ``domain/access.py``."""
        decision = decide(self.actor, self._bindings(conn), action, group)
        if not decision.allowed:
            raise AccessDenied.of(decision, resource or group or "*")
        return decision

    def _bindings(self, conn: Connection) -> list[Binding]:
        return access_store.bindings_of(conn, self.actor)

    def _audit_denial(self, denied: AccessDenied | PolicyDenied) -> None:
        """Append the denied attempt to the audit log in a transaction of its own."""
        if denied.audited:
            return
        denied.audited = True
        with self._ctx.db.transaction(write=True) as conn:
            audit_store.append_audit(
                conn,
                at=self._ctx.clock(),
                actor=denied.principal,
                action=denied.action,
                resource=denied.resource,
                outcome="denied",
                details=request_details({"reason": denied.reason}),
            )

    def _record(
        self,
        conn: Connection,
        *,
        action: str,
        resource: str,
        event_type: str,
        data: dict[str, Any],
        now: datetime,
        actor: str | None = None,
    ) -> Event:
        """Append the audit entry and the outbox event of a change, in its transaction
        (recorded as done by ``actor``, by default the acting principal)."""
        event = Event(id=str(uuid.uuid4()), type=event_type, subject=resource, time=now, data=data)
        audit_store.append_audit(
            conn,
            at=now,
            actor=actor or self.actor,
            action=action,
            resource=resource,
            outcome="allowed",
            details=request_details({"event_id": event.id, **data}),
        )
        journal.append_event(conn, event)
        return event

    def _load_version(self, ref: str | Reference) -> Version:
        parsed = self._parse(ref)
        with self._read() as conn:
            self._authorize(conn, Action.VERSION_READ, parsed.group, str(parsed))
            return load_versions(conn, [self._version_id(conn, parsed)])[0]

    def _version_id(self, conn: Connection, ref: Reference) -> int:
        if ref.number is not None:
            try:
                return version_id_of(conn, ref.group, ref.number)
            except NotFoundError:
                get_group(conn, ref.group)  # a missing group is reported as such
                raise
        assert ref.alias is not None
        if ref.alias == "latest":
            latest = get_group(conn, ref.group).latest_version
            return version_id_of(conn, ref.group, latest) if latest else self._no_versions(ref)
        try:
            return version_id_by_alias(conn, ref.group, ref.alias)
        except NotFoundError:
            get_group(conn, ref.group)  # a missing group is reported as such
            raise

    @staticmethod
    def _no_versions(ref: Reference) -> int:
        raise NotFoundError(f"{ref}: group {ref.group!r} has no versions yet", field="reference")

    @staticmethod
    def _parse(ref: str | Reference) -> Reference:
        return ref if isinstance(ref, Reference) else parse_reference(ref)
