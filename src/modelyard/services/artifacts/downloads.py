"""Use cases that read a version's files: download, fetch into the local cache, verify.

Each first checks the version's manifest against the registry's signature (made with the
``signing_key_file`` key when the version was registered), then every file's sha256."""

from __future__ import annotations

from pathlib import Path

from modelyard.domain.access import Action
from modelyard.domain.model import Version
from modelyard.domain.signatures import REGISTRY
from modelyard.services.base import ServiceBase
from modelyard.store.sql import signatures as signature_store
from modelyard.store.sql.versions import load_versions
from modelyard.transfer.files import SILENT, Progress
from modelyard.transfer.local_copies import (
    check_registry_signature,
    download_version,
    fetch_version,
    verify_version_directory,
)


class ArtifactService(ServiceBase):
    def download(
        self,
        ref: str,
        destination: str | Path,
        *,
        overwrite: bool = False,
        progress: Progress = SILENT,
    ) -> Version:
        """Write a version's files into ``destination``, verifying the registry's signature
        and every file's sha256."""
        version = self._signed_version(ref)
        return download_version(
            self._ctx.blobs, version, destination, overwrite=overwrite, progress=progress
        )

    def fetch(self, ref: str, *, progress: Progress = SILENT) -> Path:
        """A local directory with the version's files, from a cache keyed by the manifest's
        listing (every path, size and sha256).

        The first fetch downloads and verifies; later fetches of any reference resolving to
        the same files reuse the directory without touching the blob store.
        """
        version = self._signed_version(ref)
        return fetch_version(self._ctx.blobs, version, self._ctx.cache_dir, progress=progress)

    def verify_directory(self, ref: str, directory: str | Path) -> list[str]:
        """Compare a directory with a version's signed manifest; returns the problems (empty:
        same). Raises IntegrityError when the manifest does not match the registry's signature."""
        return verify_version_directory(self._signed_version(ref), directory)

    def _signed_version(self, ref: str) -> Version:
        """The version, once its manifest has been checked against the registry's signature."""
        public_key = self._ctx.keys.manifest.public_key()
        parsed = self._parse(ref)
        with self._read() as conn:
            self._authorize(conn, Action.VERSION_READ, parsed.group, str(parsed))
            version_id = self._version_id(conn, parsed)
            version = load_versions(conn, [version_id])[0]
            rows = signature_store.signatures_of(conn, version_id)
        bundles = [signature_store.bundle_of(r) for r in rows if r.kind == REGISTRY]
        check_registry_signature(version, bundles[0] if bundles else None, public_key)
        return version
