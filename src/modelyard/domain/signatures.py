"""Signatures over a version's files: the statement a signature carries, the bundle it comes
in, and how both are checked against a manifest (pure: documents and keys in, verdicts out).

Both kinds of signature modelyard keeps use one format, OpenSSF model-signing's key mode:
a Sigstore bundle (v0.3 JSON, no transparency log) holding a DSSE envelope whose payload
is an in-toto Statement v1 with the model-signing predicate (v1.0)::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "fraud-detector/7", "digest": {"sha256": "<manifest digest>"}}],
     "predicateType": "https://model_signing/signature/v1.0",
     "predicate": {"serialization": {"method": "files", "hash_type": "sha256", …},
                   "resources": [{"name": "model.bin", "algorithm": "sha256",
                                  "digest": "<hex>"}, …]}}

- *registry* signatures: made by the server's Ed25519 key when a version is registered; the
  statement also carries each file's size and a ``modelyard`` section (group, version,
  manifest digest, registrant, time). model-signing verifiers ignore fields they do not know.
- *model-signing* signatures: made by a user with ``model_signing sign key`` (EC P-256/384/521)
  and checked against the keys a group trusts.

The subject digest is sha256 over the raw per-file digests in path order: exactly the
manifest digest (``domain/manifest.py``), so a signature pins the version's identity.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from modelyard.domain.manifest import Manifest, validate_artifact_path
from modelyard.domain.signing_keys import CURVES, PublicKey, key_fingerprint
from modelyard.errors import IntegrityError, ValidationError

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
_OLD_PREDICATE_TYPE = "https://model_signing/Digests/v0.1"

REGISTRY, MODEL_SIGNING = "registry", "model-signing"  # the kinds of signature
KINDS = (REGISTRY, MODEL_SIGNING)
_HEX64 = re.compile(r"[0-9a-f]{64}")


# ---------------------------------------------------------------- DSSE and bundles


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature is made over."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def canonical_json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def make_bundle(payload: bytes, signature: bytes, *, key_hint: str) -> dict[str, Any]:
    """A Sigstore bundle (key mode) around one signed in-toto payload."""
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key_hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }


@dataclass(frozen=True, slots=True)
class Envelope:
    """A bundle's signed content, parsed but not yet verified."""

    payload: bytes
    signature: bytes
    key_hint: str | None  # fingerprint of the signing key, when the bundle names it


def parse_bundle(document: object, *, field: str = "signature") -> Envelope:
    """The envelope of a key-mode model-signing bundle (a dict, or its JSON text)."""
    bundle = _json_object(document, field)
    if bundle.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise ValidationError(
            f"{field}: mediaType must be {BUNDLE_MEDIA_TYPE!r} (a model-signing signature), "
            f"got {bundle.get('mediaType')!r}",
            field=field,
        )
    material = bundle.get("verificationMaterial")
    if not isinstance(material, dict) or not isinstance(material.get("publicKey"), dict):
        raise ValidationError(
            f"{field}: only key-based signatures ('model_signing sign key') are supported; "
            "this bundle carries a certificate (Sigstore or PKI signing)",
            field=field,
        )
    hint = material["publicKey"].get("hint")
    envelope = bundle.get("dsseEnvelope")
    if not isinstance(envelope, dict) or envelope.get("payloadType") != PAYLOAD_TYPE:
        raise ValidationError(
            f"{field}: dsseEnvelope must hold an in-toto payload ({PAYLOAD_TYPE!r})", field=field
        )
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise ValidationError(f"{field}: dsseEnvelope must hold exactly one signature", field=field)
    return Envelope(
        payload=_base64(envelope.get("payload"), f"{field}.dsseEnvelope.payload"),
        signature=_base64(
            signatures[0].get("sig") if isinstance(signatures[0], dict) else None,
            f"{field}.dsseEnvelope.signatures[0].sig",
        ),
        key_hint=hint if isinstance(hint, str) and hint else None,
    )


def _json_object(document: object, field: str) -> dict[str, Any]:
    if isinstance(document, bytes | str):
        try:
            document = json.loads(document)
        except (ValueError, UnicodeDecodeError) as e:
            raise ValidationError(f"{field}: not a JSON document ({e})", field=field) from e
    if not isinstance(document, dict):
        raise ValidationError(f"{field}: must be a JSON object (a signature bundle)", field=field)
    return document


def _base64(value: object, field: str) -> bytes:
    try:
        if not isinstance(value, str):
            raise ValueError("not a string")
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as e:
        raise ValidationError(f"{field}: must be base64 ({e})", field=field) from e


