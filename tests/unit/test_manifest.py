"""Manifests: path rules (invariant 8) and the model-signing digest."""

from __future__ import annotations

import hashlib

import pytest

from modelyard import ValidationError
from modelyard.domain.manifest import FileEntry, build_manifest

H = "0" * 64


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "absolute"),
        ("../up", "'..'"),
        ("a/../../b", "'..'"),
        ("a//b", "not normalised"),
        ("./a", "not normalised"),
        ("a/", "not normalised"),
        ("a\\b", "backslashes"),
        ("", "non-empty"),
        ("x" * 1025, "longer than 1024"),
    ],
)
def test_bad_paths_are_refused(path: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        build_manifest([FileEntry(path, 1, H)])
    assert info.value.field == "manifest.files[0].path"


def test_duplicate_paths_are_refused() -> None:
    with pytest.raises(ValidationError, match="more than once"):
        build_manifest([FileEntry("a", 1, H), FileEntry("a", 2, H)])


def test_a_path_cannot_be_file_and_directory() -> None:
    with pytest.raises(ValidationError, match="both a file and a directory"):
        build_manifest([FileEntry("a", 1, H), FileEntry("a/b", 2, H)])


def test_bad_sizes_and_digests() -> None:
    with pytest.raises(ValidationError, match="non-negative integer"):
        build_manifest([FileEntry("a", -1, H)])
    with pytest.raises(ValidationError, match="not a sha256"):
        build_manifest([FileEntry("a", 1, "ABC")])
    with pytest.raises(ValidationError, match="at least one file"):
        build_manifest([])


def test_digest_matches_model_signing_files_serialization() -> None:
    digests = {p: hashlib.sha256(p.encode()).hexdigest() for p in ["z", "a-b/c", "a/b", "b"]}
    manifest = build_manifest([FileEntry(p, 1, d) for p, d in digests.items()])
    # model_signing sorts PurePosixPath keys part by part, so "a/b" precedes "a-b/c"
    order = ["a/b", "a-b/c", "b", "z"]
    assert [f.path for f in manifest.files] == order
    expected = hashlib.sha256(b"".join(bytes.fromhex(digests[p]) for p in order)).hexdigest()
    assert manifest.digest == f"sha256:{expected}"


def test_sha256_prefix_is_accepted_and_stripped() -> None:
    manifest = build_manifest([FileEntry("a", 1, f"sha256:{H}")])
    assert manifest.files[0].sha256 == H
