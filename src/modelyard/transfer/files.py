"""Moving artifact files between a directory and the blob store, verifying every byte.

Upload: hash each file locally, ask the blob store which digests it lacks, stream only
those (the store re-verifies while writing). Download: stream each file to a temp file
while hashing, and rename it into place only when its digest matches the manifest.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from modelyard.domain.manifest import FileEntry, Manifest, build_manifest, validate_artifact_path
from modelyard.errors import IntegrityError, NotFoundError, ValidationError
from modelyard.transfer.blobs import CHUNK_SIZE, BlobStore, Readable
from modelyard.transfer.destinations import create_temp_file, writing


class Progress(Protocol):
    """Told about a transfer as it happens (the CLI draws a progress bar from it)."""

    def begin(self, phase: str, total_bytes: int, items: int) -> None:
        """A phase ("hashing", "uploading", "downloading") of ``items`` files starts."""
        ...

    def advance(self, nbytes: int) -> None: ...
    def end(self) -> None: ...


class _Silent:
    def begin(self, phase: str, total_bytes: int, items: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def end(self) -> None:
        pass


SILENT: Progress = _Silent()


@dataclass(frozen=True, slots=True)
class UploadResult:
    """A manifest whose blobs are all stored, and what had to be uploaded for it."""

    manifest: Manifest
    new_blobs: int
    new_bytes: int


@dataclass(frozen=True, slots=True)
class _LocalFile:
    path: str  # relative POSIX path inside the artifact
    source: Path
    size: int


def scan_directory(directory: Path) -> list[_LocalFile]:
    """Every regular file under ``directory``; refuses symlinks that leave the tree."""
    if not directory.exists():
        raise NotFoundError(
            f"artifact: directory {str(directory)!r} does not exist", field="artifact"
        )
    if not directory.is_dir():
        raise ValidationError(f"artifact: {str(directory)!r} is not a directory", field="artifact")
    root = directory.resolve()
    found: list[_LocalFile] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                raise ValidationError(
                    f"artifact: {_relative(here / name, root)!r} is a symlink to a directory; "
                    "copy its files in instead",
                    field="artifact",
                )
        for name in filenames:
            found.append(_local_file(here / name, root))
    if not found:
        raise ValidationError(
            f"artifact: directory {str(directory)!r} contains no files", field="artifact"
        )
    return found


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _local_file(path: Path, root: Path) -> _LocalFile:
    relative = validate_artifact_path(_relative(path, root), field="artifact")
    target = path
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root):
            raise ValidationError(
                f"artifact: {relative!r} is a symlink pointing outside the artifact directory",
                field="artifact",
            )
    info = target.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ValidationError(f"artifact: {relative!r} is not a regular file", field="artifact")
    return _LocalFile(relative, target, info.st_size)


def hash_file(path: Path, progress: Progress = SILENT) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            hasher.update(chunk)
            progress.advance(len(chunk))
    return hasher.hexdigest()


def upload_directory(
    blobs: BlobStore, directory: Path, progress: Progress = SILENT
) -> UploadResult:
    """Hash a directory, store the blobs the store lacks, return the manifest."""
    files = scan_directory(directory)
    progress.begin("hashing", sum(f.size for f in files), len(files))
    entries = [FileEntry(f.path, f.size, hash_file(f.source, progress)) for f in files]
    progress.end()
    manifest = build_manifest(entries)
    missing = blobs.missing(manifest.blob_digests())
    sources = {e.sha256: f.source for e, f in zip(entries, files, strict=True)}
    to_send = [(digest, sources[digest]) for digest in sorted(missing)]
    progress.begin("uploading", sum(source.stat().st_size for _, source in to_send), len(to_send))
    new_bytes = 0
    for digest, source in to_send:
        with source.open("rb") as handle:
            stored = blobs.put(_Counting(handle, progress), expected_sha256=digest)
        new_bytes += stored.size
    progress.end()
    return UploadResult(manifest=manifest, new_blobs=len(to_send), new_bytes=new_bytes)


class _Counting:
    """A read-only stream wrapper that reports bytes read to a Progress."""

    def __init__(self, handle: Readable, progress: Progress) -> None:
        self._handle = handle
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._progress.advance(len(chunk))
        return chunk


def download_manifest(
    blobs: BlobStore,
    manifest: Manifest,
    destination: Path,
    *,
    reference: str,
    progress: Progress = SILENT,
) -> None:
    """Write every file of ``manifest`` under ``destination``, each verified before it
    appears, with the mode the umask gives new files (0644 under the usual 022)."""
    progress.begin("downloading", manifest.total_size, len(manifest.files))
    for entry in manifest.files:
        target = destination.joinpath(*entry.path.split("/"))
        with writing(target):
            target.parent.mkdir(parents=True, exist_ok=True)
        _download_file(blobs, entry, target, reference=reference, progress=progress)
    progress.end()


def _download_file(
    blobs: BlobStore, entry: FileEntry, target: Path, *, reference: str, progress: Progress
) -> None:
    with writing(target):
        fd, tmp = create_temp_file(target.parent, prefix=".modelyard-")
    try:
        hasher = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            try:
                for chunk in blobs.read(entry.sha256):
                    hasher.update(chunk)
                    with writing(target):  # only the writes: a failing read is not the target's
                        out.write(chunk)
                    size += len(chunk)
                    progress.advance(len(chunk))
            except IntegrityError as e:
                raise IntegrityError(
                    f"{reference}: file {entry.path!r} is corrupted in the blob store ({e})"
                ) from None
            with writing(target):
                out.flush()
        if hasher.hexdigest() != entry.sha256 or size != entry.size:
            raise IntegrityError(
                f"{reference}: file {entry.path!r} is corrupted in the blob store "
                f"(expected sha256 {entry.sha256} and {entry.size} bytes, got "
                f"{hasher.hexdigest()} and {size} bytes)"
            )
        with writing(target):
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
