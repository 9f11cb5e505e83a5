"""References name a version: ``group/7`` (a number) or ``group@alias`` (an alias)."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.domain.names import validate_alias_name, validate_group_name
from modelyard.errors import ValidationError

REFERENCE_RULE = (
    "GROUP/NUMBER (e.g. fraud-detector/7) or GROUP@ALIAS (e.g. fraud-detector@champion)"
)


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed reference: exactly one of ``number`` and ``alias`` is set."""

    group: str
    number: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return (
            f"{self.group}/{self.number}"
            if self.number is not None
            else f"{self.group}@{self.alias}"
        )


def version_ref(group: str, number: int) -> str:
    return f"{group}/{number}"


def parse_reference(text: str, *, field: str = "reference") -> Reference:
    """Parse ``group/N`` or ``group@alias`` (also ``models:/group/N`` as MLflow writes it)."""
    if not isinstance(text, str):
        raise ValidationError(f"{field}: must be a string ({REFERENCE_RULE})", field=field)
    body = text.removeprefix("models:/")
    if "@" in body:
        group, _, alias = body.partition("@")
        validate_group_name(group, field=field)
        validate_alias_name(alias, field=field, settable=False)
        return Reference(group=group, alias=alias)
    group, sep, number = body.partition("/")
    if not sep:
        raise ValidationError(
            f"{field}: {text!r} is not a reference ({REFERENCE_RULE})", field=field
        )
    validate_group_name(group, field=field)
    return Reference(group=group, number=parse_version_number(number, field=field))


MAX_VERSION_NUMBER = 2**31 - 1  # the column is a 32-bit integer


def parse_version_number(text: str | int, *, field: str = "version") -> int:
    if isinstance(text, int) and not isinstance(text, bool):
        number = text
    elif isinstance(text, str) and text.isdigit() and text.isascii():
        number = int(text)
    else:
        raise ValidationError(f"{field}: {text!r} is not a version number", field=field)
    if number < 1:
        raise ValidationError(f"{field}: version numbers start at 1, got {number}", field=field)
    if number > MAX_VERSION_NUMBER:
        raise ValidationError(
            f"{field}: {number} is larger than any version number ({MAX_VERSION_NUMBER})",
            field=field,
        )
    return number
