"""Nothing blocks the server's event loop: while one request waits on a long write,
``/healthz`` and reads still answer. Ordering, not timing: the waiting request is still
waiting when they return."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from modelyard import Registry
from modelyard.config import Settings
from modelyard.services.base import REQUEST
from tests.server import running_server

# far longer than SQLite's busy timeout (30 s): a request stuck behind a blocked event loop
# returns once the blocked write gives up, and the ordering assertions then fail
PATIENT = httpx.Timeout(120.0)


@dataclass
class Served:
    url: str
    registry: Registry
    http: httpx.Client
    db: Path
    blobs: Path


def until(condition: Callable[[], object], *, what: str) -> None:
    """Poll ``condition`` until it is truthy (a deadline loop; the shared ``eventually()``
    helper of issue 12 item 11 replaces it once merged)."""
    deadline = time.monotonic() + PATIENT.read
    while not condition():
        assert time.monotonic() < deadline, f"waited {PATIENT.read:g} s for {what}"
        time.sleep(0.005)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    registry = Registry.open(tmp_path / "home", blobs_url=f"file://{tmp_path / 'blobs'}")
    token = registry.create_token("local", expires="1d").secret
    # no embedded worker: the only writes are the requests of the test
    with (
        running_server(registry, Settings(embedded_worker=False)) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=PATIENT
        ) as http,
    ):
        # the token's first use records its last-used time (a write): done before any lock
        http.post("/api/v1/groups", json={"name": "readable"}).raise_for_status()
        yield Served(url, registry, http, tmp_path / "home" / "registry.db", tmp_path / "blobs")
    registry.close()


@dataclass
class Call:
    """A request run on its own thread; ``done`` is set when it has returned."""

    done: threading.Event = field(default_factory=threading.Event)
    response: httpx.Response | None = None
    error: BaseException | None = None

    def result(self) -> httpx.Response:
        assert self.done.wait(PATIENT.read), "the request never returned"
        if self.error is not None:
            raise self.error
        assert self.response is not None
        return self.response


def in_thread(request: Callable[[], httpx.Response]) -> Call:
    call = Call()

    def run() -> None:
        try:
            call.response = request()
        except BaseException as e:  # re-raised by result() in the test's thread
            call.error = e
        finally:
            call.done.set()

    threading.Thread(target=run, daemon=True).start()
    return call


def reaching_the_lock(registry: Registry, method: str, path: str) -> threading.Event:
    """Set when the server, serving ``method path``, starts its write transaction (the
    ``BEGIN IMMEDIATE`` that waits for SQLite's write lock)."""
    reached = threading.Event()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement == "BEGIN IMMEDIATE" and REQUEST.get() == {"method": method, "path": path}:
            reached.set()

    event.listen(registry._ctx.db.engine, "before_cursor_execute", before)
    return reached


def test_health_and_reads_answer_while_a_write_waits_on_the_sqlite_write_lock(
    served: Served,
) -> None:
    reached = reaching_the_lock(served.registry, "POST", "/api/v1/groups")
    holder = sqlite3.connect(served.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the database's write lock
    try:
        write = in_thread(lambda: served.http.post("/api/v1/groups", json={"name": "held"}))
        assert reached.wait(PATIENT.read), "the write request never reached the lock"

        health = httpx.get(f"{served.url}/healthz", timeout=PATIENT)
        read = served.http.get("/api/v1/groups/readable")

        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert (read.status_code, read.json()["name"]) == (200, "readable")
        assert not write.done.is_set(), "the write finished while the lock was still held"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert write.result().status_code == 201
    assert served.http.get("/api/v1/groups/held").status_code == 200


def test_health_and_reads_answer_while_an_upload_is_half_sent(served: Served) -> None:
    data = b"half a blob, then the rest " * 40_000
    digest = hashlib.sha256(data).hexdigest()
    half_sent, finish = threading.Event(), threading.Event()

    def body() -> Iterator[bytes]:
        yield data[: len(data) // 2]
        half_sent.set()
        assert finish.wait(PATIENT.read)
        yield data[len(data) // 2 :]

    upload = in_thread(
        lambda: served.http.put(
            f"/api/v1/blobs/{digest}", content=body(), headers={"Content-Length": str(len(data))}
        )
    )
    try:
        assert half_sent.wait(PATIENT.read)
        # the server's blob store has started this upload (its staging file exists) and
        # waits for the rest of the body
        until(lambda: any((served.blobs / "tmp").glob("upload-*")), what="the upload to start")
        health = httpx.get(f"{served.url}/healthz", timeout=PATIENT)
        read = served.http.get("/api/v1/groups/readable")
        assert (health.status_code, read.status_code) == (200, 200)
        assert not upload.done.is_set()
    finally:
        finish.set()
    assert upload.result().json() == {"sha256": digest, "size": len(data), "created": True}
