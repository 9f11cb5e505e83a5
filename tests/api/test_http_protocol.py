"""The HTTP upload/download protocol and error shapes, against a real server on loopback."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelyard import Client, Registry
from modelyard.config import Settings
from tests.server import running_server

LIMIT = 1024 * 1024


@dataclass
class Server:
    url: str
    registry: Registry
    headers: dict[str, str]
    token: str
    blobs: Path


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    registry = Registry.open(
        tmp_path / "home", db_url=db_url, blobs_url=f"file://{tmp_path / 'blobs'}"
    )
    token = registry.create_token("local", expires="1d").secret
    with running_server(registry, Settings(max_blob_bytes=LIMIT)) as url:
        yield Server(url, registry, {"Authorization": f"Bearer {token}"}, token, tmp_path / "blobs")
    registry.close()


def stored_files(root: Path) -> list[Path]:
    return [p for p in (root / "sha256").rglob("*") if p.is_file()]


def test_upload_is_verified_while_streaming_and_a_mismatch_stores_nothing(server: Server) -> None:
    data = b"0123456789" * 1000
    digest = hashlib.sha256(data).hexdigest()
    wrong = hashlib.sha256(b"other").hexdigest()
    response = httpx.put(f"{server.url}/api/v1/blobs/{wrong}", content=data, headers=server.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "integrity_error"
    assert stored_files(server.blobs) == []
    response = httpx.put(
        f"{server.url}/api/v1/blobs/{digest}",
        content=iter([data[:7], data[7:]]),
        headers=server.headers,
    )
    assert response.status_code == 201
    assert response.json() == {"sha256": digest, "size": len(data), "created": True}
    again = httpx.put(f"{server.url}/api/v1/blobs/{digest}", content=data, headers=server.headers)
    assert (again.status_code, again.json()["created"]) == (200, False)


def test_uploads_over_the_size_limit_are_refused(server: Server) -> None:
    data = b"x" * (LIMIT + 1)
    digest = hashlib.sha256(data).hexdigest()
    declared = httpx.put(
        f"{server.url}/api/v1/blobs/{digest}", content=data, headers=server.headers
    )
    assert declared.status_code == 413
    streamed = httpx.put(
        f"{server.url}/api/v1/blobs/{digest}",
        content=iter([data[:LIMIT], data[LIMIT:]]),  # chunked: no Content-Length
        headers=server.headers,
    )
    assert streamed.status_code == 400
    assert "limit" in streamed.json()["error"]["message"]
    assert stored_files(server.blobs) == []


def test_downloads_support_ranges(server: Server, tmp_path: Path) -> None:
    (tmp_path / "art").mkdir()
    data = bytes(range(256)) * 100
    (tmp_path / "art" / "m.bin").write_bytes(data)
    server.registry.create_group("g")
    server.registry.register_version("g", tmp_path / "art")
    url = f"{server.url}/api/v1/blobs/{hashlib.sha256(data).hexdigest()}"
    assert httpx.get(url, headers=server.headers).content == data
    part = httpx.get(url, headers=server.headers | {"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = httpx.get(url, headers=server.headers | {"Range": "bytes=-5"})
    assert tail.content == data[-5:]
    head = httpx.head(url, headers=server.headers)
    assert int(head.headers["content-length"]) == len(data)
    beyond = httpx.get(url, headers=server.headers | {"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416


def test_registering_again_uploads_nothing_and_an_interrupted_upload_resumes(
    server: Server, tmp_path: Path
) -> None:
    art = tmp_path / "art"
    art.mkdir()
    for i in range(3):
        (art / f"f{i}.bin").write_bytes(f"file {i}".encode() * 100)
    client = Client(server.url, server.token, cache_dir=tmp_path / "cache")
    client.create_group("g")
    # a first attempt that stored only one blob before dying
    one = (art / "f0.bin").read_bytes()
    httpx.put(
        f"{server.url}/api/v1/blobs/{hashlib.sha256(one).hexdigest()}",
        content=one,
        headers=server.headers,
    )
    first = client.upload_artifact(art)
    assert first.new_blobs == 2, "only the missing files are sent"
    second = client.upload_artifact(art)
    assert (second.new_blobs, second.new_bytes) == (0, 0)
    version = client.register_version("g", second)
    assert client.verify_directory(version.reference, client.fetch(version.reference)) == []
    client.close()


def test_errors_are_json_with_code_message_and_field(server: Server) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/groups", json={"name": "bad name!"}, headers=server.headers
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "validation_error",
            "message": response.json()["error"]["message"],
            "field": "group",
        }
    }
    assert "not a valid group name" in response.json()["error"]["message"]
    missing = httpx.get(f"{server.url}/api/v1/groups/nope", headers=server.headers)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    typo = httpx.post(
        f"{server.url}/api/v1/groups",
        json={"name": "g", "descriptoin": "x"},
        headers=server.headers,
    )
    assert (typo.status_code, typo.json()["error"]["field"]) == (400, "descriptoin")
    not_json = httpx.post(
        f"{server.url}/api/v1/groups",
        content=b"{",
        headers=server.headers | {"Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert server.registry.list_groups().items == [], "bad input changed nothing"


def test_tokens_record_their_last_use_and_revocation_is_immediate(server: Server) -> None:
    issued = server.registry.create_token("local", expires="1d")
    headers = {"Authorization": f"Bearer {issued.secret}"}
    assert httpx.get(f"{server.url}/api/v1/whoami", headers=headers).status_code == 200
    (listed,) = [t for t in server.registry.list_tokens() if t.id == issued.token.id]
    assert listed.last_used_at is not None
    server.registry.revoke_token(issued.token.id)
    response = httpx.get(f"{server.url}/api/v1/whoami", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    assert issued.secret not in response.text


def test_the_server_signs_checkpoints_periodically(db_url: str, tmp_path: Path) -> None:
    registry = Registry.open(tmp_path / "home", db_url=db_url)
    registry.create_group("g")
    with running_server(registry, Settings(checkpoint_interval=1)):
        deadline = time.monotonic() + 10
        while not registry.list_checkpoints() and time.monotonic() < deadline:
            time.sleep(0.1)
    (checkpoint,) = registry.list_checkpoints()
    assert checkpoint.size == registry.verify_audit().entries
    assert registry.verify_audit().checkpoints == 1
    registry.close()
