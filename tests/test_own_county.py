"""The main job on counties other than Nanfeng, from files shaped like a county company's.

Two parts:

* the README's "Your own county" walk-through, run command by command exactly as the README
  writes it (the commands are read from the README between its walkthrough markers), on
  黎川县;
* three more Jiangxi counties — 彭泽县 (three pieces), 柴桑区 (two pieces, the second 105 km²)
  and 资溪县 — each from its real Amap boundary (GCJ-02) and real OSM substations (WGS84) plus
  generated villages, stations (GCJ-02), roads and customers, taken from ``workspace init`` to
  ``run`` through the command line.

Expected values are independent of the code under test: the right village of every customer is
the generator's truth file; topology and containment are checked with shapely here; the
service shares are counted here from the stored ``customer_access`` layer read with geopandas;
the archive rows are counted from the exported CSV files.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pypdf
import pytest
import shapely

from gridgeo import admin
from gridgeo.cli import main
from gridgeo.grids import validate_grids

README = Path(__file__).resolve().parents[1] / "README.md"
PROMISE_REPAIR_S = 30 * 60
PROMISE_PAYMENT_S = 10 * 60


def walkthrough_commands(text: str) -> list[str]:
    """The shell commands between the README's walkthrough markers, continuations joined."""
    found = re.search(
        r"<!-- walkthrough:start -->\s*```sh\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S
    )
    assert found, "README.md lost its walkthrough block (<!-- walkthrough:start --> ... end)"
    commands: list[str] = []
    pending = ""
    for line in found.group(1).splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        commands.append(pending + stripped)
        pending = ""
    assert not pending, "a continued command at the end of the walkthrough block"
    return commands


def run_cli(command: str) -> int:
    argv = shlex.split(command)
    assert argv[0] == "gridgeo", f"walkthrough commands call gridgeo, got {argv[0]!r}"
    return main(argv[1:])


