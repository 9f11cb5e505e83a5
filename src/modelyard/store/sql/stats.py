"""Counts of what the metadata store holds (for `modelyard status` and metrics)."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from modelyard.store.sql.schema import aliases, groups, outbox, version_files, versions


def counts(conn: Connection) -> dict[str, int]:
    def count(query: object) -> int:
        return int(conn.execute(query).scalar_one())  # type: ignore[call-overload]

    return {
        "groups": count(select(func.count()).select_from(groups)),
        "versions": count(select(func.count()).select_from(versions)),
        "aliases": count(select(func.count()).select_from(aliases)),
        "distinct_blobs": count(select(func.count(func.distinct(version_files.c.sha256)))),
        "events": count(select(func.count()).select_from(outbox)),
    }
