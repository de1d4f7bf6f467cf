"""Logins, roles, CSRF, personal data and the audit log, enforced by api.security.

The route enumeration walks every route of the app (FastAPI's OpenAPI paths plus the
routes left out of the schema) and calls each without credentials, with every role the
policy refuses and with every role it allows. Expected values come from the stored layers
read with geopandas / sqlite3 in the test, and from the policy written out by hand below.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import gridgeo
from api.main import create_app
from api.security import POLICY, PUBLIC, app_routes
from api.serialise import records, show_personal_data
from api.settings import Settings
from gridgeo._sample_orders import add_sample_orders

ROLES = tuple(gridgeo.ROLES)
# the leader's routes, written out by hand from DESIGN.md ("read every aggregate")
LEADER_GETS = {
    "/kpis",
    "/grids",
    "/grids/{grid_id}",
    "/grids/versions",
    "/grids/validate",
    "/grids/compare",  # two versions of the grids compared: ids, names, counts
    "/figures",
    "/reports/month/{month}",
    "/stars",
    "/watch",
    "/plan/sites",
    "/overview",  # the leader's page (aggregates only)
}


# the web pages that need a login (issue 13), by hand: GET only
PAGES = {("GET", p) for p in ("/console", "/planner", "/my", "/overview", "/admin")}


@pytest.fixture(scope="module")
def sec_workspace(
    workspace: Path, role_users: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the demo workspace (test users included) with work orders and a second
    version of the grids."""
    path = tmp_path_factory.mktemp("api_security") / "workspace.gpkg"
    shutil.copyfile(workspace, path)
    store = gridgeo.GeoPackageStore.open(path)
    if gridgeo.ORDER_LAYER not in store.layers():
        add_sample_orders(store, author="security tests")
    if store.current_version("grids") == 1:  # a second version, for GET /grids/compare
        _move_a_village_outside(store, set(role_users["grid_manager"].grids))
    return path


def _move_a_village_outside(store: gridgeo.GeoPackageStore, theirs: set[str]) -> None:
    """Save a village move between supply grids other than ``theirs`` (the grid manager's,
    holding the grid member's): the grid roles' customers and orders stay where they were."""
    base = gridgeo.load_edit_base(store)
    grids = base.service.grids.set_index("grid_id")
    cells = base.service.cells["village_code"].astype(str)
    for code, own in zip(cells, base.service.village_grid.astype(str), strict=True):
        if grids.at[own, "parent_id"] in theirs:
            continue
        options = gridgeo.village_join_options(base.service, code, adjacency=base.adjacency)
        ok = [
            g for g in options.loc[options["ok"], "grid_id"]
            if grids.at[g, "parent_id"] not in theirs
        ]  # fmt: skip
        if ok:
            edited = gridgeo.preview_move_villages(base.service, [code], ok[0]).grids
            gridgeo.save_grids(store, edited, author="security tests", reason="a move",
                               expected_version=base.version)  # fmt: skip
            return
    raise AssertionError("no village of the demo may move outside the grid roles' grids")


@pytest.fixture(scope="module")
def layers(sec_workspace: Path) -> dict[str, Any]:
    return {
        name: gpd.read_file(sec_workspace, layer=name)
        for name in ("customers", "grids", "work_orders", "repair_stations", "villages")
    }


@pytest.fixture(scope="module")
def ids(layers: dict[str, Any], role_users) -> dict[str, str]:
    """Real ids inside the grid member's grid (so scoping passes) and one outside it."""
    mine = role_users["grid_member"].grids[0]
    customers, orders = layers["customers"], layers["work_orders"]
    own_orders = orders.loc[orders["grid_t3"] == mine].sort_values("order_id")
    reported = pd.to_datetime(own_orders["reported_at"].iloc[0], utc=True)
    return {
        "grid_id": mine,
        "customer_id": str(customers.loc[customers["grid_t3"] == mine, "customer_id"].iloc[0]),
        "order_id": str(own_orders["order_id"].iloc[0]),
        "month": reported.tz_convert("Asia/Shanghai").strftime("%Y-%m"),
        "username": "test_leader",
        "station_id": str(layers["repair_stations"]["station_id"].iloc[0]),
    }


