"""Environments: a group's protected aliases (``staging``, ``production``), each with a
policy a version must satisfy before it may be deployed there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from modelyard.domain.approval import ApprovalStatus
from modelyard.domain.model import Version


@dataclass(frozen=True, slots=True)
class Policy:
    """What a version needs before it may serve an environment."""

    require_approved: bool = False

    def violations(self, version: Version, environment: str) -> list[str]:
        """Why ``version`` may not go to ``environment`` (empty: it may)."""
        found = []
        if self.require_approved and version.approval_status is not ApprovalStatus.APPROVED:
            found.append(
                f"its approval status is {version.approval_status.value} "
                f"({environment} requires Approved)"
            )
        return found

    def describe(self) -> list[str]:
        return ["approval status Approved"] if self.require_approved else []


#: Environments not listed here have no requirements (later issues add scan and signature).
DEFAULT_POLICIES: Final[Mapping[str, Policy]] = {"production": Policy(require_approved=True)}


def policy_for(environment: str) -> Policy:
    return DEFAULT_POLICIES.get(environment, Policy())
