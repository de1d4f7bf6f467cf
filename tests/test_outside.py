"""Points checked against the county at workspace init, and the smaller walls of the CLI.

A hand-made county: the square 116.0-116.2 E, 27.0-27.2 N (about 19.8 x 22.2 km). Points are
put at known distances outside it with ``pyproj.Geod``; the expected distances are the least
geodesic distance to the square's edges, found by brute force along the densified edges, never
from the code under test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from handsquare import SQUARE, fwd, geodesic_to_square
from shapely.geometry import LineString, Point

from gridgeo import crs, workspace
from gridgeo.cli import main
from gridgeo.dispatch import dispatch
from gridgeo.store import GeoPackageStore
from gridgeo.workspace import OutsideCountyError, OutsideCountyWarning

JIANGXI = Path(__file__).resolve().parents[1] / "sample_data" / "jiangxi"
NANFENG = Path(__file__).resolve().parents[1] / "sample_data" / "nanfeng"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, as a user runs it (about 5 s of imports: used once)."""
    return subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture
def cli(capsys):
    """The CLI's `main` in this process: its exit status, stdout and stderr."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return run


# outside points: far east (beyond), 400 m east (within 500 m), 600 m north (beyond at
# 500 m, within at 650 m), a village 30 m south (within)
FAR_E = (116.3, 27.1)
NEAR_E = fwd(116.2, 27.1, 90.0, 400.0)
NORTH_600 = fwd(116.1, 27.2, 0.0, 600.0)
VILLAGE_S = fwd(116.1, 27.0, 180.0, 30.0)
VILLAGE_LONS = (116.03, 116.09, 116.17)
VILLAGE_LATS = (27.05, 27.15)


def _county() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"adcode": ["999001"], "name": ["方县"]}, geometry=[SQUARE], crs=4326)


def _villages(extra: bool = False) -> gpd.GeoDataFrame:
    pts = [(x, y) for y in VILLAGE_LATS for x in VILLAGE_LONS]
    codes = [f"V{i}" for i in range(1, len(pts) + 1)]
    if extra:
        pts.append(VILLAGE_S)
        codes.append("VX")
    return gpd.GeoDataFrame(
        {"village_code": codes, "village": [f"{c}村" for c in codes], "town_code": "T1"},
        geometry=[Point(p) for p in pts],
        crs=4326,
    )


def _substations(extra: bool = False) -> gpd.GeoDataFrame:
    ids, pts, kv = ["S1", "S2"], [(116.05, 27.10), (116.15, 27.10)], [110.0, np.nan]
    if extra:
        ids.append("SX")
        pts.append(FAR_E)
        kv.append(35.0)
    return gpd.GeoDataFrame(
        {"substation_id": ids, "name": [f"{i}站" for i in ids], "voltage_kv": kv},
        geometry=[Point(p) for p in pts],
        crs=4326,
    )


def _repair_stations(extra: bool = False) -> gpd.GeoDataFrame:
    ids, pts = ["R1"], [(116.1, 27.1)]
    if extra:
        ids.append("RN")
        pts.append(NEAR_E)
    return gpd.GeoDataFrame(
        {"station_id": ids, "name": ids, "crews": 2}, geometry=[Point(p) for p in pts], crs=4326
    )


def _payment_points(extra: bool = False) -> gpd.GeoDataFrame:
    ids, pts = ["P1"], [(116.08, 27.12)]
    if extra:
        ids.append("PB")
        pts.append(NORTH_600)
    return gpd.GeoDataFrame(
        {"point_id": ids, "name": ids, "kind": "bank"}, geometry=[Point(p) for p in pts], crs=4326
    )


def _layers(extra: bool = True) -> dict[str, gpd.GeoDataFrame]:
    return {
        "county": _county(),
        "villages": _villages(extra),
        "substations": _substations(extra),
        "repair_stations": _repair_stations(extra),
        "payment_points": _payment_points(extra),
    }


def _roads() -> gpd.GeoDataFrame:
    """A small road cross through the county: a east-west and a north-south line."""
    lines = [
        LineString([(116.01, 27.10), (116.05, 27.10), (116.10, 27.10)]),
        LineString([(116.10, 27.10), (116.15, 27.10), (116.19, 27.10)]),
        LineString([(116.10, 27.01), (116.10, 27.10)]),
        LineString([(116.10, 27.10), (116.10, 27.19)]),
    ]
    return gpd.GeoDataFrame({"highway": ["secondary"] * len(lines)}, geometry=lines, crs=4326)


def _write_inputs(folder: Path, layers: dict[str, gpd.GeoDataFrame]) -> dict[str, Path]:
    paths = {}
    for name, gdf in layers.items():
        paths[name] = folder / f"{name}.geojson"
        gdf.to_file(paths[name])
    return paths


def _init_args(out: Path, paths: dict[str, Path], *extra: str) -> list[str]:
    args = ["workspace", "init", str(out), "--county", str(paths["county"])]
    for name in ("villages", "substations", "repair_stations", "payment_points"):
        if name in paths:
            args += [f"--{name.replace('_', '-')}", str(paths[name])]
    return [*args, "--author", "规划 张三", "--reason", "测试", *extra]


def _table_rows(text: str) -> dict[str, float]:
    """id -> km of the rows of the outside table printed by the CLI."""
    rows = {}
    for line in text.splitlines():
        m = re.match(
            r"\s+(substations|repair_stations|payment_points|towns|villages)\s+(\S+)\s.*?"
            r"\s(\d+\.\d\d)\s+(\d+\.\d+),(\d+\.\d+)\s*$",
            line,
        )
        if m:
            rows[m.group(2)] = float(m.group(3))
    return rows


# --------------------------------------------------------------------------- library


def test_check_inside_county_lists_exactly_the_outside_points():
    table = workspace.check_inside_county(_layers(), _county())
    assert table["id"].tolist() == ["SX", "RN", "PB", "VX"]  # layer order, farthest first
    assert table["layer"].tolist() == [
        "substations",
        "repair_stations",
        "payment_points",
        "villages",
    ]
    expected = [geodesic_to_square(*p) for p in (FAR_E, NEAR_E, NORTH_600, VILLAGE_S)]
    # the brute-force geodesic distances: 10 km east is 0.1 degree at 27.1 N, about 9.91 km
    assert expected[0] == pytest.approx(9913, abs=15)
    assert expected[1:] == pytest.approx([400, 600, 30], abs=0.5)
    assert table["distance_m"].to_numpy() == pytest.approx(expected, rel=1e-3, abs=0.5)
    assert table["beyond_tolerance"].tolist() == [True, False, True, False]
    # the nearest county edge: the east edge beside SX, the north edge below PB
    assert table.loc[0, "edge_lon"] == pytest.approx(116.2, abs=1e-7)
    assert table.loc[0, "edge_lat"] == pytest.approx(27.1, abs=2e-3)
    assert table.loc[2, "edge_lat"] == pytest.approx(27.2, abs=1e-7)
    assert table.loc[2, "edge_lon"] == pytest.approx(116.1, abs=1e-4)
    # a point on the county line is inside; none outside: an empty table with the columns
    on_line = _substations().assign(geometry=[Point(116.2, 27.15), Point(116.1, 27.1)])
    empty = workspace.check_inside_county({"substations": on_line}, _county())
    assert empty.empty and list(empty.columns) == list(workspace.OUTSIDE_COLUMNS)


def test_tolerance_is_respected_at_the_boundary():
    # PB is 600 m out: beyond at 550 m, within at 650 m; RN (400 m) within at both
    at550 = workspace.check_inside_county(_layers(), _county(), tolerance_m=550)
    at650 = workspace.check_inside_county(_layers(), _county(), tolerance_m=650)
    assert at550.set_index("id")["beyond_tolerance"].to_dict() == {
        "SX": True, "RN": False, "PB": True, "VX": False,
    }  # fmt: skip
    assert at650.set_index("id")["beyond_tolerance"].to_dict() == {
        "SX": True, "RN": False, "PB": False, "VX": False,
    }  # fmt: skip
    at0 = workspace.check_inside_county(_layers(), _county(), tolerance_m=0)
    assert at0["beyond_tolerance"].all()
    with pytest.raises(ValueError, match="tolerance_m"):
        workspace.check_inside_county(_layers(), _county(), tolerance_m=-1)


def test_create_workspace_refuses_points_far_outside_and_keeps_them_when_allowed(tmp_path):
    out = tmp_path / "ws.gpkg"
    with pytest.raises(OutsideCountyError, match="SX") as err:
        workspace.create_workspace(out, _layers(), author="a", reason="b")
    assert sorted(err.value.outside["id"]) == ["PB", "RN", "SX", "VX"]
    assert not out.exists()
    with pytest.warns(OutsideCountyWarning, match="4 point"):
        store = workspace.create_workspace(
            out, _layers(), author="a", reason="b", allow_outside=True
        )
    assert sorted(store.read("substations")["substation_id"]) == ["S1", "S2", "SX"]
    # within a tolerance of 20 km, nothing is refused; the kept ones are named
    with pytest.warns(OutsideCountyWarning, match="SX"):
        workspace.create_workspace(
            tmp_path / "w2.gpkg", _layers(), author="a", reason="b", outside_tolerance_m=20_000
        )


def _store(tmp_path: Path, *, roads: bool = False) -> GeoPackageStore:
    return workspace.create_workspace(
        tmp_path / "ws.gpkg",
        _layers(extra=False),
        roads=_roads() if roads else None,
        author="a",
        reason="b",
    )


def _tier2(build: workspace.GridBuild) -> pd.DataFrame:
    grids = build.service.grids
    return grids[grids["tier"] == 2].set_index("substation_id")


def test_grids_build_without_workload_uses_customers_else_equal_weights(tmp_path):
    store = _store(tmp_path)
    # straight-line nearest substation, by hand: lons 116.03 and 116.09 are nearer S1 (116.05)
    # than S2 (116.15): V1, V2, V4, V5 -> S1; 116.17: V3, V6 -> S2
    equal = workspace.build_grids(store, method="voronoi")
    assert equal.workload_source == "equal"
    assert _tier2(equal)["customers"].to_dict() == {"S1": 4, "S2": 2}
    # customers imported: V1 three LV, V3 one LV and one HV, V5 one vulnerable LV
    customers = gpd.GeoDataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
            "village_code": ["V1", "V1", "V1", "V3", "V3", "V5"],
            "voltage_class": ["LV", "LV", "LV", "LV", "HV", "LV"],
            "vulnerable": [False, False, False, False, False, True],
        },
        geometry=[Point(116.03, 27.05)] * 3 + [Point(116.17, 27.05)] * 2 + [Point(116.09, 27.15)],
        crs=4326,
    )
    store.add_layer("customers", customers, key="customer_id", author="a", reason="import")
    counted = workspace.build_grids(store, method="voronoi")
    assert counted.workload_source == "customers"
    t2 = _tier2(counted)
    assert t2["customers"].to_dict() == {"S1": 4, "S2": 2}  # 3 + 1 and 2
    assert t2["hv_customers"].to_dict() == {"S1": 0, "S2": 1}
    assert t2["vulnerable"].to_dict() == {"S1": 1, "S2": 0}
    # a workload table still wins
    given = workspace.build_grids(
        store, pd.DataFrame({"village_code": ["V6"], "customers": [10]}), method="voronoi"
    )
    assert given.workload_source == "given"
    assert _tier2(given)["customers"].to_dict() == {"S1": 0, "S2": 10}


def test_dispatch_outside_the_county(tmp_path):
    store = _store(tmp_path, roads=True)
    engine = workspace.read_reach_engine(store)
    stations = store.read("repair_stations")
    county = store.read("county")
    beijing = dispatch(engine, stations, point=(116.40, 39.90), county=county)
    assert beijing.reason == "outside_county" and beijing.station_id is None
    assert beijing.options["reason"].tolist() == ["outside_county"]
    # without the county it is only far from the roads, as before
    assert dispatch(engine, stations, point=(116.40, 39.90)).reason == "too_far_from_road"
    inside = dispatch(engine, stations, point=(116.12, 27.10), county=county)
    assert inside.reason == "ok" and inside.station_id == "R1"
    # 300 m outside is within the 500 m tolerance: not refused as outside the county
    near = dispatch(engine, stations, point=fwd(116.2, 27.1, 90.0, 300.0), county=county)
    assert near.reason != "outside_county"
    far = dispatch(
        engine, stations, point=fwd(116.2, 27.1, 90.0, 300.0), county=county,
        county_tolerance_m=200,
    )  # fmt: skip
    assert far.reason == "outside_county"


# --------------------------------------------------------------------------- CLI


def test_cli_init_refuses_with_a_table_and_keeps_with_allow_outside(tmp_path, cli):
    paths = _write_inputs(tmp_path, _layers())
    out = tmp_path / "ws.gpkg"
    refused = cli(*_init_args(out, paths))
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr and "Warning" not in refused.stderr
    assert "2 point(s) more than 500 m outside the county" in refused.stderr
    rows = _table_rows(refused.stderr)
    assert set(rows) == {"SX", "PB"}  # exactly the ones beyond 500 m
    assert rows["SX"] == pytest.approx(geodesic_to_square(*FAR_E) / 1000, abs=0.011)
    assert rows["PB"] == pytest.approx(0.60, abs=0.011)
    assert "--allow-outside" in refused.stderr and "datum" in refused.stderr
    assert not out.exists()

    kept = cli(*_init_args(out, paths, "--allow-outside"))
    assert kept.returncode == 0, kept.stderr
    assert "Warning" not in kept.stderr
    assert set(_table_rows(kept.stdout)) == {"SX", "PB"}
    within = next(line for line in kept.stdout.splitlines() if "within 500 m" in line)
    assert "2 point(s)" in within and "RN" in within and "VX" in within
    # VX lies within 500 m: its customers go to a grid by the near-boundary rule
    assert "1 village(s) within 500 m outside the county" in kept.stdout
    assert "near_boundary" in kept.stdout and "outside_grids" not in kept.stdout
    store = GeoPackageStore.open(out)
    assert sorted(store.read("substations")["substation_id"]) == ["S1", "S2", "SX"]
    assert sorted(store.read("villages")["village_code"])[-1] == "VX"

    # a tolerance of 20 km keeps them all without --allow-outside
    wide = cli(*_init_args(tmp_path / "w2.gpkg", paths, "--outside-tolerance-m", "20000"))
    assert wide.returncode == 0, wide.stderr
    assert "4 point(s) within 20000 m" in wide.stdout

    # the file exists: refused before the roads are read (this roads file does not exist)
    again = cli(*_init_args(out, paths, "--allow-outside", "--roads", str(tmp_path / "no.pbf")))
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "--overwrite" in again.stderr
    assert "overwrite=True" not in again.stderr and "GeoPackageStore" not in again.stderr
    replaced = cli(*_init_args(out, paths, "--allow-outside", "--overwrite"))
    assert replaced.returncode == 0, replaced.stderr


def test_cli_init_accepts_a_gcj02_file_inside_only_after_conversion(tmp_path, cli):
    # a substation 100 m inside the east edge: GCJ-02 moves it about 480 m east here, so its
    # GCJ-02 numbers read as WGS84 lie about 380 m outside
    inside = fwd(116.2, 27.1, 270.0, 100.0)
    layers = _layers(extra=False)
    layers["substations"] = pd.concat(
        [
            layers["substations"],
            _substations().iloc[[0]].assign(substation_id="SE", geometry=[Point(inside)]),
        ],
        ignore_index=True,
    )
    gcj = {}
    for name, gdf in layers.items():  # the point files in GCJ-02, the county in WGS84
        if name == "county":
            gcj[name] = gdf
            continue
        gcj[name] = gdf.assign(
            geometry=gdf.geometry.apply(
                lambda g: shapely.transform(
                    g, lambda xy: np.column_stack(crs.wgs84_to_gcj02(*xy.T))
                )
            )
        )
    paths = _write_inputs(tmp_path, gcj)
    raw_x = gcj["substations"].geometry.iloc[-1].x
    assert raw_x > 116.2  # the GCJ-02 numbers are outside the square

    raw = cli(*_init_args(tmp_path / "raw.gpkg", paths, "--outside-tolerance-m", "100"))
    assert raw.returncode == 2
    assert set(_table_rows(raw.stderr)) == {"SE"}
    ok = cli(
        *_init_args(
            tmp_path / "ok.gpkg", paths, "--outside-tolerance-m", "100",
            "--datum", "gcj02",
        )
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "outside the county" not in ok.stdout


def test_cli_init_refuses_the_provinces_osm_substations(tmp_path):
    counties = gpd.read_file(JIANGXI / "amap_jiangxi_counties_gcj02.gpkg")
    nanfeng = counties[counties["adcode"].astype(str) == "361023"][["adcode", "name", "geometry"]]
    nanfeng.to_file(tmp_path / "county.gpkg")
    subs = gpd.read_file(JIANGXI / "osm_substations_jiangxi_points.gpkg")
    assert len(subs) == 765
    subs = subs.assign(substation_id=[f"osm{i:03d}" for i in range(len(subs))])
    subs.to_file(tmp_path / "subs.gpkg")
    gpd.read_file(NANFENG / "nanfeng.gpkg", layer="villages").to_file(tmp_path / "villages.gpkg")
    out = tmp_path / "ws.gpkg"
    proc = run_cli(
        "workspace", "init", str(out), "--county", str(tmp_path / "county.gpkg"),
        "--county-datum", "gcj02",
        "--villages", str(tmp_path / "villages.gpkg"),
        "--substations", str(tmp_path / "subs.gpkg"),
        "--author", "a", "--reason", "b",
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "UserWarning" not in proc.stderr
    # the count by shapely: the county converted to WGS84, distances in CGCS2000 GK 117E
    wgs = nanfeng.geometry.apply(
        lambda g: shapely.transform(g, lambda xy: np.column_stack(crs.gcj02_to_wgs84(*xy.T)))
    )
    county_m = gpd.GeoSeries(wgs, crs=4326).to_crs(4548).union_all()
    dist = subs.to_crs(4548).distance(county_m)
    expected = int((dist > 500).sum())
    assert 700 < expected < 765
    m = re.search(r"(\d+) point\(s\) more than 500 m outside", proc.stderr)
    assert m is not None and int(m.group(1)) == expected
    rows = _table_rows(proc.stderr)
    assert len(rows) == 20  # a short table, then a count of the others
    assert f"and {expected - 20} more" in proc.stderr
    far = dist.idxmax()
    assert rows[subs.loc[far, "substation_id"]] == pytest.approx(dist[far] / 1000, abs=0.011)
    assert not out.exists()


def test_cli_grids_walls(tmp_path, cli, capsys):
    store = _store(tmp_path)
    ws = str(store.path)

    before = cli("grids", "validate", "--workspace", ws)
    assert before.returncode == 2 and before.stderr.count("\n") == 1
    assert "先建网格" in before.stderr and f"gridgeo grids build --workspace {ws}" in before.stderr

    no_roads = cli("grids", "build", "--workspace", ws, "--author", "a", "--reason", "b")
    assert no_roads.returncode == 2 and no_roads.stderr.count("\n") == 1
    assert "--method voronoi" in no_roads.stderr and "gridgeo roads import" in no_roads.stderr
    assert "method='" not in no_roads.stderr

    built = cli(
        "grids", "build", "--workspace", ws, "--method", "voronoi", "--author", "a", "--reason", "b"
    )
    assert built.returncode == 0, built.stderr
    assert "every village weighs the same" in built.stdout
    lines = {line.split()[0]: line for line in built.stdout.splitlines() if "T2-" in line}
    # kV: 110 for S1, unknown for S2; customers column: villages (4 and 2, by hand above)
    assert lines["T2-S1"].split()[2:5] == ["110", "4", "4"]
    assert lines["T2-S2"].split()[2:5] == ["?", "2", "2"]
    assert "nan" not in built.stdout
    assert "voltage unknown" in built.stdout

    valid = cli("grids", "validate", "--workspace", ws)
    assert valid.returncode == 0, valid.stderr
    assert "no topology problems" in valid.stdout

    with pytest.raises(SystemExit):
        cli("grids", "build", "--help")
    helptext = capsys.readouterr().out
    assert "village by village" in " ".join(helptext.split())
    assert "customers already imported" in " ".join(helptext.split())


def test_cli_dispatch_outside_the_county(tmp_path, cli):
    store = _store(tmp_path, roads=True)
    proc = cli("dispatch", "--workspace", str(store.path), "--point", "116.40,39.90")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "outside the county" in proc.stderr and "县界外" in proc.stderr
    assert "too_far_from_road" not in proc.stderr + proc.stdout
    assert "--datum" in proc.stderr
    inside = cli("dispatch", "--workspace", str(store.path), "--point", "116.12,27.10")
    assert inside.returncode == 0, inside.stderr
    assert "最近抢修站 R1" in inside.stdout
