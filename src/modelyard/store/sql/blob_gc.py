"""What garbage collection and registration agree on: which blobs are referenced, claimed
by an upload in flight, or condemned (being deleted).

Registration and condemnation serialize on one lock — registration shared, condemnation
exclusive (a PostgreSQL transaction-level advisory lock; SQLite serializes every write
transaction already) — so a version can never commit a reference to a blob that GC has
decided to delete, and GC never condemns a blob a committed version references.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from modelyard.errors import ConflictError
from modelyard.store.sql.schema import blob_claims, blob_condemned, version_files

_GC_LOCK = 7305106
_BATCH = 500


def _lock(conn: Connection, *, exclusive: bool) -> None:
    if conn.dialect.name == "postgresql":
        kind = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        conn.execute(text(f"SELECT {kind}({_GC_LOCK})"))


def _batches(items: Collection[str]) -> Iterable[list[str]]:
    ordered = sorted(items)
    for start in range(0, len(ordered), _BATCH):
        yield ordered[start : start + _BATCH]


#: built once: it runs in every registration
_ANY_CONDEMNED = select(blob_condemned.c.sha256).limit(1)
_CONDEMNED_AMONG = (
    select(blob_condemned.c.sha256)
    .where(blob_condemned.c.sha256.in_(bindparam("digests", expanding=True)))
    .limit(1)
)


def guard_references(conn: Connection, digests: Collection[str]) -> None:
    """In a registration's transaction: refuse blobs being garbage-collected."""
    _lock(conn, exclusive=False)
    if conn.execute(_ANY_CONDEMNED).first() is None:
        return  # no collection is deleting anything: the usual case, one cheap query
    for batch in _batches(digests):
        condemned = conn.scalars(_CONDEMNED_AMONG, {"digests": batch}).first()
        if condemned is not None:
            raise ConflictError(
                f"manifest: blob sha256:{condemned} is being garbage-collected; upload the "
                "files again and retry the registration",
                field="manifest",
            )


def claim(conn: Connection, digests: Collection[str], now: datetime) -> None:
    """Record that these blobs are wanted by an upload in flight (refreshes the time)."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for batch in _batches(digests):
        statement = insert(blob_claims).values([{"sha256": d, "claimed_at": now} for d in batch])
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["sha256"], set_={"claimed_at": statement.excluded.claimed_at}
            )
        )


def referenced(conn: Connection, digests: Collection[str]) -> set[str]:
    found: set[str] = set()
    for batch in _batches(digests):
        found.update(
            conn.scalars(
                select(version_files.c.sha256).where(version_files.c.sha256.in_(batch)).distinct()
            )
        )
    return found


def claimed_since(conn: Connection, digests: Collection[str], since: datetime) -> set[str]:
    found: set[str] = set()
    for batch in _batches(digests):
        found.update(
            conn.scalars(
                select(blob_claims.c.sha256).where(
                    blob_claims.c.sha256.in_(batch), blob_claims.c.claimed_at >= since
                )
            )
        )
    return found


def condemn(
    conn: Connection, digests: Collection[str], *, now: datetime, claims_since: datetime
) -> set[str]:
    """Under the exclusive lock, condemn the digests still unreferenced and unclaimed."""
    _lock(conn, exclusive=True)
    spared = referenced(conn, digests) | claimed_since(conn, digests, claims_since)
    doomed = set(digests) - spared
    for batch in _batches(doomed):
        conn.execute(blob_condemned.insert(), [{"sha256": d, "condemned_at": now} for d in batch])
    return doomed


def condemned(conn: Connection) -> set[str]:
    """Digests condemned by a collection that did not finish (to be completed)."""
    return set(conn.scalars(select(blob_condemned.c.sha256)))


def release(conn: Connection, digests: Collection[str], *, claims_before: datetime) -> None:
    """After deletion: forget the condemned digests and claims older than the grace."""
    for batch in _batches(digests):
        conn.execute(delete(blob_condemned).where(blob_condemned.c.sha256.in_(batch)))
    conn.execute(delete(blob_claims).where(blob_claims.c.claimed_at < claims_before))
