"""Use cases for the audit log: read, verify, sign checkpoints, prove, export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from modelyard.domain import merkle
from modelyard.domain.access import Action
from modelyard.domain.audit import (
    EXPORT_FORMAT,
    AuditEntry,
    Checkpoint,
    VerifyReport,
    checkpoint_note,
    key_id,
    public_key_pem,
    verify_log,
)
from modelyard.domain.names import validate_group_name
from modelyard.domain.paging import check_limit
from modelyard.domain.principals import parse_since
from modelyard.errors import ConflictError, NotFoundError, ValidationError
from modelyard.services.base import ServiceBase
from modelyard.store.sql import audit as store
from modelyard.transfer.destinations import write_lines

OUTCOMES = ("allowed", "denied")


class AuditService(ServiceBase):
    def audit_log(
        self,
        *,
        group: str | None = None,
        resource: str | None = None,
        actor: str | None = None,
        since: str | datetime | None = None,
        outcome: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest audit entries first; filter by group (its versions and aliases too),
        resource prefix, principal, time (``7d`` or ISO-8601) and outcome."""
        limit = check_limit(limit)
        if group is not None:
            validate_group_name(group)
        if outcome is not None and outcome not in OUTCOMES:
            raise ValidationError("outcome: must be 'allowed' or 'denied'", field="outcome")
        moment = parse_since(since, now=self._ctx.clock()) if isinstance(since, str) else since
        with self._read() as conn:
            self._authorize(conn, Action.AUDIT_READ, None, "audit")
            return store.read_entries(
                conn,
                group=group,
                resource_prefix=resource,
                actor=actor,
                since=moment,
                outcome=outcome,
                limit=limit,
            )

    def audit_public_key(self) -> str:
        """The PEM public key that audit checkpoints verify with."""
        with self._read() as conn:
            self._authorize(conn, Action.AUDIT_READ, None, "audit")
        return self._public_key_pem()

    def _public_key_pem(self) -> str:
        return public_key_pem(self._ctx.keys.audit.public_key())

    def checkpoint_audit(self) -> Checkpoint:
        """Sign the log's current size and Merkle root (no-op if nothing was appended)."""
        with self._read() as conn:
            self._authorize(conn, Action.AUDIT_READ, None, "audit")
        return self._checkpoint()

    def _checkpoint(self) -> Checkpoint:
        with self._read() as conn:
            size = store.head_size(conn)
            latest = store.latest_checkpoint(conn)
            if latest is not None and latest.size >= size:
                return latest
            root = merkle.root(store.leaf_hashes(conn, size))
        key = self._ctx.keys.audit
        checkpoint = Checkpoint(
            size=size,
            root=root,
            signed_at=self._ctx.clock(),
            key_id=key_id(key.public_key()),
            signature=key.sign(checkpoint_note(size, root)),
        )
        try:
            with self._write() as conn:
                if store.checkpoint_at(conn, size) is None:
                    store.insert_checkpoint(conn, checkpoint)
        except ConflictError:
            pass  # another server process signed this size at the same moment
        return checkpoint

    def verify_audit(self) -> VerifyReport:
        """Recompute every entry's hash, every chain link and every checkpoint's root and
        signature; the report names the first edited, deleted or reordered entry."""
        public_key = self._ctx.keys.audit.public_key()
        with self._read() as conn:
            self._authorize(conn, Action.AUDIT_READ, None, "audit")
            return verify_log(
                store.iter_stored(conn),
                store.list_checkpoints(conn),
                public_key,
                expected_size=store.head_size(conn),
            )

    def audit_proof(self, seq: int) -> dict[str, Any]:
        """An inclusion proof of entry ``seq`` in a signed checkpoint, verifiable offline
        (``modelyard audit verify-proof``) with the public key it carries."""
        seq = _entry_number(seq, "seq")
        with self._read() as conn:
            self._authorize(conn, Action.AUDIT_READ, None, "audit")
            stored = store.read_entry(conn, seq)
        if stored is None:
            raise NotFoundError(f"audit entry {seq} does not exist", field="seq")
        with self._read() as conn:
            checkpoint = store.latest_checkpoint(conn, at_least=seq)
        if checkpoint is None:
            checkpoint = self._checkpoint()
        with self._read() as conn:
            leaves = store.leaf_hashes(conn, checkpoint.size)
        proof = merkle.inclusion_proof(seq - 1, leaves)
        return {
            "kind": "inclusion",
            "entry": stored.entry.to_dict(),
            "checkpoint": checkpoint.to_dict(),
            "proof": [h.hex() for h in proof],
            "public_key": self._public_key_pem(),
        }

    def audit_consistency(self, old_size: int, new_size: int) -> dict[str, Any]:
        """A consistency proof that the checkpoint at ``new_size`` extends the one at
        ``old_size`` (the log only grew in between)."""
        old_size = _entry_number(old_size, "old_size")
        new_size = _entry_number(new_size, "new_size")
        with self._read() as conn:
            self._authorize(conn, Action.AUDIT_READ, None, "audit")
            old = store.checkpoint_at(conn, old_size)
            new = store.checkpoint_at(conn, new_size)
            for size, found in ((old_size, old), (new_size, new)):
                if found is None:
                    raise NotFoundError(f"no signed checkpoint at size {size}", field="size")
            assert old is not None and new is not None
            if old.size > new.size:
                raise ValidationError("old_size: must not exceed new_size", field="old_size")
            proof = merkle.consistency_proof(old.size, store.leaf_hashes(conn, new.size))
        return {
            "kind": "consistency",
            "old": old.to_dict(),
            "new": new.to_dict(),
            "proof": [h.hex() for h in proof],
            "public_key": self._public_key_pem(),
        }

    def list_checkpoints(self) -> list[Checkpoint]:
        with self._read() as conn:
            self._authorize(conn, Action.AUDIT_READ, None, "audit")
            return store.list_checkpoints(conn)

    def iter_audit_export(self) -> Iterator[str]:
        """The whole log as JSON lines an auditor verifies without the server."""
        self.checkpoint_audit()
        with self._read() as conn:
            self._authorize(conn, Action.AUDIT_READ, None, "audit")
            size = store.head_size(conn)
            header = {
                "format": EXPORT_FORMAT,
                "public_key": self._public_key_pem(),
                "size": size,
                "exported_at": self._ctx.clock().isoformat(),
            }
            yield json.dumps(header) + "\n"
            for checkpoint in store.list_checkpoints(conn):
                yield json.dumps({"checkpoint": checkpoint.to_dict()}) + "\n"
            for item in store.iter_stored(conn, upto=size):
                line = {"entry": item.entry.to_dict(), "leaf_hash": item.leaf_hash}
                yield json.dumps(line | {"chain_hash": item.chain_hash}) + "\n"

    def export_audit(self, destination: str | Path) -> int:
        """Write :meth:`iter_audit_export` to a file; returns the number of entries."""
        entries = 0

        def counted() -> Iterator[str]:
            nonlocal entries
            for line in self.iter_audit_export():
                entries += line.startswith('{"entry"')
                yield line

        write_lines(Path(destination), counted())  # an unwritable path: exit 2, named
        return entries


MAX_ENTRY = 2**62


def _entry_number(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ENTRY:
        raise ValidationError(f"{field}: must be a whole number from 1 to 2**62", field=field)
    return value
