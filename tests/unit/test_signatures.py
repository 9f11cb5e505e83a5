"""The signature formats (domain/signatures.py): statements, bundles, and what is refused."""

from __future__ import annotations

import base64
import copy
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from modelyard.domain.manifest import FileEntry, build_manifest
from modelyard.domain.signatures import (
    PAYLOAD_TYPE,
    canonical_json,
    check_registry_bundle,
    make_bundle,
    pae,
    parse_bundle,
    parse_statement,
    pinning_problems,
    registry_statement,
)
from modelyard.domain.signing_keys import key_fingerprint, load_registry_key, load_trusted_key
from modelyard.errors import IntegrityError, ValidationError

MANIFEST = build_manifest(
    [
        FileEntry("model.bin", 3, hashlib.sha256(b"abc").hexdigest()),
        FileEntry("conf/a.json", 2, hashlib.sha256(b"{}").hexdigest()),
    ]
)
KEY = Ed25519PrivateKey.generate()


def statement(**changes: Any) -> dict[str, Any]:
    found = registry_statement(
        group="g", number=1, manifest=MANIFEST, registered_by="alice", registered_at="T"
    )
    found["predicate"].update(changes)
    return found


def signed(document: dict[str, Any], key: Ed25519PrivateKey = KEY) -> dict[str, Any]:
    payload = canonical_json(document)
    return make_bundle(
        payload, key.sign(pae(PAYLOAD_TYPE, payload)), key_hint=key_fingerprint(key.public_key())
    )


def test_the_registry_statement_pins_every_file_and_the_manifest_digest() -> None:
    found = parse_statement(canonical_json(statement()))
    assert found.name == "g/1"
    assert found.digest == MANIFEST.digest
    assert found.files == {f.path: f.sha256 for f in MANIFEST.files}
    assert found.sizes == {"model.bin": 3, "conf/a.json": 2}
    assert found.details["registered_by"] == "alice"
    assert pinning_problems(found, MANIFEST, "g/1") == []


def test_pae_is_dsse_v1() -> None:
    assert pae("t", b"hello") == b"DSSEv1 1 t 5 hello"


def test_a_registry_bundle_verifies_with_its_key_only() -> None:
    bundle = signed(statement())
    assert check_registry_bundle(bundle, KEY.public_key(), reference="g/1").name == "g/1"
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(IntegrityError, match="not by the given registry key"):
        check_registry_bundle(bundle, other, reference="g/1")
    with pytest.raises(IntegrityError, match="is for g/1, not for g/2"):
        check_registry_bundle(bundle, KEY.public_key(), reference="g/2")
    unhinted = copy.deepcopy(bundle)
    unhinted["verificationMaterial"]["publicKey"] = {}
    with pytest.raises(IntegrityError, match="does not verify"):
        check_registry_bundle(unhinted, other, reference="g/1")


def test_a_changed_payload_does_not_verify() -> None:
    bundle = signed(statement())
    changed = canonical_json(statement()).replace(b'"size":3', b'"size":4')
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(changed).decode()
    with pytest.raises(IntegrityError, match="does not verify"):
        check_registry_bundle(bundle, KEY.public_key(), reference="g/1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"serialization": {"method": "shards", "hash_type": "sha256"}}, "method 'shards'"),
        ({"serialization": {"method": "files", "hash_type": "blake2"}}, "hash_type 'blake2'"),
        ({"resources": []}, "lists no resources"),
        (
            {"resources": [{"name": "../x", "algorithm": "sha256", "digest": "0" * 64}]},
            "contains '..'",
        ),
        (
            {"resources": [{"name": "a", "algorithm": "sha512", "digest": "0" * 64}]},
            "'sha512' is not supported",
        ),
        (
            {"resources": [{"name": "a", "algorithm": "sha256", "digest": "0" * 64}] * 2},
            "appears twice",
        ),
        (
            {"resources": [{"name": "a", "algorithm": "sha256", "digest": "0" * 64}]},
            "inconsistent",
        ),
    ],
)
def test_statements_modelyard_cannot_compare_are_refused(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_statement(canonical_json(statement(**change)))


def test_old_model_signing_statements_are_refused_with_a_hint() -> None:
    old = statement()
    old["predicateType"] = "https://model_signing/Digests/v0.1"
    with pytest.raises(ValidationError, match="re-sign with 1.0"):
        parse_statement(canonical_json(old))


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        ("{", "not a JSON document"),
        ([], "must be a JSON object"),
        ({"mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2"}, "mediaType"),
        (
            {
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": {"certificate": {"rawBytes": "AA=="}},
            },
            "only key-based signatures",
        ),
    ],
)
def test_bundles_that_are_not_key_mode_model_signing_are_refused(
    bundle: object, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        parse_bundle(bundle)
    assert raised.value.field == "signature"


def test_a_bundle_with_two_signatures_is_refused() -> None:
    bundle = signed(statement())
    bundle["dsseEnvelope"]["signatures"] *= 2
    with pytest.raises(ValidationError, match="exactly one signature"):
        parse_bundle(bundle)


def test_pinning_problems_name_each_file() -> None:
    other = build_manifest(
        [
            FileEntry("model.bin", 3, hashlib.sha256(b"abd").hexdigest()),
            FileEntry("extra.txt", 1, hashlib.sha256(b"x").hexdigest()),
        ]
    )
    found = parse_statement(canonical_json(statement()))
    problems = pinning_problems(found, other, "g/2")
    assert problems[0] == "extra.txt: a file of g/2 the signature does not cover"
    assert problems[1].startswith("model.bin: signed with sha256 ba7816bf")
    assert problems[2] == "conf/a.json: signed, but not a file of g/2"


def pem(public_key: Any) -> str:
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def test_trusted_keys_are_ec_keys_model_signing_accepts() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    assert key_fingerprint(load_trusted_key(pem(p384))) == key_fingerprint(p384)
    for key, message in (
        (Ed25519PrivateKey.generate().public_key(), "Ed25519PublicKey keys are not supported"),
        (rsa.generate_private_key(65537, 2048).public_key(), "RSAPublicKey keys are not"),
        (ec.generate_private_key(ec.SECP256K1()).public_key(), "secp256k1 keys are not"),
    ):
        with pytest.raises(ValidationError, match=message):
            load_trusted_key(pem(key))


def test_the_registry_key_must_be_ed25519() -> None:
    assert load_registry_key(pem(KEY.public_key())) is not None
    with pytest.raises(ValidationError, match="the registry signs with Ed25519"):
        load_registry_key(pem(ec.generate_private_key(ec.SECP256R1()).public_key()))
