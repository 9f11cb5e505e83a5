"""Operating the blob store: verify, garbage-collect, encrypt a plaintext store, rotate the
key-encryption key. Local only (they run where the stores are: `modelyard blobs …`,
`modelyard keys rotate`); global ``store.admin``; audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection

from modelyard.domain.access import ANY_GROUP, Action
from modelyard.errors import ConfigError
from modelyard.services.base import ServiceBase
from modelyard.services.security.secrets import reseal_rule
from modelyard.store.sql import audit as audit_store
from modelyard.store.sql import blob_gc
from modelyard.store.sql import rules as rule_store

DEFAULT_GC_GRACE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    checked: int
    problems: dict[str, str]  # sha256 -> what is wrong


@dataclass(frozen=True, slots=True)
class GcReport:
    dry_run: bool
    examined: int  # blobs in the store
    referenced: int  # used by a version
    spared: int  # younger than the grace period or claimed by an upload in flight
    collected: dict[str, int] = field(default_factory=dict)  # sha256 -> stored bytes
    refused: list[str] = field(default_factory=list)  # referenced by a racing registration
    abandoned_uploads: int = 0  # unfinished S3 multipart uploads aborted

    @property
    def collected_bytes(self) -> int:
        return sum(self.collected.values())


@dataclass(frozen=True, slots=True)
class EncryptReport:
    encrypted: int
    already: int


@dataclass(frozen=True, slots=True)
class RotateReport:
    key: str  # the KEK every data key is now wrapped by
    rewrapped: int
    total: int
    retired: list[str]  # key ids removed from the key file


class BlobMaintenanceService(ServiceBase):
    def _authorize_store_admin(self, conn: Connection, resource: str) -> None:
        self._authorize(conn, Action.STORE_ADMIN, None, resource)

    def _audit(self, action: str, resource: str, details: dict[str, object]) -> None:
        with self._write() as conn:
            self._authorize_store_admin(conn, resource)
            audit_store.append_audit(
                conn,
                at=self._ctx.clock(),
                actor=self.actor,
                action=action,
                resource=resource,
                outcome="allowed",
                details=details,
            )

    def blob_store_info(self) -> dict[str, str]:
        """Where the blobs are, whether new ones are encrypted, and with which key-encryption
        key (``file:<id>`` or ``kms:<key>``); never key material."""
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, ANY_GROUP, "blobs")
        return self._ctx.blob_admin.describe()

    def verify_blobs(self, digests: list[str] | None = None) -> VerifyReport:
        """Re-read and re-hash stored blobs (all, or ``digests``); report corruption."""
        store = self._ctx.blob_admin
        with self._read() as conn:
            self._authorize_store_admin(conn, "blobs")
        wanted = digests if digests is not None else sorted({e.sha256 for e in store.entries()})
        problems = {d: p for d in wanted if (p := store.verify(d)) is not None}
        return VerifyReport(checked=len(wanted), problems=problems)

    def collect_garbage(
        self, *, dry_run: bool = False, grace: timedelta = DEFAULT_GC_GRACE
    ) -> GcReport:
        """Delete blobs no version references, older than ``grace`` and not claimed by an
        upload in flight within it. A registration racing the collection either commits
        first (its blobs are then spared) or is refused and can retry (blob_gc.py)."""
        if grace < timedelta(0):
            raise ConfigError("grace: must not be negative", field="grace")
        store = self._ctx.blob_admin
        now = self._ctx.clock()
        cutoff = now - grace
        with self._read() as conn:
            self._authorize_store_admin(conn, "blobs")
            unfinished = blob_gc.condemned(conn)
        sizes: dict[str, int] = {}
        young: set[str] = set()
        for entry in store.entries():
            sizes[entry.sha256] = sizes.get(entry.sha256, 0) + entry.stored_bytes
            if entry.modified.astimezone(now.tzinfo) >= cutoff:
                young.add(entry.sha256)
        with self._read() as conn:
            used = blob_gc.referenced(conn, set(sizes))
            claimed = blob_gc.claimed_since(conn, set(sizes) - used, cutoff)
        candidates = set(sizes) - used - young - claimed - unfinished
        examined, spared = len(sizes), len((young | claimed) - used)
        report = {"examined": examined, "referenced": len(used), "spared": spared}
        if dry_run:
            return GcReport(
                True,
                examined,
                len(used),
                spared,
                collected={d: sizes[d] for d in candidates},
                abandoned_uploads=store.abandoned_uploads(cutoff, abort=False),
            )
        with self._write() as conn:
            self._authorize_store_admin(conn, "blobs")
            doomed = blob_gc.condemn(conn, candidates, now=now, claims_since=cutoff)
        doomed |= unfinished  # a collection that stopped half-way is completed
        for digest in sorted(doomed):
            store.delete(digest)
        aborted = store.abandoned_uploads(cutoff, abort=True)
        collected = {d: sizes.get(d, 0) for d in doomed}
        with self._write() as conn:
            self._authorize_store_admin(conn, "blobs")
            blob_gc.release(conn, doomed, claims_before=cutoff)
            audit_store.append_audit(
                conn,
                at=now,
                actor=self.actor,
                action="blobs.gc",
                resource="blobs",
                outcome="allowed",
                details={
                    **report,
                    "grace_seconds": int(grace.total_seconds()),
                    "collected": len(collected),
                    "collected_bytes": sum(collected.values()),
                    "digests": sorted(collected)[:1000],
                    "abandoned_uploads": aborted,
                },
            )
        return GcReport(
            False,
            examined,
            len(used),
            spared,
            collected=collected,
            refused=sorted(candidates - doomed),
            abandoned_uploads=aborted,
        )

    def encrypt_blobs(self) -> EncryptReport:
        """Encrypt every plaintext blob in place and mark the store encrypted, so new blobs
        are encrypted too (creating the key file if there is no KEK yet). Resumable: run it
        again after an interruption."""
        store, kek = self._ctx.blob_admin, self._ctx.kek
        with self._read() as conn:
            self._authorize_store_admin(conn, "blobs")
        kek.ensure_key()
        store.start_encrypting()
        encrypted = already = 0
        for entry in list(store.entries()):
            if entry.encrypted:
                already += 1
            elif store.seal_plain(entry.sha256):
                encrypted += 1
        sealed = self._reseal_secrets()  # webhook secrets stored before: sealed now
        self._audit(
            "blobs.encrypt",
            "blobs",
            {"encrypted": encrypted, "already_encrypted": already, "sealed_rules": sealed},
        )
        return EncryptReport(encrypted=encrypted, already=already)

    def rotate_keys(self) -> RotateReport:
        """Re-wrap every data key with a new key-encryption key (blobs are not rewritten).

        With a key file: a new key is added as current, every data key is re-wrapped,
        then the old keys are removed from the file — it is all that is needed from then
        on. With KMS (``kms_key_id``): every data key not wrapped by that key is re-wrapped
        by it (point kms_key_id at the new key first). Resumable: an interrupted rotation
        finishes when run again.
        """
        store, kek = self._ctx.blob_admin, self._ctx.kek
        with self._read() as conn:
            self._authorize_store_admin(conn, "keys")
        kek.begin_rotation()
        rewrapped, total = store.rewrap()
        secrets = self._reseal_secrets()  # before the old keys go
        retired = kek.finish_rotation()
        current = kek.current_id
        details = {
            "key": current,
            "rewrapped": rewrapped,
            "total": total,
            "retired": retired,
            "resealed_rules": secrets,
        }
        self._audit("keys.rotate", "keys", details)
        return RotateReport(key=current, rewrapped=rewrapped, total=total, retired=retired)

    def _reseal_secrets(self) -> int:
        """Seal every rule's webhook secrets under the current key (one transaction)."""
        resealed = 0
        with self._write() as conn:
            self._authorize_store_admin(conn, "keys")
            for rule in rule_store.list_rules(conn):
                changed = reseal_rule(rule, self._ctx.kek)
                if changed is not None:
                    rule_store.replace_rule(conn, changed, now=self._ctx.clock())
                    resealed += 1
        return resealed
