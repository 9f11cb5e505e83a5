"""Use cases for access: principals, API tokens, role bindings, checks, authentication."""

from __future__ import annotations

import secrets
import string
import time
from datetime import datetime

from sqlalchemy import Connection

from modelyard.domain.access import (
    Action,
    Binding,
    Decision,
    decide,
    parse_action,
    parse_role,
    validate_pattern,
)
from modelyard.domain.paging import Keyset, Page, paged
from modelyard.domain.principals import (
    ApiToken,
    IssuedToken,
    Principal,
    PrincipalKind,
    format_token,
    hash_secret,
    parse_lifetime,
    secret_matches,
    split_token,
    validate_principal_name,
)
from modelyard.domain.references import Reference, parse_reference
from modelyard.domain.values import validate_text
from modelyard.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from modelyard.services.base import ServiceBase, request_details
from modelyard.store.sql import access as store
from modelyard.store.sql import audit as audit_store
from modelyard.store.sql.groups import get_group
from modelyard.store.sql.versions import load_versions

LOCAL_PRINCIPAL = "local"
ANONYMOUS = "anonymous"
LAST_USED_RESOLUTION_S = 60.0  # last-used times are recorded at most once a minute per token
_ID_ALPHABET = string.ascii_lowercase + string.digits

#: Short verbs ``access check`` understands, besides the action names themselves.
VERBS: dict[str, Action] = {
    "read": Action.VERSION_READ,
    "register": Action.VERSION_CREATE,
    "tag": Action.VERSION_UPDATE,
    "describe": Action.VERSION_UPDATE,
    "approve": Action.VERSION_APPROVE,
    "reject": Action.VERSION_APPROVE,
    "alias": Action.ALIAS_SET,
    "deploy": Action.ALIAS_SET_PROTECTED,
    "create-group": Action.GROUP_CREATE,
    "configure": Action.GROUP_CONFIGURE,
    "archive": Action.GROUP_ARCHIVE,
}


