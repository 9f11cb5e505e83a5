"""Release policies: read, set and reset a group's policy per target, and enforce it when a
version is approved or deployed (see domain/policies.py for what the clauses mean)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection

from modelyard.domain.access import Action
from modelyard.domain.model import Version
from modelyard.domain.policies import (
    APPROVAL,
    DEFAULT_POLICIES,
    Evidence,
    Policy,
    ReleasePolicy,
    default_policy,
    parse_policy,
    validate_target,
)
from modelyard.services.base import PolicyDenied, ServiceBase
from modelyard.services.security.signatures import signature_state
from modelyard.store.sql import groups as group_store
from modelyard.store.sql import policies as store
from modelyard.store.sql import scans as scan_store
from modelyard.store.sql.versions import load_versions


def effective_policy(conn: Connection, group: str, target: str) -> Policy:
    """The policy ``group`` applies to ``target``: its own, else the default."""
    row = store.get_policy(conn, group, target)
    return default_policy(target) if row is None else parse_policy(row["clauses"], target=target)


def evidence_of(conn: Connection, version: Version, registry_key: Ed25519PublicKey) -> Evidence:
    """What a policy checks about ``version`` besides its record: scan and signatures
    (re-verified against ``registry_key``, the registry's manifest-signing key)."""
    finished = scan_store.latest_finished_scan(conn, version.group, version.number)
    latest = scan_store.latest_scan(conn, version.group, version.number)
    signatures = signature_state(conn, version.group, version.number, registry_key=registry_key)
    return Evidence(
        scan=None if finished is None else finished.verdict,
        scan_pending=latest is not None and latest.status != "done",
        registry_signature_valid=signatures.registry_signature_valid,
        signers=tuple(signatures.signers),
    )


def enforce_policy(
    conn: Connection,
    version: Version,
    target: str,
    *,
    actor: str,
    action: str,
    resource: str,
    registry_key: Ed25519PublicKey,
) -> None:
    """Raise :class:`PolicyDenied` (audited) unless ``version`` satisfies the group's
    policy for ``target``."""
    policy = effective_policy(conn, version.group, target)
    if policy == Policy():
        return
    violations = policy.violations(version, target, evidence_of(conn, version, registry_key))
    if violations:
        verb = "approved" if target == APPROVAL else f"deployed to {target}"
        raise PolicyDenied(
            f"{version.reference} may not be {verb}: " + "; ".join(violations),
            principal=actor,
            action=action,
            resource=resource,
            field="environment" if target != APPROVAL else "reference",
        )


class PolicyService(ServiceBase):
    def get_policy(self, group: str, target: str) -> ReleasePolicy:
        """``group``'s release policy for ``target`` (``approval`` or an environment)."""
        target = validate_target(target)
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, group, f"{group}:{target}")
            group_store.get_group(conn, group)
            return self._view(conn, group, target)

    def list_policies(self, group: str) -> list[ReleasePolicy]:
        """Every target with a policy: the defaults (approval, production) and those set."""
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, group, group)
            group_store.get_group(conn, group)
            targets = set(DEFAULT_POLICIES) | {
                row["target"] for row in store.list_policies(conn, group)
            }
            return [self._view(conn, group, t) for t in sorted(targets)]

    def set_policy(self, group: str, target: str, clauses: list[str]) -> ReleasePolicy:
        """Replace ``group``'s policy for ``target`` with ``clauses`` (``[]``: require
        nothing). Needs ``group.configure``; audited, with the previous clauses."""
        target = validate_target(target)
        policy = parse_policy(clauses, target=target)
        return self._change(group, target, policy.clauses)

    def reset_policy(self, group: str, target: str) -> ReleasePolicy:
        """Drop ``group``'s own policy for ``target``: the default applies again."""
        return self._change(group, validate_target(target), None)

    def check_policy(self, ref: str, target: str) -> list[str]:
        """Why ``ref`` may not be approved / deployed to ``target`` now (empty: it may)."""
        target = validate_target(target)
        parsed = self._parse(ref)
        with self._read() as conn:
            self._authorize(conn, Action.VERSION_READ, parsed.group, str(parsed))
            version = load_versions(conn, [self._version_id(conn, parsed)])[0]
            policy = effective_policy(conn, version.group, target)
            evidence = evidence_of(conn, version, self._ctx.keys.manifest.public_key())
            return policy.violations(version, target, evidence)

    def _change(self, group: str, target: str, clauses: list[str] | None) -> ReleasePolicy:
        now = self._ctx.clock()
        resource = f"{group}:{target}"
        with self._write() as conn:
            self._authorize(conn, Action.GROUP_CONFIGURE, group, resource)
            group_store.get_group(conn, group)
            before = self._view(conn, group, target)
            if clauses is None:
                store.remove_policy(conn, group, target)
            else:
                store.put_policy(conn, group, target, clauses, actor=self.actor, now=now)
            after = self._view(conn, group, target)
            self._record(
                conn,
                action="policy.set" if clauses is not None else "policy.reset",
                resource=group,
                event_type="group.policy_changed",
                data={
                    "group": group,
                    "target": target,
                    "clauses": list(after.clauses),
                    "default": after.default,
                    "previous": {"clauses": list(before.clauses), "default": before.default},
                },
                now=now,
            )
            return after

    @staticmethod
    def _view(conn: Connection, group: str, target: str) -> ReleasePolicy:
        row = store.get_policy(conn, group, target)
        if row is None:
            clauses = tuple(default_policy(target).clauses)
            return ReleasePolicy(group=group, target=target, clauses=clauses, default=True)
        return ReleasePolicy(
            group=group,
            target=target,
            clauses=tuple(row["clauses"]),
            default=False,
            updated_by=row["updated_by"],
            updated_at=row["updated_at"],
        )
