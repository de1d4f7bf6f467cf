"""/customers/{customer_id}: the dispatcher's view of one customer."""

from __future__ import annotations

import geopandas as gpd
import pytest


@pytest.fixture(scope="module")
def customers(workspace) -> gpd.GeoDataFrame:
    return gpd.read_file(workspace, layer="customers")


def test_customer_with_access_and_contact(client, workspace, customers):
    access = gpd.read_file(workspace, layer="customer_access", ignore_geometry=True)
    grids = gpd.read_file(workspace, layer="grids", ignore_geometry=True)
    # a customer beyond the 30 minutes but on the road graph: a telling access row
    over = ~access["repair_ok"].astype(bool) & access["repair_eta_s"].notna()
    assert over.any()
    customer_id = access.loc[over, "customer_id"].iloc[0]
    row = customers.loc[customers["customer_id"] == customer_id].iloc[0]
    acc = access.loc[access["customer_id"] == customer_id].iloc[0]
    grid = grids.loc[grids["grid_id"] == row["grid_t3"]].iloc[0]

    response = client.get(f"/customers/{customer_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["customer"]["customer_id"] == customer_id
    assert body["customer"]["address"] == row["address"]
    assert body["customer"]["grid_t3"] == row["grid_t3"]
    assert body["customer"]["lon"] == pytest.approx(row.geometry.x, abs=1e-6)
    assert body["customer"]["lat"] == pytest.approx(row.geometry.y, abs=1e-6)
    assert body["access"]["repair_ok"] == bool(acc["repair_ok"])
    assert body["access"]["repair_eta_s"] == pytest.approx(acc["repair_eta_s"])
    assert body["access"]["repair_eta_s"] > 1800
    assert body["access"]["repair_station_id"] == acc["repair_station_id"]
    assert body["access"]["reason"] == acc["reason"]
    contact = body["contact"]
    assert contact["grid_id"] == row["grid_t3"]
    assert (contact["manager"], contact["phone"]) == (grid["manager"], grid["phone"])
    assert (contact["liaison"], contact["liaison_phone"]) == (
        grid["liaison"],
        grid["liaison_phone"],
    )
    assert row["address"].encode("utf-8") in response.content


def test_unknown_customer_is_404(client, clean_error):
    body = clean_error(client.get("/customers/9999999999999"), 404, "9999999999999")
    assert body["error"] == "NotFoundError"
