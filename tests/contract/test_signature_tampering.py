"""What the registry's signature catches that per-file digests cannot: a manifest changed in
the database (by someone without the signing key), an altered signature, a replaced key.
Local registries only: the tampering goes around the API, straight to SQL and files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError

from modelyard import IntegrityError, Registry
from modelyard.services.security.signatures import signature_state
from tests.conftest import MakeArtifact

TRIGGERS = {
    "version_files": ("version_files_no_update", "version_files_frozen"),
    "version_signatures": ("version_signatures_no_update", "version_signatures_frozen"),
}


@contextmanager
def tampering(db_url: str, table: str) -> Iterator[Connection]:
    """A connection that may UPDATE ``table`` despite its immutability trigger (put back
    afterwards on PostgreSQL, whose database the next tests reuse)."""
    sqlite_trigger, postgres_trigger = TRIGGERS[table]
    engine = create_engine(db_url)
    postgres = not db_url.startswith("sqlite")
    try:
        with engine.begin() as conn:
            if postgres:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {postgres_trigger}"))
            else:
                conn.execute(text(f"DROP TRIGGER {sqlite_trigger}"))
            yield conn
            if postgres:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {postgres_trigger}"))
    finally:
        engine.dispose()


@pytest.fixture
def two_versions(local_registry: Registry, make_artifact: MakeArtifact) -> Registry:
    local_registry.create_group("g")
    local_registry.register_version("g", make_artifact({"model.bin": b"good weights"}))
    local_registry.register_version("g", make_artifact({"model.bin": b"evil weights"}))
    return local_registry


def state(registry: Registry, number: int) -> tuple[bool, list[str]]:
    with registry._ctx.db.transaction(write=False) as conn:
        found = signature_state(
            conn, "g", number, registry_key=registry._ctx.keys.manifest.public_key()
        )
    return found.registry_signature_valid, found.problems


def test_a_manifest_changed_in_the_database_fails_the_download(
    two_versions: Registry, db_url: str, tmp_path: Path
) -> None:
    evil = hashlib.sha256(b"evil weights").hexdigest()
    with tampering(db_url, "version_files") as conn:
        conn.execute(
            text(
                "UPDATE version_files SET sha256 = :evil WHERE version_id = "
                "(SELECT v.id FROM versions v WHERE v.number = 1)"
            ),
            {"evil": evil},
        )
    for use in (two_versions.download, lambda ref, out: two_versions.fetch(ref)):
        with pytest.raises(IntegrityError, match=r"g/1: .*model\.bin: signed with sha256 \w+, "):
            use("g/1", tmp_path / "out")
    assert not (tmp_path / "out" / "model.bin").exists()
    with pytest.raises(IntegrityError, match="does not match the registry's signature"):
        two_versions.verify_directory("g/1", tmp_path)
    valid, problems = state(two_versions, 1)
    assert not valid and "model.bin: signed with sha256" in problems[0]
    assert state(two_versions, 2) == (True, [])


def test_an_altered_signature_fails_the_download(
    two_versions: Registry, db_url: str, tmp_path: Path
) -> None:
    (first,) = two_versions.version_signatures("g/1")
    bundle = first.bundle
    other = json.loads(
        json.dumps(bundle).replace(bundle["dsseEnvelope"]["signatures"][0]["sig"], "AAAA")
    )
    with tampering(db_url, "version_signatures") as conn:
        conn.execute(
            text(
                "UPDATE version_signatures SET bundle = :b WHERE version_id = "
                "(SELECT v.id FROM versions v WHERE v.number = 1)"
            ),
            {"b": json.dumps(other)},
        )
    with pytest.raises(IntegrityError, match="registry signature does not verify"):
        two_versions.download("g/1", tmp_path / "out")
    assert state(two_versions, 1)[0] is False


def test_a_replaced_signing_key_fails_the_download(
    two_versions: Registry, db_url: str, tmp_path: Path, make_artifact: MakeArtifact
) -> None:
    key_file = tmp_path / "home" / "keys" / "signing-ed25519.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key_file.unlink()
    reopened = Registry.open(tmp_path / "home", db_url=db_url, blobs_url=f"file://{tmp_path}/blobs")
    try:
        with pytest.raises(IntegrityError, match="not by the given registry key"):
            reopened.download("g/1", tmp_path / "out")
        reopened.register_version("g", make_artifact())  # signed with the new key
        reopened.download("g/3", tmp_path / "out3")
    finally:
        reopened.close()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE version_signatures SET signer = 'mallory'", "DELETE FROM version_signatures"],
)
def test_the_database_refuses_to_change_a_signature(
    two_versions: Registry, db_url: str, statement: str
) -> None:
    engine = create_engine(db_url)
    with pytest.raises(DBAPIError, match="immutable"), engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()
    assert [s.signer for s in two_versions.version_signatures("g/1")] == ["registry"]
