"""``modelyard signing …``, ``version sign/signature/signatures`` and ``version verify`` with
the registry's key: a security reviewer verifies a directory offline, without the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from tests.cli.conftest import Run
from tests.signers import cli_sign, ec_keypair, ed25519_public_key


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model_dir"
    (root / "sub").mkdir(parents=True)
    (root / "model.bin").write_bytes(b"weights")
    (root / "sub" / "config.json").write_bytes(b"{}")
    return root


@pytest.fixture
def reviewed(run: Run, model_dir: Path, tmp_path: Path) -> Path:
    """g/1 registered, downloaded to ./copy with its signature, and the registry's key."""
    run("group", "create", "g")
    run("version", "register", "g", str(model_dir))
    run("version", "download", "g/1", "copy", "--save-signature", "g-1.sig.json")
    run("signing", "public-key", "--output", "registry.pub")
    return tmp_path


def test_offline_verify_checks_without_the_store(run: Run, reviewed: Path) -> None:
    elsewhere = reviewed / "no-store-here"
    args = ("version", "verify", "g/1", "copy", "--public-key", "registry.pub")
    out = run(*args, "--signature", "g-1.sig.json", store=elsewhere).output
    assert "copy matches g/1, as the registry signed it (offline)" in out
    assert not elsewhere.exists()  # no store was opened (or created)
    assert "copy matches g/1" in run(*args).output  # online, with the key given out of band
    assert "copy matches g/1" in run("version", "verify", "g/1", "copy").output


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda d: (d / "model.bin").write_bytes(b"weightz"), "model.bin: content differs"),
        (lambda d: (d / "sub" / "config.json").unlink(), "sub/config.json: missing"),
        (lambda d: (d / "extra.pkl").write_bytes(b"x"), "extra.pkl: not part of g/1"),
    ],
    ids=["changed-byte", "missing-file", "extra-file"],
)
def test_offline_verify_names_the_file_that_differs(
    run: Run, reviewed: Path, tamper: object, message: str
) -> None:
    tamper(reviewed / "copy")  # type: ignore[operator]
    result = run(
        "version",
        "verify",
        "g/1",
        "copy",
        "--public-key",
        "registry.pub",
        "--signature",
        "g-1.sig.json",
        code=1,
    )
    assert message in one_error_line(result)


def test_offline_verify_refuses_a_wrong_key_reference_or_signature(
    run: Run, reviewed: Path, model_dir: Path
) -> None:
    offline = ("--public-key", "registry.pub", "--signature", "g-1.sig.json")
    ed25519_public_key(reviewed / "other.pub")
    verify = ("version", "verify", "g/1", "copy")
    wrong_key = run(*verify, "--public-key", "other.pub", "--signature", "g-1.sig.json", code=1)
    assert "not by the given registry key" in one_error_line(wrong_key)
    run("version", "register", "g", str(model_dir))  # g/2: the same files
    wrong_ref = run("version", "verify", "g/2", "copy", *offline, code=1)
    assert "the registry signature is for g/1, not for g/2" in one_error_line(wrong_ref)
    alias = run("version", "verify", "g@latest", "copy", *offline, code=2)
    assert "offline verification needs the version number" in one_error_line(alias)
    signature = json.loads((reviewed / "g-1.sig.json").read_text())
    signature["dsseEnvelope"]["signatures"][0]["sig"] = "AAAA"
    (reviewed / "forged.json").write_text(json.dumps(signature))
    forged = run(*verify, "--public-key", "registry.pub", "--signature", "forged.json", code=1)
    assert "does not verify" in one_error_line(forged)
    no_key = run("version", "verify", "g/1", "copy", "--signature", "g-1.sig.json", code=2)
    assert "--signature needs --public-key" in no_key.output + no_key.stderr


def test_version_signature_prints_what_download_saves(run: Run, reviewed: Path) -> None:
    printed = json.loads(run("version", "signature", "g/1").output)
    assert printed == json.loads((reviewed / "g-1.sig.json").read_text())
    listed = json.loads(run("version", "signatures", "g/1", "--json").output)
    assert [(s["kind"], s["valid"]) for s in listed] == [("registry", True)]
    assert "registry  registry" in run("version", "signatures", "g/1").output


def test_trusted_keys_and_user_signatures(run: Run, model_dir: Path, tmp_path: Path) -> None:
    alice_priv, _ = ec_keypair(tmp_path, "alice")
    ec_keypair(tmp_path, "mallory")
    cli_sign(model_dir, alice_priv, tmp_path / "model.sig")
    run("group", "create", "g")
    refused = run("version", "register", "g", str(model_dir), "--signature", "model.sig", code=2)
    assert "trusts no signing keys" in one_error_line(refused)
    assert "g trusts alice (ecdsa-p256" in run("signing", "trust", "g", "alice", "alice.pub").output
    denied = run("signing", "trust", "g", "eve", "alice.pub", actor="nobody", code=4)
    assert "nobody" in one_error_line(denied)
    run("version", "register", "g", str(model_dir), "--signature", "model.sig")
    run("version", "register", "g", str(model_dir))
    assert (
        "g/2: signed by alice" in run("version", "sign", "g/2", "--sign-with", "alice.priv").output
    )
    untrusted = run("version", "sign", "g/2", "--sign-with", "mallory.priv", code=2)
    assert "which group 'g' does not trust" in one_error_line(untrusted)
    usage = run("version", "sign", "g/2", code=2)
    assert "--signature FILE or --sign-with KEYFILE" in usage.output + usage.stderr
    keys = json.loads(run("signing", "trusted", "g", "--json").output)
    assert [k["name"] for k in keys] == ["alice"]
    assert "no longer trusts alice" in run("signing", "untrust", "g", "alice").output
    table = run("version", "signatures", "g/1").output
    assert "key 'alice' is no longer trusted by group 'g'" in table
