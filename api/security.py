"""Who may call which route: one policy table, enforced in one place.

:data:`POLICY` maps every route of the app, ``(method, path template)``, to
the roles allowed to call it (``admin`` may call every route). The
:class:`SecurityMiddleware` applies it to every request before the app sees
it:

1. it finds the route the request goes to, as the router will (the routes'
   path patterns in the router's order, :func:`app_routes`): API routes, the plain
   routes of ``/docs``, ``/redoc`` and ``/openapi.json``, and mounts such as
   ``/static`` alike (an app-level FastAPI dependency would not run for
   the last two kinds);
2. public routes (:data:`PUBLIC`) pass; for every other one it
   authenticates by ``Authorization: Bearer <token>`` or the session cookie
   (:data:`COOKIE_NAME`), refusing unknown, expired and disabled users with
   401 and ``WWW-Authenticate`` (a web page, :func:`is_page`, redirects to the
   login page instead);
3. a role not in the route's entry gets 403 (a web page: a 403 page); a route
   missing from the table is refused to everybody but ``admin`` (fail closed),
   and a test fails on it;
4. an unsafe method (POST, PUT, PATCH, DELETE) authenticated by the cookie
   must carry the session's CSRF value in ``X-CSRF-Token`` or a
   ``csrf_token`` form field (403 otherwise); bearer requests are exempt, as
   a browser never adds that header on its own;
5. it puts the :class:`gridgeo.User` in the request scope (read by
   :data:`api.deps.CurrentUser`) and tells the serialiser whether the role
   may see personal data (:func:`api.serialise.show_personal_data`);
6. it records every unsafe request (any status, refusals of logged-in users
   and failed logins included) in the workspace's audit log: who, role,
   method, route template and path, target id, a summary of the body without
   passwords, every versioned layer's version before and after, and the status.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from anyio import to_thread
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import gridgeo
from api.cache import KEPT_ROUTES, answer_kept
from api.serialise import show_personal_data

logger = logging.getLogger(__name__)

COOKIE_NAME = "gridgeo_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
USER_KEY = "gridgeo.user"  # the scope key of the authenticated gridgeo.User
TOKEN_KEY = "gridgeo.token"  # the scope key of the token or cookie value it came with
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# writes under these routes change users or sessions: the token cache is cleared after them
CACHE_CLEARING_PREFIXES = ("/admin/", "/auth/")
SECRET_KEYS = frozenset({"password", "new_password", "old_password", CSRF_FIELD, "token"})
WHAT_MAX_CHARS = 2000
WHAT_MAX_TEXT = 200

Route = tuple[str, str]
ALL_ROLES = frozenset(gridgeo.ROLES)
GRID_ROLES = frozenset(gridgeo.GRID_ROLES)

# Routes anyone may call, logged in or not.
PUBLIC: frozenset[Route] = frozenset(
    {
        ("GET", "/health"),
        ("POST", "/auth/login"),
        ("POST", "/auth/token"),
        ("GET", "/login"),  # the login page
        ("GET", "/"),  # redirects to the user's own page, or to /login (api.pages.login)
        ("GET", "/static"),  # vendored JS/CSS/fonts (a mount: everything under it)
    }
)

_GRIDS_READ = {
    ("GET", "/grids"),
    ("GET", "/grids/{grid_id}"),
    ("GET", "/grids/versions"),
    ("GET", "/grids/validate"),
}
_AGGREGATES = {
    *_GRIDS_READ,
    ("GET", "/kpis"),
    ("GET", "/figures"),
    ("GET", "/reports/month/{month}"),
    ("GET", "/stars"),
    ("GET", "/watch"),
    ("GET", "/plan/sites"),
}
_CUSTOMERS_READ = {
    ("GET", "/grids/{grid_id}/customers"),
    ("GET", "/customers"),
    ("GET", "/customers/{customer_id}"),
}
_ORDERS_ALL = {
    ("GET", "/orders"),
    ("GET", "/orders/{order_id}"),
    ("POST", "/orders"),
    ("PATCH", "/orders/{order_id}"),
}
# visit and callback records, coverage, call lists: the grid roles (their grids only)
_VISITS_ALL = {
    ("GET", "/visits"),
    ("POST", "/visits"),
    ("GET", "/visits/coverage"),
    ("GET", "/visits/callbacks"),
}
_EVERY_USER = {
    ("GET", "/auth/me"),
    ("POST", "/auth/logout"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/openapi.json"),
}

# What each role may do besides _EVERY_USER (admin: everything, see POLICY).
MAY: dict[str, set[Route]] = {
    "leader": {
        *_AGGREGATES,
        ("GET", "/overview"),  # the overview page
        ("GET", "/grids/compare"),  # two versions of the grids compared (no personal data)
    },
    "dispatcher": {
        ("GET", "/console"),  # the dispatcher console page
        ("GET", "/dispatch"),
        ("POST", "/dispatch"),
        ("GET", "/dispatch/stations"),  # station availability (在岗 / 忙碌 / 外出)
        ("PUT", "/dispatch/stations/{station_id}"),
        *_ORDERS_ALL,
        *_CUSTOMERS_READ,
        *_GRIDS_READ,
        ("GET", "/kpis"),
        ("GET", "/figures"),
        ("GET", "/stars"),
        ("GET", "/watch"),
    },
    "planner": {
        ("GET", "/planner"),  # the planner's map editor page
        ("GET", "/grids/villages"),  # villages by name or code, with their grid
        ("GET", "/grids/moves"),  # which grids a village may join
        ("GET", "/grids/substations"),  # the substations a supply grid may be headed by
        ("GET", "/grids/compare"),  # two versions of the grids compared
        *_GRIDS_READ,
        *_CUSTOMERS_READ,
        ("POST", "/grids/preview"),
        ("POST", "/grids/save"),
        ("POST", "/grids/restore"),
        ("GET", "/plan/sites"),
        ("GET", "/kpis"),
        ("GET", "/figures"),
        ("GET", "/reports/month/{month}"),
    },
    "grid_manager": {
        ("GET", "/my"),  # the page of my grids
        *_GRIDS_READ,
        *_CUSTOMERS_READ,
        ("GET", "/orders"),
        ("GET", "/orders/{order_id}"),
        ("PATCH", "/orders/{order_id}"),
        *_VISITS_ALL,
        ("GET", "/figures"),
        ("GET", "/stars"),
        ("GET", "/watch"),
    },
    "admin": {
        ("GET", "/admin"),  # the users and audit page
        ("GET", "/admin/users"),
        ("POST", "/admin/users"),
        ("PATCH", "/admin/users/{username}"),
        ("POST", "/admin/users/{username}/password"),
        ("GET", "/admin/audit"),
    },
}
MAY["grid_member"] = set(MAY["grid_manager"])


def _policy(may: Mapping[str, Iterable[Route]]) -> dict[Route, frozenset[str]]:
    table: dict[Route, set[str]] = {route: set(ALL_ROLES) for route in _EVERY_USER}
    for role, routes in may.items():
        for route in routes:
            table.setdefault(route, set()).add(role)
    for roles in table.values():
        roles.add("admin")
    return {route: frozenset(roles) for route, roles in table.items()}


# (method, path template) -> the roles allowed; admin is in every entry.
POLICY: dict[Route, frozenset[str]] = _policy(MAY)


def allowed_roles(route: Route) -> frozenset[str]:
    """The roles that may call ``route``: admin only when it is not in :data:`POLICY`."""
    return POLICY.get(route, frozenset({"admin"}))


@dataclass(frozen=True)
class RouteEntry:
    """One route of the app as the policy sees it: methods (None: a mount, any method),
    path template, and the compiled pattern the router matches paths with."""

    methods: frozenset[str] | None
    path: str
    regex: re.Pattern[str]
    convertors: dict[str, Any]


def app_routes(routes: Iterable[Any]) -> list[RouteEntry]:
    """Every route of the app in the router's order, routers included by
    ``include_router`` flattened (FastAPI keeps them as one entry per router)."""
    out = []
    for route in routes:
        if hasattr(route, "effective_route_contexts"):  # an included router
            out += app_routes(route.effective_route_contexts())
            continue
        if isinstance(route, Mount):
            regex, _, convertors = compile_path(route.path.rstrip("/") + "/{path:path}")
            out.append(RouteEntry(None, route.path, regex, convertors))
            continue
        path = getattr(route, "path", None)
        if path is None:
            continue
        methods = frozenset(getattr(route, "methods", None) or ())
        regex, _, convertors = compile_path(path)
        out.append(RouteEntry(methods, path, regex, convertors))
    return out


def match_route(entries: Iterable[RouteEntry], scope: Scope) -> tuple[Route | None, dict[str, Any]]:
    """The ``(method, path template)`` the router will send ``scope`` to, and its path
    parameters; None when no route matches the path and method (the router answers
    404 or 405). ``HEAD`` counts as ``GET``; a mount (``/static``) is keyed by its path."""
    method = "GET" if scope["method"] == "HEAD" else scope["method"]
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    for entry in entries:
        found = entry.regex.match(path)
        if found is None:
            continue
        if entry.methods is None:
            return (method, entry.path), {}
        if scope["method"] in entry.methods or method in entry.methods:
            params = {
                k: entry.convertors[k].convert(v) if k in entry.convertors else v
                for k, v in found.groupdict().items()
            }
            return (method, entry.path), params
    return None, {}


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def not_authenticated(detail: str | None = None) -> JSONResponse:
    """401 with ``WWW-Authenticate: Bearer``."""
    msg = detail or (
        "需要登录 / log in first: POST /auth/login (a page session) or POST /auth/token, then "
        "send `Authorization: Bearer <token>`; an administrator makes tokens with "
        "`gridgeo users token NAME`"
    )
    return _json(
        401,
        {"error": "NotAuthenticated", "detail": msg},
        {"WWW-Authenticate": 'Bearer realm="gridgeo"'},
    )


def forbidden(user: gridgeo.User, route: Route) -> JSONResponse:
    """403 naming the role and the route."""
    msg = (
        f"无权限 / role {user.role} ({user.role_zh}) may not use {route[0]} {route[1]}: "
        "ask an administrator for another role"
    )
    return _json(403, {"error": "Forbidden", "detail": msg})


def is_page(route: Route | None) -> bool:
    """Whether ``route`` is a web page (``GET`` of a path in :data:`api.pages.PAGES`).

    A page answers a browser, not an API client: without a valid session it redirects to
    the login page (which comes back after logging in), and a role that may not open it
    gets a 403 page with links to the user's own page and to log out, not JSON.
    """
    if route is None or route[0] != "GET":
        return False
    from api.pages import page_paths  # api.pages imports this module

    return route[1] in page_paths()


def _page_answer(kind: str, scope: Scope) -> Response:
    """The page's answer instead of the JSON 401 (``login``) or 403 (``forbidden``)."""
    from api.pages import forbidden_page, login_redirect  # api.pages imports this module

    request = Request(scope)
    return login_redirect(request) if kind == "login" else forbidden_page(request)


