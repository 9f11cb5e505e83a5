"""The blob store's streaming helpers: exact pieces, hashing while writing, reading ahead."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator

import pytest

from modelyard.store.blobs.streams import copy_hashing, exact_chunks, read_ahead


def test_exact_chunks_cuts_short_reads_into_whole_pieces() -> None:
    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._data.read(min(size, 3))

    assert list(exact_chunks(Trickle(b"abcdefghij"), 4)) == [b"abcd", b"efgh", b"ij"]
    assert list(exact_chunks(io.BytesIO(b"abcdefgh"), 4)) == [b"abcd", b"efgh"]
    assert list(exact_chunks(io.BytesIO(b""), 4)) == [b""]


def test_copy_hashing_marks_only_the_last_piece_final() -> None:
    written: list[tuple[bytes, bool]] = []
    digest, size = copy_hashing(iter([b"ab", b"cd", b"e"]), lambda c, f: written.append((c, f)))
    assert written == [(b"ab", False), (b"cd", False), (b"e", True)]
    assert (digest, size) == (hashlib.sha256(b"abcde").hexdigest(), 5)


def test_read_ahead_keeps_order_and_raises_the_sources_error() -> None:
    assert list(read_ahead(iter([b"1", b"2", b"3"]))) == [b"1", b"2", b"3"]

    def failing() -> Iterator[bytes]:
        yield b"ok"
        raise OSError("disk gone")

    reader = read_ahead(failing())
    assert next(reader) == b"ok"
    with pytest.raises(OSError, match="disk gone"):
        next(reader)


def test_a_consumer_that_stops_early_stops_the_reader() -> None:
    closed = threading.Event()

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"x"
        finally:
            closed.set()

    before = threading.active_count()
    reader = read_ahead(endless(), depth=2)
    assert next(reader) == b"x"
    reader.close()  # a download that was abandoned
    assert closed.is_set(), "the source was closed"
    assert threading.active_count() == before, "the reader thread ended"
