"""Event rules: a name, an EventBridge pattern, the envelope it matches, targets, a transform.

``format`` says which shape of the event the pattern is matched against and delivered in:
``cloudevents`` (modelyard's own envelope, DESIGN.md §5) or ``sagemaker`` (version events
rendered as "SageMaker Model Package State Change", so patterns written for SageMaker
match unchanged). When a rule does not say, a pattern that uses ``detail``/``detail-type``
or ``source: aws.sagemaker`` is taken as ``sagemaker``, any other as ``cloudevents``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from modelyard.domain.patterns import Pattern, compile_pattern
from modelyard.domain.targets import Target, parse_target
from modelyard.domain.times import iso_z_or_none
from modelyard.domain.transform import Transform, parse_transform
from modelyard.errors import ValidationError

FORMATS: Final = ("cloudevents", "sagemaker")
MAX_TARGETS: Final = 5
MAX_DESCRIPTION: Final = 1024
RULE_NAME_RULE: Final = (
    "1-63 letters, digits, hyphens and underscores, starting with a letter or digit"
)
_RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_SAGEMAKER_KEYS: Final = frozenset({"detail", "detail-type"})


def validate_rule_name(name: object, *, field: str = "name") -> str:
    if not isinstance(name, str) or not _RULE_NAME.match(name):
        raise ValidationError(
            f"{field}: {name!r} is not a rule name ({RULE_NAME_RULE})", field=field
        )
    return name


@dataclass(frozen=True, slots=True)
class Rule:
    """A stored rule. ``pattern`` is compiled; ``pattern.source`` is its canonical JSON."""

    name: str
    pattern: Pattern
    format: str
    targets: tuple[Target, ...]
    transform: Transform | None = None
    description: str = ""
    enabled: bool = True
    id: int = 0
    since_seq: int = 0  # sees events after this outbox seq (set when created or enabled)
    created_by: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def render(self, event: Mapping[str, Any]) -> Any:
        """What the targets receive for a matching ``event`` (already in this rule's format)."""
        return self.transform.apply(event) if self.transform else event

    def to_dict(self, *, redact: bool = True) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "pattern": json.loads(self.pattern.source),
            "format": self.format,
            "targets": [t.to_dict(redact=redact) for t in self.targets],
            "transform": dict(self.transform.spec) if self.transform else None,
            "enabled": self.enabled,
            "created_by": self.created_by,
            "created_at": iso_z_or_none(self.created_at),
            "updated_at": iso_z_or_none(self.updated_at),
        }


def parse_rule(
    *,
    name: object,
    pattern: object,
    targets: object,
    format: object = None,
    transform: object = None,
    description: object = "",
    enabled: object = True,
) -> Rule:
    """Validate a rule spec; every error names its field (``pattern.data.group[0]``,
    ``targets[1].url``)."""
    validate_rule_name(name)
    if isinstance(pattern, str | Mapping):
        compiled = compile_pattern(pattern)
    else:
        raise ValidationError("pattern: must be a JSON object (an event pattern)", field="pattern")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise ValidationError(
            f"description: must be text of at most {MAX_DESCRIPTION} characters",
            field="description",
        )
    if not isinstance(enabled, bool):
        raise ValidationError("enabled: must be true or false", field="enabled")
    return Rule(
        name=str(name),
        pattern=compiled,
        format=_format(format, compiled),
        targets=parse_targets(targets),
        transform=parse_transform(transform),
        description=description,
        enabled=enabled,
    )


def parse_targets(targets: object) -> tuple[Target, ...]:
    if isinstance(targets, str | bytes | Mapping) or not isinstance(targets, Sequence):
        raise ValidationError("targets: must be a list of target objects", field="targets")
    if not 1 <= len(targets) <= MAX_TARGETS:
        raise ValidationError(f"targets: give 1 to {MAX_TARGETS} targets", field="targets")
    return tuple(parse_target(t, field=f"targets[{i}]") for i, t in enumerate(targets))


def _format(value: object, pattern: Pattern) -> str:
    if value is None:
        return infer_format(pattern)
    if value not in FORMATS:
        raise ValidationError(
            f"format: {value!r} is not an event format (one of {', '.join(FORMATS)})",
            field="format",
        )
    return str(value)


def infer_format(pattern: Pattern) -> str:
    top = json.loads(pattern.source)
    source = top.get("source")
    if _SAGEMAKER_KEYS & set(top) or (isinstance(source, list) and "aws.sagemaker" in source):
        return "sagemaker"
    return "cloudevents"
