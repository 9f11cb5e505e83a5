"""Use cases for aliases: mutable names pointing at one version, with a full history."""

from __future__ import annotations

from sqlalchemy import Connection

from modelyard.domain.access import Action
from modelyard.domain.model import AliasMove, Version
from modelyard.domain.names import validate_alias_name, validate_group_name
from modelyard.domain.paging import Keyset, Page, paged
from modelyard.domain.references import parse_version_number
from modelyard.domain.values import validate_text
from modelyard.errors import NotFoundError
from modelyard.services.catalog.alias_moves import AliasMoves
from modelyard.store.sql import aliases as store
from modelyard.store.sql import groups as group_store
from modelyard.store.sql.versions import load_versions, version_id_of

MAX_REASON_LENGTH = 4096


class AliasService(AliasMoves):
    def set_alias(self, group: str, alias: str, version: int | str, *, reason: str = "") -> Version:
        """Point ``group@alias`` at version ``version`` (creating the alias if new).

        An environment (a protected alias) is deployed rather than just moved: its policy is
        checked and the move is recorded as a deployment (see ``deploy``)."""
        validate_group_name(group)
        validate_alias_name(alias)
        number = parse_version_number(version)
        reason = validate_text(reason, field="reason", max_length=MAX_REASON_LENGTH)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize_alias(conn, group, alias)
            group_id = group_store.group_id_of(conn, group, for_update=True)
            version_id = version_id_of(conn, group, number)
            if alias in group_store.protected_aliases(conn, group):
                self._deploy_now(conn, group, alias, number, kind="alias", reason=reason, now=now)
            else:
                self._move_alias(conn, group_id, group, alias, number, reason=reason, now=now)
            return load_versions(conn, [version_id])[0]

    def delete_alias(self, group: str, alias: str, *, reason: str = "") -> None:
        validate_group_name(group)
        validate_alias_name(alias)
        reason = validate_text(reason, field="reason", max_length=MAX_REASON_LENGTH)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize_alias(conn, group, alias)
            group_id = group_store.group_id_of(conn, group, for_update=True)
            if store.current_alias(conn, group_id, alias) is None:
                raise NotFoundError(f"alias {group}@{alias} does not exist", field="alias")
            self._move_alias(conn, group_id, group, alias, None, reason=reason, now=now)

    @paged
    def alias_history(
        self, group: str, alias: str, *, limit: int = 100, cursor: str | None = None
    ) -> Page[AliasMove]:
        """Every move of the alias, oldest first (also after it was deleted)."""
        validate_group_name(group)
        validate_alias_name(alias, settable=False)
        keyset = Keyset("alias_history", group, alias, cursor=cursor, limit=limit)
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, group)
            group_id = group_store.group_id_of(conn, group)
            rows = store.history_page(
                conn, group_id, group, alias, after=keyset.after_value(), limit=keyset.fetch
            )
        if not rows and cursor is None:
            raise NotFoundError(f"alias {group}@{alias} has never been set", field="alias")
        return keyset.keyed_page(rows)

    def list_aliases(self, group: str) -> dict[str, int]:
        """``{alias: version number}`` of a group's current aliases."""
        validate_group_name(group)
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, group)
            return store.list_aliases(conn, group_store.group_id_of(conn, group))

    def _authorize_alias(self, conn: Connection, group: str, alias: str) -> None:
        """Contributors move ordinary aliases; protected ones need a deployer (or admin)."""
        resource = f"{group}@{alias}"
        self._authorize(conn, Action.ALIAS_SET, group, resource)
        protected = group_store.protected_aliases(conn, group)
        if alias in protected:
            self._authorize(conn, Action.ALIAS_SET_PROTECTED, group, resource)
