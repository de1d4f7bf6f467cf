"""``gridgeo visits plan|day`` on a small workspace made from a part of the sample county's
roads and stations, with two hand-made tier-3 grids and customers around their villages.

The sheets the commands write are read back with openpyxl and compared with the plan the
library makes for the same period; the error paths are one line naming the flag and the fix.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from gridgeo import cli
from gridgeo.store import GeoPackageStore
from gridgeo.visit_sheets import week_visits
from gridgeo.visits import VisitSettings, plan_workspace_visits
from gridgeo.workspace import replace_roads

SAMPLE_GPKG = Path(__file__).resolve().parents[1] / "sample_data" / "nanfeng" / "nanfeng.gpkg"
CENTRE = (116.574, 27.275)  # 洽湾供电所 (RS05), north of the county seat
ROADS_HALF_DEG = 0.07
AREA_HALF_DEG = 0.04
# 1 Jan 2027 is a Friday: the Wednesdays of the first fortnight are 6 and 13 January
WEEK_02 = ("2027-01-11", "2027-01-17")


def make_workspace(path: Path, *, members: tuple[str, str] = ("甲、乙", "丙")) -> Path:
    """A workspace at ``path``: the roads and stations of a part of the sample county, tier-3
    grids T3-W (west, ``members[0]``) and T3-E (east, ``members[1]``) inside a tier-2 grid,
    and six customers at or around each village there."""
    x, y = CENTRE
    r = ROADS_HALF_DEG
    roads = gpd.read_file(SAMPLE_GPKG, layer="roads", bbox=(x - r, y - r, x + r, y + r))
    stations = gpd.read_file(SAMPLE_GPKG, layer="repair_stations")
    villages = gpd.read_file(SAMPLE_GPKG, layer="villages")
    a = AREA_HALF_DEG
    villages = villages[villages.within(box(x - a, y - a, x + a, y + a))]
    villages = villages.sort_values("village_code")
    west, east = box(x - a, y - a, x, y + a), box(x, y - a, x + a, y + a)
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["T3-W", "T3-E", "T2-X"],
            "tier": [3, 3, 2],
            "members": [*members, ""],
            "manager": ["王建国", "刘秀英", "黄春生"],
        },
        geometry=[west, east, box(x - a, y - a, x + a, y + a)],
        crs="EPSG:4326",
    )
    rng = np.random.default_rng(14)
    rows = []
    for v in villages.itertuples():
        for k in range(6):
            dx, dy = (0.0, 0.0) if k < 2 else tuple(rng.normal(0.0, 0.002, 2))
            p = shapely.Point(v.geometry.x + dx, v.geometry.y + dy)
            grid = "T3-W" if west.contains(p) else "T3-E" if east.contains(p) else None
            if grid is None:
                continue
            rows.append(
                {
                    "customer_id": f"{v.village_code}{k:02d}",
                    "name": f"户主{v.village_code[-3:]}{k}",
                    "address": f"{v.village}{k + 1}组",
                    "phone": f"1380000{k:04d}",
                    "grid_t3": grid,
                    "village_code": v.village_code,
                    "village": v.village,
                    "category": "residential",
                    "geometry": p,
                }
            )
    customers = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    assert len(customers) >= 40, "the county part should hold a few villages"
    store = GeoPackageStore.create(
        path,
        {"grids": grids, "repair_stations": stations, "customers": customers},
        keys={"repair_stations": "station_id"},
        author="test",
        reason="visits",
    )
    replace_roads(store, roads)
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("visits") / "ws.gpkg")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_plan_a_week_of_one_grid_writes_the_sheets_of_the_plan(ws, tmp_path, capsys):
    before = sha(ws)
    out = tmp_path / "sheets"
    code, text, err = run(
        capsys, "visits", "plan", "--workspace", str(ws), "--period", "2027-W02",
        "--grid", "T3-W", "--out", str(out), "--visit-min", "8",
    )  # fmt: skip
    assert code == 0, err
    assert err == ""
    assert sha(ws) == before  # planning writes nothing into the workspace
    plan = plan_workspace_visits(
        GeoPackageStore.open(ws),
        start=WEEK_02[0],
        end=WEEK_02[1],
        settings=VisitSettings(visit_s=480.0),
        grid="T3-W",
    )
    assert set(plan.members["member"]) == {"甲", "乙"}
    assert set(plan.days["date"]) == {dt.date(2027, 1, 13)}
    assert "visit plan 2027-W02 (2027-01-11 - 2027-01-17), grid T3-W" in text
    assert f"{len(plan.stops):,} visits on {len(plan.days)} visit days of 2 members" in text
    for member in ("甲", "乙"):
        mine = plan.stops[plan.stops["member"] == member].sort_values("seq")
        book = openpyxl.load_workbook(out / member / f"走访单_{member}_2027-01-13.xlsx")
        rows = list(book["走访路线"].iter_rows(min_row=2, values_only=True))
        assert [r[3] for r in rows] == mine["customer_id"].tolist()
        assert [r[1] for r in rows] == mine["eta"].tolist()
        # names come from the workspace's customers
        names = {f"{c}": f"户主{c[-5:-2]}{int(c[-2:])}" for c in mine["customer_id"]}
        assert {r[3]: r[4] for r in rows} == names
        summary = {r[0]: r[1] for r in book["当日合计"].iter_rows(min_row=2, values_only=True)}
        assert summary["合计分钟 / total min"] <= 480.0
        assert (out / member / f"走访单_{member}_2027-01-13.html").is_file()
    assert not (out / "丙").exists()
    visits = pd.read_csv(out / "visit_plan.csv", dtype=str, encoding="utf-8-sig")
    assert len(visits) == len(plan.stops)
    assert not list(out.rglob("*.partial"))


def test_plan_of_one_member_and_the_day_route(ws, tmp_path, capsys):
    out = tmp_path / "one"
    code, text, err = run(
        capsys, "visits", "plan", "--workspace", str(ws), "--period", "2027-01",
        "--member", "丙", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert [p.name for p in out.iterdir() if p.is_dir()] == ["丙"]
    assert "  丙 " in text and "  甲 " not in text
    plan = plan_workspace_visits(
        GeoPackageStore.open(ws), start="2027-01-01", end="2027-01-31", grid="T3-E"
    )
    first = plan.stops[plan.stops["member"] == "丙"].sort_values(["date", "seq"])
    day = first["date"].iloc[0]
    assert day == dt.date(2027, 1, 6)
    code, text, err = run(
        capsys, "visits", "day", "--workspace", str(ws), "--member", "丙", "--date",
        day.isoformat(), "--out", str(tmp_path / "day"),
    )  # fmt: skip
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0].startswith("走访路线 / visit route: 丙, 2027-01-06 周三 Wednesday")
    stops = first[first["date"] == day]
    printed = [line.split()[2] for line in lines[2 : 2 + len(stops)]]
    assert printed == stops["customer_id"].tolist()
    assert [line.split()[1] for line in lines[2 : 2 + len(stops)]] == stops["eta"].tolist()
    assert (tmp_path / "day" / "走访单_丙_2027-01-06.xlsx").is_file()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["plan", "--period", "2027-Q5"], ["--period: 统计期 '2027-Q5' 无法识别", "2026-Q4"]),
        (["plan", "--grid", "T3-NO"], ["--grid T3-NO", "use one of T3-E, T3-W"]),
        (["plan", "--grid", "T2-X"], ["--grid T2-X", "not a tier-3 grid with members"]),
        (["plan", "--member", "丁"], ["--member 丁", "no such grid member", "甲"]),
        (["plan", "--member", "丙", "--grid", "T3-W"], ["does not look after --grid T3-W", "T3-E"]),
        (["plan", "--day-hours", "0"], ["--day-hours must be a positive number"]),
        (["plan", "--weekday", "someday"], ["--weekday must be 0 (Monday) to 6 (Sunday)"]),
        (["plan", "--start", "8h"], ["--start must be 'HH:MM'"]),
        (["plan", "--category-min", "shop"], ["--category-min 'shop' is not CATEGORY=MINUTES"]),
        (["day", "--member", "丙", "--date", "2027-1-32"], ["--date 2027-1-32", "YYYY-MM-DD"]),
        (
            ["day", "--member", "丙", "--date", "2027-01-07"],
            ["2027-01-07 is a Thursday", "use --date 2027-01-06, or --weekday 3"],
        ),
        (["day", "--member", "丁", "--date", "2027-01-06"], ["--member 丁"]),
        (
            ["day", "--member", "丙", "--date", "2027-01-06", "--period", "2027-Q2"],
            ["--date 2027-01-06 is outside --period 2027-Q2 (2027-04-01 - 2027-06-30)"],
        ),
        (
            ["day", "--member", "丙", "--date", "2027-03-31"],
            ["--date 2027-03-31: 丙 has no visits on 2027-03-31", "'2027-01-06'"],
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_flag(ws, capsys, args, fragments):
    code, _, err = run(capsys, "visits", *args[:1], "--workspace", str(ws), *args[1:])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gridgeo: error:")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_a_workspace_without_customers_says_what_to_import(tmp_path, capsys):
    stations = gpd.read_file(SAMPLE_GPKG, layer="repair_stations")
    path = tmp_path / "empty.gpkg"
    GeoPackageStore.create(
        path,
        {"repair_stations": stations},
        keys={"repair_stations": "station_id"},
        author="test",
        reason="empty",
    )
    code, _, err = run(capsys, "visits", "plan", "--workspace", str(path))
    assert code == 2
    assert "the workspace has no `grids` layer: build them with `gridgeo grids build" in err


def test_the_demo_week_of_the_first_grid(ws, tmp_path):
    shown: list[str] = []
    plan, written = week_visits(
        GeoPackageStore.open(ws), tmp_path / "visits", today=dt.date(2027, 1, 5),
        progress=lambda *lines: shown.extend(lines),
    )  # fmt: skip
    # the week after 5 January 2027 is 2027-W02; T3-E is the first grid by id, 丙 its member
    assert shown[0].startswith(
        "下周走访 / next week's visits (2027-W02, 2027-01-11 - 2027-01-17), 网格 / grid T3-E"
    )
    assert set(plan.members["member"]) == {"丙"}
    day = plan.days.iloc[0]
    assert len(plan.days) == 1 and day["date"] == dt.date(2027, 1, 13)
    assert any(
        line.startswith(f"    丙  2027-01-13 周三  {int(day['stops'])} 户 / stops")
        for line in shown
    )
    assert day["total_s"] <= 8 * 3600
    assert (tmp_path / "visits" / "丙" / "走访单_丙_2027-01-13.html") in written


def test_the_day_route_map_numbers_the_stops_in_the_sheets_order(ws, tmp_path, capsys):
    code, text, err = run(
        capsys, "visits", "day", "--workspace", str(ws), "--member", "丙", "--date",
        "2027-01-06", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    book = openpyxl.load_workbook(tmp_path / "走访单_丙_2027-01-06.xlsx")
    rows = list(book["走访路线"].iter_rows(min_row=2, values_only=True))
    assert len(rows) >= 3
    page = (tmp_path / "走访路线图_丙_2027-01-06.html").read_text(encoding="utf-8")
    # one numbered marker per stop, in the sheet's order
    numbers = [int(n) for n in re.findall(r"gg-visit-stop[^>]*?\\u003e(\d+)\\u003c", page)]
    assert numbers == [r[0] for r in rows] == list(range(1, len(rows) + 1))
    # the markers: the base, then each stop at its customer's point, in the sheet's order
    found = re.findall(r"L\.marker\(\s*\[([-\d.e]+),\s*([-\d.e]+)\]", page)
    customers = gpd.read_file(ws, layer="customers").set_index("customer_id").geometry
    expected = [(customers[r[3]].y, customers[r[3]].x) for r in rows]
    assert len(found) == len(rows) + 1
    np.testing.assert_allclose(np.array(found[1:], dtype=float), np.array(expected), atol=1e-9)
    # every leg on the roads (the stops are near the roads); nothing from the network
    assert f"路线图 / route map: {len(rows) + 1} legs along the roads" in text
    assert "straight" not in text
    assert not re.search(r"""<(script|link|img)[^>]*(src|href)=["']https?://""", page)
    assert "L.tileLayer" not in page
    assert not list(tmp_path.glob("*.partial"))

    # --map without --out: beside the member's sheets in the default folder
    out = tmp_path / "cwd"
    out.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(out)
        code, text, err = run(
            capsys, "visits", "day", "--workspace", str(ws), "--member", "丙", "--date",
            "2027-01-06", "--map",
        )  # fmt: skip
    assert code == 0, err
    assert (out / "out" / "visits" / "丙" / "走访路线图_丙_2027-01-06.html").is_file()


