"""``principal``, ``token``, ``access``, ``whoami`` and the approval rules, as a user types them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model_dir"
    root.mkdir()
    (root / "model.bin").write_bytes(b"weights")
    return root


def test_whoami_is_the_local_admin(run) -> None:  # type: ignore[no-untyped-def]
    me = json.loads(run("whoami", "--json").output)
    assert me["principal"] == "local"
    assert [(b["role"], b["groups"]) for b in me["bindings"]] == [("admin", "*")]
    out = run("whoami").output
    assert "local" in out and "admin on '*'" in out


def test_principals_are_created_and_listed(run) -> None:  # type: ignore[no-untyped-def]
    assert run("principal", "create", "alice").output == "created principal alice (user)\n"
    created = json.loads(run("principal", "create", "ci-bot", "--service", "--json").output)
    assert (created["name"], created["kind"], created["created_by"]) == (
        "ci-bot",
        "service",
        "local",
    )
    listed = json.loads(run("principal", "list", "--json").output)["items"]
    assert {p["name"]: p["kind"] for p in listed} == {
        "alice": "user",
        "ci-bot": "service",
        "local": "user",
    }
    assert "ci-bot" in run("principal", "list").output
    assert "already exists" in run("principal", "create", "alice", code=5).stderr
    assert run("principal", "create", "Bad Name!", code=2).stderr.startswith("error: ")


def test_grant_check_revoke_round_trip(run) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "fraud-detector")
    run("group", "create", "churn")
    run("principal", "create", "alice")

    denied = run("access", "check", "alice", "read", "fraud-detector", code=4)
    assert denied.output.startswith("denied: ") and "default deny" in denied.output

    out = run("access", "grant", "alice", "viewer", "--groups", "fraud-*").output
    assert out == "granted viewer on 'fraud-*' to alice\n"
    allowed = run("access", "check", "alice", "read", "fraud-detector").output
    assert allowed == "allowed: viewer on 'fraud-*' grants version.read\n"
    decision = json.loads(
        run("access", "check", "alice", "version.read", "fraud-detector/1", "--json").output
    )
    assert decision["allowed"] is True
    assert decision["binding"]["groups"] == "fraud-*"
    other = run("access", "check", "alice", "read", "churn", code=4)
    assert "holds viewer on 'fraud-*'" in other.output
    denied_json = json.loads(
        run("access", "check", "alice", "approve", "fraud-detector", "--json", code=4).output
    )
    assert denied_json["allowed"] is False and denied_json["action"] == "version.approve"

    bindings = json.loads(run("access", "list", "--principal", "alice", "--json").output)
    assert [(b["role"], b["groups"]) for b in bindings] == [("viewer", "fraud-*")]
    everyone = run("access", "list").output
    assert "alice" in everyone and "local" in everyone
    assert (
        "already has"
        in run("access", "grant", "alice", "viewer", "--groups", "fraud-*", code=5).stderr
    )

    out = run("access", "revoke", "alice", "viewer", "--groups", "fraud-*").output
    assert out == "revoked viewer on 'fraud-*' from alice\n"
    run("access", "check", "alice", "read", "fraud-detector", code=4)
    assert json.loads(run("access", "list", "--principal", "alice", "--json").output) == []
    run("access", "revoke", "alice", "viewer", "--groups", "fraud-*", code=3)

    actions = [e["action"] for e in json.loads(run("audit", "log", "--json").output)]
    assert actions[:2] == ["access.revoke", "access.grant"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["access", "grant", "alice", "boss"], 2, "role: 'boss' is not one of viewer"),
        (["access", "grant", "alice", "viewer", "--groups", "a b"], 2, "not a group pattern"),
        (["access", "grant", "bob", "viewer"], 3, "principal 'bob' does not exist"),
        (["access", "check", "bob", "read", "g"], 3, "principal 'bob' does not exist"),
        (["access", "check", "alice", "fly", "g"], 2, "action: 'fly' is not one of"),
        (["access", "check", "alice", "read", "g/1"], 4, ""),
        (["access", "check", "local", "read", "g/1"], 0, ""),
        (["access", "revoke", "alice", "admin"], 3, "has no admin binding"),
        (["token", "create", "--principal", "bob"], 3, "principal 'bob' does not exist"),
        (["token", "create", "--principal", "alice", "--expires", "5y"], 2, "longer than"),
        (["token", "revoke", "nosuchtoken1"], 3, "does not exist"),
        (["access", "check", "alice", "read"], 2, "Missing argument"),
    ],
)
def test_access_exit_codes(run, args: list[str], code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    run("principal", "create", "alice")
    result = run(*args, code=code)
    assert message in result.stderr


def test_token_secret_is_shown_once_and_never_listed(run) -> None:  # type: ignore[no-untyped-def]
    run("principal", "create", "ci-bot", "--service")
    issued = json.loads(
        run(
            "token",
            "create",
            "--principal",
            "ci-bot",
            "--expires",
            "30d",
            "--description",
            "nightly",
            "--json",
        ).output
    )
    secret = issued["token"]
    assert secret.startswith(f"my_{issued['id']}_")
    assert issued["principal"] == "ci-bot" and issued["description"] == "nightly"

    shown = run("token", "create", "--principal", "ci-bot", "--expires", "never").output
    lines = shown.splitlines()
    assert lines[0].startswith("created token ") and lines[0].endswith("(expires never)")
    second_secret = lines[1]
    assert second_secret.startswith("my_")
    assert "cannot be shown again" in lines[2]

    listed_text = run("token", "list").output
    listed = json.loads(run("token", "list", "--principal", "ci-bot", "--json").output)["items"]
    audit = run("audit", "log", "--json").output
    for text in (listed_text, json.dumps(listed), audit):
        assert secret not in text and second_secret not in text
        assert secret.split("_")[-1] not in text
    assert [t["state"] for t in listed] == ["active", "active"]
    assert all("token" not in t for t in listed)
    assert listed[0]["last_used_at"] is None
    assert "never" in listed_text and "active" in listed_text

    out = run("token", "revoke", issued["id"]).output
    assert out == f"revoked token {issued['id']} of ci-bot\n"
    states = {
        t["id"]: t["state"] for t in json.loads(run("token", "list", "--json").output)["items"]
    }
    assert states[issued["id"]] == "revoked"
    assert "revoked" in run("token", "list", "--principal", "ci-bot").output
    assert "already revoked" in run("token", "revoke", issued["id"], code=5).stderr


def test_self_approval_needs_the_group_setting(run, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "solo", "--allow-self-approval")
    run("version", "register", "solo", str(model_dir))
    assert run("version", "approve", "solo/1").output == "solo/1 is Approved\n"
    assert json.loads(run("group", "show", "solo", "--json").output)["allow_self_approval"]

    run("group", "create", "team")
    run("version", "register", "team", str(model_dir))
    denied = run("version", "approve", "team/1", "--comment", "mine", code=4)
    assert "separation of duties" in denied.stderr and denied.stderr.count("\n") == 1
    check = run("access", "check", "local", "approve", "team/1", code=4)
    assert "separation of duties" in check.output
    assert "team/1" in run("audit", "log", "--outcome", "denied").output

    run("group", "update", "team", "--allow-self-approval")
    run("access", "check", "local", "approve", "team/1")
    run("version", "approve", "team/1")
    run("version", "reject", "team/1", "--comment", "oops")
    run("group", "update", "team", "--no-allow-self-approval")
    run("version", "approve", "team/1", code=4)
    assert re.search(r"self-approval +forbidden", run("group", "show", "team").output)


def test_break_glass_approval_by_the_local_admin(run, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "g")
    run("version", "register", "g", str(model_dir))
    usage = run("version", "approve", "g/1", "--reason", "urgent", code=2)
    assert "--reason is only for --break-glass" in usage.output
    assert (
        "--break-glass needs --reason"
        in run("version", "approve", "g/1", "--break-glass", code=2).output
    )
    assert (
        "needs a reason"
        in run("version", "approve", "g/1", "--break-glass", "--reason", " ", code=2).stderr
    )
    assert json.loads(run("version", "show", "g/1", "--json").output)["approval_status"] == (
        "PendingManualApproval"
    )

    out = run(
        "version", "approve", "g/1", "--break-glass", "--reason", "incident 42", "--comment", "ok"
    ).output
    assert out == "g/1 is Approved (break-glass, audited)\n"
    entry = json.loads(run("audit", "log", "--resource", "g/1", "--limit", "1", "--json").output)
    assert entry[0]["details"]["break_glass"] == {"reason": "incident 42"}


def test_non_admins_are_bound_by_their_roles(run, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    run("principal", "create", "alice")
    run("principal", "create", "bob")
    run("access", "grant", "alice", "contributor")
    run("access", "grant", "bob", "approver", "--groups", "fraud-*")

    assert "access.admin" in run("principal", "list", actor="alice", code=4).stderr
    run("group", "create", "fraud-detector", "--allow-self-approval", actor="alice", code=4)
    run("group", "create", "fraud-detector", actor="alice")
    run("group", "update", "fraud-detector", "--allow-self-approval", actor="alice", code=4)
    run("version", "register", "fraud-detector", str(model_dir), actor="alice")
    run("version", "approve", "fraud-detector/1", actor="alice", code=4)
    run(
        "version",
        "approve",
        "fraud-detector/1",
        "--break-glass",
        "--reason",
        "x",
        actor="alice",
        code=4,
    )
    run("version", "approve", "fraud-detector/1", actor="bob")

    assert json.loads(run("whoami", "--json", actor="bob").output)["bindings"][0]["role"] == (
        "approver"
    )
    mine = json.loads(run("access", "list", "--principal", "bob", "--json", actor="bob").output)
    assert [b["groups"] for b in mine] == ["fraud-*"]
    run("access", "list", actor="bob", code=4)


def test_protected_aliases_are_set_as_a_list(run) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "g")
    shown = json.loads(run("group", "show", "g", "--json").output)
    assert shown["protected_aliases"] == ["production", "staging"]
    run("group", "update", "g", "--protected-alias", "prod", "--protected-alias", "canary")
    shown = json.loads(run("group", "show", "g", "--json").output)
    assert shown["protected_aliases"] == ["canary", "prod"]
    assert re.search(r"protected aliases +canary, prod", run("group", "show", "g").output)
    run("group", "update", "g", "--protected-alias", "")
    assert json.loads(run("group", "show", "g", "--json").output)["protected_aliases"] == []
    run("group", "update", "g", "--protected-alias", "Bad!", code=2)
