"""Use cases that read a version's files: download, fetch into the local cache, verify."""

from __future__ import annotations

from pathlib import Path

from modelyard.domain.model import Version
from modelyard.services.base import ServiceBase
from modelyard.services.local_copies import (
    download_version,
    fetch_version,
    verify_version_directory,
)
from modelyard.services.transfer import SILENT, Progress


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
        return download_version(
            self._blobs, version, destination, overwrite=overwrite, progress=progress
        )

    def fetch(self, ref: str, *, progress: Progress = SILENT) -> Path:
        """A local directory with the version's files, from a cache keyed by the manifest's
        listing (every path, size and sha256).

        The first fetch downloads and verifies; later fetches of any reference resolving to
        the same files reuse the directory without touching the blob store.
        """
        version = self._load_version(ref)
        return fetch_version(self._blobs, version, self._cache_dir, progress=progress)

    def verify_directory(self, ref: str, directory: str | Path) -> list[str]:
        """Compare a directory with a version's manifest; returns the problems (empty: same)."""
        return verify_version_directory(self._load_version(ref), directory)
