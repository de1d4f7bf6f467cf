"""gridgeo.compare_grid_versions on three hand-made versions of four villages' grids.

Four village cells in a row, 0.01° wide, near 南丰:

    V1 | V2 | V3 | V4        version 1: G1 = V1+V2, G2 = V3, G3 = V4 (supply A: G1+G2, B: G3)
                              version 2: V2 moves to G2, supply B gets substation S3
                              version 3: G3 is renamed G4 (one grid removed, one added)

Customers: 3 in V1, 2 in V2, 4 in V3, 1 in V4 and 1 far outside every grid. The expected
values are written by hand from this picture, and the customers per grid are also counted
with shapely from the polygons of each version read back from the store.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

import gridgeo

SEP = "，"
X0, Y0, Y1, W = 116.0, 27.0, 27.01, 0.01


def _cell(i: int, j: int | None = None) -> shapely.Polygon:
    """The box of cells i..j (1-based, inclusive)."""
    j = i if j is None else j
    return box(X0 + (i - 1) * W, Y0, X0 + j * W, Y1)


def _grid(gid, tier, parent, name, sub, villages, geom):  # type: ignore[no-untyped-def]
    return {"grid_id": gid, "tier": tier, "parent_id": parent, "name": name,
            "substation_id": sub, "villages": SEP.join(villages), "geometry": geom}  # fmt: skip


def _version_1() -> list[dict]:
    return [
        _grid("T1", 1, None, "县公司", None, ["V1", "V2", "V3", "V4"], _cell(1, 4)),
        _grid("A", 2, "T1", "甲供电网格", "S1", ["V1", "V2", "V3"], _cell(1, 3)),
        _grid("B", 2, "T1", "乙供电网格", "S2", ["V4"], _cell(4)),
        _grid("G1", 3, "A", "甲网格1", "S1", ["V1", "V2"], _cell(1, 2)),
        _grid("G2", 3, "A", "甲网格2", "S1", ["V3"], _cell(3)),
        _grid("G3", 3, "B", "乙网格1", "S2", ["V4"], _cell(4)),
    ]


def _version_2() -> list[dict]:
    rows = _version_1()
    rows[2] = _grid("B", 2, "T1", "丙供电网格", "S3", ["V4"], _cell(4))
    rows[3] = _grid("G1", 3, "A", "甲网格1", "S1", ["V1"], _cell(1))
    rows[4] = _grid("G2", 3, "A", "甲网格2", "S1", ["V2", "V3"], _cell(2, 3))
    rows[5] = _grid("G3", 3, "B", "丙网格1", "S3", ["V4"], _cell(4))
    return rows


def _version_3() -> list[dict]:
    rows = _version_2()
    rows[5] = _grid("G4", 3, "B", "丙网格1", "S3", ["V4"], _cell(4))
    return rows


def _frame(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


# customers per village cell (points well inside each cell), and one far away
PER_VILLAGE = {"V1": 3, "V2": 2, "V3": 4, "V4": 1}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> gridgeo.GeoPackageStore:
    path = Path(tmp_path_factory.mktemp("compare")) / "workspace.gpkg"
    villages = gpd.GeoDataFrame(
        {
            "village_code": ["V1", "V2", "V3", "V4"],
            "village": ["一村", "二村", "三村", "四村"],
            "town": ["甲镇", "甲镇", "甲镇", "乙镇"],
        },
        geometry=[_cell(i).centroid for i in range(1, 5)],
        crs=4326,
    )
    points, ids = [], []
    for i, (code, n) in enumerate(PER_VILLAGE.items(), start=1):
        centre = _cell(i).centroid
        for k in range(n):
            points.append(Point(centre.x + 0.001 * (k - 1), centre.y + 0.0005 * k))
            ids.append(f"C-{code}-{k}")
    points.append(Point(117.5, 28.5))  # far outside every grid: not located
    ids.append("C-far")
    customers = gpd.GeoDataFrame(
        {"customer_id": ids, "voltage_class": "LV", "vulnerable": False},
        geometry=points,
        crs=4326,
    )
    made = gridgeo.GeoPackageStore.create(
        path,
        {"grids": _frame(_version_1()), "villages": villages, "customers": customers},
        author="test",
        reason="hand-made",
        keys={"villages": "village_code"},
    )
    made.save("grids", _frame(_version_2()), expected_version=1, author="t", reason="move V2")
    made.save("grids", _frame(_version_3()), expected_version=2, author="t", reason="rename G3")
    return made


def _shapely_counts(store: gridgeo.GeoPackageStore, version: int) -> dict[str, int]:
    """Customers inside each grid's polygon, counted with shapely."""
    grids = store.read("grids", version=version)
    points = store.read("customers").geometry.to_numpy()
    return {
        str(gid): int(shapely.contains(geom, points).sum())
        for gid, geom in zip(grids["grid_id"], grids.geometry, strict=True)
    }


