"""Use cases for groups: create, read, list, update, archive."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from modelyard.domain.access import Action, readable_patterns
from modelyard.domain.model import Group
from modelyard.domain.names import validate_alias_name, validate_group_name, validate_key
from modelyard.domain.paging import Page, check_limit, paged
from modelyard.domain.values import MAX_DESCRIPTION_LENGTH, validate_tags, validate_text
from modelyard.errors import ConflictError, ValidationError
from modelyard.services.base import ServiceBase
from modelyard.store.sql import groups as store


class GroupService(ServiceBase):
    def create_group(
        self,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        allow_self_approval: bool = False,
    ) -> Group:
        """Create a named family of versions.

        ``allow_self_approval`` lets a version's registrant approve it (single-user setups);
        only an admin may create a group with it.
        """
        validate_group_name(name)
        description = validate_text(
            description, field="description", max_length=MAX_DESCRIPTION_LENGTH
        )
        clean_tags = validate_tags(dict(tags or {}))
        self_approval = _flag(allow_self_approval, "allow_self_approval")
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.GROUP_CREATE, name)
            if self_approval:
                self._authorize(conn, Action.GROUP_CONFIGURE, name)
            store.insert_group(
                conn,
                name=name,
                description=description,
                tags=clean_tags,
                actor=self.actor,
                now=now,
                allow_self_approval=self_approval,
            )
            group = store.get_group(conn, name)
            self._record(
                conn,
                action="group.create",
                resource=name,
                event_type="group.created",
                data={
                    "group": name,
                    "description": description,
                    "tags": clean_tags,
                    "allow_self_approval": self_approval,
                    "protected_aliases": list(group.protected_aliases),
                },
                now=now,
            )
            return group

    def get_group(self, name: str) -> Group:
        validate_group_name(name)
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, name)
            return store.get_group(conn, name)

    @paged
    def list_groups(
        self, *, include_archived: bool = False, limit: int = 100, cursor: str | None = None
    ) -> Page[Group]:
        """Groups by name; ``cursor`` is the ``next_cursor`` of the previous page."""
        limit = check_limit(limit)
        with self._read() as conn:
            rows = store.list_groups(
                conn,
                include_archived=include_archived,
                after=cursor,
                limit=limit + 1,
                patterns=readable_patterns(self._bindings(conn)),
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
        allow_self_approval: bool | None = None,
        protected_aliases: Sequence[str] | None = None,
    ) -> Group:
        """Change a group's description and/or tags (set some, remove others).

        ``allow_self_approval`` and ``protected_aliases`` are access settings: only an
        admin may change them, and the change is audited like any other.
        """
        validate_group_name(name)
        removing = [validate_key(k, field=f"tags.{k}") for k in remove_tags]
        settings = _access_settings(allow_self_approval, protected_aliases)
        with self._write() as conn:
            self._authorize(conn, Action.GROUP_UPDATE, name)
            if settings:
                self._authorize(conn, Action.GROUP_CONFIGURE, name)
            group = store.get_group(conn, name)
            self._refuse_archived(group)
            changes: dict[str, object] = {}
            previous: dict[str, object] = {}
            now = self._ctx.clock()
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
            for key, value in settings.items():
                store.update_group(conn, group_id, now=now, **{key: value})
                changes[key], previous[key] = value, _setting(group, key)
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
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.GROUP_ARCHIVE, name)
            group = store.get_group(conn, name)
            self._refuse_archived(group)
            store.update_group(conn, store.group_id_of(conn, name), now=now, archived_at=now)
            self._ctx.caches.open_groups.clear()
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


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{field}: must be true or false", field=field)
    return value


def _access_settings(
    allow_self_approval: bool | None, protected_aliases: Sequence[str] | None
) -> dict[str, object]:
    settings: dict[str, object] = {}
    if allow_self_approval is not None:
        settings["allow_self_approval"] = _flag(allow_self_approval, "allow_self_approval")
    if protected_aliases is not None:
        if isinstance(protected_aliases, str):
            raise ValidationError(
                "protected_aliases: must be a list of alias names", field="protected_aliases"
            )
        names = [
            validate_alias_name(a, field=f"protected_aliases[{i}]")
            for i, a in enumerate(protected_aliases)
        ]
        settings["protected_aliases"] = sorted(set(names))
    return settings


def _setting(group: Group, key: str) -> object:
    value = getattr(group, key)
    return list(value) if isinstance(value, tuple) else value
