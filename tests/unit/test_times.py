"""Times on the wire: ISO-8601, UTC, with a Z — whatever zone (or none) they come in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from modelyard.domain.times import iso_z, iso_z_or_none


def test_times_are_written_in_utc_with_a_z() -> None:
    moment = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)
    assert iso_z(moment) == "2026-11-26T12:00:00.123456Z"
    assert iso_z(moment.replace(tzinfo=None)) == "2026-11-26T12:00:00.123456Z"  # SQLite's naive
    cet = moment.astimezone(timezone(timedelta(hours=1)))
    assert iso_z(cet) == "2026-11-26T12:00:00.123456Z"
    assert iso_z_or_none(None) is None
