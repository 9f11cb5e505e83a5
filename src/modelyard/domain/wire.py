"""The JSON wire shapes back into entities: the inverse of every ``to_dict``.

The HTTP API sends ``to_dict()`` output; the client rebuilds the same entities from it,
so ``Client`` returns exactly what ``Registry`` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from modelyard.domain.access import Binding, Decision, parse_action, parse_role
from modelyard.domain.approval import ApprovalStatus
from modelyard.domain.audit import VerifyReport
from modelyard.domain.manifest import FileEntry, Manifest, build_manifest
from modelyard.domain.model import AliasMove, ApprovalDecision, Group, Lineage, LineageNode, Version
from modelyard.domain.paging import Page
from modelyard.domain.principals import ApiToken, IssuedToken, Principal, PrincipalKind
from modelyard.errors import ValidationError

T = TypeVar("T")


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _required_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def manifest_from(files: Any, *, field: str = "manifest.files") -> Manifest:
    """A manifest from ``[{"path", "size", "sha256"}, …]``, validated like any other."""
    if not isinstance(files, list):
        raise ValidationError(f"{field}: must be a list of files", field=field)
    entries = []
    for index, item in enumerate(files):
        if not isinstance(item, dict) or set(item) - {"path", "size", "sha256"}:
            raise ValidationError(
                f"{field}[{index}]: must be an object with path, size and sha256",
                field=f"{field}[{index}]",
            )
        entries.append(FileEntry(item.get("path"), item.get("size"), item.get("sha256")))  # type: ignore[arg-type]
    return build_manifest(entries)


def group_from(data: dict[str, Any]) -> Group:
    return Group(
        name=data["name"],
        description=data["description"],
        tags=dict(data["tags"]),
        created_at=_required_time(data["created_at"]),
        created_by=data["created_by"],
        updated_at=_required_time(data["updated_at"]),
        latest_version=int(data["latest_version"]),
        archived_at=_time(data.get("archived_at")),
        allow_self_approval=bool(data.get("allow_self_approval", False)),
        protected_aliases=tuple(data.get("protected_aliases", ())),
    )


def version_from(data: dict[str, Any]) -> Version:
    return Version(
        group=data["group"],
        number=int(data["version"]),
        manifest=Manifest(
            tuple(FileEntry(f["path"], f["size"], f["sha256"]) for f in data["files"])
        ),
        metrics=dict(data["metrics"]),
        params=dict(data["params"]),
        lineage=Lineage.from_dict(data["lineage"]),
        framework=data.get("framework"),
        tags=dict(data["tags"]),
        metadata=dict(data["metadata"]),
        description=data["description"],
        model_card=data["model_card"],
        approval_status=ApprovalStatus(data["approval_status"]),
        created_at=_required_time(data["created_at"]),
        created_by=data["created_by"],
        updated_at=_required_time(data["updated_at"]),
        aliases=tuple(data.get("aliases", ())),
    )


def page_from(data: dict[str, Any], item: Callable[[dict[str, Any]], T]) -> Page[T]:
    return Page(items=[item(i) for i in data["items"]], next_cursor=data.get("next_cursor"))


def decision_from(data: dict[str, Any]) -> ApprovalDecision:
    return ApprovalDecision(
        reference=data["reference"],
        status=ApprovalStatus(data["status"]),
        previous_status=ApprovalStatus(data["previous_status"]),
        actor=data["actor"],
        comment=data["comment"],
        decided_at=_required_time(data["decided_at"]),
        break_glass_reason=data.get("break_glass_reason"),
    )


def alias_move_from(data: dict[str, Any]) -> AliasMove:
    return AliasMove(
        group=data["group"],
        alias=data["alias"],
        version=data["version"],
        previous_version=data["previous_version"],
        actor=data["actor"],
        reason=data["reason"],
        at=_required_time(data["at"]),
    )


def lineage_node_from(data: dict[str, Any]) -> LineageNode:
    return LineageNode(reference=data["reference"], depth=int(data["depth"]), via=data["via"])


def principal_from(data: dict[str, Any]) -> Principal:
    return Principal(
        name=data["name"],
        kind=PrincipalKind(data["kind"]),
        created_at=_required_time(data["created_at"]),
        created_by=data["created_by"],
    )


def token_from(data: dict[str, Any]) -> ApiToken:
    return ApiToken(
        id=data["id"],
        principal=data["principal"],
        description=data["description"],
        created_at=_required_time(data["created_at"]),
        created_by=data["created_by"],
        expires_at=_time(data.get("expires_at")),
        revoked_at=_time(data.get("revoked_at")),
        last_used_at=_time(data.get("last_used_at")),
    )


def issued_token_from(data: dict[str, Any]) -> IssuedToken:
    return IssuedToken(token=token_from(data), secret=data["token"])


def binding_from(data: dict[str, Any]) -> Binding:
    return Binding(
        principal=data["principal"],
        role=parse_role(data["role"]),
        pattern=data["groups"],
        created_at=_time(data.get("created_at")),
        created_by=data.get("created_by"),
        id=data.get("id"),
    )


def access_decision_from(data: dict[str, Any]) -> Decision:
    binding = data.get("binding")
    return Decision(
        allowed=bool(data["allowed"]),
        principal=data["principal"],
        action=parse_action(data["action"]),
        group=data.get("group"),
        binding=binding_from(binding) if binding else None,
        reason=data["reason"],
    )


def verify_report_from(data: dict[str, Any]) -> VerifyReport:
    return VerifyReport(
        entries=int(data["entries"]),
        checkpoints=int(data["checkpoints"]),
        ok=bool(data["ok"]),
        problem=data.get("problem"),
        bad_seq=data.get("bad_seq"),
    )
