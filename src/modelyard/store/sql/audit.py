"""The hash-chained audit log and its signed checkpoints (SQL).

Appending locks the single ``audit_head`` row (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite writers are serialized anyway), so entries get gapless sequence numbers in commit
order and each links to the one before it. The lock is taken at the end of a change's
transaction, so it is held only until that transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, or_, select, update

from modelyard.domain.audit import GENESIS, AuditEntry, Checkpoint, StoredEntry, chain_hash
from modelyard.store.sql.rows import utc
from modelyard.store.sql.schema import audit_checkpoints, audit_head, audit_log

_INSERT = insert(audit_log)
_HEAD = select(audit_head.c.size, audit_head.c.chain_hash).where(audit_head.c.id == 1)
_LOCK_HEAD = _HEAD.with_for_update()
_MOVE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(size=bindparam("new_size"), chain_hash=bindparam("new_chain"))
)
BATCH = 5000


def append_audit(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    resource: str,
    outcome: str,
    details: dict[str, Any],
) -> AuditEntry:
    head = conn.execute(_LOCK_HEAD).first()
    if head is None:  # a store whose tables were emptied by hand (tests truncate)
        conn.execute(insert(audit_head), {"id": 1, "size": 0, "chain_hash": GENESIS.hex()})
        size, previous = 0, GENESIS
    else:
        size, previous = int(head.size), bytes.fromhex(head.chain_hash)
    entry = AuditEntry(size + 1, utc(at), actor, action, resource, outcome, details)
    leaf = entry.leaf_hash()
    chain = chain_hash(previous, leaf).hex()
    conn.execute(
        _INSERT,
        {
            "seq": entry.seq,
            "at": entry.at,
            "actor": actor,
            "action": action,
            "resource": resource,
            "outcome": outcome,
            "details": details,
            "leaf_hash": leaf.hex(),
            "chain_hash": chain,
        },
    )
    conn.execute(_MOVE_HEAD, {"new_size": entry.seq, "new_chain": chain})
    return entry


def head_size(conn: Connection) -> int:
    head = conn.execute(_HEAD).first()
    return 0 if head is None else int(head.size)


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        seq=int(row.seq),
        at=utc(row.at),
        actor=row.actor,
        action=row.action,
        resource=row.resource,
        outcome=row.outcome,
        details=dict(row.details),
    )


def read_entries(
    conn: Connection,
    *,
    group: str | None = None,
    resource_prefix: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    outcome: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first, filtered."""
    query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
    if group:
        resource = audit_log.c.resource
        query = query.where(
            or_(
                resource == group,
                resource.startswith(f"{group}/", autoescape=True),
                resource.startswith(f"{group}@", autoescape=True),
            )
        )
    if resource_prefix:
        query = query.where(audit_log.c.resource.startswith(resource_prefix, autoescape=True))
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if outcome:
        query = query.where(audit_log.c.outcome == outcome)
    return [_entry(r) for r in conn.execute(query)]


def read_entry(conn: Connection, seq: int) -> StoredEntry | None:
    row = conn.execute(select(audit_log).where(audit_log.c.seq == seq)).first()
    return None if row is None else StoredEntry(_entry(row), row.leaf_hash, row.chain_hash)


def iter_stored(conn: Connection, *, upto: int | None = None) -> Iterator[StoredEntry]:
    """Every entry in sequence order, read in keyset batches (constant memory)."""
    after = 0
    while True:
        query = select(audit_log).where(audit_log.c.seq > after)
        if upto is not None:
            query = query.where(audit_log.c.seq <= upto)
        rows = conn.execute(query.order_by(audit_log.c.seq).limit(BATCH)).all()
        for row in rows:
            yield StoredEntry(_entry(row), row.leaf_hash, row.chain_hash)
        if len(rows) < BATCH:
            return
        after = int(rows[-1].seq)


def leaf_hashes(conn: Connection, upto: int) -> list[bytes]:
    """The leaf hashes of entries 1..upto (as recorded), for proofs."""
    query = select(audit_log.c.leaf_hash).where(audit_log.c.seq <= upto).order_by(audit_log.c.seq)
    return [bytes.fromhex(h) for h in conn.execute(query).scalars()]


def insert_checkpoint(conn: Connection, checkpoint: Checkpoint) -> None:
    conn.execute(insert(audit_checkpoints), _checkpoint_row(checkpoint))


def _checkpoint_row(c: Checkpoint) -> dict[str, Any]:
    data = c.to_dict()
    return {
        "size": c.size,
        "root_hash": data["root"],
        "signed_at": c.signed_at,
        "key_id": c.key_id,
        "signature": data["signature"],
    }


def list_checkpoints(conn: Connection) -> list[Checkpoint]:
    rows = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.size))
    return [_checkpoint(r) for r in rows]


def latest_checkpoint(conn: Connection, *, at_least: int = 0) -> Checkpoint | None:
    query = select(audit_checkpoints).where(audit_checkpoints.c.size >= at_least)
    row = conn.execute(query.order_by(audit_checkpoints.c.size.desc()).limit(1)).first()
    return None if row is None else _checkpoint(row)


def checkpoint_at(conn: Connection, size: int) -> Checkpoint | None:
    row = conn.execute(select(audit_checkpoints).where(audit_checkpoints.c.size == size)).first()
    return None if row is None else _checkpoint(row)


def _checkpoint(row: Row[Any]) -> Checkpoint:
    return Checkpoint.from_dict(
        {
            "size": row.size,
            "root": row.root_hash,
            "signed_at": utc(row.signed_at).isoformat(),
            "key_id": row.key_id,
            "signature": row.signature,
        }
    )
