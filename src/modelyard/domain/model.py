"""Entities as the registry returns them: groups, versions, lineage, decisions, alias moves
(pages of them: ``domain/paging.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelyard.domain.approval import ApprovalStatus
from modelyard.domain.manifest import Manifest


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset a version was trained or evaluated on, e.g. role ``train``."""

    role: str
    uri: str
    digest: str | None = None  # "sha256:<hex>" when known

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "uri": self.uri, "digest": self.digest}


@dataclass(frozen=True, slots=True)
class Lineage:
    """Where a version came from. Recorded at registration and never changed."""

    datasets: tuple[Dataset, ...] = ()
    code_repo: str | None = None
    code_commit: str | None = None
    parents: tuple[str, ...] = ()  # references "group/N"
    python_version: str | None = None
    packages: tuple[str, ...] = ()
    container_image: str | None = None  # "repo@sha256:<hex>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "datasets": [d.to_dict() for d in self.datasets],
            "code": {"repo": self.code_repo, "commit": self.code_commit},
            "parents": list(self.parents),
            "environment": {
                "python": self.python_version,
                "packages": list(self.packages),
                "container_image": self.container_image,
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lineage:
        code = data.get("code") or {}
        env = data.get("environment") or {}
        return cls(
            datasets=tuple(Dataset(**d) for d in data.get("datasets", [])),
            code_repo=code.get("repo"),
            code_commit=code.get("commit"),
            parents=tuple(data.get("parents", [])),
            python_version=env.get("python"),
            packages=tuple(env.get("packages", [])),
            container_image=env.get("container_image"),
        )


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    description: str
    tags: dict[str, str]
    created_at: datetime
    created_by: str
    updated_at: datetime
    latest_version: int
    archived_at: datetime | None = None
    allow_self_approval: bool = False  # may a version's registrant approve it?
    protected_aliases: tuple[str, ...] = ("production", "staging")  # deployers move these

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tags": dict(self.tags),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
            "latest_version": self.latest_version,
            "archived_at": self.archived_at.isoformat() if self.archived_at else None,
            "allow_self_approval": self.allow_self_approval,
            "protected_aliases": list(self.protected_aliases),
        }


@dataclass(frozen=True, slots=True)
class Version:
    """One immutable registered model. Only description, model card, tags, metadata,
    approval status and aliases change after registration."""

    group: str
    number: int
    manifest: Manifest
    metrics: dict[str, float]
    params: dict[str, str]
    lineage: Lineage
    framework: str | None
    tags: dict[str, str]
    metadata: dict[str, str]
    description: str
    model_card: str
    approval_status: ApprovalStatus
    created_at: datetime
    created_by: str
    updated_at: datetime
    aliases: tuple[str, ...] = field(default=())

    @property
    def reference(self) -> str:
        return f"{self.group}/{self.number}"

    @property
    def manifest_digest(self) -> str:
        return self.manifest.digest

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "version": self.number,
            "reference": self.reference,
            "manifest_digest": self.manifest_digest,
            "files": self.manifest.to_list(),
            "file_count": len(self.manifest.files),
            "size": self.manifest.total_size,
            "metrics": dict(self.metrics),
            "params": dict(self.params),
            "lineage": self.lineage.to_dict(),
            "framework": self.framework,
            "tags": dict(self.tags),
            "metadata": dict(self.metadata),
            "description": self.description,
            "model_card": self.model_card,
            "approval_status": self.approval_status.value,
            "aliases": list(self.aliases),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    reference: str
    status: ApprovalStatus
    previous_status: ApprovalStatus
    actor: str
    comment: str
    decided_at: datetime
    break_glass_reason: str | None = None  # set when an admin approved their own version

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "status": self.status.value,
            "previous_status": self.previous_status.value,
            "actor": self.actor,
            "comment": self.comment,
            "decided_at": self.decided_at.isoformat(),
            "break_glass_reason": self.break_glass_reason,
        }


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One entry of an alias's history; ``version`` is None when the alias was deleted."""

    group: str
    alias: str
    version: int | None
    previous_version: int | None
    actor: str
    reason: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "alias": self.alias,
            "version": self.version,
            "previous_version": self.previous_version,
            "actor": self.actor,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class LineageNode:
    """A version in a lineage walk, ``depth`` steps from the start."""

    reference: str
    depth: int
    via: str  # the reference whose parent/child this is

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "depth": self.depth, "via": self.via}
