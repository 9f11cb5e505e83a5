"""Settings: defaults < environment (``MODELYARD_*``) < explicit arguments (CLI flags)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from modelyard.errors import ConfigError

DEFAULT_HOME = ".modelyard"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything needed to open a registry. Every field has a ``MODELYARD_<FIELD>`` twin."""

    home: Path = Path(DEFAULT_HOME)  # embedded store directory
    db_url: str | None = None  # default: sqlite:///HOME/registry.db
    blobs_url: str | None = None  # default: file://HOME/blobs; or s3://BUCKET/PREFIX
    s3_endpoint_url: str | None = None  # S3-compatible endpoint (default: boto3's, i.e. AWS)
    s3_region: str | None = None  # default: boto3's (AWS_REGION, ~/.aws/config)
    blob_encryption: bool = True  # a new blob store encrypts blobs (AES-256-GCM, envelope)
    key_file: Path | None = None  # default: HOME/keys/blob-keys.json (key-encryption keys)
    kms_key_id: str | None = None  # wrap data keys with this AWS KMS key instead of key_file
    cache_dir: Path | None = None  # default: HOME/cache (fetch cache)
    actor: str = "local"  # the principal local mode acts as
    audit_key_file: Path | None = None  # default: HOME/keys/audit-ed25519.pem
    signing_key_file: Path | None = None  # default: HOME/keys/signing-ed25519.pem (manifests)
    url: str | None = None  # remote mode: the server's URL (the CLI then uses the client)
    token: str | None = field(default=None, repr=False)  # remote mode: the API token
    host: str = "127.0.0.1"  # `modelyard server` binds here
    port: int = 8080
    workers: int = 1  # server processes
    max_blob_bytes: int = 64 * 2**30  # largest single file the server accepts (64 GiB)
    checkpoint_interval: int = 60  # seconds between signed audit checkpoints (server)
    embedded_worker: bool = True  # `modelyard server` also delivers events
    delivery_threads: int = 4  # concurrent deliveries per worker process
    run_threads: int = 2  # pipeline stages run at once per worker process
    scan_threads: int = 1  # versions scanned at once per worker process
    # "module.name" / "module.*" pickle globals the scanner trusts on top of its allowlist
    scan_trusted_globals: str = ""
    event_retention: str = "30d"  # events and their delivery logs are kept this long
    sagemaker_account: str = "000000000000"  # account in SageMaker-shaped events' ARNs
    sagemaker_region: str = "us-east-1"  # region in SageMaker-shaped events' ARNs

    @property
    def resolved_db_url(self) -> str:
        return self.db_url or f"sqlite:///{self.home.resolve() / 'registry.db'}"

    @property
    def resolved_blobs_url(self) -> str:
        return self.blobs_url or f"file://{self.home.resolve() / 'blobs'}"

    @property
    def blobs_path(self) -> Path:
        """The directory of a filesystem blob store (ConfigError for any other URL)."""
        url = self.resolved_blobs_url
        if not url.startswith("file://"):
            raise ConfigError(
                f"blobs_url: {url!r} is not a filesystem store (file:///ABSOLUTE/PATH)",
                field="blobs_url",
            )
        return Path(url.removeprefix("file://"))

    @property
    def s3_location(self) -> tuple[str, str]:
        """(bucket, prefix) of an ``s3://BUCKET/PREFIX`` blob store."""
        url = self.resolved_blobs_url
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not url.startswith("s3://") or not bucket:
            raise ConfigError(
                f"blobs_url: {url!r} is not an S3 store (s3://BUCKET[/PREFIX])",
                field="blobs_url",
            )
        return bucket, prefix

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.home.resolve() / "keys" / "blob-keys.json"

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.home.resolve() / "cache"

    @property
    def resolved_audit_key_file(self) -> Path:
        return self.audit_key_file or self.home.resolve() / "keys" / "audit-ed25519.pem"

    @property
    def resolved_signing_key_file(self) -> Path:
        return self.signing_key_file or self.home.resolve() / "keys" / "signing-ed25519.pem"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``MODELYARD_*`` variables, then apply non-None ``overrides``."""
        env = os.environ if environ is None else environ
        settings = cls()
        values: dict[str, object] = {}
        for name in cls.__dataclass_fields__:
            raw = env.get(f"MODELYARD_{name.upper()}")
            if raw:
                values[name] = _convert(name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        for name in _PATHS:
            if isinstance(values.get(name), str):
                values[name] = Path(str(values[name]))
        return replace(settings, **values)  # type: ignore[arg-type]


_PATHS = {"home", "cache_dir", "audit_key_file", "key_file", "signing_key_file"}
_POSITIVE_INTS = {
    "port",
    "workers",
    "max_blob_bytes",
    "checkpoint_interval",
    "delivery_threads",
    "run_threads",
    "scan_threads",
}
_BOOLS = {"embedded_worker", "blob_encryption"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _convert(name: str, raw: str) -> object:
    if name in _PATHS:
        return Path(raw)
    if name in _POSITIVE_INTS:
        if not raw.isdigit() or int(raw) <= 0:
            raise ConfigError(
                f"MODELYARD_{name.upper()}: {raw!r} is not a positive whole number", field=name
            )
        return int(raw)
    if name in _BOOLS:
        if raw.lower() not in _TRUE | _FALSE:
            raise ConfigError(f"MODELYARD_{name.upper()}: {raw!r} is not true or false", field=name)
        return raw.lower() in _TRUE
    return raw
