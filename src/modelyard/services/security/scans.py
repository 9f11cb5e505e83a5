"""Use cases for unsafe-model scans: read a version's latest scan, and re-run it.

Every registration queues a scan in its own transaction (``services/catalog/versions.py``);
a worker does it (``services/security/scan_queue.py``). ``scan_version`` queues another (or
joins the one still open) and, in local mode, does it in this process and returns the result:
a local store may have no worker running. A server answers at once (``wait=False``) and the
HTTP client polls.
"""

from __future__ import annotations

import os
import threading
import time

from modelyard.domain.access import Action
from modelyard.domain.references import Reference
from modelyard.domain.scans import RESCAN, VersionScan, check_timeout, requested_event_data
from modelyard.errors import ConflictError, NotFoundError
from modelyard.services.base import ServiceBase
from modelyard.services.security.scan_queue import ScanQueue
from modelyard.store.sql import scans as store

POLL_S = 0.2  # while another worker holds the scan this call waits for


class ScanService(ServiceBase):
    def version_scan(self, ref: str | Reference) -> VersionScan:
        """The newest scan of a version — ``pending``, ``running`` or ``done`` with its
        verdict and every file's outcome. NotFoundError if the version was never scanned
        (registered before scanning existed: ``scan_version`` scans it)."""
        parsed = self._parse(ref)
        with self._read() as conn:
            self._authorize(conn, Action.VERSION_READ, parsed.group, str(parsed))
            scan = store.latest_scan_of(conn, self._version_id(conn, parsed))
        if scan is None:
            raise NotFoundError(
                f"{parsed}: has never been scanned (registered before scanning existed); "
                f"scan it with `modelyard version scan {parsed}`",
                field="scan",
            )
        return scan

    def scan_version(
        self, ref: str | Reference, *, wait: bool = True, timeout: float = 600.0
    ) -> VersionScan:
        """Scan a version's files again (needs ``version.scan``); joins the scan already queued
        or running, if any. With ``wait`` (local mode: done in this process unless a worker
        holds it) returns the finished scan, or the unfinished one after ``timeout`` seconds;
        without, returns the queued scan at once."""
        deadline = time.monotonic() + check_timeout(timeout) if wait else 0.0
        parsed = self._parse(ref)
        try:
            scan = self._request_scan(parsed)
        except ConflictError:  # a concurrent request queued one first: join that one
            scan = self._request_scan(parsed)
        if not wait or scan.is_done:
            return scan
        return self._scan_here(scan, deadline)

    def _request_scan(self, parsed: Reference) -> VersionScan:
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.VERSION_SCAN, parsed.group, str(parsed))
            version_id = self._version_id(conn, parsed)
            open_id = store.open_scan_id(conn, version_id)
            scan_id = open_id or store.enqueue_scan(
                conn, version_id=version_id, reason=RESCAN, actor=self.actor, now=now
            )
            scan = store.get_scan(conn, scan_id)
            assert scan is not None
            if open_id is None:
                approval = store.approval_status_of(conn, scan.group, scan.version)
                self._record(
                    conn,
                    action="scan.request",
                    resource=scan.reference,
                    event_type="scan.requested",
                    data=requested_event_data(scan, approval_status=approval),
                    now=now,
                )
            return scan

    def _scan_here(self, scan: VersionScan, deadline: float) -> VersionScan:
        queue = ScanQueue(self._ctx)
        worker = f"local-{os.getpid()}-{threading.get_ident()}"
        while True:
            work = queue.claim(worker=worker, scan_id=scan.id)
            if work is not None:
                finished = queue.execute(work, worker=worker)
                if finished is not None:
                    return finished
            with self._ctx.db.transaction(write=False) as conn:
                current = store.get_scan(conn, scan.id)
            assert current is not None
            if current.is_done or time.monotonic() >= deadline:
                return current
            time.sleep(POLL_S)  # a worker elsewhere holds it: wait for its result
