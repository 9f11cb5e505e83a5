"""Release pipelines: versioned definitions, runs and their stages and logs, approval
requests and votes, deployments to environments.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", _ID, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "pipelines",
        _id(),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.UniqueConstraint("name", "revision", name="uq_pipelines_name_revision"),
    )
    op.create_table(
        "pipeline_runs",
        _id(),
        sa.Column("pipeline", sa.String(63), nullable=False, index=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("group_name", sa.String(63), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(80), nullable=False),
        sa.Column("trigger_event_id", sa.String(36), nullable=True),
        sa.Column("active_key", sa.String(200), nullable=True, unique=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("next_run_at", _TIME, nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("leased_by", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.UniqueConstraint("pipeline", "trigger_event_id", name="uq_pipeline_runs_trigger"),
    )
    op.create_index("ix_pipeline_runs_due", "pipeline_runs", ["next_run_at"])
    op.create_table(
        "run_stages",
        _id(),
        sa.Column("run_id", _ID, sa.ForeignKey("pipeline_runs.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("uses", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("opened_attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.UniqueConstraint("run_id", "position", name="uq_run_stages_position"),
    )
    op.create_table(
        "stage_logs",
        _id(),
        sa.Column("run_id", _ID, sa.ForeignKey("pipeline_runs.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
    )
    op.create_index("ix_stage_logs_run", "stage_logs", ["run_id", "id"])
    op.create_table(
        "approval_requests",
        _id(),
        sa.Column("run_id", _ID, sa.ForeignKey("pipeline_runs.id"), nullable=False, index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("group_name", sa.String(63), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("principals", sa.JSON(), nullable=False),
        sa.Column("allow_registrant", sa.Boolean(), nullable=False),
        sa.Column("registrant", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("decided_at", _TIME, nullable=True),
        sa.UniqueConstraint("run_id", "position", "attempt", name="uq_approval_requests_stage"),
    )
    op.create_table(
        "approval_votes",
        _id(),
        sa.Column("request_id", _ID, sa.ForeignKey("approval_requests.id"), nullable=False),
        sa.Column("principal", sa.String(255), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.UniqueConstraint("request_id", "principal", name="uq_approval_votes_principal"),
    )
    op.create_table(
        "deployments",
        _id(),
        sa.Column("group_name", sa.String(63), nullable=False),
        sa.Column("environment", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous_version", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", _ID, nullable=True),
        sa.Column("run_attempt", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("active_key", sa.String(200), nullable=True, unique=True),
    )
    op.create_index("ix_deployments_env", "deployments", ["group_name", "environment", "id"])


def downgrade() -> None:
    for table in (
        "deployments",
        "approval_votes",
        "approval_requests",
        "stage_logs",
        "run_stages",
        "pipeline_runs",
        "pipelines",
    ):
        op.drop_table(table)
