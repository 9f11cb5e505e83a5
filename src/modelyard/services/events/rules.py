"""Use cases for event rules: create, list, show, test, enable/disable, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelyard.domain.access import Action
from modelyard.domain.rules import Rule, parse_rule, validate_rule_name
from modelyard.domain.targets import REDACTED
from modelyard.errors import ConflictError, ValidationError
from modelyard.services.base import ServiceBase
from modelyard.services.events.routing import SageMakerIdentity, view_of
from modelyard.services.security.secrets import refuse_sealed_input, seal_rule
from modelyard.store.sql import deliveries as delivery_store
from modelyard.store.sql import rules as store


class RuleService(ServiceBase):
    def create_rule(
        self,
        name: str,
        pattern: Mapping[str, Any] | str,
        targets: Sequence[Mapping[str, Any]],
        *,
        format: str | None = None,
        transform: Mapping[str, Any] | None = None,
        description: str = "",
        enabled: bool = True,
    ) -> dict[str, Any]:
        """Create a rule: events matching ``pattern`` (EventBridge syntax) go to ``targets``.

        ``format`` is ``cloudevents`` or ``sagemaker`` (inferred from the pattern when
        omitted); ``transform`` selects fields (``input_path`` / ``input_paths``). Returns
        the rule with webhook secrets redacted."""
        refuse_sealed_input(targets)
        rule = parse_rule(
            name=name,
            pattern=pattern,
            targets=targets,
            format=format,
            transform=transform,
            description=description,
            enabled=enabled,
        )
        _not_a_trigger(rule.name)
        rule = seal_rule(rule, self._ctx.kek)  # webhook secrets at rest
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.RULES_MANAGE, None, f"rule:{name}")
            if store.rule_exists(conn, rule.name):
                raise ConflictError(f"rule {name!r} already exists", field="name")
            stored = store.insert_rule(conn, rule, actor=self.actor, now=now)
            shown = stored.to_dict()
            self._record(
                conn,
                action="rule.create",
                resource=f"rule:{name}",
                event_type="rule.created",
                data={"group": None, "rule": _summary(shown)},
                now=now,
            )
            return shown

    def list_rules(self) -> list[dict[str, Any]]:
        """Every rule, by name (webhook secrets redacted)."""
        with self._read() as conn:
            self._authorize(conn, Action.RULES_READ, None, "rules")
            return [rule.to_dict() for rule in store.list_rules(conn)]

    def get_rule(self, name: str) -> dict[str, Any]:
        """One rule (webhook secrets redacted)."""
        validate_rule_name(name, field="rule")
        with self._read() as conn:
            self._authorize(conn, Action.RULES_READ, None, f"rule:{name}")
            return store.get_rule(conn, name).to_dict()

    def enable_rule(self, name: str) -> dict[str, Any]:
        """Route new matching events to the rule's targets again."""
        return self._set_enabled(name, True)

    def disable_rule(self, name: str) -> dict[str, Any]:
        """Stop routing new events to the rule (queued deliveries still go out)."""
        return self._set_enabled(name, False)

    def _set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        validate_rule_name(name, field="rule")
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.RULES_MANAGE, None, f"rule:{name}")
            before = store.get_rule(conn, name)
            if before.enabled == enabled:
                state = "enabled" if enabled else "disabled"
                raise ConflictError(f"rule {name!r} is already {state}", field="rule")
            store.set_enabled(conn, name, enabled, now=now)
            self._record(
                conn,
                action="rule.update",
                resource=f"rule:{name}",
                event_type="rule.updated",
                data={
                    "group": None,
                    "rule": {"name": name},
                    "changes": {"enabled": enabled},
                    "previous": {"enabled": before.enabled},
                },
                now=now,
            )
            return store.get_rule(conn, name).to_dict()

    def update_rule(
        self,
        name: str,
        *,
        pattern: Mapping[str, Any] | str | None = None,
        targets: Sequence[Mapping[str, Any]] | None = None,
        format: str | None = None,
        transform: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Change a rule in place (what is not given stays). ``targets`` replaces them all; a
        webhook target whose ``secret`` is ``********`` (as reads show it) keeps the secret of
        the webhook at the same position, so a read rule can be edited and sent back.
        ``transform={}`` removes the transform. Pending deliveries to removed targets are
        cancelled; the rule keeps seeing events from when it was created or enabled."""
        validate_rule_name(name, field="rule")
        _not_a_trigger(name)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.RULES_MANAGE, None, f"rule:{name}")
            old = store.get_rule(conn, name)
            before = old.to_dict()  # secrets redacted, as in every read
            given = {
                "pattern": pattern,
                "targets": targets,
                "format": format,
                "transform": transform,
                "description": description,
            }
            refuse_sealed_input(targets)
            changed = sorted(k for k, v in given.items() if v is not None)
            if not changed:
                raise ValidationError(
                    "rule: give at least one of pattern, targets, format, transform, description",
                    field="rule",
                )
            rule = parse_rule(
                name=name,
                pattern=pattern if pattern is not None else old.pattern.source,
                targets=_keep_secrets(targets, old) if targets is not None else _stored(old),
                format=format if format is not None else (None if pattern else old.format),
                transform=transform
                if transform is not None
                else (dict(old.transform.spec) if old.transform else None),
                description=description if description is not None else old.description,
                enabled=old.enabled,
            )
            store.replace_rule(conn, seal_rule(rule, self._ctx.kek), now=now)
            cancelled = delivery_store.cancel_targets(
                conn, old.id, from_index=len(rule.targets), now=now
            )
            updated = store.get_rule(conn, name).to_dict()
            self._record(
                conn,
                action="rule.update",
                resource=f"rule:{name}",
                event_type="rule.updated",
                data={
                    "group": None,
                    "rule": {"name": name},
                    "changes": {field: updated[field] for field in changed},
                    "previous": {field: before[field] for field in changed},
                    "cancelled_deliveries": cancelled,
                },
                now=now,
            )
            return updated

    def delete_rule(self, name: str) -> None:
        """Delete a rule; its pending deliveries are cancelled, its history is kept."""
        validate_rule_name(name, field="rule")
        _not_a_trigger(name)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.RULES_MANAGE, None, f"rule:{name}")
            rule = store.get_rule(conn, name)
            cancelled = delivery_store.cancel_rule(conn, rule.id, now=now)
            store.delete_rule(conn, name)
            self._record(
                conn,
                action="rule.delete",
                resource=f"rule:{name}",
                event_type="rule.deleted",
                data={"group": None, "rule": {"name": name}, "cancelled_deliveries": cancelled},
                now=now,
            )

    def test_rule(self, name: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """Would ``event`` (a modelyard CloudEvent, or a SageMaker-shaped event for a
        ``sagemaker`` rule) match rule ``name``, and what would its targets receive?"""
        validate_rule_name(name, field="rule")
        if not isinstance(event, Mapping):
            raise ValidationError("event: must be a JSON object", field="event")
        with self._read() as conn:
            self._authorize(conn, Action.RULES_READ, None, f"rule:{name}")
            rule = store.get_rule(conn, name)
        return evaluate(rule, event, self._ctx.sagemaker)


TRIGGER_PREFIX = "pipeline-"


def _not_a_trigger(name: str) -> None:
    """``pipeline-<name>`` rules are pipelines' triggers: ``pipeline apply`` manages them
    (they can be disabled and enabled, to pause a trigger)."""
    if name.startswith(TRIGGER_PREFIX):
        raise ValidationError(
            f"name: rules named {TRIGGER_PREFIX}… are pipeline triggers, managed by "
            f"`pipeline apply` (edit the pipeline's trigger:)",
            field="name",
        )


def evaluate(rule: Rule, event: Mapping[str, Any], identity: SageMakerIdentity) -> dict[str, Any]:
    """``{matched, format, input}``: ``input`` is what the targets would receive."""
    view: Mapping[str, Any] | None = event
    if rule.format == "sagemaker" and "detail-type" not in event:
        view = view_of(event, rule.format, identity)
    matched = view is not None and rule.pattern.matches(view)
    return {
        "rule": rule.name,
        "matched": matched,
        "format": rule.format,
        "input": rule.render(view) if matched and view is not None else None,
        "targets": [t.describe for t in rule.targets],
    }


def _stored(rule: Rule) -> list[dict[str, Any]]:
    return [t.to_dict() for t in rule.targets]


def _keep_secrets(targets: Sequence[Mapping[str, Any]], old: Rule) -> object:
    """Targets with a redacted webhook secret take the stored one at the same position
    (anything that is not a list of targets is left for validation to refuse)."""
    if isinstance(targets, str | bytes | Mapping) or not isinstance(targets, Sequence):
        return targets
    kept: list[object] = []
    for i, target in enumerate(targets):
        redacted = isinstance(target, Mapping) and target.get("secret") == REDACTED
        if redacted and i < len(old.targets) and "secret" in old.targets[i].config:
            kept.append({**target, "secret": old.targets[i].config["secret"]})
        else:
            kept.append(target)
    return kept


def _summary(rule: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": rule["name"],
        "format": rule["format"],
        "pattern": rule["pattern"],
        "targets": [f"{t['type']}" for t in rule["targets"]],
        "enabled": rule["enabled"],
    }
