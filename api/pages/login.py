"""``GET /login``: the login page; ``GET /``: each role's own page (or the login page)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

import gridgeo
from api.pages import home_path, render
from api.security import USER_KEY, credentials

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """A local path to go to after logging in (``/`` unless ``value`` is one of this site's)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    """The username and password form (public). It posts to ``POST /auth/login`` and then
    goes to ``next`` (a local path) or ``/``."""
    return render(request, "login.html", next_path=safe_next(next))


@router.get("/")
async def home(request: Request) -> Response:
    """Public: the logged-in user's own page by role, else the login page.

    The security middleware lets this route through without a login, so it looks the
    session up itself, as the middleware would.
    """
    found = credentials(request.headers)
    who = None
    if found is not None:
        who = await run_in_threadpool(gridgeo.user_for_token, request.app.state.store, found[1])
    if who is None:
        return RedirectResponse("/login", status_code=303)
    user = who[0]
    target = home_path(user.role)
    if target is None:  # a role with no page of its own
        request.scope[USER_KEY] = user  # for the header of the refusal page
        return render(
            request,
            "error.html",
            status_code=403,
            heading="无权限 / Forbidden",
            text=f"角色 {user.role_zh} ({user.role}) 没有网页 / has no page: ask an administrator "
            "for another role",
        )
    return RedirectResponse(target, status_code=303)
