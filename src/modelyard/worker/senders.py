"""Sending one message to one target: webhooks (httpx), AWS (``aws.py``), the log."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from modelyard.domain.delivery import (
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    HEADER_TYPE,
    Message,
    Outcome,
    sign,
)
from modelyard.domain.targets import Target

EVENT_LOG = logging.getLogger("modelyard.events")
USER_AGENT = "modelyard-webhooks/1"
_MAX_ERROR = 500


class Sender(Protocol):
    def send(self, target: Target, message: Message) -> Outcome: ...

    def close(self) -> None: ...


class WebhookSender:
    """POSTs the message as JSON, signed; 2xx = delivered. One pooled client per thread."""

    def __init__(self, *, now: Callable[[], float] | None = None) -> None:
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()
        self._now = now or time.time

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(
                headers={"User-Agent": USER_AGENT},
                follow_redirects=False,
                limits=httpx.Limits(max_keepalive_connections=8, keepalive_expiry=30),
            )
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def send(self, target: Target, message: Message) -> Outcome:
        timestamp = int(self._now())
        headers = {
            **target.config.get("headers", {}),
            "Content-Type": "application/json",
            HEADER_ID: message.event_id,
            HEADER_TYPE: message.event_type,
            HEADER_TIMESTAMP: str(timestamp),
            HEADER_SIGNATURE: sign(
                target.config["secret"], message.event_id, timestamp, message.body
            ),
        }
        started = time.perf_counter()
        try:
            response = self._client().post(
                target.config["url"], content=message.body, headers=headers, timeout=target.timeout
            )
        except httpx.TimeoutException:
            return _failed(started, f"timed out after {target.timeout:g} s")
        except httpx.HTTPError as e:
            return _failed(started, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
        latency = (time.perf_counter() - started) * 1000
        ok = 200 <= response.status_code < 300
        error = "" if ok else f"HTTP {response.status_code}: {response.text[:_MAX_ERROR]}"
        return Outcome(ok=ok, status_code=response.status_code, error=error, latency_ms=latency)

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()


class LogSender:
    """The internal ``log`` target: one INFO line per event on ``modelyard.events``."""

    def send(self, target: Target, message: Message) -> Outcome:
        started = time.perf_counter()
        EVENT_LOG.info(
            "event %s %s group=%s %s",
            message.event_type,
            message.event_id,
            message.group or "-",
            message.body.decode(),
        )
        return Outcome(ok=True, latency_ms=(time.perf_counter() - started) * 1000)

    def close(self) -> None:
        pass


class PipelineSender:
    """The ``pipeline`` target (a pipeline's ``trigger:``): start a run for the event's
    version. Starting is idempotent per event, so redelivery is harmless."""

    def __init__(self, start: Callable[[str, dict[str, Any]], str] | None) -> None:
        self._start = start

    def send(self, target: Target, message: Message) -> Outcome:
        begun = time.perf_counter()
        if self._start is None:
            return Outcome(ok=False, error="this worker cannot start pipeline runs")
        event = json.loads(message.body)
        note = self._start(target.config["pipeline"], event if isinstance(event, dict) else {})
        EVENT_LOG.info(
            "pipeline %s, event %s: %s", target.config["pipeline"], message.event_id, note
        )
        latency = (time.perf_counter() - begun) * 1000
        return Outcome(
            ok=True, error="" if note.startswith("started") else note, latency_ms=latency
        )

    def close(self) -> None:
        pass


class Senders:
    """Picks the sender for a target's type; AWS senders are created on first use."""

    def __init__(
        self,
        *,
        webhook: WebhookSender | None = None,
        start_run: Callable[[str, dict[str, Any]], str] | None = None,
    ) -> None:
        self._webhook = webhook or WebhookSender()
        self._log = LogSender()
        self._pipeline = PipelineSender(start_run)
        self._aws: Sender | None = None
        self._lock = threading.Lock()

    def send(self, target: Target, message: Message) -> Outcome:
        try:
            return self._for(target.type).send(target, message)
        except Exception as e:  # a sender bug must not kill the worker; record it
            return Outcome(ok=False, error=f"internal error: {type(e).__name__}: {e}"[:_MAX_ERROR])

    def _for(self, kind: str) -> Sender:
        if kind == "webhook":
            return self._webhook
        if kind == "log":
            return self._log
        if kind == "pipeline":
            return self._pipeline
        with self._lock:
            if self._aws is None:
                from modelyard.worker.aws import AwsSender  # boto3 costs ~0.3 s to import

                self._aws = AwsSender()
            return self._aws

    def close(self) -> None:
        self._webhook.close()
        if self._aws is not None:
            self._aws.close()


def _failed(started: float, error: str) -> Outcome:
    return Outcome(
        ok=False, error=error[:_MAX_ERROR], latency_ms=(time.perf_counter() - started) * 1000
    )
