"""Use cases on raw blobs, for the HTTP upload/download protocol: authorized passthrough
to the blob store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Connection

from modelyard.domain.access import ANY_GROUP, Action, readable_patterns
from modelyard.services.base import AccessDenied, ServiceBase
from modelyard.store.sql import blob_gc
from modelyard.store.sql.versions import blob_groups
from modelyard.transfer.blobs import Readable, StoredBlob


class BlobService(ServiceBase):
    def check_blob_write(self) -> None:
        """Raise unless the caller may upload blobs (a contributor on some group)."""
        with self._read() as conn:
            self._authorize(conn, Action.BLOB_WRITE, ANY_GROUP, "blobs")

    def missing_blobs(self, digests: Iterable[str]) -> set[str]:
        """The digests the blob store lacks (what a client must upload).

        The ones it has are claimed for the caller's upload in flight: garbage collection
        spares them (for its grace period) until a version references them.
        """
        self.check_blob_write()
        wanted = set(digests)
        missing = self._ctx.blobs.missing(wanted)
        self._claim(wanted - missing)
        return missing

    def put_blob(self, stream: Readable, *, sha256: str) -> StoredBlob:
        """Store one blob from a stream; it must hash to ``sha256`` or nothing is stored."""
        self.check_blob_write()
        stored = self._ctx.blobs.put(stream, expected_sha256=sha256)
        self._claim({stored.sha256})
        return stored

    def _claim(self, digests: set[str]) -> None:
        if digests:
            with self._write() as conn:
                blob_gc.claim(conn, digests, self._ctx.clock())

    def blob_size(self, sha256: str) -> int:
        with self._read() as conn:
            self._authorize_blob_read(conn, sha256)
        return self._ctx.blobs.size(sha256)

    def read_blob(self, sha256: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """A blob's bytes, for callers who may read a version that contains it."""
        with self._read() as conn:
            self._authorize_blob_read(conn, sha256)
        return self._ctx.blobs.read(sha256, start=start, end=end)

    def _authorize_blob_read(self, conn: Connection, sha256: str) -> None:
        bindings = self._bindings(conn)
        patterns = readable_patterns(bindings)
        if patterns is None:
            return
        if blob_groups(conn, sha256, patterns):
            return
        if any(Action.BLOB_WRITE in b.role_actions() for b in bindings):
            return  # uploaders may read back what they can upload
        raise AccessDenied(
            f"{self.actor} may not read blob {sha256}: it belongs to no version of a group "
            "they can read",
            principal=self.actor,
            action=Action.VERSION_READ.value,
            resource=f"blob:{sha256}",
            reason="the blob is in no readable group",
        )
