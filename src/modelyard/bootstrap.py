"""Composition root: Settings → concrete stores. The only module that picks backends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelyard.config import Settings
from modelyard.errors import ConfigError
from modelyard.store.blobs import BlobStore
from modelyard.store.database import Database
from modelyard.store.fs_blobs import FilesystemBlobStore


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
    db.migrate()
    blobs = FilesystemBlobStore(settings.blobs_path)
    return Stores(db=db, blobs=blobs, cache_dir=settings.resolved_cache_dir)