def signature_verifies(envelope: Envelope, public_key: PublicKey) -> bool:
    """Whether the envelope's signature over its payload was made by ``public_key``."""
    message = pae(PAYLOAD_TYPE, envelope.payload)
    try:
        if isinstance(public_key, Ed25519PublicKey):
            public_key.verify(envelope.signature, message)
        else:
            digest = CURVES[public_key.curve.name][1]()
            public_key.verify(envelope.signature, message, ec.ECDSA(digest))
    except (InvalidSignature, KeyError):
        return False
    return True


# ---------------------------------------------------------------- statements


def registry_statement(
    *,
    group: str,
    number: int,
    manifest: Manifest,
    registered_by: str,
    registered_at: str,
) -> dict[str, Any]:
    """What the registry signs for a new version (``registered_at`` as ISO-8601)."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {
                "name": f"{group}/{number}",
                "digest": {"sha256": manifest.digest.removeprefix("sha256:")},
            }
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
            "resources": [
                {"name": f.path, "algorithm": "sha256", "digest": f.sha256, "size": f.size}
                for f in manifest.files
            ],
            "modelyard": {
                "group": group,
                "version": number,
                "manifest_digest": manifest.digest,
                "registered_by": registered_by,
                "registered_at": registered_at,
            },
        },
    }


@dataclass(frozen=True, slots=True)
class SignedFiles:
    """What a statement signs: a name, the root digest and every file's digest."""

    name: str  # the subject: ``group/N`` for the registry, a directory name for model_signing
    digest: str  # ``sha256:<hex>`` over the per-file digests in the order signed
    files: dict[str, str]  # path → sha256 hex
    sizes: dict[str, int]  # path → size (registry statements only)
    details: dict[str, Any]  # the registry's ``modelyard`` section ({} for others)


def parse_statement(payload: bytes, *, field: str = "signature") -> SignedFiles:
    """The files an in-toto model-signing statement pins; refuses what modelyard cannot
    compare with a manifest (other predicates, serializations or hash algorithms)."""
    statement = _json_object(payload, f"{field}.payload")
    if statement.get("_type") != STATEMENT_TYPE:
        raise ValidationError(f"{field}: payload is not an in-toto Statement v1", field=field)
    predicate_type = statement.get("predicateType")
    if predicate_type != PREDICATE_TYPE:
        hint = " (model_signing < 1.0; re-sign with 1.0 or later)" * (
            predicate_type == _OLD_PREDICATE_TYPE
        )
        raise ValidationError(
            f"{field}: predicateType must be {PREDICATE_TYPE!r}, got {predicate_type!r}{hint}",
            field=field,
        )
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        raise ValidationError(f"{field}: the statement has no predicate", field=field)
    _check_serialization(predicate.get("serialization"), field)
    files, sizes, order = _resources(predicate.get("resources"), field)
    name, digest = _subject(statement.get("subject"), field)
    root = hashlib.sha256(b"".join(bytes.fromhex(files[p]) for p in order)).hexdigest()
    if root != digest:
        raise ValidationError(
            f"{field}: the statement is inconsistent: its subject digest is {digest}, but its "
            f"resources hash to {root}",
            field=field,
        )
    details = predicate.get("modelyard")
    return SignedFiles(
        name=name,
        digest="sha256:" + digest,
        files=files,
        sizes=sizes,
        details=details if isinstance(details, dict) else {},
    )


def _check_serialization(serialization: object, field: str) -> None:
    if not isinstance(serialization, dict):
        raise ValidationError(f"{field}: the predicate has no serialization", field=field)
    method, hash_type = serialization.get("method"), serialization.get("hash_type")
    if method != "files":
        raise ValidationError(
            f"{field}: serialization method {method!r} is not supported: modelyard pins whole "
            "files; sign with model_signing's default 'files' serialization (not shards)",
            field=field,
        )
    if hash_type != "sha256":
        raise ValidationError(
            f"{field}: hash_type {hash_type!r} is not supported: modelyard stores sha256 "
            "digests; sign with --hash_type sha256 (the default)",
            field=field,
        )


