"""Customers just outside the county line are put into a grid (``near_boundary``).

A hand-made county: the square 116.0-116.2 E, 27.0-27.2 N, cut by hand into a west and an
east tier-3 grid along 116.1 E. Points are put at known distances outside it with
``pyproj.Geod``; their distances are checked by brute force along the densified edges of the
square (never with the code under test), and the expected grids follow by hand: the nearest
edge of the square belongs to one grid, or (for a customer placed at its village's point) the
grid listing the village.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from handsquare import GEOD, SQUARE, fwd, geodesic_to_square
from shapely.geometry import Point, box

from gridgeo import archive, grids, workspace
from gridgeo.cli import main

# outside the square: 22 m west of the west grid, 101 m east of the east grid, 800 m north
# of the west grid, 490 / 510 m south of the east grid, 30 m south of the corner the two
# grids share, and a village point 60 m south of the WEST grid whose village the EAST grid
# lists
W22 = fwd(116.0, 27.08, 270.0, 22.0)
E101 = fwd(116.2, 27.08, 90.0, 101.0)
N800 = fwd(116.05, 27.2, 0.0, 800.0)
S490 = fwd(116.15, 27.0, 180.0, 490.0)
S510 = fwd(116.15, 27.0, 180.0, 510.0)
CORNER30 = fwd(116.1, 27.0, 180.0, 30.0)
VILLAGE_S60 = fwd(116.05, 27.0, 180.0, 60.0)


def test_the_points_lie_where_the_tests_say():
    for point, metres in [
        (W22, 22.0), (E101, 101.0), (N800, 800.0), (S490, 490.0), (S510, 510.0),
        (CORNER30, 30.0), (VILLAGE_S60, 60.0),
    ]:  # fmt: skip
        assert geodesic_to_square(*point) == pytest.approx(metres, abs=0.05)
        assert not SQUARE.contains(Point(point))


def _grids() -> gpd.GeoDataFrame:
    west, east = box(116.0, 27.0, 116.1, 27.2), box(116.1, 27.0, 116.2, 27.2)
    return gpd.GeoDataFrame(
        {
            "grid_id": ["T1", "T2-A", "T3-A-01", "T3-A-02"],
            "tier": [1, 2, 3, 3],
            "parent_id": [None, "T1", "T2-A", "T2-A"],
            # the east grid lists village VS (its point lies south of the WEST grid)
            "villages": ["V1，V2，VS", "V1，V2，VS", "V1", "V2，VS"],
        },
        geometry=[SQUARE, SQUARE, west, east],
        crs="EPSG:4326",
    )


def _customers() -> gpd.GeoDataFrame:
    rows = [
        ("in", (116.05, 27.1), "gps", ""),
        ("w22", W22, "gps", ""),
        ("e101", E101, "village", "V2"),
        ("n800", N800, "gps", ""),
        ("s490", S490, "gps", ""),
        ("s510", S510, "gps", ""),
        ("corner", CORNER30, "gps", ""),
        ("at_vs", VILLAGE_S60, "village", "VS"),  # placed at its village's point
        ("gps_vs", VILLAGE_S60, "gps", ""),  # the same point from a phone: nearest grid
        ("none", None, "none", ""),
    ]
    return gpd.GeoDataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "location_source": [r[2] for r in rows],
            "village_code": [r[3] for r in rows],
        },
        geometry=[Point(r[1]) if r[1] else None for r in rows],
        index=[r[0] for r in rows],
        crs="EPSG:4326",
    )


# by hand: W22 and N800 face the west grid, E101 and S490 the east one; the corner point is
# as near to both, the smaller id wins; the village list wins for the customer at VS's point
EXPECTED = {
    "in": ("T3-A-01", "ok"),
    "w22": ("T3-A-01", "near_boundary"),
    "e101": ("T3-A-02", "near_boundary"),
    "n800": (None, "outside_grids"),
    "s490": ("T3-A-02", "near_boundary"),
    "s510": (None, "outside_grids"),
    "corner": ("T3-A-01", "near_boundary"),
    "at_vs": ("T3-A-02", "near_boundary"),
    "gps_vs": ("T3-A-01", "near_boundary"),
    "none": (None, "not_geocoded"),
}


def _as_dict(out: pd.DataFrame) -> dict[str, tuple[object, str]]:
    t3 = out["grid_t3"].astype(object).where(out["grid_t3"].notna(), None)
    return {i: (t3[i], out.loc[i, "grid_reason"]) for i in out.index}


def test_assign_near_boundary_by_hand():
    out = grids.assign_to_grids(_customers(), _grids())
    assert _as_dict(out) == EXPECTED
    placed = out["grid_t3"].notna()
    assert set(out.loc[placed, "grid_t2"]) == {"T2-A"} and set(out.loc[placed, "grid_t1"]) == {"T1"}
    assert out.loc[~placed, ["grid_t1", "grid_t2"]].isna().all().all()
    assert "near_boundary" in grids.ASSIGN_REASONS
    # the default is the workspace's tolerance for points outside the county
    assert grids.NEAR_BOUNDARY_M == workspace.OUTSIDE_TOLERANCE_M == 500.0


def test_tolerance_is_a_parameter():
    customers = _customers()
    at_100 = _as_dict(grids.assign_to_grids(customers, _grids(), near_boundary_m=100.0))
    assert at_100["w22"] == ("T3-A-01", "near_boundary")
    assert at_100["at_vs"] == ("T3-A-02", "near_boundary")
    assert at_100["e101"] == (None, "outside_grids")  # 101 m > 100 m
    assert at_100["s490"] == (None, "outside_grids")
    at_600 = _as_dict(grids.assign_to_grids(customers, _grids(), near_boundary_m=600.0))
    assert at_600["s510"] == ("T3-A-02", "near_boundary")
    assert at_600["n800"] == (None, "outside_grids")
    off = grids.assign_to_grids(customers, _grids(), near_boundary_m=0)
    outside = [i for i, (_, why) in EXPECTED.items() if why == "near_boundary"]
    assert set(off.loc[outside, "grid_reason"]) == {"outside_grids"}
    with pytest.raises(grids.InputError, match="near_boundary_m"):
        grids.assign_to_grids(customers, _grids(), near_boundary_m=-1)


def test_points_alone_get_the_nearest_grid():
    # a GeoSeries has no village: the customer at VS's point goes to the nearest grid
    out = _as_dict(grids.assign_to_grids(_customers().geometry, _grids()))
    assert out["at_vs"] == ("T3-A-01", "near_boundary")
    assert out["e101"] == ("T3-A-02", "near_boundary")


def _geodesic_to_box(lon: np.ndarray, lat: np.ndarray, bounds: tuple[float, ...]) -> np.ndarray:
    """Least geodesic distance (m) from points to a lon/lat box's edges, by brute force."""
    x0, y0, x1, y1 = bounds
    t = np.linspace(0.0, 1.0, 401)
    xs = np.concatenate(
        [x0 + (x1 - x0) * t, np.full_like(t, x1), x1 - (x1 - x0) * t, np.full_like(t, x0)]
    )
    ys = np.concatenate(
        [np.full_like(t, y0), y0 + (y1 - y0) * t, np.full_like(t, y1), y1 - (y1 - y0) * t]
    )
    _, _, dist = GEOD.inv(
        np.repeat(lon, len(xs)),
        np.repeat(lat, len(xs)),
        np.tile(xs, len(lon)),
        np.tile(ys, len(lon)),
    )
    return dist.reshape(len(lon), len(xs)).min(axis=1)


