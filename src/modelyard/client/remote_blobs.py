"""The blob store protocol over HTTP, so the client reuses the local upload/download code:
hash locally, ask which digests are missing, stream only those; stream downloads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from modelyard.client.transport import Transport
from modelyard.transfer.blobs import CHUNK_SIZE, Readable, StoredBlob


class RemoteBlobStore:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def missing(self, digests: Iterable[str]) -> set[str]:
        wanted = sorted(set(digests))
        missing: set[str] = set()
        for start in range(0, len(wanted), 10_000):
            body = {"digests": wanted[start : start + 10_000]}
            missing.update(self._t.call("POST", "/api/v1/blobs/missing", json=body)["missing"])
        return missing

    def put(self, stream: Readable, *, expected_sha256: str | None = None) -> StoredBlob:
        assert expected_sha256 is not None, "the server needs the digest up front"
        data = self._t.call(
            "PUT",
            f"/api/v1/blobs/{expected_sha256}",
            content=_chunks(stream),
            headers={"Content-Type": "application/octet-stream"},
        )
        return StoredBlob(sha256=data["sha256"], size=data["size"], created=data["created"])

    def read(self, sha256: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        headers = None
        if start or end is not None:
            last = "" if end is None else str(end - 1)
            headers = {"Range": f"bytes={start}-{last}"}
        return self._t.stream_bytes(f"/api/v1/blobs/{sha256}", headers=headers)

    def size(self, sha256: str) -> int:
        response = self._t.http.head(f"/api/v1/blobs/{sha256}")
        from modelyard.client.transport import raise_for

        raise_for(response)
        return int(response.headers["content-length"])


def _chunks(stream: Readable) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_SIZE):
        yield chunk