def _resources(resources: object, field: str) -> tuple[dict[str, str], dict[str, int], list[str]]:
    if not isinstance(resources, list) or not resources:
        raise ValidationError(f"{field}: the predicate lists no resources", field=field)
    files: dict[str, str] = {}
    sizes: dict[str, int] = {}
    order: list[str] = []
    for index, item in enumerate(resources):
        where = f"{field}.resources[{index}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{where}: must be an object", field=field)
        path = validate_artifact_path(item.get("name"), field=f"{where}.name")  # type: ignore[arg-type]
        if item.get("algorithm") != "sha256":
            raise ValidationError(
                f"{where}.algorithm: {item.get('algorithm')!r} is not supported (sha256 only)",
                field=field,
            )
        digest = item.get("digest")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise ValidationError(f"{where}.digest: not a sha256 hex digest", field=field)
        if path in files:
            raise ValidationError(f"{where}.name: {path!r} appears twice", field=field)
        files[path] = digest
        order.append(path)
        size = item.get("size")
        if isinstance(size, int) and not isinstance(size, bool):
            sizes[path] = size
    return files, sizes, order


def _subject(subjects: object, field: str) -> tuple[str, str]:
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise ValidationError(f"{field}: the statement must have exactly one subject", field=field)
    digest = subjects[0].get("digest")
    value = digest.get("sha256") if isinstance(digest, dict) else None
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise ValidationError(f"{field}: the subject has no sha256 digest", field=field)
    name = subjects[0].get("name")
    return (name if isinstance(name, str) else ""), value


def pinning_problems(signed: SignedFiles, manifest: Manifest, reference: str) -> list[str]:
    """How the signed files differ from ``manifest`` (empty: the signature pins exactly the
    version's files and digests), one line per file."""
    problems = []
    for entry in manifest.files:
        digest = signed.files.get(entry.path)
        if digest is None:
            problems.append(f"{entry.path}: a file of {reference} the signature does not cover")
        elif digest != entry.sha256:
            problems.append(
                f"{entry.path}: signed with sha256 {digest}, but {reference} has {entry.sha256}"
            )
        elif signed.sizes.get(entry.path, entry.size) != entry.size:
            problems.append(
                f"{entry.path}: signed as {signed.sizes[entry.path]} bytes, "
                f"but {reference} has {entry.size}"
            )
    listed = {entry.path for entry in manifest.files}
    problems += [
        f"{path}: signed, but not a file of {reference}"
        for path in sorted(set(signed.files) - listed)
    ]
    if not problems and signed.digest != manifest.digest:
        problems.append(
            f"manifest digest: signed {signed.digest}, but {reference} has {manifest.digest}"
        )
    return problems


# ---------------------------------------------------------------- registry signatures


def check_registry_bundle(
    bundle: object, public_key: Ed25519PublicKey, *, reference: str
) -> SignedFiles:
    """Verify a registry signature with the registry's public key and return what it signs;
    raises :class:`IntegrityError` unless ``public_key`` signed it for ``reference``."""
    try:
        envelope = parse_bundle(bundle)
    except ValidationError as e:
        raise IntegrityError(f"{reference}: the registry signature is unreadable: {e}") from e
    fingerprint = key_fingerprint(public_key)
    if envelope.key_hint is not None and envelope.key_hint != fingerprint:
        raise IntegrityError(
            f"{reference}: the registry signature was made by key {envelope.key_hint[:16]}…, "
            f"not by the given registry key {fingerprint[:16]}…"
        )
    if not signature_verifies(envelope, public_key):
        raise IntegrityError(
            f"{reference}: the registry signature does not verify with key {fingerprint[:16]}… "
            "(the statement or the signature was altered)"
        )
    try:
        signed = parse_statement(envelope.payload)
    except ValidationError as e:
        raise IntegrityError(f"{reference}: the registry signature is unreadable: {e}") from e
    if signed.name != reference:
        raise IntegrityError(f"the registry signature is for {signed.name}, not for {reference}")
    return signed


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class VersionSignature:
    """A signature recorded on a version, with its verdict when it was read."""

    reference: str
    kind: str  # registry | model-signing
    signer: str  # "registry", or the name of the group's trusted key that signed
    key_id: str
    bundle: dict[str, Any]
    created_by: str
    created_at: datetime
    valid: bool
    problem: str | None = None  # why it is not valid (now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "kind": self.kind,
            "signer": self.signer,
            "key_id": self.key_id,
            "bundle": self.bundle,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "valid": self.valid,
            "problem": self.problem,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VersionSignature:
        fields = {k: data[k] for k in ("reference", "kind", "signer", "key_id", "bundle")}
        return cls(
            **fields,
            created_by=data["created_by"],
            created_at=datetime.fromisoformat(data["created_at"]),
            valid=bool(data["valid"]),
            problem=data.get("problem"),
        )
