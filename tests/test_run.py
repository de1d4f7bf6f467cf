"""``gridgeo run``: the main job on a workspace (gridgeo/run.py), its re-runs and its errors.

The workspace is the bundled sample county with 1,200 customers of its archive (every 25th),
set up as a county company does it (workspace, grids, customer import). Expected figures are
counted here from the stored ``customer_access`` layer (read with geopandas) or follow from
hand arithmetic on those counts; the access itself is checked against independent oracles in
test_reach.py, test_snap.py and test_routing_oracle.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from gridgeo import archive, run, sample, workspace
from gridgeo.errors import InputError, NotFoundError
from gridgeo.store import GeoPackageStore
from maps.__main__ import build_map

N_CUSTOMERS = 1200


def _figure(page: str, label_zh: str) -> str | None:
    """The value beside ``label_zh`` in the map's key-figures box."""
    found = re.search(
        re.escape(label_zh) + r'<br><span class="gg-en">[^<]*</span></th><td>([^<]*)</td>', page
    )
    return found.group(1) if found else None


def _access_layer(path: Path) -> pd.DataFrame:
    """The stored access, read independently of gridgeo."""
    return gpd.read_file(path, layer="customer_access")


@pytest.fixture(scope="module")
def county() -> sample.SampleCounty:
    return sample.load_sample()


@pytest.fixture(scope="module")
def base_ws(tmp_path_factory, county) -> Path:
    """A workspace with grids (with roster) and 1,200 customers of the archive imported."""
    folder = tmp_path_factory.mktemp("run_base")
    csv = folder / "customers.csv"
    text = (sample.SAMPLE_DIR / sample.OUTPUT_CUSTOMERS).read_text(encoding="utf-8").splitlines()
    # every 25th customer: the county seat, the township seats and the hills
    rows = [text[0], *text[1::25][:N_CUSTOMERS]]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = folder / "workspace.gpkg"
    layers = {name: getattr(county, name) for name in workspace.WORKSPACE_KEYS if name != "grids"}
    store = workspace.create_workspace(path, layers, roads=county.roads, author="t", reason="t")
    gazetteer = workspace.read_gazetteer(store)
    records = pd.read_csv(csv, dtype=str, keep_default_na=False)
    located = archive.locate_customers(records, gazetteer, county_area=county.county)
    with pytest.warns(UserWarning, match="SUB14"):  # the sample's substation off the roads
        build = workspace.build_grids(store, workspace.village_workload(located), seed=1)
    workspace.save_grids(store, build.service.grids, author="t", reason="grids")
    archive.import_customers(
        store,
        csv,
        gazetteer,
        author="t",
        reason="import",
        grids=store.read("grids"),
        county_area=county.county,
    )
    return path


def _copy(src: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(src, folder / "workspace.gpkg"))


@pytest.fixture(scope="module")
def first(base_ws, tmp_path_factory) -> tuple[run.RunResult, list[str]]:
    """The first run on a copy of the workspace, map included, and its progress lines."""
    ws = _copy(base_ws, tmp_path_factory.mktemp("run_first"))
    lines: list[str] = []
    result = run.run_workspace(ws, ws.parent / "out", write_map=build_map, progress=lines.append)
    return result, lines


def test_first_run_writes_every_output_and_says_each_step(first):
    result, lines = first
    out = result.out_dir
    for name in ("summary.json", "reach_summary_zh.md", "county_map.html", run.MANIFEST_FILE):
        assert (out / name).is_file(), name
    assert set(result.computed) == {"roads", "access", "isochrones", "archive", "map"}
    assert result.reused == ()
    # a start line before each long step, then its time
    for step in (
        "客户可达性 / customer access",
        "客户档案导出 / archive export",
        "县域地图 / county map",
    ):
        start = next(i for i, x in enumerate(lines) if x.startswith(f"{step}: 计算中 / computing"))
        done = next(i for i, x in enumerate(lines) if x.startswith(f"{step}: 完成 / done in"))
        assert start < done
    bands = gpd.read_file(result.workspace, layer=run.ISOCHRONES_LAYER)
    assert sorted(bands["band_s"]) == [600, 1200, 1800]
    # the archive: every customer in a village grid is in exactly one CSV of its grid
    customers = gpd.read_file(result.workspace, layer="customers")
    assert len(customers) == N_CUSTOMERS
    rows = sum(len(pd.read_csv(p, dtype=str)) for p in (out / "archive").glob("T3-*.csv"))
    assert rows == int(customers["grid_t3"].notna().sum())


