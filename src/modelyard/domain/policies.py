"""Release policies: what a version needs before it may be approved, or deployed to an
environment (a protected alias such as ``staging`` or ``production``).

A policy is a list of clauses, written as users read them::

    approved                   its approval status is Approved (environments only)
    scan == clean              its latest finished scan found every file clean
    scan != unsafe             its latest finished scan (if any) found nothing unsafe
    signature.valid            the registry's signature over its manifest verifies
    signed_by in [alice, bob]  a user signature (OpenSSF model-signing) by one of these
                               trusted keys verified against its files

Each group may set its own policy per target (``approval`` or an environment name); a target
without one uses the default: approval needs ``scan != unsafe``; ``production`` needs all of
``approved``, ``scan == clean`` and ``signature.valid``; other environments need nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from modelyard.domain.approval import ApprovalStatus
from modelyard.domain.model import Version
from modelyard.domain.names import ALIAS_NAME_RULE, validate_alias_name
from modelyard.domain.times import iso_z_or_none
from modelyard.errors import ValidationError

#: the target whose policy gates approving a version (the others are environments)
APPROVAL: Final = "approval"
MAX_SIGNERS: Final = 50

_SIGNED_BY = re.compile(r"^signed_by\s+in\s+\[(.*)\]$")
_SIGNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$")
_CLAUSE_FORMS = "approved, scan == clean, scan != unsafe, signature.valid, signed_by in [NAME, ...]"


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a policy checks besides the version itself."""

    scan: str | None = None  # the latest finished scan's verdict; None: none finished yet
    scan_pending: bool = False  # a scan is queued or running
    registry_signature_valid: bool = False
    signers: tuple[str, ...] = ()  # trusted keys whose user signatures verified


@dataclass(frozen=True, slots=True)
class Policy:
    require_approved: bool = False
    require_scan_clean: bool = False
    forbid_scan_unsafe: bool = False
    require_registry_signature: bool = False
    signed_by: tuple[str, ...] = ()  # empty: no user signature needed

    @property
    def clauses(self) -> list[str]:
        """The policy in its written form (what ``parse_policy`` reads back)."""
        found = []
        if self.require_approved:
            found.append("approved")
        if self.require_scan_clean:
            found.append("scan == clean")
        if self.forbid_scan_unsafe and not self.require_scan_clean:
            found.append("scan != unsafe")
        if self.require_registry_signature:
            found.append("signature.valid")
        if self.signed_by:
            found.append(f"signed_by in [{', '.join(self.signed_by)}]")
        return found

    def violations(self, version: Version, target: str, evidence: Evidence) -> list[str]:
        """Why ``version`` does not satisfy this policy for ``target`` (empty: it does)."""
        found = []
        needs = "approval" if target == APPROVAL else target
        if self.require_approved and version.approval_status is not ApprovalStatus.APPROVED:
            found.append(
                f"its approval status is {version.approval_status.value} "
                f"({needs} requires Approved)"
            )
        if self.require_scan_clean and evidence.scan != "clean":
            found.append(f"{_scan_state(evidence)} ({needs} requires scan == clean)")
        elif self.forbid_scan_unsafe and evidence.scan == "unsafe":
            found.append(
                "its scan found unsafe content, see modelyard version scan "
                f"{version.reference} ({needs} requires scan != unsafe)"
            )
        if self.require_registry_signature and not evidence.registry_signature_valid:
            found.append(
                f"the registry's signature over its manifest does not verify ({needs} "
                "requires signature.valid)"
            )
        if self.signed_by and not set(self.signed_by) & set(evidence.signers):
            who = ", ".join(evidence.signers) or "nobody trusted"
            found.append(
                f"it is signed by {who} ({needs} requires signed_by in "
                f"[{', '.join(self.signed_by)}])"
            )
        return found


