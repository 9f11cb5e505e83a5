"""Settings: defaults < config file (TOML) < environment (``MODELYARD_*``) < explicit
arguments (CLI flags, ``Registry.open`` arguments), each value's origin kept for
``modelyard config show``.

The config file is ``--config FILE`` / ``MODELYARD_CONFIG`` when given (it must exist), else
``HOME/modelyard.toml`` when that exists. It holds settings by name (``port = 8080``); a
relative path in it is relative to the file's directory.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from modelyard.domain.server_urls import server_base_url
from modelyard.errors import ConfigError, ValidationError

DEFAULT_HOME = ".modelyard"
CONFIG_FILE_NAME = "modelyard.toml"
CONFIG_ENV = "MODELYARD_CONFIG"
DEFAULT = "default"  # the origin of a value nobody set
SECRETS = frozenset({"token"})  # never printed (a password in db_url is hidden as well)


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
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """The config file, then ``MODELYARD_*`` variables, then the non-None ``overrides``
        (see :func:`load_settings`)."""
        return load_settings(environ, overrides=overrides).settings


@dataclass(frozen=True, slots=True)
class LoadedSettings:
    """Settings and where each value came from."""

    settings: Settings
    #: setting → "default", the config file's path, "MODELYARD_X", or the override's origin
    origins: Mapping[str, str]
    config_file: Path | None  # the file that was read (None: there was none)


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    overrides: Mapping[str, object] | None = None,
    config_file: Path | None = None,
    origin_of_override: Callable[[str], str] = lambda name: "argument",
) -> LoadedSettings:
    """Defaults < the config file < ``MODELYARD_*`` in ``environ`` < non-None ``overrides``.

    ``config_file`` (the ``--config`` flag) beats ``MODELYARD_CONFIG``; without either, the
    file is ``HOME/modelyard.toml`` if it exists, HOME coming from the overrides, the
    environment or the default. Bad values are ConfigErrors naming the setting and its origin.
    """
    env = os.environ if environ is None else environ
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(given) - set(_FIELDS)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    path, explicit = _config_path(env, given, config_file)
    values: dict[str, object] = {}
    origins: dict[str, str] = {}
    for name, value in _read_file(path, explicit=explicit).items():
        values[name], origins[name] = value, str(path)
    for name in _FIELDS:
        variable = f"MODELYARD_{name.upper()}"
        if raw := env.get(variable):
            values[name], origins[name] = _convert(name, raw), variable
    for name, value in given.items():
        values[name] = Path(value) if _kind(name) == "path" and isinstance(value, str) else value
        origins[name] = origin_of_override(name)
    if isinstance(values.get("url"), str):
        values["url"] = _server_url(str(values["url"]), origins["url"])
    return LoadedSettings(
        settings=replace(Settings(), **values),  # type: ignore[arg-type]
        origins={name: origins.get(name, DEFAULT) for name in _FIELDS},
        config_file=path if explicit or path.is_file() else None,
    )


def _config_path(
    env: Mapping[str, str], given: Mapping[str, object], config_file: Path | None
) -> tuple[Path, bool]:
    """The config file to read, and whether it was named (then it must exist)."""
    if config_file is not None:
        return Path(config_file), True
    if named := env.get(CONFIG_ENV):
        return Path(named), True
    home = given.get("home") or env.get("MODELYARD_HOME") or DEFAULT_HOME
    return Path(str(home)) / CONFIG_FILE_NAME, False


def _read_file(path: Path, *, explicit: bool) -> dict[str, object]:
    """The settings in a TOML file, converted; ConfigErrors name the file and the key."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        if not explicit:
            return {}
        raise ConfigError(f"config: {str(path)!r} does not exist", field="config") from None
    except OSError as e:
        raise ConfigError(f"config: cannot read {str(path)!r}: {e.strerror}", field="config") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}", field="config") from None
    if "home" in document and not explicit:
        raise ConfigError(
            f"{path}: home: a file found in HOME cannot move HOME; give a file that sets "
            f"home with --config or {CONFIG_ENV}",
            field="home",
        )
    return {key: _from_file(path, key, value) for key, value in document.items()}


def _from_file(path: Path, key: str, value: object) -> object:
    if key not in _FIELDS:
        close = difflib.get_close_matches(key.replace("-", "_"), _FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{path}: {key}: not a setting{hint}", field=key)
    kind = _kind(key)
    ok = {
        "path": isinstance(value, str) and bool(value),
        "int": isinstance(value, int) and not isinstance(value, bool) and value > 0,
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
    }[kind]
    if not ok:
        raise ConfigError(
            f"{path}: {key}: expected {_EXPECTED[kind]}, got {_toml_type(value)} {value!r}",
            field=key,
        )
    if kind == "path":  # relative to the file, as whoever reads the file would expect
        return path.parent / Path(str(value)).expanduser()
    return value


_EXPECTED = {
    "path": "a path (a non-empty string)",
    "int": "a positive whole number",
    "bool": "true or false",
    "str": "a string",
}


def _toml_type(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}
    return names.get(type(value), "table" if isinstance(value, dict) else type(value).__name__)


def _server_url(url: str, origin: str) -> str:
    try:
        return server_base_url(url)
    except ValidationError as e:
        where = origin if origin.startswith(("--", "MODELYARD_")) else f"{origin}: url"
        raise ConfigError(f"{where}: {e.message.removeprefix('url: ')}", field="url") from None


def redacted(name: str, value: object) -> object:
    """A setting's value safe to print: secrets hidden, and a password inside a URL."""
    if value is None:
        return None
    if name in SECRETS:
        return "***"
    scheme, sep, rest = str(value).partition("://")
    credentials, at, host = rest.rpartition("@")
    if sep and at and ":" in credentials:
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return value


def _kind(name: str) -> str:
    """How a setting is parsed, from its annotation: path, int (positive), bool or str."""
    annotation = str(Settings.__dataclass_fields__[name].type).split(" | ")
    for kind, spelled in (("path", "Path"), ("bool", "bool"), ("int", "int")):
        if spelled in annotation:
            return kind
    return "str"


_FIELDS: tuple[str, ...] = tuple(Settings.__dataclass_fields__)
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _convert(name: str, raw: str) -> object:
    """A ``MODELYARD_*`` variable's value, converted to the setting's type."""
    variable = f"MODELYARD_{name.upper()}"
    kind = _kind(name)
    if kind == "path":
        return Path(raw)
    if kind == "int":
        if not raw.isdigit() or int(raw) <= 0:
            raise ConfigError(f"{variable}: {raw!r} is not a positive whole number", field=name)
        return int(raw)
    if kind == "bool":
        if raw.lower() not in _TRUE | _FALSE:
            raise ConfigError(f"{variable}: {raw!r} is not true or false", field=name)
        return raw.lower() in _TRUE
    return raw