@pytest.fixture(scope="module")
def app(sec_workspace: Path):
    return create_app(Settings(workspace=sec_workspace))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _every_route(app) -> set[tuple[str, str]]:
    """(method, path) of every route: the OpenAPI paths (FastAPI's own listing) and the
    flattened routes (for those left out of the schema: /docs, /redoc, /openapi.json)."""
    found = {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    for entry in app_routes(app.router.routes):
        if entry.methods is None:
            found.add(("GET", entry.path))
        else:
            found |= {(m, entry.path) for m in entry.methods if m != "HEAD"}
    return found


def test_every_route_is_in_the_policy(app):
    routes = _every_route(app)
    assert {("GET", "/openapi.json"), ("GET", "/grids/{grid_id}"), ("GET", "/static")} <= routes
    missing = sorted(r for r in routes if r not in POLICY and r not in PUBLIC)
    assert not missing, f"routes missing from api.security.POLICY: {missing}"
    # admin may use every non-public route; the leader exactly the aggregates
    assert all("admin" in POLICY[r] for r in routes if r in POLICY)
    leader = {path for (method, path) in routes if "leader" in POLICY.get((method, path), ())}
    every_user = {"/auth/me", "/auth/logout", "/docs", "/redoc", "/openapi.json"}
    assert leader - every_user - {"/docs/oauth2-redirect"} == (LEADER_GETS & {p for _, p in routes})


def _probe(route: tuple[str, str], ids: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """A URL of ``route`` with real ids, and request keywords that write nothing: bodies of
    unsafe routes are invalid (422) or refer to nothing, so allowed roles pass the policy
    but never change the workspace."""
    method, path = route
    url = path.format(**{k: v for k, v in ids.items() if "{" + k + "}" in path})
    if path == "/static":
        url = "/static/nothing-here.js"
    kw: dict[str, Any] = {}
    cheap_gets = {  # a bad query parameter: 422 once past the policy, no work done
        "/plan/sites": {"k": 0},
        "/dispatch": {"lat": 999},
        "/figures": {"by": "nothing"},
        "/orders": {"limit": 0},
        "/admin/audit": {"limit": 0},
        "/grids": {"tier": 9},
        "/grids/compare": {"version_a": 0, "version_b": 1},
        "/grids/{grid_id}/customers": {"limit": 0},
        "/customers": {"limit": 0},
        "/reports/month/{month}": {"format": "pdf"},
        "/watch": {"month": "not-a-month"},
        "/stars": {"week": "not-a-week"},
    }
    if method == "GET":
        kw["params"] = cheap_gets.get(path, {})
    else:
        kw["json"] = {"not_a_field": True}
    return url, kw


def test_every_route_401_without_login_403_for_other_roles(app, sec_workspace, ids):
    store = gridgeo.GeoPackageStore.open(sec_workspace)
    tokens = {
        role: gridgeo.start_session(store, f"test_{role}", kind="token").token for role in ROLES
    }
    client = TestClient(app, follow_redirects=False)
    checked = 0
    for route in sorted(_every_route(app)):
        method = route[0]
        url, kw = _probe(route, ids)
        if route in PUBLIC:
            assert client.request(method, url, **kw).status_code not in (401, 403), route
            continue
        anonymous = client.request(method, url, **kw)
        bad = client.request(method, url, headers=_bearer("not-a-token"), **kw)
        if route in PAGES:  # a browser without a session is sent to log in, and back
            for refused in (anonymous, bad):
                assert refused.status_code == 303, (route, refused.text)
                assert refused.headers["location"] == f"/login?next={url}"
        else:
            assert anonymous.status_code == 401, (route, anonymous.text)
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            assert bad.status_code == 401, route
        for role in ROLES:
            token = tokens[role]
            if route == ("POST", "/auth/logout"):  # would end the token used for the rest
                token = gridgeo.start_session(store, f"test_{role}", kind="token").token
            answer = client.request(method, url, headers=_bearer(token), **kw)
            if role in POLICY[route]:
                assert answer.status_code not in (401, 403), (route, role, answer.text)
            elif route in PAGES:  # a page refuses with a page
                assert answer.status_code == 403, (route, role, answer.text)
                assert answer.headers["content-type"].startswith("text/html")
                assert "您的角色无权打开此页面 / your role may not open this page" in answer.text
            else:
                assert answer.status_code == 403, (route, role, answer.text)
                assert answer.json()["error"] == "Forbidden"
            checked += 1
    assert checked >= 6 * 30


def test_pages_refuse_as_pages_and_api_routes_as_json(app, role_users):
    client = TestClient(app, follow_redirects=False)
    # no session: to the login page, which comes back to the page and its query after
    gone = client.get("/planner", params={"grid": "T3 1"})
    assert gone.status_code == 303
    assert gone.headers["location"] == "/login?next=/planner%3Fgrid%3DT3%2B1"
    login = client.get(gone.headers["location"])
    assert login.status_code == 200 and 'data-next="/planner?grid=T3+1"' in login.text
    # a role that may not open the page: a 403 page naming the role, with a link to the
    # user's own page and a log-out button (written out by hand from issue 13)
    for role, page, home in (("leader", "/console", "/overview"), ("grid_member", "/admin", "/my")):
        refused = client.get(page, headers=role_users[role].headers)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in refused.headers["content-security-policy"]
        text = refused.text
        assert "您的角色无权打开此页面 / your role may not open this page" in text
        assert f"<code>{page}</code>" in text and f"({role})" in text
        assert f'id="forbidden-home" href="{home}"' in text
        assert 'id="forbidden-logout"' in text and 'id="gg-logout"' in text
    # an API route stays JSON, even for a browser's Accept header
    html_first = {**role_users["leader"].headers, "Accept": "text/html,*/*;q=0.8"}
    api = client.get("/dispatch/stations", headers=html_first)
    assert api.status_code == 403 and api.json()["error"] == "Forbidden"
    assert client.get("/dispatch/stations", headers={"Accept": "text/html"}).status_code == 401


def test_a_route_missing_from_the_policy_is_admin_only(workspace, role_users):
    app = create_app(Settings(workspace=workspace))

    @app.get("/not-in-the-policy")
    def extra() -> dict[str, bool]:
        return {"ok": True}

    client = TestClient(app)
    assert client.get("/not-in-the-policy").status_code == 401
    for role in ROLES:
        answer = client.get("/not-in-the-policy", headers=role_users[role].headers)
        assert answer.status_code == (200 if role == "admin" else 403), role


def _grams(text: str) -> set[str]:
    """Every run of digits, and every 2 to 4 characters long piece of every run of Chinese
    characters, in ``text``: the pieces a customer's phone or name could be."""
    found = set(re.findall(r"\d{5,}", text))
    for run in re.findall(r"[\u4e00-\u9fff]{2,}", text):
        found |= {run[i : i + k] for k in (2, 3, 4) for i in range(len(run) - k + 1)}
    return found


def _personal_values(layers: dict[str, Any]) -> set[str]:
    """Customers' names and phones that appear nowhere in the staff or place tables (a
    customer may share a name with a grid member, whose name is public)."""
    public_text = " ".join(
        " ".join(map(str, frame[c].dropna()))
        for name, frame in layers.items()
        if name != "customers"
        for c in frame.columns
        if c != frame.geometry.name
    )
    customers = layers["customers"]
    values = set(customers["name"].dropna().astype(str)) | set(
        customers["phone"].dropna().astype(str)
    )
    public = _grams(public_text)
    return {v for v in values if 2 <= len(v) <= 4 or v.isdigit()} - public


def test_leader_sees_no_personal_data(app, ids, layers, role_users):
    personal = _personal_values(layers)
    assert len(personal) > 100
    leader = TestClient(app, headers=role_users["leader"].headers)
    calls = {
        "/kpis": {},
        "/grids": {},
        f"/grids/{ids['grid_id']}": {},
        "/grids/versions": {},
        "/grids/validate": {},
        "/grids/compare": {"version_a": 1, "version_b": 2},
        "/figures": {"period": "month", "label": ids["month"]},
        f"/reports/month/{ids['month']}": {},
        "/stars": {},
        "/watch": {},
        "/plan/sites": {"k": 1, "method": "greedy"},
        "/overview": {},  # the page itself
    }
    assert len(calls) == len(LEADER_GETS)
    for url, params in calls.items():
        response = leader.get(url, params=params)
        assert response.status_code == 200, (url, response.text)
        leaked = personal & _grams(response.text)
        assert not leaked, (url, sorted(leaked)[:5])
    # the same customer is seen whole by a dispatcher, so the check above can fail
    dispatcher = TestClient(app, headers=role_users["dispatcher"].headers)
    body = dispatcher.get(f"/customers/{ids['customer_id']}").json()
    row = layers["customers"].set_index("customer_id").loc[ids["customer_id"]]
    assert body["customer"]["name"] == row["name"] and body["customer"]["address"] == row["address"]


def test_serialiser_masks_customers_but_not_staff(layers):
    customers = layers["customers"].head(50)
    show_personal_data(False)
    rows = records(customers)
    text = json.dumps(rows, ensure_ascii=False)
    for name, address in zip(customers["name"], customers["address"], strict=True):
        assert f'"{name}"' not in text and address not in text
    assert rows[0]["name"] == customers["name"].iloc[0][0] + "*" * (
        max(len(customers["name"].iloc[0]) - 1, 2)
    )
    assert rows[0]["customer_id"] == customers["customer_id"].iloc[0]  # the number stays
    staff = records(layers["grids"][["grid_id", "manager", "phone", "liaison"]].head(3))
    assert staff[0]["manager"] == layers["grids"]["manager"].iloc[0]  # posted publicly
    assert staff[0]["phone"] == layers["grids"]["phone"].iloc[0]
    show_personal_data(True)
    assert records(customers)[0]["name"] == customers["name"].iloc[0]
    show_personal_data(False)


def _login(client: TestClient, user) -> str:
    response = client.post(
        "/auth/login", json={"username": user.username, "password": user.password}
    )
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # http here; https or GRIDGEO_COOKIE_SECURE sets it
    return response.json()["csrf_token"]


def test_cookie_writes_need_the_csrf_token_bearer_does_not(sec_workspace, role_users):
    client = TestClient(create_app(Settings(workspace=sec_workspace)))
    csrf = _login(client, role_users["dispatcher"])
    assert client.get("/auth/me").json()["csrf_token"] == csrf
    bad_order = {"not_a_field": True}  # 422 once past the checks: nothing is written
    refused = client.post("/orders", json=bad_order)
    assert refused.status_code == 403 and refused.json()["error"] == "CSRFError"
    wrong = client.post("/orders", json=bad_order, headers={"X-CSRF-Token": csrf[:-1] + "x"})
    assert wrong.status_code == 403
    assert client.post("/orders", json=bad_order, headers={"X-CSRF-Token": csrf}).status_code == 422
    form = client.post("/grids/preview", data={"csrf_token": csrf, "op": "split"})
    assert form.status_code == 403  # the dispatcher may not preview: the role is checked first
    assert client.post("/dispatch", data={"csrf_token": "nope"}).status_code == 403
    assert client.post("/dispatch", data={"csrf_token": csrf}).status_code == 422
    bearer = TestClient(client.app, headers=role_users["dispatcher"].headers)
    assert bearer.post("/orders", json=bad_order).status_code == 422


def test_logout_ends_the_session_and_the_token(sec_workspace, role_users):
    app = create_app(Settings(workspace=sec_workspace))
    client = TestClient(app)
    csrf = _login(client, role_users["planner"])
    assert client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/auth/me").status_code == 401
    token = client.post(
        "/auth/token", data={"username": "test_planner", "password": "planner-pass-2026"}
    ).json()["access_token"]
    bearer = TestClient(app, headers=_bearer(token))
    assert bearer.get("/auth/me").json()["role"] == "planner"
    assert bearer.post("/auth/logout").status_code == 200
    assert bearer.get("/auth/me").status_code == 401


def test_expired_sessions_and_disabled_users_are_401(writable, role_users):
    store = gridgeo.GeoPackageStore.open(writable)
    old = gridgeo.start_session(
        store, "test_planner", lifetime_s=60, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    )
    client = TestClient(create_app(Settings(workspace=writable)))
    assert client.get("/grids/versions", headers=_bearer(old.token)).status_code == 401
    admin = TestClient(client.app, headers=role_users["admin"].headers)
    planner = role_users["planner"].headers
    assert client.get("/grids/versions", headers=planner).status_code == 200
    changed = admin.patch("/admin/users/test_planner", json={"disabled": True})
    assert changed.status_code == 200 and changed.json()["user"]["disabled"] is True
    assert client.get("/grids/versions", headers=planner).status_code == 401
    login = client.post(
        "/auth/login", json={"username": "test_planner", "password": "planner-pass-2026"}
    )
    assert login.status_code == 401


def test_login_throttle_answers_429_with_retry_after(writable):
    client = TestClient(create_app(Settings(workspace=writable)))
    for name in ("test_dispatcher", "nobody_at_all"):
        answers = [
            client.post("/auth/login", json={"username": name, "password": "wrong"})
            for _ in range(5)
        ]
        assert [a.status_code for a in answers] == [401] * 5
        # the same words whether the user exists or not
        assert {a.json()["detail"] for a in answers} == {gridgeo.users.LOGIN_REFUSED}
        locked = client.post(
            "/auth/login", json={"username": name, "password": "dispatcher-pass-2026"}
        )
        assert locked.status_code == 429, locked.text
        # a 60 s lock from the fifth failure; the seconds since (argon2 checks on a loaded
        # machine) are gone from it, never more than a few
        assert 50 <= int(locked.headers["retry-after"]) <= 60
    failures = sqlite3.connect(writable).execute(
        "SELECT count(*) FROM gridgeo_audit WHERE route = '/auth/login' AND status = 401"
    )
    assert failures.fetchone()[0] == 10  # login failures are audited


def test_admin_creates_users_with_argon2id_passwords(writable, role_users):
    admin = TestClient(
        create_app(Settings(workspace=writable)), headers=role_users["admin"].headers
    )
    made = admin.post("/admin/users", json={"username": "newbie", "role": "leader"})
    assert made.status_code == 201, made.text
    password = made.json()["password"]
    with sqlite3.connect(writable) as con:
        (stored,) = con.execute(
            "SELECT password_hash FROM gridgeo_users WHERE username = 'newbie'"
        ).fetchone()
    assert stored.startswith("$argon2id$") and password not in stored
    bad = admin.post("/admin/users", json={"username": "x2", "role": "king"})
    assert bad.status_code == 400 and "unknown role" in bad.json()["detail"]
    listed = admin.get("/admin/users").json()["users"]
    assert "newbie" in {u["username"] for u in listed}
    assert all("password_hash" not in u for u in listed)
    reset = admin.post("/admin/users/newbie/password", json={}).json()["password"]
    login = TestClient(admin.app).post(
        "/auth/login", json={"username": "newbie", "password": reset}
    )
    assert login.status_code == 200
    # the audit keeps no password
    audit = admin.get("/admin/audit", params={"username": "test_admin"}).json()
    assert audit["total"] >= 2 and password not in json.dumps(audit) and reset not in str(audit)


def test_grid_member_sees_only_their_grids(sec_workspace, layers, role_users, ids):
    client = TestClient(
        create_app(Settings(workspace=sec_workspace)), headers=role_users["grid_member"].headers
    )
    mine = ids["grid_id"]
    customers, orders, grids = layers["customers"], layers["work_orders"], layers["grids"]
    answer = client.get(f"/grids/{mine}/customers", params={"limit": 5})
    assert answer.status_code == 200
    assert answer.json()["total"] == int((customers["grid_t3"] == mine).sum())
    other_grid = sorted(set(grids.loc[grids["tier"] == 3, "grid_id"]) - {mine})[0]
    assert client.get(f"/grids/{other_grid}/customers").status_code == 404
    parent = grids.set_index("grid_id").loc[mine, "parent_id"]
    assert client.get(f"/grids/{parent}/customers").status_code == 404  # above their grid
    other_customer = customers.loc[customers["grid_t3"] != mine, "customer_id"].iloc[0]
    assert client.get(f"/customers/{ids['customer_id']}").status_code == 200
    assert client.get(f"/customers/{other_customer}").status_code == 404
    listed = client.get("/orders", params={"limit": 1000}).json()
    assert listed["total"] == int((orders["grid_t3"] == mine).sum()) > 0
    assert {row["grid_t3"] for row in listed["orders"]} == {mine}
    other_order = orders.loc[orders["grid_t3"] != mine, "order_id"].iloc[0]
    assert client.get(f"/orders/{other_order}").status_code == 404
    assert client.get(f"/orders/{ids['order_id']}").status_code == 200
    change = {"crew": "外人", "author": "网格员", "reason": "试改 / try"}
    assert client.patch(f"/orders/{other_order}", json=change).status_code == 404
    stored = gpd.read_file(sec_workspace, layer="work_orders").set_index("order_id")
    assert stored.loc[other_order, "crew"] != "外人"
    # the grid manager's tier-2 grid covers the member's tier-3 grid
    manager = TestClient(client.app, headers=role_users["grid_manager"].headers)
    assert manager.get(f"/customers/{ids['customer_id']}").status_code == 200


def _versions(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT layer, max(version) FROM gridgeo_versions GROUP BY layer")
        return {layer: int(v) for layer, v in rows}


def _last_audit(path: Path) -> dict[str, Any]:
    with sqlite3.connect(path) as con:
        con.row_factory = sqlite3.Row
        row = dict(con.execute("SELECT * FROM gridgeo_audit ORDER BY fid DESC LIMIT 1").fetchone())
    for key in ("what", "versions_before", "versions_after"):
        row[key] = json.loads(row[key])
    return row


def test_writes_are_audited_with_versions_before_and_after(
    sec_workspace, tmp_path, layers, role_users, ids
):
    path = tmp_path / "workspace.gpkg"
    shutil.copyfile(sec_workspace, path)
    app = create_app(Settings(workspace=path))
    planner = TestClient(app, headers=role_users["planner"].headers)
    dispatcher = TestClient(app, headers=role_users["dispatcher"].headers)
    t3 = layers["grids"].loc[(layers["grids"]["tier"] == 3) & (layers["grids"]["n_villages"] >= 2)]
    target = t3.sort_values("customers").iloc[-1]["grid_id"]
    grids_version = gridgeo.GeoPackageStore.open(path).current_version("grids")
    steps: list[tuple[Callable[[], Any], str, str, str, int]] = [
        (
            lambda: planner.post(
                "/grids/save",
                json={"op": "split", "grid_id": target, "k": 2, "author": "规划员",
                      "reason": "拆分 / split", "expected_version": grids_version},
            ),
            "/grids/save", target, "grids", 200,
        ),
        (
            lambda: dispatcher.patch(
                f"/orders/{ids['order_id']}",
                json={"crew": "张师傅", "author": "调度员", "reason": "派人 / crew"},
            ),
            "/orders/{order_id}", ids["order_id"], gridgeo.ORDER_LAYER, 200,
        ),
        (
            lambda: dispatcher.post(
                "/orders",
                json={"order_id": "SEC-0001", "kind": "投诉", "reported_at": "2026-11-20 10:00",
                      "customer_id": ids["customer_id"], "author": "调度员"},
            ),
            "/orders", "SEC-0001", gridgeo.ORDER_LAYER, 201,
        ),
    ]  # fmt: skip
    for call, route, target_id, layer, status in steps:
        before = _versions(path)
        response = call()
        assert response.status_code == status, response.text
        after = _versions(path)
        assert after[layer] == before[layer] + 1
        row = _last_audit(path)
        assert row["route"] == route and row["target"] == target_id
        assert row["status"] == status
        assert row["versions_before"] == before and row["versions_after"] == after
        assert row["username"] in ("test_planner", "test_dispatcher")
        assert row["role"] in ("planner", "dispatcher")
        assert dt.datetime.fromisoformat(row["at"]) > dt.datetime.now(dt.UTC) - dt.timedelta(
            minutes=5
        )
    # a refused write is audited too, and changes nothing
    before = _versions(path)
    assert dispatcher.post("/grids/save", json={"op": "split"}).status_code == 403
    row = _last_audit(path)
    assert (row["status"], row["route"], row["versions_after"]) == (403, "/grids/save", before)
    admin = TestClient(app, headers=role_users["admin"].headers)
    shown = admin.get("/admin/audit", params={"route": "/orders", "limit": 1}).json()
    with sqlite3.connect(path) as con:
        (total,) = con.execute(
            "SELECT count(*) FROM gridgeo_audit WHERE route = '/orders'"
        ).fetchone()
    assert shown["total"] == total and shown["rows"][0]["target"] == "SEC-0001"  # newest first


def test_a_deeply_nested_body_is_refused_cleanly_and_audited(writable, role_users):
    client = TestClient(
        create_app(Settings(workspace=writable)), headers=role_users["admin"].headers
    )
    for body in (b"[" * 5000, b'{"op": ' * 5000):
        response = client.post(
            "/grids/preview", content=body, headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, response.text
        row = _last_audit(writable)
        assert row["what"] == {"body_bytes": len(body)} and row["status"] == response.status_code


@pytest.mark.parametrize(
    ("cookie_secure", "base_url", "secure"),
    [(None, "https://testserver", True), (True, "http://testserver", True),
     (False, "https://testserver", False)],
)  # fmt: skip
def test_the_session_cookie_is_secure_over_https_or_when_set(
    writable, role_users, cookie_secure, base_url, secure
):
    app = create_app(Settings(workspace=writable, cookie_secure=cookie_secure))
    user = role_users["leader"]
    answer = TestClient(app, base_url=base_url).post(
        "/auth/login", json={"username": user.username, "password": user.password}
    )
    assert answer.status_code == 200
    assert ("Secure" in answer.headers["set-cookie"]) is secure


def test_tokens_revoked_elsewhere_are_refused_after_the_cache_time(writable, role_users):
    store = gridgeo.GeoPackageStore.open(writable)
    for cache_s, seen_after_revoke in ((0.0, 401), (60.0, 200)):
        token = gridgeo.start_session(store, "test_dispatcher", kind="token").token
        app = create_app(Settings(workspace=writable, auth_cache_s=cache_s))
        client = TestClient(app, headers=_bearer(token))
        assert client.get("/auth/me").status_code == 200
        gridgeo.end_session(store, token)  # as `gridgeo users disable` or another worker does
        assert client.get("/auth/me").status_code == seen_after_revoke
        app.state.auth_cache.clear()  # what the cache time does, without waiting for it
        assert client.get("/auth/me").status_code == 401
