"""The tamper-evident audit log: canonical entries, the hash chain, signed checkpoints.

Each entry is serialized as canonical JSON (sorted keys, no whitespace, UTF-8, no NaN).
Its RFC 9162 leaf hash is ``SHA-256(0x00 || entry)``; entries form

* a **hash chain**: ``chain[n] = SHA-256(chain[n-1] || leaf[n])`` with ``chain[0]`` = 32 zero
  bytes, so editing, deleting or reordering one entry breaks every link after it and
  the first broken link names the entry;
* an **RFC 9162 Merkle tree** over the leaf hashes, whose root at a tree size the server
  signs with Ed25519 as a *checkpoint*. Inclusion proofs (entry N is in the tree a
  checkpoint commits to) and consistency proofs (a later checkpoint extends an earlier
  one) verify offline with nothing but the public key.

Everything here is pure: verification takes records and keys and returns a report.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from modelyard.domain import merkle

GENESIS = bytes(32)
ORIGIN = "modelyard audit log"


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit entry: who did what to which resource, and whether it was allowed."""

    seq: int
    at: datetime
    actor: str
    action: str
    resource: str
    outcome: str  # "allowed" | "denied"
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "resource": self.resource,
            "outcome": self.outcome,
            "details": self.details,
        }

    def canonical(self) -> bytes:
        return canonical_json(self.to_dict())

    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.canonical())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        return cls(
            seq=int(data["seq"]),
            at=datetime.fromisoformat(data["at"]),
            actor=data["actor"],
            action=data["action"],
            resource=data["resource"],
            outcome=data["outcome"],
            details=dict(data["details"]),
        )


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    return hashlib.sha256(previous + leaf).digest()


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as stored, with the hashes recorded when it was appended."""

    entry: AuditEntry
    leaf_hash: str  # hex
    chain_hash: str  # hex


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: "the log had ``size`` entries and this Merkle root"."""

    size: int
    root: bytes
    signed_at: datetime
    key_id: str
    signature: bytes

    def note(self) -> bytes:
        return checkpoint_note(self.size, self.root)

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": self.root.hex(),
            "signed_at": self.signed_at.isoformat(),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(
            size=int(data["size"]),
            root=bytes.fromhex(data["root"]),
            signed_at=datetime.fromisoformat(data["signed_at"]),
            key_id=data["key_id"],
            signature=base64.b64decode(data["signature"]),
        )

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(self.signature, self.note())
        except InvalidSignature:
            return False
        return key_id(public_key) == self.key_id


def checkpoint_note(size: int, root: bytes) -> bytes:
    """The signed text (C2SP signed-note body style): origin, tree size, base64 root."""
    return f"{ORIGIN}\n{size}\n{base64.b64encode(root).decode()}\n".encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the audit public key must be an Ed25519 key")
    return key


@dataclass(slots=True)
class VerifyReport:
    """What ``audit verify`` found: ``ok`` or the first problem and the entry it names."""

    entries: int = 0
    checkpoints: int = 0
    ok: bool = True
    problem: str | None = None
    bad_seq: int | None = None
    roots: dict[int, str] = field(default_factory=dict)

    def fail(self, problem: str, seq: int | None) -> VerifyReport:
        self.ok, self.problem, self.bad_seq = False, problem, seq
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "problem": self.problem,
            "bad_seq": self.bad_seq,
        }


def verify_log(
    stored: Iterable[StoredEntry],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | None,
    *,
    expected_size: int | None = None,
) -> VerifyReport:
    """Recompute every hash, link and checkpoint root; stop at the first problem."""
    report = VerifyReport()
    pending = sorted(checkpoints, key=lambda c: c.size)
    for checkpoint in pending:
        if public_key is not None and not checkpoint.verify(public_key):
            return report.fail(
                f"checkpoint at size {checkpoint.size} has an invalid signature", None
            )
    previous, tree, last_checked = GENESIS, merkle.MerkleAccumulator(), 0
    for item in stored:
        problem = _check_entry(item, report.entries + 1, previous)
        if problem:
            return report.fail(problem, min(item.entry.seq, report.entries + 1))
        previous = bytes.fromhex(item.chain_hash)
        tree.append(bytes.fromhex(item.leaf_hash))
        report.entries += 1
        while pending and pending[0].size == tree.size:
            checkpoint = pending.pop(0)
            if tree.root() != checkpoint.root:
                return report.fail(
                    f"the log does not match the signed checkpoint at size {checkpoint.size}: "
                    f"an entry between {last_checked + 1} and {checkpoint.size} was rewritten",
                    last_checked + 1,
                )
            report.checkpoints += 1
            report.roots[checkpoint.size] = checkpoint.root.hex()
            last_checked = checkpoint.size
    size = max([expected_size or 0, *(c.size for c in pending)])
    if size > report.entries:
        return report.fail(
            f"entry {report.entries + 1} is missing: the log should hold {size} entries "
            f"but holds {report.entries}",
            report.entries + 1,
        )
    return report


