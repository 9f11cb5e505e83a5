"""Composition root: Settings → concrete stores → the services' context. The only module
that picks backends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelyard.config import Settings
from modelyard.errors import ConfigError
from modelyard.scanning.trust import parse_trusted_globals
from modelyard.services.context import Clock, ServiceContext, utc_now
from modelyard.store.blobs.content import ContentBlobStore
from modelyard.store.blobs.fs_objects import FilesystemObjects
from modelyard.store.blobs.objects import ObjectStore
from modelyard.store.blobs.s3_objects import S3Objects
from modelyard.store.keys.keyring import KeyFile, Keyring, KmsKey
from modelyard.store.keys.signing import FileSigningKeys
from modelyard.store.sql.database import Database


@dataclass(frozen=True, slots=True)
class Stores:
    db: Database
    blobs: ContentBlobStore
    cache_dir: Path


def open_context(settings: Settings, *, clock: Clock = utc_now) -> ServiceContext:
    """Everything the services need, built once: stores opened (and migrated), keys found,
    settings parsed."""
    trusted = parse_trusted_globals(settings.scan_trusted_globals)
    stores = open_stores(settings)
    assert stores.blobs.keyring is not None  # open_blob_store always gives it one
    return ServiceContext(
        db=stores.db,
        blobs=stores.blobs,
        blob_admin=stores.blobs,
        kek=stores.blobs.keyring,
        keys=FileSigningKeys(
            manifest=settings.resolved_signing_key_file, audit=settings.resolved_audit_key_file
        ),
        cache_dir=stores.cache_dir,
        clock=clock,
        sagemaker=(settings.sagemaker_account, settings.sagemaker_region),
        scan_trusted_globals=trusted,
    )


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
    objects = _objects(settings)
    marker = ContentBlobStore.read_marker(objects)
    if marker:
        encrypt = marker.get("encryption") == "aes-256-gcm"
    else:
        legacy = next(iter(objects.list("sha256/")), None) is not None
        encrypt = settings.blob_encryption and not legacy
        if encrypt and settings.kms_key_id is None:
            KeyFile(settings.resolved_key_file).create()
    keyring = open_keyring(settings)
    if encrypt:
        keyring.current  # noqa: B018 - fail now, naming the key file, not on first put
    store = ContentBlobStore(objects, keyring=keyring, encrypt=encrypt)
    if not marker:
        store.write_marker(encrypt=encrypt)
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
