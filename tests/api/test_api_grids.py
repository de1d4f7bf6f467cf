"""/grids: GeoJSON of the tiers, versions, validation, paged customers, preview and save.

Expected values are read from the workspace GeoPackage with geopandas, not
through the service.
"""

from __future__ import annotations

import re
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape

import gridgeo

SEP = "，"
NO_VERSION_BODY = {"op": "split", "grid_id": "T3-X", "author": "a", "reason": "r"}


@pytest.fixture(scope="module")
def grids(workspace) -> gpd.GeoDataFrame:
    return gpd.read_file(workspace, layer="grids")


@pytest.fixture(scope="module")
def customers(workspace) -> pd.DataFrame:
    return pd.DataFrame(gpd.read_file(workspace, layer="customers", ignore_geometry=True))


@pytest.fixture(scope="module")
def points(workspace) -> gpd.GeoDataFrame:
    """The customers with their points (EPSG:4326)."""
    return gpd.read_file(workspace, layer="customers")


@pytest.fixture(scope="module")
def cells(workspace) -> gpd.GeoDataFrame:
    """The village cells the grids are made of, by village code."""
    county = gpd.read_file(workspace, layer="county")
    villages = gpd.read_file(workspace, layer="villages")
    return gridgeo.village_cells(county, villages).set_index("village_code")


def _inside(points: gpd.GeoDataFrame, polygon) -> np.ndarray:
    """Which points the polygon covers (plain shapely, customers without a point: no)."""
    geoms = points.geometry.to_numpy()
    return ~shapely.is_missing(geoms) & shapely.covers(polygon, geoms)


@pytest.fixture(scope="module")
def access(workspace) -> pd.DataFrame:
    return pd.DataFrame(gpd.read_file(workspace, layer="customer_access", ignore_geometry=True))


