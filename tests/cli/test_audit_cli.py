"""``modelyard audit …``: the log, tamper detection, exports and proofs verified offline."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from modelyard.domain.audit import public_key_pem


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model_dir"
    root.mkdir()
    (root / "model.bin").write_bytes(b"weights")
    return root


def one_error_line(result: Result) -> str:
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    return result.stderr


def test_audit_log_filters(run, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "fraud-detector")
    run("group", "create", "churn")
    run("version", "register", "fraud-detector", str(model_dir))
    run("version", "approve", "fraud-detector/1", code=4)  # separation of duties: denied

    entries = json.loads(run("audit", "log", "--json").output)
    assert [e["seq"] for e in entries] == [5, 4, 3, 2, 1]
    assert entries[-1]["action"] == "principal.bootstrap"
    assert set(entries[0]) == {"seq", "at", "actor", "action", "resource", "outcome", "details"}

    def actions(*args: str) -> list[str]:
        return [e["action"] for e in json.loads(run("audit", "log", *args, "--json").output)]

    assert actions("--group", "fraud-detector") == [
        "version.approve",
        "version.create",
        "group.create",
    ]
    assert actions("--resource", "churn") == ["group.create"]
    assert actions("--outcome", "denied") == ["version.approve"]
    assert actions("--actor", "modelyard") == ["principal.bootstrap"]
    assert actions("--since", "1h", "--limit", "2") == ["version.approve", "version.create"]
    assert actions("--since", "2000-01-01T00:00:00+00:00", "--actor", "nobody") == []
    table = run("audit", "log", "--outcome", "denied").output
    assert "fraud-detector/1" in table and "denied" in table
    run("audit", "log", "--outcome", "maybe", code=2)
    assert "since" in one_error_line(run("audit", "log", "--since", "yesterday", code=2))


def test_verify_names_the_entry_edited_in_the_database(run, home: Path) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "g")
    run("group", "update", "g", "--tag", "a=1")
    out = run("audit", "verify").output
    assert out == "ok: the audit log verified: 3 entries, 0 signed checkpoints\n"
    report = json.loads(run("audit", "verify", "--json").output)
    assert report["ok"] is True and report["entries"] == 3

    with sqlite3.connect(home / "registry.db") as db:
        db.execute("UPDATE audit_log SET actor='mallory' WHERE seq=2")
    failed = one_error_line(run("audit", "verify", code=1))
    assert "entry 2 was edited" in failed
    report = json.loads(run("audit", "verify", "--json", code=1).stdout)
    assert (report["ok"], report["bad_seq"]) == (False, 2)


def test_verify_finds_a_deleted_entry_against_a_checkpoint(run, home: Path) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "g")
    run("group", "create", "h")
    signed = json.loads(run("audit", "checkpoint", "--json").output)
    assert signed["size"] == 3
    assert "1 signed checkpoints" in run("audit", "verify").output
    with sqlite3.connect(home / "registry.db") as db:
        db.execute("DELETE FROM audit_log WHERE seq=3")
    assert "entry 3 is missing" in one_error_line(run("audit", "verify", code=1))


def test_export_is_verified_offline(run, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "g")
    run("group", "update", "g", "--description", "x")
    export = tmp_path / "audit.jsonl"
    assert run("audit", "export", str(export)).output == f"exported 3 entries to {export}\n"
    run("audit", "public-key", "--output", "audit.pem")
    assert run("audit", "public-key").output == (tmp_path / "audit.pem").read_text()

    elsewhere = tmp_path / "no-store-here"  # verifying a file opens no store
    out = run("audit", "verify", "--file", str(export), store=elsewhere).output
    assert out.startswith(f"ok: {export} verified: 3 entries, 1 signed checkpoints\n")
    assert "public key inside the file" in out
    out = run(
        "audit", "verify", "--file", str(export), "--public-key", "audit.pem", store=elsewhere
    ).output
    assert out == f"ok: {export} verified: 3 entries, 1 signed checkpoints\n"
    assert json.loads(
        run("audit", "verify", "--file", str(export), "--json", store=elsewhere).output
    )["ok"]
    assert not elsewhere.exists()

    other = tmp_path / "other.pem"
    other.write_text(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    wrong_key = run("audit", "verify", "--file", str(export), "--public-key", str(other), code=1)
    assert "different key" in one_error_line(wrong_key)
    assert "not the trusted key" in one_error_line(
        run("audit", "verify", "--public-key", str(other), code=1)
    )
    run("audit", "verify", "--public-key", "audit.pem")

    lines = export.read_text().splitlines(keepends=True)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("".join(lines).replace('"actor": "local"', '"actor": "mallory"', 1))
    failed = run("audit", "verify", "--file", str(tampered), store=elsewhere, code=1)
    assert "entry 2 was edited" in one_error_line(failed)
    tampered.write_text("".join(line for line in lines if '"seq": 2,' not in line))
    assert "entry 2 is missing" in one_error_line(
        run("audit", "verify", "--file", str(tampered), store=elsewhere, code=1)
    )
    tampered.write_text("not json\n")
    run("audit", "verify", "--file", str(tampered), store=elsewhere, code=1)
    not_a_key = tmp_path / "bad.pem"
    not_a_key.write_text("hello")
    run("audit", "verify", "--file", str(export), "--public-key", str(not_a_key), code=2)
    assert not elsewhere.exists()


def test_inclusion_proof_round_trip_and_tampering(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "g")
    run("group", "create", "h")
    bundle = json.loads(run("audit", "proof", "2").output)
    assert bundle["kind"] == "inclusion" and bundle["entry"]["seq"] == 2
    assert bundle["checkpoint"]["size"] == 3

    out = run("audit", "proof", "2", "--output", "proof.json").output
    assert out == "wrote the proof of entry 2 in the checkpoint at size 3 to proof.json\n"
    elsewhere = tmp_path / "no-store-here"
    verified = run("audit", "verify-proof", "proof.json", store=elsewhere).output
    assert verified.startswith("ok: entry 2 is included in the signed checkpoint at size 3")
    assert "public key inside the bundle" in verified
    run("audit", "public-key", "--output", "audit.pem")
    verified = run("audit", "verify-proof", "proof.json", "--public-key", "audit.pem").output
    assert "inside the bundle" not in verified

    proof = json.loads((tmp_path / "proof.json").read_text())
    tampered = tmp_path / "tampered.json"
    proof["entry"]["actor"] = "mallory"
    tampered.write_text(json.dumps(proof))
    failed = run("audit", "verify-proof", str(tampered), store=elsewhere, code=1)
    assert "entry 2 is not included in the checkpoint at size 3" in one_error_line(failed)

    proof = json.loads((tmp_path / "proof.json").read_text())
    proof["checkpoint"]["root"] = "00" * 32
    tampered.write_text(json.dumps(proof))
    assert "signature" in one_error_line(
        run("audit", "verify-proof", str(tampered), "--public-key", "audit.pem", code=1)
    )

    other = tmp_path / "other.pem"
    other.write_text(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    assert "signature" in one_error_line(
        run("audit", "verify-proof", "proof.json", "--public-key", str(other), code=1)
    )
    tampered.write_text("{]")
    one_error_line(run("audit", "verify-proof", str(tampered), code=1))
    tampered.write_text(json.dumps({"kind": "inclusion"}))
    one_error_line(run("audit", "verify-proof", str(tampered), code=1))
    assert not elsewhere.exists()

    assert "does not exist" in one_error_line(run("audit", "proof", "99", code=3))
    run("audit", "proof", "0", code=2)


def test_checkpoints_and_consistency_proofs(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "g")
    first = run("audit", "checkpoint").output
    assert first.startswith("checkpoint at size 2: root ")
    assert run("audit", "checkpoint").output.startswith("checkpoint at size 2:")  # no-op
    run("group", "create", "h")
    run("group", "update", "h", "--tag", "a=1")
    second = json.loads(run("audit", "checkpoint", "--json").output)
    assert second["size"] == 4

    bundle = json.loads(run("audit", "consistency", "2", "4").output)
    assert (bundle["kind"], bundle["old"]["size"], bundle["new"]["size"]) == ("consistency", 2, 4)
    out = run("audit", "consistency", "2", "4", "--output", "consistency.json").output
    assert out == "wrote the consistency proof of sizes 2 and 4 to consistency.json\n"
    verified = run("audit", "verify-proof", "consistency.json").output
    assert verified.startswith("ok: the signed checkpoint at size 4 extends the one at size 2")

    bundle["new"]["root"] = bundle["old"]["root"]
    (tmp_path / "forked.json").write_text(json.dumps(bundle))
    one_error_line(run("audit", "verify-proof", "forked.json", code=1))
    assert "no signed checkpoint at size 3" in one_error_line(
        run("audit", "consistency", "2", "3", code=3)
    )
    run("audit", "consistency", "4", "2", code=2)
