"""/kpis: compliance shares recomputed by hand from the stored layers."""

from __future__ import annotations

import contextlib
import sqlite3

import geopandas as gpd
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def joined(workspace) -> pd.DataFrame:
    customers = gpd.read_file(workspace, layer="customers", ignore_geometry=True)
    access = gpd.read_file(workspace, layer="customer_access", ignore_geometry=True)
    out = customers[["customer_id", "grid_t1", "grid_t2", "grid_t3"]].merge(
        access[["customer_id", "repair_ok", "payment_ok"]], on="customer_id", how="left"
    )
    for col in ("repair_ok", "payment_ok"):
        out[col] = out[col].fillna(False).astype(bool)
    return out


@pytest.fixture(scope="module")
def kpis(client) -> dict:
    response = client.get("/kpis")
    assert response.status_code == 200
    return response.json()


def _stored_versions(workspace, *layers: str) -> dict[str, int]:
    """The layers' current versions, read from the version log with sqlite."""
    with contextlib.closing(sqlite3.connect(workspace)) as con:
        rows = con.execute(
            "SELECT layer, max(version) FROM gridgeo_versions GROUP BY layer"
        ).fetchall()
    return {layer: int(v) for layer, v in rows if layer in layers}


def test_county_shares(kpis, joined, workspace):
    county = kpis["county"]
    assert county["customers"] == len(joined)
    assert county["repair_ok_n"] == int(joined["repair_ok"].sum())
    assert county["repair_share_ok"] == pytest.approx(joined["repair_ok"].mean())
    assert county["payment_share_ok"] == pytest.approx(joined["payment_ok"].mean())
    # the versions the figures were computed from: the stored ones (the demo imports the
    # customers, v1, then saving its grids puts them in the grids, v2)
    assert kpis["versions"] == _stored_versions(workspace, "customers", "customer_access")
    assert kpis["versions"]["customers"] >= 1


@pytest.mark.parametrize("tier", [1, 2, 3])
def test_per_tier_shares(kpis, joined, tier):
    column = f"grid_t{tier}"
    # customers in no grid (no position, or outside every grid) are the row 未定位
    frame = joined.assign(grid=joined[column].fillna("未定位").replace("", "未定位"))
    expected = frame.groupby("grid").agg(
        n=("repair_ok", "size"), repair=("repair_ok", "mean"), payment=("payment_ok", "mean")
    )
    rows = {r["grid_id"]: r for r in kpis[f"tier{tier}"]}
    assert sorted(rows) == sorted(expected.index)
    for grid_id, exp in expected.iterrows():
        assert rows[grid_id]["customers"] == exp["n"]
        assert rows[grid_id]["repair_share_ok"] == pytest.approx(exp["repair"])
        assert rows[grid_id]["payment_share_ok"] == pytest.approx(exp["payment"])
