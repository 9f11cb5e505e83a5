"""Key-encryption keys (KEKs): they wrap each blob's data key. Two kinds:

- a local key file (``HOME/keys/blob-keys.json`` by default, mode 0600): a JSON list of
  AES-256 keys, the first one current; data keys are wrapped with AES-256-GCM;
- an AWS KMS key (``kms_key_id``): data keys are wrapped by KMS ``Encrypt`` and unwrapped
  by ``Decrypt``; the key material never leaves KMS.

A wrapped data key is bound to its blob (digest, key id, size, chunk size) as associated
data / KMS encryption context, so a key record moved to another blob does not unwrap.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from modelyard.domain.sealed import SEALED
from modelyard.errors import ConfigError, IntegrityError, StorageError


@dataclass(frozen=True, slots=True)
class DataKeyRecord:
    """What is stored next to an encrypted blob: its data key, wrapped, and its shape."""

    sha256: str
    key_id: str  # hex of the 16-byte id in the blob's header
    kek: str  # "file:<id>" or "kms:<key id>"
    wrapped: bytes
    size: int
    chunk_size: int

    def context(self) -> dict[str, str]:
        return {
            "modelyard:blob": self.sha256,
            "modelyard:key": self.key_id,
            "modelyard:size": str(self.size),
            "modelyard:chunk": str(self.chunk_size),
        }

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": "modelyard-data-key/v1",
                "alg": "AES-256-GCM",
                "sha256": self.sha256,
                "key_id": self.key_id,
                "kek": self.kek,
                "wrapped": base64.b64encode(self.wrapped).decode(),
                "size": self.size,
                "chunk_size": self.chunk_size,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes, *, name: str) -> DataKeyRecord:
        try:
            raw = json.loads(data)
            return cls(
                sha256=str(raw["sha256"]),
                key_id=str(raw["key_id"]),
                kek=str(raw["kek"]),
                wrapped=base64.b64decode(raw["wrapped"]),
                size=int(raw["size"]),
                chunk_size=int(raw["chunk_size"]),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise IntegrityError(f"{name}: corrupt data key record ({e})") from None


class KeyEncryptionKey(Protocol):
    id: str  # "file:<id>" | "kms:<key id>"

    def wrap(self, data_key: bytes, context: Mapping[str, str]) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> bytes: ...


def _what(context: Mapping[str, str]) -> str:
    """What a wrapped value is, for messages: a blob's data key, or a sealed secret."""
    if "modelyard:blob" in context:
        return f"the data key of blob sha256:{context['modelyard:blob']}"
    return f"the secret of {context.get('modelyard:secret', 'an unknown owner')}"


def _aad(context: Mapping[str, str]) -> bytes:
    return json.dumps(dict(context), sort_keys=True).encode()


class LocalKey:
    """One AES-256 key from the key file."""

    def __init__(self, key_id: str, material: bytes) -> None:
        self.id = f"file:{key_id}"
        self._aes = AESGCM(material)

    def wrap(self, data_key: bytes, context: Mapping[str, str]) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aes.encrypt(nonce, data_key, _aad(context))

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        try:
            return self._aes.decrypt(wrapped[:12], wrapped[12:], _aad(context))
        except InvalidTag:
            raise IntegrityError(
                f"{_what(context)} does not unwrap with {self.id} (the stored record was "
                "changed or belongs to something else)"
            ) from None


