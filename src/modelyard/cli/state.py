"""Per-invocation CLI state: the settings and the registry, opened on first use."""

from __future__ import annotations

import click

from modelyard.config import Settings
from modelyard.registry import Registry


class State:
    """Per-invocation state: settings from flags/env, the registry opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry.open(settings=self.settings)
        return self._registry

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()


pass_state = click.make_pass_decorator(State)
