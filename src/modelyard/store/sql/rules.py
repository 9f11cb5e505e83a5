"""Event rules (SQL). Rows keep webhook secrets; ``Rule.to_dict`` redacts them on the way out."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from modelyard.domain.patterns import compile_pattern
from modelyard.domain.rules import Rule
from modelyard.domain.targets import parse_target
from modelyard.domain.transform import parse_transform
from modelyard.errors import NotFoundError
from modelyard.store.sql.rows import utc
from modelyard.store.sql.schema import outbox, rules


def insert_rule(conn: Connection, rule: Rule, *, actor: str, now: datetime) -> Rule:
    conn.execute(
        insert(rules),
        {
            "name": rule.name,
            "description": rule.description,
            "pattern": rule.pattern.source,
            "format": rule.format,
            "targets": [t.to_dict() for t in rule.targets],
            "transform": dict(rule.transform.spec) if rule.transform else None,
            "enabled": rule.enabled,
            "revision": 1,
            "since_seq": _last_seq(conn),
            "created_by": actor,
            "created_at": now,
            "updated_at": now,
        },
    )
    return get_rule(conn, rule.name)


def rule_exists(conn: Connection, name: str) -> bool:
    return conn.execute(select(rules.c.id).where(rules.c.name == name)).first() is not None


def get_rule(conn: Connection, name: str) -> Rule:
    row = conn.execute(select(rules).where(rules.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"rule {name!r} does not exist", field="rule")
    return _rule(row)


def list_rules(conn: Connection, *, enabled_only: bool = False) -> list[Rule]:
    query = select(rules).order_by(rules.c.name)
    if enabled_only:
        query = query.where(rules.c.enabled.is_(True))
    return [_rule(row) for row in conn.execute(query)]


def rules_fingerprint(conn: Connection) -> tuple[Any, ...]:
    """Changes whenever a rule is created, changed or deleted (for caching compiled rules)."""
    row = conn.execute(select(func.count(), func.max(rules.c.id), func.sum(rules.c.revision))).one()
    return tuple(row)


def replace_rule(conn: Connection, rule: Rule, *, now: datetime) -> None:
    """Store ``rule``'s pattern, format, targets, transform and description under its name."""
    conn.execute(
        update(rules)
        .where(rules.c.name == rule.name)
        .values(
            pattern=rule.pattern.source,
            format=rule.format,
            targets=[t.to_dict() for t in rule.targets],
            transform=dict(rule.transform.spec) if rule.transform else None,
            description=rule.description,
            updated_at=now,
            revision=rules.c.revision + 1,
        )
    )


def set_enabled(conn: Connection, name: str, enabled: bool, *, now: datetime) -> None:
    """Enabling starts the rule afresh: it sees events committed after this change."""
    values: dict[str, Any] = {
        "enabled": enabled,
        "updated_at": now,
        "revision": rules.c.revision + 1,
    }
    if enabled:
        values["since_seq"] = _last_seq(conn)
    conn.execute(update(rules).where(rules.c.name == name).values(**values))


def _last_seq(conn: Connection) -> int:
    """The newest outbox seq. Recording transactions are serialized by the audit head lock,
    so no event with an earlier seq can still commit after this one."""
    return int(conn.execute(select(func.coalesce(func.max(outbox.c.seq), 0))).scalar_one())


def delete_rule(conn: Connection, name: str) -> None:
    conn.execute(delete(rules).where(rules.c.name == name))


def _rule(row: Row[Any]) -> Rule:
    return Rule(
        id=int(row.id),
        name=row.name,
        pattern=compile_pattern(json.loads(row.pattern)),
        format=row.format,
        targets=tuple(
            parse_target(spec, field=f"targets[{i}]") for i, spec in enumerate(row.targets)
        ),
        transform=parse_transform(row.transform),
        description=row.description,
        enabled=bool(row.enabled),
        since_seq=int(row.since_seq),
        created_by=row.created_by,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )
