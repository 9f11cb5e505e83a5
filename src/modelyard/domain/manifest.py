"""Manifests: the list of files (path, size, sha256) that make up a version's artifact.

The manifest digest follows OpenSSF model-signing's "files" serialization: files sorted
by their POSIX path (component-wise, as ``PurePosixPath`` orders them) and the root
digest is sha256 over the concatenated raw per-file sha256 digests. A version's identity
therefore matches what ``model_signing`` computes for the same directory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from modelyard.errors import ValidationError

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
DIGEST_PREFIX = "sha256:"
MAX_PATH_LENGTH = 1024


def validate_sha256(value: str, *, field: str) -> str:
    """Return the bare lowercase hex digest; accepts ``sha256:<hex>`` or ``<hex>``."""
    hex_part = value.removeprefix(DIGEST_PREFIX) if isinstance(value, str) else ""
    if not _SHA256_HEX.fullmatch(hex_part):
        raise ValidationError(
            f"{field}: {value!r} is not a sha256 digest (64 lowercase hex characters)",
            field=field,
        )
    return hex_part


def validate_artifact_path(path: str, *, field: str = "path") -> str:
    """Return ``path`` if it is a relative POSIX path that stays inside the artifact."""
    if not isinstance(path, str) or not path:
        raise ValidationError(f"{field}: artifact paths must be non-empty strings", field=field)
    problem = _path_problem(path)
    if problem:
        raise ValidationError(f"{field}: {path!r} {problem}", field=field)
    return path


def _path_problem(path: str) -> str | None:
    if len(path) > MAX_PATH_LENGTH:
        return f"is longer than {MAX_PATH_LENGTH} characters"
    if "\\" in path or "\x00" in path:
        return "must be a POSIX path without backslashes or NUL characters"
    if path.startswith("/"):
        return "is absolute; artifact paths must be relative"
    parts = path.split("/")
    if ".." in parts:
        return "contains '..'; artifact paths must stay inside the artifact"
    if any(part in ("", ".") for part in parts):
        return "is not normalised (empty or '.' components)"
    return None


def path_order_key(path: str) -> tuple[str, ...]:
    return PurePosixPath(path).parts


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of an artifact."""

    path: str
    size: int
    sha256: str  # bare lowercase hex


@dataclass(frozen=True, slots=True)
class Manifest:
    """The files of one version, sorted canonically. Build with :func:`build_manifest`."""

    files: tuple[FileEntry, ...]

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` over the sorted per-file digests (model-signing "files")."""
        hasher = hashlib.sha256()
        for entry in self.files:
            hasher.update(bytes.fromhex(entry.sha256))
        return DIGEST_PREFIX + hasher.hexdigest()

    @property
    def listing_digest(self) -> str:
        """sha256 over every (path, size, sha256): unlike :attr:`digest` (which, as in
        model-signing, covers only the file contents in path order) it changes when a file is
        renamed. Keys local copies such as the fetch cache."""
        hasher = hashlib.sha256()
        for entry in self.files:
            hasher.update(f"{entry.path}\0{entry.size}\0{entry.sha256}\n".encode())
        return DIGEST_PREFIX + hasher.hexdigest()

    @property
    def total_size(self) -> int:
        return sum(entry.size for entry in self.files)

    def blob_digests(self) -> set[str]:
        return {entry.sha256 for entry in self.files}

    def to_list(self) -> list[dict[str, object]]:
        return [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files]


def build_manifest(entries: Iterable[FileEntry]) -> Manifest:
    """Validate every entry (paths, sizes, digests, duplicates) and return the sorted manifest."""
    seen: set[str] = set()
    checked: list[FileEntry] = []
    for index, entry in enumerate(entries):
        field = f"manifest.files[{index}]"
        path = validate_artifact_path(entry.path, field=f"{field}.path")
        if path in seen:
            raise ValidationError(
                f"{field}.path: {path!r} appears more than once", field=f"{field}.path"
            )
        seen.add(path)
        if isinstance(entry.size, bool) or not isinstance(entry.size, int) or entry.size < 0:
            raise ValidationError(
                f"{field}.size: must be a non-negative integer, got {entry.size!r}",
                field=f"{field}.size",
            )
        digest = validate_sha256(entry.sha256, field=f"{field}.sha256")
        checked.append(FileEntry(path, entry.size, digest))
    if not checked:
        raise ValidationError(
            "manifest: an artifact must contain at least one file", field="manifest"
        )
    _refuse_file_dir_clash(seen)
    checked.sort(key=lambda e: path_order_key(e.path))
    return Manifest(tuple(checked))


def _refuse_file_dir_clash(paths: set[str]) -> None:
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix in paths:
                raise ValidationError(
                    f"manifest: {prefix!r} is both a file and a directory", field="manifest"
                )
