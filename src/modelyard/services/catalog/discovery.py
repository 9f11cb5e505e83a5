"""Read-only use cases across versions: search, lineage walks, the audit log and the outbox."""

from __future__ import annotations

from typing import Any, Literal

from modelyard.domain.access import ANY_GROUP, Action, readable_patterns
from modelyard.domain.cursor import decode_cursor, encode_cursor, query_fingerprint
from modelyard.domain.model import LineageNode, Version
from modelyard.domain.paging import Page, check_limit, paged
from modelyard.domain.search import parse_filter, parse_order_by
from modelyard.errors import ValidationError
from modelyard.services.base import ServiceBase
from modelyard.store.sql import journal
from modelyard.store.sql.lineage import walk
from modelyard.store.sql.search import run_search
from modelyard.store.sql.stats import counts
from modelyard.store.sql.versions import load_versions

MAX_LINEAGE_DEPTH = 100


class DiscoveryService(ServiceBase):
    @paged
    def search_versions(
        self,
        filter: str | None = None,
        *,
        order_by: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Version]:
        """Versions across all groups matching ``filter`` (see docs/search.md)."""
        node = parse_filter(filter)
        order = parse_order_by(order_by)
        limit = check_limit(limit)
        fingerprint = query_fingerprint(node, order)
        after = decode_cursor(cursor, fingerprint) if cursor else None
        with self._read() as conn:
            patterns = readable_patterns(self._bindings(conn))
            ids, last = run_search(conn, node, order, after, limit, patterns=patterns)
            items = load_versions(conn, ids)
        next_cursor = encode_cursor(last, fingerprint) if last is not None else None
        return Page(items=items, next_cursor=next_cursor)

    def lineage(
        self,
        ref: str,
        *,
        direction: Literal["upstream", "downstream"] = "upstream",
        depth: int = 10,
    ) -> list[LineageNode]:
        """Ancestors (``upstream``) or descendants (``downstream``) of a version, nearest first."""
        if direction not in ("upstream", "downstream"):
            raise ValidationError(
                "direction: must be 'upstream' or 'downstream'", field="direction"
            )
        depth = check_limit(depth, maximum=MAX_LINEAGE_DEPTH, field="depth")
        parsed = self._parse(ref)
        with self._read() as conn:
            self._authorize(conn, Action.VERSION_READ, parsed.group, str(parsed))
            start = self._version_id(conn, parsed)
            return walk(conn, start, upstream=direction == "upstream", max_depth=depth)

    def list_events(
        self, *, type: str | None = None, group: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest outbox events first (CloudEvents JSON)."""
        limit = check_limit(limit)
        with self._read() as conn:
            self._authorize(conn, Action.EVENTS_READ, None, "events")
            return journal.read_events(conn, event_type=type, group=group, limit=limit)

    def summary(self) -> dict[str, int]:
        """How many groups, versions, aliases, distinct blobs and events the store holds."""
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, ANY_GROUP, "summary")
            return counts(conn)
