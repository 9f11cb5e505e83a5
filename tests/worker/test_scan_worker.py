"""The scan worker on real stores (SQLite and PostgreSQL): it scans what registrations queue,
redoes a scan whose worker died once the lease runs out, shares the queue with other workers
without scanning anything twice, and reads blobs by ranges instead of copying them."""

from __future__ import annotations

import json
import os
import pickle
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modelyard import Registry
from modelyard.config import Settings
from modelyard.errors import IntegrityError
from modelyard.services.security.scan_queue import MAX_ATTEMPTS, ScanQueue
from modelyard.worker.process import run_once, workers_for
from modelyard.worker.scans import ScanWorker
from tests.conftest import MakeArtifact


class _Evil:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, ("echo pwned",)


EVIL = pickle.dumps(_Evil())


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    registry = Registry.open(
        tmp_path / "home", db_url=db_url, blobs_url=f"file://{tmp_path / 'blobs'}", clock=clock
    )
    registry.create_group("g")
    yield registry
    registry.close()


def test_the_worker_scans_what_registrations_queue(
    store: Registry, make_artifact: MakeArtifact
) -> None:
    store.register_version("g", make_artifact({"model.pkl": EVIL}))
    store.register_version("g", make_artifact({"notes.txt": b"hello\n"}))
    assert [store.version_scan(f"g/{n}").status for n in (1, 2)] == ["pending", "pending"]
    worker = ScanWorker(store.scan_queue())
    assert worker.step() == 2
    assert worker.step() == 0
    assert [store.version_scan(f"g/{n}").verdict for n in (1, 2)] == ["unsafe", "clean"]
    events = store.list_events(type="scan.completed")
    assert sorted(e["data"]["verdict"] for e in events) == ["clean", "unsafe"]


def test_worker_once_scans_before_it_delivers(
    store: Registry, make_artifact: MakeArtifact, tmp_path: Path
) -> None:
    store.register_version("g", make_artifact({"model.pkl": EVIL}))
    store.create_rule("unsafe-models", {"type": ["scan.completed"]}, [{"type": "log"}])
    done = run_once(store, Settings(home=tmp_path / "home"))
    assert (done.scans, done.deliveries) == (1, 1)


def test_a_scan_whose_worker_died_is_redone_after_its_lease(
    store: Registry, make_artifact: MakeArtifact, clock: Clock
) -> None:
    store.register_version("g", make_artifact({"model.pkl": EVIL}))
    queue = store.scan_queue()
    dead = queue.claim(worker="dead", lease=timedelta(minutes=2))
    assert dead is not None and dead.attempt == 1
    assert store.version_scan("g/1").status == "running"
    # the first worker dies here, mid-scan: nothing renews its lease
    assert queue.claim(worker="other") is None  # still leased
    clock.now += timedelta(minutes=2, seconds=1)
    redo = queue.claim(worker="other")
    assert redo is not None and (redo.scan_id, redo.attempt) == (dead.scan_id, 2)
    finished = queue.execute(redo, worker="other")
    assert finished is not None and finished.verdict == "unsafe"
    # the dead worker's late result is refused: it no longer holds the lease
    assert queue.finish(dead, queue.scan(dead.version), worker="dead") is None
    assert len(store.list_events(type="scan.completed")) == 1
    assert store.version_scan("g/1").attempts == 2


def test_a_scan_that_kills_every_worker_is_given_up(
    store: Registry, make_artifact: MakeArtifact, clock: Clock
) -> None:
    store.register_version("g", make_artifact())
    queue = store.scan_queue()
    for n in range(MAX_ATTEMPTS):
        assert queue.claim(worker=f"w{n}") is not None  # ... and each of them dies
        clock.now += timedelta(minutes=3)
    last = queue.claim(worker="last")
    assert last is not None and last.attempt == MAX_ATTEMPTS + 1
    finished = queue.execute(last, worker="last")
    assert finished is not None and finished.verdict == "error"
    assert "a worker stopped during this scan 3 times" in finished.files[0].detail
    assert store.scan_version("g/1").verdict == "not_scanned"  # a rescan tries once more


def test_workers_share_the_queue_and_scan_each_version_once(
    store: Registry, make_artifact: MakeArtifact
) -> None:
    for n in range(12):
        store.register_version("g", make_artifact({"model.pkl": pickle.dumps({"n": n})}))
    workers = [ScanWorker(store.scan_queue(), name=f"w{i}") for i in range(3)]
    counts: list[int] = []
    threads = [threading.Thread(target=lambda w=w: counts.append(w.step())) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 12
    scans = [store.version_scan(f"g/{n}") for n in range(1, 13)]
    assert {(s.status, s.verdict, s.attempts) for s in scans} == {("done", "clean", 1)}
    assert len(store.list_events(type="scan.completed", limit=100)) == 12


def test_the_servers_worker_scans_a_registration_at_once(
    db_url: str, tmp_path: Path, make_artifact: MakeArtifact
) -> None:
    registry = Registry.open(tmp_path / "h", db_url=db_url, blobs_url=f"file://{tmp_path}/blobs")
    settings = Settings(home=tmp_path / "h", db_url=db_url)
    workers = workers_for(registry, settings)
    workers.start()
    try:
        registry.create_group("g")
        registry.register_version("g", make_artifact({"model.pkl": EVIL}))
        deadline = time.monotonic() + 20
        while (scan := registry.version_scan("g/1")).status != "done":
            assert time.monotonic() < deadline, scan
            time.sleep(0.02)
        assert scan.verdict == "unsafe"
    finally:
        workers.stop()
        registry.close()


class _CountingBlobs:
    def __init__(self, inner: Any, fail: bool = False) -> None:
        self.inner, self.fail, self.served = inner, fail, 0

    def read(self, sha256: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if self.fail:
            raise IntegrityError(f"blob sha256:{sha256} is corrupt")
        for chunk in self.inner.read(sha256, start=start, end=end):
            self.served += len(chunk)
            yield chunk


def _safetensors(size: int) -> bytes:
    header = json.dumps({"w": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}})
    return struct.pack("<Q", len(header)) + header.encode() + os.urandom(size)


def test_scanning_reads_blobs_by_ranges_without_copying_them(
    store: Registry, make_artifact: MakeArtifact
) -> None:
    tensors = _safetensors(32 << 20)
    store.register_version("g", make_artifact({"model.safetensors": tensors}))
    counting = _CountingBlobs(store._ctx.blobs)
    queue = ScanQueue(replace(store._ctx, blobs=counting))
    work = queue.claim(worker="w")
    assert work is not None
    finished = queue.execute(work, worker="w")
    assert finished is not None and finished.verdict == "clean"
    assert counting.served < 2 << 20  # the header and a probe of a 32 MiB file


def test_a_blob_that_cannot_be_read_is_an_error_naming_the_file(
    store: Registry, make_artifact: MakeArtifact
) -> None:
    store.register_version("g", make_artifact({"model.pkl": EVIL}))
    queue = ScanQueue(replace(store._ctx, blobs=_CountingBlobs(store._ctx.blobs, fail=True)))
    work = queue.claim(worker="w")
    assert work is not None
    finished = queue.execute(work, worker="w")
    assert finished is not None and finished.verdict == "error"
    (file,) = finished.files
    assert (file.path, file.status) == ("model.pkl", "error")
    assert "could not read the stored blob" in file.detail and "is corrupt" in file.detail
