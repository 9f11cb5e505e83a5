"""Naming rules for groups, aliases and the keys of metrics, params, tags and metadata."""

from __future__ import annotations

import re

from modelyard.errors import ValidationError

GROUP_NAME_RULE = "1-63 letters, digits and hyphens, starting and ending with a letter or digit"
_GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
ALIAS_NAME_RULE = "a lowercase letter followed by up to 62 lowercase letters, digits or hyphens"
_ALIAS_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
KEY_RULE = (
    "1-128 characters: letters, digits and _ . - / : starting with a letter, digit or underscore"
)
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/:]{0,127}")

PRINCIPAL_NAME_RULE = (
    "1-63 characters: lowercase letters, digits and . _ @ - starting with a letter or digit"
)
_PRINCIPAL_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,62}")

#: Alias names modelyard resolves itself; they cannot be set.
RESERVED_ALIASES = frozenset({"latest"})


def validate_group_name(name: str, *, field: str = "group") -> str:
    """Return ``name`` if it is a valid group name (SageMaker's ModelPackageGroupName rule)."""
    if not isinstance(name, str) or len(name) > 63 or not _GROUP_NAME.fullmatch(name):
        raise ValidationError(
            f"{field}: {name!r} is not a valid group name ({GROUP_NAME_RULE})", field=field
        )
    return name


def validate_alias_name(name: str, *, field: str = "alias", settable: bool = True) -> str:
    """Return ``name`` if it is a valid alias name; reserved names are refused when setting."""
    if not isinstance(name, str) or not _ALIAS_NAME.fullmatch(name):
        raise ValidationError(
            f"{field}: {name!r} is not a valid alias name ({ALIAS_NAME_RULE})", field=field
        )
    if settable and name in RESERVED_ALIASES:
        raise ValidationError(
            f"{field}: {name!r} is reserved (it always points at the highest version)",
            field=field,
        )
    return name


def validate_key(key: str, *, field: str) -> str:
    """Return ``key`` if it is a valid metric, param, tag or metadata key."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValidationError(f"{field}: {key!r} is not a valid key ({KEY_RULE})", field=field)
    return key


def validate_principal_name(name: str, *, field: str = "principal") -> str:
    """Return ``name`` if it is a valid principal (user or service account) name."""
    if not isinstance(name, str) or not _PRINCIPAL_NAME.fullmatch(name):
        raise ValidationError(
            f"{field}: {name!r} is not a valid principal name ({PRINCIPAL_NAME_RULE})",
            field=field,
        )
    return name
