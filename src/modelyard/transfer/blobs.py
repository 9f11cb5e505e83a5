"""The blob store interface: bytes stored once by sha256, visible only once verified.

Backends (filesystem now, S3 later) implement :class:`BlobStore`; the same contract test
suite runs against each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """The outcome of :meth:`BlobStore.put`: its digest, size and whether it was new."""

    sha256: str
    size: int
    created: bool


class Readable(Protocol):
    """Anything with a binary ``read`` (an open file, a request body, a wrapper)."""

    def read(self, size: int = -1, /) -> bytes: ...


class BlobStore(Protocol):
    def missing(self, digests: Iterable[str]) -> set[str]:
        """The digests among ``digests`` that are not stored."""
        ...

    def put(self, stream: Readable, *, expected_sha256: str | None = None) -> StoredBlob:
        """Store a stream's bytes; streaming, constant memory.

        The blob becomes visible only after every byte is written, synced and its digest
        checked against ``expected_sha256`` (when given); a mismatch raises IntegrityError
        and stores nothing.
        """
        ...

    def read(self, sha256: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream a blob's bytes ``[start, end)`` in chunks; NotFoundError if absent."""
        ...

    def size(self, sha256: str) -> int:
        """A stored blob's size in bytes; NotFoundError if absent."""
        ...
