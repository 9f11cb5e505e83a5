"""`modelyard blobs verify|gc|encrypt` and `keys rotate`, as an operator uses them, on the
filesystem and on S3 (a real moto server), with a key file and with KMS."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from modelyard import IntegrityError, Registry
from modelyard.config import Settings
from modelyard.store.blobs.content import ContentBlobStore
from tests.cli.conftest import Run
from tests.conftest import REGION


def _model(tmp_path: Path, content: bytes = b"weights " * 300_000) -> Path:
    directory = tmp_path / "model"
    directory.mkdir(exist_ok=True)
    (directory / "model.bin").write_bytes(content)
    (directory / "config.json").write_text('{"depth": 4}\n')
    return directory


def _flip_a_byte(home: Path, content: bytes) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    [path] = [
        p
        for d in ("enc", "sha256")
        if (p := home / "blobs" / d / digest[:2] / digest[2:]).is_file()
    ]
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("encryption", ["true", "false"])
def test_a_flipped_byte_fails_the_download_naming_the_file_and_verify_reports_it(
    run: Run, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encryption: str
) -> None:
    monkeypatch.setenv("MODELYARD_BLOB_ENCRYPTION", encryption)
    content = b"weights " * 300_000
    run("group", "create", "fraud-detector")
    run("version", "register", "fraud-detector", str(_model(tmp_path, content)))
    assert (home / "blobs" / ("enc" if encryption == "true" else "sha256")).is_dir()
    run("blobs", "verify")
    _flip_a_byte(home, content)
    download = run("version", "download", "fraud-detector/1", "out", code=1)
    assert "'model.bin' is corrupted" in download.stderr
    assert not (tmp_path / "out" / "model.bin").exists()
    verify = run("blobs", "verify", code=1)
    digest = hashlib.sha256(content).hexdigest()
    assert f"corrupt blob sha256:{digest}" in verify.stdout
    assert "checked 2 blob(s), 1 corrupt" in verify.stdout
    only_config = run(
        "blobs", "verify", "--json", "--digest", hashlib.sha256(b'{"depth": 4}\n').hexdigest()
    )
    assert json.loads(only_config.stdout) == {"checked": 1, "problems": {}}


def test_new_stores_encrypt_with_a_private_key_file(run: Run, home: Path, tmp_path: Path) -> None:
    run("init")
    key_file = home / "keys" / "blob-keys.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert json.loads((home / "blobs" / "store.json").read_text())["encryption"] == "aes-256-gcm"
    content = b"secret weights " * 100_000
    run("group", "create", "g")
    run("version", "register", "g", str(_model(tmp_path, content)))
    stored = b"".join(p.read_bytes() for p in (home / "blobs" / "enc").rglob("*") if p.is_file())
    assert b"secret weights" not in stored
    run("version", "download", "g/1", "out")
    assert (tmp_path / "out" / "model.bin").read_bytes() == content
    status = json.loads(run("status", "--json").stdout)
    key_id = json.loads(key_file.read_text())["keys"][0]["id"]
    assert status["blob_encryption"].startswith("AES-256-GCM")
    assert status["key_encryption_key"] == f"file:{key_id}"
    assert json.loads(key_file.read_text())["keys"][0]["key"] not in run("status").stdout


def test_key_rotation_makes_the_old_key_file_unnecessary(
    run: Run, home: Path, tmp_path: Path
) -> None:
    run("group", "create", "g")
    run("version", "register", "g", str(_model(tmp_path)))
    key_file = home / "keys" / "blob-keys.json"
    old = json.loads(key_file.read_text())["keys"]
    rotated = json.loads(run("keys", "rotate", "--json").stdout)
    assert rotated["rewrapped"] == rotated["data_keys"] == 2
    assert rotated["retired"] == [old[0]["id"]]
    new = json.loads(key_file.read_text())["keys"]
    assert [k["id"] for k in new] == [rotated["key"].removeprefix("file:")]
    assert old[0]["key"] not in key_file.read_text(), "the old key material is gone"
    run("version", "download", "g/1", "out")  # a fresh process: only the new key file
    run("blobs", "verify")
    again = json.loads(run("keys", "rotate", "--json").stdout)
    assert again["retired"] == [new[0]["id"]]


def test_a_plaintext_store_is_encrypted_in_place(
    run: Run, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_BLOB_ENCRYPTION", "false")
    run("group", "create", "g")
    run("version", "register", "g", str(_model(tmp_path)))
    assert not (home / "keys" / "blob-keys.json").exists()
    monkeypatch.delenv("MODELYARD_BLOB_ENCRYPTION")
    assert json.loads(run("status", "--json").stdout)["blob_encryption"].startswith("off")
    assert "this store has no key-encryption key" in run("keys", "rotate", code=2).stderr
    out = run("blobs", "encrypt")
    assert "encrypted 2 blob(s); 0 were already encrypted" in out.stdout
    assert not list((home / "blobs" / "sha256").rglob("*.*")), "no plaintext is left"
    assert not [p for p in (home / "blobs" / "sha256").rglob("*") if p.is_file()]
    run("version", "download", "g/1", "out")
    assert "encrypted 0 blob(s); 2 were already" in run("blobs", "encrypt").stdout
    (tmp_path / "model2").mkdir()
    (tmp_path / "model2" / "new.bin").write_bytes(b"after the migration")
    run("version", "register", "g", str(tmp_path / "model2"))
    assert [p for p in (home / "blobs" / "enc").rglob("*") if p.is_file()].__len__() == 3


def test_gc_deletes_only_what_no_version_references(run: Run, home: Path, tmp_path: Path) -> None:
    run("group", "create", "g")
    run("version", "register", "g", str(_model(tmp_path)))
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    (orphan / "abandoned.bin").write_bytes(b"uploaded, never registered")
    with Registry.open(home) as registry:
        registry.upload_artifact(orphan)
    assert json.loads(run("blobs", "gc", "--json").stdout)["collected"] == {}, "grace period"
    dry = json.loads(run("blobs", "gc", "--dry-run", "--grace", "0", "--json").stdout)
    assert len(dry["collected"]) == 1 and dry["dry_run"]
    done = json.loads(run("blobs", "gc", "--grace", "0", "--json").stdout)
    assert done["collected"] == dry["collected"] and done["referenced"] == 2
    run("version", "download", "g/1", "out")
    log = json.loads(run("audit", "log", "--json").stdout)
    assert sorted(e["details"]["collected"] for e in log if e["action"] == "blobs.gc") == [0, 1]


def test_bad_input_and_remote_mode_are_refused(run: Run, home: Path) -> None:
    assert "grace" in run("blobs", "gc", "--grace", "soon", code=2).output
    refused = run("--url", "http://127.0.0.1:9", "blobs", "verify", code=2)
    assert "runs where the stores are" in refused.stderr
    assert "runs where the stores are" in run("--url", "http://x", "keys", "rotate", code=2).stderr


def test_only_a_store_admin_may_run_them(run: Run) -> None:
    run("principal", "create", "alice")
    run("access", "grant", "alice", "contributor")
    denied = run("blobs", "gc", "--dry-run", actor="alice", code=4)
    assert "store.admin" in denied.stderr


@pytest.fixture
def s3_settings(aws_env: None, moto_url: str, tmp_path: Path) -> Settings:
    bucket = f"models-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=moto_url, region_name=REGION).create_bucket(Bucket=bucket)
    return Settings(
        home=tmp_path / "home",
        blobs_url=f"s3://{bucket}/registry",
        s3_endpoint_url=moto_url,
        s3_region=REGION,
    )


def test_a_registry_on_s3_encrypts_verifies_and_rotates(
    s3_settings: Settings, tmp_path: Path
) -> None:
    content = b"s3 weights " * 200_000
    with Registry.open(settings=s3_settings) as registry:
        registry.create_group("g")
        registry.register_version("g", _model(tmp_path, content))
        store = registry._ctx.blobs
        assert isinstance(store, ContentBlobStore) and store.encrypt
        assert store.objects.location.startswith(s3_settings.blobs_url or "")
        assert registry.rotate_keys().rewrapped == 2
        registry.download("g/1", tmp_path / "out")
        assert (tmp_path / "out" / "model.bin").read_bytes() == content
        digest = hashlib.sha256(content).hexdigest()
        key = f"registry/enc/{digest[:2]}/{digest[2:]}"
        bucket = s3_settings.s3_location[0]
        s3 = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url, region_name=REGION)
        data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        data[-5] ^= 0x01
        s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))
        with pytest.raises(IntegrityError, match="'model.bin' is corrupted"):
            registry.download("g/1", tmp_path / "again")
        assert list(registry.verify_blobs().problems) == [digest]


def test_kms_wraps_the_data_keys(
    s3_settings: Settings, moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", moto_url)
    kms = boto3.client("kms", endpoint_url=moto_url, region_name=REGION)
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    settings = replace(s3_settings, kms_key_id=arn)
    with Registry.open(settings=settings) as registry:
        registry.create_group("g")
        registry.register_version("g", _model(tmp_path))
        registry.download("g/1", tmp_path / "out")
    assert not (settings.home / "keys" / "blob-keys.json").exists(), "KMS, not a key file"
    second = kms.create_key()["KeyMetadata"]["Arn"]
    with Registry.open(settings=replace(settings, kms_key_id=second)) as registry:
        report = registry.rotate_keys()
        assert (report.key, report.rewrapped) == (f"kms:{second}", 2)
        registry.download("g/1", tmp_path / "after")


def test_gc_aborts_s3_uploads_left_unfinished(s3_settings: Settings, tmp_path: Path) -> None:
    """A process killed mid-upload leaves a multipart upload S3 bills for but never shows;
    gc aborts those older than the grace period."""
    bucket = s3_settings.s3_location[0]
    s3 = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url, region_name=REGION)
    started = s3.create_multipart_upload(Bucket=bucket, Key="registry/enc/ab/cdef")
    s3.upload_part(
        Bucket=bucket,
        Key="registry/enc/ab/cdef",
        UploadId=started["UploadId"],
        PartNumber=1,
        Body=b"x" * 1024,
    )
    s3.put_object(Bucket=bucket, Key="registry/staging/0123abcd", Body=b"copy never finished")
    # (moto reports every upload as initiated in 2010, so any grace period has passed)
    with Registry.open(settings=s3_settings) as registry:
        assert registry.collect_garbage(dry_run=True, grace=timedelta(0)).abandoned_uploads == 2
        assert len(s3.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 1, "dry run"
        assert registry.collect_garbage(grace=timedelta(hours=1)).abandoned_uploads == 1
        assert registry.collect_garbage(grace=timedelta(0)).abandoned_uploads == 1
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="registry/staging/")
