"""Release policies, on every API (local and HTTP) and database: the defaults, setting them,
and enforcement — scan verdicts, the registry's signature, user signatures."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from modelyard import PermissionDeniedError, PolicyError, Registry, ValidationError
from tests.conftest import MakeArtifact, OpenRegistry
from tests.signers import ec_keypair

CLEAN = {"model.json": b'{"weights": [0.1, 0.2]}'}


class Exploit:
    """A pickle that runs a shell command when loaded."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo pwned",))


@pytest.fixture
def group(registry: Any) -> Any:
    registry.create_group("fraud", allow_self_approval=True)
    return registry


def _register(registry: Any, make_artifact: MakeArtifact, files: dict[str, bytes]) -> str:
    version = registry.register_version("fraud", make_artifact(files))
    registry.scan_version(version.reference, timeout=60)  # normally the worker's job
    return str(version.reference)


def test_the_defaults(group: Any) -> None:
    policies = {p.target: (p.clauses, p.default) for p in group.list_policies("fraud")}
    assert policies == {
        "approval": (("scan != unsafe",), True),
        "production": (("approved", "scan == clean", "signature.valid"), True),
    }
    staging = group.get_policy("fraud", "staging")
    assert (staging.clauses, staging.default) == ((), True)


def test_a_malicious_pickle_can_be_neither_approved_nor_deployed(
    group: Any, make_artifact: MakeArtifact
) -> None:
    ref = _register(group, make_artifact, {"model.pkl": pickle.dumps(Exploit())})
    scan = group.version_scan(ref)
    assert scan.verdict == "unsafe"
    with pytest.raises(PolicyError, match="scan found unsafe content") as refused:
        group.approve_version(ref, comment="looks fine to me")
    assert "approval requires scan != unsafe" in str(refused.value)
    assert group.get_version(ref).approval_status.value == "PendingManualApproval"
    # even with the approval policy switched off, production still refuses it
    group.set_policy("fraud", "approval", [])
    group.approve_version(ref, comment="overridden")
    with pytest.raises(PolicyError, match="scan verdict is unsafe"):
        group.deploy(ref, to="production")
    assert group.list_aliases("fraud") == {}
    assert group.check_policy(ref, "production") == [
        "its scan verdict is unsafe (production requires scan == clean)"
    ]
    denied = group.audit_log(outcome="denied", limit=1)[0]
    assert (denied.action, denied.resource) == ("deployment.start", "fraud@production")


def test_production_needs_a_finished_clean_scan(group: Any, make_artifact: MakeArtifact) -> None:
    version = group.register_version("fraud", make_artifact(CLEAN))
    group.approve_version("fraud/1", comment="ok")  # a pending scan does not block approval
    if isinstance(group, Registry):  # no worker here (the test server's scans at once)
        violations = group.check_policy("fraud/1", "production")
        assert len(violations) == 1 and "scan has not finished" in violations[0]
        with pytest.raises(PolicyError, match="production requires scan == clean"):
            group.deploy("fraud/1", to="production")
    assert group.scan_version(version.reference, timeout=60).verdict == "clean"
    assert group.check_policy("fraud/1", "production") == []
    assert group.deploy("fraud/1", to="production")["status"] == "succeeded"


def test_a_file_no_scanner_understands_is_not_clean(
    group: Any, make_artifact: MakeArtifact
) -> None:
    ref = _register(group, make_artifact, {"weights.dat": os.urandom(256)})
    assert group.version_scan(ref).verdict == "not_scanned"
    group.approve_version(ref, comment="ok")  # nothing unsafe was found …
    with pytest.raises(PolicyError, match="scan verdict is not_scanned"):
        group.deploy(ref, to="production")  # … but nothing was shown clean either


def test_signed_by_needs_a_trusted_user_signature(
    group: Any, make_artifact: MakeArtifact, tmp_path: Path
) -> None:
    ref = _register(group, make_artifact, CLEAN)
    group.approve_version(ref, comment="ok")
    changed = group.set_policy(
        "fraud", "production", ["approved", "scan == clean", "signed_by in [alice, release-bot]"]
    )
    assert changed.clauses == ("approved", "scan == clean", "signed_by in [alice, release-bot]")
    assert not changed.default
    with pytest.raises(PolicyError, match=r"signed by nobody trusted \(production requires"):
        group.deploy(ref, to="production")
    private, public = ec_keypair(tmp_path, "alice")
    group.add_trusted_key("fraud", "alice", public.read_text())
    group.sign_version(ref, sign_with=private)
    assert group.check_policy(ref, "production") == []
    assert group.deploy(ref, to="production")["status"] == "succeeded"


def test_setting_policies_is_validated_admin_only_and_audited(
    open_registry: OpenRegistry,
) -> None:
    admin = open_registry()
    admin.create_group("fraud")
    for bad, rule in [
        (["scan is fine"], "is not a policy clause"),
        (["signed_by in []"], "needs at least one key name"),
        (["signed_by in [../etc]"], "is not a trusted key name"),
    ]:
        with pytest.raises(ValidationError, match=rule) as refused:
            admin.set_policy("fraud", "production", bad)
        assert refused.value.field == "clauses"
    with pytest.raises(ValidationError, match="cannot be required to approve"):
        admin.set_policy("fraud", "approval", ["approved"])
    with pytest.raises(ValidationError, match="target"):
        admin.set_policy("fraud", "Prod!", [])
    assert admin.get_policy("fraud", "production").default, "nothing changed"
    deployer = open_registry(actor="dana", roles=("deployer",))
    with pytest.raises(PermissionDeniedError):
        deployer.set_policy("fraud", "production", [])
    assert deployer.get_policy("fraud", "production").default
    admin.set_policy("fraud", "staging", ["scan == clean"])
    reset = admin.reset_policy("fraud", "staging")
    assert (reset.clauses, reset.default) == ((), True)
    entries = [e for e in admin.audit_log(limit=10) if e.action.startswith("policy.")]
    assert [e.action for e in entries] == ["policy.reset", "policy.set"]
    [event] = admin.list_events(type="group.policy_changed", limit=1)
    assert event["data"]["previous"] == {"clauses": ["scan == clean"], "default": False}


def test_a_registry_signature_that_no_longer_verifies_blocks_production(
    tmp_path: Path, make_artifact: MakeArtifact, db_url: str
) -> None:
    """The manifest must be the one the registry signed: opening the store with another
    signing key (as an attacker who rewrote the metadata would have to) breaks it."""
    from dataclasses import replace

    from modelyard.config import Settings

    settings = Settings(
        home=tmp_path / "home", db_url=db_url, blobs_url=f"file://{tmp_path / 'blobs'}"
    )
    with Registry.open(settings=settings) as registry:
        registry.create_group("fraud", allow_self_approval=True)
        ref = _register(registry, make_artifact, CLEAN)
        registry.approve_version(ref, comment="ok")
        assert registry.check_policy(ref, "production") == []
    other_key = replace(settings, signing_key_file=tmp_path / "other-key.pem")
    with (
        Registry.open(settings=other_key) as registry,
        pytest.raises(PolicyError, match="production requires signature.valid"),
    ):
        registry.deploy(ref, to="production")