def test_assign_matches_a_brute_force_loop():
    # two 1 km tier-3 grids side by side, random points up to about 1 km around them
    west, east = (116.50, 27.20, 116.51, 27.21), (116.51, 27.20, 116.52, 27.21)
    frame = gpd.GeoDataFrame(
        {
            "grid_id": ["T1", "T2", "T3-W", "T3-E"],
            "tier": [1, 2, 3, 3],
            "parent_id": [None, "T1", "T2", "T2"],
        },
        geometry=[box(116.50, 27.20, 116.52, 27.21)] * 2 + [box(*west), box(*east)],
        crs="EPSG:4326",
    )
    rng = np.random.default_rng(7)
    xy = rng.uniform([116.49, 27.19], [116.53, 27.22], size=(300, 2))
    out = grids.assign_to_grids(
        gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=4326), frame
    )
    d_w = _geodesic_to_box(xy[:, 0], xy[:, 1], west)
    d_e = _geodesic_to_box(xy[:, 0], xy[:, 1], east)
    checked = near = 0
    for i, (x, y) in enumerate(xy):
        hits = [g for g, b in (("T3-E", east), ("T3-W", west)) if box(*b).intersects(Point(x, y))]
        d = min(d_w[i], d_e[i])
        if hits:
            expected = (hits[0], "ok")
        elif abs(d - 500.0) < 2.0 or abs(d_w[i] - d_e[i]) < 2.0:
            continue  # too close to the tolerance or to a tie for a brute force on samples
        elif d <= 500.0:
            expected = ("T3-W" if d_w[i] < d_e[i] else "T3-E", "near_boundary")
            near += 1
        else:
            expected = (None, "outside_grids")
        got = out.loc[i, "grid_t3"], out.loc[i, "grid_reason"]
        assert (got[0] if pd.notna(got[0]) else None, got[1]) == expected, (i, x, y, d)
        checked += 1
    assert checked > 250 and near > 30


