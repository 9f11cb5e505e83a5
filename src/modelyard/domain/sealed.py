"""How a secret sealed at rest is spelled: ``sealed:v1:<kek id>:<base64 of the wrapped value>``
(the wrapping itself is the key store's business)."""

from __future__ import annotations

SEALED = "sealed:v1:"


def sealed_by(value: str) -> str | None:
    """The key-encryption key a sealed value is wrapped by (None: not sealed)."""
    if not value.startswith(SEALED):
        return None
    return value.removeprefix(SEALED).rpartition(":")[0]
