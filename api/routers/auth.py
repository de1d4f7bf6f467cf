"""``/auth``: log in (page session cookie or API token), log out, who am I."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

import gridgeo
from api.deps import CurrentUser, SettingsDep, StoreDep
from api.errors import error_responses
from api.security import COOKIE_NAME, TOKEN_KEY

router = APIRouter(prefix="/auth", tags=["auth"])

_CREDENTIALS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "minLength": 1},
                        "password": {"type": "string", "minLength": 1, "format": "password"},
                    },
                }
            }
            for media in ("application/json", "application/x-www-form-urlencoded")
        },
    }
}
LOGIN_ANSWERS = error_responses(400, 401, 429)


def _user_body(user: gridgeo.User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "role_zh": user.role_zh,
        "grids": list(user.grids),
    }


async def _credentials(request: Request) -> tuple[str, str]:
    """``username`` and ``password`` from a JSON or form body (400 naming what is missing)."""
    body = await request.body()
    kind = request.headers.get("content-type", "")
    data: Any
    try:
        if kind.startswith("application/x-www-form-urlencoded"):
            data = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        else:
            data = json.loads(body or b"null")
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        data = {}
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not username or not isinstance(password, str):
        msg = (
            "请输入用户名和密码 / give `username` and `password` as JSON "
            '({"username": "...", "password": "..."}) or as form fields'
        )
        raise gridgeo.InputError(msg)
    return username, password


async def _login(request: Request, store: gridgeo.GeoPackageStore) -> gridgeo.User:
    username, password = await _credentials(request)
    address = request.client.host if request.client else None
    return await run_in_threadpool(gridgeo.authenticate, store, username, password, address=address)


@router.post("/login", openapi_extra=_CREDENTIALS_BODY, responses=LOGIN_ANSWERS)
async def login(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """Log in for the pages: sets an HttpOnly, SameSite=Strict session cookie and answers the
    user and the ``csrf_token`` to send with every write (``X-CSRF-Token`` header or a
    ``csrf_token`` form field). After 5 failed logins a name is locked (429, ``Retry-After``),
    for twice as long after each further failure."""
    user = await _login(request, store)
    session = await run_in_threadpool(
        gridgeo.start_session,
        store,
        user.username,
        kind="session",
        lifetime_s=settings.session_hours * 3600,
    )
    secure = settings.cookie_secure
    if secure is None:
        secure = request.url.scheme == "https"
    response = JSONResponse(
        {**_user_body(user), "csrf_token": session.csrf, "expires_at": session.expires_at}
    )
    response.set_cookie(
        COOKIE_NAME,
        session.token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    return response


@router.post("/token", openapi_extra=_CREDENTIALS_BODY, responses=LOGIN_ANSWERS)
async def token(request: Request, store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    """An API token for ``Authorization: Bearer <token>`` (valid ``GRIDGEO_TOKEN_DAYS`` days;
    bearer requests need no CSRF token). Throttled as ``POST /auth/login``."""
    user = await _login(request, store)
    session = await run_in_threadpool(
        gridgeo.start_session,
        store,
        user.username,
        kind="token",
        lifetime_s=settings.token_days * 86400,
    )
    return {
        "access_token": session.token,
        "token_type": "bearer",
        "expires_at": session.expires_at,
        **_user_body(user),
    }


@router.post("/logout", responses=error_responses(401, 403))
def logout(request: Request, store: StoreDep, user: CurrentUser) -> Response:
    """End this session (or revoke this token) and clear the cookie."""
    gridgeo.end_session(store, request.scope.get(TOKEN_KEY, ""))
    response = JSONResponse({"logged_out": user.username})
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me", responses=error_responses(401))
def me(request: Request, store: StoreDep, user: CurrentUser) -> dict[str, Any]:
    """Who is logged in: name, role, grids, and the session's ``csrf_token`` (null for a
    bearer token, which needs none)."""
    found = gridgeo.user_for_token(store, request.scope.get(TOKEN_KEY, ""))
    csrf = found[1].csrf if found else ""
    return {**_user_body(user), "csrf_token": csrf or None}
