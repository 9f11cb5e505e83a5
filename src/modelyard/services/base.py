"""What every service shares: the stores, the acting principal, the clock, and the journal."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection

from modelyard.domain.events import Event
from modelyard.domain.model import Version
from modelyard.domain.references import Reference, parse_reference
from modelyard.errors import NotFoundError
from modelyard.store import journal
from modelyard.store.blobs import BlobStore
from modelyard.store.database import Database
from modelyard.store.groups import get_group
from modelyard.store.versions import load_versions, version_id_by_alias, version_id_of

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ServiceBase:
    """State shared by the registry's use cases (mixed together in :class:`Registry`)."""

    def __init__(
        self,
        *,
        db: Database,
        blobs: BlobStore,
        cache_dir: Path,
        actor: str = "local",
        clock: Clock = utc_now,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._cache_dir = cache_dir
        self.actor = actor
        self._clock = clock
        self._open_groups: dict[str, float] = {}  # group → when last seen open (monotonic)

    def close(self) -> None:
        """Release database connections."""
        self._db.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._db.transaction(write=True) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._db.transaction(write=False) as conn:
            yield conn

    def _record(
        self,
        conn: Connection,
        *,
        action: str,
        resource: str,
        event_type: str,
        data: dict[str, Any],
        now: datetime,
    ) -> Event:
        """Append the audit entry and the outbox event of a change, in its transaction."""
        event = Event(id=str(uuid.uuid4()), type=event_type, subject=resource, time=now, data=data)
        journal.append_audit(
            conn,
            at=now,
            actor=self.actor,
            action=action,
            resource=resource,
            outcome="allowed",
            details={"event_id": event.id, **data},
        )
        journal.append_event(conn, event)
        return event

    def _load_version(self, ref: str | Reference) -> Version:
        parsed = self._parse(ref)
        with self._read() as conn:
            return load_versions(conn, [self._version_id(conn, parsed)])[0]

    def _version_id(self, conn: Connection, ref: Reference) -> int:
        if ref.number is not None:
            try:
                return version_id_of(conn, ref.group, ref.number)
            except NotFoundError:
                get_group(conn, ref.group)  # a missing group is reported as such
                raise
        assert ref.alias is not None
        if ref.alias == "latest":
            latest = get_group(conn, ref.group).latest_version
            return version_id_of(conn, ref.group, latest) if latest else self._no_versions(ref)
        try:
            return version_id_by_alias(conn, ref.group, ref.alias)
        except NotFoundError:
            get_group(conn, ref.group)  # a missing group is reported as such
            raise

    @staticmethod
    def _no_versions(ref: Reference) -> int:
        raise NotFoundError(f"{ref}: group {ref.group!r} has no versions yet", field="reference")

    @staticmethod
    def _parse(ref: str | Reference) -> Reference:
        return ref if isinstance(ref, Reference) else parse_reference(ref)
