"""The blob store contract: every backend passes it — filesystem and S3 (a real moto
server), each plaintext and encrypted."""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from modelyard import IntegrityError, NotFoundError, ValidationError
from modelyard.store.blobs.content import ContentBlobStore
from modelyard.store.blobs.envelope import CHUNK_PLAINTEXT, HEADER_SIZE
from modelyard.store.blobs.filesystem import FilesystemBlobStore
from modelyard.store.blobs.fs_objects import FilesystemObjects
from modelyard.store.blobs.s3_objects import PART_SIZE, S3Objects
from modelyard.store.keys.keyring import KeyFile, Keyring
from tests.conftest import REGION

BACKENDS = ["filesystem", "filesystem+encrypted", "s3", "s3+encrypted"]


@dataclass
class Backend:
    store: ContentBlobStore
    leftovers: Callable[[], list[str]]  # staging files / unfinished uploads
    flip: Callable[[str, int], None]  # flip the byte at an offset of a blob's stored object
    key_file: KeyFile


def _keyring(tmp_path: Path) -> tuple[KeyFile, Keyring]:
    key_file = KeyFile(tmp_path / "keys" / "blob-keys.json")
    key_file.create()
    return key_file, Keyring(key_file)


def _object_key(store: ContentBlobStore, digest: str) -> str:
    sealed = f"enc/{digest[:2]}/{digest[2:]}"
    return sealed if store.objects.exists(sealed) else f"sha256/{digest[:2]}/{digest[2:]}"


def _filesystem(tmp_path: Path, encrypt: bool) -> Backend:
    key_file, keyring = _keyring(tmp_path)
    store = FilesystemBlobStore(tmp_path / "blobs", keyring=keyring, encrypt=encrypt)

    def flip(digest: str, offset: int) -> None:
        path = store.path_of(digest)
        path.chmod(0o644)
        data = bytearray(path.read_bytes())
        data[offset] ^= 0x01
        path.write_bytes(bytes(data))

    return Backend(
        store, lambda: [p.name for p in (tmp_path / "blobs" / "tmp").iterdir()], flip, key_file
    )


def _s3(tmp_path: Path, moto_url: str, encrypt: bool) -> Backend:
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name=REGION)
    bucket = f"blobs-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    key_file, keyring = _keyring(tmp_path)
    objects = S3Objects(bucket, "team/models", endpoint_url=moto_url, region=REGION)
    store = ContentBlobStore(objects, keyring=keyring, encrypt=encrypt)

    def leftovers() -> list[str]:
        uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        staged = s3.list_objects_v2(Bucket=bucket, Prefix="team/models/staging/")
        return [u["Key"] for u in uploads] + [o["Key"] for o in staged.get("Contents", [])]

    def flip(digest: str, offset: int) -> None:
        key = "team/models/" + _object_key(store, digest)
        data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        data[offset] ^= 0x01
        s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))

    return Backend(store, leftovers, flip, key_file)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    kind, _, encrypted = request.param.partition("+")
    if kind == "s3":
        request.getfixturevalue("aws_env")
        yield _s3(tmp_path, request.getfixturevalue("moto_url"), bool(encrypted))
    else:
        yield _filesystem(tmp_path, bool(encrypted))


