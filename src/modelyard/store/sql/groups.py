"""SQL repository for groups and their tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    bindparam,
    false,
    insert,
    or_,
    select,
    update,
)

from modelyard.domain.access import DEFAULT_PROTECTED_ALIASES, pattern_to_like
from modelyard.domain.model import Group
from modelyard.errors import ConflictError, NotFoundError
from modelyard.store.sql.rows import load_pairs, replace_pairs, utc, utc_or_none
from modelyard.store.sql.schema import group_tags, groups


def insert_group(
    conn: Connection,
    *,
    name: str,
    description: str,
    tags: dict[str, str],
    actor: str,
    now: datetime,
    allow_self_approval: bool = False,
    protected_aliases: tuple[str, ...] = DEFAULT_PROTECTED_ALIASES,
) -> int:
    existing = conn.execute(select(groups.c.name).where(groups.c.name == name)).first()
    if existing:
        raise ConflictError(f"group {name!r} already exists", field="group")
    group_id: int = conn.execute(
        insert(groups).values(
            name=name,
            description=description,
            latest_version=0,
            allow_self_approval=allow_self_approval,
            protected_aliases=list(protected_aliases),
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    replace_pairs(conn, group_tags, "group_id", group_id, tags)
    return group_id


def group_id_of(conn: Connection, name: str, *, for_update: bool = False) -> int:
    query = select(groups.c.id).where(groups.c.name == name)
    if for_update:
        query = query.with_for_update()
    group_id = conn.execute(query).scalar()
    if group_id is None:
        raise NotFoundError(f"group {name!r} does not exist", field="group")
    return int(group_id)


def protected_aliases(conn: Connection, name: str) -> tuple[str, ...]:
    """The group's protected aliases (none when the group does not exist)."""
    value = conn.execute(select(groups.c.protected_aliases).where(groups.c.name == name)).scalar()
    return tuple(value or ())


def get_group(conn: Connection, name: str) -> Group:
    row = conn.execute(select(groups).where(groups.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"group {name!r} does not exist", field="group")
    return _to_group(row, load_pairs(conn, group_tags, "group_id", [row.id]).get(row.id, {}))


def list_groups(
    conn: Connection,
    *,
    include_archived: bool,
    after: str | None,
    limit: int,
    patterns: list[str] | None = None,
) -> list[Group]:
    query = select(groups).order_by(groups.c.name).limit(limit)
    if patterns is not None:
        query = query.where(name_matches(groups.c.name, patterns))
    if not include_archived:
        query = query.where(groups.c.archived_at.is_(None))
    if after is not None:
        query = query.where(groups.c.name > after)
    rows = conn.execute(query).all()
    tags = load_pairs(conn, group_tags, "group_id", [r.id for r in rows])
    return [_to_group(r, tags.get(r.id, {})) for r in rows]


def update_group(conn: Connection, group_id: int, *, now: datetime, **values: Any) -> None:
    conn.execute(update(groups).where(groups.c.id == group_id).values(updated_at=now, **values))


def set_group_tags(conn: Connection, group_id: int, tags: dict[str, str]) -> None:
    replace_pairs(conn, group_tags, "group_id", group_id, tags)


_ALLOCATE = (
    update(groups)
    .where(groups.c.name == bindparam("group_name"), groups.c.archived_at.is_(None))
    .values(latest_version=groups.c.latest_version + 1)
    .returning(groups.c.id, groups.c.latest_version)
)


def allocate_version_number(conn: Connection, name: str) -> tuple[int, int]:
    """(group id, next number) of an open group, gapless: the row lock (PostgreSQL) or the
    write lock (SQLite) holds until commit, so concurrent registrants queue and a rollback
    gives the number back. One statement, as it is on every registration's path."""
    row = conn.execute(_ALLOCATE, {"group_name": name}).first()
    if row is None:
        open_group_id(conn, name)  # raises the reason: no such group, or archived
        raise AssertionError("unreachable: an open group always allocates")
    return int(row[0]), int(row[1])


def open_group_id(conn: Connection, name: str) -> int:
    """The id of a group that takes new versions; NotFound or Conflict (archived) otherwise."""
    row = conn.execute(
        select(groups.c.id, groups.c.archived_at).where(groups.c.name == name)
    ).first()
    if row is None:
        raise NotFoundError(f"group {name!r} does not exist", field="group")
    if row.archived_at is not None:
        raise ConflictError(f"group {name!r} is archived; it takes no new versions", field="group")
    return int(row.id)


def _to_group(row: Row[Any], tags: dict[str, str]) -> Group:
    return Group(
        name=row.name,
        description=row.description,
        tags=tags,
        created_at=utc(row.created_at),
        created_by=row.created_by,
        updated_at=utc(row.updated_at),
        latest_version=row.latest_version,
        archived_at=utc_or_none(row.archived_at),
        allow_self_approval=bool(row.allow_self_approval),
        protected_aliases=tuple(row.protected_aliases),
    )


def name_matches(column: ColumnElement[str], patterns: list[str]) -> ColumnElement[bool]:
    """SQL for "the group name matches one of these patterns" (none: matches nothing)."""
    if not patterns:
        return false()
    return or_(*(column.like(pattern_to_like(p)) for p in patterns))
