"""Who may do what: roles, actions, role bindings on group-name patterns, default deny.

A principal (user or service account) holds *role bindings*: a role on a group-name
pattern (``fraud-*``, ``*``). An action on a group is allowed when some binding's role
grants the action and its pattern matches the group; otherwise it is denied (default
deny). Actions that concern no group (managing principals, reading the whole audit log)
are *global*: only bindings on the pattern ``*`` grant them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fnmatch import fnmatchcase

from modelyard.errors import ValidationError


class Role(StrEnum):
    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"
    APPROVER = "approver"
    DEPLOYER = "deployer"
    ADMIN = "admin"


class Action(StrEnum):
    """Everything a service call can be authorized for."""

    GROUP_READ = "group.read"
    GROUP_CREATE = "group.create"
    GROUP_UPDATE = "group.update"
    GROUP_CONFIGURE = "group.configure"  # separation of duties, protected aliases
    GROUP_ARCHIVE = "group.archive"
    VERSION_READ = "version.read"
    VERSION_CREATE = "version.create"
    VERSION_UPDATE = "version.update"  # tags, metadata, description, model card
    VERSION_APPROVE = "version.approve"  # approval decisions
    VERSION_SCAN = "version.scan"  # re-run a version's unsafe-model scan
    ALIAS_SET = "alias.set"  # aliases that are not protected
    ALIAS_SET_PROTECTED = "alias.set_protected"  # environments / protected aliases
    BLOB_WRITE = "blob.write"
    AUDIT_READ = "audit.read"  # global
    EVENTS_READ = "events.read"  # global
    ACCESS_ADMIN = "access.admin"  # global: principals, tokens, bindings
    RULES_READ = "rules.read"  # global
    RULES_MANAGE = "rules.manage"  # global: rules, replay, dead-letter redrive
    PIPELINES_MANAGE = "pipelines.manage"  # global: apply pipeline definitions
    PIPELINE_RUN = "pipeline.run"  # start, cancel and retry runs for a group's versions
    STORE_ADMIN = "store.admin"  # global: blobs verify/gc/encrypt, keys rotate


GLOBAL_ACTIONS = frozenset(
    {
        Action.AUDIT_READ,
        Action.EVENTS_READ,
        Action.ACCESS_ADMIN,
        Action.RULES_READ,
        Action.RULES_MANAGE,
        Action.PIPELINES_MANAGE,
        Action.STORE_ADMIN,
    }
)

#: every role can read what a viewer reads (on the groups its binding covers)
_READ = {
    Action.GROUP_READ,
    Action.VERSION_READ,
    Action.AUDIT_READ,
    Action.EVENTS_READ,
    Action.RULES_READ,
}
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset(_READ),
    Role.CONTRIBUTOR: frozenset(
        _READ
        | {
            Action.GROUP_CREATE,
            Action.GROUP_UPDATE,
            Action.VERSION_CREATE,
            Action.VERSION_UPDATE,
            Action.VERSION_SCAN,
            Action.ALIAS_SET,
            Action.BLOB_WRITE,
            Action.PIPELINE_RUN,
        }
    ),
    Role.APPROVER: frozenset(_READ | {Action.VERSION_APPROVE, Action.VERSION_SCAN}),
    Role.DEPLOYER: frozenset(
        _READ
        | {Action.ALIAS_SET, Action.ALIAS_SET_PROTECTED, Action.PIPELINE_RUN, Action.VERSION_SCAN}
    ),
    Role.ADMIN: frozenset(Action),
}

DEFAULT_PROTECTED_ALIASES = ("production", "staging")
#: Stands for "some group": an action not tied to one group (uploading blobs) is allowed
#: when any binding grants it, whatever its pattern.
ANY_GROUP = "<any group>"
_PATTERN = re.compile(r"^[A-Za-z0-9*?][A-Za-z0-9*?-]{0,62}$")


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationError(f"role: {value!r} is not one of {allowed}", field="role") from None


def parse_action(value: str) -> Action:
    try:
        return Action(value)
    except ValueError:
        allowed = ", ".join(a.value for a in Action)
        raise ValidationError(
            f"action: {value!r} is not one of {allowed}", field="action"
        ) from None


def validate_pattern(pattern: str) -> str:
    """A group-name pattern: lowercase name characters plus the wildcards ``*`` and ``?``."""
    if not isinstance(pattern, str) or not _PATTERN.match(pattern):
        raise ValidationError(
            f"groups: {pattern!r} is not a group pattern (letters, digits, '-' and the "
            "wildcards '*' and '?', at most 63 characters)",
            field="groups",
        )
    return pattern


@dataclass(frozen=True, slots=True)
class Binding:
    """One role on one group pattern, held by one principal."""

    principal: str
    role: Role
    pattern: str
    created_at: datetime | None = None
    created_by: str | None = None
    id: int | None = None

    def matches(self, group: str | None) -> bool:
        """Does the pattern cover ``group``? ``None`` stands for "all groups" (only ``*``)."""
        if group is None:
            return self.pattern == "*"
        return group == ANY_GROUP or fnmatchcase(group, self.pattern)

    def role_actions(self) -> frozenset[Action]:
        return ROLE_ACTIONS[self.role]

    def grants(self, action: Action, group: str | None) -> bool:
        return action in ROLE_ACTIONS[self.role] and self.matches(group)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "principal": self.principal,
            "role": self.role.value,
            "groups": self.pattern,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "created_by": self.created_by,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to "may P do A on G?" with the reason, for ``access check``."""

    allowed: bool
    principal: str
    action: Action
    group: str | None
    binding: Binding | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "principal": self.principal,
            "action": self.action.value,
            "group": self.group,
            "binding": self.binding.to_dict() if self.binding else None,
            "reason": self.reason,
        }


def decide(principal: str, bindings: list[Binding], action: Action, group: str | None) -> Decision:
    """Allow when a binding grants ``action`` on ``group``; deny otherwise, saying why."""
    scope = None if action in GLOBAL_ACTIONS else group
    for binding in sorted(bindings, key=_strongest_first):
        if binding.grants(action, scope):
            return Decision(
                True,
                principal,
                action,
                group,
                binding,
                f"{binding.role.value} on {binding.pattern!r} grants {action.value}",
            )
    if scope is None:
        where = "all groups ('*')"
    elif scope == ANY_GROUP:
        where = "any group"
    else:
        where = f"group {group!r}"
    if not bindings:
        reason = f"{principal!r} has no role bindings (default deny)"
    else:
        held = ", ".join(f"{b.role.value} on {b.pattern!r}" for b in bindings)
        reason = f"no binding of {principal!r} grants {action.value} on {where} (holds {held})"
    return Decision(False, principal, action, group, None, reason)


def _strongest_first(binding: Binding) -> tuple[int, str]:
    return (-list(Role).index(binding.role), binding.pattern)


def readable_patterns(bindings: list[Binding]) -> list[str] | None:
    """Group patterns whose groups the principal may read; ``None`` means every group."""
    patterns = [b.pattern for b in bindings if Action.GROUP_READ in ROLE_ACTIONS[b.role]]
    return None if "*" in patterns else sorted(set(patterns))


def pattern_to_like(pattern: str) -> str:
    """The SQL LIKE form of a group pattern (patterns hold no ``%``, ``_`` or ``\\``)."""
    return pattern.replace("*", "%").replace("?", "_")
