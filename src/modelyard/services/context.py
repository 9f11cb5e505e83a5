"""The one object every service runs on: the stores, the keys, the clock, the settings the
use cases read and the caches shared by every view of one registry. ``bootstrap`` builds it
once; a service is that context plus the principal it acts as."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelyard.services.ports import BlobAdmin, KeyEncryption, SigningKeys
from modelyard.store.sql.database import Database
from modelyard.transfer.blobs import BlobStore

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Caches:
    """Memory shared by every view (``acting_as``) of one registry; each entry is an
    optimisation that a stale value cannot make wrong (see the users' comments)."""

    #: (principal, group) → when last seen open and writable by them (monotonic)
    open_groups: dict[tuple[str, str], float] = field(default_factory=dict)
    #: token id → when its last_used_at was last written (monotonic)
    token_touched: dict[str, float] = field(default_factory=dict)
    #: (pipeline, revision) → its spec; revisions never change
    pipeline_specs: dict[tuple[str, int], Mapping[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True)
class ServiceContext:
    db: Database
    blobs: BlobStore
    blob_admin: BlobAdmin
    kek: KeyEncryption
    keys: SigningKeys
    cache_dir: Path
    clock: Clock = utc_now
    #: (account, region) in the ARNs of SageMaker-shaped events
    sagemaker: tuple[str, str] = ("000000000000", "us-east-1")
    #: "module.name" / "module.*" pickle globals the scanner trusts beyond its allowlist
    scan_trusted_globals: tuple[str, ...] = ()
    caches: Caches = field(default_factory=Caches)

    def close(self) -> None:
        """Release the database's pooled connections."""
        self.db.dispose()
