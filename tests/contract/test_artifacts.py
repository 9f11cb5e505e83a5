"""Downloads, the fetch cache and integrity checks on every backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard import ConflictError, IntegrityError, ModelyardError, Registry, ValidationError
from modelyard.store.blobs.filesystem import FilesystemBlobStore
from tests.conftest import MakeArtifact

FILES = {"model.bin": b"w" * 5000, "nested/deep/config.json": b'{"a": 1}'}


@pytest.fixture
def stored(registry: Registry, make_artifact: MakeArtifact) -> Registry:
    registry.create_group("g")
    registry.register_version("g", make_artifact(FILES))
    registry.set_alias("g", "champion", 1)
    return registry


def test_download_writes_every_file(stored: Registry, tmp_path: Path) -> None:
    stored.download("g@champion", tmp_path / "out")
    for rel, content in FILES.items():
        assert (tmp_path / "out" / rel).read_bytes() == content


def test_download_refuses_a_non_empty_directory(stored: Registry, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ConflictError, match="not empty"):
        stored.download("g/1", tmp_path / "out")
    stored.download("g/1", tmp_path / "out", overwrite=True)
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def _corrupt(tmp_path: Path, content: bytes) -> Path:
    import hashlib

    store = FilesystemBlobStore(tmp_path / "blobs")
    path = store.path_of(hashlib.sha256(content).hexdigest())
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # in the bytes (or, encrypted, in the last chunk), not the header
    path.write_bytes(bytes(data))
    return path


def test_a_corrupted_blob_is_an_integrity_error_naming_the_file(
    stored: Registry, tmp_path: Path
) -> None:
    _corrupt(tmp_path, FILES["model.bin"])
    with pytest.raises(IntegrityError, match="'model.bin' is corrupted"):
        stored.download("g/1", tmp_path / "out")
    assert not (tmp_path / "out" / "model.bin").exists(), "no bad bytes are left behind"
    with pytest.raises(IntegrityError, match="model.bin"):
        stored.fetch("g/1")


def test_fetch_caches_by_manifest_digest(stored: Registry, tmp_path: Path) -> None:
    first = stored.fetch("g@champion")
    listing = stored.get_version("g/1").manifest.listing_digest
    assert first.name == listing.removeprefix("sha256:")
    assert (first / "nested/deep/config.json").read_bytes() == FILES["nested/deep/config.json"]
    _corrupt(tmp_path, FILES["model.bin"])  # a cached fetch no longer reads the blob store
    assert stored.fetch("g/1") == first


def test_verify_directory_reports_differences(stored: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stored.download("g/1", out)
    assert stored.verify_directory("g/1", out) == []
    (out / "model.bin").write_bytes(b"tampered")
    (out / "extra.txt").write_text("x")
    (out / "nested/deep/config.json").unlink()
    assert stored.verify_directory("g/1", out) == [
        "model.bin: content differs from the registered sha256",
        "nested/deep/config.json: missing",
        "extra.txt: not part of g/1",
    ]


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_bad_artifact_directories(registry: Registry, tmp_path: Path, kind: str) -> None:
    registry.create_group("g")
    target = tmp_path / "art"
    if kind == "file":
        target.write_text("x")
    elif kind == "empty":
        target.mkdir()
    with pytest.raises(ModelyardError) as info:
        registry.register_version("g", target)
    assert info.value.field == "artifact"
    assert registry.get_group("g").latest_version == 0


def test_symlink_escaping_the_tree_is_refused(
    registry: Registry, make_artifact: MakeArtifact, tmp_path: Path
) -> None:
    registry.create_group("g")
    (tmp_path / "secret").write_text("outside")
    art = make_artifact()
    (art / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(ValidationError, match="outside the artifact"):
        registry.register_version("g", art)
    assert registry.get_group("g").latest_version == 0


def test_symlink_inside_the_tree_is_stored_as_its_target(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    art = make_artifact({"real.bin": b"data"})
    (art / "alias.bin").symlink_to(art / "real.bin")
    version = registry.register_version("g", art)
    assert [(f.path, f.size) for f in version.manifest.files] == [("alias.bin", 4), ("real.bin", 4)]


def test_fetch_of_same_bytes_under_other_names_gets_its_own_files(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact({"model.bin": b"same"}))
    registry.register_version("g", make_artifact({"weights.pt": b"same"}))
    one, two = registry.get_version("g/1"), registry.get_version("g/2")
    assert one.manifest_digest == two.manifest_digest  # model-signing covers contents only
    assert registry.fetch("g/1") != registry.fetch("g/2")
    assert (registry.fetch("g/2") / "weights.pt").read_bytes() == b"same"
    assert registry.verify_directory("g/2", registry.fetch("g/2")) == []


def test_concurrent_fetches_agree(stored: Registry) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(lambda _: stored.fetch("g/1"), range(8)))
    assert len(set(paths)) == 1
    assert (paths[0] / "model.bin").read_bytes() == FILES["model.bin"]
    leftovers = [p for p in paths[0].parent.iterdir() if p.name.startswith(".fetch-")]
    assert leftovers == []


def test_tampering_deep_inside_a_big_encrypted_file_fails_its_download(
    registry: Registry, make_artifact: MakeArtifact, tmp_path: Path
) -> None:
    """Over HTTP the server is already streaming when it meets the bad chunk: the body is
    cut short, and the client still reports the file as corrupted."""
    big = os.urandom(3 * 1024 * 1024 + 123)  # four encrypted chunks
    registry.create_group("g")
    registry.register_version("g", make_artifact({"weights.bin": big, "card.md": b"# g"}))
    path = _corrupt(tmp_path, big)
    assert path.parent.parent.name == "enc", "new stores encrypt"
    with pytest.raises(IntegrityError, match="'weights.bin' is corrupted") as caught:
        registry.download("g/1", tmp_path / "out")
    assert "failed authentication" in str(caught.value) or "stopped sending" in str(caught.value)
    assert not (tmp_path / "out" / "weights.bin").exists()
