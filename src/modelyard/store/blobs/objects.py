"""Raw object storage under keys: what a blob backend (filesystem, S3) must provide.

:class:`~modelyard.store.blobs.content.ContentBlobStore` builds the content-addressed,
verified (and optionally encrypted) blob store on top of it, so each backend only moves
bytes: staged writes committed atomically, ranged reads, listing, deletion.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from modelyard.transfer.blobs import CHUNK_SIZE


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


class Staging(Protocol):
    """An object being written; invisible under any key until :meth:`commit`."""

    def write(self, data: bytes) -> None: ...

    def commit(self, key: str) -> bool:
        """Make the bytes visible under ``key`` (durably); False if ``key`` already existed
        (the staged bytes are then discarded: the store is content-addressed)."""
        ...

    def abort(self) -> None:
        """Discard the staged bytes (idempotent; also safe after commit)."""
        ...


class ObjectStore(Protocol):
    #: where the objects live, for messages (``/var/lib/blobs``, ``s3://bucket/prefix``)
    location: str

    def stage(self, target: str | None = None) -> Staging:
        """Start writing an object; ``target`` is the key it will likely be committed
        under, when known (a backend may write there directly, still invisibly)."""
        ...

    def exists(self, key: str) -> bool: ...

    def read(
        self, key: str, start: int = 0, end: int | None = None, *, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Stream bytes ``[start, end)`` in pieces of ``chunk_size`` (the last may be
        shorter); NotFoundError (raised on call) if absent."""
        ...

    def size(self, key: str) -> int:
        """NotFoundError if absent."""
        ...

    def get(self, key: str) -> bytes | None:
        """A small object's bytes, or None if absent."""
        ...

    def put(self, key: str, data: bytes) -> None:
        """Write (or atomically replace) a small object durably."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object; absent is fine."""
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``."""
        ...
