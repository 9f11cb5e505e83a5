"""/api/v1 event rules, event history, deliveries: dead letters, redrive and replay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from modelyard.api.deps import Caller
from modelyard.api.responses import JSON, created
from modelyard.api.schemas import ERRORS, Redrive, Replay, RuleCreate, RuleTest, RuleUpdate

router = APIRouter(prefix="/api/v1", tags=["events"], responses=ERRORS)
Limit = Annotated[int, Query(description="1 to 1000.")]


@router.post("/rules", status_code=201)
def create_rule(body: RuleCreate, registry: Caller) -> JSON:
    return created(
        registry.create_rule(
            body.name,
            body.pattern,
            body.targets,
            format=body.format,
            transform=body.transform,
            description=body.description,
            enabled=body.enabled,
        )
    )


@router.get("/rules")
def list_rules(registry: Caller) -> JSON:
    return JSON(registry.list_rules())


@router.get("/rules/{name}")
def get_rule(name: str, registry: Caller) -> JSON:
    return JSON(registry.get_rule(name))


@router.patch("/rules/{name}")
def update_rule(name: str, body: RuleUpdate, registry: Caller) -> JSON:
    """Change a rule in place; what is not given stays."""
    return JSON(
        registry.update_rule(
            name,
            pattern=body.pattern,
            targets=body.targets,
            format=body.format,
            transform=body.transform,
            description=body.description,
        )
    )


@router.post("/rules/{name}/enable")
def enable_rule(name: str, registry: Caller) -> JSON:
    return JSON(registry.enable_rule(name))


@router.post("/rules/{name}/disable")
def disable_rule(name: str, registry: Caller) -> JSON:
    return JSON(registry.disable_rule(name))


@router.delete("/rules/{name}", status_code=204)
def delete_rule(name: str, registry: Caller) -> Response:
    registry.delete_rule(name)
    return Response(status_code=204)


@router.post("/rules/{name}/test")
def test_rule(name: str, body: RuleTest, registry: Caller) -> JSON:
    """Would this event match the rule, and what would its targets receive?"""
    return JSON(registry.test_rule(name, body.event))


@router.post("/rules/{name}/replay")
def replay_events(name: str, body: Replay, registry: Caller) -> JSON:
    """Queue past matching events for the rule's targets again."""
    return JSON({"deliveries": registry.replay_events(name, since=body.since, until=body.until)})


@router.get("/events/{event_id}")
def get_event(event_id: str, registry: Caller) -> JSON:
    """An event with every delivery attempt."""
    return JSON(registry.get_event(event_id))


@router.get("/deliveries")
def list_deliveries(
    registry: Caller, status: str | None = None, rule: str | None = None, limit: Limit = 100
) -> JSON:
    return JSON(registry.list_deliveries(status=status, rule=rule, limit=limit))


@router.post("/deliveries/redrive")
def redrive_deliveries(body: Redrive, registry: Caller) -> JSON:
    """Queue dead-lettered deliveries again."""
    return JSON(
        {"redriven": registry.redrive_deliveries(body.ids, rule=body.rule, all_dead=body.all_dead)}
    )
