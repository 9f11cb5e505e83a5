"""Alembic migrations build exactly the schema the code declares, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from modelyard import Registry
from modelyard.store.database import MIGRATIONS, SCHEMA_REVISION
from modelyard.store.schema import metadata


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
