"""From an event to the deliveries it causes, and from a delivery to the bytes sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.domain.rule_index import RuleIndex
from modelyard.domain.rules import Rule
from modelyard.domain.sagemaker_events import to_sagemaker
from modelyard.store.sql.deliveries import OutboxEvent, stream_key

#: (account, region) used in SageMaker-shaped events' ARNs
SageMakerIdentity = tuple[str, str]


def view_of(
    payload: Mapping[str, Any], format: str, identity: SageMakerIdentity
) -> Mapping[str, Any] | None:
    """The event as a rule of ``format`` sees it (None: this event has no such shape)."""
    if format == "sagemaker":
        return to_sagemaker(payload, account=identity[0], region=identity[1])
    return payload


def route_event(
    event: OutboxEvent,
    indexes: Mapping[str, RuleIndex[int]],
    rules: Mapping[int, Rule],
    identity: SageMakerIdentity,
    *,
    replay: bool = False,
) -> list[dict[str, Any]]:
    """One delivery row per (matching rule, target); ``indexes`` maps format → rules."""
    rows: list[dict[str, Any]] = []
    for format, index in indexes.items():
        view = view_of(event.payload, format, identity)
        if view is None:
            continue
        for rule_id in index.route(view):
            rule = rules[rule_id]
            if event.seq <= rule.since_seq and not replay:
                continue  # committed before the rule was created or enabled
            rows.extend(
                {
                    "event_seq": event.seq,
                    "event_id": event.event_id,
                    "rule_id": rule.id,
                    "rule_name": rule.name,
                    "target_index": i,
                    "stream": stream_key(rule.id, i, event.group),
                    "replay": replay,
                }
                for i in range(len(rule.targets))
            )
    return rows


def render_body(rule: Rule, payload: Mapping[str, Any], identity: SageMakerIdentity) -> bytes:
    """The exact bytes a target receives: the event in the rule's format, transformed."""
    view = view_of(payload, rule.format, identity)
    return orjson.dumps(rule.render(view if view is not None else payload))


def indexes_of(rules: Mapping[int, Rule]) -> dict[str, RuleIndex[int]]:
    """Enabled rules indexed per format."""
    by_format: dict[str, list[tuple[int, Any]]] = {}
    for rule in rules.values():
        if rule.enabled:
            by_format.setdefault(rule.format, []).append((rule.id, rule.pattern))
    return {format: RuleIndex(entries) for format, entries in by_format.items()}
