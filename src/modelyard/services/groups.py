"""Use cases for groups: create, read, list, update, archive."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from modelyard.domain.model import Group, Page
from modelyard.domain.names import validate_group_name, validate_key
from modelyard.domain.values import MAX_DESCRIPTION_LENGTH, validate_tags, validate_text
from modelyard.errors import ConflictError, ValidationError
from modelyard.services.base import ServiceBase
from modelyard.store import groups as store

MAX_PAGE = 1000


class GroupService(ServiceBase):
    def create_group(
        self, name: str, *, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Group:
        """Create a named family of versions."""
        validate_group_name(name)
        description = validate_text(
            description, field="description", max_length=MAX_DESCRIPTION_LENGTH
        )
        clean_tags = validate_tags(dict(tags or {}))
        now = self._clock()
        with self._write() as conn:
            store.insert_group(
                conn, name=name, description=description, tags=clean_tags, actor=self.actor, now=now
            )
            self._record(
                conn,
                action="group.create",
                resource=name,
                event_type="group.created",
                data={"group": name, "description": description, "tags": clean_tags},
                now=now,
            )
            return store.get_group(conn, name)

    def get_group(self, name: str) -> Group:
        validate_group_name(name)
        with self._read() as conn:
            return store.get_group(conn, name)

    def list_groups(
        self, *, include_archived: bool = False, limit: int = 100, cursor: str | None = None
    ) -> Page:
        """Groups by name; ``cursor`` is the ``next_cursor`` of the previous page."""
        limit = check_limit(limit)
        with self._read() as conn:
            rows = store.list_groups(
                conn, include_archived=include_archived, after=cursor, limit=limit + 1
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(items=rows, next_cursor=rows[-1].name if more else None)

    def update_group(
        self,
        name: str,
        *,
        description: str | None = None,
        set_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
    ) -> Group:
        """Change a group's description and/or tags (set some, remove others)."""
        validate_group_name(name)
        removing = [validate_key(k, field=f"tags.{k}") for k in remove_tags]
        with self._write() as conn:
            group = store.get_group(conn, name)
            self._refuse_archived(group)
            changes: dict[str, object] = {}
            previous: dict[str, object] = {}
            now = self._clock()
            group_id = store.group_id_of(conn, name)
            if description is not None:
                text = validate_text(
                    description, field="description", max_length=MAX_DESCRIPTION_LENGTH
                )
                store.update_group(conn, group_id, now=now, description=text)
                changes["description"], previous["description"] = text, group.description
            if set_tags or removing:
                tags = {k: v for k, v in group.tags.items() if k not in removing}
                tags.update(set_tags or {})
                tags = validate_tags(tags)
                store.set_group_tags(conn, group_id, tags)
                store.update_group(conn, group_id, now=now)
                changes["tags"], previous["tags"] = tags, group.tags
            if not changes:
                raise ValidationError("update: nothing to change was given", field="update")
            self._record(
                conn,
                action="group.update",
                resource=name,
                event_type="group.updated",
                data={"group": name, "changes": changes, "previous": previous},
                now=now,
            )
            return store.get_group(conn, name)

    def archive_group(self, name: str) -> Group:
        """Hide a group from listings and refuse new versions; its versions stay readable."""
        validate_group_name(name)
        now = self._clock()
        with self._write() as conn:
            group = store.get_group(conn, name)
            self._refuse_archived(group)
            store.update_group(conn, store.group_id_of(conn, name), now=now, archived_at=now)
            self._open_groups.pop(name, None)
            self._record(
                conn,
                action="group.archive",
                resource=name,
                event_type="group.archived",
                data={"group": name},
                now=now,
            )
            return store.get_group(conn, name)

    @staticmethod
    def _refuse_archived(group: Group) -> None:
        if group.archived:
            raise ConflictError(f"group {group.name!r} is archived", field="group")


def check_limit(limit: int, *, maximum: int = MAX_PAGE, field: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise ValidationError(f"{field}: must be a whole number from 1 to {maximum}", field=field)
    return limit