# --------------------------------------------------------------------------- workspace, CLI


def _layers() -> dict[str, gpd.GeoDataFrame]:
    county = gpd.GeoDataFrame(
        {"adcode": ["361023"], "name": ["南丰县"]}, geometry=[SQUARE], crs=4326
    )
    towns = gpd.GeoDataFrame(
        {"town_code": ["T1"], "town": ["甲镇"]}, geometry=[Point(116.1, 27.1)], crs=4326
    )
    # four villages inside; 南坑村 VS lies 60 m south of the county line, 远坑村 VF 800 m north
    names = {"V1": "东山村", "V2": "西山村", "V3": "北岭村", "V4": "中塘村", "VS": "南坑村"}
    names["VF"] = "远坑村"
    points = [(116.05, 27.05), (116.15, 27.05), (116.05, 27.15), (116.15, 27.15), VILLAGE_S60]
    points.append(N800)
    villages = gpd.GeoDataFrame(
        {
            "village_code": list(names),
            "village": list(names.values()),
            "town_code": "T1",
            "town": "甲镇",
        },
        geometry=[Point(p) for p in points],
        crs=4326,
    )
    substations = gpd.GeoDataFrame(
        {"substation_id": ["S1", "S2"], "name": ["一站", "二站"], "voltage_kv": [110.0, 35.0]},
        geometry=[Point(116.05, 27.1), Point(116.15, 27.1)],
        crs=4326,
    )
    stations = gpd.GeoDataFrame(
        {"station_id": ["R1"], "name": ["抢修一"]}, geometry=[Point(116.1, 27.1)], crs=4326
    )
    payment = gpd.GeoDataFrame(
        {"point_id": ["P1"], "name": ["营业厅"]}, geometry=[Point(116.1, 27.1)], crs=4326
    )
    return {
        "county": county,
        "towns": towns,
        "villages": villages,
        "substations": substations,
        "repair_stations": stations,
        "payment_points": payment,
    }


