"""Signing material for tests: EC key pairs, and the real ``model_signing`` CLI (the OpenSSF
model-signing package's own command, installed next to this interpreter)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from modelyard.domain.signatures import PAYLOAD_TYPE, canonical_json, make_bundle, pae
from modelyard.domain.signing_keys import key_fingerprint

MODEL_SIGNING = Path(sys.executable).parent / "model_signing"


def ec_keypair(
    directory: Path, name: str = "signer", curve: ec.EllipticCurve | None = None
) -> tuple[Path, Path]:
    """Write ``NAME.priv`` and ``NAME.pub`` (PEM) of a new EC key (P-256 by default)."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    private, public = directory / f"{name}.priv", directory / f"{name}.pub"
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public.write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def ed25519_public_key(path: Path) -> Path:
    """Write the public half of a new Ed25519 key: a registry key that is not the registry's."""
    key = Ed25519PrivateKey.generate().public_key()
    path.write_bytes(key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return path


def cli_sign(model: Path, private_key: Path, signature: Path, *options: str) -> None:
    """``model_signing sign key --private_key KEY --signature SIG [OPTIONS] MODEL``."""
    done = subprocess.run(
        [
            *(str(MODEL_SIGNING), "sign", "key", "--private_key", str(private_key)),
            *("--signature", str(signature), *options, str(model)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def cli_verify(model: Path, public_key: Path, signature: Path) -> subprocess.CompletedProcess[str]:
    """``model_signing verify key --public_key KEY --signature SIG MODEL`` (not checked)."""
    return subprocess.run(
        [
            *(str(MODEL_SIGNING), "verify", "key", "--public_key", str(public_key)),
            *("--signature", str(signature), str(model)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def model_signing_bundle(
    files: dict[str, bytes], key: ec.EllipticCurvePrivateKey
) -> dict[str, Any]:
    """The bundle ``model_signing sign key`` writes for a directory of ``files`` (P-256 key),
    made in-process: for tests that need a signature in a module constant."""
    digests = sorted(
        (PurePosixPath(p).parts, p, hashlib.sha256(b).hexdigest()) for p, b in files.items()
    )
    root = hashlib.sha256(b"".join(bytes.fromhex(d) for _, _, d in digests)).hexdigest()
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "model", "digest": {"sha256": root}}],
        "predicateType": "https://model_signing/signature/v1.0",
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
            "resources": [{"name": p, "algorithm": "sha256", "digest": d} for _, p, d in digests],
        },
    }
    payload = canonical_json(statement)
    signature = key.sign(pae(PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
    return make_bundle(payload, signature, key_hint=key_fingerprint(key.public_key()))
