"""The encrypted blob format: AES-256-GCM in fixed-size chunks, one data key per blob.

An encrypted object is a 32-byte header followed by the chunks::

    header  = b"MYBLOBv1" | chunk size (u32 BE) | data key id (16 bytes) | 4 zero bytes
    chunk i = AES-256-GCM(data key, nonce = i as 12 bytes BE,
                          aad = b"modelyard/blob/v1" | key id | i (u64 BE) | final flag)

Every chunk but the last holds exactly ``chunk size`` plaintext bytes (plus a 16-byte tag),
so any plaintext range maps to a range of whole chunks: ranged reads decrypt only what they
return. The chunk index in the nonce and the final flag in the associated data make
reordered, dropped, truncated or extended chunks fail authentication; one data key per blob
(never reused) keeps counter nonces unique. The data key itself lives elsewhere, wrapped by
a key-encryption key (see :mod:`modelyard.store.keys.keyring`), so rotating that key rewrites a
few hundred bytes per blob, never the blob.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from modelyard.errors import IntegrityError

MAGIC = b"MYBLOBv1"
HEADER_SIZE = 32
TAG_SIZE = 16
CHUNK_PLAINTEXT = 1024 * 1024
_HEADER = struct.Struct(">8sI16s4x")
_AAD = b"modelyard/blob/v1"


@dataclass(frozen=True, slots=True)
class Header:
    chunk_size: int
    key_id: bytes

    def pack(self) -> bytes:
        return _HEADER.pack(MAGIC, self.chunk_size, self.key_id)

    @classmethod
    def parse(cls, data: bytes, *, name: str) -> Header:
        if len(data) < HEADER_SIZE or not data.startswith(MAGIC):
            raise IntegrityError(f"{name}: not an encrypted modelyard blob (bad header)")
        _magic, chunk_size, key_id = _HEADER.unpack(data[:HEADER_SIZE])
        if chunk_size <= 0:
            raise IntegrityError(f"{name}: corrupt header (chunk size {chunk_size})")
        return cls(chunk_size=chunk_size, key_id=key_id)


def chunk_count(size: int, chunk_size: int) -> int:
    """Chunks holding ``size`` plaintext bytes (an empty blob is one empty final chunk)."""
    return max(1, -(-size // chunk_size))


def ciphertext_size(size: int, chunk_size: int) -> int:
    return HEADER_SIZE + size + TAG_SIZE * chunk_count(size, chunk_size)


def _aad(key_id: bytes, index: int, final: bool) -> bytes:
    return _AAD + key_id + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


class ChunkSealer:
    """Encrypts one blob's plaintext chunks in order."""

    def __init__(self, data_key: bytes, header: Header) -> None:
        self._aes = AESGCM(data_key)
        self._header = header
        self._index = 0

    def seal(self, plaintext: bytes, *, final: bool) -> bytes:
        sealed = self._aes.encrypt(
            _nonce(self._index), plaintext, _aad(self._header.key_id, self._index, final)
        )
        self._index += 1
        return sealed


def open_range(
    data_key: bytes,
    header: Header,
    size: int,
    ciphertext: Iterable[bytes],
    *,
    start: int,
    end: int,
    name: str,
) -> Iterator[bytes]:
    """Decrypt the plaintext ``[start, end)`` of a blob of ``size`` bytes from
    ``ciphertext``, the object's bytes from :func:`cipher_range`'s offset on."""
    aes = AESGCM(data_key)
    chunk = header.chunk_size
    total = chunk_count(size, chunk)
    first = start // chunk
    index = first
    skip = start - first * chunk
    remaining = end - start
    for sealed in _regroup(ciphertext, chunk + TAG_SIZE):
        final = index == total - 1
        try:
            plain = aes.decrypt(_nonce(index), sealed, _aad(header.key_id, index, final))
        except InvalidTag:
            raise IntegrityError(
                f"{name}: chunk {index} failed authentication (the stored ciphertext was "
                "changed or is corrupt)"
            ) from None
        piece = plain[skip : skip + remaining]
        skip = 0
        remaining -= len(piece)
        if piece:
            yield piece
        index += 1
        if remaining <= 0:
            return
    if remaining > 0:
        raise IntegrityError(f"{name}: the stored ciphertext is truncated (chunk {index})")


def sealed_chunk_size(header: Header) -> int:
    """The stored size of one full chunk: read the object in these, and nothing is re-cut."""
    return header.chunk_size + TAG_SIZE


def cipher_range(header: Header, size: int, start: int, end: int) -> tuple[int, int]:
    """The object byte range holding the chunks for plaintext ``[start, end)``."""
    chunk = header.chunk_size
    first, last = start // chunk, max(start, end - 1) // chunk
    limit = ciphertext_size(size, chunk)
    return (
        HEADER_SIZE + first * (chunk + TAG_SIZE),
        min(limit, HEADER_SIZE + (last + 1) * (chunk + TAG_SIZE)),
    )


def _regroup(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Re-cut a byte stream into ``size``-byte pieces (the last may be shorter)."""
    buffer = bytearray()
    for piece in pieces:
        if not buffer and len(piece) == size:  # read in whole sealed chunks: no copy
            yield piece
            continue
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)
