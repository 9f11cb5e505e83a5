"""The server's Ed25519 audit-signing key: a PEM file, created (mode 0600) on first use."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from modelyard.errors import ConfigError


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Read the key at ``path``; create it (and its directory) when there is none."""
    if not path.exists():
        _create(path)
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise ConfigError(
            f"audit_key_file: cannot read an Ed25519 private key from {str(path)!r}: {e}",
            field="audit_key_file",
        ) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"audit_key_file: {str(path)!r} holds a key that is not Ed25519",
            field="audit_key_file",
        )
    return key


def _create(path: Path) -> None:
    """Write the key to a temporary file, then link it into place: readers never see half."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process created it first; use theirs
    except OSError as e:
        raise ConfigError(
            f"audit_key_file: cannot create {str(path)!r}: {e.strerror}", field="audit_key_file"
        ) from e
    finally:
        tmp.unlink(missing_ok=True)