def csrf_refused() -> JSONResponse:
    """403 for a cookie-authenticated write without the session's CSRF value."""
    msg = (
        "缺少或错误的 CSRF 令牌 / missing or wrong CSRF token: send the `csrf_token` from "
        "POST /auth/login or GET /auth/me in the `X-CSRF-Token` header (or a `csrf_token` "
        "form field), or use `Authorization: Bearer <token>`"
    )
    return _json(403, {"error": "CSRFError", "detail": msg})


def credentials(headers: Headers) -> tuple[str, str] | None:
    """``("bearer", token)`` from ``Authorization``, else ``("cookie", value)``, else None."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return "bearer", value.strip()
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE_NAME and value:
            return "cookie", value
    return None


def summary_of_body(body: bytes, content_type: str) -> dict[str, Any]:
    """A short summary of a request body for the audit log: JSON or form fields with
    passwords and CSRF values left out, long text cut, lists counted."""
    if not body:
        return {}
    data: Any
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
            data = {k: v[0] if len(v) == 1 else v for k, v in form.items()}
        else:
            data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):  # not text, or nested too deep
        return {"body_bytes": len(body)}
    data = _shorten(data)
    if not isinstance(data, dict):
        data = {"body": data}
    text = json.dumps(data, ensure_ascii=False)
    if len(text) > WHAT_MAX_CHARS:
        return {"keys": sorted(map(str, data))[:50], "body_bytes": len(body)}
    return data


def _text(value: Any) -> str:
    """``value`` as text that UTF-8 can hold: a JSON body may carry lone surrogates
    (``"\\ud800"``), which SQLite cannot store and no answer can send; they become ``?``."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _shorten(value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict | list) and depth > 3:
        return "{…}" if isinstance(value, dict) else "[…]"
    if isinstance(value, dict):
        return {
            _text(k): _shorten(v, depth + 1) for k, v in value.items() if str(k) not in SECRET_KEYS
        }
    if isinstance(value, list):
        if len(value) > 20:
            return f"[{len(value)} items]"
        return [_shorten(v, depth + 1) for v in value]
    if isinstance(value, str):
        value = _text(value)
        if len(value) > WHAT_MAX_TEXT:
            return value[:WHAT_MAX_TEXT] + "…"
    return value


