"""The metadata schema (SQLAlchemy Core). Alembic migrations create it; see migrations/."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments INTEGER PRIMARY KEY, PostgreSQL wants BIGINT for big tables.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _time(name: str, *, nullable: bool = False, index: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable, index=index)


groups = Table(
    "groups",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("latest_version", Integer, nullable=False, default=0),
    Column("created_by", String(255), nullable=False),
    _time("created_at"),
    _time("updated_at"),
    _time("archived_at", nullable=True),
    # Separation of duties: may a version's registrant approve it? (admin-only setting)
    Column("allow_self_approval", Boolean, nullable=False, default=False),
    # Aliases only deployers (and admins) may move, e.g. environments.
    Column("protected_aliases", JSON, nullable=False),
)

group_tags = Table(
    "group_tags",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group_id", Id, ForeignKey("groups.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("manifest_digest", String(71), nullable=False),
    Column("file_count", Integer, nullable=False),
    Column("total_size", BigInteger, nullable=False),
    Column("lineage", JSON, nullable=False),
    Column("framework", String(255), nullable=True),
    Column("description", Text, nullable=False, default=""),
    Column("model_card", Text, nullable=False, default=""),
    Column("approval_status", String(32), nullable=False),
    Column("created_by", String(255), nullable=False),
    _time("created_at"),
    _time("updated_at"),
    UniqueConstraint("group_id", "number", name="uq_versions_group_number"),
    Index("ix_versions_created_at", "created_at"),
    Index("ix_versions_approval_status", "approval_status"),
    Index("ix_versions_manifest_digest", "manifest_digest"),
)

version_files = Table(
    "version_files",
    metadata,
    Column("version_id", Id, ForeignKey("versions.id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Index("ix_version_files_sha256", "sha256"),
)


def _keyed(name: str, value_type: object, *, value_length: int | None = None) -> Table:
    """A (version, key) → value table with an index that serves filters and ordering."""
    value = value_type if value_length is None else String(value_length)
    return Table(
        name,
        metadata,
        Column("version_id", Id, ForeignKey("versions.id"), primary_key=True),
        Column("key", String(128), primary_key=True),
        Column("value", value, nullable=False),  # type: ignore[arg-type]
        Index(f"ix_{name}_key_value", "key", "value", "version_id"),
    )


version_metrics = _keyed("version_metrics", Float())
version_params = _keyed("version_params", Text())
version_tags = _keyed("version_tags", None, value_length=256)
version_metadata = _keyed("version_metadata", None, value_length=256)

version_parents = Table(
    "version_parents",
    metadata,
    Column("version_id", Id, ForeignKey("versions.id"), primary_key=True),
    Column("parent_id", Id, ForeignKey("versions.id"), primary_key=True),
    Index("ix_version_parents_parent", "parent_id"),
)

approval_decisions = Table(
    "approval_decisions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("version_id", Id, ForeignKey("versions.id"), nullable=False, index=True),
    Column("status", String(32), nullable=False),
    Column("previous_status", String(32), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    _time("decided_at"),
    Column("break_glass_reason", Text, nullable=True),  # set when an admin self-approved
)

aliases = Table(
    "aliases",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("version_id", Id, ForeignKey("versions.id"), nullable=False, index=True),
    Column("updated_by", String(255), nullable=False),
    _time("updated_at"),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group_id", Id, ForeignKey("groups.id"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("version", Integer, nullable=True),
    Column("previous_version", Integer, nullable=True),
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    _time("at"),
    Index("ix_alias_history_group_name", "group_id", "name", "id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    _time("at"),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("resource", String(255), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("details", JSON, nullable=False),
    Column("leaf_hash", String(64), nullable=False),  # RFC 9162 leaf hash of the entry (hex)
    Column("chain_hash", String(64), nullable=False),  # SHA-256(previous chain || leaf) (hex)
    Index("ix_audit_log_resource", "resource"),
    Index("ix_audit_log_at", "at"),
)

# The log's head: its size and last chain hash. Appending locks this row, which orders
# concurrent appends and keeps sequence numbers gapless.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("chain_hash", String(64), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", String(64), nullable=False),
    _time("signed_at"),
    Column("key_id", String(16), nullable=False),
    Column("signature", String(128), nullable=False),  # base64 Ed25519 signature
)

principals = Table(
    "principals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("created_by", String(255), nullable=False),
    _time("created_at"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(12), primary_key=True),
    Column("principal_id", Id, ForeignKey("principals.id"), nullable=False, index=True),
    Column("secret_hash", String(64), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_by", String(255), nullable=False),
    _time("created_at"),
    _time("expires_at", nullable=True),
    _time("revoked_at", nullable=True),
    _time("last_used_at", nullable=True),
)

role_bindings = Table(
    "role_bindings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("principal_id", Id, ForeignKey("principals.id"), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("pattern", String(63), nullable=False),
    Column("created_by", String(255), nullable=False),
    _time("created_at"),
    UniqueConstraint("principal_id", "role", "pattern", name="uq_role_bindings"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("group_name", String(63), nullable=False, index=True),
    Column("payload", JSON, nullable=False),
    _time("created_at", index=True),
    Column("dispatched", Boolean, nullable=False, default=False),
    Index("ix_outbox_dispatched_seq", "dispatched", "seq"),
)

rules = Table(
    "rules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("pattern", Text, nullable=False),  # canonical JSON
    Column("format", String(16), nullable=False),
    Column("targets", JSON, nullable=False),  # with webhook secrets; never returned as stored
    Column("transform", JSON, nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("revision", Integer, nullable=False, default=1),  # +1 on every change
    Column("since_seq", Id, nullable=False, default=0),  # sees events after this outbox seq
    Column("created_by", String(255), nullable=False),
    _time("created_at"),
    _time("updated_at"),
)

#: One row per (rule, target, group): the unit of ordering and of leasing by workers.
delivery_streams = Table(
    "delivery_streams",
    metadata,
    Column("stream", String(160), primary_key=True),
    Column("rule_id", Id, nullable=False, index=True),
    _time("next_attempt_at", nullable=True),  # NULL: nothing pending
    _time("lease_until", nullable=True),
    Column("leased_by", String(64), nullable=True),
    Index("ix_delivery_streams_due", "next_attempt_at"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_seq", Id, nullable=False, index=True),
    Column("event_id", String(36), nullable=False, index=True),
    Column("rule_id", Id, nullable=False),
    Column("rule_name", String(63), nullable=False, index=True),
    Column("target_index", Integer, nullable=False),
    Column("stream", String(160), nullable=False),
    Column("status", String(12), nullable=False),  # pending|delivered|dead|cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("budget_from", Integer, nullable=False, default=0),  # attempts when (re)queued
    Column("replay", Boolean, nullable=False, default=False),
    _time("created_at"),
    _time("queued_at"),  # created, or redriven: max_age counts from here
    _time("next_attempt_at"),
    _time("first_attempt_at", nullable=True),
    _time("finished_at", nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=False, default=""),
    Index("ix_deliveries_stream_pending", "stream", "status", "event_seq"),
    Index("ix_deliveries_status", "status", "finished_at"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        Id,
        ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("attempt", Integer, nullable=False),
    Column("worker", String(64), nullable=False),
    _time("started_at"),
    Column("latency_ms", Float, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("ok", Boolean, nullable=False),
    Column("error", Text, nullable=False, default=""),
    Index("ix_delivery_attempts_delivery_id", "delivery_id"),
)

# --- release pipelines (issue 5) -------------------------------------------------------

pipelines = Table(
    "pipelines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("source", Text, nullable=False),  # the YAML as applied
    Column("spec", JSON, nullable=False),  # the validated, normalized form
    Column("created_by", String(255), nullable=False),
    _time("created_at"),
    UniqueConstraint("name", "revision", name="uq_pipelines_name_revision"),
)

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("pipeline", String(63), nullable=False, index=True),
    Column("revision", Integer, nullable=False),
    Column("group_name", String(63), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column(
        "status", String(16), nullable=False
    ),  # queued|running|waiting|succeeded|failed|cancelled
    Column("trigger", String(80), nullable=False),  # "manual" or "event <id>"
    Column("trigger_event_id", String(36), nullable=True),
    # "<pipeline> <group>/<version>" while the run is active, NULL after: one active run
    # per version per pipeline (NULLs never collide)
    Column("active_key", String(200), nullable=True, unique=True),
    Column("created_by", String(255), nullable=False),
    _time("created_at"),
    _time("updated_at"),
    _time("finished_at", nullable=True),
    _time("next_run_at", nullable=True),  # due for a worker (NULL: nothing to do now)
    _time("lease_until", nullable=True),
    Column("leased_by", String(64), nullable=True),
    Column("error", Text, nullable=False, default=""),
    UniqueConstraint("pipeline", "trigger_event_id", name="uq_pipeline_runs_trigger"),
    Index("ix_pipeline_runs_due", "next_run_at"),
)

run_stages = Table(
    "run_stages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("pipeline_runs.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", String(63), nullable=False),
    Column("uses", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # pending|running|waiting|succeeded|failed|...
    Column("attempts", Integer, nullable=False, default=0),
    # the attempt that began the current execution (a retry begins one, a resume does not):
    # approval requests and deployments of earlier executions are not this one's
    Column("opened_attempt", Integer, nullable=False, default=0),
    _time("started_at", nullable=True),
    _time("finished_at", nullable=True),
    Column("outputs", JSON, nullable=False, default=dict),
    Column("error", Text, nullable=False, default=""),
    UniqueConstraint("run_id", "position", name="uq_run_stages_position"),
)

stage_logs = Table(
    "stage_logs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("pipeline_runs.id"), nullable=False),
    Column("position", Integer, nullable=False),
    _time("at"),
    Column("line", Text, nullable=False),
    Index("ix_stage_logs_run", "run_id", "id"),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("pipeline_runs.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),  # the stage's attempt that opened it
    Column("group_name", String(63), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("role", String(16), nullable=False),
    Column("count", Integer, nullable=False),
    Column("principals", JSON, nullable=False),  # named approvers ([] = anyone with the role)
    Column("allow_registrant", Boolean, nullable=False),
    Column("registrant", String(255), nullable=False),
    Column("status", String(16), nullable=False),  # pending|approved|rejected|expired|cancelled
    _time("created_at"),
    _time("expires_at"),
    _time("decided_at", nullable=True),
    UniqueConstraint("run_id", "position", "attempt", name="uq_approval_requests_stage"),
)

approval_votes = Table(
    "approval_votes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", Id, ForeignKey("approval_requests.id"), nullable=False),
    Column("principal", String(255), nullable=False),
    Column("decision", String(8), nullable=False),  # approve|reject
    Column("comment", Text, nullable=False),
    _time("at"),
    UniqueConstraint("request_id", "principal", name="uq_approval_votes_principal"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group_name", String(63), nullable=False),
    Column("environment", String(63), nullable=False),
    Column("version", Integer, nullable=False),
    Column("previous_version", Integer, nullable=True),
    Column("kind", String(16), nullable=False),  # deploy|rollback|auto_rollback
    Column("status", String(16), nullable=False),  # in_progress|succeeded|failed|rolled_back
    Column("run_id", Id, nullable=True),
    Column("run_attempt", Integer, nullable=True),  # the stage attempt that started it
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("error", Text, nullable=False, default=""),
    _time("started_at"),
    _time("finished_at", nullable=True),
    # "<group>@<environment>" while in progress: one deployment per environment at a time
    Column("active_key", String(200), nullable=True, unique=True),
    Index("ix_deployments_env", "group_name", "environment", "id"),
)

# A digest garbage collection has condemned: its object is being deleted, and a registration
# that references it is refused (re-upload and retry) — see services/blob_gc.py.
blob_condemned = Table(
    "blob_condemned",
    metadata,
    Column("sha256", String(64), primary_key=True),
    _time("condemned_at"),
)

# Blobs a client uploaded, or was told are already stored, for a version it has not
# registered yet ("in-flight"): garbage collection spares them for its grace period.
blob_claims = Table(
    "blob_claims",
    metadata,
    Column("sha256", String(64), primary_key=True),
    _time("claimed_at"),
)

# A group's release policy for one target: "approval" or an environment (domain/policies.py).
# No row: the default policy for that target.
release_policies = Table(
    "release_policies",
    metadata,
    Column("group_name", String(63), primary_key=True),
    Column("target", String(63), primary_key=True),
    Column("clauses", JSON, nullable=False),
    Column("updated_by", String(255), nullable=False),
    _time("updated_at"),
)

# -- scans (version_scans) go here --
# Unsafe-model scans of versions: queued at registration (or by `version scan`), leased by a
# worker (SKIP LOCKED on PostgreSQL), done with a verdict and a per-file report.
version_scans = Table(
    "version_scans",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("version_id", Id, ForeignKey("versions.id"), nullable=False),
    Column("status", String(16), nullable=False),  # pending|running|done
    Column("reason", String(16), nullable=False),  # registration|rescan
    # the version's id while the scan is pending or running, NULL after: one open scan per
    # version (NULLs never collide)
    Column("active_key", Id, nullable=True, unique=True),
    Column("requested_by", String(255), nullable=False),
    _time("requested_at"),
    Column("attempts", Integer, nullable=False, default=0),
    _time("started_at", nullable=True),
    _time("finished_at", nullable=True),
    _time("lease_until", nullable=True),
    Column("leased_by", String(64), nullable=True),
    Column("verdict", String(16), nullable=True),
    Column("scanner", String(255), nullable=True),
    Column("report", JSON, nullable=True),  # {"files": [...], "counts": {...}}
    Index("ix_version_scans_version", "version_id", "id"),
    Index("ix_version_scans_open", "status", "id"),
)

# -- signatures (version_signatures, trusted_keys) go here --

# Signatures over a version's files (domain/signatures.py): the registry's own, made when the
# version is registered, and users' model-signing ones. Append-only (database triggers refuse
# UPDATE and DELETE, see migration 0006).
version_signatures = Table(
    "version_signatures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("version_id", Id, ForeignKey("versions.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # registry | model-signing
    Column("signer", String(63), nullable=False),  # "registry" or the trusted key's name
    Column("key_id", String(64), nullable=False),  # sha256 of the signing key's PEM
    Column("bundle", Text, nullable=False),  # the Sigstore bundle JSON
    Column("created_by", String(255), nullable=False),
    _time("created_at"),
    UniqueConstraint("version_id", "kind", "key_id", name="uq_version_signatures_key"),
)

# Public keys whose model-signing signatures a group accepts (group admins manage them).
trusted_keys = Table(
    "trusted_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group_id", Id, ForeignKey("groups.id"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("algorithm", String(16), nullable=False),  # ecdsa-p256 | ecdsa-p384 | ecdsa-p521
    Column("public_key", Text, nullable=False),  # PEM
    Column("created_by", String(255), nullable=False),
    _time("created_at"),
    UniqueConstraint("group_id", "name", name="uq_trusted_keys_name"),
    UniqueConstraint("group_id", "key_id", name="uq_trusted_keys_key"),
)