def _check_entry(item: StoredEntry, expected_seq: int, previous: bytes) -> str | None:
    seq = item.entry.seq
    if seq > expected_seq:
        return f"entry {expected_seq} is missing (deleted): the next entry is {seq}"
    if seq < expected_seq:
        return f"entry {seq} is out of order (reordered or duplicated) at position {expected_seq}"
    leaf = item.entry.leaf_hash()
    if leaf.hex() != item.leaf_hash:
        return f"entry {seq} was edited: its content does not match its recorded hash"
    if chain_hash(previous, leaf).hex() != item.chain_hash:
        return f"entry {seq} does not link to entry {seq - 1}: the chain was edited at entry {seq}"
    return None


def verify_inclusion_bundle(bundle: dict[str, Any], public_key: Ed25519PublicKey) -> str | None:
    """Check an ``audit proof`` bundle offline; ``None`` when it holds, else the problem."""
    entry = AuditEntry.from_dict(bundle["entry"])
    checkpoint = Checkpoint.from_dict(bundle["checkpoint"])
    if not checkpoint.verify(public_key):
        return "the checkpoint's signature does not verify with this public key"
    proof = [bytes.fromhex(h) for h in bundle["proof"]]
    if not merkle.verify_inclusion(
        entry.seq - 1, checkpoint.size, entry.leaf_hash(), proof, checkpoint.root
    ):
        return f"entry {entry.seq} is not included in the checkpoint at size {checkpoint.size}"
    return None


def verify_consistency_bundle(bundle: dict[str, Any], public_key: Ed25519PublicKey) -> str | None:
    """Check that a later checkpoint extends an earlier one, offline."""
    old = Checkpoint.from_dict(bundle["old"])
    new = Checkpoint.from_dict(bundle["new"])
    for checkpoint in (old, new):
        if not checkpoint.verify(public_key):
            return f"the checkpoint at size {checkpoint.size} has an invalid signature"
    proof = [bytes.fromhex(h) for h in bundle["proof"]]
    if not merkle.verify_consistency(old.size, new.size, old.root, new.root, proof):
        return f"the checkpoint at size {new.size} does not extend the one at size {old.size}"
    return None


EXPORT_FORMAT = "modelyard-audit-export/1"


def verify_export(
    lines: Iterable[str], trusted_key: Ed25519PublicKey | None = None
) -> VerifyReport:
    """Verify an ``audit export`` file offline.

    With ``trusted_key`` (obtained from the server out of band) the file's own key must be
    that key; without it the file's key is used, which proves internal consistency only.
    """
    iterator = iter(lines)
    header = json.loads(next(iterator, "{}"))
    if header.get("format") != EXPORT_FORMAT:
        return VerifyReport().fail(f"not a {EXPORT_FORMAT} file", None)
    file_key = load_public_key(header["public_key"])
    if trusted_key is not None and key_id(trusted_key) != key_id(file_key):
        return VerifyReport().fail(
            "the export was signed with a different key than the trusted one", None
        )
    checkpoints: list[Checkpoint] = []
    entries: list[StoredEntry] = []
    for line in iterator:
        record = json.loads(line)
        if "checkpoint" in record:
            checkpoints.append(Checkpoint.from_dict(record["checkpoint"]))
        else:
            entry = AuditEntry.from_dict(record["entry"])
            entries.append(StoredEntry(entry, record["leaf_hash"], record["chain_hash"]))
    return verify_log(entries, checkpoints, file_key, expected_size=int(header["size"]))
