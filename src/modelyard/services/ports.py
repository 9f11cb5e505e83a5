"""What the services need from the stores they do not choose: blob maintenance, the
key-encryption keys and the registry's signing keys, as protocols. ``bootstrap`` builds the
concrete ones (``store/blobs``, ``store/keys``); services never import those."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class StoredObject(Protocol):
    """A stored blob as maintenance lists it."""

    @property
    def sha256(self) -> str: ...
    @property
    def stored_bytes(self) -> int: ...
    @property
    def modified(self) -> datetime: ...
    @property
    def encrypted(self) -> bool: ...


class BlobAdmin(Protocol):
    """Maintenance of the blob store: ``modelyard blobs verify/gc/encrypt``, ``keys rotate``."""

    def describe(self) -> dict[str, str]:
        """Where the blobs are and how new ones are stored; never key material."""
        ...

    def entries(self) -> Iterator[StoredObject]:
        """Every stored blob (a blob stored both plain and encrypted is listed twice)."""
        ...

    def verify(self, sha256: str) -> str | None:
        """The problem found re-reading one blob, or None when it is intact."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove a blob in every format (garbage collection only)."""
        ...

    def abandoned_uploads(self, before: datetime, *, abort: bool) -> int:
        """Uploads left unfinished since before ``before`` (aborted when ``abort``)."""
        ...

    def start_encrypting(self) -> None:
        """Mark the store encrypted: new blobs are encrypted from now on."""
        ...

    def seal_plain(self, sha256: str) -> bool:
        """Encrypt one plaintext blob in place; False when it was not plaintext."""
        ...

    def rewrap(self) -> tuple[int, int]:
        """Re-wrap every data key under the current key-encryption key: (rewrapped, total)."""
        ...


class KeyEncryption(Protocol):
    """The key-encryption keys (a key file or KMS) as services use them: sealing secrets
    at rest and rotating."""

    @property
    def can_seal(self) -> bool:
        """Is there a key to seal with (a store created before encryption may have none)?"""
        ...

    @property
    def current_id(self) -> str:
        """``file:<id>`` or ``kms:<key>``: what new secrets are sealed by."""
        ...

    @property
    def uses_kms(self) -> bool: ...

    def seal(self, value: str, *, owner: str) -> str:
        """``value`` encrypted by the current key and bound to ``owner``."""
        ...

    def unseal(self, value: str, *, owner: str) -> str:
        """The plaintext of a sealed value (a value that is not sealed is returned as is)."""
        ...

    def ensure_key(self) -> None:
        """Create the key file when there is no key-encryption key at all."""
        ...

    def begin_rotation(self) -> None:
        """Make a new key current, keeping the old ones for unwrapping (key file only)."""
        ...

    def finish_rotation(self) -> list[str]:
        """Drop every key but the current one; the ids dropped (key file only)."""
        ...


class SigningKeys(Protocol):
    """The registry's Ed25519 keys: one signs manifests, one signs audit checkpoints."""

    @property
    def manifest(self) -> Ed25519PrivateKey: ...

    @property
    def audit(self) -> Ed25519PrivateKey: ...
