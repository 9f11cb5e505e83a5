"""Version events in the shape SageMaker sends to EventBridge (stdlib only, pure).

``to_sagemaker`` turns a modelyard CloudEvent about a version into the envelope SageMaker
emits for a model package, so rules written for SageMaker (the usual consumer pattern is
``{"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
"detail": {"ModelPackageGroupName": [g], "ModelApprovalStatus": ["Approved"]}}``) work
unchanged. Any other event gives ``None``.

Mapping, CloudEvent → EventBridge:

* ``id`` → ``id``, unchanged, so deduplicating by id works across both formats;
* ``time`` → ``time``; ``account``, ``region`` come from the caller; ``version`` is ``"0"``,
  ``source`` ``"aws.sagemaker"``, ``resources`` the model package ARN;
* ``detail`` mirrors DescribeModelPackage: ``ModelPackageGroupName`` (``data.group``),
  ``ModelPackageVersion`` (``data.version``, an int), ``ModelPackageArn``,
  ``ModelPackageName`` (``group/version``), ``ModelPackageStatus`` (always ``"Completed"``:
  a registered version is complete), ``ModelApprovalStatus`` (``data.approval_status``;
  modelyard's statuses are SageMaker's), ``ApprovalDescription`` (the comment of a
  ``version.approval_changed``, when not empty), ``CreationTime`` (``data.created_at``, else
  the event time of a ``version.created``, else omitted), ``LastModifiedTime`` (the event
  time), ``CreatedBy`` (``{"UserProfileName": data.created_by}``), and
  ``CustomerMetadataProperties`` / ``Tags`` only from a full, non-empty ``data.metadata`` /
  ``data.tags`` mapping. ``changes`` and ``previous`` are never used: they describe the
  change, not the package, and may be partial.

Timestamps: SageMaker's own events disagree (the AWS docs show ISO strings, captured events
show epoch milliseconds inside ``detail``). We always write ISO-8601 UTC strings with
**second** precision, ``YYYY-MM-DDThh:mm:ssZ``, like the envelope ``time``: fractional
seconds are truncated (never rounded, so a time never moves forward), other offsets are
converted to UTC, and a time without an offset is taken as UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from modelyard.errors import ValidationError

__all__ = [
    "APPROVAL_STATUSES",
    "SAGEMAKER_DETAIL_TYPE",
    "SAGEMAKER_SOURCE",
    "VERSION_EVENT_TYPES",
    "to_sagemaker",
]

SAGEMAKER_DETAIL_TYPE: Final = "SageMaker Model Package State Change"
SAGEMAKER_SOURCE: Final = "aws.sagemaker"
VERSION_EVENT_TYPES: Final[frozenset[str]] = frozenset(
    {"version.created", "version.updated", "version.tagged", "version.approval_changed"}
)
APPROVAL_STATUSES: Final[frozenset[str]] = frozenset(
    {"PendingManualApproval", "Approved", "Rejected"}
)

_ACCOUNT: Final = re.compile(r"[0-9]{12}")
_REGION: Final = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")


def to_sagemaker(
    event: Mapping[str, Any], *, account: str = "000000000000", region: str = "us-east-1"
) -> dict[str, Any] | None:
    """The SageMaker EventBridge envelope of a version event, or ``None`` for other events.

    Raises ``ValidationError`` for a bad ``account`` (not 12 digits) or ``region`` (not like
    ``us-east-1``), whatever the event, and for a version event missing what the envelope
    needs (``id``, ``time``, ``data.group``, ``data.version``, ``data.approval_status``).
    """
    _check_target(account, region)
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in VERSION_EVENT_TYPES:
        return None
    data = event.get("data")
    if not isinstance(data, Mapping):
        raise ValidationError("data: a version event needs a data object", field="data")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise ValidationError("id: a version event needs a non-empty string id", field="id")
    time = _utc_seconds(event.get("time"), field="time")
    detail = _detail(kind, data, time, account=account, region=region)
    return {
        "version": "0",
        "id": event_id,
        "detail-type": SAGEMAKER_DETAIL_TYPE,
        "source": SAGEMAKER_SOURCE,
        "account": account,
        "time": time,
        "region": region,
        "resources": [detail["ModelPackageArn"]],
        "detail": detail,
    }


def _check_target(account: object, region: object) -> None:
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        raise ValidationError(f"account: {account!r} is not a 12-digit account id", field="account")
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ValidationError(
            f"region: {region!r} is not a region name like us-east-1", field="region"
        )


def _detail(
    kind: str, data: Mapping[str, Any], time: str, *, account: str, region: str
) -> dict[str, Any]:
    group = data.get("group")
    if not isinstance(group, str) or not group:
        raise ValidationError(
            "data.group: a version event needs the group name", field="data.group"
        )
    number = data.get("version")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise ValidationError(
            f"data.version: {number!r} is not a version number", field="data.version"
        )
    status = data.get("approval_status")
    if not isinstance(status, str) or status not in APPROVAL_STATUSES:
        raise ValidationError(
            f"data.approval_status: {status!r} is not one of {sorted(APPROVAL_STATUSES)}",
            field="data.approval_status",
        )
    # SageMaker lowercases the group name in model package ARNs (the name itself keeps its case).
    arn = f"arn:aws:sagemaker:{region}:{account}:model-package/{group.lower()}/{number}"
    detail: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": number,
        "ModelPackageArn": arn,
        "ModelPackageName": f"{group}/{number}",
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": status,
    }
    comment = data.get("comment")
    if kind == "version.approval_changed" and isinstance(comment, str) and comment.strip():
        detail["ApprovalDescription"] = comment
    if data.get("created_at") is not None:
        detail["CreationTime"] = _utc_seconds(data["created_at"], field="data.created_at")
    elif kind == "version.created":
        detail["CreationTime"] = time
    detail["LastModifiedTime"] = time
    return detail | _optional(data)


def _optional(data: Mapping[str, Any]) -> dict[str, Any]:
    """``CreatedBy``, ``CustomerMetadataProperties`` and ``Tags``, when the data has them."""
    extra: dict[str, Any] = {}
    created_by = data.get("created_by")
    if isinstance(created_by, str) and created_by:
        extra["CreatedBy"] = {"UserProfileName": created_by}
    metadata = data.get("metadata")
    if isinstance(metadata, Mapping) and metadata:
        extra["CustomerMetadataProperties"] = dict(sorted(metadata.items()))
    tags = data.get("tags")
    if isinstance(tags, Mapping) and tags:
        extra["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    return extra


def _utc_seconds(value: object, *, field: str) -> str:
    """``value`` (an ISO-8601 string or a datetime) as ``YYYY-MM-DDThh:mm:ssZ``, truncated."""
    problem = ValidationError(f"{field}: {value!r} is not an ISO-8601 time", field=field)
    if not isinstance(value, str | datetime):
        raise problem
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise problem from None
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"