@pytest.fixture
def blobs(backend: Backend) -> ContentBlobStore:
    return backend.store


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(blobs: ContentBlobStore, digest: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(blobs.read(digest, start=start, end=end))


def test_put_then_read(blobs: ContentBlobStore) -> None:
    data = b"hello" * 1000
    stored = blobs.put(io.BytesIO(data))
    assert (stored.sha256, stored.size, stored.created) == (sha(data), 5000, True)
    assert read(blobs, sha(data)) == data
    assert blobs.size(sha(data)) == 5000
    assert blobs.missing([sha(data), sha(b"other")]) == {sha(b"other")}


def test_empty_blob(blobs: ContentBlobStore) -> None:
    assert blobs.put(io.BytesIO(b""), expected_sha256=sha(b"")).size == 0
    assert read(blobs, sha(b"")) == b""
    assert blobs.size(sha(b"")) == 0


def test_put_twice_is_deduplicated(blobs: ContentBlobStore) -> None:
    assert blobs.put(io.BytesIO(b"x")).created
    again = blobs.put(io.BytesIO(b"x"), expected_sha256=sha(b"x"))
    assert not again.created
    assert read(blobs, sha(b"x")) == b"x"


@pytest.mark.parametrize("size", [CHUNK_PLAINTEXT, 2 * CHUNK_PLAINTEXT, PART_SIZE + 12345])
def test_sizes_at_chunk_and_part_boundaries(blobs: ContentBlobStore, size: int) -> None:
    data = hashlib.sha256(str(size).encode()).digest() * (size // 32) + b"t" * (size % 32)
    blobs.put(io.BytesIO(data), expected_sha256=sha(data))
    assert blobs.size(sha(data)) == size
    assert hashlib.sha256(read(blobs, sha(data))).hexdigest() == sha(data)


def test_ranged_read(blobs: ContentBlobStore) -> None:
    data = bytes(range(256)) * 8192 + b"tail"  # 2 MiB + 4: three encrypted chunks
    blobs.put(io.BytesIO(data))
    digest = sha(data)
    one = CHUNK_PLAINTEXT
    for start, end in [
        (100, 2_000_000),
        (len(data) - 3, None),
        (one - 1, one + 1),  # across a chunk boundary
        (one, 2 * one),  # exactly one chunk
        (0, 1),
        (2 * one, None),  # only the short last chunk
    ]:
        assert read(blobs, digest, start, end) == data[start:end], (start, end)
    assert read(blobs, digest, 10, 10) == b""
    assert read(blobs, digest, len(data) + 5) == b""


def test_short_reads_do_not_change_what_is_stored(blobs: ContentBlobStore) -> None:
    class Trickle(io.RawIOBase):
        """Returns at most 1000 bytes per read, like a socket."""

        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._data.read(min(size, 1000) if size >= 0 else 1000)

    data = b"0123456789" * 300_000
    blobs.put(Trickle(data), expected_sha256=sha(data))
    assert read(blobs, sha(data), 1_048_570, 1_048_590) == data[1_048_570:1_048_590]


def test_wrong_digest_stores_nothing(backend: Backend, blobs: ContentBlobStore) -> None:
    big = b"b" * (PART_SIZE + 1)  # a multipart upload on S3
    for data in (b"actual", big):
        with pytest.raises(IntegrityError, match="not the expected"):
            blobs.put(io.BytesIO(data), expected_sha256=sha(b"claimed"))
        assert blobs.missing([sha(data), sha(b"claimed")]) == {sha(data), sha(b"claimed")}
    assert backend.leftovers() == [], "no staged bytes are left behind"
    assert list(blobs.entries()) == []


def test_stream_failing_midway_stores_nothing(backend: Backend, blobs: ContentBlobStore) -> None:
    class Broken(io.RawIOBase):
        sent = 0

        def read(self, size: int = -1) -> bytes:
            if self.sent > PART_SIZE + 3 * 1024 * 1024:  # past the first S3 part
                raise OSError("connection reset")
            self.sent += 1024 * 1024
            return b"x" * 1024 * 1024

    with pytest.raises(OSError, match="connection reset"):
        blobs.put(Broken())
    assert list(blobs.entries()) == []
    assert backend.leftovers() == [], "no staged bytes are left behind"


def test_unknown_blob_is_not_found(blobs: ContentBlobStore) -> None:
    with pytest.raises(NotFoundError):
        blobs.read(sha(b"nothing"))
    with pytest.raises(NotFoundError):
        blobs.size(sha(b"nothing"))


def test_malformed_digest_is_refused(blobs: ContentBlobStore) -> None:
    with pytest.raises(ValidationError, match="not a sha256"):
        blobs.missing(["../../etc/passwd"])
    with pytest.raises(ValidationError, match="not a sha256"):
        blobs.read("../../etc/passwd")


def test_concurrent_uploads_of_the_same_bytes(blobs: ContentBlobStore) -> None:
    data = b"same" * 700_000  # 2.8 MiB: several encrypted chunks
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            blobs.put(io.BytesIO(data), expected_sha256=sha(data))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert read(blobs, sha(data)) == data


def test_a_flipped_byte_is_detected(backend: Backend, blobs: ContentBlobStore) -> None:
    data = bytes(range(256)) * 10_000
    blobs.put(io.BytesIO(data))
    digest = sha(data)
    assert blobs.verify(digest) is None
    backend.flip(digest, -100)
    problem = blobs.verify(digest)
    assert problem is not None and f"sha256:{digest}" in problem
    if blobs.encrypt:  # authenticated encryption: the read itself fails
        with pytest.raises(IntegrityError, match="failed authentication"):
            read(blobs, digest)
    else:  # plaintext: the bytes no longer hash to their address
        assert sha(read(blobs, digest)) != digest


def test_listing_and_deleting(blobs: ContentBlobStore) -> None:
    for data in (b"one", b"two"):
        blobs.put(io.BytesIO(data))
    listed = {(e.sha256, e.encrypted) for e in blobs.entries()}
    assert listed == {(sha(b"one"), blobs.encrypt), (sha(b"two"), blobs.encrypt)}
    blobs.delete(sha(b"one"))
    assert blobs.missing([sha(b"one"), sha(b"two")]) == {sha(b"one")}
    assert [e.sha256 for e in blobs.entries()] == [sha(b"two")]
    assert not list(blobs.objects.list(f"keys/{sha(b'one')[:2]}/"))


ENCRYPTED = pytest.mark.parametrize(
    "backend", [b for b in BACKENDS if b.endswith("+encrypted")], indirect=True
)


@ENCRYPTED
def test_encrypted_objects_hold_no_plaintext(backend: Backend, blobs: ContentBlobStore) -> None:
    data = b"secret weights " * 100_000
    blobs.put(io.BytesIO(data))
    stored = b"".join(blobs.objects.read(_object_key(blobs, sha(data))))
    assert b"secret weights" not in stored
    assert stored.startswith(b"MYBLOBv1") and len(stored) > len(data) + HEADER_SIZE


@ENCRYPTED
def test_key_rotation_rewraps_and_the_old_key_is_not_needed(
    backend: Backend, blobs: ContentBlobStore
) -> None:
    data = [f"blob {i}".encode() * 1000 for i in range(5)]
    for item in data:
        blobs.put(io.BytesIO(item))
    old = backend.key_file.entries()
    from modelyard.store.keys.keyring import new_key_entry

    backend.key_file.write([new_key_entry(), *old])  # rotation, step 1: a new current key
    assert blobs.keyring is not None
    blobs.keyring.reload()
    assert blobs.rewrap() == (5, 5)
    backend.key_file.write(backend.key_file.entries()[:1])  # step 3: the old key is gone
    fresh = ContentBlobStore(blobs.objects, keyring=Keyring(backend.key_file), encrypt=True)
    assert [read(fresh, sha(item)) for item in data] == data
    assert fresh.rewrap() == (0, 5)


@ENCRYPTED
def test_a_plaintext_store_can_be_encrypted(backend: Backend, blobs: ContentBlobStore) -> None:
    plain = ContentBlobStore(blobs.objects, keyring=blobs.keyring, encrypt=False)
    data = b"legacy" * 400_000
    plain.put(io.BytesIO(data))
    sealing = ContentBlobStore(blobs.objects, keyring=blobs.keyring, encrypt=True)
    assert sealing.seal_plain(sha(data))
    assert [e.encrypted for e in sealing.entries()] == [True]
    assert read(plain, sha(data)) == data, "readers find it whatever their own setting"
    assert not sealing.seal_plain(sha(data)), "already encrypted"
    assert backend.leftovers() == []


def test_stored_blobs_are_read_only_files(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    store.put(io.BytesIO(b"ro"))
    assert store.path_of(sha(b"ro")).stat().st_mode & 0o222 == 0


def test_filesystem_objects_list_only_their_prefix(tmp_path: Path) -> None:
    objects = FilesystemObjects(tmp_path)
    objects.put("keys/ab/x.json", b"{}")
    objects.put("sha256/ab/cd", b"data")
    assert [o.key for o in objects.list("keys/")] == ["keys/ab/x.json"]
    assert [o.key for o in objects.list("sha256/")] == ["sha256/ab/cd"]


@pytest.fixture
def kms_key(aws_env: None, moto_url: str) -> tuple[object, str]:
    kms = boto3.client("kms", endpoint_url=moto_url, region_name=REGION)
    return kms, kms.create_key(Description="modelyard blobs")["KeyMetadata"]["Arn"]


def test_data_keys_wrapped_by_kms(tmp_path: Path, kms_key: tuple[object, str]) -> None:
    from modelyard.store.keys.keyring import DataKeyRecord, KmsKey

    kms, arn = kms_key
    keyring = Keyring(KeyFile(tmp_path / "none.json"), KmsKey(arn, kms))
    store = FilesystemBlobStore(tmp_path / "blobs", keyring=keyring, encrypt=True)
    data = b"kms-protected" * 100_000
    store.put(io.BytesIO(data))
    assert read(store, sha(data)) == data
    [info] = store.objects.list("keys/")
    record = DataKeyRecord.from_json(store.objects.get(info.key) or b"", name=info.key)
    assert record.kek == f"kms:{arn}"
    # a key record moved to another blob does not unwrap (KMS encryption context)
    moved = DataKeyRecord(sha(b"other"), record.key_id, record.kek, record.wrapped, 1, 1)
    with pytest.raises(IntegrityError, match="InvalidCiphertext"):
        keyring.unwrap(moved)


def test_rotation_from_a_key_file_to_kms(tmp_path: Path, kms_key: tuple[object, str]) -> None:
    from modelyard.store.keys.keyring import KmsKey

    kms, arn = kms_key
    key_file, file_keyring = _keyring(tmp_path)
    store = FilesystemBlobStore(tmp_path / "blobs", keyring=file_keyring, encrypt=True)
    store.put(io.BytesIO(b"before"))
    store.keyring = Keyring(key_file, KmsKey(arn, kms))
    assert store.rewrap() == (1, 1)
    key_file.path.unlink()  # the key file is no longer needed
    fresh = FilesystemBlobStore(
        tmp_path / "blobs", keyring=Keyring(key_file, KmsKey(arn, kms)), encrypt=True
    )
    assert read(fresh, sha(b"before")) == b"before"


def test_a_missing_bucket_or_credentials_is_a_config_error(
    aws_env: None, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelyard import ConfigError

    with pytest.raises(ConfigError, match="bucket 'no-such-bucket' does not exist") as info:
        S3Objects("no-such-bucket", endpoint_url=moto_url, region=REGION)
    assert info.value.field == "blobs_url"
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigError, match="no AWS credentials"):
        S3Objects("any", endpoint_url=moto_url, region=REGION)
