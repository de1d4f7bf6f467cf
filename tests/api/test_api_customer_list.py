"""``GET /customers``: the customers a user may see, searched, filtered by flags, paged (the
list behind the grid manager's page ``/my``)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

GPS = ("coords_conflict_address", "swapped_lonlat", "coords_outside_county")


@pytest.fixture(scope="module")
def table(workspace) -> pd.DataFrame:
    """Customers with their stored access and the four flags, computed here with pandas."""
    customers = gpd.read_file(workspace, layer="customers", ignore_geometry=True)
    access = gpd.read_file(workspace, layer="customer_access", ignore_geometry=True)
    ok = access.set_index("customer_id").reindex(customers["customer_id"])
    out = customers.copy()
    out["repair"] = ~ok["repair_ok"].fillna(False).astype(bool).to_numpy()
    out["payment"] = ~ok["payment_ok"].fillna(False).astype(bool).to_numpy()
    out["gps"] = np.logical_or.reduce([customers[c].fillna(False).astype(bool) for c in GPS])
    out["care"] = customers["vulnerable"].fillna(False).astype(bool)
    return out


def _in(table: pd.DataFrame, grids) -> pd.DataFrame:
    tiers = table[["grid_t1", "grid_t2", "grid_t3"]].astype(str)
    return table.loc[tiers.isin(list(grids)).any(axis=1)]


def _ids(body) -> list[str]:
    return [row["customer_id"] for row in body["customers"]]


def _containing(table: pd.DataFrame, text: str) -> pd.DataFrame:
    """The rows whose number, name, address or phone contain ``text``."""
    columns = ["customer_id", "name", "address", "phone"]
    cells = table[columns].fillna("").astype(str)
    return table.loc[cells.apply(lambda c: c.str.contains(text, regex=False)).any(axis=1)]


def test_a_grid_manager_gets_their_grids_customers_and_counts(
    workspace, make_client, role_users, table
):
    manager = role_users["grid_manager"]
    body = make_client(workspace, "grid_manager").get("/customers?limit=1000").json()
    mine = _in(table, manager.grids)
    assert 0 < len(mine) < len(table)
    assert body["total"] == len(mine)
    assert _ids(body) == mine["customer_id"].tolist()  # the layer's order
    expected = {"customers": len(mine)}
    expected.update({f: int(mine[f].sum()) for f in ("repair", "payment", "gps", "care")})
    assert body["counts"] == expected
    first = body["customers"][0]
    row = mine.iloc[0]
    assert first["address"] == row["address"] and first["flag_care"] == bool(row["care"])
    assert first["repair_ok"] is not bool(row["repair"])


def test_flags_are_all_required_and_counted_county_wide(client, table):
    for flags in (["care"], ["gps"], ["repair"], ["repair", "care"]):
        query = "&".join(f"flag={f}" for f in flags)
        body = client.get(f"/customers?{query}&limit=1000").json()
        expected = table.loc[table[flags].all(axis=1), "customer_id"]
        assert body["total"] == len(expected), flags
        assert _ids(body) == expected.tolist()[:1000]
    assert client.get("/customers?flag=care").json()["total"] > 0


def test_search_by_number_name_and_address(client, table):
    own = table.iloc[123]
    body = client.get("/customers", params={"q": own["customer_id"]}).json()
    assert _ids(body) == [own["customer_id"]]
    name = str(own["name"])
    body = client.get("/customers", params={"q": name, "limit": 1000}).json()
    expected = _containing(table, name)
    assert body["total"] == len(expected) >= 1
    road = "人民路"  # in addresses, and in some shops' names (人民路揭记超市)
    body = client.get("/customers", params={"q": road, "limit": 5, "offset": 5}).json()
    expected = _containing(table, road)
    assert body["total"] == len(expected) > 10
    assert _ids(body) == expected["customer_id"].tolist()[5:10]


def test_grids_outside_theirs_are_not_found(workspace, make_client, role_users, table):
    member = make_client(workspace, "grid_member")
    grid = role_users["grid_member"].grids[0]
    body = member.get("/customers", params={"grid": grid, "limit": 1000}).json()
    assert body["total"] == len(_in(table, [grid]))
    other = sorted(set(table["grid_t3"].dropna().astype(str)) - {grid})[-1]
    refused = member.get("/customers", params={"grid": other})
    assert refused.status_code == 404
    assert "`grid`" in refused.json()["detail"]
    # a manager may narrow to a village grid inside their supply grid
    manager = make_client(workspace, "grid_manager")
    body = manager.get("/customers", params={"grid": grid, "limit": 1000}).json()
    assert body["total"] == len(_in(table, [grid]))


def test_leaders_may_not_list_customers_and_bad_flags_are_named(workspace, make_client, client):
    assert make_client(workspace, "leader").get("/customers").status_code == 403
    bad = client.get("/customers?flag=late")
    assert bad.status_code == 422
    assert "flag" in bad.json()["detail"]
