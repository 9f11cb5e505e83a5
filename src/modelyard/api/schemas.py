"""Request bodies. Unknown fields are refused, so a typo is an error rather than a no-op."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GroupCreate(Body):
    name: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    allow_self_approval: bool = False


class GroupUpdate(Body):
    description: str | None = None
    set_tags: dict[str, str] = Field(default_factory=dict)
    remove_tags: list[str] = Field(default_factory=list)
    allow_self_approval: bool | None = None
    protected_aliases: list[str] | None = None


class FileItem(Body):
    path: str
    size: int
    sha256: str


class VersionCreate(Body):
    files: list[FileItem] = Field(description="The manifest: every file's path, size, sha256.")
    metrics: dict[str, float | str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    lineage: dict[str, Any] = Field(default_factory=dict)
    framework: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    model_card: str = ""
    signature: dict[str, Any] | None = Field(
        default=None,
        description="A model-signing signature bundle (key mode) to attach; it must verify "
        "with a key the group trusts and pin exactly these files.",
    )


class VersionUpdate(Body):
    description: str | None = None
    model_card: str | None = None


class Pairs(Body):
    set: dict[str, str] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)


class Decision(Body):
    comment: str = ""
    break_glass: str | None = Field(
        default=None, description="Approve your own version as an admin: the reason."
    )


class AliasSet(Body):
    version: int
    reason: str = ""


class Digests(Body):
    digests: list[str] = Field(max_length=100_000)


class PrincipalCreate(Body):
    name: str
    service: bool = False


class TokenCreate(Body):
    principal: str
    expires: str | None = Field(default="90d", description="12h, 90d, 4w, 1y or 'never'.")
    description: str = ""


class BindingBody(Body):
    principal: str
    role: str
    groups: str = "*"


class RuleCreate(Body):
    name: str
    pattern: dict[str, Any] | str = Field(description="An EventBridge event pattern.")
    targets: list[dict[str, Any]] = Field(description="1-5 targets, each with a 'type'.")
    format: str | None = Field(default=None, description="cloudevents or sagemaker.")
    transform: dict[str, Any] | None = None
    description: str = ""
    enabled: bool = True


class RuleUpdate(Body):
    pattern: dict[str, Any] | str | None = None
    targets: list[dict[str, Any]] | None = Field(
        default=None,
        description="Replaces every target; a secret of ******** keeps the stored one.",
    )
    format: str | None = None
    transform: dict[str, Any] | None = Field(default=None, description="{} removes it.")
    description: str | None = None


class RuleTest(Body):
    event: dict[str, Any]


class Replay(Body):
    since: str = Field(description="A duration like 2h or 7d, or an ISO-8601 time.")
    until: str | None = None


class Redrive(Body):
    ids: list[int] | None = None
    rule: str | None = None
    all_dead: bool = Field(default=False, description="Every dead letter (if no ids/rule).")


class DeployBody(Body):
    reference: str = Field(description="The version to deploy: fraud/7, or fraud@staging.")
    to: str = Field(description="The environment (a protected alias), e.g. production.")
    reason: str = ""


class RollbackBody(Body):
    reason: str = ""


class PolicyBody(Body):
    clauses: list[str] = Field(
        description="Policy clauses: approved, scan == clean, signature.valid, "
        "signed_by in [NAME, ...]; [] requires nothing.",
        max_length=20,
    )


class PipelineApply(Body):
    source: str = Field(description="The pipeline's YAML document.")


class RunStart(Body):
    reference: str = Field(description="The version to run the pipeline for: fraud/7.")


class RunCancel(Body):
    reason: str = ""


class RunRetry(Body):
    from_stage: str | None = None


class ApprovalVote(Body):
    comment: str = ""


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable, e.g. validation_error, not_found.")
    message: str = Field(description="One line for people, naming the field and the rule.")
    field: str | None = Field(default=None, description="The offending field, if any.")


class ErrorBody(BaseModel):
    error: ErrorDetail


_ERROR = {"model": ErrorBody}
#: the error responses every /api/v1 route may give (documented in the OpenAPI)
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "Bad input: the message names the field and the rule."},
    401: {**_ERROR, "description": "No API token, or an unknown, expired or revoked one."},
    403: {**_ERROR, "description": "The caller's roles do not allow this."},
    404: {**_ERROR, "description": "No such group, version, alias, blob, principal or token."},
    409: {**_ERROR, "description": "The current state does not allow it."},
    422: {**_ERROR, "description": "Bytes do not match their sha256."},
}
