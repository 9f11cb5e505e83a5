"""Principals, API tokens, role bindings; group access settings; the hash-chained audit log.

Existing audit entries are hashed into the chain in sequence order, so a store created
before this revision verifies afterwards.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from modelyard.domain.audit import GENESIS, AuditEntry, chain_hash

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _access_tables()
    op.add_column(
        "groups",
        sa.Column("allow_self_approval", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "groups",
        sa.Column(
            "protected_aliases",
            sa.JSON(),
            nullable=False,
            server_default=sa.text('\'["production", "staging"]\''),
        ),
    )
    op.add_column("approval_decisions", sa.Column("break_glass_reason", sa.Text(), nullable=True))
    _audit_chain()


def _access_tables() -> None:
    op.create_table(
        "principals",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(12), primary_key=True),
        sa.Column("principal_id", _ID, sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.Column("last_used_at", _TIME, nullable=True),
    )
    op.create_index("ix_api_tokens_principal_id", "api_tokens", ["principal_id"])
    op.create_table(
        "role_bindings",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("principal_id", _ID, sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("pattern", sa.String(63), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.UniqueConstraint("principal_id", "role", "pattern", name="uq_role_bindings"),
    )
    op.create_index("ix_role_bindings_principal_id", "role_bindings", ["principal_id"])


def _audit_chain() -> None:
    op.add_column(
        "audit_log", sa.Column("leaf_hash", sa.String(64), nullable=False, server_default="")
    )
    op.add_column(
        "audit_log", sa.Column("chain_hash", sa.String(64), nullable=False, server_default="")
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("signed_at", _TIME, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    size, previous = _backfill()
    op.bulk_insert(head, [{"id": 1, "size": size, "chain_hash": previous.hex()}])


def _backfill() -> tuple[int, bytes]:
    """Renumber existing entries 1..n (older PostgreSQL stores may have gaps) and chain them."""
    conn = op.get_bind()
    log = sa.table(
        "audit_log",
        *(sa.column(c) for c in ("seq", "actor", "action", "resource", "outcome")),
        sa.column("at", _TIME),
        sa.column("details", sa.JSON()),
        sa.column("leaf_hash"),
        sa.column("chain_hash"),
    )
    rows = conn.execute(sa.select(log).order_by(log.c.seq)).all()
    previous = GENESIS
    for position, row in enumerate(rows, start=1):
        entry = AuditEntry(
            position, _utc(row.at), row.actor, row.action, row.resource, row.outcome, row.details
        )
        leaf = entry.leaf_hash()
        previous = chain_hash(previous, leaf)
        conn.execute(
            sa.update(log)
            .where(log.c.seq == row.seq)
            .values(seq=position, leaf_hash=leaf.hex(), chain_hash=previous.hex())
        )
    return len(rows), previous


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_log_at", "audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("chain_hash")
        batch.drop_column("leaf_hash")
    with op.batch_alter_table("approval_decisions") as batch:
        batch.drop_column("break_glass_reason")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("protected_aliases")
        batch.drop_column("allow_self_approval")
    op.drop_table("role_bindings")
    op.drop_table("api_tokens")
    op.drop_table("principals")
