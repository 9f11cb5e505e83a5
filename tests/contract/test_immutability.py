"""Invariant 1: a registered version's manifest, registration metrics, lineage and
registrant never change, whatever API is used; only the documented fields are mutable."""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from modelyard import Dataset, Lineage, Registry, Version
from tests.conftest import MakeArtifact, OpenRegistry

#: every public method of Registry that changes state; a new one must be added here
#: (and shown not to touch the immutable fields below).
MUTATORS = {
    "set_policy",  # a group's release policy, not a version
    "reset_policy",
    "collect_garbage",  # deletes unreferenced blobs only; never a version's
    "encrypt_blobs",  # rewrites how blobs are stored, not what they are
    "rotate_keys",
    "create_group",
    "update_group",
    "archive_group",
    "register_version",
    "upload_artifact",
    "update_description",
    "update_model_card",
    "tag_version",
    "untag_version",
    "set_metadata",
    "remove_metadata",
    "approve_version",
    "reject_version",
    "set_alias",
    "delete_alias",
    # access and audit: they change no version (principals, tokens, bindings, checkpoints)
    "create_principal",
    "create_token",
    "revoke_token",
    "grant",
    "revoke",
    "ensure_admin",
    "ensure_default_pipeline",
    "authenticate",  # records a token's last use
    "checkpoint_audit",
    "export_audit",
    "put_blob",  # stores bytes; versions are untouched
    # event rules and deliveries: they change no version
    "create_rule",
    "update_rule",
    "enable_rule",
    "disable_rule",
    "delete_rule",
    "replay_events",
    "redrive_deliveries",
    "delivery_queue",  # the workers' view; routing and recording deliveries
    # environments: they move protected aliases, never a version's registered record
    "deploy",
    "rollback",
    # pipelines and runs: a pipeline decides approvals and deploys (covered above)
    "apply_pipeline",
    "start_run",
    "cancel_run",
    "retry_run",
    "approve_request",
    "reject_request",
    "run_engine",
    # scans: they record a verdict beside the version, never change it
    "scan_version",
    "scan_queue",  # the workers' view: leasing and recording scans
    # signatures: recorded beside the version (append-only); trusted keys are group settings
    "sign_version",
    "add_trusted_key",
    "remove_trusted_key",
}
READERS = {
    "get_group",
    "list_groups",
    "get_version",
    "list_versions",
    "approval_history",
    "alias_history",
    "list_aliases",
    "search_versions",
    "lineage",
    "audit_log",
    "list_events",
    "get_event",
    "environment_history",
    "list_pipelines",
    "get_pipeline",
    "diff_pipeline",
    "list_runs",
    "get_run",
    "run_logs",
    "list_approvals",
    "environment_at",
    "list_deliveries",
    "list_rules",
    "get_rule",
    "test_rule",
    "summary",
    "download",
    "fetch",
    "verify_directory",
    "open",
    "close",
    "acting_as",
    "whoami",
    "list_principals",
    "list_tokens",
    "list_bindings",
    "check_access",
    "audit_public_key",
    "verify_audit",
    "audit_proof",
    "audit_consistency",
    "list_checkpoints",
    "iter_audit_export",
    "check_blob_write",
    "missing_blobs",
    "blob_size",
    "read_blob",
    "ping",
    "verify_blobs",
    "blob_store_info",
    "get_policy",
    "list_policies",
    "check_policy",
    "version_scan",
    "signing_public_key",
    "version_signatures",
    "list_trusted_keys",
}


def frozen(version: Version) -> tuple[object, ...]:
    return (
        version.manifest,
        version.metrics,
        version.params,
        version.lineage,
        version.created_by,
        version.created_at,
        version.framework,
        version.manifest_digest,
    )


def test_public_api_is_fully_classified() -> None:
    public = {
        name for name, _ in inspect.getmembers(Registry, callable) if not name.startswith("_")
    }
    assert public == MUTATORS | READERS


def test_no_mutation_touches_the_registered_record(
    open_registry: OpenRegistry, make_artifact: MakeArtifact
) -> None:
    registry = open_registry()
    registry.create_group("g")
    registry.register_version(
        "g",
        make_artifact(),
        metrics={"auc": 0.9},
        params={"p": "1"},
        lineage=Lineage(datasets=(Dataset("train", "s3://t"),), code_commit="abc"),
        framework="torch",
    )
    registry.register_version("g", make_artifact())
    before = frozen(registry.get_version("g/1"))
    other = open_registry(actor="someone-else", roles=("admin",))
    other.update_description("g/1", "d")
    other.update_model_card("g/1", "m")
    other.tag_version("g/1", {"t": "1"})
    other.untag_version("g/1", ["t"])
    other.set_metadata("g/1", {"m": "1"})
    other.remove_metadata("g/1", ["m"])
    other.approve_version("g/1")
    other.reject_version("g/1", comment="no")
    assert other.scan_version("g/1").is_done
    other.set_alias("g", "champion", 1)
    other.delete_alias("g", "champion")
    other.update_group("g", description="x")
    other.archive_group("g")
    after = registry.get_version("g/1")
    assert frozen(after) == before
    assert after.created_by == "local"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE versions SET manifest_digest = 'sha256:00' WHERE number = 1",
        "UPDATE versions SET created_by = 'mallory' WHERE number = 1",
        "UPDATE versions SET lineage = '{}' WHERE number = 1",
        "UPDATE versions SET number = 9 WHERE number = 1",
        "DELETE FROM versions WHERE number = 1",
        "UPDATE version_files SET sha256 = 'x'",
        "DELETE FROM version_files",
        "UPDATE version_metrics SET value = 1.0",
        "DELETE FROM version_metrics",
        "UPDATE version_params SET value = 'x'",
    ],
)
def test_the_database_refuses_to_change_a_registered_version(
    registry: Registry, make_artifact: MakeArtifact, db_url: str, statement: str
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact(), metrics={"auc": 0.9}, params={"p": "1"})
    before = registry.get_version("g/1")
    engine = create_engine(db_url)
    with pytest.raises(DBAPIError, match="immutable"), engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()
    assert registry.get_version("g/1") == before


def test_mutable_columns_stay_writable_in_sql(
    registry: Registry, make_artifact: MakeArtifact, db_url: str
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact())
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE versions SET description = 'ok' WHERE number = 1"))
    engine.dispose()
    assert registry.get_version("g/1").description == "ok"
