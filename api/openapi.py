"""The OpenAPI contract: the schema says every status and body the routes really answer.

FastAPI writes the schema from the routes' signatures and their ``responses=``; what the
middleware and the error handlers answer on every route is added here, once
(:func:`declare_contract`), from the same tables that make those answers:

- 401 (with ``WWW-Authenticate``) on every route but the public ones, and 403 on every
  route that some role may not use or that writes (a cookie write without its CSRF
  token), from :data:`api.security.PUBLIC` and :data:`api.security.POLICY`;
- 404 on every route with a path parameter: a value with a ``/`` in it matches no route;
- 422 with the body :mod:`api.errors` sends (``ErrorBody``), not FastAPI's default;
- ``Retry-After`` on 429 and 503, and ``GRIDGEO_MAX_PAGE`` as the ``maximum`` of every
  ``limit`` query parameter (the cap is a setting, so the routes cannot declare it).

The contract is checked by a fuzz of the served schema (``tests/contractfuzz.py``,
``make fuzz``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.errors import ERROR_MEANINGS
from api.security import ALL_ROLES, PUBLIC, UNSAFE_METHODS, allowed_roles

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}
NO_ROUTE_MEANING = (
    "not found: `detail` says how to list what exists (a path parameter with a `/` in it "
    "matches no route at all)"
)
_HEADER = {"schema": {"type": "string"}, "required": True}
HEADERS_OF = {
    "401": {"WWW-Authenticate": {**_HEADER, "description": 'Bearer realm="gridgeo"'}},
    "429": {"Retry-After": {**_HEADER, "description": "seconds to wait"}},
    "503": {"Retry-After": {**_HEADER, "description": "seconds to wait"}},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_BODY}}}


def declare_answers(method: str, path: str, operation: dict[str, Any], max_page: int) -> None:
    """Add to one operation of the schema (in place) what the module docstring lists."""
    route = (method.upper(), path)
    responses = operation.setdefault("responses", {})
    if route not in PUBLIC:
        responses.setdefault("401", _error(ERROR_MEANINGS[401]))
        if allowed_roles(route) != ALL_ROLES or route[0] in UNSAFE_METHODS:
            responses.setdefault("403", _error(ERROR_MEANINGS[403]))
    if "{" in path:
        responses.setdefault("404", _error(NO_ROUTE_MEANING))
    invalid = responses.get("422")
    if invalid is not None:
        invalid["content"] = {"application/json": {"schema": ERROR_BODY}}
        invalid["description"] = ERROR_MEANINGS[422]
    for status, headers in HEADERS_OF.items():
        if status in responses:
            responses[status].setdefault("headers", {}).update(headers)
    for param in operation.get("parameters", []):
        if param.get("in") == "query" and param.get("name") == "limit":
            for branch in [param["schema"], *param["schema"].get("anyOf", [])]:
                if branch.get("type") == "integer":
                    branch["maximum"] = max_page


def declare_contract(app: FastAPI, max_page: int) -> None:
    """Make ``app.openapi()`` say what the routes really answer (module docstring).

    Parameters
    ----------
    app
        The app, with every router included.
    max_page
        ``GRIDGEO_MAX_PAGE``: the ``maximum`` of every ``limit`` query parameter.
    """
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = plain_openapi()
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if isinstance(operation, dict):
                    declare_answers(method, path, operation, max_page)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
