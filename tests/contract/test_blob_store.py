"""The blob store contract; every backend (filesystem now, S3 later) must pass it."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard import IntegrityError, NotFoundError, ValidationError
from modelyard.store.blobs import BlobStore
from modelyard.store.fs_blobs import FilesystemBlobStore

BACKENDS: dict[str, Callable[[Path], BlobStore]] = {"filesystem": FilesystemBlobStore}


@pytest.fixture(params=sorted(BACKENDS))
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return BACKENDS[request.param](tmp_path / "blobs")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_then_read(blobs: BlobStore) -> None:
    data = b"hello" * 1000
    stored = blobs.put(io.BytesIO(data))
    assert (stored.sha256, stored.size, stored.created) == (sha(data), 5000, True)
    assert b"".join(blobs.read(sha(data))) == data
    assert blobs.size(sha(data)) == 5000
    assert blobs.missing([sha(data), sha(b"other")]) == {sha(b"other")}


def test_put_twice_is_deduplicated(blobs: BlobStore) -> None:
    assert blobs.put(io.BytesIO(b"x")).created
    again = blobs.put(io.BytesIO(b"x"), expected_sha256=sha(b"x"))
    assert not again.created


def test_ranged_read(blobs: BlobStore) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB, more than one chunk
    blobs.put(io.BytesIO(data))
    assert b"".join(blobs.read(sha(data), start=100, end=2_000_000)) == data[100:2_000_000]
    assert b"".join(blobs.read(sha(data), start=len(data) - 3)) == data[-3:]


def test_wrong_digest_stores_nothing(blobs: BlobStore) -> None:
    with pytest.raises(IntegrityError, match="not the expected"):
        blobs.put(io.BytesIO(b"actual"), expected_sha256=sha(b"claimed"))
    assert blobs.missing([sha(b"actual"), sha(b"claimed")]) == {sha(b"actual"), sha(b"claimed")}


def test_stream_failing_midway_stores_nothing(blobs: BlobStore, tmp_path: Path) -> None:
    class Broken(io.RawIOBase):
        calls = 0

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 3:
                raise OSError("connection reset")
            return b"x" * 1024

    with pytest.raises(OSError, match="connection reset"):
        blobs.put(Broken())
    assert blobs.missing([sha(b"x" * 3072)]) == {sha(b"x" * 3072)}
    assert not list((tmp_path / "blobs" / "tmp").iterdir()), "no temp file is left behind"


def test_unknown_blob_is_not_found(blobs: BlobStore) -> None:
    with pytest.raises(NotFoundError):
        blobs.read(sha(b"nothing"))
    with pytest.raises(NotFoundError):
        blobs.size(sha(b"nothing"))


def test_malformed_digest_is_refused(blobs: BlobStore) -> None:
    with pytest.raises(ValidationError, match="not a sha256"):
        blobs.missing(["../../etc/passwd"])


def test_stored_blobs_are_read_only_files(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    store.put(io.BytesIO(b"ro"))
    assert store.path_of(sha(b"ro")).stat().st_mode & 0o222 == 0
