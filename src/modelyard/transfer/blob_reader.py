"""A stored blob as a seekable binary file, read through ``BlobStore.read`` ranges.

The scanner looks at a few bytes of most files (a safetensors header, a zip's directory, a
pickle's opcodes) and skips the rest (joblib's array bytes): reading blobs by range instead of
copying each to a temporary file keeps scanning cheap next to registration, and memory bounded
by the buffer whatever the file's size. It works on any backend that serves ranges (the
filesystem, S3, encrypted blobs).
"""

from __future__ import annotations

import io
from typing import IO, Any

from modelyard.errors import ModelyardError
from modelyard.transfer.blobs import BlobStore

BUFFER_SIZE = 1 << 20


class BlobFile(io.RawIOBase):
    """Read-only, seekable view of one blob. A storage failure while reading is kept in
    ``error`` (and raised as OSError, which file readers expect) so the caller can report it."""

    def __init__(self, blobs: BlobStore, sha256: str, size: int) -> None:
        super().__init__()
        self._blobs, self._sha256, self._size = blobs, sha256, size
        self._pos = 0
        self.error: ModelyardError | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        end = min(self._pos + len(buffer), self._size)
        if end <= self._pos:
            return 0
        view = memoryview(buffer).cast("B")
        wanted, got = end - self._pos, 0
        try:
            for chunk in self._blobs.read(self._sha256, start=self._pos, end=end):
                if got + len(chunk) > wanted:
                    break
                view[got : got + len(chunk)] = chunk
                got += len(chunk)
        except ModelyardError as e:
            self.error = self.error or e
            raise OSError(f"blob sha256:{self._sha256}: {e}") from e
        if got != wanted:
            self.error = self.error or ModelyardError(
                f"blob sha256:{self._sha256} does not have the size its manifest says"
            )
            raise OSError(str(self.error))
        self._pos = end
        return got


def open_blob(blobs: BlobStore, sha256: str, size: int) -> tuple[IO[bytes], BlobFile]:
    """A buffered reader over the blob, and the raw view (to check ``error`` afterwards)."""
    raw = BlobFile(blobs, sha256, size)
    return io.BufferedReader(raw, BUFFER_SIZE), raw
