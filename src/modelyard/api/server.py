"""Running the server: first-start bootstrap (admin + token file) and uvicorn."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from modelyard.api.app import create_app
from modelyard.config import Settings
from modelyard.registry import Registry
from modelyard.services.release.pipelines import ensure_default_pipeline
from modelyard.worker.process import check_settings

BOOTSTRAP_ADMIN = "admin"
TOKEN_FILE = "admin-token"


@dataclass(frozen=True, slots=True)
class Bootstrap:
    created: bool
    token_file: Path


def bootstrap_admin(registry: Registry, home: Path) -> Bootstrap:
    """On first start create principal ``admin`` (admin on ``*``) and write a token for it
    to ``HOME/admin-token`` (mode 0600). Later starts change nothing."""
    token_file = home.resolve() / TOKEN_FILE
    if not registry.ensure_admin(BOOTSTRAP_ADMIN):
        return Bootstrap(created=False, token_file=token_file)
    issued = registry.acting_as(BOOTSTRAP_ADMIN).create_token(
        BOOTSTRAP_ADMIN, expires="never", description="bootstrap admin token (first start)"
    )
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(issued.secret + "\n")
    return Bootstrap(created=True, token_file=token_file)


def app_from_env() -> FastAPI:
    """The app factory each uvicorn worker calls (settings come from MODELYARD_*)."""
    settings = Settings.from_env()
    _configure_logging()
    return create_app(Registry.open(settings=settings), settings)


#: loggers the server prints (the ``log`` event target writes to ``modelyard.events``)
SERVER_LOGGERS = ("modelyard.access", "modelyard.server", "modelyard.events", "modelyard.worker")


def _configure_logging() -> None:
    """Print the server's loggers on stdout (idempotent: also run in worker processes)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if logger.handlers:
            continue
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False


def serve(settings: Settings) -> None:
    """Run ``modelyard server`` in the foreground until interrupted."""
    _configure_logging()
    check_settings(settings)
    with Registry.open(settings=settings) as registry:
        boot = bootstrap_admin(registry, settings.home)
        pipeline = boot.created and ensure_default_pipeline(registry)
    url = f"http://{settings.host}:{settings.port}"
    if boot.created:
        print(f"first start: created principal 'admin'; its token is in {boot.token_file}")
    if pipeline:
        print("first start: created the default pipeline release (modelyard pipeline show release)")
    else:
        print(f"admin token (from the first start): {boot.token_file}")
    print(f"modelyard serving on {url}  (API {url}/api/v1, docs {url}/docs)", flush=True)
    _export(settings)
    uvicorn.run(
        "modelyard.api.server:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_level="warning",
        server_header=False,
    )


def _export(settings: Settings) -> None:
    """Hand the resolved settings to worker processes through the environment."""
    os.environ["MODELYARD_HOME"] = str(settings.home.resolve())
    for name in ("db_url", "blobs_url", "cache_dir", "audit_key_file"):
        value = getattr(settings, name)
        if value is not None:
            os.environ[f"MODELYARD_{name.upper()}"] = str(value)
    for name in (
        "max_blob_bytes",
        "checkpoint_interval",
        "embedded_worker",
        "delivery_threads",
        "run_threads",
        "event_retention",
        "sagemaker_account",
        "sagemaker_region",
    ):
        os.environ[f"MODELYARD_{name.upper()}"] = str(getattr(settings, name))
