"""Validation of the key/value collections a version carries: metrics, params, tags, metadata."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from modelyard.domain.names import validate_key
from modelyard.errors import ValidationError

MAX_TAGS = 50
MAX_METADATA = 50  # SageMaker CustomerMetadataProperties allows 50 pairs
MAX_METRICS = 1000
MAX_PARAMS = 1000
MAX_VALUE_LENGTH = 256
MAX_PARAM_LENGTH = 6000  # MLflow's limit for a param value
MAX_DESCRIPTION_LENGTH = 4096
MAX_MODEL_CARD_LENGTH = 1_000_000


def parse_pairs(items: Iterable[str], *, field: str) -> list[tuple[str, str]]:
    """Split ``key=value`` strings (as typed on a command line), refusing duplicates."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationError(f"{field}: {item!r} is not of the form key=value", field=field)
        if key in seen:
            raise ValidationError(
                f"{field}: {key!r} is given more than once", field=f"{field}.{key}"
            )
        seen.add(key)
        pairs.append((key, value))
    return pairs


def validate_metrics(metrics: Mapping[str, object]) -> dict[str, float]:
    """Metric names are keys; values must be finite numbers (strings are parsed)."""
    _limit(metrics, MAX_METRICS, "metrics")
    result: dict[str, float] = {}
    for key, raw in metrics.items():
        field = f"metrics.{key}"
        validate_key(key, field=field)
        result[key] = _to_float(raw, field=field)
    return result


def _to_float(raw: object, *, field: str) -> float:
    if isinstance(raw, bool):
        raise ValidationError(f"{field}: must be a number, got a boolean", field=field)
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            raise ValidationError(f"{field}: {raw!r} is not a number", field=field) from None
    else:
        raise ValidationError(f"{field}: must be a number, got {type(raw).__name__}", field=field)
    if not math.isfinite(value):
        raise ValidationError(f"{field}: must be a finite number, got {raw!r}", field=field)
    return value


def validate_strings(
    values: Mapping[str, object], *, field: str, limit: int, max_length: int = MAX_VALUE_LENGTH
) -> dict[str, str]:
    """Validate a string→string mapping (params, tags, metadata)."""
    _limit(values, limit, field)
    result: dict[str, str] = {}
    for key, value in values.items():
        item_field = f"{field}.{key}"
        validate_key(key, field=item_field)
        if not isinstance(value, str):
            raise ValidationError(
                f"{item_field}: must be a string, got {type(value).__name__}", field=item_field
            )
        if len(value) > max_length:
            raise ValidationError(
                f"{item_field}: longer than {max_length} characters", field=item_field
            )
        result[key] = value
    return result


def validate_tags(tags: Mapping[str, object]) -> dict[str, str]:
    return validate_strings(tags, field="tags", limit=MAX_TAGS)


def validate_metadata(metadata: Mapping[str, object]) -> dict[str, str]:
    return validate_strings(metadata, field="metadata", limit=MAX_METADATA)


def validate_params(params: Mapping[str, object]) -> dict[str, str]:
    coerced = {
        k: (str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
        for k, v in params.items()
    }
    return validate_strings(coerced, field="params", limit=MAX_PARAMS, max_length=MAX_PARAM_LENGTH)


def validate_text(value: str | None, *, field: str, max_length: int) -> str:
    """Free text (descriptions, model cards): a string within the length limit."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{field}: must be a string", field=field)
    if len(value) > max_length:
        raise ValidationError(f"{field}: longer than {max_length} characters", field=field)
    return value


def _limit(values: Mapping[str, object], limit: int, field: str) -> None:
    if not isinstance(values, Mapping):
        raise ValidationError(f"{field}: must be a mapping of key to value", field=field)
    if len(values) > limit:
        raise ValidationError(
            f"{field}: {len(values)} entries given, at most {limit} are allowed", field=field
        )
