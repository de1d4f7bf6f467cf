"""The OpenAPI schema says what the routes answer: limit statuses on every route, 422 bodies
as sent, the ``limit`` cap, GeoJSON where served; answers checked against the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

LIMIT_STATUSES = ("400", "408", "413", "414", "503")


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, ops in openapi["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and "responses" in op
    ]


def _resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = openapi["components"]["schemas"][name]
    return schema


def _matches(openapi: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    """A small check of ``value`` against a JSON schema: types, required keys, anyOf."""
    schema = _resolve(openapi, schema)
    if "anyOf" in schema:
        return any(_matches(openapi, s, value) for s in schema["anyOf"])
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return False
        if any(key not in value for key in schema.get("required", [])):
            return False
        props = schema.get("properties", {})
        return all(_matches(openapi, props[k], v) for k, v in value.items() if k in props)
    if kind == "array":
        return isinstance(value, list) and all(
            _matches(openapi, schema.get("items", {}), v) for v in value
        )
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "null":
        return value is None
    return True


def test_every_route_declares_the_limit_answers(openapi: dict[str, Any]) -> None:
    ops = _operations(openapi)
    assert len(ops) > 20
    missing = [
        (method, path, status)
        for path, method, op in ops
        for status in LIMIT_STATUSES
        if status not in op["responses"]
    ]
    assert missing == []


def test_422_is_declared_as_sent(openapi: dict[str, Any]) -> None:
    declared = [
        (path, method, op["responses"]["422"])
        for path, method, op in _operations(openapi)
        if "422" in op["responses"]
    ]
    assert len(declared) > 10
    for path, method, response in declared:
        schema = _resolve(openapi, response["content"]["application/json"]["schema"])
        assert set(schema["required"]) == {"error", "detail"}, (method, path)
        assert schema["properties"]["detail"]["type"] == "string", (method, path)


def test_limit_cap_is_in_the_schema(openapi: dict[str, Any], client: TestClient) -> None:
    cap = client.app.state.settings.max_page  # type: ignore[attr-defined]
    limits = [
        p
        for _, _, op in _operations(openapi)
        for p in op.get("parameters", [])
        if p["name"] == "limit" and p["in"] == "query"
    ]
    assert limits
    for param in limits:
        integer = [s for s in [param["schema"], *param["schema"].get("anyOf", [])]
                   if s.get("type") == "integer"]  # fmt: skip
        assert integer and all(s["maximum"] == cap for s in integer)
    # and the route refuses one above it, as declared
    response = client.get("/grids/X/customers", params={"limit": cap + 1})
    assert response.status_code == 422


def test_geojson_routes_declare_their_media_type(openapi: dict[str, Any]) -> None:
    for path in ("/grids", "/grids/{grid_id}"):
        content = openapi["paths"][path]["get"]["responses"]["200"]["content"]
        assert "application/geo+json" in content
    response_type = "application/geo+json"
    assert response_type  # the served type is checked below


def test_answers_match_the_declared_schema(
    openapi: dict[str, Any], client: TestClient, workspace: Path
) -> None:
    cases = [
        ("get", "/grids", {"tier": "9"}, {}, 422),
        ("get", "/dispatch", {"lon": "500", "lat": "27"}, {}, 422),
        ("get", "/grids", {"q": "A" * 9000}, {}, 414),
        ("get", "/kpis", {}, {"Host": "elsewhere.example"}, 400),
        ("get", "/grids/NO-SUCH-GRID", {}, {}, 404),
    ]
    for method, path, params, headers, status in cases:
        response = client.request(method, path, params=params, headers=headers)
        assert response.status_code == status, (path, response.text)
        template = "/grids/{grid_id}" if path.startswith("/grids/") else path
        declared = openapi["paths"][template][method]["responses"]
        assert str(status) in declared, (path, status)
        schema = declared[str(status)]["content"]["application/json"]["schema"]
        assert _matches(openapi, schema, response.json()), (path, response.json())
        assert "A" * 100 not in response.text
    served = client.get("/grids", params={"tier": 3})
    assert served.headers["content-type"].startswith("application/geo+json")
    assert _matches(openapi, {"type": "object"}, served.json())


def test_checker_can_fail(openapi: dict[str, Any]) -> None:
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    assert not _matches(openapi, error_body, {"detail": [{"loc": ["query"]}]})  # FastAPI's own
    assert _matches(openapi, error_body, {"error": "X", "detail": "y", "errors": None})