def _tier3(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return grids.loc[grids["tier"] == 3].sort_values("grid_id")


def _apart(grids: gpd.GeoDataFrame) -> tuple[str, str]:
    """Two tier-3 grids that neither touch nor overlap."""
    t3 = _tier3(grids)
    first = t3.iloc[0]
    far = t3.loc[~t3.geometry.intersects(first.geometry.buffer(1e-4))]
    return first["grid_id"], far["grid_id"].iloc[0]


# --------------------------------------------------------------------------- #
# reading


def test_all_grids_feature_collection(client, grids):
    response = client.get("/grids")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    got = {f["properties"]["grid_id"]: f for f in body["features"]}
    assert sorted(got) == sorted(grids["grid_id"])
    for row in grids.itertuples():
        feature = got[row.grid_id]
        assert feature["properties"]["name"] == row.name
        assert feature["properties"]["tier"] == row.tier
        geom = shape(feature["geometry"])
        assert geom.symmetric_difference(row.geometry).area < 1e-9 * max(row.geometry.area, 1)
        minx, miny, maxx, maxy = geom.bounds  # lon/lat around Nanfeng, not metres
        assert 116 < minx < maxx < 117 and 26 < miny < maxy < 28
    # Chinese text is sent as UTF-8, not as \\u escapes
    assert grids["name"].iloc[0].encode("utf-8") in response.content


@pytest.mark.parametrize("tier", [1, 2, 3])
def test_grids_of_one_tier(client, grids, tier):
    body = client.get("/grids", params={"tier": tier}).json()
    ids = sorted(f["properties"]["grid_id"] for f in body["features"])
    assert ids == sorted(grids.loc[grids["tier"] == tier, "grid_id"])
    assert ids


@pytest.mark.parametrize("tier", ["0", "4", "two"])
def test_bad_tier_is_422(client, clean_error, tier):
    body = clean_error(client.get("/grids", params={"tier": tier}), 422, "tier")
    assert body["errors"][0]["field"] == "query.tier"


def test_unknown_version_is_404(client, clean_error):
    clean_error(client.get("/grids", params={"version": 99}), 404, "99")


def test_one_grid(client, grids, customers):
    row = grids.loc[grids["tier"] == 2].iloc[0]
    response = client.get(f"/grids/{row['grid_id']}")
    assert response.status_code == 200
    feature = response.json()
    assert feature["type"] == "Feature"
    props = feature["properties"]
    assert (props["grid_id"], props["name"], props["manager"], props["phone"]) == (
        row["grid_id"],
        row["name"],
        row["manager"],
        row["phone"],
    )
    # its customers: those the grid's polygon holds (their stored grid id, set from the point)
    assert props["customers"] == int((customers["grid_t2"] == row["grid_id"]).sum())


def test_unknown_grid_is_404(client, clean_error):
    body = clean_error(client.get("/grids/T3-NOPE-99"), 404, "T3-NOPE-99")
    assert body["error"] == "NotFoundError"
    clean_error(client.get("/grids/T3-NOPE-99/customers"), 404, "T3-NOPE-99")


def test_versions(client):
    rows = client.get("/grids/versions").json()
    assert [r["version"] for r in rows] == [1]
    assert rows[0]["author"] == "gridgeo demo"
    assert "三级网格初建" in rows[0]["reason"]
    assert pd.Timestamp(rows[0]["created_at"]).tzinfo is not None


def test_validate_clean_grids(client):
    assert client.get("/grids/validate").json() == {"version": 1, "problems": []}


def test_validate_reports_a_hole(writable, grids, make_client):
    # store a grid set with one tier-3 grid missing, bypassing validation
    store = gridgeo.GeoPackageStore.open(writable)
    hole = _tier3(grids).iloc[0]
    kept = store.read("grids")
    kept = kept.loc[kept["grid_id"] != hole["grid_id"]].drop(columns="version")
    store.save("grids", kept, expected_version=1, author="test", reason="hole")
    body = make_client(writable).get("/grids/validate").json()
    assert body["version"] == 2
    gaps = [p for p in body["problems"] if p["problem"] == "gap"]
    assert gaps
    # the gap lies where the missing grid was
    lon, lat = gaps[0]["location"]
    assert hole["geometry"].buffer(1e-6).contains(shapely.Point(lon, lat))


# --------------------------------------------------------------------------- #
# customers of a grid


def test_grid_customers_paged(client, customers, access):
    grid_id = customers["grid_t3"].value_counts().index[0]
    expected = customers.loc[customers["grid_t3"] == grid_id].sort_values("customer_id")
    body = client.get(f"/grids/{grid_id}/customers", params={"limit": 7, "offset": 3}).json()
    assert (body["grid_id"], body["tier"], body["total"]) == (grid_id, 3, len(expected))
    assert (body["limit"], body["offset"]) == (7, 3)
    ids = [r["customer_id"] for r in body["customers"]]
    assert ids == list(expected["customer_id"].iloc[3:10])
    by_id = access.set_index("customer_id")
    for row in body["customers"]:
        assert row["repair_ok"] == bool(by_id.loc[row["customer_id"], "repair_ok"])
        assert row["payment_eta_s"] == pytest.approx(by_id.loc[row["customer_id"], "payment_eta_s"])
        assert row["repair_station_id"] == by_id.loc[row["customer_id"], "repair_station_id"]


def test_grid_customers_of_tier2_and_last_page(client, customers):
    grid_id = customers["grid_t2"].value_counts().index[-1]
    n = int((customers["grid_t2"] == grid_id).sum())
    body = client.get(f"/grids/{grid_id}/customers", params={"limit": 1000, "offset": n - 2}).json()
    assert body["total"] == n
    assert len(body["customers"]) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 1001}, "query.limit"),
        ({"limit": 0}, "query.limit"),
        ({"offset": -1}, "query.offset"),
    ],
)
def test_grid_customers_bad_paging(client, clean_error, params, field):
    body = clean_error(client.get("/grids/T1-361023/customers", params=params), 422)
    assert body["errors"][0]["field"] == field


# --------------------------------------------------------------------------- #
# edits