class KmsKey:
    """An AWS KMS key (id, ARN or alias); boto3 finds region and credentials as usual."""

    def __init__(self, key_id: str, client: Any) -> None:
        self.id = f"kms:{key_id}"
        self._key_id = key_id
        self.client = client

    def wrap(self, data_key: bytes, context: Mapping[str, str]) -> bytes:
        response = self._call(
            "wrap a data key",
            lambda: self.client.encrypt(
                KeyId=self._key_id, Plaintext=data_key, EncryptionContext=dict(context)
            ),
        )
        return bytes(response["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        response = self._call(
            f"unwrap {_what(context)}",
            lambda: self.client.decrypt(
                CiphertextBlob=wrapped, EncryptionContext=dict(context), KeyId=self._key_id
            ),
        )
        return bytes(response["Plaintext"])

    def _call(self, what: str, fn: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn()
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in {"InvalidCiphertextException", "IncorrectKeyException"}:
                raise IntegrityError(f"KMS key {self._key_id}: cannot {what}: {code}") from None
            raise StorageError(f"KMS key {self._key_id}: cannot {what}: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"KMS key {self._key_id}: cannot {what}: {e}") from e


class KeyFile:
    """The local key file: ``{"keys": [{"id", "key", "created"}, ...]}``, first current."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> list[LocalKey]:
        try:
            raw = json.loads(self.path.read_text())
            return [LocalKey(k["id"], base64.b64decode(k["key"])) for k in raw["keys"]]
        except FileNotFoundError:
            raise ConfigError(
                f"key_file: {str(self.path)!r} does not exist; the blob store is encrypted "
                "and its data keys are wrapped by the keys in that file",
                field="key_file",
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(
                f"key_file: cannot read the key file {str(self.path)!r}: {e}", field="key_file"
            ) from e

    def entries(self) -> list[dict[str, str]]:
        if not self.exists():
            return []
        return list(json.loads(self.path.read_text())["keys"])

    def create(self) -> None:
        """Write a key file with one fresh key (mode 0600), unless there is one."""
        if not self.exists():
            self.write([new_key_entry()])

    def write(self, entries: list[dict[str, str]]) -> None:
        """Atomically replace the file (0600): readers see the old or the new, never half."""
        body = json.dumps({"keys": entries}, indent=2).encode() + b"\n"
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise ConfigError(
                f"key_file: cannot write {str(self.path)!r}: {e.strerror}", field="key_file"
            ) from e


def new_key_entry() -> dict[str, str]:
    return {
        "id": secrets.token_hex(4),
        "key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


class Keyring:
    """The current KEK (wraps new data keys) and every KEK it can unwrap with.

    An unknown ``file:`` key id makes it re-read the key file once (another process may
    have rotated), so running servers follow ``modelyard keys rotate`` without a restart.
    """

    def __init__(self, key_file: KeyFile, kms: KmsKey | None = None) -> None:
        self.key_file = key_file
        self._kms = kms
        self._lock = threading.Lock()
        self._local: list[LocalKey] = key_file.load() if key_file.exists() else []

    @property
    def uses_kms(self) -> bool:
        return self._kms is not None

    @property
    def current(self) -> KeyEncryptionKey:
        if self._kms is not None:
            return self._kms
        if not self._local:
            self.key_file.load()  # raises: names the missing file
            raise ConfigError(f"key_file: {str(self.key_file.path)!r} holds no key")
        return self._local[0]

    def reload(self) -> None:
        with self._lock:
            self._local = self.key_file.load() if self.key_file.exists() else []

    def find(self, kek_id: str) -> KeyEncryptionKey:
        if self._kms is not None and kek_id.startswith("kms:"):
            if kek_id == self._kms.id:
                return self._kms
            # another KMS key (before a rotation): KMS decides whether we may use it
            return KmsKey(kek_id.removeprefix("kms:"), self._kms.client)
        for attempt in range(2):
            for key in self._local:
                if key.id == kek_id:
                    return key
            if attempt == 0:
                self.reload()
        raise ConfigError(
            f"key_file: the key-encryption key {kek_id} is not in {str(self.key_file.path)!r}"
            + ("" if self._kms is None else f" and is not the KMS key {self._kms.id}"),
            field="key_file",
        )

    def wrap(self, data_key: bytes, record: DataKeyRecord) -> DataKeyRecord:
        """``record`` with ``data_key`` wrapped by the current KEK."""
        kek = self.current
        wrapped = kek.wrap(data_key, record.context())
        return DataKeyRecord(
            sha256=record.sha256,
            key_id=record.key_id,
            kek=kek.id,
            wrapped=wrapped,
            size=record.size,
            chunk_size=record.chunk_size,
        )

    def unwrap(self, record: DataKeyRecord) -> bytes:
        return self.find(record.kek).unwrap(record.wrapped, record.context())

    # -- what services use (services/ports.py KeyEncryption) ------------------------------

    @property
    def can_seal(self) -> bool:
        return self._kms is not None or bool(self._local)

    @property
    def current_id(self) -> str:
        return self.current.id

    def seal(self, value: str, *, owner: str) -> str:
        return seal_secret(self, value, owner=owner)

    def unseal(self, value: str, *, owner: str) -> str:
        return unseal_secret(self, value, owner=owner)

    def ensure_key(self) -> None:
        if self._kms is None and not self.key_file.exists():
            self.key_file.create()
            self.reload()

    def begin_rotation(self) -> None:
        """Add a new current key to the key file (an interrupted rotation, with two keys
        already, is continued instead). With KMS, rotating means pointing ``kms_key_id`` at
        the new key, so there is nothing to do here."""
        if self._kms is not None:
            return
        entries = self.key_file.entries()
        if not entries:
            raise ConfigError(
                f"key_file: {str(self.key_file.path)!r} does not exist: this store has no "
                "key-encryption key to rotate (modelyard blobs encrypt creates one)",
                field="key_file",
            )
        if len(entries) == 1:
            self.key_file.write([new_key_entry(), *entries])
        self.reload()

    def finish_rotation(self) -> list[str]:
        """Remove every key but the current one from the key file; their ids."""
        if self._kms is not None:
            return []
        entries = self.key_file.entries()
        self.key_file.write(entries[:1])
        self.reload()
        return [e["id"] for e in entries[1:]]


def seal_secret(keyring: Keyring, value: str, *, owner: str) -> str:
    """``value`` encrypted by the current key-encryption key, bound to ``owner``."""
    kek = keyring.current
    wrapped = kek.wrap(value.encode(), {"modelyard:secret": owner})
    return f"{SEALED}{kek.id}:{base64.b64encode(wrapped).decode()}"


def unseal_secret(keyring: Keyring, value: str, *, owner: str) -> str:
    """The plaintext of a sealed secret (a value that is not sealed is returned as is)."""
    if not value.startswith(SEALED):
        return value
    kek_id, _, wrapped = value.removeprefix(SEALED).rpartition(":")
    plain = keyring.find(kek_id).unwrap(base64.b64decode(wrapped), {"modelyard:secret": owner})
    return plain.decode()