def _target(params: Mapping[str, Any], what: Mapping[str, Any]) -> str:
    if params:
        return ",".join(str(v) for v in params.values())
    for key in ("order_id", "username", "to_grid_id", "grid_id", "customer_id"):
        if isinstance(what.get(key), str | int):
            return str(what[key])
    if isinstance(what.get("grid_ids"), list):
        return ",".join(map(str, what["grid_ids"]))
    return ""


class SecurityMiddleware:
    """Authentication, the role policy, CSRF, the personal-data flag and the audit log
    (see the module docstring). Add it with ``app.add_middleware(SecurityMiddleware)``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fastapi_app = scope["app"]
        store: gridgeo.GeoPackageStore = fastapi_app.state.store
        entries = getattr(fastapi_app.state, "security_routes", None)
        if entries is None:  # built on the first request, when every router is included
            entries = fastapi_app.state.security_routes = app_routes(fastapi_app.router.routes)
        route, params = match_route(entries, scope)
        method = scope["method"]
        headers = Headers(scope=scope)
        unsafe = method in UNSAFE_METHODS
        if route in PUBLIC:
            show_personal_data(False)
            if not unsafe:
                await self.app(scope, receive, send)
                return
            await self._audited(scope, receive, send, store, route, params, None)
            return
        found = credentials(headers)
        who = await self._who(fastapi_app, store, found[1]) if found else None
        if found is None or who is None:
            if is_page(route):  # a browser opening a page: to the login page and back
                await _page_answer("login", scope)(scope, receive, send)
                return
            await not_authenticated()(scope, receive, send)
            return
        user, session = who
        scope[USER_KEY] = user
        scope[TOKEN_KEY] = found[1]
        show_personal_data(user.sees_personal_data)
        if route is None:  # no such path or method: the router answers 404 / 405
            await self.app(scope, receive, send)
            return
        refusal = None
        if user.role not in allowed_roles(route):
            refusal = forbidden(user, route)
        if not unsafe:
            if refusal is not None and is_page(route):  # a page refuses with a page
                page = await to_thread.run_sync(_page_answer, "forbidden", scope)
                await page(scope, receive, send)
                return
            if refusal is None and route in KEPT_ROUTES:  # answered again if kept
                grids = tuple(sorted(user.grids)) if user.role in GRID_ROLES else None
                view = (user.sees_personal_data, grids)
                await answer_kept(self.app, scope, receive, send, view=view)
                return
            await (refusal or self.app)(scope, receive, send)
            return
        body, receive = await _read_body(receive)
        if refusal is None and found[0] == "cookie":
            token = headers.get(CSRF_HEADER)
            if token is None and headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"
            ):
                form = parse_qs(body.decode("utf-8", "replace"))
                token = (form.get(CSRF_FIELD) or [""])[0]
            if not gridgeo.csrf_matches(session, token):
                refusal = csrf_refused()
        await self._audited(scope, receive, send, store, route, params, user, body, refusal)

    async def _who(
        self, app: Any, store: gridgeo.GeoPackageStore, token: str
    ) -> tuple[gridgeo.User, gridgeo.Session] | None:
        """The user of a token, from the app's short-lived cache or the workspace."""
        cache: AuthCache | None = getattr(app.state, "auth_cache", None)
        if cache is None:
            settings = getattr(app.state, "settings", None)
            cache = app.state.auth_cache = AuthCache(getattr(settings, "auth_cache_s", 0.0))
        who = cache.get(token)
        if who is None:
            who = await to_thread.run_sync(gridgeo.user_for_token, store, token)
            if who is not None:
                cache.put(token, who)
        return who

    async def _audited(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        store: gridgeo.GeoPackageStore,
        route: Route,
        params: dict[str, Any],
        user: gridgeo.User | None,
        body: bytes | None = None,
        refusal: JSONResponse | None = None,
    ) -> None:
        """Answer an unsafe request (by the app, or by ``refusal``) and record it."""
        if body is None:
            body, receive = await _read_body(receive)
        headers = Headers(scope=scope)
        what = summary_of_body(body, headers.get("content-type", ""))
        username = user.username if user else str(what.get("username", ""))[:64]
        status = 500
        before = await to_thread.run_sync(_versions, store)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await (refusal or self.app)(scope, receive, send_status)
        finally:
            if route[1].startswith(CACHE_CLEARING_PREFIXES):
                cache = getattr(scope["app"].state, "auth_cache", None)
                if cache is not None:  # a user, role or session changed: look them up again
                    cache.clear()
            after = before if refusal is not None else await to_thread.run_sync(_versions, store)
            entry = {
                "username": username,
                "role": user.role if user else "",
                "method": scope["method"],
                "route": route[1],
                "path": scope.get("path", ""),
                "target": _target(params, what),
                "what": what,
                "versions_before": before,
                "versions_after": after,
                "status": status,
            }
            try:
                await to_thread.run_sync(gridgeo.record_audit, store, entry)
            except gridgeo.GridGeoError:
                logger.exception("could not record the audit row of %s %s", *route)