def test_preview_move_changes_counts_and_saves_nothing(client, grids, points, cells):
    t3 = _tier3(grids)
    source = t3.iloc[0]
    village = source["villages"].split(SEP)[0]
    target = t3.iloc[1]["grid_id"]
    # the customers that leave: those of the source grid whose point lies in the village's cell
    moved = int(
        (_inside(points, cells.geometry[village]) & (points["grid_t3"] == source["grid_id"])).sum()
    )
    assert moved > 0
    body = {"op": "move", "village_codes": [village], "to_grid_id": target}
    response = client.post("/grids/preview", json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["base_version"] == 1
    diff = {r["grid_id"]: r for r in out["kpi_diff"]}
    assert diff[source["grid_id"]]["customers_change"] == -moved
    assert diff[target]["customers_change"] == moved
    assert diff[source["grid_id"]]["n_villages_change"] == -1
    # only changed grids are listed
    assert all(
        any(r[c] != 0 for c in r if c.endswith("_change") and r[c] is not None)
        for r in out["kpi_diff"]
    )
    assert len(diff) < len(grids)
    assert client.get("/grids/versions").json()[-1]["version"] == 1


def test_preview_merge_of_grids_apart_has_problems(client, grids):
    a, b = _apart(grids)
    out = client.post("/grids/preview", json={"op": "merge", "grid_ids": [a, b]}).json()
    assert "not_contiguous" in {p["problem"] for p in out["problems"]}
    assert b in {r["grid_id"] for r in out["kpi_diff"]}  # the merged-away grid disappears


def test_save_split_then_stale_save_is_409(writer, writable, grids, customers, clean_error):
    t3 = _tier3(grids)
    splittable = t3.loc[t3["n_villages"] >= 2].sort_values("customers")
    target, other = splittable.iloc[-1], splittable.iloc[0]
    body = {
        "op": "split",
        "grid_id": target["grid_id"],
        "k": 2,
        "author": "规划员 张",
        "reason": "网格过大，拆分 / split an oversized grid",
        "expected_version": 1,
    }
    before_total = writer.get(f"/grids/{target['grid_id']}/customers").json()["total"]
    response = writer.post("/grids/save", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    assert response.json()["previous_version"] == 1
    after = gpd.read_file(writable, layer="grids")
    new = sorted(set(after["grid_id"]) - set(grids["grid_id"]))
    assert len(new) == 1 and new[0].startswith(f"T3-{target['substation_id']}-")
    parts = after.loc[after["grid_id"].isin([target["grid_id"], *new])]
    assert parts["customers"].sum() == int((customers["grid_t3"] == target["grid_id"]).sum())
    assert parts["parent_id"].eq(target["parent_id"]).all()
    assert (after["version"] == 2).any()
    versions = writer.get("/grids/versions").json()
    assert [v["author"] for v in versions] == ["gridgeo demo", "规划员 张"]
    # the customers moved with the grids: the two parts' archives hold the old grid's people
    totals = {
        g: writer.get(f"/grids/{g}/customers", params={"limit": 1}).json()["total"]
        for g in [target["grid_id"], *new]
    }
    assert all(n > 0 for n in totals.values())
    assert sum(totals.values()) == before_total
    # the same edit based on version 1 again is stale now
    stale = writer.post("/grids/save", json=body | {"grid_id": other["grid_id"]})
    clean_error(stale, 409, "1")
    assert len(writer.get("/grids/versions").json()) == 2


def test_save_breaking_topology_is_422_with_problems(writer, writable, grids, clean_error):
    a, b = _apart(grids)
    body = {"op": "merge", "grid_ids": [a, b], "author": "x", "reason": "y", "expected_version": 1}
    out = clean_error(writer.post("/grids/save", json=body), 422)
    assert out["error"] == "GridTopologyError"
    assert "not_contiguous" in {p["problem"] for p in out["problems"]}
    assert gridgeo.GeoPackageStore.open(writable).current_version("grids") == 1


def test_edit_of_unknown_grid_is_404(client, clean_error):
    response = client.post("/grids/preview", json={"op": "split", "grid_id": "T3-NOPE-01"})
    clean_error(response, 404, "T3-NOPE-01")


def test_split_into_too_many_parts_is_400(client, grids, clean_error):
    row = _tier3(grids).iloc[0]
    body = {"op": "split", "grid_id": row["grid_id"], "k": int(row["n_villages"]) + 1}
    clean_error(client.post("/grids/preview", json=body), 400, "`k`")


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/grids/preview", {"op": "zap"}, "body.op"),
        ("/grids/preview", {"village_codes": ["1"]}, "body.op"),
        ("/grids/preview", {"op": "move", "to_grid_id": "T3-X"}, "village_codes"),
        ("/grids/preview", {"op": "split", "grid_id": "T3-X", "k": 1}, "body.k"),
        ("/grids/preview", {"op": "merge", "grid_ids": "T3-A"}, "body.grid_ids"),
        ("/grids/preview", {"op": "split", "grid_id": "T3-X", "colour": 1}, "body.colour"),
        ("/grids/save", {"op": "split", "grid_id": "T3-X", "reason": "r"}, "body.author"),
        ("/grids/save", NO_VERSION_BODY | {"expected_version": 0}, "body.expected_version"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(client, clean_error, url, body, field):
    out = clean_error(client.post(url, json=body), 422, field.removeprefix("body."))
    assert any(field in e["field"] or field in e["message"] for e in out["errors"])


def test_body_that_is_no_json_is_422(client, clean_error):
    response = client.post(
        "/grids/preview", content=b"{not json", headers={"content-type": "application/json"}
    )
    clean_error(response, 422, "body")


def test_workspace_without_grids_is_404_without_server_paths(
    tmp_path, workspace, clean_error, make_client
):
    county = gpd.read_file(workspace, layer="county")
    path = tmp_path / "empty.gpkg"
    gridgeo.GeoPackageStore.create(
        path, {"county": county}, author="t", reason="t", keys={"county": "adcode"}
    )
    client = make_client(path)
    assert client.get("/health").json()["layers"] == ["county"]
    body = clean_error(client.get("/grids"), 404, "grids")
    assert str(tmp_path) not in body["detail"]
    body = clean_error(client.post("/grids/preview", json={"op": "split", "grid_id": "T3-A"}), 404)
    # neither the folder on the server nor the file's name: "the workspace", --workspace WORKSPACE
    assert "empty.gpkg" not in body["detail"]
    assert str(tmp_path) not in body["detail"]


@pytest.mark.parametrize("route", ["/stars", "/watch"])
def test_jobs_on_the_records_without_orders_name_no_file(
    tmp_path, workspace, route, clean_error, make_client
):
    county = gpd.read_file(workspace, layer="county")
    path = tmp_path / "no_orders.gpkg"
    gridgeo.GeoPackageStore.create(
        path, {"county": county}, author="t", reason="t", keys={"county": "adcode"}
    )
    body = clean_error(make_client(path).get(route), 404)
    assert "工单" in body["detail"] and "work orders" in body["detail"]
    assert "no_orders" not in body["detail"] and ".gpkg" not in body["detail"]
    assert "--workspace WORKSPACE" in body["detail"]


def test_preview_diffs_reach_kpis(client, grids, points, cells, access):
    t3 = _tier3(grids)
    source, target = t3.iloc[0], t3.iloc[1]
    village = source["villages"].split(SEP)[0]
    body = {"op": "move", "village_codes": [village], "to_grid_id": target["grid_id"]}
    diff = {r["grid_id"]: r for r in client.post("/grids/preview", json=body).json()["kpi_diff"]}
    ok = points[["customer_id", "grid_t3"]].merge(access, on="customer_id", how="left")
    ok[["repair_ok", "payment_ok"]] = ok[["repair_ok", "payment_ok"]].fillna(False).astype(bool)
    in_cell = _inside(points, cells.geometry[village])
    for grid, after_mask in [
        (source, (ok["grid_t3"] == source["grid_id"]) & ~in_cell),
        (target, (ok["grid_t3"] == target["grid_id"]) | in_cell),
    ]:
        before = ok.loc[ok["grid_t3"] == grid["grid_id"]]
        after = ok.loc[after_mask]
        row = diff[grid["grid_id"]]
        assert row["customers_before"] == len(before)
        assert row["customers_after"] == len(after)
        assert row["repair_ok_pct_before"] == pytest.approx(100 * before["repair_ok"].mean())
        for column in ("repair_ok", "payment_ok"):
            # a grid left with no customer has no share (JSON null)
            share = pytest.approx(100 * after[column].mean()) if len(after) else None
            assert row[f"{column}_pct_after"] == share


def test_a_customer_without_access_row_is_outside_the_promise_in_api_and_cli(
    writable, writer, points
):
    """Issue #9 (3): a customer with no `customer_access` row counts as NOT within the promise
    in the API preview and in the CLI preview alike (it used to count as within in the API)."""
    store = gridgeo.GeoPackageStore.open(writable)
    access = store.read("customer_access")
    grids = store.read("grids")
    t3 = _tier3(grids)
    # the smallest splittable village grid, so that a split lists it in the diff
    sizes = points["grid_t3"].value_counts()
    grid_id = min(t3.loc[t3["n_villages"] >= 2, "grid_id"], key=lambda g: (sizes.get(g, 0), g))
    mine = points.loc[points["grid_t3"] == grid_id, "customer_id"]
    ok_ids = access.loc[
        access["customer_id"].isin(mine) & access["repair_ok"].astype(bool), "customer_id"
    ]
    dropped = set(ok_ids.iloc[::2])  # every other customer within the promise loses its row
    assert len(dropped) >= 2
    kept = access.loc[~access["customer_id"].isin(dropped)]
    store.save("customer_access", kept, expected_version=1, author="test", reason="rows lost")

    # expected, independently: the grid's customers, a missing row counted as not within
    n = len(mine)
    within = int(access.loc[access["customer_id"].isin(mine), "repair_ok"].astype(bool).sum())
    expected = 100.0 * (within - len(dropped)) / n
    assert expected < 100.0 * within / n  # what NaN-as-True reported before the fix

    body = {"op": "split", "grid_id": grid_id, "k": 2}
    response = writer.post("/grids/preview", json=body)
    assert response.status_code == 200, response.text
    row = {r["grid_id"]: r for r in response.json()["kpi_diff"]}[grid_id]
    assert row["customers_before"] == n
    assert row["repair_ok_pct_before"] == pytest.approx(expected)

    cli = subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "grids", "edit", "split", "--workspace",
         str(writable), "--grid", grid_id, "--parts", "2"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    line = next(x for x in cli.stdout.splitlines() if x.split()[:1] == [grid_id])
    found = re.search(r" ([\d.]+) ?→ ?[\d.a-z]+ ", line)
    assert found is not None, line
    assert found.group(1) == f"{expected:.1f}"
    assert line.split()[2].replace(",", "") == str(n)  # customers before
    # the customer's own page says so too
    answer = writer.get(f"/customers/{min(dropped)}").json()["access"]
    assert (answer["repair_ok"], answer["payment_ok"]) == (False, False)
    assert answer["reason"] == "not_computed"
