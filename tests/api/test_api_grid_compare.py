"""The planner's two further edits over /grids: reassign a supply grid's substation
(``op`` ``reassign`` of ``POST /grids/preview`` and ``/grids/save``, the substations of
``GET /grids/substations``) and compare two versions (``GET /grids/compare``).

Expected values come from the workspace read with geopandas in the test (the customers'
stored grid ids, a spatial join of the customers with each version's polygons), not from
the routes under test.
"""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

import gridgeo

SEP = "，"


def _add_substation(store: gridgeo.GeoPackageStore, sid: str, where: Point) -> None:
    """A newly built 35 kV substation, saved as a new version of the substations layer."""
    subs = store.read("substations")
    row = gpd.GeoDataFrame(
        {"substation_id": [sid], "name": ["新建35kV变电站"], "voltage_kv": [35.0],
         "source": ["test"], "voltage_source": ["test"]},
        geometry=[where], crs=subs.crs,
    )  # fmt: skip
    new = pd.concat([subs.drop(columns="version"), row], ignore_index=True)
    store.save(
        "substations",
        gpd.GeoDataFrame(new, geometry="geometry", crs=subs.crs),
        expected_version=store.current_version("substations"),
        author="test",
        reason="新建变电站 / a new substation",
    )


def _supply_grid(store: gridgeo.GeoPackageStore) -> pd.Series:
    """The supply grid with the most tier-3 grids (so the reassign renames several)."""
    grids = store.read("grids")
    kids = grids.loc[grids["tier"] == 3, "parent_id"].value_counts()
    return grids.set_index("grid_id").loc[str(kids.index[0])]


def _last_audit(path) -> dict:
    with sqlite3.connect(path) as con:
        con.row_factory = sqlite3.Row
        return dict(con.execute("SELECT * FROM gridgeo_audit ORDER BY fid DESC LIMIT 1").fetchone())


