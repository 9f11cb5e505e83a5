"""The scan queue as workers see it: lease an open scan, scan the version's stored files, record
the verdict with its ``scan.completed`` event and audit entry.

Leasing and recording are two short transactions; scanning happens between them, outside any
transaction, while a heartbeat renews the lease. A worker that dies mid-scan stops renewing;
after the lease another worker (or ``version scan`` in local mode) leases the scan again and
redoes it — scanning only reads, so doing it twice is harmless, and only the holder of the
lease can record a result. A scan interrupted ``MAX_ATTEMPTS`` times (a file that kills every
worker that reads it) is recorded as ``error`` instead of being tried forever.

Like ``DeliveryQueue`` and ``RunEngine`` this is for trusted processes next to the store: it
acts as the principal ``scanner`` without authorization checks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from modelyard.domain.model import Version
from modelyard.domain.scans import (
    ERROR,
    FileScan,
    ScanReport,
    VersionScan,
    completed_event_data,
    verdict_of,
)
from modelyard.scanning.scanner import scan_stream, scanner_name
from modelyard.services.base import ServiceBase
from modelyard.services.context import ServiceContext
from modelyard.store.sql import scans as store
from modelyard.store.sql import versions as version_store
from modelyard.transfer.blob_reader import open_blob

log = logging.getLogger("modelyard.worker")

SCANNER_ACTOR = "scanner"
DEFAULT_SCAN_LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ScanWork:
    """A leased scan and the version to scan."""

    scan_id: int
    version: Version
    attempt: int  # 1 for the first worker to start it


class ScanQueue(ServiceBase):
    """Scans as the principal ``scanner``, trusting the context's ``scan_trusted_globals``
    on top of the scanner's allowlist."""

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx, SCANNER_ACTOR)

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after commits that wrote an event (a version registered, a
        rescan requested: there may be a scan to do)."""
        self._ctx.db.add_commit_listener(callback)

    def has_work(self) -> bool:
        with self._ctx.db.transaction(write=False) as conn:
            return store.has_claimable(conn, now=self._ctx.clock())

    def claim(
        self, *, worker: str, lease: timedelta = DEFAULT_SCAN_LEASE, scan_id: int | None = None
    ) -> ScanWork | None:
        """Lease the oldest open scan whose lease is free (or ``scan_id``, if it is)."""
        now = self._ctx.clock()
        with self._ctx.db.transaction(write=True) as conn:
            claimed = store.claim_scan(
                conn, worker=worker, now=now, lease_until=now + lease, scan_id=scan_id
            )
            if claimed is None:
                return None
            found, version_id = claimed
            scan = store.get_scan(conn, found)
            assert scan is not None
            version = version_store.load_versions(conn, [version_id])[0]
            return ScanWork(scan_id=found, version=version, attempt=scan.attempts)

    def renew(self, work: ScanWork, *, worker: str, lease: timedelta) -> bool:
        """Extend our lease while a long scan runs (False: we lost it)."""
        with self._ctx.db.transaction(write=True) as conn:
            return store.renew_lease(
                conn, work.scan_id, worker=worker, lease_until=self._ctx.clock() + lease
            )

    def execute(
        self, work: ScanWork, *, worker: str, lease: timedelta = DEFAULT_SCAN_LEASE
    ) -> VersionScan | None:
        """Scan (renewing the lease meanwhile) and record; None if the lease was lost."""
        if work.attempt > MAX_ATTEMPTS:
            return self.finish(work, _gave_up(work), worker=worker)
        done = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(work, worker, lease, done), daemon=True
        )
        beat.start()
        try:
            report = self.scan(work.version)
        except Exception as e:  # a scanner bug fails this scan, not the worker
            log.exception("scanning %s failed", work.version.reference)
            report = _failed(f"internal error: {type(e).__name__}: {e}")
        finally:
            done.set()
            beat.join()
        return self.finish(work, report, worker=worker)

    def scan(self, version: Version) -> ScanReport:
        """Scan every file of ``version`` from the blob store (by ranged reads: no copies)."""
        files = []
        for entry in version.manifest.files:
            stream, raw = open_blob(self._ctx.blobs, entry.sha256, entry.size)
            with stream:
                result = scan_stream(
                    stream, entry.path, entry.size, trusted_globals=self._ctx.scan_trusted_globals
                )
            if raw.error is not None:
                result = FileScan(
                    entry.path,
                    result.kind,
                    ERROR,
                    detail=f"could not read the stored blob: {raw.error}",
                )
            files.append(result)
        return ScanReport(verdict_of(files), tuple(files), scanner_name())

    def finish(self, work: ScanWork, report: ScanReport, *, worker: str) -> VersionScan | None:
        """Record the verdict, its event and audit entry in one transaction (if we still
        hold the lease)."""
        now = self._ctx.clock()
        with self._ctx.db.transaction(write=True) as conn:
            recorded = store.finish_scan(
                conn,
                work.scan_id,
                worker=worker,
                verdict=report.verdict,
                scanner=report.scanner,
                report=report.to_dict(),
                now=now,
            )
            if not recorded:
                return None
            scan = store.get_scan(conn, work.scan_id)
            assert scan is not None
            approval = store.approval_status_of(conn, scan.group, scan.version)
            self._record(
                conn,
                action="scan.finish",
                resource=scan.reference,
                event_type="scan.completed",
                data=completed_event_data(scan, approval_status=approval),
                now=now,
            )
            return scan

    def _heartbeat(
        self, work: ScanWork, worker: str, lease: timedelta, done: threading.Event
    ) -> None:
        while not done.wait(lease.total_seconds() / 3):
            try:
                self.renew(work, worker=worker, lease=lease)
            except Exception:
                log.exception("renewing the lease of scan %s failed", work.scan_id)


def _failed(detail: str) -> ScanReport:
    files = (FileScan("(all files)", "unknown", ERROR, detail=detail),)
    return ScanReport(ERROR, files, scanner_name())


def _gave_up(work: ScanWork) -> ScanReport:
    return _failed(
        f"a worker stopped during this scan {work.attempt - 1} times (a file may crash the "
        "scanner); not tried again — run `modelyard version scan` to try once more"
    )
