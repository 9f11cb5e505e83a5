"""How modelyard writes times on the wire: ISO-8601 in UTC with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_z(moment: datetime) -> str:
    """``2026-11-26T12:00:00.123456Z``; a naive time (as SQLite returns) is taken as UTC."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat().replace("+00:00", "Z")


def iso_z_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso_z(moment)
