"""The HTTP API (FastAPI): thin translation between HTTP and the services."""

from modelyard.api.app import create_app

__all__ = ["create_app"]
