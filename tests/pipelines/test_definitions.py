"""Pipeline definitions through the Python API (local and remote): revisions, diff,
triggers, and bad documents refused with line and reason, changing nothing."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.errors import PermissionDeniedError, ValidationError

GOOD = """\
name: release
trigger: {type: [version.created]}
stages:
  - {name: validate, uses: validate, require: [metrics.auc]}
  - {name: staging, uses: deploy, environment: staging}
"""


def test_revisions_diff_and_the_trigger_rule(registry: Any) -> None:
    first = registry.apply_pipeline(GOOD)
    assert first["changed"] and first["pipeline"]["revision"] == 1
    assert registry.apply_pipeline(GOOD) == {"pipeline": first["pipeline"], "changed": False}
    changed = GOOD.replace("metrics.auc", "metrics.f1")
    assert registry.apply_pipeline(changed)["pipeline"]["revision"] == 2
    assert registry.get_pipeline("release", revision=1)["source"] == GOOD
    assert registry.get_pipeline("release")["revision"] == 2
    diff = registry.diff_pipeline("release", from_revision=1)
    assert "-  - {name: validate, uses: validate, require: [metrics.auc]}" in diff
    assert "+  - {name: validate, uses: validate, require: [metrics.f1]}" in diff
    rule = registry.get_rule("pipeline-release")
    assert rule["pattern"] == {"type": ["version.created"]}
    assert rule["targets"][0]["type"] == "pipeline"
    registry.apply_pipeline(changed.replace("trigger: {type: [version.created]}\n", ""))
    assert "pipeline-release" not in [r["name"] for r in registry.list_rules()]
    assert [p["name"] for p in registry.list_pipelines()] == ["release"]


@pytest.mark.parametrize(
    ("document", "line", "field", "reason"),
    [
        ("stages:\n  - {name: a, uses: teleport}\n", 3, "stages[0].uses", "not an action"),
        (
            "stages:\n  - {name: g, uses: gate, when: ['candidate.metrics.auc >=']}\n",
            3,
            "stages[0].when[0]",
            "CEL",
        ),
        (
            "stages:\n  - {name: a, uses: scan, needs: [b]}\n"
            "  - {name: b, uses: scan, needs: [a]}\n",
            3,
            "stages[0].needs",
            "cycle",
        ),
        (
            "stages:\n  - {name: a, uses: scan}\n  - {name: a, uses: scan}\n",
            4,
            "stages[1].name",
            "a",
        ),
        (
            "stages:\n  - {name: d, uses: deploy, environment: prod}\n",
            3,
            "stages[0].environment",
            "not an environment",
        ),
    ],
)
def test_bad_pipelines_are_refused_with_line_and_reason(
    registry: Any, document: str, line: int, field: str, reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason) as caught:
        registry.apply_pipeline("name: release\n" + document)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"line {line}: {field}: ")
    assert registry.list_pipelines() == []


def test_only_admins_apply_pipelines(open_registry: Any) -> None:
    member = open_registry("bob")
    with pytest.raises(PermissionDeniedError, match="pipelines.manage"):
        member.apply_pipeline(GOOD)
    open_registry().apply_pipeline(GOOD)
    assert [p["name"] for p in member.list_pipelines()] == ["release"]
