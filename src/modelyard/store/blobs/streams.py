"""Streaming helpers for the blob store: fixed-size pieces, hashing on a second thread while
writing, reading ahead on a second thread while decrypting. Memory stays bounded by a few
chunks whatever the blob's size."""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterator

from modelyard.transfer.blobs import Readable

#: chunks in flight between the reading and the hashing thread (bounds memory)
PIPELINE_DEPTH = 8
#: chunks a read-ahead thread may be ahead of its consumer
READ_AHEAD_DEPTH = 4
_END = object()


class IteratorReader:
    """A :class:`Readable` over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int = -1, /) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def exact_chunks(stream: Readable, size: int) -> Iterator[bytes]:
    """``stream``'s bytes in pieces of exactly ``size`` (the last may be shorter; an empty
    stream is one empty piece): short reads from a socket do not change the layout."""
    buffer = bytearray()
    yielded = False
    while data := stream.read(size - len(buffer)):
        if not buffer and len(data) == size:  # the common case: a whole chunk, no copy
            yield data
            yielded = True
            continue
        buffer += data
        if len(buffer) == size:
            yield bytes(buffer)
            yielded = True
            buffer.clear()
    if buffer or not yielded:
        yield bytes(buffer)


def copy_hashing(chunks: Iterator[bytes], write: Callable[[bytes, bool], None]) -> tuple[str, int]:
    """Feed ``chunks`` to ``write(chunk, final)`` while hashing them; (sha256 hex, size).

    A stream of more than one chunk is hashed on a second thread while this one writes
    (hashlib releases the GIL), so ingest runs at the slower of the two, not their sum.
    Memory stays bounded by the queue: a few chunks, whatever the blob's size.
    """
    hasher = hashlib.sha256()
    pending: queue.Queue[bytes | None] = queue.Queue(maxsize=PIPELINE_DEPTH)
    worker: threading.Thread | None = None
    size = 0
    current = next(chunks)
    try:
        for upcoming in chunks:
            if worker is None:
                worker = threading.Thread(
                    target=_hash_all, args=(pending, hasher), name="modelyard-blob-hash"
                )
                worker.daemon = True
                worker.start()
            pending.put(current)
            write(current, False)
            size += len(current)
            current = upcoming
        if worker is None:
            hasher.update(current)
        else:
            pending.put(current)
        write(current, True)
        size += len(current)
    finally:
        if worker is not None:
            pending.put(None)
            worker.join()
    return hasher.hexdigest(), size


def _hash_all(pending: queue.Queue[bytes | None], hasher: hashlib._Hash) -> None:
    while (chunk := pending.get()) is not None:
        hasher.update(chunk)


def read_ahead(chunks: Iterator[bytes], depth: int = READ_AHEAD_DEPTH) -> Iterator[bytes]:
    """``chunks``, read by a second thread up to ``depth`` chunks ahead of the consumer, so
    the disk or network read of the next chunk overlaps the decryption of this one (both
    release the GIL). Stopping early (an error, a closed download) stops the reader."""
    pump = _Pump(chunks, depth)
    pump.start()
    try:
        while (item := pump.ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        pump.stop()


class _Pump(threading.Thread):
    def __init__(self, chunks: Iterator[bytes], depth: int) -> None:
        super().__init__(name="modelyard-read-ahead", daemon=True)
        self.ready: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._chunks = chunks
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            for chunk in self._chunks:
                if not self._offer(chunk):
                    return
            self._offer(_END)
        except BaseException as error:  # handed to the consumer, raised there
            self._offer(error)
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()

    def _offer(self, item: object) -> bool:
        while not self._stopped.is_set():
            try:
                self.ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def stop(self) -> None:
        self._stopped.set()
        self.join()
