"""The one place that turns a ModelyardError into an exit code (DESIGN.md §7)."""

from __future__ import annotations

from modelyard.errors import (
    ConfigError,
    ConflictError,
    ModelyardError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)

OK, FAILURE, USAGE, NOT_FOUND, DENIED, CONFLICT = 0, 1, 2, 3, 4, 5

_EXIT_CODES: list[tuple[type[ModelyardError], int]] = [
    (ValidationError, USAGE),
    (ConfigError, USAGE),
    (NotFoundError, NOT_FOUND),
    (PermissionDeniedError, DENIED),
    (ConflictError, CONFLICT),  # includes InvalidTransitionError
]


def exit_code_for(error: ModelyardError) -> int:
    for kind, code in _EXIT_CODES:
        if isinstance(error, kind):
            return code
    return FAILURE
