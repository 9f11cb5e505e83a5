"""SQL repository for version signatures (append-only) and the keys each group trusts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select

from modelyard.domain.signing_keys import TrustedKey
from modelyard.errors import ConflictError, NotFoundError
from modelyard.store.sql.rows import utc
from modelyard.store.sql.schema import trusted_keys, version_signatures, versions

#: built once: the registry signs every registration
_INSERT = insert(version_signatures)


def insert_signature(
    conn: Connection,
    *,
    version_id: int,
    reference: str,
    kind: str,
    signer: str,
    key_id: str,
    bundle: dict[str, Any],
    actor: str,
    now: datetime,
    new_version: bool = False,
) -> None:
    """Record a signature; one per version, kind and key (a second one is a conflict).
    ``new_version``: the version is being inserted in this transaction, so it has none."""
    row = {
        "version_id": version_id,
        "kind": kind,
        "signer": signer,
        "key_id": key_id,
        "bundle": json.dumps(bundle, sort_keys=True),
        "created_by": actor,
        "created_at": now,
    }
    if new_version:
        conn.execute(_INSERT, row)
        return
    taken = conn.execute(
        select(version_signatures.c.signer).where(
            version_signatures.c.version_id == version_id,
            version_signatures.c.kind == kind,
            version_signatures.c.key_id == key_id,
        )
    ).first()
    if taken is not None:
        raise ConflictError(
            f"signature: {reference} already has a {kind} signature by key {taken.signer!r}",
            field="signature",
        )
    conn.execute(_INSERT, row)


def unsigned_version_ids(conn: Connection, *, limit: int) -> list[int]:
    """Versions without a registry signature (registered before manifests were signed)."""
    signed = select(version_signatures.c.version_id).where(version_signatures.c.kind == "registry")
    rows = conn.execute(
        select(versions.c.id)
        .where(versions.c.id.not_in(signed))
        .order_by(versions.c.id)
        .limit(limit)
    )
    return [int(r.id) for r in rows]


def signatures_of(conn: Connection, version_id: int) -> list[Row[Any]]:
    """The version's signature rows (registry first, then in the order they were added)."""
    rows = conn.execute(
        select(version_signatures)
        .where(version_signatures.c.version_id == version_id)
        .order_by(version_signatures.c.id)
    ).all()
    return sorted(rows, key=lambda row: row.kind != "registry")


def bundle_of(row: Row[Any]) -> dict[str, Any]:
    value = json.loads(row.bundle)
    return value if isinstance(value, dict) else {}


def insert_trusted_key(conn: Connection, group_id: int, key: TrustedKey) -> None:
    for column, value, what in (
        (trusted_keys.c.name, key.name, f"a trusted key named {key.name!r}"),
        (trusted_keys.c.key_id, key.key_id, "this key"),
    ):
        found = conn.execute(
            select(trusted_keys.c.name).where(trusted_keys.c.group_id == group_id, column == value)
        ).first()
        if found is not None:
            name = f" (as {found.name!r})" if column is trusted_keys.c.key_id else ""
            raise ConflictError(f"group {key.group!r} already trusts {what}{name}", field="name")
    conn.execute(
        insert(trusted_keys).values(
            group_id=group_id,
            name=key.name,
            key_id=key.key_id,
            algorithm=key.algorithm,
            public_key=key.public_key,
            created_by=key.created_by,
            created_at=key.created_at,
        )
    )


def trusted_keys_of(conn: Connection, group_id: int, group: str) -> list[TrustedKey]:
    rows = conn.execute(
        select(trusted_keys)
        .where(trusted_keys.c.group_id == group_id)
        .order_by(trusted_keys.c.name)
    ).all()
    return [
        TrustedKey(
            group=group,
            name=row.name,
            key_id=row.key_id,
            algorithm=row.algorithm,
            public_key=row.public_key,
            created_by=row.created_by,
            created_at=utc(row.created_at),
        )
        for row in rows
    ]


def delete_trusted_key(conn: Connection, group_id: int, group: str, name: str) -> TrustedKey:
    found = [k for k in trusted_keys_of(conn, group_id, group) if k.name == name]
    if not found:
        raise NotFoundError(f"group {group!r} trusts no key named {name!r}", field="name")
    conn.execute(
        delete(trusted_keys).where(trusted_keys.c.group_id == group_id, trusted_keys.c.name == name)
    )
    return found[0]
