"""Signed manifests and user signatures, on every backend and through both APIs.

The registry signs each version as it is registered; downloads check that signature before a
byte is written; users attach OpenSSF model-signing signatures that only count when a key
the group trusts made them over exactly the version's files.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from modelyard import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from modelyard.transfer.local_copies import verify_signed_directory
from tests.conftest import MakeArtifact, OpenRegistry
from tests.signers import cli_sign, ec_keypair, ed25519_public_key


def statement_of(bundle: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    return payload


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "keys").mkdir()
    alice_priv, alice_pub = ec_keypair(tmp_path / "keys", "alice")
    mallory_priv, mallory_pub = ec_keypair(tmp_path / "keys", "mallory")
    return {
        "alice.priv": alice_priv,
        "alice.pub": alice_pub,
        "mallory.priv": mallory_priv,
        "mallory.pub": mallory_pub,
    }


FILES = {"model.bin": b"weights", "conf/params.json": b'{"depth": 6}'}


def test_registration_signs_the_manifest(registry: Any, make_artifact: MakeArtifact) -> None:
    registry.create_group("g")
    version = registry.register_version("g", make_artifact(FILES))
    (signature,) = registry.version_signatures("g/1")
    assert (signature.kind, signature.signer, signature.valid) == ("registry", "registry", True)
    assert signature.created_by == "local"
    statement = statement_of(signature.bundle)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://model_signing/signature/v1.0"
    assert statement["subject"] == [
        {"name": "g/1", "digest": {"sha256": version.manifest_digest.removeprefix("sha256:")}}
    ]
    predicate = statement["predicate"]
    assert predicate["serialization"]["method"] == "files"
    assert [(r["name"], r["digest"], r["size"]) for r in predicate["resources"]] == [
        (f.path, f.sha256, f.size) for f in version.manifest.files
    ]
    assert predicate["modelyard"]["registered_by"] == "local"
    assert predicate["modelyard"]["version"] == 1
    assert predicate["modelyard"]["manifest_digest"] == version.manifest_digest
    assert predicate["modelyard"]["registered_at"].startswith(f"{version.created_at:%Y-%m-%d}")
    assert signature.key_id in registry.signing_public_key() or len(signature.key_id) == 64


def test_a_download_verifies_offline_with_the_public_key(
    registry: Any, make_artifact: MakeArtifact, tmp_path: Path
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact(FILES))
    registry.download("g/1", tmp_path / "out")
    (signature,) = registry.version_signatures("g/1")
    pem = registry.signing_public_key()
    check = verify_signed_directory
    assert check("g/1", tmp_path / "out", signature=signature.bundle, public_key=pem) == []
    (tmp_path / "out" / "model.bin").write_bytes(b"weightz")
    assert check("g/1", tmp_path / "out", signature=signature.bundle, public_key=pem) == [
        "model.bin: content differs from the registered sha256"
    ]
    other = ed25519_public_key(tmp_path / "other.pub").read_text()
    with pytest.raises(Exception, match="not by the given registry key"):
        check("g/1", tmp_path / "out", signature=signature.bundle, public_key=other)


def test_only_admins_manage_trusted_keys_and_it_is_audited(
    open_registry: OpenRegistry, keys: dict[str, Path]
) -> None:
    admin = open_registry()
    admin.create_group("g")
    pem = keys["alice.pub"].read_text()
    member = open_registry(actor="bob")  # contributor, approver, deployer
    with pytest.raises(PermissionDeniedError):
        member.add_trusted_key("g", "alice", pem)
    added = admin.add_trusted_key("g", "alice", pem)
    assert (added.name, added.algorithm, len(added.key_id)) == ("alice", "ecdsa-p256", 64)
    assert [k.name for k in member.list_trusted_keys("g")] == ["alice"]
    with pytest.raises(ConflictError, match="already trusts"):
        admin.add_trusted_key("g", "alice-again", pem)
    with pytest.raises(PermissionDeniedError):
        member.remove_trusted_key("g", "alice")
    assert admin.remove_trusted_key("g", "alice").key_id == added.key_id
    assert admin.list_trusted_keys("g") == []
    with pytest.raises(NotFoundError, match="no key named 'alice'"):
        admin.remove_trusted_key("g", "alice")
    actions = [e.action for e in admin.audit_log(resource="g", outcome="allowed", limit=10)]
    assert actions[:2] == ["group.untrust_key", "group.trust_key"]
    denied = admin.audit_log(outcome="denied", actor="bob", limit=5)
    assert {e.action for e in denied} == {"group.configure"}
    events = admin.list_events(type="group.updated", group="g")
    assert events[0]["data"]["changes"] == {"trusted_keys": []}
    assert events[0]["data"]["previous"] == {"trusted_keys": ["alice"]}


@pytest.mark.parametrize(
    ("public_key", "message"),
    [
        ("not a key", "not a PEM public key"),
        ("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n", "private key"),
    ],
)
def test_a_bad_trusted_key_is_refused_and_changes_nothing(
    registry: Any, public_key: str, message: str
) -> None:
    registry.create_group("g")
    with pytest.raises(ValidationError, match=message) as raised:
        registry.add_trusted_key("g", "alice", public_key)
    assert raised.value.field == "public_key"
    assert registry.list_trusted_keys("g") == []


def test_an_ed25519_key_cannot_be_trusted(registry: Any, tmp_path: Path) -> None:
    registry.create_group("g")
    pem = ed25519_public_key(tmp_path / "ed.pub").read_text()
    with pytest.raises(ValidationError, match="EC P-256, P-384 or P-521"):
        registry.add_trusted_key("g", "alice", pem)
    with pytest.raises(ValidationError, match="not a valid key name"):
        registry.add_trusted_key("g", "Alice Smith", pem)


def test_a_model_signing_signature_made_by_the_cli_is_attached(
    registry: Any, make_artifact: MakeArtifact, keys: dict[str, Path], tmp_path: Path
) -> None:
    model = make_artifact(FILES)
    cli_sign(model, keys["alice.priv"], tmp_path / "model.sig")
    registry.create_group("g")
    registry.add_trusted_key("g", "alice", keys["alice.pub"].read_text())
    version = registry.register_version("g", model, signature=tmp_path / "model.sig")
    registry_signature, alice = registry.version_signatures("g/1")
    assert registry_signature.kind == "registry"
    assert (alice.kind, alice.signer, alice.valid, alice.problem) == (
        "model-signing",
        "alice",
        True,
        None,
    )
    # it pins the same digests: model_signing's subject digest is the manifest digest
    subject = statement_of(alice.bundle)["subject"][0]["digest"]["sha256"]
    assert "sha256:" + subject == version.manifest_digest
    event = registry.list_events(type="version.signed", group="g")[0]
    assert event["data"]["signature"] == {
        "kind": "model-signing",
        "signer": "alice",
        "key_id": alice.key_id,
    }
    assert "version.sign" in [e.action for e in registry.audit_log(resource="g/1", limit=20)]


def test_an_untrusted_signer_is_refused_before_anything_is_registered(
    registry: Any, make_artifact: MakeArtifact, keys: dict[str, Path], tmp_path: Path
) -> None:
    model = make_artifact(FILES)
    cli_sign(model, keys["mallory.priv"], tmp_path / "model.sig")
    registry.create_group("g")
    with pytest.raises(ValidationError, match="trusts no signing keys"):
        registry.register_version("g", model, signature=tmp_path / "model.sig")
    registry.add_trusted_key("g", "alice", keys["alice.pub"].read_text())
    with pytest.raises(ValidationError, match="which group 'g' does not trust") as raised:
        registry.register_version("g", model, signature=tmp_path / "model.sig")
    assert raised.value.field == "signature"
    assert registry.list_versions("g").items == []
    assert registry.get_group("g").latest_version == 0
    digests = {hashlib.sha256(content).hexdigest() for content in FILES.values()}
    assert registry.missing_blobs(digests) == digests  # refused before anything was uploaded


def test_a_signature_of_other_files_is_refused_naming_the_file(
    registry: Any, make_artifact: MakeArtifact, keys: dict[str, Path], tmp_path: Path
) -> None:
    signed = make_artifact(FILES)
    cli_sign(signed, keys["alice.priv"], tmp_path / "model.sig")
    registry.create_group("g")
    registry.add_trusted_key("g", "alice", keys["alice.pub"].read_text())
    changed = make_artifact({**FILES, "model.bin": b"weightz"})
    with pytest.raises(ValidationError, match=r"model\.bin: signed with sha256 .*, but g/1 has"):
        registry.register_version("g", changed, signature=tmp_path / "model.sig")
    extra = make_artifact({**FILES, "notes.txt": b"x"})
    with pytest.raises(ValidationError, match="notes.txt: a file of g/1 the signature does not"):
        registry.register_version("g", extra, signature=tmp_path / "model.sig")
    assert registry.list_versions("g").items == []
    # a signature swapped in from another version is refused on attach too
    registry.register_version("g", changed)
    with pytest.raises(ValidationError, match="model.bin: signed with sha256"):
        registry.sign_version("g/1", signature=tmp_path / "model.sig")
    assert [s.kind for s in registry.version_signatures("g/1")] == ["registry"]


def test_sign_with_signs_client_side_and_a_removed_key_stops_counting(
    registry: Any, make_artifact: MakeArtifact, keys: dict[str, Path]
) -> None:
    registry.create_group("g")
    registry.add_trusted_key("g", "alice", keys["alice.pub"].read_text())
    registry.register_version("g", make_artifact(FILES), sign_with=keys["alice.priv"])
    before = registry.register_version("g", make_artifact({"other.bin": b"2"}))
    recorded = registry.sign_version("g@latest", sign_with=keys["alice.priv"])
    assert (recorded.reference, recorded.signer, recorded.valid) == ("g/2", "alice", True)
    assert registry.get_version("g/2") == before  # signing changes nothing of the version
    with pytest.raises(ConflictError, match="g/2 already has a model-signing signature"):
        registry.sign_version("g/2", sign_with=keys["alice.priv"])
    with pytest.raises(ValidationError, match="does not trust"):
        registry.sign_version("g/2", sign_with=keys["mallory.priv"])
    registry.remove_trusted_key("g", "alice")
    _, alice = registry.version_signatures("g/1")
    assert not alice.valid
    assert alice.problem == "key 'alice' is no longer trusted by group 'g'"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "signature"),
        ({"signature": "not json"}, "signature"),
        ({"signature": {"mediaType": "x"}}, "signature"),
        ({"signature": {"mediaType": "x"}, "sign_with": "k"}, "signature"),
        ({"sign_with": "/nonexistent/key.priv"}, "sign_with"),
    ],
)
def test_bad_signature_input_is_refused(
    registry: Any, make_artifact: MakeArtifact, kwargs: dict[str, Any], field: str
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact())
    with pytest.raises(ValidationError) as raised:
        registry.sign_version("g/1", **kwargs)
    assert raised.value.field == field
    assert len(registry.version_signatures("g/1")) == 1