def test_a_supply_grid_is_reassigned_to_a_new_substation(writable, make_client, clean_error):
    store = gridgeo.GeoPackageStore.open(writable)
    t2 = _supply_grid(store)
    gid, old_sid = str(t2.name), str(t2["substation_id"])
    _add_substation(store, "SUB-NEW", t2.geometry.representative_point())
    planner = make_client(writable, "planner")

    listed = planner.get("/grids/substations")
    assert listed.status_code == 200, listed.text
    heads = {s["substation_id"]: s["grid_id"] for s in listed.json()["substations"]}
    grids = store.read("grids")
    supply = grids.loc[grids["tier"] == 2]
    assert heads["SUB-NEW"] is None
    assert {k: v for k, v in heads.items() if v} == dict(
        zip(supply["substation_id"], supply["grid_id"], strict=True)
    )

    version = store.current_version("grids")
    edit = {"op": "reassign", "grid_id": gid, "substation_id": "SUB-NEW"}
    preview = planner.post("/grids/preview", json=edit)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["base_version"] == version and body["problems"] == []
    kids = sorted(grids.loc[grids["parent_id"] == gid, "grid_id"])
    rows = {r["grid_id"]: r for r in body["kpi_diff"]}
    assert sorted(rows) == sorted([gid, *kids])  # the grids whose substation changes
    customers = store.read("customers")
    for g, row in rows.items():
        assert (row["substation_before"], row["substation_after"]) == (old_sid, "SUB-NEW")
        column = "grid_t2" if g == gid else "grid_t3"
        stored = int((customers[column].astype(str) == g).sum())
        assert row["customers_before"] == row["customers_after"] == stored

    saved = planner.post(
        "/grids/save",
        json={**edit, "author": "规划员", "reason": "新变电站投运 / new substation",
              "expected_version": version},
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == version + 1
    after = store.read("grids").set_index("grid_id")
    assert after.at[gid, "substation_id"] == "SUB-NEW"
    assert (after.loc[kids, "substation_id"] == "SUB-NEW").all()
    assert after.at[gid, "name"] == "新建35kV变电站供电网格"
    audit = _last_audit(writable)
    assert (audit["route"], audit["target"], audit["status"]) == ("/grids/save", gid, 200)

    # the same edit on the old version: refused, nothing written
    stale = planner.post(
        "/grids/save",
        json={**edit, "substation_id": old_sid, "author": "规划员", "reason": "back",
              "expected_version": version},
    )  # fmt: skip
    clean_error(stale, 409, "expected_version")
    assert store.current_version("grids") == version + 1


def test_reassign_refusals_name_the_field(workspace, make_client, clean_error):
    store = gridgeo.GeoPackageStore.open(workspace)
    planner = make_client(workspace, "planner")
    t2 = _supply_grid(store)
    gid, sid = str(t2.name), str(t2["substation_id"])
    grids = store.read("grids")
    other = grids.loc[(grids["tier"] == 2) & (grids["grid_id"] != gid)].iloc[0]
    t3 = str(grids.loc[grids["tier"] == 3, "grid_id"].iloc[0])

    def preview(**kw):  # type: ignore[no-untyped-def]
        return planner.post("/grids/preview", json={"op": "reassign", **kw})

    body = clean_error(preview(grid_id=gid, substation_id="SUB-NONE"), 404, "substation_id")
    assert "变电站" in body["detail"] and "GET /grids/substations" in body["detail"]
    body = clean_error(preview(grid_id=t3, substation_id=sid), 404, "grid_id")
    assert "供电网格" in body["detail"]
    body = clean_error(preview(grid_id=gid, substation_id=sid), 400, "substation_id")
    assert "变电站未变" in body["detail"]
    assert preview(grid_id=gid).status_code == 422  # no substation_id at all

    # a substation that heads another supply grid, standing outside this one
    taken = preview(grid_id=gid, substation_id=str(other["substation_id"]))
    assert taken.status_code == 200, taken.text
    kinds = {p["problem"] for p in taken.json()["problems"]}
    subs = store.read("substations").set_index("substation_id")
    point = gpd.GeoSeries([subs.geometry[str(other["substation_id"])]], crs=4326).to_crs(32650)
    away_m = gpd.GeoSeries([t2.geometry], crs=4326).to_crs(32650).distance(point).iloc[0]
    assert "shared_substation" in kinds
    assert ("substation_outside" in kinds) == (away_m > 500.0)  # the rule's default limit
    version = store.current_version("grids")
    refused = planner.post(
        "/grids/save",
        json={"op": "reassign", "grid_id": gid, "substation_id": str(other["substation_id"]),
              "author": "规划员", "reason": "x", "expected_version": version},
    )  # fmt: skip
    assert refused.status_code == 422
    assert store.current_version("grids") == version


def _counts_by_sjoin(store: gridgeo.GeoPackageStore, version: int) -> dict[str, int]:
    """Customers per grid (all tiers) of one version, by a geopandas spatial join."""
    grids = store.read("grids", version=version)[["grid_id", "geometry"]]
    customers = store.read("customers")[["customer_id", "geometry"]]
    joined = gpd.sjoin(customers, grids, predicate="within")
    return joined.groupby("grid_id").size().astype(int).to_dict()


def test_compare_two_versions(writable, make_client, clean_error, leaks):
    store = gridgeo.GeoPackageStore.open(writable)
    base = gridgeo.load_edit_base(store)
    first = store.current_version("grids")
    grids = store.read("grids")
    vg = {c: g for g, vs in zip(grids["grid_id"], grids["villages"], strict=True)
          for c in str(vs).split(SEP) if c and g.startswith("T3")}  # fmt: skip
    code = next(
        c for c in sorted(vg)
        if gridgeo.village_join_options(base.service, c, adjacency=base.adjacency)["ok"].any()
    )  # fmt: skip
    options = gridgeo.village_join_options(base.service, code, adjacency=base.adjacency)
    target = str(options.loc[options["ok"], "grid_id"].iloc[0])
    edited = gridgeo.preview_move_villages(base.service, [code], target).grids
    second = gridgeo.save_grids(store, edited, author="t", reason="move",
                                expected_version=first)  # fmt: skip

    leader = make_client(writable, "leader")
    answer = leader.get("/grids/compare", params={"version_a": first, "version_b": second})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["version_a"], body["version_b"]) == (first, second)
    assert [(v["village_code"], v["grid_a"], v["grid_b"]) for v in body["villages"]] == [
        (code, vg[code], target)
    ]
    village = store.read("villages").set_index("village_code").loc[code]
    assert body["villages"][0]["village"] == village["village"]
    assert body["villages"][0]["lon"] == pytest.approx(village.geometry.x, abs=1e-6)
    before, after = _counts_by_sjoin(store, first), _counts_by_sjoin(store, second)
    shown = {g["grid_id"]: g for g in body["grids"]}
    assert {vg[code], target} <= set(shown)
    changed = {g for g in set(before) | set(after) if before.get(g, 0) != after.get(g, 0)}
    assert changed <= set(shown)  # every grid whose customers changed is listed
    for g, row in shown.items():
        assert row["status"] == "changed"
        assert (row["customers_a"], row["customers_b"]) == (before.get(g, 0), after.get(g, 0))
    moved = before[vg[code]] - after[vg[code]]
    assert moved > 0 and after[target] - before[target] == moved
    for leak in ("customer_id", "phone", "address", "manager", *leaks):
        assert leak not in answer.text

    planner = make_client(writable, "planner")
    same = planner.get("/grids/compare", params={"version_a": second, "version_b": second})
    body = clean_error(same, 400, "version_a", "version_b")
    assert "两个版本相同" in body["detail"]
    unknown = planner.get("/grids/compare", params={"version_a": first, "version_b": 99})
    body = clean_error(unknown, 404, "version_b")
    assert "没有网格版本 99" in body["detail"]
    assert planner.get("/grids/compare", params={"version_a": first}).status_code == 422
    dispatcher = make_client(writable, "dispatcher")
    refused = dispatcher.get("/grids/compare", params={"version_a": first, "version_b": second})
    assert refused.status_code == 403
