"""A real webhook receiver on a loopback port that records what it is sent."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.headers["Modelyard-Event-Id"]


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    #: answer with this status (503 = "down"); or a function of the request
    status: int | Callable[[Received], int] = 200
    delay_s: float = 0.0
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> list[Received]:
        """Requests answered 2xx, in arrival order."""
        with self.lock:
            return [r for r in self.received if r.headers.get("X-Answered", "200")[0] == "2"]

    def unique_ids(self) -> list[str]:
        """Event ids as a receiver that de-duplicates by id sees them (first arrival)."""
        seen: dict[str, None] = {}
        for r in self.delivered():
            seen.setdefault(r.event_id, None)
        return list(seen)

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.unique_ids()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"received {len(self.unique_ids())} of {count} events")
            time.sleep(0.02)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = Received(dict(self.headers.items()), body, time.monotonic())
            event_id = request.headers.get("Modelyard-Event-Id", "")
            with receiver.lock:
                receiver.in_flight[event_id] += 1
                receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight[event_id])
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            status = receiver.status(request) if callable(receiver.status) else receiver.status
            request.headers["X-Answered"] = str(status)
            with receiver.lock:
                receiver.in_flight[event_id] -= 1
                receiver.received.append(request)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/modelyard"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
