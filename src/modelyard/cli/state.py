"""Per-invocation CLI state: the settings and the registry, opened on first use.

With a URL (``--url`` / ``MODELYARD_URL``) the registry is the HTTP :class:`Client`
authenticating with ``--token`` / ``MODELYARD_TOKEN``; otherwise the local store.
Both have the same methods, so commands do not care which they got. Each is imported only
when needed: remote mode never loads SQLAlchemy, local mode never loads httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelyard.config import LoadedSettings
from modelyard.errors import ConfigError

if TYPE_CHECKING:
    from modelyard.client import Client
    from modelyard.registry import Registry


class State:
    """Per-invocation state: settings from flags/env/file, the registry opened on first use."""

    def __init__(self, loaded: LoadedSettings) -> None:
        self.loaded = loaded  # with each setting's origin, for `config show`
        self.settings = loaded.settings
        self._registry: Registry | Client | None = None
        self._local: Registry | None = None

    @property
    def remote(self) -> bool:
        return self.settings.url is not None

    @property
    def registry(self) -> Registry | Client:
        if self._registry is None:
            if self.settings.url is None:
                return self.local_registry()
            from modelyard.client import Client

            self._registry = Client(
                self.settings.url, self.settings.token, cache_dir=self.settings.resolved_cache_dir
            )
        return self._registry

    def local_registry(self, *, why: str = "this command works on a store") -> Registry:
        """The local registry; a ConfigError naming ``url`` in remote mode."""
        if self.settings.url is not None:
            raise ConfigError(f"url: {why}; unset --url/MODELYARD_URL", field="url")
        if self._local is None:
            from modelyard.registry import Registry

            self._local = self._registry = Registry.open(settings=self.settings)
        return self._local

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()


pass_state = click.make_pass_decorator(State)
