"""``modelyard config show``: the effective settings and where each one came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from modelyard.cli.output import console, json_option, print_json, print_table
from modelyard.cli.state import State, pass_state
from modelyard.config import CONFIG_FILE_NAME, Settings, redacted

#: settings whose unset value means "derived from HOME": show what is really used
_RESOLVED = {
    "home": lambda s: s.home.resolve(),
    "db_url": lambda s: s.resolved_db_url,
    "blobs_url": lambda s: s.resolved_blobs_url,
    "key_file": lambda s: s.resolved_key_file,
    "cache_dir": lambda s: s.resolved_cache_dir,
    "audit_key_file": lambda s: s.resolved_audit_key_file,
    "signing_key_file": lambda s: s.resolved_signing_key_file,
}


@click.group("config")
def config() -> None:
    """Settings: defaults < config file < MODELYARD_* environment < flags."""


@config.command("show")
@json_option
@pass_state
def show(state: State, as_json: bool) -> None:
    """Print every setting's effective value and its origin (default, the config file,
    an environment variable or a flag); secrets are hidden."""
    origins = state.loaded.origins
    values = {name: effective(state.settings, name) for name in origins}
    found = state.loaded.config_file
    if as_json:
        print_json(
            {
                "config_file": str(found) if found else None,
                "settings": {n: {"value": v, "origin": origins[n]} for n, v in values.items()},
            }
        )
        return
    home_file = state.settings.home / CONFIG_FILE_NAME
    console.print(
        f"config file: {found}" if found else f"config file: none ({home_file} does not exist)",
        markup=False,
    )
    print_table(
        ["setting", "value", "origin"],
        [(n, _text(v), origins[n]) for n, v in values.items()],
    )


def effective(settings: Settings, name: str) -> Any:
    """The value in use (derived defaults filled in), JSON-ready, secrets hidden."""
    value = _RESOLVED[name](settings) if name in _RESOLVED else getattr(settings, name)
    if isinstance(value, Path):
        value = str(value)
    return redacted(name, value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
