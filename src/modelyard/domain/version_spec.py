"""What a registration states about a version (metrics, params, lineage, framework, tags,
metadata, description, model card), validated and normalised before anything moves; the
local registry and the HTTP client run the same checks."""

from __future__ import annotations

from typing import Any

from modelyard.domain.lineage import validate_lineage
from modelyard.domain.model import Lineage
from modelyard.domain.names import validate_group_name
from modelyard.domain.values import (
    MAX_DESCRIPTION_LENGTH,
    MAX_MODEL_CARD_LENGTH,
    validate_metadata,
    validate_metrics,
    validate_params,
    validate_tags,
    validate_text,
)


def validate_version_spec(group: str, **fields: Any) -> dict[str, Any]:
    validate_group_name(group)
    framework = fields["framework"]
    if framework is not None:
        validate_text(framework, field="framework", max_length=255)
    return {
        "metrics": sorted_by_key(validate_metrics(dict(fields["metrics"] or {}))),
        "params": sorted_by_key(validate_params(dict(fields["params"] or {}))),
        "lineage": validate_lineage(fields["lineage"] or Lineage()),
        "framework": framework or None,
        "tags": sorted_by_key(validate_tags(dict(fields["tags"] or {}))),
        "metadata": sorted_by_key(validate_metadata(dict(fields["metadata"] or {}))),
        "description": validate_text(
            fields["description"], field="description", max_length=MAX_DESCRIPTION_LENGTH
        ),
        "model_card": validate_text(
            fields["model_card"], field="model_card", max_length=MAX_MODEL_CARD_LENGTH
        ),
    }


def sorted_by_key(values: dict[str, Any]) -> dict[str, Any]:
    """Keys in the order the store returns them, so a registered version equals its re-read."""
    return dict(sorted(values.items()))
