"""HTTP plumbing for the client: one connection pool, bearer auth, errors back into the
ModelyardError tree (so callers catch the same exceptions as in local mode)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson

from modelyard.domain.server_urls import server_base_url
from modelyard.errors import (
    AuthenticationError,
    ConflictError,
    IntegrityError,
    InvalidTransitionError,
    ModelyardError,
    NotFoundError,
    PermissionDeniedError,
    PolicyError,
    StorageError,
    ValidationError,
)

_BY_CODE: dict[str, type[ModelyardError]] = {
    "validation_error": ValidationError,
    "config_error": ValidationError,
    "unauthenticated": AuthenticationError,
    "permission_denied": PermissionDeniedError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "invalid_transition": InvalidTransitionError,
    "policy_violation": PolicyError,
    "integrity_error": IntegrityError,
    "storage_error": StorageError,
}
_BY_STATUS: dict[int, type[ModelyardError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: ValidationError,
    416: ValidationError,
    422: IntegrityError,
}
TIMEOUT = httpx.Timeout(30.0, read=300.0)


class Transport:
    def __init__(self, url: str, token: str | None) -> None:
        base = server_base_url(url)  # also accepts the API root, …/api/v1
        headers = {"User-Agent": "modelyard-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base = base
        self.http = httpx.Client(base_url=base, headers=headers, timeout=TIMEOUT)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; the decoded JSON body (``None`` for 204), or raise the error."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise StorageError(f"cannot reach {self.base}: {type(e).__name__}: {e}") from e
        raise_for(response)
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return orjson.loads(response.content)
        return response.text

    def stream_lines(self, path: str) -> Iterator[str]:
        with self.http.stream("GET", path) as response:
            if response.status_code >= 400:
                response.read()
                raise_for(response)
            for line in response.iter_lines():
                yield line + "\n"

    def stream_bytes(self, path: str, headers: dict[str, str] | None = None) -> Iterator[bytes]:
        with self.http.stream("GET", path, headers=headers) as response:
            if response.status_code >= 400:
                response.read()
                raise_for(response)
            try:
                yield from response.iter_bytes(1024 * 1024)
            except httpx.TransportError as e:
                raise IntegrityError(
                    f"the server stopped sending {path} before its end ({e}): a failed "
                    "integrity check on the server (see its log) or a dropped connection"
                ) from None


def raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json()["error"]
        code, message, field = error["code"], error["message"], error.get("field")
    except (ValueError, KeyError, TypeError):
        code, message, field = "", f"HTTP {response.status_code}: {response.text[:200]}", None
    kind = _BY_CODE.get(code) or _BY_STATUS.get(response.status_code)
    if kind is None:
        kind = StorageError if response.status_code >= 500 else ModelyardError
    raise kind(message, field=field)
