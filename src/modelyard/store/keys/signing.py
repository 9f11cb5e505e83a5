"""The server's Ed25519 signing keys (audit checkpoints, version manifests): PEM files,
created (mode 0600) on first use."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from modelyard.errors import ConfigError


def load_or_create_signing_key(path: Path, *, setting: str = "audit_key_file") -> Ed25519PrivateKey:
    """Read the key at ``path``; create it (and its directory) when there is none.
    ``setting`` names the setting that chose the path, for error messages."""
    if not path.exists():
        _create(path, setting)
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise ConfigError(
            f"{setting}: cannot read an Ed25519 private key from {str(path)!r}: {e}",
            field=setting,
        ) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"{setting}: {str(path)!r} holds a key that is not Ed25519",
            field=setting,
        )
    return key


def _create(path: Path, setting: str) -> None:
    """Write the key to a temporary file, then link it into place: readers never see half."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    # unique per call: threads of one process may race to create the key too
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
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
            f"{setting}: cannot create {str(path)!r}: {e.strerror}", field=setting
        ) from e
    finally:
        tmp.unlink(missing_ok=True)


class FileSigningKeys:
    """The two keys as PEM files, each loaded (or created) on first use and then kept."""

    def __init__(self, *, manifest: Path, audit: Path) -> None:
        self._paths = {
            "manifest": (manifest, "signing_key_file"),
            "audit": (audit, "audit_key_file"),
        }
        self._loaded: dict[str, Ed25519PrivateKey] = {}
        self._lock = threading.Lock()

    def _key(self, purpose: str) -> Ed25519PrivateKey:
        key = self._loaded.get(purpose)
        if key is None:
            with self._lock:
                path, setting = self._paths[purpose]
                key = self._loaded.get(purpose) or load_or_create_signing_key(path, setting=setting)
                self._loaded[purpose] = key
        return key

    @property
    def manifest(self) -> Ed25519PrivateKey:
        return self._key("manifest")

    @property
    def audit(self) -> Ed25519PrivateKey:
        return self._key("audit")
