"""Database triggers that keep registered versions immutable (DESIGN.md invariant 1).

The services never change these columns or rows; the triggers make sure no code path,
present or future, and no hand-written SQL can either.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

IMMUTABLE_COLUMNS = [
    "id",
    "group_id",
    "number",
    "manifest_digest",
    "file_count",
    "total_size",
    "lineage",
    "framework",
    "created_by",
    "created_at",
]
FROZEN_TABLES = ["version_files", "version_metrics", "version_params", "version_parents"]
MESSAGE = "registered versions are immutable"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _postgres_upgrade()


def _sqlite_upgrade() -> None:
    columns = ", ".join(IMMUTABLE_COLUMNS)
    op.execute(
        f"CREATE TRIGGER versions_immutable BEFORE UPDATE OF {columns} ON versions "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )
    op.execute(
        f"CREATE TRIGGER versions_no_delete BEFORE DELETE ON versions "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )
    for table in FROZEN_TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def _postgres_upgrade() -> None:
    op.execute(
        "CREATE FUNCTION modelyard_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{MESSAGE} (% on %)', TG_OP, TG_TABLE_NAME; END $$"
    )
    columns = ", ".join(IMMUTABLE_COLUMNS)
    op.execute(
        f"CREATE TRIGGER versions_immutable BEFORE UPDATE OF {columns} ON versions "
        "FOR EACH ROW EXECUTE FUNCTION modelyard_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER versions_no_delete BEFORE DELETE ON versions "
        "FOR EACH ROW EXECUTE FUNCTION modelyard_refuse_change()"
    )
    for table in FROZEN_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_frozen BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION modelyard_refuse_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ["versions_immutable", "versions_no_delete"] + [
            f"{t}_no_{a}" for t in FROZEN_TABLES for a in ("update", "delete")
        ]:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    for name, table in [("versions_immutable", "versions"), ("versions_no_delete", "versions")] + [
        (f"{t}_frozen", t) for t in FROZEN_TABLES
    ]:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS modelyard_refuse_change()")
