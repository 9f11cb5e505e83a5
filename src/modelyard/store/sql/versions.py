"""SQL repository for versions: insert once, load in batches, change only the mutable parts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Float,
    Row,
    Text,
    and_,
    bindparam,
    cast,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)

from modelyard.domain.approval import ApprovalStatus
from modelyard.domain.manifest import FileEntry, Manifest, path_order_key
from modelyard.domain.model import ApprovalDecision, Lineage, Version
from modelyard.errors import NotFoundError
from modelyard.store.sql.groups import name_matches
from modelyard.store.sql.rows import insert_pairs, replace_pairs, utc
from modelyard.store.sql.schema import (
    aliases,
    approval_decisions,
    groups,
    version_files,
    version_metadata,
    version_metrics,
    version_params,
    version_parents,
    version_tags,
    versions,
)

MUTABLE_PAIRS = {"tags": version_tags, "metadata": version_metadata}


_INSERT_VERSION = insert(versions)
_INSERT_FILES = insert(version_files)


def insert_version(
    conn: Connection,
    *,
    group_id: int,
    number: int,
    manifest: Manifest,
    metrics: dict[str, float],
    params: dict[str, str],
    lineage: Lineage,
    parent_ids: Sequence[int],
    framework: str | None,
    tags: dict[str, str],
    metadata: dict[str, str],
    description: str,
    model_card: str,
    actor: str,
    now: datetime,
) -> int:
    # Statements are built once (module level) and given plain parameters: on the hot path of
    # registration, rebuilding them costs more than SQLite spends executing them.
    row = {
        "group_id": group_id,
        "number": number,
        "manifest_digest": manifest.digest,
        "file_count": len(manifest.files),
        "total_size": manifest.total_size,
        "lineage": lineage.to_dict(),
        "framework": framework,
        "description": description,
        "model_card": model_card,
        "approval_status": ApprovalStatus.PENDING.value,
        "created_by": actor,
        "created_at": now,
        "updated_at": now,
    }
    version_id: int = conn.execute(_INSERT_VERSION, row).inserted_primary_key[0]  # type: ignore[index]
    conn.execute(
        _INSERT_FILES,
        [
            {"version_id": version_id, "path": f.path, "size": f.size, "sha256": f.sha256}
            for f in manifest.files
        ],
    )
    insert_pairs(conn, version_metrics, "version_id", version_id, metrics)
    insert_pairs(conn, version_params, "version_id", version_id, params)
    insert_pairs(conn, version_tags, "version_id", version_id, tags)
    insert_pairs(conn, version_metadata, "version_id", version_id, metadata)
    if parent_ids:
        conn.execute(
            insert(version_parents),
            [{"version_id": version_id, "parent_id": p} for p in parent_ids],
        )
    return version_id


# The hot read queries are built once (with bind parameters) rather than per call: building
# and cache-keying a statement costs more than SQLite takes to run it.
_VERSION_ID = (
    select(versions.c.id)
    .join(groups, groups.c.id == versions.c.group_id)
    .where(groups.c.name == bindparam("group"), versions.c.number == bindparam("number"))
)
_VERSION_ID_BY_ALIAS = (
    select(aliases.c.version_id)
    .join(groups, groups.c.id == aliases.c.group_id)
    .where(groups.c.name == bindparam("group"), aliases.c.name == bindparam("alias"))
)
_VERSION_ROWS = (
    select(versions, groups.c.name.label("group_name"))
    .join(groups, groups.c.id == versions.c.group_id)
    .where(versions.c.id.in_(bindparam("ids", expanding=True)))
)
_FILES = select(version_files).where(
    version_files.c.version_id.in_(bindparam("ids", expanding=True))
)


def version_id_of(conn: Connection, group: str, number: int) -> int:
    version_id = conn.execute(_VERSION_ID, {"group": group, "number": number}).scalar()
    if version_id is None:
        raise NotFoundError(f"version {group}/{number} does not exist", field="reference")
    return int(version_id)


def version_id_by_alias(conn: Connection, group: str, alias: str) -> int:
    version_id = conn.execute(_VERSION_ID_BY_ALIAS, {"group": group, "alias": alias}).scalar()
    if version_id is None:
        raise NotFoundError(f"alias {group}@{alias} does not exist", field="reference")
    return int(version_id)


def load_versions(conn: Connection, ids: Sequence[int]) -> list[Version]:
    """Full versions for ``ids``, in the order given, with a fixed number of queries."""
    if not ids:
        return []
    rows = {r.id: r for r in conn.execute(_VERSION_ROWS, {"ids": list(ids)})}
    files = _load_files(conn, ids)
    pairs = _load_keyed(conn, ids)
    return [
        _to_version(
            rows[i],
            files=files[i],
            metrics=pairs["metrics"][i],
            params=pairs["params"][i],
            tags=pairs["tags"][i],
            metadata=pairs["metadata"][i],
            alias_names=list(pairs["aliases"][i]),
        )
        for i in ids
        if i in rows
    ]


def _load_files(conn: Connection, ids: Sequence[int]) -> dict[int, list[FileEntry]]:
    result: dict[int, list[FileEntry]] = defaultdict(list)
    for row in conn.execute(_FILES, {"ids": list(ids)}):
        result[row.version_id].append(FileEntry(row.path, row.size, row.sha256))
    return result


_KEYED = {
    "metrics": version_metrics,
    "params": version_params,
    "tags": version_tags,
    "metadata": version_metadata,
}


def _keyed_query() -> Any:
    """Metrics, params, tags, metadata and alias names of ``ids`` in one round trip
    (``UNION ALL``; numbers and text travel in separate columns so floats stay exact)."""
    ids: BindParameter[Any] = bindparam("ids", expanding=True)
    parts = [
        select(
            literal(kind).label("kind"),
            table.c.version_id,
            table.c.key,
            (table.c.value if kind == "metrics" else cast(null(), Float)).label("number"),
            (cast(null(), Text) if kind == "metrics" else table.c.value).label("text"),
        ).where(table.c.version_id.in_(ids))
        for kind, table in _KEYED.items()
    ]
    parts.append(
        select(
            literal("aliases"),
            aliases.c.version_id,
            aliases.c.name,
            cast(null(), Float),
            cast(null(), Text),
        ).where(aliases.c.version_id.in_(ids))
    )
    return union_all(*parts).order_by("key")


_KEYED_QUERY = _keyed_query()


def _load_keyed(conn: Connection, ids: Sequence[int]) -> dict[str, dict[int, dict[str, Any]]]:
    result: dict[str, dict[int, dict[str, Any]]] = {
        kind: defaultdict(dict) for kind in [*_KEYED, "aliases"]
    }
    for kind, version_id, key, number, text in conn.execute(_KEYED_QUERY, {"ids": list(ids)}):
        result[kind][version_id][key] = number if kind == "metrics" else text
    return result


def _to_version(
    row: Row[Any],
    *,
    files: list[FileEntry],
    metrics: dict[str, float],
    params: dict[str, str],
    tags: dict[str, str],
    metadata: dict[str, str],
    alias_names: list[str],
) -> Version:
    return Version(
        group=row.group_name,
        number=row.number,
        manifest=Manifest(tuple(sorted(files, key=lambda f: path_order_key(f.path)))),
        metrics=metrics,
        params=params,
        lineage=Lineage.from_dict(row.lineage),
        framework=row.framework,
        tags=tags,
        metadata=metadata,
        description=row.description,
        model_card=row.model_card,
        approval_status=ApprovalStatus(row.approval_status),
        created_at=utc(row.created_at),
        created_by=row.created_by,
        updated_at=utc(row.updated_at),
        aliases=tuple(alias_names),
    )


def list_version_ids(
    conn: Connection, group_id: int, *, after: int | None, limit: int
) -> list[int]:
    """Newest first; ``after`` is the last number of the previous page."""
    query = select(versions.c.id).where(versions.c.group_id == group_id)
    if after is not None:
        query = query.where(versions.c.number < after)
    return list(conn.execute(query.order_by(versions.c.number.desc()).limit(limit)).scalars())


def update_version(conn: Connection, version_id: int, *, now: datetime, **values: Any) -> None:
    conn.execute(
        update(versions).where(versions.c.id == version_id).values(updated_at=now, **values)
    )


def replace_version_pairs(
    conn: Connection, version_id: int, kind: str, values: dict[str, str]
) -> None:
    replace_pairs(conn, MUTABLE_PAIRS[kind], "version_id", version_id, values)


def insert_decision(conn: Connection, version_id: int, decision: ApprovalDecision) -> None:
    conn.execute(
        insert(approval_decisions).values(
            version_id=version_id,
            status=decision.status.value,
            previous_status=decision.previous_status.value,
            actor=decision.actor,
            comment=decision.comment,
            decided_at=decision.decided_at,
            break_glass_reason=decision.break_glass_reason,
        )
    )


def load_decisions(conn: Connection, version_id: int, reference: str) -> list[ApprovalDecision]:
    query = (
        select(approval_decisions)
        .where(approval_decisions.c.version_id == version_id)
        .order_by(approval_decisions.c.id)
    )
    return [
        ApprovalDecision(
            reference=reference,
            status=ApprovalStatus(r.status),
            previous_status=ApprovalStatus(r.previous_status),
            actor=r.actor,
            comment=r.comment,
            decided_at=utc(r.decided_at),
            break_glass_reason=r.break_glass_reason,
        )
        for r in conn.execute(query)
    ]


def group_version_ids(
    conn: Connection, pairs: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """Map (group, number) pairs to version ids; missing pairs are absent from the result."""
    if not pairs:
        return {}
    conditions = [and_(groups.c.name == g, versions.c.number == n) for g, n in pairs]
    query = (
        select(groups.c.name, versions.c.number, versions.c.id)
        .join(groups, groups.c.id == versions.c.group_id)
        .where(or_(*conditions))
    )
    return {(g, n): i for g, n, i in conn.execute(query)}


def blob_groups(conn: Connection, sha256: str, patterns: list[str]) -> bool:
    """Is the blob a file of some version in a group matching ``patterns``?"""
    query = (
        select(version_files.c.version_id)
        .join(versions, versions.c.id == version_files.c.version_id)
        .join(groups, groups.c.id == versions.c.group_id)
        .where(version_files.c.sha256 == sha256, name_matches(groups.c.name, patterns))
        .limit(1)
    )
    return conn.execute(query).first() is not None