def test_a_village_move_and_a_substation_change_between_versions_1_and_2(store):
    found = gridgeo.compare_grid_versions(store, 1, 2)
    assert (found.version_a, found.version_b) == (1, 2)
    assert tuple(found.grids.columns) == tuple(gridgeo.COMPARE_GRID_COLUMNS)
    assert tuple(found.villages.columns) == tuple(gridgeo.COMPARE_VILLAGE_COLUMNS)

    # only V2 changed grids: G1 -> G2, both in supply grid A
    villages = found.villages.set_index("village_code")
    assert list(villages.index) == ["V2"]
    v2 = villages.loc["V2"]
    assert (v2["grid_a"], v2["grid_b"], v2["supply_a"], v2["supply_b"]) == ("G1", "G2", "A", "A")
    assert (v2["village"], v2["town"], v2["grid_name_a"], v2["grid_name_b"]) == (
        "二村", "甲镇", "甲网格1", "甲网格2",
    )  # fmt: skip
    centre = _cell(2).centroid
    assert v2["lon"] == pytest.approx(centre.x, abs=1e-6)
    assert v2["lat"] == pytest.approx(centre.y, abs=1e-6)

    grids = found.grids.set_index("grid_id")
    assert list(grids.index) == ["T1", "A", "B", "G1", "G2", "G3"]  # by tier, then id
    by_hand = {  # grid: (customers in version 1, in version 2), from the picture
        "T1": (10, 10), "A": (9, 9), "B": (1, 1), "G1": (5, 3), "G2": (4, 6), "G3": (1, 1),
    }  # fmt: skip
    counted = _shapely_counts(store, 1), _shapely_counts(store, 2)
    for gid, (a, b) in by_hand.items():
        assert (counted[0][gid], counted[1][gid]) == (a, b)  # the picture is right
        assert (grids.at[gid, "customers_a"], grids.at[gid, "customers_b"]) == (a, b), gid
        assert grids.at[gid, "customers_change"] == b - a
    status = grids["status"].to_dict()
    # A keeps its villages, customers, name and substation; B and G3 change substation
    assert status == {"T1": "same", "A": "same", "B": "changed", "G1": "changed",
                      "G2": "changed", "G3": "changed"}  # fmt: skip
    assert (grids.at["B", "substation_a"], grids.at["B", "substation_b"]) == ("S2", "S3")
    assert (grids.at["G3", "name_a"], grids.at["G3", "name_b"]) == ("乙网格1", "丙网格1")
    counts = ["villages_a", "villages_b", "villages_in", "villages_out"]
    assert grids.loc["G1", counts].tolist() == [2, 1, 0, 1]
    assert grids.loc["G2", counts].tolist() == [1, 2, 1, 0]


def test_the_other_way_round_swaps_before_and_after(store):
    forward = gridgeo.compare_grid_versions(store, 1, 2).grids.set_index("grid_id")
    back = gridgeo.compare_grid_versions(store, 2, 1)
    grids = back.grids.set_index("grid_id")
    assert (grids["customers_a"] == forward["customers_b"]).all()
    assert (grids["customers_b"] == forward["customers_a"]).all()
    assert back.villages[["village_code", "grid_a", "grid_b"]].values.tolist() == [
        ["V2", "G2", "G1"]
    ]


def test_a_renamed_grid_is_one_removed_and_one_added(store):
    found = gridgeo.compare_grid_versions(store, 2, 3)
    grids = found.grids.set_index("grid_id")
    assert grids.at["G3", "status"] == "removed" and grids.at["G4", "status"] == "added"
    assert (grids.at["G3", "customers_a"], grids.at["G3", "customers_b"]) == (1, 0)
    assert (grids.at["G4", "customers_a"], grids.at["G4", "customers_b"]) == (0, 1)
    assert pd.isna(grids.at["G4", "name_a"]) and grids.at["G4", "name_b"] == "丙网格1"
    assert (grids.at["G4", "villages_in"], grids.at["G3", "villages_out"]) == (1, 1)
    # the supply grid B lists the same village in both: unchanged
    assert grids.at["B", "status"] == "same"
    assert found.villages[["village_code", "grid_a", "grid_b"]].values.tolist() == [
        ["V4", "G3", "G4"]
    ]
    # versions 1 and 3: V2 moved and V4 changed grid id
    assert gridgeo.compare_grid_versions(store, 1, 3).villages["village_code"].tolist() == [
        "V2",
        "V4",
    ]


def test_the_same_version_twice_or_an_unknown_one_is_refused(store):
    with pytest.raises(gridgeo.InputError, match=r"`version_a` and `version_b` are both 2"):
        gridgeo.compare_grid_versions(store, 2, 2)
    with pytest.raises(gridgeo.NotFoundError, match=r"`version_b` 9 is no version.*1, 2, 3"):
        gridgeo.compare_grid_versions(store, 1, 9)
    with pytest.raises(gridgeo.NotFoundError, match=r"`version_a` 0 is no version"):
        gridgeo.compare_grid_versions(store, 0, 1)
    with pytest.raises(gridgeo.NotFoundError, match=r"`version_a` True"):
        gridgeo.compare_grid_versions(store, True, 2)  # type: ignore[arg-type]
