"""Signatures inside a caller's transaction: the registry signs a version as it is inserted,
users' model-signing signatures are checked against the group's trusted keys before they are
recorded, and recorded signatures are re-verified whenever they are read (``signature_state``
is what release policies ask)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
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
from modelyard.transfer.model_signer import sign_directory

#: a signature document given to the API: a parsed bundle, its JSON text, or a file
SignatureInput = Mapping[str, Any] | str | bytes | Path
MAX_SIGNATURE_BYTES = 64 * 2**20


def read_signature(signature: SignatureInput, *, field: str = "signature") -> dict[str, Any]:
    """The bundle as a dict (from a mapping, JSON text or a file), shape-checked."""
    if isinstance(signature, Path):
        try:
            if signature.stat().st_size > MAX_SIGNATURE_BYTES:
                raise ValidationError(f"{field}: {str(signature)!r} is too large", field=field)
            signature = signature.read_bytes()
        except OSError as e:
            raise ValidationError(
                f"{field}: cannot read {str(signature)!r}: {e.strerror}", field=field
            ) from e
    if isinstance(signature, str | bytes):
        try:
            signature = json.loads(signature)
        except (ValueError, UnicodeDecodeError) as e:
            raise ValidationError(
                f"{field}: not a JSON signature bundle ({e}); pass a pathlib.Path to read a file",
                field=field,
            ) from e
    if not isinstance(signature, Mapping):
        raise ValidationError(f"{field}: must be a signature bundle (a JSON object)", field=field)
    bundle = dict(signature)
    parse_bundle(bundle, field=field)
    return bundle


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


def signer_of(bundle: dict[str, Any], trusted: list[TrustedKey], *, group: str) -> TrustedKey:
    """The trusted key that made the signature (found by the bundle's key hint, or by trying
    each), its signature verified; ValidationError when none of ``group``'s keys made it.
    Does not look at what was signed (see ``attach_model_signature``)."""
    if not trusted:
        raise ValidationError(
            f"signature: group {group!r} trusts no signing keys yet; an admin adds them with "
            "'modelyard signing trust'",
            field="signature",
        )
    envelope = parse_bundle(bundle)
    hint = envelope.key_hint
    candidates = [k for k in trusted if hint is None or k.key_id == hint]
    for key in candidates:
        if signature_verifies(envelope, load_trusted_key(key.public_key)):
            return key
    if candidates:  # the hint named a trusted key, and it did not make this signature
        raise ValidationError(
            f"signature: the signature does not verify with trusted key {candidates[0].name!r} "
            "(the statement or the signature was altered, or another key signed it)",
            field="signature",
        )
    names = ", ".join(k.name for k in trusted)
    by = f"key {hint[:16]}…" if hint else "an unknown key"
    raise ValidationError(
        f"signature: signed by {by}, which group {group!r} does not trust (trusted: {names})",
        field="signature",
    )


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

    ``registry_key`` is the registry's public key (``self._manifest_key().public_key()``
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


def registration_signature(
    artifact: object, *, signature: SignatureInput | None, sign_with: str | Path | None
) -> dict[str, Any] | None:
    """The user signature to attach to a version being registered: given (``signature``),
    made here from the artifact directory (``sign_with``, a model-signing EC key), or none."""
    if signature is not None and sign_with is not None:
        raise ValidationError(
            "signature: give a signature or a key to sign with, not both", field="signature"
        )
    if signature is not None:
        return read_signature(signature)
    if sign_with is None:
        return None
    if not isinstance(artifact, str | Path):
        raise ValidationError(
            "sign_with: signing needs the artifact directory, not an upload", field="sign_with"
        )
    return sign_directory(artifact, sign_with)


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