def _visits_layer(path: Path) -> pd.DataFrame | None:
    """The stored visit records, or None if the workspace has no ``visits`` layer yet."""
    store = GeoPackageStore.open(path)
    if "visits" not in store.layers():
        return None
    return (
        store.read("visits").drop(columns="geometry").sort_values("visit_id").reset_index(drop=True)
    )


def test_import_visit_records_and_a_bad_file_stores_nothing(ws, tmp_path, capsys):
    path = tmp_path / "ws.gpkg"
    path.write_bytes(ws.read_bytes())  # the module's workspace stays as it is
    ids = sorted(gpd.read_file(path, layer="customers")["customer_id"])[:3]
    head = "记录编号,类型,户号,网格员,走访时间,结果,满意度\n"
    good = tmp_path / "走访记录.csv"
    good.write_text(
        head + f"V1,家访,{ids[0]},丙,2026-11-04 09:10,完成,满意\n"
        f"V2,电话回访,{ids[1]},丙,2026-11-05 10:00,不在家,\n",
        encoding="utf-8",
    )
    code, text, err = run(
        capsys, "visits", "import", str(good), "--workspace", str(path), "--author", "张三"
    )
    assert code == 0, err
    assert "新增 added 2" in text
    stored = _visits_layer(path)
    assert stored is not None
    assert stored[["visit_id", "kind", "customer_id", "outcome"]].values.tolist() == [
        ["V1", "home", ids[0], "done"],
        ["V2", "callback", ids[1], "not_home"],
    ]

    # one good row and two bad ones: nothing stored, the bad rows named with their fields
    bad = tmp_path / "bad.csv"
    bad.write_text(
        head + f"V3,家访,{ids[2]},丙,2026-11-04 09:10,完成,\n"
        "V4,家访,NOSUCH,丙,2026-11-04 09:30,完成,\n"
        f"V5,家访,{ids[0]},丙,2026-13-04,好,\n",
        encoding="utf-8",
    )
    before, versions = _visits_layer(path), GeoPackageStore.open(path).list_versions("visits")
    code, text, err = run(
        capsys, "visits", "import", str(bad), "--workspace", str(path), "--author", "张三"
    )
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("gridgeo: error: bad.csv")
    assert "nothing stored" in lines[0] and "--skip-bad-rows" in lines[0]
    table = lines[2:]  # under the table's heading
    assert {(ln.split()[0], ln.split()[2]) for ln in table} == {
        ("3", "户号"),
        ("4", "结果"),
        ("4", "走访时间"),
    }
    pd.testing.assert_frame_equal(_visits_layer(path), before)
    assert len(GeoPackageStore.open(path).list_versions("visits")) == len(versions)

    # a missing file: one line naming it
    code, _, err = run(
        capsys, "visits", "import", str(tmp_path / "none.csv"), "--workspace", str(path),
        "--author", "张三",
    )  # fmt: skip
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "none.csv: 文件不存在 / no such file" in err
