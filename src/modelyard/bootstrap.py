"""Composition root: Settings → concrete stores. The only module that picks backends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelyard.config import Settings
from modelyard.errors import ConfigError
from modelyard.store.blobs.content import ContentBlobStore
from modelyard.store.blobs.fs_objects import FilesystemObjects
from modelyard.store.blobs.objects import ObjectStore
from modelyard.store.blobs.s3_objects import S3Objects
from modelyard.store.keys.keyring import KeyFile, Keyring, KmsKey
from modelyard.store.sql.database import Database
from modelyard.transfer.blobs import BlobStore


@dataclass(frozen=True, slots=True)
class Stores:
    db: Database
    blobs: BlobStore
    cache_dir: Path


def open_stores(settings: Settings) -> Stores:
    """Create the embedded home if needed, migrate the schema, return the stores."""
    if settings.db_url is None or settings.blobs_url is None:
        try:
            settings.home.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(
                f"home: cannot create {str(settings.home)!r}: {e.strerror}", field="home"
            ) from e
    db = Database(settings.resolved_db_url)
    try:
        db.migrate()
        blobs = open_blob_store(settings)
    except BaseException:
        db.dispose()  # no pooled connections left behind by a store that did not open
        raise
    return Stores(db=db, blobs=blobs, cache_dir=settings.resolved_cache_dir)


def open_blob_store(settings: Settings) -> ContentBlobStore:
    """The blob store at ``blobs_url``; a new store is marked (and keyed) for encryption
    when ``blob_encryption`` is on, an existing one keeps the format it was created with."""
    store = ContentBlobStore(_objects(settings))
    marker = store.marker()
    if marker:
        encrypt = marker.get("encryption") == "aes-256-gcm"
    else:
        legacy = next(iter(store.objects.list("sha256/")), None) is not None
        encrypt = settings.blob_encryption and not legacy
        if encrypt and settings.kms_key_id is None:
            KeyFile(settings.resolved_key_file).create()
        store.write_marker(encrypt=encrypt)
    store.keyring = open_keyring(settings)
    if encrypt:
        store.keyring.current  # noqa: B018 - fail now, naming the key file, not on first put
    store.encrypt = encrypt
    return store


def open_keyring(settings: Settings) -> Keyring:
    """The key-encryption keys: the KMS key (if configured) and the key file's keys."""
    kms = None
    if settings.kms_key_id:
        import boto3

        kms = KmsKey(settings.kms_key_id, boto3.session.Session().client("kms"))
    return Keyring(KeyFile(settings.resolved_key_file), kms)


def _objects(settings: Settings) -> ObjectStore:
    url = settings.resolved_blobs_url
    if url.startswith("s3://"):
        bucket, prefix = settings.s3_location
        return S3Objects(
            bucket, prefix, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
        )
    if url.startswith("file://"):
        return FilesystemObjects(settings.blobs_path)
    raise ConfigError(
        f"blobs_url: {url!r} is neither file:///ABSOLUTE/PATH nor s3://BUCKET[/PREFIX]",
        field="blobs_url",
    )
