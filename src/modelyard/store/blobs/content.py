"""The content-addressed blob store over any :class:`ObjectStore`, optionally encrypted.

Layout under the object store's root::

    store.json                      the store's format and whether new blobs are encrypted
    sha256/ab/cdef…                 a plaintext blob (address = sha256 of its bytes)
    enc/ab/cdef…                    an encrypted blob (address = sha256 of the *plaintext*)
    keys/ab/cdef…/<key id>.json     its wrapped data key (see store/blobs/envelope.py, keyring.py)

The address is always the plaintext digest, so deduplication works the same encrypted or
not, and a store can hold both (while ``modelyard blobs encrypt`` migrates it). A blob is
visible once its object is committed; its data key record is written first.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from modelyard.domain.manifest import validate_sha256
from modelyard.errors import IntegrityError, NotFoundError, StorageError
from modelyard.store.blobs.envelope import (
    CHUNK_PLAINTEXT,
    HEADER_SIZE,
    ChunkSealer,
    Header,
    cipher_range,
    open_range,
    sealed_chunk_size,
)
from modelyard.store.blobs.objects import ObjectStore, Staging
from modelyard.store.blobs.streams import IteratorReader, copy_hashing, exact_chunks, read_ahead
from modelyard.store.keys.keyring import DataKeyRecord, Keyring
from modelyard.transfer.blobs import CHUNK_SIZE, Readable, StoredBlob

MARKER = "store.json"
_KEY_CACHE = 4096
#: existence checks up to this many run one after the other; more run on a thread pool
_SERIAL_LOOKUPS = 8
_LOOKUP_THREADS = 16
#: encrypted reads longer than this many chunks read ahead on a second thread
READ_AHEAD_FROM = 2


@dataclass(frozen=True, slots=True)
class BlobEntry:
    """A stored blob, as listed for maintenance (verify, GC, encrypt)."""

    sha256: str
    stored_bytes: int
    modified: datetime
    encrypted: bool


def _plain(digest: str) -> str:
    return f"sha256/{digest[:2]}/{digest[2:]}"


def _sealed(digest: str) -> str:
    return f"enc/{digest[:2]}/{digest[2:]}"


def _keys(digest: str) -> str:
    return f"keys/{digest[:2]}/{digest[2:]}/"


class ContentBlobStore:
    """Implements :class:`~modelyard.transfer.blobs.BlobStore` (and the maintenance calls)."""

    def __init__(
        self, objects: ObjectStore, *, keyring: Keyring | None = None, encrypt: bool = False
    ) -> None:
        if encrypt and keyring is None:
            raise ValueError("an encrypting blob store needs a keyring")
        self.objects = objects
        self.keyring = keyring
        self.encrypt = encrypt
        self._data_keys: OrderedDict[tuple[str, str], tuple[bytes, DataKeyRecord]] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- the BlobStore protocol ------------------------------------------------------

    def missing(self, digests: Iterable[str]) -> set[str]:
        wanted = sorted({validate_sha256(d, field="sha256") for d in digests})
        if len(wanted) <= _SERIAL_LOOKUPS:
            return {d for d in wanted if not self._stored(d)}
        # one round trip per digest on S3: look them up concurrently
        with ThreadPoolExecutor(_LOOKUP_THREADS, thread_name_prefix="modelyard-lookup") as pool:
            stored = pool.map(self._stored, wanted)
            return {d for d, present in zip(wanted, stored, strict=True) if not present}

    def _stored(self, digest: str) -> bool:
        first, second = (_sealed, _plain) if self.encrypt else (_plain, _sealed)
        return self.objects.exists(first(digest)) or self.objects.exists(second(digest))

    def put(self, stream: Readable, *, expected_sha256: str | None = None) -> StoredBlob:
        if expected_sha256 is not None:
            expected_sha256 = validate_sha256(expected_sha256, field="sha256")
        address = _sealed if self.encrypt else _plain
        target = address(expected_sha256) if expected_sha256 else None
        staging = self.objects.stage(target)
        try:
            if self.encrypt:
                return self._put_sealed(stream, staging, expected_sha256)
            digest, size = copy_hashing(
                exact_chunks(stream, CHUNK_SIZE), lambda chunk, _final: staging.write(chunk)
            )
            _check(digest, expected_sha256)
            created = not self._stored_elsewhere(digest) and staging.commit(_plain(digest))
            return StoredBlob(sha256=digest, size=size, created=created)
        finally:
            staging.abort()

    def _put_sealed(
        self, stream: Readable, staging: Staging, expected: str | None, *, sealing: bool = False
    ) -> StoredBlob:
        assert self.keyring is not None
        data_key = os.urandom(32)
        header = Header(chunk_size=CHUNK_PLAINTEXT, key_id=os.urandom(16))
        sealer = ChunkSealer(data_key, header)
        staging.write(header.pack())

        def write(chunk: bytes, final: bool) -> None:
            staging.write(sealer.seal(chunk, final=final))

        digest, size = copy_hashing(exact_chunks(stream, CHUNK_PLAINTEXT), write)
        _check(digest, expected)
        stored_plain = not sealing and self._stored_elsewhere(digest)
        if stored_plain or self.objects.exists(_sealed(digest)):
            return StoredBlob(sha256=digest, size=size, created=False)
        record = self.keyring.wrap(
            data_key,
            DataKeyRecord(
                sha256=digest,
                key_id=header.key_id.hex(),
                kek="",
                wrapped=b"",
                size=size,
                chunk_size=header.chunk_size,
            ),
        )
        key_name = _keys(digest) + f"{record.key_id}.json"
        self.objects.put(key_name, record.to_json())  # the key first, then the blob
        created = staging.commit(_sealed(digest))
        if not created:
            self.objects.delete(key_name)  # a concurrent upload of the same bytes won
        return StoredBlob(sha256=digest, size=size, created=created)

    def _stored_elsewhere(self, digest: str) -> bool:
        """Stored in the format this store does not write (plain in an encrypted store …)."""
        return self.objects.exists(_plain(digest) if self.encrypt else _sealed(digest))

    def read(self, sha256: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        digest = validate_sha256(sha256, field="sha256")
        sealed = self._open_sealed(digest)
        if sealed is None:
            try:
                return self.objects.read(_plain(digest), start, end)
            except NotFoundError:
                raise NotFoundError(f"blob sha256:{digest} is not stored") from None
        data_key, header, record = sealed
        stop = record.size if end is None else min(end, record.size)
        if start >= stop:
            return iter(())
        first, last = cipher_range(header, record.size, start, stop)
        sealed_size = sealed_chunk_size(header)
        ciphertext = self.objects.read(_sealed(digest), first, last, chunk_size=sealed_size)
        if last - first > READ_AHEAD_FROM * sealed_size:  # overlap reading with decrypting
            ciphertext = read_ahead(ciphertext)
        return open_range(
            data_key,
            header,
            record.size,
            ciphertext,
            start=start,
            end=stop,
            name=f"blob sha256:{digest}",
        )

    def size(self, sha256: str) -> int:
        digest = validate_sha256(sha256, field="sha256")
        sealed = self._open_sealed(digest)
        if sealed is not None:
            return sealed[2].size
        try:
            return self.objects.size(_plain(digest))
        except NotFoundError:
            raise NotFoundError(f"blob sha256:{digest} is not stored") from None

    def _open_sealed(self, digest: str) -> tuple[bytes, Header, DataKeyRecord] | None:
        """The data key, header and key record of an encrypted blob; None if not sealed."""
        name = f"blob sha256:{digest}"
        try:
            head = b"".join(self.objects.read(_sealed(digest), 0, HEADER_SIZE))
        except NotFoundError:
            return None
        header = Header.parse(head, name=name)
        data_key, record = self._data_key(digest, header.key_id.hex())
        if record.chunk_size != header.chunk_size:
            raise IntegrityError(f"{name}: header and data key record disagree")
        return data_key, header, record

    def _data_key(self, digest: str, key_id: str) -> tuple[bytes, DataKeyRecord]:
        cached = self._data_keys.get((digest, key_id))
        if cached is not None:
            return cached
        if self.keyring is None:
            raise StorageError(
                f"blob sha256:{digest} is encrypted but no key-encryption key is configured"
            )
        name = _keys(digest) + f"{key_id}.json"
        raw = self.objects.get(name)
        if raw is None:
            raise IntegrityError(f"blob sha256:{digest}: its data key record is missing")
        record = DataKeyRecord.from_json(raw, name=name)
        if record.sha256 != digest or record.key_id != key_id:
            raise IntegrityError(f"blob sha256:{digest}: its data key record names another blob")
        entry = (self.keyring.unwrap(record), record)
        with self._cache_lock:
            self._data_keys[(digest, key_id)] = entry
            while len(self._data_keys) > _KEY_CACHE:
                self._data_keys.popitem(last=False)
        return entry

    # -- maintenance -------------------------------------------------------------------

    def entries(self) -> Iterator[BlobEntry]:
        """Every stored blob (a blob stored both ways is listed twice)."""
        for prefix, encrypted in (("sha256/", False), ("enc/", True)):
            for info in self.objects.list(prefix):
                digest = info.key[len(prefix) :].replace("/", "")
                if len(digest) == 64:
                    yield BlobEntry(digest, info.size, info.modified, encrypted)

    def verify(self, sha256: str) -> str | None:
        """Re-read and re-hash one blob; the problem found, or None if it is intact."""
        hasher = hashlib.sha256()
        try:
            for chunk in self.read(sha256):
                hasher.update(chunk)
        except IntegrityError as e:
            return str(e)
        except NotFoundError:
            return f"blob sha256:{sha256} is not stored"
        if hasher.hexdigest() != sha256:
            return f"blob sha256:{sha256}: its bytes hash to sha256:{hasher.hexdigest()}"
        return None

    def delete(self, sha256: str) -> None:
        """Remove a blob in every format with its data keys (garbage collection only)."""
        digest = validate_sha256(sha256, field="sha256")
        self.objects.delete(_sealed(digest))
        self.objects.delete(_plain(digest))
        for info in list(self.objects.list(_keys(digest))):
            self.objects.delete(info.key)
        with self._cache_lock:
            for cached in [k for k in self._data_keys if k[0] == digest]:
                del self._data_keys[cached]

    def seal_plain(self, sha256: str) -> bool:
        """Encrypt one plaintext blob in place (``blobs encrypt``); False if it was not
        plain. The bytes are verified against the digest on the way, so corruption is
        never sealed in; the plaintext object is removed only once the sealed one exists."""
        digest = validate_sha256(sha256, field="sha256")
        if not self.encrypt or not self.objects.exists(_plain(digest)):
            return False
        if not self.objects.exists(_sealed(digest)):
            staging = self.objects.stage(_sealed(digest))
            try:
                plaintext = IteratorReader(self.objects.read(_plain(digest)))
                self._put_sealed(plaintext, staging, digest, sealing=True)
            finally:
                staging.abort()
        if self._open_sealed(digest) is None:  # never drop the only copy
            raise IntegrityError(f"blob sha256:{digest}: the encrypted copy is not readable")
        self.objects.delete(_plain(digest))
        return True

    def rewrap(self) -> tuple[int, int]:
        """Re-wrap every data key not wrapped by the current KEK; (rewrapped, total)."""
        assert self.keyring is not None
        current = self.keyring.current.id
        done = total = 0
        for info in self.objects.list("keys/"):
            raw = self.objects.get(info.key)
            if raw is None:
                continue  # deleted meanwhile (garbage collection)
            record = DataKeyRecord.from_json(raw, name=info.key)
            total += 1
            if record.kek == current:
                continue
            data_key = self.keyring.unwrap(record)
            self.objects.put(info.key, self.keyring.wrap(data_key, record).to_json())
            done += 1
        return done, total

    def abandoned_uploads(self, before: datetime, *, abort: bool) -> int:
        """Uploads begun before ``before`` and never finished: unfinished S3 multipart
        uploads, and verified S3 uploads whose copy to their address did not finish (staging
        keys). The filesystem removes its stale temp files itself when it opens."""
        abandoned = getattr(self.objects, "abandoned_uploads", None)
        if abandoned is None:
            return 0
        uploads = abandoned(before)
        staged = [o.key for o in self.objects.list("staging/") if o.modified < before]
        if abort:
            for key, upload_id in uploads:
                self.objects.abort_upload(key, upload_id)  # type: ignore[attr-defined]
            for key in staged:
                self.objects.delete(key)
        return len(uploads) + len(staged)

    def start_encrypting(self) -> None:
        """Mark the store encrypted; blobs stored from now on are encrypted."""
        if self.keyring is None:
            raise ValueError("an encrypting blob store needs a keyring")
        self.write_marker(encrypt=True)

    def describe(self) -> dict[str, str]:
        """Where the blobs are and how new ones are stored (for ``modelyard status``)."""
        info = {"location": self.objects.location}
        if not self.encrypt:
            info["encryption"] = "off (new blobs are plaintext; modelyard blobs encrypt)"
        else:
            info["encryption"] = "AES-256-GCM, a data key per blob"
            assert self.keyring is not None
            info["key_encryption_key"] = self.keyring.current.id
        return info

    @staticmethod
    def read_marker(objects: ObjectStore) -> dict[str, object]:
        """The store's format marker (``store.json``); empty for a store without one."""
        raw = objects.get(MARKER)
        return {} if raw is None else dict(json.loads(raw))

    def write_marker(self, *, encrypt: bool) -> None:
        body = {"format": 1, "encryption": "aes-256-gcm" if encrypt else "none"}
        self.objects.put(MARKER, json.dumps(body, indent=2).encode() + b"\n")
        self.encrypt = encrypt


def _check(digest: str, expected: str | None) -> None:
    if expected is not None and digest != expected:
        raise IntegrityError(f"upload: the bytes have sha256 {digest}, not the expected {expected}")
