"""Signatures inside a caller's transaction: the registry signs a version as it is inserted,
users' model-signing signatures are checked against the group's trusted keys before they are
recorded, and recorded signatures are re-verified whenever they are read (``signature_state``
is what release policies ask)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection

from modelyard.domain.model import Version
from modelyard.domain.signatures import (
    MODEL_SIGNING,
    PAYLOAD_TYPE,
    REGISTRY,
    VersionSignature,
    canonical_json,
    check_registry_bundle,
    make_bundle,
    pae,
    parse_bundle,
    parse_statement,
    pinning_problems,
    registry_statement,
    signature_verifies,
)
from modelyard.domain.signing_keys import TrustedKey, key_fingerprint, load_trusted_key
from modelyard.domain.times import iso_z
from modelyard.errors import IntegrityError, ValidationError
from modelyard.store.sql import groups as group_store
from modelyard.store.sql import signatures as store
from modelyard.store.sql.rows import utc
from modelyard.store.sql.versions import load_versions, version_id_of
from modelyard.transfer.signatures import signer_of


def sign_registration(
    conn: Connection,
    *,
    key: Ed25519PrivateKey,
    version_id: int,
    version: Version,
    new_version: bool = True,
) -> None:
    """Record the registry's signature over a version being inserted (same transaction),
    or over an older one that has none (``new_version=False``: checked for a duplicate)."""
    statement = registry_statement(
        group=version.group,
        number=version.number,
        manifest=version.manifest,
        registered_by=version.created_by,
        registered_at=iso_z(version.created_at),
    )
    payload = canonical_json(statement)
    fingerprint = key_fingerprint(key.public_key())
    bundle = make_bundle(payload, key.sign(pae(PAYLOAD_TYPE, payload)), key_hint=fingerprint)
    store.insert_signature(
        conn,
        version_id=version_id,
        reference=version.reference,
        kind=REGISTRY,
        signer=REGISTRY,
        key_id=fingerprint,
        bundle=bundle,
        actor=version.created_by,
        now=version.created_at,
        new_version=new_version,
    )


def attach_model_signature(
    conn: Connection,
    *,
    version_id: int,
    version: Version,
    bundle: dict[str, Any],
    actor: str,
    now: datetime,
) -> VersionSignature:
    """Verify a model-signing bundle against the group's trusted keys and the version's files,
    then record it; a :class:`ValidationError` says why it was refused."""
    key = signer_of(bundle, trusted_keys_of_group(conn, version.group), group=version.group)
    problem = _model_signature_problem(bundle, key, version)
    if problem is not None:
        raise ValidationError(f"signature: {problem}", field="signature")
    store.insert_signature(
        conn,
        version_id=version_id,
        reference=version.reference,
        kind=MODEL_SIGNING,
        signer=key.name,
        key_id=key.key_id,
        bundle=bundle,
        actor=actor,
        now=now,
    )
    return VersionSignature(
        reference=version.reference,
        kind=MODEL_SIGNING,
        signer=key.name,
        key_id=key.key_id,
        bundle=bundle,
        created_by=actor,
        created_at=now,
        valid=True,
    )


def trusted_keys_of_group(conn: Connection, group: str) -> list[TrustedKey]:
    return store.trusted_keys_of(conn, group_store.group_id_of(conn, group), group)


def _model_signature_problem(
    bundle: dict[str, Any], key: TrustedKey, version: Version
) -> str | None:
    envelope = parse_bundle(bundle)
    if not signature_verifies(envelope, load_trusted_key(key.public_key)):
        return (
            f"the signature does not verify with trusted key {key.name!r} "
            "(the statement or the signature was altered, or another key signed it)"
        )
    problems = pinning_problems(
        parse_statement(envelope.payload), version.manifest, version.reference
    )
    if problems:
        return "it does not pin the files of " + version.reference + ": " + "; ".join(problems)
    return None


def verdicts(
    conn: Connection, version_id: int, version: Version, *, registry_key: Ed25519PublicKey
) -> list[VersionSignature]:
    """The version's recorded signatures, each re-verified now: the registry's with the
    registry's current key, users' with the group's current trusted keys (a key no longer
    trusted makes its signatures invalid)."""
    trusted = {k.key_id: k for k in trusted_keys_of_group(conn, version.group)}
    found = []
    for row in store.signatures_of(conn, version_id):
        bundle = store.bundle_of(row)
        if row.kind == REGISTRY:
            problem = _registry_problem(bundle, registry_key, version)
        elif row.key_id in trusted:
            problem = _stored_model_signature_problem(bundle, trusted[row.key_id], version)
        else:
            problem = f"key {row.signer!r} is no longer trusted by group {version.group!r}"
        found.append(
            VersionSignature(
                reference=version.reference,
                kind=row.kind,
                signer=row.signer,
                key_id=row.key_id,
                bundle=bundle,
                created_by=row.created_by,
                created_at=utc(row.created_at),
                valid=problem is None,
                problem=problem,
            )
        )
    return found


def _registry_problem(
    bundle: dict[str, Any], registry_key: Ed25519PublicKey, version: Version
) -> str | None:
    try:
        signed = check_registry_bundle(bundle, registry_key, reference=version.reference)
    except IntegrityError as e:
        return str(e)
    problems = pinning_problems(signed, version.manifest, version.reference)
    return "; ".join(problems) if problems else None


def _stored_model_signature_problem(
    bundle: dict[str, Any], key: TrustedKey, version: Version
) -> str | None:
    try:
        return _model_signature_problem(bundle, key, version)
    except ValidationError as e:  # a stored bundle that no longer parses was altered
        return str(e)


@dataclass(frozen=True, slots=True)
class SignatureState:
    """What a release policy needs to know about a version's signatures."""

    registry_signature_valid: bool
    signers: list[str]  # names of the group's trusted keys whose signatures verify now
    problems: list[str]  # why a recorded signature does not verify (empty: none)


def signature_state(
    conn: Connection, group: str, version: int, *, registry_key: Ed25519PublicKey
) -> SignatureState:
    """Re-verify the signatures of ``group/version`` in the caller's transaction.

    ``registry_key`` is the registry's public key (``self._ctx.keys.manifest.public_key()``
    inside a service). A version without a registry signature is not valid.
    """
    version_id = version_id_of(conn, group, version)
    loaded = load_versions(conn, [version_id])[0]
    found = verdicts(conn, version_id, loaded, registry_key=registry_key)
    registry = [s for s in found if s.kind == REGISTRY]
    return SignatureState(
        registry_signature_valid=any(s.valid for s in registry),
        signers=sorted({s.signer for s in found if s.kind == MODEL_SIGNING and s.valid}),
        problems=[f"{s.signer}: {s.problem}" for s in found if s.problem]
        + ([] if registry else [f"{loaded.reference} has no registry signature"]),
    )


def signed_event_data(version: Version, recorded: VersionSignature) -> dict[str, Any]:
    return {
        "group": version.group,
        "version": version.number,
        "reference": version.reference,
        "approval_status": version.approval_status.value,
        "manifest_digest": version.manifest_digest,
        "created_by": version.created_by,
        "created_at": iso_z(version.created_at),
        "signature": {"kind": recorded.kind, "signer": recorded.signer, "key_id": recorded.key_id},
    }
