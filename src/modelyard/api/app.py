"""The FastAPI application: routers, error mapping, telemetry, health, checkpoints."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from modelyard.api import (
    errors,
    routes_access,
    routes_audit,
    routes_blobs,
    routes_deployments,
    routes_events,
    routes_groups,
    routes_pipelines,
    routes_policies,
    routes_scans,
    routes_signing,
    routes_versions,
)
from modelyard.api.telemetry import Telemetry, TelemetryMiddleware
from modelyard.config import Settings
from modelyard.registry import Registry
from modelyard.services.security.access import LOCAL_PRINCIPAL
from modelyard.worker.process import workers_for

log = logging.getLogger("modelyard.server")


class Checkpointer:
    """Signs an audit checkpoint every ``interval`` seconds while the server runs."""

    def __init__(self, registry: Registry, interval: float) -> None:
        self._registry = registry.acting_as(LOCAL_PRINCIPAL)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._registry.checkpoint_audit()
            except Exception:  # keep signing later; a failed round is logged, not fatal
                log.exception("audit checkpoint failed")


def create_app(registry: Registry, settings: Settings | None = None) -> FastAPI:
    """The HTTP API over ``registry`` (which it does not close)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        checkpointer = Checkpointer(registry, settings.checkpoint_interval)
        checkpointer.start()
        worker = workers_for(registry, settings) if settings.embedded_worker else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            checkpointer.stop()
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="modelyard",
        summary="A self-hosted model registry and release gate.",
        version="1",
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.settings = settings
    app.state.upload_threads = routes_blobs.upload_threads()
    errors.install(app)
    telemetry = Telemetry(app)
    app.add_middleware(TelemetryMiddleware, telemetry=telemetry)
    for module in (
        routes_groups,
        routes_versions,
        routes_blobs,
        routes_access,
        routes_audit,
        routes_events,
        routes_deployments,
        routes_pipelines,
        routes_policies,
        routes_scans,
        routes_signing,
    ):
        app.include_router(module.router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        # async on purpose: it blocks on nothing, and on the event loop it needs no
        # threadpool token, so it answers even while every thread waits on a write
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> Response:
        """The database answers; 503 otherwise."""
        try:
            registry.ping()
        except Exception as e:
            body = errors.error_body("not_ready", f"database: {type(e).__name__}")
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(generate_latest(telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    return app
