"""The approval status state machine (exact SageMaker ModelApprovalStatus values).

``PendingManualApproval`` → ``Approved`` | ``Rejected``; a decided version may be
re-decided (``Approved`` ↔ ``Rejected``), each decision recorded. Nothing returns a
version to ``PendingManualApproval`` and a decision that changes nothing is refused.
"""

from __future__ import annotations

from enum import StrEnum

from modelyard.errors import InvalidTransitionError, ValidationError


class ApprovalStatus(StrEnum):
    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"


def parse_status(value: str, *, field: str = "approval_status") -> ApprovalStatus:
    try:
        return ApprovalStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in ApprovalStatus)
        raise ValidationError(f"{field}: {value!r} is not one of {allowed}", field=field) from None


def check_decision(current: ApprovalStatus, decided: ApprovalStatus, *, reference: str) -> None:
    """Raise unless moving ``current`` → ``decided`` is a legal decision."""
    if decided is ApprovalStatus.PENDING:
        raise InvalidTransitionError(
            f"{reference}: a decision must be Approved or Rejected; "
            "a version never returns to PendingManualApproval",
            field="approval_status",
        )
    if decided is current:
        raise InvalidTransitionError(
            f"{reference} is already {current.value}", field="approval_status"
        )
