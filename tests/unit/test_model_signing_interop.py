"""modelyard and OpenSSF model-signing (the ``model_signing`` package and its CLI) agree.

- A signature the ``model_signing`` CLI makes over a directory verifies in modelyard and pins
  the digests modelyard registers for that directory.
- modelyard's manifest digest is model-signing's root digest for the same directory.
- The registry's signatures are model-signing bundles in every respect but one: the key. The
  ``model_signing`` CLI parses them, and their payload expands to the manifest it computes for
  a downloaded copy, but its key verifier accepts only EC keys (secp256r1/384/521), so it
  cannot check the registry's Ed25519 signature (docs/security.md says so; the last test
  notices if that changes).
"""

from __future__ import annotations

import json
from pathlib import Path

import model_signing.signing as signing_api
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf import json_format
from model_signing import hashing
from model_signing._signing import sign_sigstore_pb, signing

from modelyard import Registry, ValidationError
from modelyard.domain.signatures import PAYLOAD_TYPE, pae, parse_bundle, parse_statement
from modelyard.domain.signing_keys import load_registry_key
from tests.signers import cli_sign, cli_verify, ec_keypair

FILES = {
    "model.safetensors": b"\x00" * 4096,
    "config.json": b'{"layers": 12}',
    "tokenizer/vocab.txt": b"a\nb\n",
    "a-b/c": b"c",
    "Z": b"z",
}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    for name, content in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    opened = Registry.open(tmp_path / "store")
    opened.create_group("g")
    return opened


def root_digest(manifest: object) -> str:
    """model-signing's subject digest of a manifest (what it would sign)."""
    payload = signing.Payload(manifest)  # type: ignore[arg-type]
    statement = json_format.MessageToDict(payload.statement.pb)
    return str(statement["subject"][0]["digest"]["sha256"])


def test_the_manifest_digest_is_model_signings_root_digest(registry: Registry, model: Path) -> None:
    computed = hashing.Config().hash(model)
    version = registry.register_version("g", model)
    assert version.manifest_digest == "sha256:" + root_digest(computed)


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()], ids=["p256", "p384"])
def test_a_cli_signature_verifies_in_modelyard_and_pins_the_same_digests(
    registry: Registry, model: Path, tmp_path: Path, curve: ec.EllipticCurve
) -> None:
    private, public = ec_keypair(tmp_path, "alice", curve)
    cli_sign(model, private, tmp_path / "model.sig")
    registry.add_trusted_key("g", "alice", public.read_text())
    version = registry.register_version("g", model, signature=tmp_path / "model.sig")
    _, alice = registry.version_signatures("g/1")
    assert (alice.signer, alice.valid) == ("alice", True)
    signed = parse_statement(parse_bundle(alice.bundle).payload)
    assert signed.files == {f.path: f.sha256 for f in version.manifest.files}
    assert signed.digest == version.manifest_digest


def test_a_cli_signature_made_with_shards_or_blake2_is_refused(
    registry: Registry, model: Path, tmp_path: Path
) -> None:
    """modelyard pins whole files by sha256; other serializations cannot be compared."""
    private, public = ec_keypair(tmp_path, "alice")
    registry.add_trusted_key("g", "alice", public.read_text())
    signer = signing_config(private)
    for name, config, message in (
        ("shards", hashing.Config().use_shard_serialization(), "method 'shards'"),
        ("blake2", hashing.Config().use_file_serialization(hashing_algorithm="blake2"), "blake2"),
    ):
        signer.set_hashing_config(config).sign(model, tmp_path / f"{name}.sig")
        with pytest.raises(ValidationError, match=message):
            registry.register_version("g", model, signature=tmp_path / f"{name}.sig")
    assert registry.list_versions("g").items == []


def signing_config(private_key: Path) -> signing_api.Config:
    return signing_api.Config().use_elliptic_key_signer(private_key=private_key)


def test_sign_with_makes_what_the_model_signing_cli_verifies(
    registry: Registry, model: Path, tmp_path: Path
) -> None:
    private, public = ec_keypair(tmp_path, "alice")
    registry.add_trusted_key("g", "alice", public.read_text())
    registry.register_version("g", model, sign_with=private)
    _, alice = registry.version_signatures("g/1")
    (tmp_path / "alice.sig").write_text(json.dumps(alice.bundle))
    registry.download("g/1", tmp_path / "copy")
    done = cli_verify(tmp_path / "copy", public, tmp_path / "alice.sig")
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "copy" / "config.json").write_bytes(b'{"layers": 13}')
    assert cli_verify(tmp_path / "copy", public, tmp_path / "alice.sig").returncode != 0


def test_the_registry_signature_is_a_model_signing_bundle_but_ed25519(
    registry: Registry, model: Path, tmp_path: Path
) -> None:
    registry.register_version("g", model)
    (signed,) = registry.version_signatures("g/1")
    (tmp_path / "registry.sig").write_text(json.dumps(signed.bundle))
    (tmp_path / "registry.pub").write_text(registry.signing_public_key())
    registry.download("g/1", tmp_path / "copy")

    # model_signing reads the bundle and expands its payload to the manifest it computes
    bundle = sign_sigstore_pb.Signature.read(tmp_path / "registry.sig").bundle
    assert bundle.dsse_envelope.payload_type == PAYLOAD_TYPE
    expected = signing.dsse_payload_to_manifest(json.loads(bundle.dsse_envelope.payload))
    assert expected == hashing.Config().hash(tmp_path / "copy")
    # the signature is over model_signing's own DSSE pre-authentication encoding
    key = load_registry_key(registry.signing_public_key())
    envelope = parse_bundle(signed.bundle)
    assert sign_sigstore_pb.pae(envelope.payload) == pae(PAYLOAD_TYPE, envelope.payload)
    key.verify(envelope.signature, sign_sigstore_pb.pae(envelope.payload))

    # … but its key verifier only takes EC keys: an Ed25519 key has no curve
    done = cli_verify(tmp_path / "copy", tmp_path / "registry.pub", tmp_path / "registry.sig")
    assert done.returncode != 0
    assert "has no attribute 'curve'" in done.stdout + done.stderr
