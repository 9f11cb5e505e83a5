"""Alembic migrations build exactly the schema the code declares, on every backend."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from modelyard import Registry
from modelyard.store.sql.database import MIGRATIONS, SCHEMA_REVISION
from modelyard.store.sql.schema import metadata
from tests.conftest import MakeArtifact


def test_migrated_schema_matches_the_declared_one(registry: Registry, db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == SCHEMA_REVISION
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_opening_twice_does_not_migrate_again(open_registry) -> None:  # type: ignore[no-untyped-def]
    first = open_registry()
    first.create_group("g")
    second = open_registry()
    assert second.get_group("g").name == "g"


def test_schema_revision_constant_is_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def test_a_store_from_before_signing_and_scanning_is_brought_up_to_date(
    tmp_path: Path, db_url: str, make_artifact: MakeArtifact
) -> None:
    """Upgrading to 0006: versions registered before get a registry signature when the store
    is first opened (so they still download, verified) and a scan queued for the workers."""
    from alembic import command

    def open_() -> Registry:
        blobs = f"file://{tmp_path}/upgraded-blobs"
        return Registry.open(tmp_path / "home", db_url=db_url, blobs_url=blobs)

    with open_() as registry:
        registry.create_group("g")
        registry.register_version("g", make_artifact({"model.json": b"{}"}))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(db_url)
    with engine.begin() as conn:  # back to the schema of the release before
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    engine.dispose()

    with open_() as registry:
        [signature] = registry.version_signatures("g/1")
        assert (signature.kind, signature.valid) == ("registry", True)
        assert registry.version_scan("g/1").status == "pending"
        registry.download("g/1", tmp_path / "out")
        assert registry.check_policy("g/1", "production") == [
            "its approval status is PendingManualApproval (production requires Approved)",
            "its scan has not finished (a worker runs it: modelyard worker) (production "
            "requires scan == clean)",
        ]
        backfill = [e for e in registry.audit_log(limit=5) if e.actor == "modelyard"]
        assert backfill[0].details["count"] == 1
    with open_() as registry:  # signed once
        assert len(registry.version_signatures("g/1")) == 1