def test_county_shares_are_the_counts_of_the_stored_access(first):
    result, _ = first
    access = _access_layer(result.workspace)
    assert len(access) == N_CUSTOMERS
    repair_ok = int((access["repair_eta_s"].fillna(float("inf")) <= 1800).sum())
    payment_ok = int((access["payment_eta_s"].fillna(float("inf")) <= 600).sum())
    assert repair_ok == int(access["repair_ok"].astype(bool).sum())
    county = result.kpis["county"].iloc[0]
    assert county["repair_share_ok"] == pytest.approx(repair_ok / N_CUSTOMERS)
    assert county["payment_share_ok"] == pytest.approx(payment_ok / N_CUSTOMERS)
    assert 0 < repair_ok < N_CUSTOMERS  # the sample has customers on both sides of the promise


def test_summary_json_text_and_map_agree_on_the_headline_figures(first, county):
    result, lines = first
    out = result.out_dir
    access = _access_layer(result.workspace)
    repair = 100 * access["repair_ok"].astype(bool).mean()
    payment = 100 * access["payment_ok"].astype(bool).mean()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["county"] == county.county["name"].iloc[0] == "南丰县"
    assert summary["adcode"] == county.county["adcode"].iloc[0]
    assert summary["customers"] == N_CUSTOMERS
    assert 100 * summary["reach"]["repair_share_ok"] == pytest.approx(repair)
    assert 100 * summary["reach"]["payment_share_ok"] == pytest.approx(payment)
    text = (out / "reach_summary_zh.md").read_text(encoding="utf-8")
    assert text.startswith("# 南丰县供电服务可达性摘要")
    assert f"30 分钟抢修到达率：{repair:.1f}%" in text
    page = (out / "county_map.html").read_text(encoding="utf-8")
    assert _figure(page, "30分钟抢修到达率") == f"{repair:.1f}%"
    assert _figure(page, "10分钟缴费可达率") == f"{payment:.1f}%"
    assert _figure(page, "客户数") == f"{N_CUSTOMERS:,d}"
    assert any(x.startswith(f"  30-min repair reach   {repair:.1f}% of customers") for x in lines)
    # the bands are drawn, so the legend lists them
    assert "抢修10分钟可达" in page and "抢修30分钟可达" in page


def test_second_run_reuses_everything_and_gives_the_same_outputs(first):
    result, _ = first
    out = result.out_dir
    before = {
        p.relative_to(out): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != run.MANIFEST_FILE
    }
    store = GeoPackageStore.open(result.workspace)
    access_version = store.current_version("customer_access")
    lines: list[str] = []
    again = run.run_workspace(result.workspace, out, write_map=build_map, progress=lines.append)
    assert set(again.reused) == {"roads", "access", "isochrones", "archive", "map"}
    assert again.computed == ()
    assert store.current_version("customer_access") == access_version  # no new version
    reused = [x for x in lines if x.startswith("复用 / reused:")]
    assert any(x.startswith("复用 / reused: customer access (customers v") for x in reused)
    assert any("archive export (customers v" in x and "unchanged" in x for x in reused)
    after = {
        p.relative_to(out): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != run.MANIFEST_FILE
    }
    assert after.keys() == before.keys()
    for name, (content, mtime) in before.items():
        assert after[name][0] == content, name
        if name.parts[0] == "archive" or name.name == "county_map.html":
            assert after[name][1] == mtime, name  # not even rewritten
    assert again.summary == result.summary


