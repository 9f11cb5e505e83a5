"""Unsafe-model scan results: what happened to each file, the verdict over all of them, and a
version's scan record (queued when the version is registered, done by a worker).

Per-file statuses (``FileScan.status``):

- ``clean``: a scanner parsed the file (a pickle, a zip of pickles) and found only trusted imports;
- ``unsafe``: it imports something known to run code (``os.system``, ``eval``, ``__import__`` …);
- ``suspicious``: it imports something neither known-dangerous nor trusted (a model's own
  classes, a library not on the allowlist): loading it runs code nobody vetted;
- ``data_only``: a format recognised as one that cannot run code when loaded (safetensors,
  GGUF, ONNX, numeric ``.npy``, UTF-8 text);
- ``not_scanned``: no scanner understands the file (with the reason);
- ``error``: a scanner should have read it but could not (truncated, corrupt, unreadable).

The verdict of a scan is the worst of them, in this order: ``unsafe``, ``error``,
``suspicious``; then ``not_scanned`` when no file was scanned or recognised (an empty
artifact too), ``partial`` when some were and some were not, else ``clean``. A scan that
scanned nothing is therefore never ``clean``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelyard.errors import ValidationError

# file statuses
CLEAN, UNSAFE, SUSPICIOUS, DATA_ONLY, NOT_SCANNED, ERROR = (
    "clean",
    "unsafe",
    "suspicious",
    "data_only",
    "not_scanned",
    "error",
)
PARTIAL = "partial"  # a verdict only
VERDICTS = (CLEAN, UNSAFE, SUSPICIOUS, ERROR, PARTIAL, NOT_SCANNED)
#: a scan record's life: queued, leased by a worker, finished (with a verdict)
PENDING, RUNNING, DONE = "pending", "running", "done"
#: why a scan was queued
REGISTRATION, RESCAN = "registration", "rescan"
#: longest file list an event carries (the stored report always has every file)
EVENT_LIST_LIMIT = 100


@dataclass(frozen=True, slots=True)
class FileScan:
    """What the scanner made of one file of a version."""

    path: str
    kind: str  # pickle, zip, numpy, safetensors, gguf, onnx, text, unknown
    status: str
    findings: tuple[str, ...] = ()  # "module.name (dangerous|suspicious)"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "status": self.status,
            "findings": list(self.findings),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileScan:
        return cls(
            path=data["path"],
            kind=data["kind"],
            status=data["status"],
            findings=tuple(data.get("findings", ())),
            detail=data.get("detail", ""),
        )


@dataclass(frozen=True, slots=True)
class ScanReport:
    """The files of one scan and their verdict."""

    verdict: str
    files: tuple[FileScan, ...]
    scanner: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "scanner": self.scanner,
            "files": [f.to_dict() for f in self.files],
            "counts": dict(sorted(Counter(f.status for f in self.files).items())),
        }


def verdict_of(files: Iterable[FileScan]) -> str:
    statuses = {f.status for f in files}
    for worst in (UNSAFE, ERROR, SUSPICIOUS):
        if worst in statuses:
            return worst
    if not statuses or statuses == {NOT_SCANNED}:
        return NOT_SCANNED
    if NOT_SCANNED in statuses:
        return PARTIAL
    return CLEAN


@dataclass(frozen=True, slots=True)
class VersionScan:
    """One scan of a version: queued (``pending``), leased by a worker (``running``) or
    ``done`` with a verdict and every file's outcome."""

    id: int
    group: str
    version: int
    status: str
    reason: str  # registration | rescan
    requested_by: str
    requested_at: datetime
    attempts: int = 0  # workers that started it (more than one: a worker died during it)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    verdict: str | None = None
    scanner: str | None = None
    files: tuple[FileScan, ...] = ()

    @property
    def reference(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def is_done(self) -> bool:
        return self.status == DONE

    def paths(self, *statuses: str) -> list[str]:
        """The paths of the files with one of ``statuses``."""
        return [f.path for f in self.files if f.status in statuses]

    @property
    def findings(self) -> list[str]:
        """``"path: module.name (level)"`` for every finding of every file."""
        return [f"{f.path}: {finding}" for f in self.files for finding in f.findings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group": self.group,
            "version": self.version,
            "reference": self.reference,
            "status": self.status,
            "reason": self.reason,
            "requested_by": self.requested_by,
            "requested_at": _iso(self.requested_at),
            "attempts": self.attempts,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "verdict": self.verdict,
            "scanner": self.scanner,
            "files": [f.to_dict() for f in self.files],
            "counts": dict(sorted(Counter(f.status for f in self.files).items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VersionScan:
        return cls(
            id=int(data["id"]),
            group=data["group"],
            version=int(data["version"]),
            status=data["status"],
            reason=data["reason"],
            requested_by=data["requested_by"],
            requested_at=datetime.fromisoformat(data["requested_at"]),
            attempts=int(data.get("attempts", 0)),
            started_at=_time(data.get("started_at")),
            finished_at=_time(data.get("finished_at")),
            verdict=data.get("verdict"),
            scanner=data.get("scanner"),
            files=tuple(FileScan.from_dict(f) for f in data.get("files", ())),
        )


def completed_event_data(scan: VersionScan, *, approval_status: str) -> dict[str, Any]:
    """The ``data`` of a ``scan.completed`` event: the verdict and which files were scanned,
    recognised as data only, not scanned, unsafe, suspicious or unreadable (each list at most
    ``EVENT_LIST_LIMIT`` long; ``counts`` has the totals), and every finding."""
    lists = {
        "scanned": scan.paths(CLEAN, UNSAFE, SUSPICIOUS),
        "data_only": scan.paths(DATA_ONLY),
        "not_scanned": scan.paths(NOT_SCANNED),
        "unsafe": scan.paths(UNSAFE),
        "suspicious": scan.paths(SUSPICIOUS),
        "errors": scan.paths(ERROR),
        "findings": scan.findings,
    }
    return {
        "group": scan.group,
        "version": scan.version,
        "reference": scan.reference,
        "approval_status": approval_status,
        "scan_id": scan.id,
        "reason": scan.reason,
        "verdict": scan.verdict,
        "scanner": scan.scanner,
        **{name: paths[:EVENT_LIST_LIMIT] for name, paths in lists.items()},
        "truncated": any(len(paths) > EVENT_LIST_LIMIT for paths in lists.values()),
        "counts": dict(sorted(Counter(f.status for f in scan.files).items())),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def requested_event_data(scan: VersionScan, *, approval_status: str) -> dict[str, Any]:
    """The ``data`` of a ``scan.requested`` event (a rescan was queued)."""
    return {
        "group": scan.group,
        "version": scan.version,
        "reference": scan.reference,
        "approval_status": approval_status,
        "scan_id": scan.id,
        "reason": scan.reason,
        "requested_by": scan.requested_by,
    }


MAX_WAIT_S = 24 * 3600.0  # the longest a caller may wait for a scan


def check_timeout(timeout: float) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_WAIT_S
    ):
        raise ValidationError(
            f"timeout: {timeout!r} is not a number of seconds above 0 and at most "
            f"{int(MAX_WAIT_S)}",
            field="timeout",
        )
    return float(timeout)
