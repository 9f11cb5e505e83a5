"""Server URLs as users paste them: the API root and trailing slashes are dropped."""

from __future__ import annotations

import pytest

from modelyard import Client, ValidationError
from modelyard.domain.server_urls import server_base_url


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("http://host:8080", "http://host:8080"),
        ("http://host:8080/", "http://host:8080"),
        ("http://host:8080/api/v1", "http://host:8080"),
        ("http://host:8080/api/v1/", "http://host:8080"),
        ("https://models.example/registry/api/v1", "https://models.example/registry"),
        ("https://models.example/registry/", "https://models.example/registry"),
        (" http://[::1]:8080 ", "http://[::1]:8080"),
    ],
)
def test_accepted(given: str, base: str) -> None:
    assert server_base_url(given) == base


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("host:8080", "it does not start with http:// or https://"),
        ("", "it does not start with http:// or https://"),
        ("file:///tmp/x", "it does not start with http:// or https://"),
        ("https://", "no host"),
        ("http://host:port", "Port could not be cast"),
        ("http://host/#top", "no ?query or #fragment"),
    ],
)
def test_refused_naming_the_rule(given: str, why: str) -> None:
    with pytest.raises(ValidationError) as info:
        server_base_url(given)
    assert info.value.field == "url"
    assert why in str(info.value)


def test_the_client_takes_the_api_root_too() -> None:
    with Client("http://127.0.0.1:1/api/v1/", "t") as client:
        assert client.url == "http://127.0.0.1:1"
    with pytest.raises(ValidationError, match="not a server URL"):
        Client("127.0.0.1:8080")
