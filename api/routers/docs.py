"""``GET /docs`` and ``GET /redoc``: the API's documentation pages, served offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on an intranet with no
internet they stay blank. These pages are the same HTML (FastAPI's
``get_swagger_ui_html`` / ``get_redoc_html``) pointed at the copies vendored under
``api/static/vendor`` (see its README.md), so no request leaves the server. The app
is built with ``docs_url=None, redoc_url=None`` and includes this router instead;
``/openapi.json`` stays FastAPI's.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
"""The folder served at :data:`STATIC_URL` (vendored assets under ``vendor/``)."""
STATIC_URL = "/static"
SWAGGER_UI_DIR = "vendor/swagger-ui-dist-5.36.0"
REDOC_DIR = "vendor/redoc-2.5.4"
DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        # FastAPI's pages start Swagger UI / ReDoc with an inline script
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",  # ReDoc's search runs in a worker made from a blob
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The pages' Content-Security-Policy: the browser loads nothing from another host. ReDoc
2.5.4 always renders its vendor's logo from that vendor's CDN; this policy refuses it before
any request is made (the image then hides itself)."""
SWAGGER_UI_PARAMETERS = {
    # Swagger UI would otherwise show a badge image fetched from the online validator
    "validatorUrl": None,
}

router = APIRouter(tags=["docs"], include_in_schema=False)


def _static(request: Request, path: str) -> str:
    """The URL path of a file under ``api/static``, behind any proxy prefix (root_path)."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{root}{STATIC_URL}/{path}"


def _openapi_url(request: Request) -> str:
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{root}{request.app.openapi_url}"


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, from the vendored swagger-ui-dist."""
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - 接口文档 API docs",
        swagger_js_url=_static(request, f"{SWAGGER_UI_DIR}/swagger-ui-bundle.js"),
        swagger_css_url=_static(request, f"{SWAGGER_UI_DIR}/swagger-ui.css"),
        swagger_favicon_url=_static(request, f"{SWAGGER_UI_DIR}/favicon-32x32.png"),
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over ``/openapi.json``, from the vendored redoc standalone bundle."""
    page = get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - 接口文档 API reference",
        redoc_js_url=_static(request, f"{REDOC_DIR}/redoc.standalone.js"),
        redoc_favicon_url=_static(request, f"{SWAGGER_UI_DIR}/favicon-32x32.png"),
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page
