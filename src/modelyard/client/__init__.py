"""The HTTP client: ``modelyard.Client(url, token)``, the same interface as ``Registry``."""

from modelyard.client.client import Client

__all__ = ["Client"]
