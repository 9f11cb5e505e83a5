"""Keys of signatures: the registry's Ed25519 key and the EC keys groups trust for
model-signing signatures (checked, fingerprinted, named), and the trusted-key record."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from modelyard.errors import ValidationError

#: the curves model-signing's key mode accepts, and the hash each signs with
CURVES: Mapping[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "secp256r1": ("ecdsa-p256", hashes.SHA256),
    "secp384r1": ("ecdsa-p384", hashes.SHA384),
    "secp521r1": ("ecdsa-p521", hashes.SHA512),
}
KEY_NAME_RULE = "1-63 characters: lowercase letters, digits and . _ @ - starting with one of a-z0-9"
_KEY_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,62}")
MAX_PUBLIC_KEY_LENGTH = 4096

PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey


def key_fingerprint(public_key: PublicKey) -> str:
    """sha256 (hex) of the key's PEM SubjectPublicKeyInfo: model-signing's key "hint"."""
    pem = public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def public_pem(public_key: PublicKey) -> str:
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def validate_key_name(name: str, *, field: str = "name") -> str:
    if not isinstance(name, str) or not _KEY_NAME.fullmatch(name):
        raise ValidationError(
            f"{field}: {name!r} is not a valid key name ({KEY_NAME_RULE})", field=field
        )
    return name


def load_trusted_key(pem: str, *, field: str = "public_key") -> ec.EllipticCurvePublicKey:
    """An EC public key model-signing's key mode can have signed with, from PEM text."""
    if not isinstance(pem, str) or not pem.strip() or len(pem) > MAX_PUBLIC_KEY_LENGTH:
        raise ValidationError(
            f"{field}: must be a PEM public key of at most {MAX_PUBLIC_KEY_LENGTH} characters",
            field=field,
        )
    if "PRIVATE KEY" in pem:
        raise ValidationError(
            f"{field}: this is a private key; give its public half "
            "(openssl ec -in key.priv -pubout -out key.pub)",
            field=field,
        )
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as e:
        raise ValidationError(f"{field}: not a PEM public key ({e})", field=field) from e
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in CURVES:
        kind = key.curve.name if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__
        raise ValidationError(
            f"{field}: {kind} keys are not supported; model-signing signs with EC P-256, "
            "P-384 or P-521 keys",
            field=field,
        )
    return key


def key_algorithm(public_key: PublicKey) -> str:
    if isinstance(public_key, Ed25519PublicKey):
        return "ed25519"
    return CURVES[public_key.curve.name][0]


def load_registry_key(pem: str | bytes, *, field: str = "public_key") -> Ed25519PublicKey:
    """The registry's Ed25519 public key from PEM (as ``signing public-key`` prints it)."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        if _is_private(data):
            raise ValidationError(
                f"{field}: this is a private key; give the registry's public key "
                "('modelyard signing public-key')",
                field=field,
            ) from e
        raise ValidationError(f"{field}: not a PEM public key ({e})", field=field) from e
    if not isinstance(key, Ed25519PublicKey):
        kind = key.curve.name if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__
        raise ValidationError(
            f"{field}: not the registry's key: the registry signs with Ed25519, this is a "
            f"{kind} key ('modelyard signing public-key' prints the registry's)",
            field=field,
        )
    return key


def _is_private(data: bytes) -> bool:
    try:
        load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key whose model-signing signatures a group accepts."""

    group: str
    name: str
    key_id: str  # key_fingerprint
    algorithm: str  # ecdsa-p256 | ecdsa-p384 | ecdsa-p521
    public_key: str  # PEM
    created_by: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "public_key": self.public_key,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrustedKey:
        fields = {k: data[k] for k in ("group", "name", "key_id", "algorithm", "public_key")}
        return cls(
            **fields,
            created_by=data["created_by"],
            created_at=datetime.fromisoformat(data["created_at"]),
        )
