"""The one exception tree of modelyard.

Every error a user can see is a ``ModelyardError``; the CLI maps it to an exit
code in one place (``cli/errors.py``) and, later, the HTTP API maps it to a
status code in one place::

    ModelyardError                      exit 1
    ├── ValidationError                 exit 2   bad input; names the field and the rule
    ├── ConfigError                     exit 2   bad settings
    ├── NotFoundError                   exit 3   unknown group, version, alias, blob
    ├── PermissionDeniedError           exit 4   the caller may not do this
    │   └── AuthenticationError         exit 4   no, unknown, expired or revoked token
    ├── ConflictError                   exit 5   the state does not allow it (exists, busy)
    │   └── InvalidTransitionError      exit 5   a state machine refused the move
    ├── IntegrityError                  exit 1   stored bytes do not match their digest
    └── StorageError                    exit 1   the metadata or blob store failed
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "IntegrityError",
    "InvalidTransitionError",
    "ModelyardError",
    "NotFoundError",
    "PermissionDeniedError",
    "PolicyError",
    "StorageError",
    "ValidationError",
]


class ModelyardError(Exception):
    """Root of every error modelyard raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str | None]:
        """The wire shape: ``{"code", "message", "field"}``."""
        return {"code": self.code, "message": self.message, "field": self.field}


class ValidationError(ModelyardError):
    """Input broke a rule; ``field`` names the offending field."""

    code = "validation_error"


class ConfigError(ModelyardError):
    """A setting is missing or malformed."""

    code = "config_error"


class NotFoundError(ModelyardError):
    """The named group, version, alias or blob does not exist."""

    code = "not_found"


class PermissionDeniedError(ModelyardError):
    """The caller is not allowed to do this."""

    code = "permission_denied"


class AuthenticationError(PermissionDeniedError):
    """The caller could not be identified: no token, or an unknown, expired or revoked one."""

    code = "unauthenticated"


class ConflictError(ModelyardError):
    """The current state does not allow the request (already exists, archived, busy)."""

    code = "conflict"


class InvalidTransitionError(ConflictError):
    """A state machine (approval status, …) refused the requested move."""

    code = "invalid_transition"


class PolicyError(ConflictError):
    """An environment's policy refuses the version (e.g. production needs Approved)."""

    code = "policy_violation"


class IntegrityError(ModelyardError):
    """Stored bytes do not match the digest they were registered with."""

    code = "integrity_error"


class StorageError(ModelyardError):
    """The metadata database or the blob store failed."""

    code = "storage_error"
