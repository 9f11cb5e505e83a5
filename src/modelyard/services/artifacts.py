"""Use cases that read a version's files: download, fetch into the local cache, verify."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from modelyard.domain.model import Version
from modelyard.errors import ConflictError, ValidationError
from modelyard.services.base import ServiceBase
from modelyard.services.transfer import (
    SILENT,
    Progress,
    download_manifest,
    hash_file,
    scan_directory,
)

_COMPLETE = ".modelyard-complete"


class ArtifactService(ServiceBase):
    def download(
        self,
        ref: str,
        destination: str | Path,
        *,
        overwrite: bool = False,
        progress: Progress = SILENT,
    ) -> Version:
        """Write a version's files into ``destination``, verifying every file's sha256."""
        version = self._load_version(ref)
        target = Path(destination)
        if target.exists() and not target.is_dir():
            raise ValidationError(
                f"destination: {str(target)!r} is not a directory", field="destination"
            )
        if target.is_dir() and any(target.iterdir()) and not overwrite:
            raise ConflictError(
                f"destination: {str(target)!r} is not empty "
                "(pass overwrite to replace files in it)",
                field="destination",
            )
        target.mkdir(parents=True, exist_ok=True)
        download_manifest(
            self._blobs, version.manifest, target, reference=version.reference, progress=progress
        )
        return version

    def fetch(self, ref: str, *, progress: Progress = SILENT) -> Path:
        """A local directory with the version's files, from a cache keyed by the manifest's
        listing (every path, size and sha256).

        The first fetch downloads and verifies; later fetches of any reference resolving to
        the same files reuse the directory without touching the blob store.
        """
        version = self._load_version(ref)
        final = self._cache_dir / version.manifest.listing_digest.removeprefix("sha256:")
        if (final / _COMPLETE).is_file():
            return final
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self._cache_dir, prefix=".fetch-"))
        try:
            download_manifest(
                self._blobs,
                version.manifest,
                staging,
                reference=version.reference,
                progress=progress,
            )
            (staging / _COMPLETE).write_text(version.manifest_digest + "\n")
            try:
                os.rename(staging, final)
            except OSError:
                if not (final / _COMPLETE).is_file():  # not a concurrent fetch that won
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return final

    def verify_directory(self, ref: str, directory: str | Path) -> list[str]:
        """Compare a directory with a version's manifest; returns the problems (empty: same)."""
        version = self._load_version(ref)
        local = {f.path: f for f in scan_directory(Path(directory)) if f.path != _COMPLETE}
        problems = []
        for entry in version.manifest.files:
            found = local.pop(entry.path, None)
            if found is None:
                problems.append(f"{entry.path}: missing")
            elif found.size != entry.size or hash_file(found.source) != entry.sha256:
                problems.append(f"{entry.path}: content differs from the registered sha256")
        problems.extend(f"{path}: not part of {version.reference}" for path in sorted(local))
        return problems
