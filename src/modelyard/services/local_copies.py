"""A version's files as a local directory: download, cached fetch, verify.

Shared by the local registry (blobs from the store) and the HTTP client (blobs over HTTP):
both hand in a :class:`BlobStore` and the version, and get the same verified result.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from modelyard.domain.model import Version
from modelyard.errors import ConflictError, ValidationError
from modelyard.services.transfer import (
    SILENT,
    Progress,
    download_manifest,
    hash_file,
    scan_directory,
)
from modelyard.store.blobs import BlobStore

COMPLETE_MARKER = ".modelyard-complete"


def download_version(
    blobs: BlobStore,
    version: Version,
    destination: str | Path,
    *,
    overwrite: bool = False,
    progress: Progress = SILENT,
) -> Version:
    """Write a version's files into ``destination``, verifying every file's sha256."""
    target = Path(destination)
    if target.exists() and not target.is_dir():
        raise ValidationError(
            f"destination: {str(target)!r} is not a directory", field="destination"
        )
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise ConflictError(
            f"destination: {str(target)!r} is not empty (pass overwrite to replace files in it)",
            field="destination",
        )
    target.mkdir(parents=True, exist_ok=True)
    download_manifest(
        blobs, version.manifest, target, reference=version.reference, progress=progress
    )
    return version


def fetch_version(
    blobs: BlobStore, version: Version, cache_dir: Path, *, progress: Progress = SILENT
) -> Path:
    """A cached local directory with the version's files (keyed by the manifest listing)."""
    final = cache_dir / version.manifest.listing_digest.removeprefix("sha256:")
    if (final / COMPLETE_MARKER).is_file():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".fetch-"))
    try:
        download_manifest(
            blobs, version.manifest, staging, reference=version.reference, progress=progress
        )
        (staging / COMPLETE_MARKER).write_text(version.manifest_digest + "\n")
        try:
            os.rename(staging, final)
        except OSError:
            if not (final / COMPLETE_MARKER).is_file():  # not a concurrent fetch that won
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def verify_version_directory(version: Version, directory: str | Path) -> list[str]:
    """Compare a directory with a version's manifest; returns the problems (empty: same)."""
    local = {f.path: f for f in scan_directory(Path(directory)) if f.path != COMPLETE_MARKER}
    problems = []
    for entry in version.manifest.files:
        found = local.pop(entry.path, None)
        if found is None:
            problems.append(f"{entry.path}: missing")
        elif found.size != entry.size or hash_file(found.source) != entry.sha256:
            problems.append(f"{entry.path}: content differs from the registered sha256")
    problems.extend(f"{path}: not part of {version.reference}" for path in sorted(local))
    return problems