def test_customer_change_recomputes_access_and_archive(first, tmp_path):
    result, _ = first
    ws = _copy(result.workspace, tmp_path / "ws")
    out = tmp_path / "out"
    # a new output folder: the workspace's own steps (access, bands) are reused from it
    start = run.run_workspace(ws, out)
    assert {"access", "isochrones"} <= set(start.reused)
    assert "archive" in start.computed
    access = _access_layer(ws)
    failing = access.loc[~access["repair_ok"].astype(bool), "customer_id"].tolist()
    n_ok = int(access["repair_ok"].astype(bool).sum())
    assert len(failing) >= 10
    removed = set(failing[:10])  # ten customers beyond the repair promise leave the archive
    store = GeoPackageStore.open(ws)
    version = store.current_version("customers")
    customers = store.read("customers")
    kept = customers[~customers["customer_id"].isin(removed)].drop(columns="version")
    store.save("customers", kept, expected_version=version, author="t", reason="ten leave")

    lines: list[str] = []
    after = run.run_workspace(ws, out, progress=lines.append)
    assert {"access", "archive"} <= set(after.computed)
    assert {"roads", "isochrones"} <= set(after.reused)  # roads and stations did not change
    county = after.kpis["county"].iloc[0]
    # hand arithmetic: the same customers within 30 minutes, ten fewer customers in all
    assert county["customers"] == N_CUSTOMERS - 10
    assert county["repair_share_ok"] == pytest.approx(n_ok / (N_CUSTOMERS - 10))
    stored = _access_layer(ws)
    assert len(stored) == N_CUSTOMERS - 10 and not set(stored["customer_id"]) & removed
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["customers"] == N_CUSTOMERS - 10
    in_files = set()
    for path in (out / "archive").glob("*.csv"):
        in_files |= set(pd.read_csv(path, dtype=str)["户号"])
    assert len(in_files) == N_CUSTOMERS - 10 and not in_files & removed


def test_station_change_recomputes_access_and_bands_only(first, tmp_path):
    result, _ = first
    ws = _copy(result.workspace, tmp_path / "ws")
    out = tmp_path / "out"
    run.run_workspace(ws, out)
    before = _access_layer(ws).set_index("customer_id")
    store = GeoPackageStore.open(ws)
    stations = store.read("repair_stations")
    # close the station that is the best one for the fewest customers (but for some)
    use = before["repair_station_id"].value_counts()
    closed = use.index[-1]
    assert closed in set(stations["station_id"])
    store.save(
        "repair_stations",
        stations[stations["station_id"] != closed].drop(columns="version"),
        expected_version=store.current_version("repair_stations"),
        author="t",
        reason="closed",
    )
    after_run = run.run_workspace(ws, out)
    assert {"access", "isochrones"} <= set(after_run.computed)
    # the archive shows each customer's station and ETA: it follows the new access
    assert "archive" in after_run.computed
    after = _access_layer(ws).set_index("customer_id").loc[before.index]
    # the fastest of the other stations is unchanged for customers it served already
    other = before["repair_station_id"].notna() & (before["repair_station_id"] != closed)
    assert (after.loc[other, "repair_eta_s"] == before.loc[other, "repair_eta_s"]).all()
    assert (after.loc[other, "repair_ok"] == before.loc[other, "repair_ok"]).all()
    # and nobody is served by the closed station, nobody reaches faster than before
    assert closed not in set(after["repair_station_id"].dropna())
    was = before.loc[~other & before["repair_eta_s"].notna(), "repair_eta_s"]
    now = after.loc[was.index, "repair_eta_s"].fillna(float("inf"))
    assert (now >= was).all()
    share = after_run.kpis["county"].iloc[0]["repair_share_ok"]
    assert share == pytest.approx(after["repair_ok"].astype(bool).mean())
    assert share <= result.kpis["county"].iloc[0]["repair_share_ok"]


