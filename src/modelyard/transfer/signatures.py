"""Signatures on the caller's side: reading a signature bundle a user gives (a mapping, JSON
text or a file), signing an artifact directory as it is registered, and finding which of a
group's trusted keys made a signature. Shared by the local registry and the HTTP client."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelyard.domain.signatures import parse_bundle, signature_verifies
from modelyard.domain.signing_keys import TrustedKey, load_trusted_key
from modelyard.errors import ValidationError
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
