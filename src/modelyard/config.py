"""Settings: defaults < environment (``MODELYARD_*``) < explicit arguments (CLI flags)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from modelyard.errors import ConfigError

DEFAULT_HOME = ".modelyard"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything needed to open a registry. Every field has a ``MODELYARD_<FIELD>`` twin."""

    home: Path = Path(DEFAULT_HOME)  # embedded store directory
    db_url: str | None = None  # default: sqlite:///HOME/registry.db
    blobs_url: str | None = None  # default: file://HOME/blobs
    cache_dir: Path | None = None  # default: HOME/cache (fetch cache)
    actor: str = "local"  # the principal local mode acts as

    @property
    def resolved_db_url(self) -> str:
        return self.db_url or f"sqlite:///{self.home.resolve() / 'registry.db'}"

    @property
    def blobs_path(self) -> Path:
        url = self.blobs_url or f"file://{self.home.resolve() / 'blobs'}"
        if not url.startswith("file://"):
            raise ConfigError(
                f"blobs_url: {url!r} is not supported yet; use file:///ABSOLUTE/PATH",
                field="blobs_url",
            )
        return Path(url.removeprefix("file://"))

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.home.resolve() / "cache"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``MODELYARD_*`` variables, then apply non-None ``overrides``."""
        env = os.environ if environ is None else environ
        settings = cls()
        values: dict[str, object] = {}
        for name, convert in (
            ("home", Path),
            ("db_url", str),
            ("blobs_url", str),
            ("cache_dir", Path),
            ("actor", str),
        ):
            raw = env.get(f"MODELYARD_{name.upper()}")
            if raw:
                values[name] = convert(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        for name in ("home", "cache_dir"):
            if isinstance(values.get(name), str):
                values[name] = Path(str(values[name]))
        return replace(settings, **values)  # type: ignore[arg-type]
