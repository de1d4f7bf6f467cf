"""The ``gridgeo`` command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import LineString, Point

from gridgeo.sample import SAMPLE_DIR


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gridgeo: error:")
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.slow
def test_demo_runs_end_to_end_on_the_bundled_sample(tmp_path):
    out = tmp_path / "demo"
    proc = run_cli("demo", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    # what the user sees
    assert "villages           187" in proc.stdout
    for mode in ("drive", "two_wheeler", "walk"):
        assert f"road graph {mode}" in proc.stdout
    assert str(out / "workspace.gpkg") in proc.stdout

    # the outputs, checked against the shipped sample read independently
    shipped = SAMPLE_DIR / "nanfeng.gpkg"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["villages"] == len(gpd.read_file(shipped, layer="villages")) == 187
    assert summary["substations"] == len(gpd.read_file(shipped, layer="substations"))
    n_customer_rows = len(pd.read_csv(SAMPLE_DIR / "customers.csv", dtype=str))
    assert summary["customers"] == n_customer_rows
    layers = {name for name, _ in pyogrio.list_layers(out / "workspace.gpkg")}
    assert {"county", "villages", "substations", "repair_stations", "roads"} <= layers
    assert {"grids", "customers"} <= layers
    grids = gpd.read_file(out / "workspace.gpkg", layer="grids")
    assert summary["grids"] == {
        f"tier{t}": int((grids["tier"] == t).sum()) for t in sorted(set(grids["tier"]))
    }
    # one printed line per supply grid
    for grid_id in grids.loc[grids["tier"] == 2, "grid_id"]:
        assert f"  {grid_id} " in proc.stdout
    customers = gpd.read_file(out / "workspace.gpkg", layer="customers")
    assert len(customers) == n_customer_rows
    # every customer placed in a tier-3 grid is counted once in the archive files
    in_files = sum(len(pd.read_csv(path, dtype=str)) for path in (out / "archive").glob("T3-*.csv"))
    assert in_files == int(customers["grid_t3"].notna().sum())

    # service levels: the printed and stored shares recomputed from the stored access table
    access = gpd.read_file(out / "workspace.gpkg", layer="customer_access")
    assert len(access) == n_customer_rows
    repair_share = access["repair_ok"].astype(bool).mean()
    payment_share = access["payment_ok"].astype(bool).mean()
    assert summary["reach"]["repair_share_ok"] == pytest.approx(repair_share)
    assert summary["reach"]["payment_share_ok"] == pytest.approx(payment_share)
    assert f"30-min repair reach   {100 * repair_share:.1f}%" in proc.stdout
    assert f"10-min payment access {100 * payment_share:.1f}%" in proc.stdout
    assert proc.stdout.count("customers, repair") == 5  # the five worst village grids
    summary_zh = (out / "reach_summary_zh.md").read_text(encoding="utf-8")
    assert f"30 分钟抢修到达率：{100 * repair_share:.1f}%" in summary_zh
    bands = gpd.read_file(out / "workspace.gpkg", layer="repair_isochrones")
    assert sorted(bands["band_s"].unique()) == [600, 1200, 1800]

    # dispatch for a customer: the best station and its ETA agree with the customer's repair
    # reach computed for the whole county (one Dijkstra from all stations)
    row = access[access["repair_reason"] == "ok"].iloc[0]
    disp = run_cli("dispatch", "--workspace", str(out / "workspace.gpkg"),
                   "--customer", str(row["customer_id"]))  # fmt: skip
    assert disp.returncode == 0, disp.stderr
    assert f"best station 最近抢修站 {row['repair_station_id']}: " in disp.stdout
    assert f"ETA {row['repair_eta_s'] / 60:.1f} min" in disp.stdout
    swapped = run_cli("dispatch", "--workspace", str(out / "workspace.gpkg"),
                      "--point", "27.2,116.5")  # fmt: skip
    assert_one_line_error(swapped, "(116.5, 27.2)")

    # the leadership map of the workspace, as `make demo` builds it
    html = out / "county_map.html"
    maps_proc = subprocess.run(
        [sys.executable, "-m", "maps", str(out / "workspace.gpkg"), "--out", str(html),
         "--summary", str(out / "summary.json")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert maps_proc.returncode == 0, maps_proc.stderr
    page = html.read_text(encoding="utf-8")
    assert "南丰县" in page and "leaflet" in page.lower()
    assert 'src="http' not in page and '<link href="http' not in page
    roads = gpd.read_file(out / "workspace.gpkg", layer="roads")
    assert roads.crs.to_epsg() == 4326
    # the roads of every mode, one row per road; a mode's graph has two directed edges for
    # each of its two-way roads and one for each of its one-way roads
    for mode in ("drive", "two_wheeler", "walk"):
        mine = roads[roads[mode].astype(bool)]
        assert (mine[f"{mode}_speed_kph"] > 0).all()
        oneway = mine[f"{mode}_oneway"] != 0
        graph = summary["road_graphs"][mode]
        assert graph["edges"] == 2 * int((~oneway).sum()) + int(oneway.sum())
        assert graph["road_km"] == pytest.approx(mine["length_m"].sum() / 1000, rel=1e-6)
    assert not (out / "workspace.tmp.gpkg").exists()


def test_missing_osm_file_is_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "nope.osm.pbf"
    proc = run_cli("roads", "import", str(missing))
    assert_one_line_error(proc, "nope.osm.pbf")


def test_bad_option_value_is_one_line_and_exit_2(tmp_path):
    proc = run_cli("sample", "generate", "--customers", "-5", "--out", str(tmp_path))
    assert_one_line_error(proc, "--customers")


def test_unknown_command_is_one_line_and_exit_2():
    proc = run_cli("frobnicate")
    assert_one_line_error(proc)


def test_roads_import_clips_to_a_boundary_and_writes_a_layer(tmp_path, roads_dir):
    pbf = roads_dir / "andorra_graphhopper.osm.pbf"
    # a box around Andorra la Vella, roughly 6 x 4 km
    boundary = gpd.GeoDataFrame(
        {"name": ["box"]}, geometry=[Point(1.52, 42.51).buffer(0.03)], crs="EPSG:4326"
    )
    boundary_path = tmp_path / "box.geojson"
    boundary.to_file(boundary_path)
    out = tmp_path / "roads.gpkg"
    proc = run_cli("roads", "import", str(pbf), "--boundary", str(boundary_path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    roads = gpd.read_file(out, layer="roads")
    assert len(roads) > 0
    # every clipped road keeps its ends inside the boundary (node-based truncation)
    ends = gpd.GeoSeries(
        [Point(line.coords[0]) for line in roads.geometry]
        + [Point(line.coords[-1]) for line in roads.geometry],
        crs=4326,
    )
    assert ends.within(boundary.geometry.iloc[0].buffer(1e-9)).all()

    full = run_cli("roads", "import", str(pbf))
    assert full.returncode == 0, full.stderr
    n_full = int(full.stdout.split(":")[1].split("nodes")[0].replace(",", ""))
    n_clip = int(proc.stdout.split(":")[1].split("nodes")[0].replace(",", ""))
    assert 0 < n_clip < n_full
    # every mode's roads, one line each
    for mode in ("drive", "two_wheeler", "walk"):
        assert f"km of {mode} roads" in full.stdout
    assert set(roads.loc[~roads["drive"].astype(bool), "highway"]) & {"footway", "path"}


def test_roads_import_of_a_roads_file_warns_in_one_line(tmp_path):
    roads = gpd.GeoDataFrame(
        {"highway": ["residential", "runway"]},
        geometry=[LineString([(116.5, 27.2), (116.51, 27.2)]),
                  LineString([(116.51, 27.2), (116.52, 27.2)])],
        crs="EPSG:4326",
    )  # fmt: skip
    src = tmp_path / "roads.geojson"
    roads.to_file(src)
    out = tmp_path / "roads.gpkg"
    proc = run_cli("roads", "import", str(src), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gridgeo: warning:") and "runway" in lines[0]
    stored = gpd.read_file(out, layer="roads")
    assert stored["highway"].tolist() == ["residential"]
    assert stored[["drive", "two_wheeler", "walk"]].astype(bool).values.tolist() == [[True] * 3]
    clip = run_cli("roads", "import", str(src), "--boundary", str(src))
    assert_one_line_error(clip, "--boundary")


def test_convert_moves_gcj02_points_by_the_datum_offset(tmp_path):
    # 琴城镇 seat in WGS84 (GeoNames); in GCJ-02 it is shown a few hundred metres away
    gcj = gpd.GeoDataFrame({"name": ["x"]}, geometry=[Point(116.535, 27.210)], crs="EPSG:4326")
    src = tmp_path / "gcj.geojson"
    gcj.to_file(src)
    dst = tmp_path / "wgs.gpkg"
    proc = run_cli("convert", str(src), str(dst), "--datum", "gcj02")
    assert proc.returncode == 0, proc.stderr
    wgs = gpd.read_file(dst)
    metric = "EPSG:32650"
    shift_m = gcj.to_crs(metric).distance(wgs.to_crs(metric)).iloc[0]
    assert 300 < shift_m < 600


def test_convert_refuses_an_unknown_datum(tmp_path):
    proc = run_cli("convert", "a.geojson", str(tmp_path / "b.gpkg"), "--datum", "mars")
    assert_one_line_error(proc, "--datum")


def test_dispatch_skips_unavailable_stations(tmp_path):
    from gridgeo import sample, workspace

    county = sample.load_sample()
    layers = {
        name: getattr(county, name)
        for name in ("county", "villages", "substations", "repair_stations")
    }
    path = tmp_path / "workspace.gpkg"
    workspace.create_workspace(path, layers, roads=county.roads, author="test", reason="test")
    seat = county.repair_stations.geometry.iloc[0]
    where = ("dispatch", "--workspace", str(path), "--point", f"{seat.x + 0.01},{seat.y}")
    free = run_cli(*where)
    assert free.returncode == 0, free.stderr
    table = [line.split() for line in free.stdout.splitlines() if line.startswith("  ")]
    ranked = [row[0] for row in table if row[0] in set(county.repair_stations["station_id"])]
    assert f"best station 最近抢修站 {ranked[0]}: " in free.stdout
    assert "unavailable 不可派" not in free.stdout
    busy = run_cli(*where, "--unavailable", ranked[0])
    assert busy.returncode == 0, busy.stderr
    assert f"best station 最近抢修站 {ranked[1]}: " in busy.stdout
    lines = busy.stdout.splitlines()
    assert next(x for x in lines if x.startswith(f"  {ranked[0]} ")).endswith("unavailable 不可派")
    everyone = run_cli(*where, "--unavailable", ",".join(ranked))
    assert everyone.returncode == 0, everyone.stderr
    assert "no station dispatched 无可派抢修站 (no_station_available)" in everyone.stdout
    unknown = run_cli(*where, "--unavailable", "NOPE")
    assert_one_line_error(unknown, "'NOPE'", "`unavailable`", "RS01")
