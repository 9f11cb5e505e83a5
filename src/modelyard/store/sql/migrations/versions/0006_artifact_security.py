"""Artifact security: blobs being garbage-collected, version scans, version signatures and
trusted signing keys.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", _ID, primary_key=True, autoincrement=True)


def upgrade() -> None:
    # blobs: a digest GC has condemned (its object is being deleted); registration refuses it
    op.create_table(
        "blob_condemned",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("condemned_at", _TIME, nullable=False),
    )
    # blobs a client uploaded or was told are stored, for a version not registered yet
    op.create_table(
        "blob_claims",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("claimed_at", _TIME, nullable=False),
    )
    # a group's release policy for one target ("approval" or an environment)
    op.create_table(
        "release_policies",
        sa.Column("group_name", sa.String(63), primary_key=True),
        sa.Column("target", sa.String(63), primary_key=True),
        sa.Column("clauses", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    # -- scans (version_scans) go here --
    op.create_table(
        "version_scans",
        _id(),
        sa.Column("version_id", _ID, sa.ForeignKey("versions.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("active_key", _ID, nullable=True, unique=True),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("requested_at", _TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("leased_by", sa.String(64), nullable=True),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("scanner", sa.String(255), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
    )
    op.create_index("ix_version_scans_version", "version_scans", ["version_id", "id"])
    op.create_index("ix_version_scans_open", "version_scans", ["status", "id"])
    _queue_scans_of_existing_versions()
    # -- signatures (version_signatures, trusted_keys) go here --
    op.create_table(
        "version_signatures",
        _id(),
        sa.Column("version_id", _ID, sa.ForeignKey("versions.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("signer", sa.String(63), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("bundle", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.UniqueConstraint("version_id", "kind", "key_id", name="uq_version_signatures_key"),
    )
    _refuse_signature_changes()
    op.create_table(
        "trusted_keys",
        _id(),
        sa.Column("group_id", _ID, sa.ForeignKey("groups.id"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.UniqueConstraint("group_id", "name", name="uq_trusted_keys_name"),
        sa.UniqueConstraint("group_id", "key_id", name="uq_trusted_keys_key"),
    )


def _queue_scans_of_existing_versions() -> None:
    """Versions registered before scanning existed get a scan queued: the first worker to
    run scans them, as it would a new registration."""
    bind = op.get_bind()
    versions = sa.table("versions", sa.column("id", _ID))
    scans = sa.table(
        "version_scans",
        *(sa.column(name) for name in ("version_id", "status", "reason", "active_key")),
        *(sa.column(name) for name in ("requested_by", "requested_at", "attempts")),
    )
    now = datetime.now(UTC)
    ids = [row.id for row in bind.execute(sa.select(versions.c.id))]
    for start in range(0, len(ids), 1000):
        rows = [
            {
                "version_id": version_id,
                "status": "pending",
                "reason": "rescan",
                "active_key": version_id,
                "requested_by": "migration 0006",
                "requested_at": now,
                "attempts": 0,
            }
            for version_id in ids[start : start + 1000]
        ]
        bind.execute(scans.insert(), rows)


def downgrade() -> None:
    # -- signatures: drop their tables here --
    op.drop_table("trusted_keys")
    if op.get_bind().dialect.name == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS version_signatures_no_{action}")
    else:
        op.execute("DROP TRIGGER IF EXISTS version_signatures_frozen ON version_signatures")
    op.drop_table("version_signatures")
    # -- scans: drop their tables here --
    op.drop_table("version_scans")
    op.drop_table("release_policies")
    op.drop_table("blob_claims")
    op.drop_table("blob_condemned")


_SIGNATURES_FROZEN = "version signatures are immutable"


def _refuse_signature_changes() -> None:
    """Signatures are append-only: no code path or hand-written SQL alters or removes one."""
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER version_signatures_no_{action.lower()} BEFORE {action} "
                f"ON version_signatures BEGIN SELECT RAISE(ABORT, '{_SIGNATURES_FROZEN}'); END"
            )
        return
    # modelyard_refuse_change() comes from migration 0002
    op.execute(
        "CREATE TRIGGER version_signatures_frozen BEFORE UPDATE OR DELETE ON version_signatures "
        "FOR EACH ROW EXECUTE FUNCTION modelyard_refuse_change()"
    )
