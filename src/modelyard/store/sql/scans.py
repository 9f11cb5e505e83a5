"""Version scans (SQL): queue one, lease open ones to workers, record the outcome, read them.

A scan is *open* while ``pending`` or ``running``; at most one is open per version
(``active_key``). A worker leases an open scan whose lease is free or expired (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL), so a scan whose worker died is leased again after its lease.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, insert, or_, select, update

from modelyard.domain.scans import DONE, PENDING, RUNNING, FileScan, VersionScan
from modelyard.store.sql.rows import utc, utc_or_none
from modelyard.store.sql.schema import groups, version_scans, versions

_s = version_scans.c
_INSERT = insert(version_scans)
_COLUMNS = (*version_scans.c, groups.c.name.label("group_name"), versions.c.number)
_JOINED = version_scans.join(versions, versions.c.id == _s.version_id).join(
    groups, groups.c.id == versions.c.group_id
)


def open_scan_id(conn: Connection, version_id: int) -> int | None:
    """The version's pending or running scan, if any."""
    found = conn.execute(select(_s.id).where(_s.active_key == version_id)).scalar()
    return None if found is None else int(found)


def enqueue_scan(
    conn: Connection, *, version_id: int, reason: str, actor: str, now: datetime
) -> int:
    """Queue a scan of a version (the caller checked that none is open); its id."""
    row = {
        "version_id": version_id,
        "status": PENDING,
        "reason": reason,
        "active_key": version_id,
        "requested_by": actor,
        "requested_at": now,
        "attempts": 0,
    }
    return int(conn.execute(_INSERT, row).inserted_primary_key[0])  # type: ignore[index]


def latest_scan(conn: Connection, group: str, version: int) -> VersionScan | None:
    """The newest scan of ``group/version`` (open or done), or None if it was never scanned."""
    return _newest(conn, groups.c.name == group, versions.c.number == version)


def latest_finished_scan(conn: Connection, group: str, version: int) -> VersionScan | None:
    """The newest *done* scan of ``group/version`` — what a policy such as "scan == clean"
    should judge (a rescan in progress does not hide the last verdict) — or None."""
    return _newest(conn, groups.c.name == group, versions.c.number == version, _s.status == DONE)


def latest_scan_of(conn: Connection, version_id: int) -> VersionScan | None:
    return _newest(conn, _s.version_id == version_id)


def _newest(conn: Connection, *where: Any) -> VersionScan | None:
    query = select(*_COLUMNS).select_from(_JOINED).where(*where).order_by(_s.id.desc()).limit(1)
    row = conn.execute(query).first()
    return None if row is None else _scan(row)


def get_scan(conn: Connection, scan_id: int) -> VersionScan | None:
    row = conn.execute(select(*_COLUMNS).select_from(_JOINED).where(_s.id == scan_id)).first()
    return None if row is None else _scan(row)


def has_claimable(conn: Connection, *, now: datetime) -> bool:
    """Is some open scan free to lease now?"""
    query = select(_s.id).where(_claimable(now)).limit(1)
    return conn.execute(query).first() is not None


def claim_scan(
    conn: Connection,
    *,
    worker: str,
    now: datetime,
    lease_until: datetime,
    scan_id: int | None = None,
) -> tuple[int, int] | None:
    """Lease the oldest claimable open scan (or ``scan_id`` if it is claimable); marks it
    running and counts the attempt. Returns (scan id, version id)."""
    query = select(_s.id, _s.version_id).where(_claimable(now)).order_by(_s.id).limit(1)
    if scan_id is not None:
        query = query.where(_s.id == scan_id)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).first()
    if row is None:
        return None
    conn.execute(
        update(version_scans)
        .where(_s.id == row.id)
        .values(
            status=RUNNING,
            lease_until=lease_until,
            leased_by=worker,
            attempts=_s.attempts + 1,
            started_at=now,
        )
    )
    return int(row.id), int(row.version_id)


def renew_lease(conn: Connection, scan_id: int, *, worker: str, lease_until: datetime) -> bool:
    done = conn.execute(
        update(version_scans)
        .where(_s.id == scan_id, _s.leased_by == worker, _s.status == RUNNING)
        .values(lease_until=lease_until)
    )
    return bool(done.rowcount)


def finish_scan(
    conn: Connection,
    scan_id: int,
    *,
    worker: str,
    verdict: str,
    scanner: str,
    report: Mapping[str, Any],
    now: datetime,
) -> bool:
    """Record the outcome, if ``worker`` still holds the lease (False: it lost it)."""
    done = conn.execute(
        update(version_scans)
        .where(_s.id == scan_id, _s.leased_by == worker, _s.status == RUNNING)
        .values(
            status=DONE,
            active_key=None,
            verdict=verdict,
            scanner=scanner,
            report=dict(report),
            finished_at=now,
            lease_until=None,
            leased_by=None,
        )
    )
    return bool(done.rowcount)


def _claimable(now: datetime) -> Any:
    free = or_(_s.lease_until.is_(None), _s.lease_until < now)
    return and_(_s.status.in_((PENDING, RUNNING)), free)


def _scan(row: Row[Any]) -> VersionScan:
    report = row.report or {}
    return VersionScan(
        id=int(row.id),
        group=row.group_name,
        version=int(row.number),
        status=row.status,
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=utc(row.requested_at),
        attempts=int(row.attempts),
        started_at=utc_or_none(row.started_at),
        finished_at=utc_or_none(row.finished_at),
        verdict=row.verdict,
        scanner=row.scanner,
        files=tuple(FileScan.from_dict(f) for f in report.get("files", ())),
    )


def approval_status_of(conn: Connection, group: str, version: int) -> str:
    query = (
        select(versions.c.approval_status)
        .select_from(versions.join(groups, groups.c.id == versions.c.group_id))
        .where(groups.c.name == group, versions.c.number == version)
    )
    return str(conn.execute(query).scalar_one())
