"""How errors become HTTP answers: one table, registered once.

gridgeo raises narrow exceptions (:class:`gridgeo.GridGeoError` subclasses)
whose messages name the field and the fix; they are sent to the client as
they are. Anything else is a bug: it is logged with its traceback and
answered with a generic 500 body that tells the client nothing internal.
"""

from __future__ import annotations

import logging
import os
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import gridgeo
from api.schemas import ErrorBody
from api.serialise import records, to_jsonable

logger = logging.getLogger(__name__)

# Looked up along the exception's MRO, so the most specific class wins.
STATUS_CODES: dict[type[gridgeo.GridGeoError], int] = {
    gridgeo.LoginLockedError: 429,
    gridgeo.LoginError: 401,
    gridgeo.GridTopologyError: 422,
    gridgeo.NotFoundError: 404,
    gridgeo.ConflictError: 409,
    gridgeo.InputError: 400,
    gridgeo.GridGeoError: 400,
}
INTERNAL_ERROR_DETAIL = "internal server error; the error was logged for the administrator"
ERROR_MEANINGS = {
    400: "bad input: `detail` names the field and the fix",
    401: "not logged in, or a wrong, expired or disabled login (see `WWW-Authenticate`)",
    403: "the role may not use this route, or a cookie write lacks its CSRF token",
    404: "not found: `detail` says how to list what exists",
    409: "conflict: already stored, or changed meanwhile",
    422: "invalid request: `errors` lists the fields",
    429: "too many failed logins: wait `Retry-After` seconds",
}
# answers of the limits (api.limits) that any route may give, declared on every route
LIMIT_MEANINGS = {
    400: "bad input, or a `Host` not in GRIDGEO_ALLOWED_HOSTS: `detail` says which",
    408: "the request body did not arrive within GRIDGEO_BODY_TIMEOUT_S",
    413: "request body larger than GRIDGEO_MAX_BODY_BYTES (not read)",
    414: "query string longer than GRIDGEO_MAX_QUERY_BYTES (not echoed)",
    503: "busy: GRIDGEO_MAX_HEAVY heavy requests running; retry after `Retry-After` seconds",
}


def error_responses(
    *codes: int, meanings: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: its 4xx answers (body :class:`ErrorBody`) for OpenAPI.

    ``meanings`` replaces the :data:`ERROR_MEANINGS` text of some codes for this route.
    """
    text = {**ERROR_MEANINGS, **(meanings or {})}
    return {code: {"model": ErrorBody, "description": text[code]} for code in codes}


def media_responses(description: str, **schemas: dict[str, Any]) -> dict[int | str, Any]:
    """The ``responses=`` entry of a route whose 200 comes in other media types too, besides
    JSON: ``media_responses("...", **{"text/html": {"type": "string"}})``."""
    content = {media: {"schema": schema} for media, schema in schemas.items()}
    return {200: {"description": description, "content": content}}


def limit_responses() -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of the app: the answers of :mod:`api.limits` on every route."""
    return {
        code: {"model": ErrorBody, "description": text} for code, text in LIMIT_MEANINGS.items()
    }


def status_for(exc: gridgeo.GridGeoError) -> int:
    """The HTTP status code of a gridgeo exception (see :data:`STATUS_CODES`)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 400


def _without_server_paths(text: str, request: Request) -> str:
    """The message with the workspace's folder and file name on the server cut out.

    The library names the workspace file for the command line (``工作区 'x.gpkg' 没有工单``,
    ``--workspace x.gpkg``); an API client gets "the workspace" and ``--workspace WORKSPACE``.
    """
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        return text
    folder = Path(settings.workspace).parent
    for prefix in {str(folder.resolve()), str(folder.absolute()), str(folder)}:
        if prefix not in ("", "."):
            text = text.replace(prefix + os.sep, "")
    name = Path(settings.workspace).name
    if name:
        for quoted in (f" {name!r}", f"{name!r} ", repr(name)):
            text = text.replace(quoted, "")
        text = text.replace(name, "WORKSPACE")
    return text


async def _gridgeo_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, gridgeo.GridGeoError)
    detail = _without_server_paths(str(exc), request)
    body: dict[str, Any] = {"error": type(exc).__name__, "detail": detail}
    if isinstance(exc, gridgeo.GridTopologyError):
        body["problems"] = to_jsonable(exc.problems)
    if isinstance(exc, gridgeo.OrderRowsError):  # the row-error table, one dict per row
        body["errors"] = records(exc.errors)
    headers = None
    if isinstance(exc, gridgeo.LoginLockedError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    elif isinstance(exc, gridgeo.LoginError):
        headers = {"WWW-Authenticate": 'Bearer realm="gridgeo"'}
    return JSONResponse(body, status_code=status_for(exc), headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()
    ]
    head = "; ".join(f"`{e['field']}`: {e['message']}" for e in errors[:5])
    body = {
        "error": "RequestValidationError",
        "detail": f"invalid request: {head}",
        "errors": errors,
    }
    return JSONResponse(body, status_code=422)


# the answers FastAPI and Starlette raise themselves (no route, a wrong method, a body that
# cannot be read), in the body every other error has: ``error`` and a ``detail`` with the fix
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "请求体无法解析 / the request body could not be read: send JSON in UTF-8 with "
        "`Content-Type: application/json`",
    ),
    404: ("NotFound", "未找到 / not found: no such route or file; the routes are listed at /docs"),
    405: ("MethodNotAllowed", "不支持的方法 / method not allowed: see `Allow` for the methods"),
}


# the texts Starlette and FastAPI put in those answers themselves
_FRAMEWORK_DETAILS = frozenset(
    {"There was an error parsing the body", *(status.phrase for status in HTTPStatus)}
)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error, detail = HTTP_ERRORS.get(exc.status_code, ("HTTPError", str(exc.detail)))
    if str(exc.detail) not in _FRAMEWORK_DETAILS:  # a route's own text is kept
        detail = str(exc.detail)
    return JSONResponse(
        {"error": error, "detail": detail}, status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "InternalError", "detail": INTERNAL_ERROR_DETAIL}, 500)


def register_error_handlers(app: FastAPI) -> None:
    """Answer gridgeo errors, bad requests and bugs as JSON (call once per app)."""
    app.add_exception_handler(gridgeo.GridGeoError, _gridgeo_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
