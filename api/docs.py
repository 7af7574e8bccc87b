"""The interactive API docs, served from files shipped in a Python package.

FastAPI's default `/docs` page loads Swagger UI from a public CDN, which a machine
without internet access cannot reach. The `swagger-ui-bundle` package ships the same
files, so the page works on a closed network too.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

STATIC_PREFIX = "/docs-static"


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at `/docs` with its scripts and styles from this server."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=swagger_ui_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url=f"{STATIC_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PREFIX}/favicon-32x32.png",
        )
