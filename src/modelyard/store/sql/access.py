"""Principals, API tokens and role bindings (SQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, delete, insert, or_, select, update

from modelyard.domain.access import Binding, Role
from modelyard.domain.principals import ApiToken, Principal, PrincipalKind
from modelyard.errors import NotFoundError
from modelyard.store.sql.rows import utc, utc_or_none
from modelyard.store.sql.schema import api_tokens, principals, role_bindings


def insert_principal(
    conn: Connection, name: str, kind: PrincipalKind, *, actor: str, now: datetime
) -> Principal:
    conn.execute(
        insert(principals),
        {"name": name, "kind": kind.value, "created_by": actor, "created_at": now},
    )
    return Principal(name=name, kind=kind, created_at=now, created_by=actor)


def principal_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(principals.c.id).where(principals.c.name == name)).scalar()
    if found is None:
        raise NotFoundError(f"principal {name!r} does not exist", field="principal")
    return int(found)


def get_principal(conn: Connection, name: str) -> Principal:
    row = conn.execute(select(principals).where(principals.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"principal {name!r} does not exist", field="principal")
    return _principal(row)


def list_principals(
    conn: Connection, *, after: str | None = None, limit: int | None = None
) -> list[Principal]:
    """Principals by name, after ``after``."""
    query = select(principals).order_by(principals.c.name).limit(limit)
    if after is not None:
        query = query.where(principals.c.name > after)
    return [_principal(r) for r in conn.execute(query)]


def _principal(row: Row[Any]) -> Principal:
    return Principal(
        name=row.name,
        kind=PrincipalKind(row.kind),
        created_at=utc(row.created_at),
        created_by=row.created_by,
    )


def insert_token(
    conn: Connection,
    *,
    token_id: str,
    principal: str,
    secret_hash: str,
    description: str,
    actor: str,
    now: datetime,
    expires_at: datetime | None,
) -> ApiToken:
    conn.execute(
        insert(api_tokens),
        {
            "id": token_id,
            "principal_id": principal_id(conn, principal),
            "secret_hash": secret_hash,
            "description": description,
            "created_by": actor,
            "created_at": now,
            "expires_at": expires_at,
        },
    )
    return ApiToken(token_id, principal, description, now, actor, expires_at, None, None)


_TOKEN_QUERY = select(api_tokens, principals.c.name.label("principal")).join(
    principals, principals.c.id == api_tokens.c.principal_id
)


_TOKEN_BY_ID = _TOKEN_QUERY.where(api_tokens.c.id == bindparam("token_id"))


def token_with_hash(conn: Connection, token_id: str) -> tuple[ApiToken, str] | None:
    row = conn.execute(_TOKEN_BY_ID, {"token_id": token_id}).first()
    return None if row is None else (_token(row), row.secret_hash)


def get_token(conn: Connection, token_id: str) -> ApiToken:
    found = token_with_hash(conn, token_id)
    if found is None:
        raise NotFoundError(f"token {token_id!r} does not exist", field="token")
    return found[0]


def list_tokens(
    conn: Connection,
    principal: str | None,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[ApiToken]:
    """Tokens oldest first (by creation, then id), after the token whose key is ``after``."""
    t = api_tokens.c
    query = _TOKEN_QUERY.order_by(t.created_at, t.id).limit(limit)
    if principal is not None:
        query = query.where(principals.c.name == principal)
    if after is not None:
        created, token_id = after
        query = query.where(
            or_(t.created_at > created, and_(t.created_at == created, t.id > token_id))
        )
    return [_token(r) for r in conn.execute(query)]


def _token(row: Row[Any]) -> ApiToken:
    return ApiToken(
        id=row.id,
        principal=row.principal,
        description=row.description,
        created_at=utc(row.created_at),
        created_by=row.created_by,
        expires_at=utc_or_none(row.expires_at),
        revoked_at=utc_or_none(row.revoked_at),
        last_used_at=utc_or_none(row.last_used_at),
    )


def revoke_token(conn: Connection, token_id: str, now: datetime) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now))


def touch_token(conn: Connection, token_id: str, now: datetime) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))


_BINDING_QUERY = select(role_bindings, principals.c.name.label("principal")).join(
    principals, principals.c.id == role_bindings.c.principal_id
)


_BINDINGS_OF = _BINDING_QUERY.where(principals.c.name == bindparam("principal"))


def bindings_of(conn: Connection, principal: str) -> list[Binding]:
    return [_binding(r) for r in conn.execute(_BINDINGS_OF, {"principal": principal})]


def list_bindings(conn: Connection, principal: str | None) -> list[Binding]:
    query = _BINDING_QUERY.order_by(
        principals.c.name, role_bindings.c.pattern, role_bindings.c.role
    )
    if principal is not None:
        query = query.where(principals.c.name == principal)
    return [_binding(r) for r in conn.execute(query)]


def _binding(row: Row[Any]) -> Binding:
    return Binding(
        principal=row.principal,
        role=Role(row.role),
        pattern=row.pattern,
        created_at=utc(row.created_at),
        created_by=row.created_by,
        id=row.id,
    )


def insert_binding(
    conn: Connection, principal: str, role: Role, pattern: str, *, actor: str, now: datetime
) -> Binding:
    result = conn.execute(
        insert(role_bindings).returning(role_bindings.c.id),
        {
            "principal_id": principal_id(conn, principal),
            "role": role.value,
            "pattern": pattern,
            "created_by": actor,
            "created_at": now,
        },
    )
    return Binding(principal, role, pattern, now, actor, int(result.scalar_one()))


def delete_binding(conn: Connection, principal: str, role: Role, pattern: str) -> bool:
    result = conn.execute(
        delete(role_bindings).where(
            role_bindings.c.principal_id == principal_id(conn, principal),
            role_bindings.c.role == role.value,
            role_bindings.c.pattern == pattern,
        )
    )
    return bool(result.rowcount)