def test_missing_grids_and_customers_name_the_commands_to_run_first(tmp_path, county):
    layers = {
        name: getattr(county, name)
        for name in ("county", "villages", "substations", "repair_stations", "payment_points")
    }
    path = tmp_path / "ws.gpkg"
    workspace.create_workspace(path, layers, roads=county.roads, author="t", reason="t")
    with pytest.raises(NotFoundError, match="gridgeo grids build --workspace") as err:
        run.run_workspace(path, tmp_path / "out")
    assert "gridgeo customers import" in str(err.value)
    assert "先建网格 / build the grids first" in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing written
    with pytest.raises(InputError, match="--suggest-stations"):
        run.run_workspace(path, tmp_path / "out", suggest_stations=-1)

    proc = subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "run", "--workspace", str(path), "--out",
         str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    err_lines = proc.stderr.strip().splitlines()
    assert len(err_lines) == 1 and "Traceback" not in proc.stderr
    assert "先导入客户 / import customers first: gridgeo customers import" in err_lines[0]


def test_demo_with_an_incomplete_sample_folder_says_what_is_missing(tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,address\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "demo", "--sample", str(tmp_path), "--out",
         str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    err_lines = proc.stderr.strip().splitlines()
    assert len(err_lines) == 1 and "Traceback" not in proc.stderr
    # customers.csv is there, so it is not among the missing files
    assert "lacks nanfeng.gpkg, customers_truth.csv, meta.json:" in err_lines[0]
    assert "--sample" in err_lines[0]


@pytest.mark.parametrize(
    ("when", "month"),
    [
        ("2026-11-30T15:59:59Z", "2026-11"),  # 23:59:59 on 30 Nov in Beijing: the month is full
        ("2026-11-30T16:00:00Z", "2026-11"),  # 1 Dec 00:00 in Beijing: November has ended
        ("2026-11-29T12:00:00Z", "2026-10"),  # 29 Nov: November is not over yet
        ("2026-01-15T00:00:00Z", "2025-12"),  # across the year
        ("2026-02-28T18:00:00Z", "2026-02"),  # 1 Mar 02:00 in Beijing -> February has ended
    ],
)
def test_last_full_month_is_read_in_china_time(when, month):
    from gridgeo.evaluation import last_full_month

    # 2026-11-30T16:00Z is 1 Dec in Beijing, whose month (December) is not over: November
    assert last_full_month(pd.Timestamp(when)) == month


def test_a_workspace_with_work_orders_gets_the_service_reports(first, tmp_path):
    from gridgeo import _sample_orders

    result, _ = first
    ws = _copy(result.workspace, tmp_path / "ws")
    store = GeoPackageStore.open(ws)
    _sample_orders.add_sample_orders(store, author="t", progress=None)
    lines: list[str] = []
    again = run.run_workspace(ws, tmp_path / "out", progress=lines.append)
    for key in ("evaluation_xlsx", "evaluation_html", "stars", "watch"):
        assert again.outputs[key].is_file(), key
    orders = gpd.read_file(ws, layer="work_orders")
    local = pd.to_datetime(orders["reported_at"], utc=True).dt.tz_convert("Asia/Shanghai")
    # the sample year ends in late November 2026 (Beijing) and the clock is past it:
    # November if its last day has records, else October; the week that ended by then
    last = local.max()
    month = "2026-11" if last.day == 30 else "2026-10"
    assert again.outputs["evaluation_xlsx"].name == f"月度考核_{month}.xlsx"
    sunday = last if last.day_of_week == 6 else last - pd.Timedelta(days=last.day_of_week + 1)
    week = f"{sunday.isocalendar()[0]}-W{sunday.isocalendar()[1]:02d}"
    assert again.outputs["stars"].name == f"服务之星_{week}.txt"
    # the headline count printed is the stored orders reported in that month, Beijing time
    in_month = (local.dt.year == 2026) & (local.dt.month == int(month[-2:]))
    assert in_month.sum() > 0
    head = next(x for x in lines if x.startswith(f"上月考核 / last month's evaluation {month}"))
    assert f"(工单 / orders {int(in_month.sum()):,})" in head
    faults = int((in_month & (orders["kind"] == "fault")).sum())
    assert f"  故障报修工单数: {faults}件" in [x.split("（")[0] for x in lines]
    assert any(x.startswith(f"服务之星 / service star {week}: ") for x in lines)
