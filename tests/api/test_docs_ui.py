"""``/docs`` is Swagger UI served by modelyard itself, against a real server on loopback: the
page loads nothing from another host (so it works on a network without a CDN), every asset it
names is served, and the vendored files are the ones their README lists."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from modelyard import Registry
from modelyard.api.docs_ui import ASSETS
from modelyard.config import Settings
from tests.server import running_server


class _References(HTMLParser):
    """The URLs an HTML page makes the browser load: ``src`` and ``href`` attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value is not None:
                self.urls.append((tag, value))


def references(page: str) -> list[tuple[str, str]]:
    parser = _References()
    parser.feed(page)
    return parser.urls


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    registry = Registry.open(tmp_path_factory.mktemp("docs-ui"))
    with running_server(registry, Settings(embedded_worker=False)) as url:
        yield url
    registry.close()


def test_docs_loads_only_assets_the_server_serves(server: str) -> None:
    page = httpx.get(f"{server}/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not re.findall(r"(?:https?:)?//[\w.-]+", page.text), "the page names another host"
    urls = references(page.text)
    assert {tag for tag, _ in urls} == {"link", "script"}
    assert len(urls) == 3  # the stylesheet, the icon, the script
    expected_type = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for _, url in urls:
        assert url.startswith("/docs/assets/"), url
        asset = httpx.get(f"{server}{url}")
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith(expected_type[Path(url).suffix]), url
        assert asset.content == (ASSETS / Path(url).name).read_bytes(), url
    # the spec it shows is the server's, and no validator elsewhere is asked about it
    assert "url: '/openapi.json'" in page.text
    assert '"validatorUrl": null' in page.text
    spec = httpx.get(f"{server}/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "modelyard"


def test_the_stylesheet_loads_nothing_from_elsewhere() -> None:
    css = (ASSETS / "swagger-ui.css").read_text(encoding="utf-8")
    loaded = re.findall(r"url\(\s*['\"]?([^'\")]*)", css)
    assert loaded, "the stylesheet embeds its images"
    assert all(url.startswith("data:") for url in loaded), loaded
    assert "@import" not in css


def test_only_the_docs_page_is_served_not_redoc_or_the_oauth_redirect(server: str) -> None:
    for path in ("/redoc", "/docs/oauth2-redirect", "/docs/assets/no-such-file.js"):
        assert httpx.get(f"{server}{path}").status_code == 404, path
    assert httpx.get(f"{server}/docs/assets/LICENSE").status_code == 200
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/docs")], "the docs are not API operations"


def test_the_vendored_files_are_the_ones_their_readme_lists() -> None:
    readme = (ASSETS / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", readme, re.M))
    present = {p.name for p in ASSETS.iterdir() if p.name != "README.md"}
    assert set(listed) == present
    for name, digest in listed.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    assert {"LICENSE", "NOTICE"} <= present
    assert "Apache License" in (ASSETS / "LICENSE").read_text(encoding="utf-8")
