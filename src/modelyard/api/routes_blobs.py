"""/api/v1/blobs: which blobs are missing, upload one (verified while streaming), download.

Uploads stream the request body straight into the blob store in a worker thread (constant
memory); the store hashes while writing and makes the blob visible only when its sha256
matches the one in the URL. Downloads stream, with ``Range`` support.

Threads: every route but the upload is a plain ``def`` (FastAPI's threadpool). The upload is
``async`` because it reads the body on the event loop, and it does its blocking work (the
write check, the store write) in a thread of its own pool (``UPLOAD_THREADS``): an upload
holds its thread for as long as the client takes to send, and slow uploads in the shared
pool could take every thread the other routes (and the ``caller`` check of each) need.
Downloads return a plain iterator, which Starlette pulls in the threadpool, chunk by chunk.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import anyio
from anyio.from_thread import run as run_in_loop
from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.responses import StreamingResponse

from modelyard.api.deps import Caller
from modelyard.api.responses import JSON
from modelyard.api.schemas import ERRORS, Digests
from modelyard.domain.manifest import validate_sha256
from modelyard.errors import ValidationError
from modelyard.registry import Registry
from modelyard.transfer.blobs import CHUNK_SIZE

router = APIRouter(prefix="/api/v1", tags=["blobs"], responses=ERRORS)

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
#: uploads writing at once; more wait (without reading their body) for one to finish. 40 is
#: what they had when they shared anyio's default pool of 40 threads with the routes.
UPLOAD_THREADS = 40


def upload_threads() -> anyio.CapacityLimiter:
    """A new pool of ``UPLOAD_THREADS`` tokens, one per app (``create_app``)."""
    return anyio.CapacityLimiter(UPLOAD_THREADS)


@router.post("/blobs/missing")
def missing_blobs(body: Digests, registry: Caller) -> JSON:
    """Of these sha256 digests, the ones the server does not hold (upload only those)."""
    digests = [validate_sha256(d, field=f"digests[{i}]") for i, d in enumerate(body.digests)]
    return JSON({"missing": sorted(registry.missing_blobs(digests))})


class _BodyReader:
    """A blocking ``read()`` over the request's async body, for a worker thread.

    Each ``read(n)`` makes one hop to the event loop, which gathers chunks until it has
    ``n`` bytes (or the body ends): the hop costs tens of microseconds, so it is paid per
    MiB, not per network chunk.
    """

    def __init__(self, request: Request, limit: int) -> None:
        self._chunks = request.stream().__aiter__()
        self._buffer = bytearray()
        self._done = False
        self._limit = limit
        self.received = 0

    async def _gather(self, wanted: int) -> list[bytes]:
        chunks: list[bytes] = []
        got = 0
        while got < wanted:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
                break
            chunks.append(chunk)
            got += len(chunk)
        return chunks

    def read(self, size: int = -1, /) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            wanted = CHUNK_SIZE if size < 0 else size - len(self._buffer)
            for chunk in run_in_loop(self._gather, wanted):
                self.received += len(chunk)
                if self.received > self._limit:
                    raise ValidationError(
                        f"body: the blob is larger than the server's limit of {self._limit} bytes",
                        field="body",
                    )
                self._buffer += chunk
        if size < 0 or size >= len(self._buffer):
            data = bytes(self._buffer)
            self._buffer.clear()
        else:
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
        return data


@router.put("/blobs/{sha256}", status_code=201)
async def put_blob(
    sha256: str,
    request: Request,
    registry: Caller,
    content_length: int | None = Header(default=None, ge=0),
) -> JSON:
    """Upload one blob; its bytes must hash to ``sha256`` (else 422 and nothing is stored)."""
    threads: anyio.CapacityLimiter = request.app.state.upload_threads
    await anyio.to_thread.run_sync(registry.check_blob_write, limiter=threads)
    digest = validate_sha256(sha256, field="sha256")
    limit = request.app.state.settings.max_blob_bytes
    if content_length is not None and content_length > limit:
        raise HTTPException(413, f"the blob is larger than the server's limit of {limit} bytes")
    reader = _BodyReader(request, limit)
    stored = await anyio.to_thread.run_sync(
        lambda: registry.put_blob(reader, sha256=digest), limiter=threads
    )
    body = {"sha256": stored.sha256, "size": stored.size, "created": stored.created}
    return JSON(body, status_code=201 if stored.created else 200)


@router.head("/blobs/{sha256}")
def head_blob(sha256: str, registry: Caller) -> Response:
    size = registry.blob_size(validate_sha256(sha256, field="sha256"))
    return Response(headers={"Content-Length": str(size), "Accept-Ranges": "bytes"})


@router.get("/blobs/{sha256}", response_class=StreamingResponse)
def get_blob(sha256: str, registry: Caller, range: str | None = Header(default=None)) -> Response:
    """A blob's bytes; ``Range: bytes=START-END`` gives part of it (206)."""
    digest = validate_sha256(sha256, field="sha256")
    size = registry.blob_size(digest)
    if range is None:
        return StreamingResponse(
            _stream(registry, digest, 0, size),
            media_type="application/octet-stream",
            headers={"Content-Length": str(size), "Accept-Ranges": "bytes"},
        )
    start, end = _parse_range(range, size)
    return StreamingResponse(
        _stream(registry, digest, start, end),
        status_code=206,
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(end - start),
            "Content-Range": f"bytes {start}-{end - 1}/{size}",
            "Accept-Ranges": "bytes",
        },
    )


def _stream(registry: Registry, digest: str, start: int, end: int) -> Iterator[bytes]:
    """The bytes, with the first chunk read (and, encrypted, authenticated) before the
    response starts: a blob that fails its integrity check there is a clean error response.
    A failure further in can only cut the body short, which the client reports."""
    chunks = registry.read_blob(digest, start=start, end=end)
    first = next(chunks, None)
    return iter(()) if first is None else itertools.chain((first,), chunks)


def _parse_range(value: str, size: int) -> tuple[int, int]:
    """``[start, end)`` of a single ``bytes=`` range; 416 when it cannot be satisfied."""
    match = _RANGE.match(value.strip())
    if not match or match.groups() == ("", ""):
        raise HTTPException(416, f"Range: {value!r} is not a single bytes range")
    first, last = match.groups()
    if first == "":  # the last N bytes
        start, end = max(size - int(last), 0), size
    else:
        start = int(first)
        end = size if last == "" else min(int(last) + 1, size)
    if start >= size or start >= end:
        raise HTTPException(
            416,
            f"Range: {value!r} is outside the blob's {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end
