"""Lineage edges between versions (child → parent), walked breadth-first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from modelyard.domain.model import LineageNode
from modelyard.store.sql.schema import groups, version_parents, versions


def _neighbours(conn: Connection, ids: Sequence[int], *, upstream: bool) -> list[tuple[int, int]]:
    """(from_id, to_id) edges leading one step up (to parents) or down (to children)."""
    here, there = (
        (version_parents.c.version_id, version_parents.c.parent_id)
        if upstream
        else (version_parents.c.parent_id, version_parents.c.version_id)
    )
    return [(a, b) for a, b in conn.execute(select(here, there).where(here.in_(ids)))]


def _references(conn: Connection, ids: set[int]) -> dict[int, str]:
    query = (
        select(versions.c.id, groups.c.name, versions.c.number)
        .join(groups, groups.c.id == versions.c.group_id)
        .where(versions.c.id.in_(ids))
    )
    return {i: f"{g}/{n}" for i, g, n in conn.execute(query)}


def walk(conn: Connection, start_id: int, *, upstream: bool, max_depth: int) -> list[LineageNode]:
    """Every version reachable from ``start_id``, nearest first, each listed once."""
    seen = {start_id}
    frontier = [start_id]
    found: list[tuple[int, int, int]] = []  # (id, depth, via_id)
    depth = 0
    while frontier and depth < max_depth:
        depth += 1
        next_frontier = []
        for source, target in _neighbours(conn, frontier, upstream=upstream):
            if target not in seen:
                seen.add(target)
                next_frontier.append(target)
                found.append((target, depth, source))
        frontier = next_frontier
    refs = _references(conn, seen)
    return [LineageNode(reference=refs[i], depth=d, via=refs[v]) for i, d, v in found]
