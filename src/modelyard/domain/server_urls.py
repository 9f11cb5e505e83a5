"""The URL of a modelyard server, as users paste it: ``http://host:8080``, with or without
a trailing ``/`` or the API root ``/api/v1`` (what the server's banner prints)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from modelyard.errors import ValidationError

API_ROOT = "/api/v1"
EXAMPLE = "http://HOST:PORT or https://HOST[/PREFIX]"


def server_base_url(url: str) -> str:
    """The server's base URL (no trailing ``/``, no ``/api/v1``), or a ValidationError
    naming ``url`` for anything that is not an http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as e:
        raise _bad(url, str(e)) from None
    if parts.scheme not in {"http", "https"}:
        raise _bad(url, "it does not start with http:// or https://")
    if not parts.hostname:
        raise _bad(url, "no host")
    if parts.query or parts.fragment:
        raise _bad(url, "a server URL has no ?query or #fragment")
    path = parts.path.rstrip("/")
    if path.endswith(API_ROOT):  # the API root was pasted: the client adds it itself
        path = path.removesuffix(API_ROOT)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _bad(url: str, why: str) -> ValidationError:
    return ValidationError(
        f"url: {url!r} is not a server URL ({why}); expected {EXAMPLE}", field="url"
    )
