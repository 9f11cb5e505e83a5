"""Objects as files under one directory: temp file + fsync + atomic rename."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from modelyard.errors import NotFoundError, StorageError
from modelyard.store.blobs.objects import ObjectInfo
from modelyard.transfer.blobs import CHUNK_SIZE

#: temp files older than this are leftovers of a killed upload and are removed on open
STALE_TEMP_SECONDS = 24 * 3600


class FilesystemObjects:
    """Safe for many processes on one machine (or a shared POSIX filesystem)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)
        self._tmp = root / "tmp"
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"blob store: cannot create {root}: {e.strerror}") from e
        self._remove_stale_temps()

    def path(self, key: str) -> Path:
        return self.root / key

    def stage(self, target: str | None = None) -> _FileStaging:
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="upload-")
        return _FileStaging(self, fd, Path(name))

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def read(
        self, key: str, start: int = 0, end: int | None = None, *, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        try:
            handle = self.path(key).open("rb")
        except FileNotFoundError:
            raise NotFoundError(f"{key} is not stored") from None
        return _chunks(handle, start, end, chunk_size)

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise NotFoundError(f"{key} is not stored") from None

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, data: bytes) -> None:
        staging = self.stage()
        try:
            staging.write(data)
            staging.commit(key, replace=True)
        finally:
            staging.abort()

    def delete(self, key: str) -> None:
        path = self.path(key)
        try:
            path.chmod(0o644)  # stored objects are read-only
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(path.parent)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # deleted while listing
                modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
                yield ObjectInfo(key=key, size=stat.st_size, modified=modified)

    def _remove_stale_temps(self) -> None:
        cutoff = time.time() - STALE_TEMP_SECONDS
        for tmp in self._tmp.glob("upload-*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except FileNotFoundError:
                continue  # another process removed it first


class _FileStaging:
    def __init__(self, objects: FilesystemObjects, fd: int, path: Path) -> None:
        self._objects = objects
        self._out = os.fdopen(fd, "wb")
        self._path = path

    def write(self, data: bytes) -> None:
        self._out.write(data)

    def commit(self, key: str, *, replace: bool = False) -> bool:
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        final = self._objects.path(key)
        if final.is_file() and not replace:
            return False  # already stored: deduplicated
        if not final.parent.is_dir():
            final.parent.mkdir(parents=True, exist_ok=True)
            _fsync_dir(final.parent.parent)  # the new directory's own entry
        os.chmod(self._path, 0o444)
        os.replace(self._path, final)
        _fsync_dir(final.parent)
        return True

    def abort(self) -> None:
        if not self._out.closed:
            self._out.close()
        self._path.unlink(missing_ok=True)


def _chunks(handle: BinaryIO, start: int, end: int | None, size: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else max(0, end - start)
        while remaining is None or remaining > 0:
            want = size if remaining is None else min(size, remaining)
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
