"""/visits: records by the grid roles (their grids only, audited), coverage and call lists.

A hand-made workspace (tests/test_visit_records.py: G1 and G3 are 张三's, G2 李四's, two
customers each) so every expected value is read off by hand; the stored layers are read
back with geopandas, not through the service.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from test_visit_records import make_workspace

import gridgeo
from api.main import create_app
from api.serialise import records, show_personal_data
from api.settings import Settings

# users: the grid member of G1 (张三), the manager of the supply grid S1, and other roles
USERS = {
    "zhang": ("grid_member", ("G1",), "张三"),
    "boss": ("grid_manager", ("S1",), "赵经理"),
    "admin": ("admin", (), "管理员"),
    "leader": ("leader", (), "县领导"),
    "dispatcher": ("dispatcher", (), "调度"),
}


@pytest.fixture
def app_and_tokens(tmp_path: Path) -> tuple[Path, dict[str, TestClient]]:
    path = tmp_path / "ws.gpkg"
    store = make_workspace(path)
    gridgeo.ensure_user_tables(store)
    clients = {}
    app = create_app(Settings(workspace=path))
    for name, (role, grids, display) in USERS.items():
        gridgeo.add_user(
            store,
            name,
            role=role,
            grids=grids or None,
            display_name=display,
            password=f"{name}-password-2026",
        )
        token = gridgeo.start_session(store, name, kind="token").token
        clients[name] = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    return path, clients


def visit(visit_id: str, customer: str, **extra: str) -> dict[str, str]:
    body = {
        "visit_id": visit_id,
        "kind": "家访",
        "customer_id": customer,
        "done_at": "2026-11-03 09:30",
        "outcome": "完成",
    }
    return {**body, **extra}


def stored(path: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(path, layer="visits").set_index("visit_id")


def test_a_grid_member_records_a_visit_of_their_grid_audited(app_and_tokens, clean_error):
    path, client = app_and_tokens
    response = client["zhang"].post("/visits", json=visit("V1", "c1", satisfaction="满意"))
    assert response.status_code == 201, response.text
    body = response.json()["visit"]
    assert body["member"] == "张三"  # the member's own name by default
    assert (body["kind"], body["kind_zh"], body["outcome_zh"]) == ("home", "家访", "完成")
    assert body["done_at"] == "2026-11-03T09:30:00+08:00"
    assert body["recorded_by"] == "zhang" and body["grid_t3"] == "G1"
    row = stored(path).loc["V1"]
    assert pd.Timestamp(row["done_at"]) == pd.Timestamp("2026-11-03 01:30", tz="UTC")
    assert row["satisfaction"] == "satisfied"
    store = gridgeo.GeoPackageStore.open(path)
    assert store.list_versions("visits")["author"].tolist() == ["zhang"]
    audit, _ = gridgeo.read_audit(store, route="/visits")
    assert len(audit) == 1
    entry = audit.iloc[0]
    assert (entry["username"], entry["status"], entry["method"]) == ("zhang", 201, "POST")

    # a customer of another grid is not theirs: 404 naming the field, nothing stored
    refused = client["zhang"].post("/visits", json=visit("V2", "c3"))
    clean_error(refused, 404, "customer_id", "c3")
    # the manager of S1 may record for every grid under it
    assert client["boss"].post("/visits", json=visit("V3", "c3", member="李四")).status_code == 201
    assert sorted(stored(path).index) == ["V1", "V3"]


def test_bad_fields_are_400_naming_the_field(app_and_tokens, clean_error):
    path, client = app_and_tokens
    bad = client["zhang"].post("/visits", json=visit("V1", "c1", kind="拜访"))
    body = clean_error(bad, 400, "kind")
    assert [e["field"] for e in body["errors"]] == ["类型 kind"]
    late = client["zhang"].post("/visits", json=visit("V1", "c1", done_at="2099-01-01 08:00"))
    clean_error(late, 400, "done_at", "future")
    clean_error(client["zhang"].post("/visits", json={"visit_id": "V1"}), 422, "kind")
    client["zhang"].post("/visits", json=visit("V1", "c1"))
    again = client["zhang"].post("/visits", json=visit("V1", "c2"))
    clean_error(again, 400, "visit_id", "already stored")
    assert stored(path)["customer_id"].tolist() == ["c1"]


def test_a_visit_raises_a_complaint_order(app_and_tokens):
    path, client = app_and_tokens
    response = client["zhang"].post(
        "/visits", json=visit("V7", "c2", notes="抄表不准", raise_order="投诉", new_order_id="T7")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["visit"]["order_id"] == "T7"
    assert (body["order"]["order_id"], body["order"]["kind"]) == ("T7", "complaint")
    orders = gpd.read_file(path, layer="work_orders")
    assert orders[["order_id", "kind", "customer_id", "member"]].values.tolist() == [
        ["T7", "complaint", "c2", "张三"]
    ]


def test_lists_are_limited_to_the_users_grids(app_and_tokens, clean_error):
    _, client = app_and_tokens
    for visit_id, customer, member, when in (
        ("V1", "c1", "张三", "2026-10-02 09:00"),
        ("V2", "c3", "李四", "2026-10-31 23:59"),
        ("V3", "c5", "张三", "2026-11-01 00:00"),
    ):
        body = visit(visit_id, customer, member=member, done_at=when)
        assert client["admin"].post("/visits", json=body).status_code == 201

    def ids(who: str, **params: str) -> list[str]:
        response = client[who].get("/visits", params=params)
        assert response.status_code == 200, response.text
        return [row["visit_id"] for row in response.json()["visits"]]

    assert ids("admin") == ["V1", "V2", "V3"]
    assert ids("zhang") == ["V1"]  # G1 only, though 张三 also visited in G3
    assert ids("boss") == ["V1", "V2", "V3"]
    assert ids("admin", member="张三") == ["V1", "V3"]
    assert ids("admin", grid="G2") == ["V2"]
    assert ids("admin", start="2026-10-01", end="2026-11-01") == ["V1", "V2"]
    assert client["admin"].get("/visits", params={"limit": 1}).json()["total"] == 3
    clean_error(client["admin"].get("/visits", params={"start": "soon"}), 400, "start")
    for who in ("leader", "dispatcher"):
        for url in ("/visits", "/visits/coverage", "/visits/callbacks"):
            assert client[who].get(url, params={"quarter": "2026-Q4"}).status_code == 403
        assert client[who].post("/visits", json=visit("V9", "c1")).status_code == 403


def test_coverage_and_callbacks_by_hand(app_and_tokens, clean_error):
    _, client = app_and_tokens
    for body in (
        visit("A1", "c1", done_at="2026-08-01 09:00"),  # 2nd half-year, done
        visit("A2", "c1", done_at="2026-10-01 09:00"),  # c1: two visits in 2026
        visit("A3", "c2", kind="电话回访", done_at="2026-10-10 09:00"),  # c2 called in Q4
        visit("A4", "c3", kind="电话回访", outcome="无法接通", member="李四"),  # attempt only
    ):
        body.setdefault("member", "张三")
        assert client["admin"].post("/visits", json=body).status_code == 201, body
    params = {"quarter": "2026-Q4", "as_of": "2026-11-30 12:00"}
    answer = client["admin"].get("/visits/coverage", params=params)
    assert answer.status_code == 200, answer.text
    grids = {row["grid_id"]: row for row in answer.json()["by_grid"]}
    # G1: c1 two visits (1/2), c2 called (1/2); G2: nothing done; first round Jan-Jun ended
    assert (grids["G1"]["two_visits"], grids["G1"]["called"]) == (1, 1)
    assert grids["G1"]["two_visits_share"] == 0.5 and grids["G1"]["called_share"] == 0.5
    assert (grids["G2"]["two_visits"], grids["G2"]["called"]) == (0, 0)
    assert grids["G2"]["overdue_visits"] == 2  # no visit in Jan-Jun for c3, c4
    members = {row["member"]: row for row in answer.json()["by_member"]}
    assert members["张三"]["customers"] == 4 and members["张三"]["grid_ids"] == ["G1", "G3"]
    mine = client["zhang"].get("/visits/coverage", params=params).json()
    assert [row["grid_id"] for row in mine["by_grid"]] == ["G1"]
    assert {row["customer_id"] for row in mine["overdue"]} == {"c1", "c2"}  # no Jan-Jun visit

    calls = client["zhang"].get("/visits/callbacks", params=params)
    assert calls.status_code == 200, calls.text
    rows = calls.json()["callbacks"]
    assert [r["customer_id"] for r in rows] == ["c1"]  # G1 only; c2 was called
    assert rows[0]["name"] == "客户1" and rows[0]["phone"] == "13800000001"
    assert calls.json()["questions"] == list(gridgeo.CALLBACK_QUESTIONS)
    all_rows = client["admin"].get("/visits/callbacks", params=params).json()["callbacks"]
    assert [(r["member"], r["customer_id"]) for r in all_rows] == [
        ("张三", "c1"),
        ("张三", "c5"),
        ("张三", "c6"),
        ("李四", "c3"),
        ("李四", "c4"),
    ]
    assert all_rows[3]["attempts"] == 1
    # the rows are customers' rows: a role without personal data would get them masked
    show_personal_data(False)
    masked = records(pd.DataFrame(all_rows[:1]))[0]
    assert masked["name"] != "客户1" and masked["phone"] != "13800000001"

    clean_error(
        client["admin"].get("/visits/coverage", params={"quarter": "2026-13"}), 400, "quarter"
    )
    clean_error(client["admin"].get("/visits/callbacks"), 422, "quarter")
    clean_error(
        client["admin"].get("/visits/callbacks", params={"quarter": "2026-Q4", "member": "赵六"}),
        400,
        "赵六",
    )
