"""Fill a store with N versions quickly, for the lookup and search benchmarks.

Registering 100,000 versions one by one through ``register_version`` takes minutes (see
the register benchmark), 1,000,000 far longer, so the bulk is inserted directly with
SQLAlchemy Core ``executemany`` into the tables of ``modelyard/store/sql/schema.py``, 50,000
versions per transaction. Everything else goes through the public API: the groups (with
tags), the blobs (16 real 1 KiB artifacts, reused round-robin by the versions), the
aliases, and a few hundred versions registered normally at the end (so the store mixes
API-written and bulk-written rows, and the bulk rows are checked to load like real ones).

The data: 20 groups; versions round-robin over them (numbers 1..N/20 per group); metrics
auc, accuracy, f1, precision, recall uniform in [0, 1); tags team (5 values), dataset
(20 values), owner (250 values; exactly 10 versions, spread evenly, have owner
"owner-rare" instead); approval status 80% pending, 15% approved, 5% rejected.
Not populated: audit log and outbox rows of the bulk versions (no benchmarked query
reads them).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from benchmarks.common import log
from modelyard import Lineage, Registry
from modelyard.config import Settings
from modelyard.domain.manifest import Manifest
from modelyard.store.sql.database import Database
from modelyard.store.sql.schema import (
    groups,
    version_files,
    version_metrics,
    version_tags,
    versions,
)

DATA_VERSION = 2  # bump when the generated data changes (invalidates reused stores)
GROUPS = 20
TEAMS = ("risk", "growth", "search", "ads", "platform")
METRICS = ("auc", "accuracy", "f1", "precision", "recall")
OWNERS = 250
DATASETS = 20
ALIASES = ("champion", "production", "staging")
RARE_OWNER = "owner-rare"  # the owner tag of exactly RARE_COUNT versions, at every scale
RARE_COUNT = 10
API_VERSIONS = 200  # registered through register_version after the bulk
CHUNK = 50_000
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Store:
    home: Path
    scale: int
    group_names: tuple[str, ...]
    seconds: float
    method: str

    def open(self) -> Registry:
        return Registry.open(self.home)

    @property
    def db_url(self) -> str:
        return Settings(home=self.home).resolved_db_url


def group_name(index: int) -> str:
    return f"model-{index:02d}"


def populated_store(workdir: Path, scale: int, *, reuse: bool) -> Store:
    """A store with ``scale`` versions under ``workdir`` (reused if asked and complete)."""
    home = workdir / f"store-{scale}"
    marker = home / "populated.json"
    names = tuple(group_name(i) for i in range(GROUPS))
    if reuse and marker.is_file():
        info = json.loads(marker.read_text())
        if info.get("data_version") == DATA_VERSION:
            log(f"reusing the populated store {home} ({scale:,} versions)")
            return Store(home, scale, names, info["seconds"], info["method"] + " (reused)")
    shutil.rmtree(home, ignore_errors=True)
    start = time.perf_counter()
    method = _populate(home, scale, names)
    seconds = time.perf_counter() - start
    marker.write_text(
        json.dumps({"data_version": DATA_VERSION, "seconds": seconds, "method": method})
    )
    log(f"populated {scale:,} versions in {seconds:.0f} s")
    return Store(home, scale, names, seconds, method)


def _populate(home: Path, scale: int, names: tuple[str, ...]) -> str:
    rng = random.Random(scale)
    bulk = max(0, scale - API_VERSIONS)
    reg = Registry.open(home)
    try:
        for index, name in enumerate(names):
            reg.create_group(
                name, tags={"domain": ("fraud", "ranking", "vision", "nlp")[index % 4]}
            )
        manifests = _upload_artifacts(reg, home / "artifacts")
        log(f"bulk insert of {bulk:,} versions (SQLAlchemy Core executemany)")
        _bulk_insert(Settings(home=home).resolved_db_url, bulk, manifests, rng)
        log(f"register_version x {scale - bulk} through the API")
        for i in range(bulk, scale):
            metrics, tags, _ = _attributes(rng)
            reg.register_version(
                names[i % GROUPS], home / "artifacts" / "0", metrics=metrics, tags=tags
            )
        for name in names:
            latest = reg.get_group(name).latest_version
            for alias in ALIASES:
                reg.set_alias(name, alias, rng.randint(1, latest))
    finally:
        reg.close()
    return (
        f"{bulk:,} versions by SQLAlchemy Core executemany ({CHUNK:,} per transaction), "
        f"{scale - bulk} through register_version; groups, blobs and aliases through the API"
    )


def _upload_artifacts(reg: Registry, root: Path) -> list[Manifest]:
    manifests = []
    for i in range(16):
        directory = root / str(i)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "model.bin").write_bytes(os.urandom(1024))
        manifests.append(reg.upload_artifact(directory).manifest)
    return manifests


def _attributes(rng: random.Random) -> tuple[dict[str, float], dict[str, str], str]:
    metrics = {k: rng.random() for k in METRICS}
    tags = {
        "team": rng.choice(TEAMS),
        "dataset": f"ds-{rng.randrange(DATASETS):02d}",
        "owner": f"owner-{rng.randrange(OWNERS):03d}",
    }
    roll = rng.random()
    status = "PendingManualApproval" if roll < 0.8 else "Approved" if roll < 0.95 else "Rejected"
    return metrics, tags, status


def _bulk_insert(url: str, count: int, manifests: list[Manifest], rng: random.Random) -> None:
    db = Database(url)
    try:
        with db.transaction() as conn:
            group_ids = dict(conn.execute(select(groups.c.name, groups.c.id)).all())
        ids = [group_ids[group_name(i)] for i in range(GROUPS)]
        step = max(1, count // RARE_COUNT)
        rare = set(range(step // 2, count, step)[:RARE_COUNT])
        for first in range(0, count, CHUNK):
            rows = _rows(range(first, min(count, first + CHUNK)), ids, manifests, rng, rare)
            with db.transaction() as conn:
                conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MiB while loading
                for table, values in zip(
                    (versions, version_files, version_metrics, version_tags), rows, strict=True
                ):
                    conn.execute(insert(table), values)
            log(f"{min(count, first + CHUNK):,} / {count:,}")
        with db.transaction() as conn:
            for i, group_id in enumerate(ids):
                latest = len(range(i, count, GROUPS))
                conn.execute(
                    update(groups).where(groups.c.id == group_id).values(latest_version=latest)
                )
    finally:
        db.dispose()


def _rows(
    indexes: range,
    group_ids: list[int],
    manifests: list[Manifest],
    rng: random.Random,
    rare: set[int],
) -> tuple[list[dict[str, Any]], ...]:
    lineage = Lineage().to_dict()
    rows: tuple[list[dict[str, Any]], ...] = ([], [], [], [])
    for i in indexes:
        version_id = i + 1
        manifest = manifests[i % len(manifests)]
        metrics, tags, status = _attributes(rng)
        if i in rare:
            tags["owner"] = RARE_OWNER
        at = BASE_TIME + timedelta(seconds=i)
        rows[0].append(
            {
                "id": version_id,
                "group_id": group_ids[i % GROUPS],
                "number": i // GROUPS + 1,
                "manifest_digest": manifest.digest,
                "file_count": len(manifest.files),
                "total_size": manifest.total_size,
                "lineage": lineage,
                "framework": ("sklearn", "pytorch", "xgboost")[i % 3],
                "description": "",
                "model_card": "",
                "approval_status": status,
                "created_by": "bench",
                "created_at": at,
                "updated_at": at,
            }
        )
        rows[1].extend(_files(version_id, manifest))
        rows[2].extend({"version_id": version_id, "key": k, "value": v} for k, v in metrics.items())
        rows[3].extend({"version_id": version_id, "key": k, "value": v} for k, v in tags.items())
    return rows


def _files(version_id: int, manifest: Manifest) -> Iterator[dict[str, Any]]:
    for f in manifest.files:
        yield {"version_id": version_id, "path": f.path, "size": f.size, "sha256": f.sha256}
