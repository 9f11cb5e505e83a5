"""Filesystem blob store: ``ROOT/sha256/ab/cdef…`` (plaintext) or ``ROOT/enc/ab/cdef…``
(encrypted), written via temp file + fsync + rename (see content.py for the layout)."""

from __future__ import annotations

from pathlib import Path

from modelyard.domain.manifest import validate_sha256
from modelyard.store.blobs.content import ContentBlobStore
from modelyard.store.blobs.fs_objects import FilesystemObjects
from modelyard.store.keys.keyring import Keyring


class FilesystemBlobStore(ContentBlobStore):
    """Blobs as files under one directory; safe for many processes on one machine."""

    def __init__(
        self, root: Path, *, keyring: Keyring | None = None, encrypt: bool = False
    ) -> None:
        self.root = root
        super().__init__(FilesystemObjects(root), keyring=keyring, encrypt=encrypt)

    def path_of(self, sha256: str) -> Path:
        """Where a blob's object is (encrypted if stored so, else plaintext)."""
        digest = validate_sha256(sha256, field="sha256")
        sealed = self.root / "enc" / digest[:2] / digest[2:]
        return sealed if sealed.is_file() else self.root / "sha256" / digest[:2] / digest[2:]
