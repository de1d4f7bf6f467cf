"""The web pages: server-rendered Jinja2 templates with a little JavaScript, no build step.

Each page is a router in ``api/pages/<page>.py`` (``APIRouter(include_in_schema=False)``)
whose routes return :func:`render`; its template is ``api/templates/<page>.html`` (extending
``base.html``) and its script ``api/static/app/<page>.js``. Pages read and write through the
same JSON routes as any API client (``gg.api`` in ``app.js``), so the role policy, CSRF, the
audit log and the masking of personal data hold for them as for the API.

Pages are served with :data:`PAGE_CSP`: scripts only from this server's files (no inline
``<script>`` code; hand data to a script in ``data-`` attributes or a
``<script type="application/json">`` block), nothing from another host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

import gridgeo
from api.security import TOKEN_KEY, USER_KEY

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
STATIC_URL = "/static"
LEAFLET_DIR = "vendor/leaflet-1.9.4"
GEOMAN_DIR = "vendor/leaflet-geoman-free-2.20.2"
HTMX_DIR = "vendor/htmx.org-2.0.11"

PAGE_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Leaflet and geoman set element styles; the templates keep their CSS in app.css
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The pages' Content-Security-Policy: nothing is loaded from another host, and no inline
script runs."""

# The pages and who sees them (admin may open every page; see api.security.MAY).
PAGES: dict[str, tuple[str, str]] = {
    "console": ("/console", "调度台"),
    "planner": ("/planner", "网格规划"),
    "my": ("/my", "我的网格"),
    "overview": ("/overview", "总览"),
    "admin": ("/admin", "用户与审计"),
}
HOME: dict[str, str] = {
    "dispatcher": "console",
    "planner": "planner",
    "grid_manager": "my",
    "grid_member": "my",
    "leader": "overview",
    "admin": "admin",
}
"""The page each role lands on after logging in (``GET /`` redirects there)."""
NAV: dict[str, tuple[str, ...]] = {
    "dispatcher": ("console",),
    "planner": ("planner",),
    "grid_manager": ("my",),
    "grid_member": ("my",),
    "leader": ("overview",),
    "admin": ("admin", "console", "planner", "overview"),
}
"""The pages in each role's navigation bar, in order."""

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def static_url(request: Request, path: str) -> str:
    """The URL path of a file under ``api/static``, behind any proxy prefix (root_path)."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{root}{STATIC_URL}/{path.lstrip('/')}"


def home_path(role: str) -> str | None:
    """The path of the page ``role`` lands on, None for a role with no page."""
    page = HOME.get(role)
    return PAGES[page][0] if page else None


def nav_links(role: str) -> list[dict[str, str]]:
    """``[{"href": ..., "label": ..., "page": ...}]``: the pages in ``role``'s navigation."""
    return [
        {"page": page, "href": PAGES[page][0], "label": PAGES[page][1]}
        for page in NAV.get(role, ())
    ]


def current_user(request: Request) -> gridgeo.User | None:
    """The logged-in user the security middleware found, None on a public page."""
    return request.scope.get(USER_KEY)


def csrf_token(request: Request) -> str:
    """The session's CSRF value (as ``GET /auth/me`` finds it); empty for none."""
    token = request.scope.get(TOKEN_KEY)
    if not token:
        return ""
    found = gridgeo.user_for_token(request.app.state.store, token)
    return (found[1].csrf or "") if found else ""


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    csp: str = PAGE_CSP,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` (under ``api/templates``) as a page.

    Parameters
    ----------
    request
        The page's request.
    template
        The template's file name, e.g. ``"console.html"``.
    status_code
        The answer's status (e.g. 403 for the refusal page).
    csp
        The Content-Security-Policy header (default :data:`PAGE_CSP`).
    **context
        The template's own values.

    Returns
    -------
    fastapi.responses.HTMLResponse
        With ``user`` (:class:`gridgeo.User` or None), ``role_zh``, ``csrf_token``,
        ``nav`` (the role's links), ``static(path)`` and ``vendor`` (the vendored folders)
        added to the context.
    """
    user = current_user(request)
    base: dict[str, Any] = {
        "user": user,
        "role_zh": user.role_zh if user else "",
        "csrf_token": csrf_token(request) if user else "",
        "nav": nav_links(user.role) if user else [],
        "static": lambda path: static_url(request, path),
        "vendor": {"leaflet": LEAFLET_DIR, "geoman": GEOMAN_DIR, "htmx": HTMX_DIR},
        "current_path": request.url.path,
    }
    response = templates.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )
    response.headers["Content-Security-Policy"] = csp
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def page_paths() -> frozenset[str]:
    """The paths of the pages that need a login (``/login`` and ``/`` are public)."""
    return frozenset(path for path, _ in PAGES.values())


def login_redirect(request: Request) -> RedirectResponse:
    """303 to the login page, which comes back here (``next``) after logging in: what a
    browser opening a page without a valid session gets instead of a 401."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"{root}/login?next={quote(here, safe='/')}", status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


def forbidden_page(request: Request) -> HTMLResponse:
    """403 as a page: the logged-in user's role may not open this page.

    It names the role and the page, links to the user's own page and offers to log out
    (as another user), instead of the JSON refusal API clients get. The user must be in
    the request scope (the security middleware puts it there).
    """
    user = current_user(request)
    role = (f"{user.role_zh} ({user.role})") if user else ""
    home = home_path(user.role) if user else None
    home_label = PAGES[HOME[user.role]][1] if user and user.role in HOME else ""
    return render(
        request,
        "forbidden.html",
        status_code=403,
        role=role,
        page=request.url.path,
        home=home,
        home_label=home_label,
    )
