"""Principals (users and service accounts) and their API tokens.

A token is ``my_<id>_<secret>``: the id finds the stored row, the secret is checked
against its SHA-256 (secrets are 256 random bits, so a fast hash is the right one;
nothing else about the secret is kept). Only :meth:`ApiToken.to_dict` output and the
id ever leave the server; the secret is shown once, when the token is created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from modelyard.domain.names import validate_principal_name
from modelyard.errors import ValidationError

TOKEN_PREFIX = "my_"
_TOKEN = re.compile(r"^my_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
_DURATION = re.compile(r"^(\d{1,5})([hdwy])$")
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7, "y": 24 * 365}
_SINCE = re.compile(r"^(\d{1,7})([smhdwy])$")
_SINCE_UNITS = {"s": 1, "m": 60} | {unit: hours * 3600 for unit, hours in _UNIT_HOURS.items()}
MAX_TOKEN_LIFETIME = timedelta(days=3 * 365)

__all__ = ["validate_principal_name"]


class PrincipalKind(StrEnum):
    USER = "user"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    kind: PrincipalKind
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token as listed: never its secret."""

    id: str
    principal: str
    description: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, object]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "principal": self.principal,
            "description": self.description,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
            "last_used_at": iso(self.last_used_at),
        }


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly created token: the only time its secret exists outside the caller."""

    token: ApiToken
    secret: str  # the whole "my_<id>_<secret>" string to send as a bearer token

    def to_dict(self) -> dict[str, object]:
        return {**self.token.to_dict(), "token": self.secret}


def format_token(token_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}{token_id}_{secret}"


def split_token(value: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed token, else ``None``."""
    match = _TOKEN.match(value)
    return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def parse_lifetime(value: str | None, *, field: str = "expires") -> timedelta | None:
    """``90d``, ``12h``, ``4w``, ``1y`` → a duration; ``never``/None → no expiry."""
    if value is None or value == "never":
        return None
    match = _DURATION.match(value)
    if not match or int(match.group(1)) == 0:
        raise ValidationError(
            f"{field}: {value!r} is not a lifetime like 12h, 90d, 4w, 1y or 'never'", field=field
        )
    lifetime = timedelta(hours=int(match.group(1)) * _UNIT_HOURS[match.group(2)])
    if lifetime > MAX_TOKEN_LIFETIME:
        raise ValidationError(f"{field}: {value!r} is longer than 3 years", field=field)
    return lifetime


def parse_since(value: str, *, now: datetime, field: str = "since") -> datetime:
    """``7d``/``12h``/``30m``/``90s`` ago, or an ISO-8601 timestamp."""
    match = _SINCE.match(value)
    if match:
        return now - timedelta(seconds=int(match.group(1)) * _SINCE_UNITS[match.group(2)])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{field}: {value!r} is neither a duration like 30m, 12h or 7d nor an ISO-8601 time",
            field=field,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
