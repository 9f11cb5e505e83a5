"""``/docs``: Swagger UI over ``/openapi.json``, from the copy in ``swagger_ui/`` (no CDN).

FastAPI's default page loads Swagger UI from a CDN, so on a network that cannot reach it the
page is blank. Here the page and its assets come from the server itself, and nothing else is
fetched: no favicon from elsewhere, and no spec validator (Swagger UI would send the spec's URL
to validator.swagger.io for its badge). ReDoc is not served: one interactive page is enough,
and it would add another megabyte of JavaScript to the package.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
ASSETS = Path(__file__).resolve().parent / "swagger_ui"


def install(app: FastAPI) -> None:
    """Serve the Swagger UI page at ``/docs`` and its assets under ``/docs/assets/``."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="swagger-ui")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