class AccessService(ServiceBase):
    # -- principals -------------------------------------------------------------------

    def create_principal(self, name: str, *, service: bool = False) -> Principal:
        """A user (or, with ``service``, a service account) that tokens and roles attach to."""
        validate_principal_name(name)
        kind = PrincipalKind.SERVICE if service else PrincipalKind.USER
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.ACCESS_ADMIN, None, f"principal:{name}")
            try:
                store.get_principal(conn, name)
            except NotFoundError:
                pass
            else:
                raise ConflictError(f"principal {name!r} already exists", field="principal")
            principal = store.insert_principal(conn, name, kind, actor=self.actor, now=now)
            self._record_access(conn, "principal.create", f"principal:{name}", now, kind=kind)
            return principal

    @paged
    def list_principals(self, *, limit: int = 100, cursor: str | None = None) -> Page[Principal]:
        """Principals by name."""
        keyset = Keyset("principals", cursor=cursor, limit=limit)
        with self._read() as conn:
            self._authorize(conn, Action.ACCESS_ADMIN, None, "principals")
            found = store.list_principals(conn, after=keyset.after_value(), limit=keyset.fetch)
        return keyset.page(found, lambda p: [p.name])

    def whoami(self) -> dict[str, object]:
        """The acting principal and its role bindings (needs no role)."""
        with self._read() as conn:
            bindings = store.bindings_of(conn, self.actor)
        return {"principal": self.actor, "bindings": [b.to_dict() for b in bindings]}

    # -- tokens -----------------------------------------------------------------------

    def create_token(
        self, principal: str, *, expires: str | None = "90d", description: str = ""
    ) -> IssuedToken:
        """A new API token for ``principal``; its secret is in the result and nowhere else."""
        validate_principal_name(principal)
        lifetime = parse_lifetime(expires)
        description = validate_text(description, field="description", max_length=255)
        secret = secrets.token_urlsafe(32)
        token_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.ACCESS_ADMIN, None, f"principal:{principal}")
            token = store.insert_token(
                conn,
                token_id=token_id,
                principal=principal,
                secret_hash=hash_secret(secret),
                description=description,
                actor=self.actor,
                now=now,
                expires_at=now + lifetime if lifetime else None,
            )
            self._record_access(
                conn,
                "token.create",
                f"token:{token_id}",
                now,
                principal=principal,
                expires_at=token.expires_at.isoformat() if token.expires_at else None,
            )
        return IssuedToken(token=token, secret=format_token(token_id, secret))

    @paged
    def list_tokens(
        self, *, principal: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> Page[ApiToken]:
        """Tokens (never their secrets), oldest first: all of them, or one principal's."""
        keyset = Keyset("tokens", principal, cursor=cursor, limit=limit)
        after = None if keyset.after is None else (keyset.after[0], str(keyset.after[1]))
        with self._read() as conn:
            if principal != self.actor:
                self._authorize(conn, Action.ACCESS_ADMIN, None, "tokens")
            found = store.list_tokens(conn, principal, after=after, limit=keyset.fetch)
        return keyset.page(found, lambda t: [t.created_at, t.id])

    def revoke_token(self, token_id: str) -> ApiToken:
        """Revoke a token at once; an admin may revoke any, a principal its own."""
        if not isinstance(token_id, str) or not token_id:
            raise ValidationError("token: give the token's id", field="token")
        now = self._ctx.clock()
        with self._write() as conn:
            found = store.token_with_hash(conn, token_id)
            if found is None or found[0].principal != self.actor:
                # authorization first: a non-admin learns nothing about others' tokens
                self._authorize(conn, Action.ACCESS_ADMIN, None, f"token:{token_id}")
            token = store.get_token(conn, token_id)
            if token.revoked_at is not None:
                raise ConflictError(f"token {token_id!r} is already revoked", field="token")
            store.revoke_token(conn, token_id, now)
            self._record_access(
                conn, "token.revoke", f"token:{token_id}", now, principal=token.principal
            )
            return store.get_token(conn, token_id)

    def authenticate(self, bearer: str | None) -> str:
        """The principal a bearer token belongs to; failures are audited (without secrets)."""
        now = self._ctx.clock()
        principal, failure = self._check_token(bearer, now)
        if failure is not None:
            with self._ctx.db.transaction(write=True) as conn:
                audit_store.append_audit(
                    conn,
                    at=now,
                    actor=ANONYMOUS,
                    action="authenticate",
                    resource=failure[1],
                    outcome="denied",
                    details=request_details({"reason": failure[0]}),
                )
            raise AuthenticationError(f"authentication failed: {failure[0]}", field="authorization")
        assert principal is not None
        return principal

    def _check_token(
        self, bearer: str | None, now: datetime
    ) -> tuple[str | None, tuple[str, str] | None]:
        if not bearer:
            return None, ("no API token was sent (Authorization: Bearer <token>)", "token")
        parts = split_token(bearer)
        if parts is None:
            return None, ("the API token is malformed", "token")
        token_id, secret = parts
        with self._read() as conn:
            found = store.token_with_hash(conn, token_id)
        if found is None or not secret_matches(secret, found[1]):
            return None, ("the API token is unknown", f"token:{token_id}")
        token = found[0]
        state = token.state(now)
        if state != "active":
            return None, (f"the API token is {state}", f"token:{token_id}")
        self._touch(token_id, now)
        return token.principal, None

    def _touch(self, token_id: str, now: datetime) -> None:
        touched = self._ctx.caches.token_touched
        last = touched.get(token_id)
        if last is not None and time.monotonic() - last < LAST_USED_RESOLUTION_S:
            return
        touched[token_id] = time.monotonic()
        with self._ctx.db.transaction(write=True) as conn:
            store.touch_token(conn, token_id, now)

    # -- role bindings ----------------------------------------------------------------

    def grant(self, principal: str, role: str, *, groups: str = "*") -> Binding:
        """Give ``principal`` ``role`` on the groups matching ``groups`` (e.g. ``fraud-*``)."""
        validate_principal_name(principal)
        parsed_role = parse_role(role)
        pattern = validate_pattern(groups)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.ACCESS_ADMIN, None, f"principal:{principal}")
            existing = store.bindings_of(conn, principal)
            if any(b.role is parsed_role and b.pattern == pattern for b in existing):
                raise ConflictError(f"{principal} already has {role} on {pattern!r}", field="role")
            binding = store.insert_binding(
                conn, principal, parsed_role, pattern, actor=self.actor, now=now
            )
            self._record_access(
                conn, "access.grant", f"principal:{principal}", now, role=role, groups=pattern
            )
            return binding

    def revoke(self, principal: str, role: str, *, groups: str = "*") -> None:
        """Remove one role binding."""
        validate_principal_name(principal)
        parsed_role = parse_role(role)
        pattern = validate_pattern(groups)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.ACCESS_ADMIN, None, f"principal:{principal}")
            if not store.delete_binding(conn, principal, parsed_role, pattern):
                raise NotFoundError(
                    f"{principal} has no {role} binding on {pattern!r}", field="role"
                )
            self._record_access(
                conn, "access.revoke", f"principal:{principal}", now, role=role, groups=pattern
            )

    def list_bindings(self, *, principal: str | None = None) -> list[Binding]:
        with self._read() as conn:
            if principal != self.actor:
                self._authorize(conn, Action.ACCESS_ADMIN, None, "bindings")
            return store.list_bindings(conn, principal)

    def check_access(self, principal: str, action: str, target: str) -> Decision:
        """Would ``principal`` be allowed ``action`` (a verb or action name) on ``target``
        (a group or a reference)? Explains which binding allows or why it is denied."""
        validate_principal_name(principal)
        parsed_action = VERBS.get(action) or parse_action(action)
        group = target if "/" not in target and "@" not in target else None
        reference = None if group else parse_reference(target)
        with self._read() as conn:
            if principal != self.actor:
                self._authorize(conn, Action.ACCESS_ADMIN, None, f"principal:{principal}")
            store.principal_id(conn, principal)
            decision = decide(
                principal,
                store.bindings_of(conn, principal),
                parsed_action,
                group or (reference.group if reference else None),
            )
            if decision.allowed and reference and parsed_action is Action.VERSION_APPROVE:
                return self._explain_self_approval(conn, decision, reference)
            return decision

    def _explain_self_approval(
        self, conn: Connection, decision: Decision, reference: Reference
    ) -> Decision:
        version = load_versions(conn, [self._version_id(conn, reference)])[0]
        if version.created_by != decision.principal:
            return decision
        if get_group(conn, version.group).allow_self_approval:
            return decision
        return Decision(
            False,
            decision.principal,
            decision.action,
            decision.group,
            decision.binding,
            f"{decision.principal} registered {version.reference}: separation of duties "
            "forbids approving it (an admin may break glass)",
        )

    # -- bootstrap --------------------------------------------------------------------

    def ensure_admin(self, name: str) -> bool:
        """Create principal ``name`` with ``admin`` on ``*`` unless it exists (first start).

        Returns whether it was created. This is the one write that needs no caller role:
        it only ever adds the first administrator of a store.
        """
        now = self._ctx.clock()
        with self._write() as conn:
            try:
                store.principal_id(conn, name)
                return False
            except NotFoundError:
                pass
            store.insert_principal(conn, name, PrincipalKind.USER, actor="modelyard", now=now)
            store.insert_binding(conn, name, parse_role("admin"), "*", actor="modelyard", now=now)
            audit_store.append_audit(
                conn,
                at=now,
                actor="modelyard",
                action="principal.bootstrap",
                resource=f"principal:{name}",
                outcome="allowed",
                details={"role": "admin", "groups": "*"},
            )
            return True

    def _record_access(
        self, conn: Connection, action: str, resource: str, now: datetime, **data: object
    ) -> None:
        event_type = {
            "principal.create": "principal.created",
            "token.create": "token.created",
            "token.revoke": "token.revoked",
            "access.grant": "access.granted",
            "access.revoke": "access.revoked",
        }[action]
        details = {k: (v.value if hasattr(v, "value") else v) for k, v in data.items()}
        self._record(
            conn,
            action=action,
            resource=resource,
            event_type=event_type,
            data={"group": None, "resource": resource, **details},
            now=now,
        )
