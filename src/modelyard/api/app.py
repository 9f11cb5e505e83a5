"""The FastAPI application: routers, error mapping, telemetry, health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from modelyard.api import (
    docs_ui,
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


def create_app(
    registry: Registry,
    settings: Settings | None = None,
    *,
    background: Callable[[], AbstractContextManager[object]] | None = None,
) -> FastAPI:
    """The HTTP API over ``registry`` (which it does not close). ``background`` runs while
    the app serves (``modelyard server`` passes its workers and checkpointer)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background is None:
            yield
            return
        with background():
            yield

    app = FastAPI(
        title="modelyard",
        summary="A self-hosted model registry and release gate.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # docs_ui serves /docs from the package, not from a CDN
        redoc_url=None,
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
    docs_ui.install(app)

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
