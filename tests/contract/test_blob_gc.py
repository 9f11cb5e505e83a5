"""Garbage collection of blobs: what it deletes, what it never deletes, and the race with
a concurrent registration (on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from modelyard import ConflictError, Registry
from modelyard.store.blobs.content import ContentBlobStore
from modelyard.store.sql import blob_gc
from tests.conftest import MakeArtifact

NOW = timedelta(0)


def _store(registry: Registry) -> ContentBlobStore:
    store = registry._ctx.blobs
    assert isinstance(store, ContentBlobStore)
    return store


def _stored(registry: Registry) -> set[str]:
    return {e.sha256 for e in _store(registry).entries()}


def test_unreferenced_blobs_are_collected_referenced_never(
    local_registry: Registry, make_artifact: MakeArtifact
) -> None:
    reg = local_registry
    reg.create_group("g")
    kept = reg.register_version("g", make_artifact({"w.bin": b"registered", "c.json": b"{}"}))
    orphan = reg.upload_artifact(make_artifact({"orphan.bin": b"never registered"}))
    [orphan_digest] = orphan.manifest.blob_digests()

    dry = reg.collect_garbage(dry_run=True, grace=NOW)
    assert (dry.examined, dry.referenced, set(dry.collected)) == (3, 2, {orphan_digest})
    assert orphan_digest in _stored(reg), "a dry run deletes nothing"

    done = reg.collect_garbage(grace=NOW)
    assert set(done.collected) == {orphan_digest}
    assert _stored(reg) == set(kept.manifest.blob_digests())
    assert reg.verify_blobs().problems == {}
    [entry] = [e for e in reg.audit_log() if e.action == "blobs.gc"]
    assert entry.details["collected"] == 1 and entry.details["digests"] == [orphan_digest]


def test_the_grace_period_spares_uploads_in_flight(
    local_registry: Registry, make_artifact: MakeArtifact
) -> None:
    reg = local_registry
    orphan = reg.upload_artifact(make_artifact({"fresh.bin": b"just uploaded"}))
    report = reg.collect_garbage(grace=timedelta(hours=1))
    assert report.collected == {} and report.spared == 1
    assert set(orphan.manifest.blob_digests()) <= _stored(reg)


def test_a_blob_claimed_again_is_spared_even_if_old(
    open_local_registry: Callable[..., Registry], make_artifact: MakeArtifact, tmp_path: Path
) -> None:
    """An old unreferenced blob that a client is told is already stored (so it will not
    upload it) is claimed: GC spares it until the client's registration references it."""
    reg = open_local_registry()
    directory = make_artifact({"old.bin": b"uploaded long ago"})
    upload = reg.upload_artifact(directory)
    # the blob is old: collect with a grace that covers the claim but not the file's age
    report = reg.collect_garbage(dry_run=True, grace=timedelta(hours=1))
    assert report.collected == {}, "its claim (the upload) is within the grace period"
    assert reg.missing_blobs(upload.manifest.blob_digests()) == set()


def test_a_registration_that_commits_first_keeps_its_blobs(
    local_registry: Registry, make_artifact: MakeArtifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GC finds the blob unreferenced, then a registration commits, then GC condemns:
    the condemnation re-checks under the lock and spares it."""
    reg = local_registry
    reg.create_group("g")
    upload = reg.upload_artifact(make_artifact({"w.bin": b"racing"}))
    claimed_since = blob_gc.claimed_since
    calls = []

    def register_in_between(*args):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:  # the scan's check: it already decided the blob is unreferenced
            racer = threading.Thread(target=reg.register_version, args=("g", upload))
            racer.start()
            racer.join()  # the registration commits (GC holds no lock yet)
        return claimed_since(*args)

    monkeypatch.setattr(blob_gc, "claimed_since", register_in_between)
    report = reg.collect_garbage(grace=NOW)
    monkeypatch.undo()
    assert reg.get_version("g/1").manifest == upload.manifest
    assert report.collected == {}
    assert report.refused == sorted(upload.manifest.blob_digests())
    assert reg.verify_blobs().problems == {}


def test_a_registration_after_condemnation_is_refused_and_can_retry(
    local_registry: Registry, make_artifact: MakeArtifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GC has condemned the blob and is deleting it: a registration referencing it is
    refused (nothing registered), and succeeds once the files are uploaded again."""
    reg = local_registry
    reg.create_group("g")
    directory = make_artifact({"w.bin": b"condemned"})
    upload = reg.upload_artifact(directory)
    store = _store(reg)
    delete = store.delete
    refusals: list[str] = []

    def register_then_delete(digest: str) -> None:
        with pytest.raises(ConflictError, match="being garbage-collected") as refused:
            reg.register_version("g", upload)
        refusals.append(str(refused.value))
        delete(digest)

    monkeypatch.setattr(store, "delete", register_then_delete)
    report = reg.collect_garbage(grace=NOW)
    monkeypatch.undo()
    assert len(report.collected) == 1 and len(refusals) == 1
    assert reg.list_versions("g").items == []
    version = reg.register_version("g", directory)  # uploads again, then registers
    assert version.number == 1
    assert reg.verify_blobs().problems == {}


def test_concurrent_registrations_and_collections_never_lose_a_referenced_blob(
    open_local_registry: Callable[..., Registry], make_artifact: MakeArtifact
) -> None:
    collector, registrant = open_local_registry(), open_local_registry()
    registrant.create_group("g")
    uploads = [
        registrant.upload_artifact(make_artifact({f"w{i}.bin": f"blob {i}".encode()}))
        for i in range(12)
    ]
    registered: list[int] = []
    stop = threading.Event()

    def collect() -> None:
        while not stop.is_set():
            collector.collect_garbage(grace=NOW)

    thread = threading.Thread(target=collect)
    thread.start()
    try:
        for upload in uploads:
            try:
                registered.append(registrant.register_version("g", upload).number)
            except ConflictError:
                pass  # condemned first: refused, nothing registered
            except Exception as e:  # the blob was already gone: refused as not uploaded
                assert "not uploaded" in str(e), e
    finally:
        stop.set()
        thread.join()
    collector.collect_garbage(grace=NOW)
    for number in registered:
        version = registrant.get_version(f"g/{number}")
        assert registrant.missing_blobs(version.manifest.blob_digests()) == set(), number
    assert registrant.verify_blobs().problems == {}