@dataclass(frozen=True, slots=True)
class ReleasePolicy:
    """A group's policy for one target, as shown to users."""

    group: str
    target: str
    clauses: tuple[str, ...]
    default: bool  # no policy was set: the target's default applies
    updated_by: str | None = None
    updated_at: datetime | None = None

    @property
    def policy(self) -> Policy:
        return parse_policy(self.clauses, target=self.target)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "target": self.target,
            "clauses": list(self.clauses),
            "default": self.default,
            "updated_by": self.updated_by,
            "updated_at": iso_z_or_none(self.updated_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReleasePolicy:
        updated = data.get("updated_at")
        return cls(
            group=data["group"],
            target=data["target"],
            clauses=tuple(data["clauses"]),
            default=bool(data["default"]),
            updated_by=data.get("updated_by"),
            updated_at=None if updated is None else datetime.fromisoformat(updated),
        )


def _scan_state(evidence: Evidence) -> str:
    if evidence.scan is None:
        if evidence.scan_pending:
            return "its scan has not finished (a worker runs it: modelyard worker)"
        return "it has not been scanned (modelyard version scan REF)"
    return f"its scan verdict is {evidence.scan}"


DEFAULT_POLICIES: Final[Mapping[str, Policy]] = {
    APPROVAL: Policy(forbid_scan_unsafe=True),
    "production": Policy(
        require_approved=True, require_scan_clean=True, require_registry_signature=True
    ),
}


def default_policy(target: str) -> Policy:
    return DEFAULT_POLICIES.get(target, Policy())


def validate_target(value: object) -> str:
    """``approval`` or an environment name (a valid alias name)."""
    if value == APPROVAL:
        return APPROVAL
    if not isinstance(value, str):
        raise ValidationError("target: must be 'approval' or an environment name", field="target")
    try:
        return validate_alias_name(value, field="target")
    except ValidationError:
        raise ValidationError(
            f"target: {value!r} is not 'approval' or an environment name ({ALIAS_NAME_RULE})",
            field="target",
        ) from None


def parse_policy(clauses: Iterable[object], *, target: str) -> Policy:
    """Read written clauses into a :class:`Policy`; an empty list requires nothing."""
    if isinstance(clauses, str) or not isinstance(clauses, Iterable):
        raise ValidationError("clauses: must be a list of policy clauses", field="clauses")
    fields: dict[str, object] = {}
    for index, raw in enumerate(clauses):
        where = f"clauses[{index}]"
        if not isinstance(raw, str):
            raise ValidationError(f"{where}: must be a string", field="clauses")
        clause = " ".join(raw.split())
        if clause == "approved":
            if target == APPROVAL:
                raise ValidationError(
                    f"{where}: 'approved' cannot be required to approve a version",
                    field="clauses",
                )
            fields["require_approved"] = True
        elif clause in {"scan == clean", "scan==clean"}:
            fields["require_scan_clean"] = True
        elif clause in {"scan != unsafe", "scan!=unsafe"}:
            fields["forbid_scan_unsafe"] = True
        elif clause == "signature.valid":
            fields["require_registry_signature"] = True
        elif match := _SIGNED_BY.match(clause):
            fields["signed_by"] = _signers(match.group(1), where)
        else:
            raise ValidationError(
                f"{where}: {raw!r} is not a policy clause (one of: {_CLAUSE_FORMS})",
                field="clauses",
            )
    return Policy(**fields)  # type: ignore[arg-type]


def _signers(listing: str, where: str) -> tuple[str, ...]:
    names = [n.strip().strip("'\"") for n in listing.split(",") if n.strip()]
    if not names:
        raise ValidationError(f"{where}: signed_by needs at least one key name", field="clauses")
    if len(names) > MAX_SIGNERS:
        raise ValidationError(f"{where}: at most {MAX_SIGNERS} signers", field="clauses")
    for name in names:
        if not _SIGNER.match(name):
            raise ValidationError(
                f"{where}: {name!r} is not a trusted key name (letters, digits, . _ @ -)",
                field="clauses",
            )
    return tuple(sorted(set(names)))