class AuthCache:
    """Tokens already checked, kept ``ttl_s`` seconds so that a request costs no workspace
    read (0 turns it off). A change made through this app (``/admin/…``, ``/auth/logout``)
    clears it at once; one made by another worker or the CLI is seen within ``ttl_s``."""

    def __init__(self, ttl_s: float, *, max_entries: int = 10_000) -> None:
        self.ttl_s = float(ttl_s)
        self.max_entries = max_entries
        self._kept: dict[str, tuple[float, tuple[gridgeo.User, gridgeo.Session]]] = {}

    def get(self, token: str) -> tuple[gridgeo.User, gridgeo.Session] | None:
        """The cached user and session, None if unknown, stale, or the session expired."""
        hit = self._kept.get(token)
        if hit is None:
            return None
        until, who = hit
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if time.monotonic() > until or who[1].expires_at <= now:
            self._kept.pop(token, None)
            return None
        return who

    def put(self, token: str, who: tuple[gridgeo.User, gridgeo.Session]) -> None:
        """Keep a checked token for ``ttl_s`` seconds."""
        if self.ttl_s <= 0:
            return
        if len(self._kept) >= self.max_entries:
            self._kept.clear()
        self._kept[token] = (time.monotonic() + self.ttl_s, who)

    def clear(self) -> None:
        """Forget every token."""
        self._kept.clear()


def _versions(store: gridgeo.GeoPackageStore) -> dict[str, int]:
    try:
        return gridgeo.layer_versions(store)
    except gridgeo.GridGeoError:
        logger.exception("could not read the layer versions for the audit log")
        return {}


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it on to the app."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), _replay(b"".join(chunks), receive, message)
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks), _replay(b"".join(chunks), receive, None)


def _replay(body: bytes, receive: Receive, last: Message | None) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if last is not None and last["type"] == "http.disconnect":
                return last
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
