"""Filesystem blob store: ``ROOT/sha256/ab/cdef…``, written via temp file + fsync + rename."""

from __future__ import annotations

import hashlib
import itertools
import os
import queue
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from modelyard.domain.manifest import validate_sha256
from modelyard.errors import IntegrityError, NotFoundError, StorageError
from modelyard.store.blobs import CHUNK_SIZE, Readable, StoredBlob

#: temp files older than this are leftovers of a killed upload and are removed on open
STALE_TEMP_SECONDS = 24 * 3600
#: chunks in flight between the writing and the hashing thread (bounds memory: 8 MiB)
PIPELINE_DEPTH = 8


class FilesystemBlobStore:
    """Blobs as files under one directory; safe for many processes on one machine."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._objects = root / "sha256"
        self._tmp = root / "tmp"
        try:
            self._objects.mkdir(parents=True, exist_ok=True)
            self._tmp.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"blob store: cannot create {root}: {e.strerror}") from e
        self._remove_stale_temps()

    def path_of(self, sha256: str) -> Path:
        digest = validate_sha256(sha256, field="sha256")
        return self._objects / digest[:2] / digest[2:]

    def missing(self, digests: Iterable[str]) -> set[str]:
        return {d for d in digests if not self.path_of(d).is_file()}

    def put(self, stream: Readable, *, expected_sha256: str | None = None) -> StoredBlob:
        if expected_sha256 is not None:
            expected_sha256 = validate_sha256(expected_sha256, field="sha256")
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="upload-")
        tmp = Path(tmp_name)
        try:
            digest, size = _copy_hashing(stream, fd)
            if expected_sha256 is not None and digest != expected_sha256:
                raise IntegrityError(
                    f"upload: the bytes have sha256 {digest}, not the expected {expected_sha256}"
                )
            created = self._commit(tmp, digest)
        finally:
            tmp.unlink(missing_ok=True)
        return StoredBlob(sha256=digest, size=size, created=created)

    def _commit(self, tmp: Path, digest: str) -> bool:
        final = self.path_of(digest)
        if final.is_file():
            return False  # already stored: deduplicated
        if not final.parent.is_dir():
            final.parent.mkdir(exist_ok=True)
            _fsync_dir(self._objects)  # the new shard directory's own entry
        os.chmod(tmp, 0o444)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return True

    def read(self, sha256: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self.path_of(sha256)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise NotFoundError(f"blob sha256:{sha256} is not stored") from None
        return _chunks(handle, start, end)

    def size(self, sha256: str) -> int:
        try:
            return self.path_of(sha256).stat().st_size
        except FileNotFoundError:
            raise NotFoundError(f"blob sha256:{sha256} is not stored") from None

    def _remove_stale_temps(self) -> None:
        cutoff = time.time() - STALE_TEMP_SECONDS
        for tmp in self._tmp.glob("upload-*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except FileNotFoundError:
                continue  # another process removed it first


def _copy_hashing(stream: Readable, fd: int) -> tuple[str, int]:
    """Copy ``stream`` into ``fd`` and fsync it; returns (sha256 hex, size).

    A stream longer than one chunk is hashed on a second thread while this one writes
    (both release the GIL), so ingest runs at the slower of disk and sha256, not their sum.
    Memory stays bounded by the queue: a few chunks, whatever the blob's size.
    """
    hasher = hashlib.sha256()
    size = 0
    with os.fdopen(fd, "wb") as out:
        first = stream.read(CHUNK_SIZE)
        second = stream.read(CHUNK_SIZE) if first else b""
        if not second:  # small blob: a thread would cost more than it saves
            hasher.update(first)
            out.write(first)
            size = len(first)
        else:
            size = _pipelined(stream, out, hasher, (first, second))
        out.flush()
        os.fsync(out.fileno())
    return hasher.hexdigest(), size


def _pipelined(
    stream: Readable, out: BinaryIO, hasher: hashlib._Hash, head: tuple[bytes, bytes]
) -> int:
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=PIPELINE_DEPTH)

    def hash_chunks() -> None:
        while (chunk := chunks.get()) is not None:
            hasher.update(chunk)

    worker = threading.Thread(target=hash_chunks, name="modelyard-blob-hash", daemon=True)
    worker.start()
    size = 0
    try:
        for chunk in itertools.chain(head, iter(lambda: stream.read(CHUNK_SIZE), b"")):
            chunks.put(chunk)
            out.write(chunk)
            size += len(chunk)
    finally:
        chunks.put(None)
        worker.join()
    return size


def _chunks(handle: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else max(0, end - start)
        while remaining is None or remaining > 0:
            want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
            chunk = handle.read(want)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
