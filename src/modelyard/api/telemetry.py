"""Prometheus metrics and JSON access logs, as a plain ASGI middleware.

Metrics: request count and latency per route template (never per raw path, so ids do not
explode the label space) and registry gauges read at scrape time. Access logs: one JSON
line per request on the ``modelyard.access`` logger; never headers, bodies or query
strings, so tokens cannot leak into them.

A plain ASGI wrapper rather than Starlette's ``BaseHTTPMiddleware``: that one runs the app
in an extra task and re-streams every response, which costs a noticeable share of a
millisecond-scale request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.services.base import REQUEST
from modelyard.services.security.access import LOCAL_PRINCIPAL

access_log = logging.getLogger("modelyard.access")


class _RegistryGauges(Collector):
    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        registry = self._app.state.registry
        counts = registry.acting_as(LOCAL_PRINCIPAL).summary()
        for name, value in counts.items():
            gauge = GaugeMetricFamily(f"modelyard_{name}", f"How many {name} the store holds.")
            gauge.add_metric([], value)
            yield gauge


class Telemetry:
    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelyard_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelyard_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.registry.register(_RegistryGauges(app))

    def observe(self, scope: Scope, status: int, elapsed: float) -> None:
        route = route_of(scope)
        method = scope["method"]
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(elapsed)
        if access_log.isEnabledFor(logging.INFO):
            client = scope.get("client")
            line: dict[str, Any] = {
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "method": method,
                "path": scope["path"],
                "route": route,
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "principal": scope.get("state", {}).get("principal"),
                "client": client[0] if client else None,
            }
            access_log.info(orjson.dumps(line).decode())


class TelemetryMiddleware:
    """ASGI middleware: times every HTTP request, counts it, logs it, and marks the audit
    context with its method and path."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = REQUEST.set({"method": scope["method"], "path": scope["path"]})
        try:
            await self.app(scope, receive, send_status)
        finally:
            REQUEST.reset(token)
            self.telemetry.observe(scope, status, time.perf_counter() - started)


def route_of(scope: Scope) -> str:
    """The matched route's template (the router puts the route in the shared scope)."""
    route = scope.get("route")
    return str(getattr(route, "path_format", None) or getattr(route, "path", "unmatched"))