@pytest.fixture
def cli(capsys):
    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_import_puts_them_in_grids_and_says_so(tmp_path, cli):
    with pytest.warns(workspace.OutsideCountyWarning, match="VS"):
        store = workspace.create_workspace(
            tmp_path / "ws.gpkg", _layers(), author="a", reason="b", allow_outside=True
        )
    build = workspace.build_grids(store, method="voronoi")
    workspace.save_grids(store, build.service.grids, author="a", reason="b")
    saved = store.read("grids")
    t3 = saved[saved["tier"] == 3]
    listing = {
        code: gid
        for gid, codes in zip(t3["grid_id"], t3["villages"], strict=True)
        for code in str(codes).split("，")
    }
    # by hand: the grids containing the county's edge points nearest to W22 and E101 (just
    # inside them, found with shapely), and the grid listing VS
    at = {
        name: t3.loc[t3.contains(Point(p)), "grid_id"].item()
        for name, p in {"w": (116.0005, 27.08), "e": (116.1995, 27.08)}.items()
    }
    csv = tmp_path / "customers.csv"
    pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5"],
            "address": [
                "南丰县甲镇东山村1组",
                "南丰县甲镇",
                "南丰县甲镇",
                "南丰县甲镇远坑村2组",
                "南丰县甲镇南坑村3组",
            ],
            "gps_lon": [np.nan, W22[0], E101[0], np.nan, np.nan],
            "gps_lat": [np.nan, W22[1], E101[1], np.nan, np.nan],
        }
    ).to_csv(csv, index=False)

    code, out, err = cli(
        "customers", "import", str(csv), "--workspace", str(store.path), "--author", "a",
        "--reason", "b",
    )  # fmt: skip
    assert code == 0, err
    assert "Traceback" not in err and "Warning" not in err
    stored = store.read("customers").set_index("customer_id")
    assert list(stored.loc[["c2", "c3", "c4", "c5"], "location_source"]) == [
        "gps", "gps", "village", "village"
    ]  # fmt: skip
    assert list(stored.loc[["c4", "c5"], "village_code"]) == ["VF", "VS"]
    assert "VF" in listing  # a listed village, yet 800 m out: beyond the tolerance
    got = {
        cid: (
            stored.loc[cid, "grid_t3"] if pd.notna(stored.loc[cid, "grid_t3"]) else None,
            stored.loc[cid, "grid_reason"],
        )
        for cid in ("c2", "c3", "c4", "c5")
    }
    assert got == {
        "c2": (at["w"], "near_boundary"),
        "c3": (at["e"], "near_boundary"),
        "c4": (None, "outside_grids"),
        "c5": (listing["VS"], "near_boundary"),
    }
    # the report's reasons list them, and the note counts them with the fix
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("grid_reason")]
    assert ["grid_reason", "near_boundary", "3", "60.00%"] in rows
    assert ["grid_reason", "outside_grids", "1", "20.00%"] in rows
    note = [line for line in out.splitlines() if "village(s) outside the county" in line]
    assert len(note) == 1
    assert "2 village(s) outside the county: 3 customer(s) put in a grid" in note[0]
    assert "1 still outside every grid" in note[0] and "--villages-datum" in note[0]

    # the same rule when the grids are saved: list VS in another tier-3 grid (its polygons
    # unchanged) and the customer at VS's point follows the list, not the nearest grid
    other = sorted(set(t3["grid_id"]) - {listing["VS"]})[0]
    edited = saved.drop(columns="version").copy()

    def relist(gid: str, codes: str) -> str:
        kept = [c for c in codes.split("，") if c and c != "VS"]
        return "，".join(sorted([*kept, "VS"] if gid == other else kept))

    is_t3 = edited["tier"] == 3
    edited.loc[is_t3, "villages"] = [
        relist(g, c)
        for g, c in zip(edited.loc[is_t3, "grid_id"], edited.loc[is_t3, "villages"], strict=True)
    ]
    workspace.save_grids(store, edited, author="a", reason="VS listed elsewhere")
    again = store.read("customers").set_index("customer_id")
    assert (again.loc["c5", "grid_t3"], again.loc["c5", "grid_reason"]) == (other, "near_boundary")
    assert (again.loc["c2", "grid_t3"], again.loc["c2", "grid_reason"]) == (
        at["w"],
        "near_boundary",
    )
    assert again.loc["c4", "grid_reason"] == "outside_grids"
    # and the counts read the same: c1 (inside), c2, c3, c5 in grids, c4 not located
    counts = workspace.count_grid_customers(store)[3]["customers"]
    expected = pd.Series([again.loc["c1", "grid_t3"], at["w"], at["e"], other]).value_counts()
    for gid, n in expected.items():
        assert counts[gid] == n
    assert counts[archive.NOT_LOCATED] == 1 and counts.sum() == 5
