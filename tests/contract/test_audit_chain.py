"""Invariant 5: the audit log is append-only and hash-chained; editing, deleting or
reordering an entry directly in the database makes verification fail and name it.
Checkpoints are signed; inclusion and consistency proofs verify offline."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text

from modelyard import PermissionDeniedError, Registry
from modelyard.domain.audit import (
    GENESIS,
    chain_hash,
    load_public_key,
    verify_consistency_bundle,
    verify_export,
    verify_inclusion_bundle,
)
from tests.conftest import MakeArtifact


@pytest.fixture
def logged(local_registry: Registry, make_artifact: MakeArtifact) -> Registry:
    """A store with a dozen audit entries and a signed checkpoint after the first few."""
    registry = local_registry
    registry.create_group("g", allow_self_approval=True)
    registry.register_version("g", make_artifact())
    registry.checkpoint_audit()
    registry.tag_version("g/1", {"a": "1"})
    registry.approve_version("g/1", comment="ok")
    registry.set_alias("g", "champion", 1)
    registry.create_principal("alice")
    registry.grant("alice", "viewer", groups="g*")
    registry.checkpoint_audit()
    registry.update_group("g", description="changed")
    return registry


def sql(db_url: str, *statements: str) -> None:
    engine = create_engine(db_url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def test_an_untouched_log_verifies(logged: Registry) -> None:
    report = logged.verify_audit()
    assert report.ok, report.problem
    assert report.entries == len(logged.audit_log(limit=1000))
    assert report.checkpoints == 2


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 4",
        "UPDATE audit_log SET outcome = 'denied' WHERE seq = 4",
        "UPDATE audit_log SET resource = 'g/2' WHERE seq = 4",
        "UPDATE audit_log SET details = '{}' WHERE seq = 4",
        "UPDATE audit_log SET at = '2001-01-01 00:00:00+00' WHERE seq = 4",
    ],
)
def test_an_edited_entry_is_named(logged: Registry, db_url: str, statement: str) -> None:
    sql(db_url, statement)
    report = logged.verify_audit()
    assert not report.ok
    assert report.bad_seq == 4
    assert "entry 4 was edited" in (report.problem or "")


def test_a_deleted_entry_is_named(logged: Registry, db_url: str) -> None:
    sql(db_url, "DELETE FROM audit_log WHERE seq = 5")
    report = logged.verify_audit()
    assert (report.ok, report.bad_seq) == (False, 5)
    assert "entry 5 is missing" in (report.problem or "")


def test_swapped_entries_are_named(logged: Registry, db_url: str) -> None:
    """Rows 3 and 6 exchange their contents (keeping their sequence numbers)."""
    sql(
        db_url,
        "UPDATE audit_log SET seq = -3 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 6",
        "UPDATE audit_log SET seq = 6 WHERE seq = -3",
    )
    report = logged.verify_audit()
    assert (report.ok, report.bad_seq) == (False, 3)


def test_a_truncated_tail_is_caught(logged: Registry, db_url: str) -> None:
    """Dropping the newest entries (and fixing the head) is caught once a checkpoint covers
    them; entries newer than the last checkpoint are the window the server's checkpoint
    interval bounds."""
    size = logged.checkpoint_audit().size
    sql(
        db_url,
        f"DELETE FROM audit_log WHERE seq = {size}",
        f"UPDATE audit_head SET size = {size - 1}",
    )
    report = logged.verify_audit()
    assert not report.ok
    assert f"entry {size} is missing" in (report.problem or "")


def test_a_consistently_rewritten_log_is_caught_by_the_signed_checkpoints(
    logged: Registry, db_url: str
) -> None:
    """An attacker who recomputes every hash after editing entry 2 still cannot re-sign
    the checkpoints: verification names the first range the signed roots disagree on."""
    entries = sorted(logged.audit_log(limit=1000), key=lambda e: e.seq)
    forged = [e if e.seq != 2 else replace(e, actor="mallory") for e in entries]
    previous, statements = GENESIS, []
    for entry in forged:
        leaf = entry.leaf_hash()
        previous = chain_hash(previous, leaf)
        statements.append(
            f"UPDATE audit_log SET actor = '{entry.actor}', leaf_hash = '{leaf.hex()}', "
            f"chain_hash = '{previous.hex()}' WHERE seq = {entry.seq}"
        )
    statements.append(f"UPDATE audit_head SET chain_hash = '{previous.hex()}'")
    sql(db_url, *statements)
    report = logged.verify_audit()
    assert not report.ok
    assert report.bad_seq == 1
    assert "signed checkpoint" in (report.problem or "")


def test_inclusion_proofs_verify_offline(logged: Registry) -> None:
    key = load_public_key(logged.audit_public_key())
    for seq in (1, 3, logged.verify_audit().entries):
        bundle = logged.audit_proof(seq)
        assert bundle["entry"]["seq"] == seq
        assert verify_inclusion_bundle(bundle, key) is None
    bundle = logged.audit_proof(2)
    bundle["entry"]["actor"] = "mallory"
    assert "not included" in (verify_inclusion_bundle(bundle, key) or "")
    other = Ed25519PrivateKey.generate().public_key()
    assert "signature" in (verify_inclusion_bundle(logged.audit_proof(2), other) or "")


def test_consistency_between_two_checkpoints_verifies(logged: Registry) -> None:
    key = load_public_key(logged.audit_public_key())
    old, new = logged.list_checkpoints()[:2]
    bundle = logged.audit_consistency(old.size, new.size)
    assert verify_consistency_bundle(bundle, key) is None
    bundle["proof"] = bundle["proof"][:-1] or ["00" * 32]
    assert verify_consistency_bundle(bundle, key) is not None


def test_an_export_verifies_without_the_registry(logged: Registry, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    count = logged.export_audit(path)
    key = load_public_key(logged.audit_public_key())
    report = verify_export(path.read_text().splitlines(keepends=True), key)
    assert report.ok, report.problem
    assert report.entries == count
    lines = path.read_text().splitlines(keepends=True)
    edited = [
        line.replace('"actor": "local"', '"actor": "eve"', 1) if i == 5 else line
        for i, line in enumerate(lines)
    ]
    assert not verify_export(edited, key).ok
    other = Ed25519PrivateKey.generate().public_key()
    assert "different key" in (verify_export(lines, other).problem or "")


def test_denied_attempts_are_in_the_chain(
    open_local_registry: Callable[..., Registry], logged: Registry
) -> None:
    viewer = open_local_registry(actor="vera", roles=("viewer",))
    with pytest.raises(Exception, match="may not group.create"):
        viewer.create_group("nope")
    (entry,) = logged.audit_log(outcome="denied", limit=1)
    assert (entry.actor, entry.action, entry.resource) == ("vera", "group.create", "nope")
    assert logged.verify_audit().ok


def test_concurrent_writers_keep_one_valid_chain(
    local_registry: Registry, make_artifact: MakeArtifact
) -> None:
    local_registry.create_group("g")
    upload = local_registry.upload_artifact(make_artifact())

    def work(_: int) -> None:
        for _ in range(10):
            local_registry.register_version("g", upload)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(4)))
    report = local_registry.verify_audit()
    assert report.ok, report.problem
    seqs = sorted(e.seq for e in local_registry.audit_log(limit=1000))
    assert seqs == list(range(1, len(seqs) + 1)), "sequence numbers are gapless"


def test_reading_the_audit_log_needs_a_binding_on_every_group(
    open_local_registry: Callable[..., Registry], logged: Registry
) -> None:
    scoped = open_local_registry(actor="vic", roles=())
    logged.grant("vic", "viewer", groups="g*")
    for read in (
        scoped.audit_public_key,
        scoped.verify_audit,
        scoped.list_checkpoints,
        lambda: scoped.audit_proof(1),
        lambda: scoped.audit_log(limit=1),
    ):
        with pytest.raises(PermissionDeniedError, match="audit.read"):
            read()
    logged.grant("vic", "viewer", groups="*")
    assert scoped.audit_public_key() == logged.audit_public_key()
