"""Use cases for signatures: the registry's public key, a version's signatures (re-verified
when read), attaching users' model-signing signatures, and the keys each group trusts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError as DBIntegrityError

from modelyard.domain.access import ANY_GROUP, Action
from modelyard.domain.model import Version
from modelyard.domain.names import validate_group_name
from modelyard.domain.signatures import VersionSignature
from modelyard.domain.signing_keys import (
    TrustedKey,
    key_algorithm,
    key_fingerprint,
    load_trusted_key,
    public_pem,
    validate_key_name,
)
from modelyard.errors import ConflictError, ValidationError
from modelyard.services.artifacts.downloads import ArtifactService
from modelyard.services.security.signatures import (
    attach_model_signature,
    sign_registration,
    signed_event_data,
    verdicts,
)
from modelyard.store.sql import audit as audit_store
from modelyard.store.sql import groups as group_store
from modelyard.store.sql import signatures as store
from modelyard.store.sql.versions import load_versions
from modelyard.transfer.local_copies import COMPLETE_MARKER
from modelyard.transfer.model_signer import check_private_key, sign_directory
from modelyard.transfer.signatures import SignatureInput, read_signature

#: versions signed per transaction when an upgraded store signs its older versions
BACKFILL_BATCH = 500


class SigningService(ArtifactService):
    def sign_unsigned_versions(self) -> int:
        """Sign the versions registered before modelyard signed manifests (a store upgraded
        to schema 0006), so they download and verify like any other; each batch is audited
        as ``version.sign`` by ``modelyard``. Returns how many were signed."""
        key = self._ctx.keys.manifest
        signed = 0
        for _attempt in range(100):  # bounded: each pass signs a batch, or finds none left
            try:
                done = self._sign_batch(key)
            except (ConflictError, DBIntegrityError):
                continue  # another process signed the same versions first: look again
            if not done:
                return signed
            signed += done
        return signed

    def _sign_batch(self, key: Ed25519PrivateKey) -> int:
        with self._ctx.db.transaction(write=True) as conn:
            ids = store.unsigned_version_ids(conn, limit=BACKFILL_BATCH)
            if not ids:
                return 0
            for version_id, version in zip(ids, load_versions(conn, ids), strict=True):
                sign_registration(
                    conn, key=key, version_id=version_id, version=version, new_version=False
                )
            audit_store.append_audit(
                conn,
                at=self._ctx.clock(),
                actor="modelyard",
                action="version.sign",
                resource="versions",
                outcome="allowed",
                details={
                    "backfill": "signed versions registered before manifests were signed",
                    "count": len(ids),
                    "first_version_id": ids[0],
                    "last_version_id": ids[-1],
                },
            )
            return len(ids)

    def signing_public_key(self) -> str:
        """The PEM public key the registry signs every version's manifest with; hand it to
        verifiers out of band (``modelyard version verify --public-key``)."""
        with self._read() as conn:
            self._authorize(conn, Action.VERSION_READ, ANY_GROUP, "signing")
        return public_pem(self._ctx.keys.manifest.public_key())

    def version_signatures(self, ref: str) -> list[VersionSignature]:
        """The version's signatures, registry's first, each verified now (``valid``)."""
        parsed = self._parse(ref)
        registry_key = self._ctx.keys.manifest.public_key()
        with self._read() as conn:
            self._authorize(conn, Action.VERSION_READ, parsed.group, str(parsed))
            version_id = self._version_id(conn, parsed)
            version = load_versions(conn, [version_id])[0]
            return verdicts(conn, version_id, version, registry_key=registry_key)

    def sign_version(
        self,
        ref: str,
        *,
        signature: SignatureInput | None = None,
        sign_with: str | Path | None = None,
    ) -> VersionSignature:
        """Attach a model-signing signature to a version: a bundle made by
        ``model_signing sign key`` (``signature``), or one made here from the version's
        verified files with an EC private key (``sign_with``). It must verify with a key the
        group trusts and pin exactly the version's files and sha256 digests."""
        # an alias is resolved once: the signature is checked against the version it named
        parsed = self._parse(self._load_version(ref).reference)
        with self._read() as conn:  # refuse before reading, fetching or signing anything
            self._authorize(conn, Action.VERSION_UPDATE, parsed.group, str(parsed))
        bundle = self._user_bundle(str(parsed), signature, sign_with)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.VERSION_UPDATE, parsed.group, str(parsed))
            version_id = self._version_id(conn, parsed)
            version = load_versions(conn, [version_id])[0]
            recorded = attach_model_signature(
                conn,
                version_id=version_id,
                version=version,
                bundle=bundle,
                actor=self.actor,
                now=now,
            )
            self._record_signed(conn, version, recorded)
            return recorded

    def _user_bundle(
        self, ref: str, signature: SignatureInput | None, sign_with: str | Path | None
    ) -> dict[str, Any]:
        if (signature is None) == (sign_with is None):
            raise ValidationError(
                "signature: give a model-signing signature or a key to sign with (one of them)",
                field="signature",
            )
        if signature is not None:
            return read_signature(signature)
        assert sign_with is not None
        check_private_key(sign_with)
        # the files are fetched (registry signature and digests verified) and signed here
        return sign_directory(self.fetch(ref), sign_with, ignore=[COMPLETE_MARKER])

    def _record_signed(
        self, conn: Connection, version: Version, recorded: VersionSignature
    ) -> None:
        self._record(
            conn,
            action="version.sign",
            resource=version.reference,
            event_type="version.signed",
            data=signed_event_data(version, recorded),
            now=recorded.created_at,
        )

    # -- trusted keys -------------------------------------------------------------------

    def add_trusted_key(self, group: str, name: str, public_key: str) -> TrustedKey:
        """Trust an EC public key (PEM) for model-signing signatures on ``group``'s versions,
        under ``name`` (the signer recorded on the signatures it verifies); admins only."""
        validate_group_name(group)
        validate_key_name(name)
        key = load_trusted_key(public_key)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.GROUP_CONFIGURE, group)
            group_id = group_store.group_id_of(conn, group)
            before = store.trusted_keys_of(conn, group_id, group)
            trusted = TrustedKey(
                group=group,
                name=name,
                key_id=key_fingerprint(key),
                algorithm=key_algorithm(key),
                public_key=public_pem(key),
                created_by=self.actor,
                created_at=now,
            )
            store.insert_trusted_key(conn, group_id, trusted)
            self._record_keys(conn, trusted, before, [*before, trusted], now=now)
            return trusted

    def list_trusted_keys(self, group: str) -> list[TrustedKey]:
        """The keys whose model-signing signatures ``group`` accepts, by name."""
        validate_group_name(group)
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, group)
            return store.trusted_keys_of(conn, group_store.group_id_of(conn, group), group)

    def remove_trusted_key(self, group: str, name: str) -> TrustedKey:
        """Stop trusting a key: signatures it made stay recorded but no longer count as
        valid (``signature_state``, ``version_signatures``); admins only."""
        validate_group_name(group)
        validate_key_name(name)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.GROUP_CONFIGURE, group)
            group_id = group_store.group_id_of(conn, group)
            before = store.trusted_keys_of(conn, group_id, group)
            removed = store.delete_trusted_key(conn, group_id, group, name)
            after = [k for k in before if k.name != name]
            self._record_keys(conn, removed, before, after, now=now)
            return removed

    def _record_keys(
        self,
        conn: Connection,
        key: TrustedKey,
        before: list[TrustedKey],
        after: list[TrustedKey],
        *,
        now: datetime,
    ) -> None:
        adding = len(after) > len(before)
        self._record(
            conn,
            action="group.trust_key" if adding else "group.untrust_key",
            resource=key.group,
            event_type="group.updated",
            data={
                "group": key.group,
                "changes": {"trusted_keys": sorted(k.name for k in after)},
                "previous": {"trusted_keys": sorted(k.name for k in before)},
                "key": {"name": key.name, "key_id": key.key_id, "algorithm": key.algorithm},
            },
            now=now,
        )