def check_workspace(ws: Path, out: Path, truth_csv: Path, adcode: str) -> dict[str, float]:
    """The checks of the issue's done-when on one county's workspace and run outputs."""
    county = gpd.read_file(ws, layer="county")
    grids = gpd.read_file(ws, layer="grids")
    subs = gpd.read_file(ws, layer="substations")
    customers = gpd.read_file(ws, layer="customers")
    access = gpd.read_file(ws, layer="customer_access")

    # grids: 0 topology problems (the library's check), tiers nested and covering the county
    assert validate_grids(grids, county=county) == []
    area = county.to_crs(4548).geometry.union_all()
    for tier in (1, 2, 3):
        union = grids[grids["tier"] == tier].to_crs(4548).geometry.union_all()
        assert abs(union.area - area.area) / area.area < 1e-3, f"tier {tier} does not tile"
    # every substation lies in a supply grid, and a substation heading a grid lies in its own
    tier2 = grids[grids["tier"] == 2].set_index("grid_id").to_crs(4548)
    for sub in subs.to_crs(4548).itertuples():
        inside = tier2[tier2.geometry.distance(sub.geometry) < 0.01]  # metres
        assert len(inside) >= 1, f"substation {sub.substation_id} lies in no supply grid"
        own = tier2[tier2["substation_id"] == sub.substation_id]
        if len(own):
            assert own.geometry.iloc[0].distance(sub.geometry) < 0.01, sub.substation_id

    # customers: the right village, counted against the generator's truth file
    truth = pd.read_csv(truth_csv, dtype=str)
    merged = customers.merge(truth, on="customer_id", suffixes=("", "_true"))
    assert len(merged) == len(truth)
    names = admin.admin_names(adcode)
    fronts = (names.province, names.city, names.province[:2], names.city[:2])
    prefixed = merged["address"].str.startswith(fronts)
    assert prefixed.sum() >= 100, "too few addresses with the province or city in front"
    has_village = merged["address_variant"] != "town_only"  # the only variant without a village
    right = merged["village_code"] == merged["village_code_true"]
    share_right = float(right[has_village].mean())
    assert share_right >= 0.98, share_right
    assert float(right[has_village & prefixed].mean()) >= 0.98
    sure = merged["confidence"].astype(float) >= 0.9
    wrong_sure = sure & merged["village_code"].notna() & ~right
    assert int(wrong_sure.sum()) == 0, merged.loc[wrong_sure, ["address", "village_code"]]

    # the run's outputs exist and agree with each other and with the stored access
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["adcode"] == adcode
    assert summary["county"] == county["name"].iloc[0]
    assert summary["customers"] == len(customers) == len(access)
    repair_ok = (access["repair_eta_s"] <= PROMISE_REPAIR_S).sum() / len(access)
    payment_ok = (access["payment_eta_s"] <= PROMISE_PAYMENT_S).sum() / len(access)
    assert summary["reach"]["repair_share_ok"] == pytest.approx(repair_ok, abs=1e-12)
    assert summary["reach"]["payment_share_ok"] == pytest.approx(payment_ok, abs=1e-12)
    text = (out / "reach_summary_zh.md").read_text(encoding="utf-8")
    assert county["name"].iloc[0] in text
    assert f"{100 * repair_ok:.1f}" in text
    page = (out / "county_map.html").read_text(encoding="utf-8")
    assert f"{100 * repair_ok:.1f}" in page
    name = county["name"].iloc[0]
    assert f"<title>{name}供电服务网格图" in page
    # the picture for phones and paper, drawn for this county too
    text = pypdf.PdfReader(out / "county_map.pdf").pages[0].extract_text()
    assert f"{name}供电服务网格图" in text and f"{100 * repair_ok:.1f}%" in text
    assert (out / "county_map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the archive: one CSV per village grid (and the not-located list) holding every customer
    csvs = [p for p in (out / "archive").rglob("*.csv")]
    rows = sum(len(pd.read_csv(p, dtype=str)) for p in csvs)
    assert rows == len(customers)
    return {"repair": repair_ok, "payment": payment_ok, "right": share_right}


@pytest.mark.slow
def test_readme_walkthrough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    commands = walkthrough_commands(README.read_text(encoding="utf-8"))
    assert [shlex.split(c)[1] for c in commands] == [
        "sample",
        "workspace",
        "customers",
        "grids",
        "grids",
        "run",
    ]
    for command in commands:
        assert run_cli(command) == 0, command
    check_workspace(
        tmp_path / "lichuan.gpkg",
        tmp_path / "lichuan_out",
        tmp_path / "lichuan" / "customers_truth.csv",
        "361022",
    )


@pytest.mark.slow
@pytest.mark.parametrize("adcode", ["360430", "360404", "361028"])
def test_county_from_its_own_files(
    adcode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = "gen/company_files"
    steps = [
        f"gridgeo sample generate --county {adcode} --customers 2500 --company-files --out gen",
        # one command: county GCJ-02, substations WGS84, points GCJ-02
        f"gridgeo workspace init ws.gpkg --county {files}/boundary_gcj02.geojson "
        f"--county-datum gcj02 --substations {files}/substations_wgs84.gpkg "
        f"--substations-datum wgs84 --towns {files}/towns.csv --villages {files}/villages.csv "
        f"--repair-stations {files}/repair_stations_gcj02.csv "
        f"--payment-points {files}/payment_points_gcj02.csv --datum gcj02 "
        f"--roads {files}/roads.gpkg --author 测试 --reason 新建",
        "gridgeo grids build --workspace ws.gpkg --author 测试 --reason 按村等权初建",
        f"gridgeo customers import {files}/customers.csv --workspace ws.gpkg "
        "--author 测试 --reason 导入",
        "gridgeo grids build --workspace ws.gpkg --target-workload 400 --author 测试 --reason 重建",
        "gridgeo grids validate --workspace ws.gpkg",
        "gridgeo run --workspace ws.gpkg --out out",
    ]
    for command in steps:
        assert run_cli(command) == 0, command
    figures = check_workspace(
        tmp_path / "ws.gpkg", tmp_path / "out", tmp_path / "gen/customers_truth.csv", adcode
    )
    print(adcode, {k: round(100 * v, 2) for k, v in figures.items()})  # shown with -s
    # the pieces of the county: every piece of the boundary is covered by the supply grids
    county = gpd.read_file(tmp_path / "ws.gpkg", layer="county").to_crs(4548)
    grids = gpd.read_file(tmp_path / "ws.gpkg", layer="grids").to_crs(4548)
    tier2 = grids[grids["tier"] == 2].geometry.union_all()
    for piece in shapely.get_parts(county.geometry.iloc[0]):
        assert piece.difference(tier2).area < 1e-3 * piece.area


def test_county_seat_given_at_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gridgeo import geocode_addresses, read_gazetteer
    from gridgeo.store import GeoPackageStore

    monkeypatch.chdir(tmp_path)
    files = "gen/company_files"
    assert (
        run_cli("gridgeo sample generate --county 361022 --customers 300 --company-files --out gen")
        == 0
    )
    init = (
        f"gridgeo workspace init {{out}} --county {files}/boundary_gcj02.geojson "
        f"--county-datum gcj02 --substations {files}/substations_wgs84.gpkg "
        f"--substations-datum wgs84 --towns {files}/towns.csv --villages {files}/villages.csv "
        "--datum gcj02 --county-seat {seat} --author 测试 --reason 新建"
    )
    capsys.readouterr()
    # a name that is no township of the county: one line naming the flag, nothing written
    assert run_cli(init.format(out="bad.gpkg", seat="北京镇")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--county-seat" in err[0] and "北京镇" in err[0]
    assert not (tmp_path / "bad.gpkg").exists()
    # 华山镇 (not the default 日峰镇, the township with the most 社区) as the county seat:
    # 县城 in an address now means 华山镇
    assert run_cli(init.format(out="ws.gpkg", seat="华山镇")) == 0
    gazetteer = read_gazetteer(GeoPackageStore.open("ws.gpkg"))
    assert gazetteer.county_seat == "华山镇"
    got = geocode_addresses(pd.Series(["黎川县县城解放路12号", "县城解放路3号"]), gazetteer)
    assert list(got["town"]) == ["华山镇", "华山镇"]
