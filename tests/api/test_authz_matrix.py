"""The authorization matrix: every HTTP route x every role (and no, expired, revoked token).

Each route has a concrete request and the set of roles allowed to make it; every other
caller must get 403 (401 without a valid token), and every denial must land in the audit
log. The test enumerates the app's routes, so a new route without a row here fails it.
Tokens must never appear in logs, audit entries or error messages.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from modelyard import Registry
from modelyard.api import create_app
from modelyard.worker.runner import RunWorker
from tests.server import running_server
from tests.signers import model_signing_bundle, public_pem

ROLES = ("viewer", "contributor", "approver", "deployer", "admin")
ALL = frozenset(ROLES)
WRITE = frozenset({"contributor", "admin"})
APPROVE = frozenset({"approver", "admin"})
ALIAS = frozenset({"contributor", "deployer", "admin"})
PROTECTED = frozenset({"deployer", "admin"})
ADMIN = frozenset({"admin"})
RUN = frozenset({"contributor", "deployer", "admin"})  # pipeline.run
SCAN = frozenset({"contributor", "approver", "deployer", "admin"})  # version.scan
BAD_TOKENS = ("none", "expired", "revoked")

BLOB = b"weights"
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()
NEW_BLOB = b"x"
NEW_SHA = hashlib.sha256(NEW_BLOB).hexdigest()
V = "/api/v1/groups/fraud-a/versions/1"
SIGNER, OTHER_SIGNER, NEW_SIGNER = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
SIGNATURE = model_signing_bundle({"model.bin": BLOB}, SIGNER)  # of fraud-a/1's files


@dataclass(frozen=True)
class Case:
    method: str
    template: str  # the route as the app declares it
    path: str  # a concrete request
    allowed: frozenset[str]
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    content: bytes | None = None


CASES = [
    Case("GET", "/api/v1/groups", "/api/v1/groups", ALL),
    Case("POST", "/api/v1/groups", "/api/v1/groups", WRITE, json={"name": "fraud-new"}),
    Case("GET", "/api/v1/groups/{group}", "/api/v1/groups/fraud-a", ALL),
    Case("PATCH", "/api/v1/groups/{group}", "/api/v1/groups/fraud-a", WRITE, {"description": "d"}),
    Case("POST", "/api/v1/groups/{group}/archive", "/api/v1/groups/fraud-b/archive", ADMIN),
    Case("GET", "/api/v1/groups/{group}/aliases", "/api/v1/groups/fraud-a/aliases", ALL),
    Case(
        "PUT",
        "/api/v1/groups/{group}/aliases/{alias}",
        "/api/v1/groups/fraud-a/aliases/champion",
        ALIAS,
        {"version": 2},
    ),
    Case(
        "PUT",
        "/api/v1/groups/{group}/aliases/{alias}",
        "/api/v1/groups/fraud-a/aliases/production",
        PROTECTED,
        {"version": 2},
    ),
    Case(
        "DELETE",
        "/api/v1/groups/{group}/aliases/{alias}",
        "/api/v1/groups/fraud-a/aliases/temporary",
        ALIAS,
    ),
    Case(
        "GET",
        "/api/v1/groups/{group}/aliases/{alias}/history",
        "/api/v1/groups/fraud-a/aliases/champion/history",
        ALL,
    ),
    Case(
        "POST",
        "/api/v1/groups/{group}/versions",
        "/api/v1/groups/fraud-a/versions",
        WRITE,
        {"files": [{"path": "model.bin", "size": len(BLOB), "sha256": BLOB_SHA}]},
    ),
    Case("GET", "/api/v1/groups/{group}/versions", "/api/v1/groups/fraud-a/versions", ALL),
    Case("GET", "/api/v1/groups/{group}/versions/{selector}", V, ALL),
    Case("GET", "/api/v1/groups/{group}/versions/{selector}", V[:-1] + "@champion", ALL),
    Case("PATCH", "/api/v1/groups/{group}/versions/{selector}", V, WRITE, {"description": "d"}),
    Case(
        "POST",
        "/api/v1/groups/{group}/versions/{selector}/tags",
        V + "/tags",
        WRITE,
        {"set": {"k": "v"}},
    ),
    Case(
        "POST",
        "/api/v1/groups/{group}/versions/{selector}/metadata",
        V + "/metadata",
        WRITE,
        {"set": {"k": "v"}},
    ),
    Case("POST", "/api/v1/groups/{group}/versions/{selector}/approve", V + "/approve", APPROVE, {}),
    Case(
        "POST",
        "/api/v1/groups/{group}/versions/{selector}/reject",
        V + "/reject",
        APPROVE,
        {"comment": "no"},
    ),
    Case("GET", "/api/v1/groups/{group}/versions/{selector}/approvals", V + "/approvals", ALL),
    Case("GET", "/api/v1/groups/{group}/versions/{selector}/lineage", V + "/lineage", ALL),
    Case("GET", "/api/v1/groups/{group}/versions/{selector}/signatures", V + "/signatures", ALL),
    Case(
        "POST",
        "/api/v1/groups/{group}/versions/{selector}/signatures",
        V + "/signatures",
        WRITE,
        {"bundle": SIGNATURE},
    ),
    Case("GET", "/api/v1/signing/public-key", "/api/v1/signing/public-key", ALL),
    Case("GET", "/api/v1/groups/{group}/trusted-keys", "/api/v1/groups/fraud-a/trusted-keys", ALL),
    Case(
        "POST",
        "/api/v1/groups/{group}/trusted-keys",
        "/api/v1/groups/fraud-a/trusted-keys",
        ADMIN,
        {"name": "new-signer", "public_key": public_pem(NEW_SIGNER)},
    ),
    Case(
        "DELETE",
        "/api/v1/groups/{group}/trusted-keys/{name}",
        "/api/v1/groups/fraud-a/trusted-keys/doomed-signer",
        ADMIN,
    ),
    Case("GET", "/api/v1/groups/{group}/versions/{selector}/scan", V + "/scan", ALL),
    Case("POST", "/api/v1/groups/{group}/versions/{selector}/scan", V + "/scan", SCAN),
    Case("GET", "/api/v1/versions", "/api/v1/versions", ALL, params={"filter": "version = 1"}),
    Case("POST", "/api/v1/blobs/missing", "/api/v1/blobs/missing", WRITE, {"digests": [BLOB_SHA]}),
    Case("PUT", "/api/v1/blobs/{sha256}", f"/api/v1/blobs/{NEW_SHA}", WRITE, content=NEW_BLOB),
    Case("HEAD", "/api/v1/blobs/{sha256}", f"/api/v1/blobs/{BLOB_SHA}", ALL),
    Case("GET", "/api/v1/blobs/{sha256}", f"/api/v1/blobs/{BLOB_SHA}", ALL),
    Case("GET", "/api/v1/whoami", "/api/v1/whoami", ALL),
    Case("POST", "/api/v1/principals", "/api/v1/principals", ADMIN, {"name": "newcomer"}),
    Case("GET", "/api/v1/principals", "/api/v1/principals", ADMIN),
    Case("POST", "/api/v1/tokens", "/api/v1/tokens", ADMIN, {"principal": "registrant"}),
    Case("GET", "/api/v1/tokens", "/api/v1/tokens", ADMIN),
    Case("DELETE", "/api/v1/tokens/{token_id}", "/api/v1/tokens/{spare_token}", ADMIN),
    Case(
        "POST",
        "/api/v1/bindings",
        "/api/v1/bindings",
        ADMIN,
        {"principal": "registrant", "role": "viewer", "groups": "other-*"},
    ),
    Case("GET", "/api/v1/bindings", "/api/v1/bindings", ADMIN),
    Case(
        "DELETE",
        "/api/v1/bindings",
        "/api/v1/bindings",
        ADMIN,
        params={"principal": "registrant", "role": "viewer", "groups": "nothing-*"},
    ),
    Case(
        "GET",
        "/api/v1/access/check",
        "/api/v1/access/check",
        ADMIN,
        params={"principal": "registrant", "action": "approve", "target": "fraud-a/1"},
    ),
    Case("GET", "/api/v1/audit", "/api/v1/audit", ALL),
    Case("GET", "/api/v1/audit/verify", "/api/v1/audit/verify", ALL),
    Case("GET", "/api/v1/audit/checkpoints", "/api/v1/audit/checkpoints", ALL),
    Case("POST", "/api/v1/audit/checkpoints", "/api/v1/audit/checkpoints", ALL),
    Case("GET", "/api/v1/audit/public-key", "/api/v1/audit/public-key", ALL),
    Case("GET", "/api/v1/audit/entries/{seq}/proof", "/api/v1/audit/entries/1/proof", ALL),
    Case(
        "GET",
        "/api/v1/audit/consistency",
        "/api/v1/audit/consistency",
        ALL,
        params={"old_size": 1, "new_size": 1},
    ),
    Case("GET", "/api/v1/audit/export", "/api/v1/audit/export", ALL),
    Case("GET", "/api/v1/events", "/api/v1/events", ALL),
    Case("GET", "/api/v1/summary", "/api/v1/summary", ALL),
    Case(
        "POST",
        "/api/v1/deployments",
        "/api/v1/deployments",
        PROTECTED,
        {"reference": "fraud-a/1", "to": "staging"},
    ),
    Case(
        "GET",
        "/api/v1/groups/{group}/environments/{env}/deployments",
        "/api/v1/groups/fraud-a/environments/production/deployments",
        ALL,
    ),
    Case(
        "GET",
        "/api/v1/groups/{group}/environments/{env}/at",
        "/api/v1/groups/fraud-a/environments/production/at",
        ALL,
        params={"time": "2030-01-01T00:00Z"},
    ),
    Case(
        "POST",
        "/api/v1/groups/{group}/environments/{env}/rollback",
        "/api/v1/groups/fraud-a/environments/staging/rollback",
        PROTECTED,
        {"reason": "bad canary"},
    ),
    Case("GET", "/api/v1/groups/{group}/policies", "/api/v1/groups/fraud-a/policies", ALL),
    Case(
        "GET",
        "/api/v1/groups/{group}/policies/{target}",
        "/api/v1/groups/fraud-a/policies/production",
        ALL,
    ),
    Case(
        "PUT",
        "/api/v1/groups/{group}/policies/{target}",
        "/api/v1/groups/fraud-a/policies/staging",
        ADMIN,
        {"clauses": ["scan == clean"]},
    ),
    Case(
        "DELETE",
        "/api/v1/groups/{group}/policies/{target}",
        "/api/v1/groups/fraud-a/policies/staging",
        ADMIN,
    ),
    Case(
        "GET",
        "/api/v1/groups/{group}/versions/{selector}/policy/{target}",
        V + "/policy/production",
        ALL,
    ),
    Case(
        "POST",
        "/api/v1/pipelines",
        "/api/v1/pipelines",
        ADMIN,
        {"source": "name: other\nstages:\n  - {name: tell, uses: notify, type: custom.x}\n"},
    ),
    Case("GET", "/api/v1/pipelines", "/api/v1/pipelines", ALL),
    Case("GET", "/api/v1/pipelines/{name}", "/api/v1/pipelines/release", ALL),
    Case(
        "GET",
        "/api/v1/pipelines/{name}/diff",
        "/api/v1/pipelines/release/diff",
        ALL,
        params={"from_revision": 1},
    ),
    Case(
        "POST",
        "/api/v1/pipelines/{name}/runs",
        "/api/v1/pipelines/release/runs",
        RUN,
        {"reference": "fraud-a/2"},
    ),
    Case("GET", "/api/v1/runs", "/api/v1/runs", ALL),
    Case("GET", "/api/v1/runs/{run_id}", "/api/v1/runs/1", ALL),
    Case("GET", "/api/v1/runs/{run_id}/logs", "/api/v1/runs/1/logs", ALL),
    Case("GET", "/api/v1/approvals", "/api/v1/approvals", ALL),
    Case(
        "POST",
        "/api/v1/approvals/{request_id}/approve",
        "/api/v1/approvals/1/approve",
        APPROVE,
        {"comment": "ok"},
    ),
    Case(
        "POST",
        "/api/v1/approvals/{request_id}/reject",
        "/api/v1/approvals/1/reject",
        APPROVE,
        {"comment": "no"},
    ),
    Case("POST", "/api/v1/runs/{run_id}/cancel", "/api/v1/runs/1/cancel", RUN, {"reason": "x"}),
    Case("POST", "/api/v1/runs/{run_id}/retry", "/api/v1/runs/1/retry", RUN, {}),
    Case("GET", "/api/v1/rules", "/api/v1/rules", ALL),
    Case(
        "POST",
        "/api/v1/rules",
        "/api/v1/rules",
        ADMIN,
        {"name": "r-new", "pattern": {"type": ["group.created"]}, "targets": [{"type": "log"}]},
    ),
    Case("GET", "/api/v1/rules/{name}", "/api/v1/rules/hook", ALL),
    Case("PATCH", "/api/v1/rules/{name}", "/api/v1/rules/hook", ADMIN, {"description": "d"}),
    Case("POST", "/api/v1/rules/{name}/disable", "/api/v1/rules/hook/disable", ADMIN),
    Case("POST", "/api/v1/rules/{name}/enable", "/api/v1/rules/hook/enable", ADMIN),
    Case(
        "POST",
        "/api/v1/rules/{name}/test",
        "/api/v1/rules/hook/test",
        ALL,
        {"event": {"type": "version.created", "data": {"group": "fraud-a"}}},
    ),
    Case(
        "POST", "/api/v1/rules/{name}/replay", "/api/v1/rules/hook/replay", ADMIN, {"since": "1h"}
    ),
    Case("DELETE", "/api/v1/rules/{name}", "/api/v1/rules/doomed", ADMIN),
    Case("GET", "/api/v1/events/{event_id}", "/api/v1/events/{event_id}", ALL),
    Case("GET", "/api/v1/deliveries", "/api/v1/deliveries", ALL, params={"status": "dead"}),
    Case("POST", "/api/v1/deliveries/redrive", "/api/v1/deliveries/redrive", ADMIN, {"ids": [1]}),
]

#: routes anyone may call without a token (operations endpoints and the API description)
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),  # Swagger UI from the package (its assets: tests/api/test_docs_ui.py)
}


@dataclass
class World:
    url: str
    registry: Registry
    tokens: dict[str, str]
    spare_token: str
    event_id: str


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    home, blobs = tmp_path / "home", f"file://{tmp_path / 'blobs'}"
    registry = Registry.open(home, db_url=db_url, blobs_url=blobs)
    for name in (*ROLES, "registrant"):
        registry.create_principal(name)
        registry.grant(name, "contributor" if name == "registrant" else name, groups="*")
    tokens = {role: registry.create_token(role, expires="1d").secret for role in ROLES}
    past = Registry.open(
        home, db_url=db_url, blobs_url=blobs, clock=lambda: datetime.now(UTC) - timedelta(days=3)
    )
    tokens["expired"] = past.create_token("admin", expires="1d").secret
    past.close()
    revoked = registry.create_token("admin", expires="1d")
    registry.revoke_token(revoked.token.id)
    tokens["revoked"] = revoked.secret
    spare = registry.create_token("registrant", expires="1d").token.id
    registry.create_group("fraud-a")
    registry.create_group("fraud-b")
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    (artifact / "model.bin").write_bytes(BLOB)
    registrant = registry.acting_as("registrant")
    registrant.register_version("fraud-a", artifact)
    registrant.register_version("fraud-a", artifact)
    registry.set_alias("fraud-a", "champion", 1)
    registry.approve_version("fraud-a/1", comment="ok")  # production requires Approved
    # … and by default a clean scan and the registry's signature; this world is about roles
    registry.set_policy("fraud-a", "production", ["approved"])
    registry.set_alias("fraud-a", "production", 1)
    registry.apply_pipeline(
        "name: release\nstages:\n"
        "  - {name: review, uses: approval, approvers: {role: approver, count: 1}}\n"
    )
    registry.start_run("release", "fraud-a/1")
    RunWorker(registry.run_engine(), scratch=tmp_path / "scratch").step()  # opens request 1
    registry.create_rule("hook", {"type": [{"prefix": "version."}]}, [{"type": "log"}])
    registry.create_rule("doomed", {"type": ["alias.set"]}, [{"type": "log"}])
    registry.add_trusted_key("fraud-a", "signer", public_pem(SIGNER))
    registry.add_trusted_key("fraud-a", "doomed-signer", public_pem(OTHER_SIGNER))
    event_id = registry.list_events(limit=1)[0]["id"]
    registry.checkpoint_audit()
    with running_server(registry) as url:
        yield World(url, registry, tokens, spare, event_id)
    registry.close()


def call(world: World, case: Case, who: str) -> httpx.Response:
    headers = {} if who == "none" else {"Authorization": f"Bearer {world.tokens[who]}"}
    return httpx.request(
        case.method,
        world.url + case.path.format(spare_token=world.spare_token, event_id=world.event_id),
        headers=headers,
        json=case.json,
        params=case.params,
        content=case.content,
    )


def newest_denial(registry: Registry) -> int:
    entries = registry.audit_log(outcome="denied", limit=1)
    return entries[0].seq if entries else 0


def test_every_route_is_in_the_matrix(world: World) -> None:
    app = create_app(world.registry)
    declared = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    covered = {(c.method, c.template) for c in CASES} | PUBLIC
    assert declared - covered == set(), "routes missing from the authorization matrix"
    stale = {(c.method, c.template) for c in CASES} - declared
    assert stale == set(), "matrix rows for routes that do not exist"
    for method, path in PUBLIC:
        assert httpx.request(method, world.url + path).status_code == 200, path


@pytest.mark.parametrize("who", [*ROLES, *BAD_TOKENS])
def test_authorization_matrix(world: World, who: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="modelyard.access")
    seen: list[str] = []
    for case in CASES:
        before = newest_denial(world.registry)
        response = call(world, case, who)
        label = f"{who} {case.method} {case.path}: {response.status_code} {response.text[:200]}"
        if who in BAD_TOKENS:
            assert response.status_code == 401, label
            assert response.headers["www-authenticate"] == "Bearer"
        elif who in case.allowed:
            assert response.status_code not in (401, 403), label
            assert response.status_code < 500, label
        else:
            assert response.status_code == 403, label
            assert response.json()["error"]["code"] == "permission_denied", label
        if response.status_code in (401, 403):
            denial = world.registry.audit_log(outcome="denied", limit=1)[0]
            assert denial.seq > before, f"{label}: the denial was not audited"
            assert denial.actor == ("anonymous" if who in BAD_TOKENS else who), label
            assert denial.details["request"]["path"] == case.path.format(
                spare_token=world.spare_token, event_id=world.event_id
            ), label
        if not (case.method == "POST" and case.template == "/api/v1/tokens"):
            seen.append(response.text)
    secrets = [t.split("_", 2)[2] for t in world.tokens.values()]
    export = "".join(world.registry.iter_audit_export())
    for secret in secrets:
        assert secret not in export, "a token secret is in the audit log"
        assert all(secret not in text for text in seen), "a token secret is in a response"
        assert secret not in caplog.text, "a token secret is in the logs"
    assert world.registry.verify_audit().ok


def test_bindings_are_scoped_to_their_group_pattern(world: World) -> None:
    world.registry.create_principal("fraudster")
    world.registry.grant("fraudster", "contributor", groups="fraud-*")
    world.registry.create_group("churn")
    token = world.registry.create_token("fraudster", expires="1d").secret
    headers = {"Authorization": f"Bearer {token}"}

    def status(method: str, path: str, **kwargs: Any) -> int:
        return httpx.request(method, world.url + path, headers=headers, **kwargs).status_code

    assert status("GET", "/api/v1/groups/fraud-a") == 200
    assert status("GET", "/api/v1/groups/churn") == 403
    assert status("POST", "/api/v1/groups", json={"name": "fraud-c"}) == 201
    assert status("POST", "/api/v1/groups", json={"name": "churn-2"}) == 403
    assert status("GET", "/api/v1/audit") == 403  # the whole log needs a binding on '*'
    listed = httpx.get(world.url + "/api/v1/groups", headers=headers).json()["items"]
    assert {g["name"] for g in listed} == {"fraud-a", "fraud-b", "fraud-c"}
    found = httpx.get(world.url + "/api/v1/versions", headers=headers).json()["items"]
    assert {v["group"] for v in found} == {"fraud-a"}
