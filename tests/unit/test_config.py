"""Settings: defaults < MODELYARD_* environment < explicit arguments; bad settings are clear."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from modelyard import ConfigError, Registry, StorageError
from modelyard.config import Settings
from modelyard.server import cli


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.home == Path(".modelyard")
    assert settings.resolved_db_url.endswith("/.modelyard/registry.db")
    assert settings.blobs_path == Path(".modelyard").resolve() / "blobs"
    assert settings.actor == "local"


def test_environment_then_arguments() -> None:
    env = {
        "MODELYARD_HOME": "/srv/my",
        "MODELYARD_DB_URL": "postgresql+psycopg://h/db",
        "MODELYARD_BLOBS_URL": "file:///data/blobs",
    }
    settings = Settings.from_env(env)
    assert (settings.home, settings.resolved_db_url, settings.blobs_path) == (
        Path("/srv/my"),
        "postgresql+psycopg://h/db",
        Path("/data/blobs"),
    )
    assert Settings.from_env(env, home=Path("/other")).home == Path("/other")
    assert Settings.from_env(env, home=None).home == Path("/srv/my")


def test_unsupported_urls_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mysql") as info:
        Registry.open(tmp_path, db_url="mysql://x/y")
    assert info.value.field == "db_url"
    with pytest.raises(ConfigError, match="neither file:///ABSOLUTE/PATH nor s3://") as info:
        Registry.open(tmp_path, blobs_url="ftp://host/blobs")
    assert info.value.field == "blobs_url"
    with pytest.raises(ConfigError, match="not an S3 store") as info:
        Registry.open(tmp_path, blobs_url="s3:///no-bucket")
    assert info.value.field == "blobs_url"


def test_passwords_never_reach_messages(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Registry.open(tmp_path, db_url="oracle://scott:tiger@db/orcl")
    assert "tiger" not in str(info.value)


def test_cli_flag_env_twins(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--db-url", "mysql://x/y", "status"])
    assert result.exit_code == 2
    assert "db_url" in result.stderr
    result = runner.invoke(cli, ["status", "--json"], env={"MODELYARD_HOME": str(tmp_path)})
    assert result.exit_code == 0
    assert str(tmp_path) in result.output


def test_unreachable_database_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open the metadata database") as info:
        Registry.open(tmp_path, db_url="postgresql+psycopg://nobody:pw@127.0.0.1:1/x")
    assert "pw@" not in str(info.value)


def test_a_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    Registry.open(tmp_path).close()
    engine = create_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(ConfigError, match="revision '9999'.*upgrade modelyard"):
        Registry.open(tmp_path)


def test_unexpected_errors_are_one_line_in_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(self: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Registry, "summary", explode)
    monkeypatch.delenv("MODELYARD_DEBUG", raising=False)
    result = CliRunner().invoke(cli, ["status"], env={"MODELYARD_HOME": str(tmp_path)})
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: internal error: RuntimeError: disk on fire (set MODELYARD_DEBUG=1 for a traceback)"
    )


def test_a_store_that_cannot_open_leaves_no_connection_behind(tmp_path: Path) -> None:
    """An encrypted blob store whose key file is missing is refused, naming the file; the
    database opened before is closed again (filterwarnings=error catches a leak)."""
    Registry.open(tmp_path / "first", blobs_url=f"file://{tmp_path / 'blobs'}").close()
    for _ in range(3):
        with pytest.raises(ConfigError, match="blob-keys.json' does not exist") as info:
            Registry.open(tmp_path / "second", blobs_url=f"file://{tmp_path / 'blobs'}")
        assert info.value.field == "key_file"
    import gc

    gc.collect()
