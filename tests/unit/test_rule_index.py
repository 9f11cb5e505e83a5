"""The rule index routes exactly as testing every pattern would."""

from __future__ import annotations

import random

import pytest

from modelyard.domain.patterns import compile_pattern
from modelyard.domain.rule_index import RuleIndex

TYPES = ["version.created", "version.approval_changed", "alias.set", "group.created"]


def rules(count: int, seed: int) -> list[tuple[str, dict[str, object]]]:
    rng = random.Random(seed)
    made: list[tuple[str, dict[str, object]]] = []
    for i in range(count):
        shape = rng.randrange(5)
        group = f"g{rng.randrange(50)}"
        if shape == 0:
            pattern: dict[str, object] = {"type": [rng.choice(TYPES)], "data": {"group": [group]}}
        elif shape == 1:
            pattern = {"data": {"group": [{"prefix": group[:2]}]}}  # nothing exact: unindexed
        elif shape == 2:
            pattern = {"type": rng.sample(TYPES, 2), "data": {"approval_status": ["Approved"]}}
        elif shape == 3:
            pattern = {"$or": [{"type": ["alias.set"]}, {"data": {"group": [group]}}]}
        else:
            pattern = {"data": {"group": [group], "version": [{"numeric": [">", 2]}]}}
        made.append((f"r{i}", pattern))
    return made


def events(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        {
            "type": rng.choice(TYPES),
            "data": {
                "group": f"g{rng.randrange(60)}",
                "version": rng.randrange(1, 6),
                "approval_status": rng.choice(["Approved", "Rejected"]),
                "tags": [{"k": "a"}, {"k": "b"}],
            },
        }
        for _ in range(count)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_routing_equals_testing_every_rule(seed: int) -> None:
    given = [(key, compile_pattern(p)) for key, p in rules(300, seed)]
    index = RuleIndex(given)
    assert len(index) == 300
    for event in events(200, seed):
        expected = [key for key, pattern in given if pattern.matches(event)]
        assert index.route(event) == expected


def test_candidates_are_few_for_rules_on_distinct_groups() -> None:
    index = RuleIndex(
        (f"r{i}", compile_pattern({"data": {"group": [f"group-{i}"]}})) for i in range(1000)
    )
    event = {"type": "version.created", "data": {"group": "group-7"}}
    assert index.candidates(event) == ["r7"]
    assert index.route(event) == ["r7"]
    assert index.route({"data": {"group": ["group-1", "group-2"]}}) == ["r1", "r2"]


def test_a_rule_key_may_appear_once() -> None:
    pattern = compile_pattern({"type": ["x"]})
    with pytest.raises(ValueError, match="given twice"):
        RuleIndex([("a", pattern), ("a", pattern)])


def test_rules_are_filed_under_their_rarest_field() -> None:
    index = RuleIndex(
        (
            f"r{i}",
            compile_pattern(
                {
                    "type": ["version.approval_changed"],
                    "data": {"group": [f"group-{i}"], "approval_status": ["Approved"]},
                }
            ),
        )
        for i in range(1000)
    )
    event = {
        "type": "version.approval_changed",
        "data": {"group": "group-7", "approval_status": "Approved"},
    }
    assert index.candidates(event) == ["r7"]
