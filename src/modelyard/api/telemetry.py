"""Prometheus metrics and JSON access logs.

Metrics: request count and latency per route template (never per raw path, so ids do not
explode the label space) and registry gauges read at scrape time. Access logs: one JSON
line per request on the ``modelyard.access`` logger; never headers, bodies or query
strings, so tokens cannot leak into them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from modelyard.services.access import LOCAL_PRINCIPAL
from modelyard.services.base import REQUEST

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
        self._app = app

    @staticmethod
    def route_of(request: Request) -> str:
        """The matched route's template (set in the shared scope by the router)."""
        route = request.scope.get("route")
        return str(getattr(route, "path_format", None) or getattr(route, "path", "unmatched"))

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        token = REQUEST.set({"method": request.method, "path": request.url.path})
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            REQUEST.reset(token)
            route = self.route_of(request)
            elapsed = time.perf_counter() - started
            self.requests.labels(route, request.method, str(status)).inc()
            self.latency.labels(route, request.method).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    json.dumps(
                        {
                            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            "method": request.method,
                            "path": request.url.path,
                            "route": route,
                            "status": status,
                            "ms": round(elapsed * 1000, 2),
                            "principal": getattr(request.state, "principal", None),
                            "client": request.client.host if request.client else None,
                        }
                    )
                )
