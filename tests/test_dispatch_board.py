"""gridgeo.dispatch_board: the stations' availability board and the doubts about a fault.

The board is read back with sqlite3 and GDAL (not through the module); the doubts' expected
codes and texts are written out by hand from the archive's 定位说明 and issue 13.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

import gridgeo
from gridgeo import cli
from gridgeo.errors import InputError, NotFoundError

# --------------------------------------------------------------------------- the board

STATIONS = gpd.GeoDataFrame(
    {"station_id": ["RS01", "RS02", "RS03"], "name": ["城关站", "工业园站", "白舍站"],
     "crews": [4, 2, 1]},
    geometry=[Point(116.53, 27.21), Point(116.55, 27.23), Point(116.44, 27.04)],
    crs=4326,
)  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path) -> gridgeo.GeoPackageStore:
    return gridgeo.GeoPackageStore.create(
        tmp_path / "board.gpkg",
        {"repair_stations": STATIONS},
        keys={"repair_stations": "station_id"},
        author="test",
        reason="stations",
    )


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def stored(path: Path) -> dict[str, tuple[str, str | None, str, str]]:
    """The availability table read with sqlite3."""
    with sqlite3.connect(path) as con:
        rows = con.execute(
            "SELECT station_id, status, note, updated_by, updated_at FROM station_availability"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_new_board_has_every_station_on_duty(ws):
    board = gridgeo.read_station_availability(ws)
    assert list(board["station_id"]) == ["RS01", "RS02", "RS03"]
    assert list(board["status"]) == ["on_duty"] * 3
    assert list(board["status_zh"]) == ["在岗"] * 3
    assert board[["note", "updated_by", "updated_at"]].isna().all().all()
    assert list(board["crews"]) == [4, 2, 1] and board.crs.to_epsg() == 4326
    assert gridgeo.unavailable_stations(ws) == []
    # reading made no table
    assert "station_availability" not in set(pyogrio.list_layers(ws.path)[:, 0])


def test_set_and_read_back_round_trip(ws):
    before = now_utc()
    board = gridgeo.set_station_availability(ws, "RS02", "busy", by="张三", note=" 抢修中 ")
    after = now_utc()
    row = board.set_index("station_id").loc["RS02"]
    assert (row["status"], row["status_zh"], row["note"], row["updated_by"]) == (
        "busy", "忙碌", "抢修中", "张三",
    )  # fmt: skip
    status, note, by, at = stored(ws.path)["RS02"]
    assert (status, note, by) == ("busy", "抢修中", "张三")
    assert before <= at <= after  # ISO-8601 UTC strings sort as times
    # the Chinese name of a status is accepted and stored as its code
    gridgeo.set_station_availability(ws, "RS01", "外出", by="李四")
    assert stored(ws.path)["RS01"][:3] == ("out", None, "李四")
    # the busy and out stations, in the stations' order, for dispatch(unavailable=...)
    assert gridgeo.unavailable_stations(ws) == ["RS01", "RS02"]
    # another process (a second store on the file) sees the same board
    again = gridgeo.read_station_availability(gridgeo.GeoPackageStore.open(ws.path))
    assert list(again["status"]) == ["out", "busy", "on_duty"]
    # back on duty: the row is kept with who did it
    gridgeo.set_station_availability(ws, "RS02", "on_duty", by="王五")
    assert stored(ws.path)["RS02"][:3] == ("on_duty", None, "王五")
    assert gridgeo.unavailable_stations(ws) == ["RS01"]
    # GDAL sees the table (listed in gpkg_contents as attributes)
    table = pyogrio.read_dataframe(ws.path, layer="station_availability")
    assert sorted(table["station_id"]) == ["RS01", "RS02"]


@pytest.mark.parametrize(
    ("station", "status", "kw", "error", "match"),
    [
        ("RS99", "busy", {}, NotFoundError, r"`station_id` 'RS99': use one of RS01, RS02, RS03"),
        ("RS01", "gone", {}, InputError, r"`status` 'gone'.*on_duty \(在岗\), busy \(忙碌\)"),
        ("RS01", "", {}, InputError, r"`status` ''"),
        ("RS01", "busy", {"by": " "}, InputError, r"`by` must name who sets the status"),
        ("RS01", "busy", {"note": "长" * 201}, InputError, r"`note` is 201 characters.*200"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(ws, station, status, kw, error, match):
    gridgeo.set_station_availability(ws, "RS03", "busy", by="张三")
    before = sha(ws.path)
    with pytest.raises(error, match=match):
        gridgeo.set_station_availability(ws, station, status, **{"by": "张三", **kw})
    assert sha(ws.path) == before


# --------------------------------------------------------------------------- doubts

# by hand: the archive's 定位说明 with English alongside (issue 13: "any doubt about the location")
CONFLICT = "GPS与地址不符（按GPS定位，请核实） / GPS contradicts the address"
SWAPPED = "经纬度颠倒（坐标未采用） / swapped lon/lat in the customer's GPS"
OUTSIDE = "坐标在县外（坐标未采用） / the customer's GPS is outside the county"
VILLAGE = "按村定位：位置是村的中心点，不是门牌 / placed at the village point, not the house"
TOWN = "只定位到乡镇：结果仅供参考 / located only to the township: ETA is approximate"
NEAR = "近县界，归入最近网格 / near the county line, put into the nearest grid"
OUT_OF_GRIDS = "位置在各网格之外 / outside every grid"
AMBIGUOUS = "地址问题 / address problem: ambiguous（候选 candidates：三溪村、双溪村）"


def fault(match_level: str | None = None, located_by: str = "address") -> gridgeo.Fault:
    return gridgeo.Fault(lon=116.53, lat=27.21, located_by=located_by, match_level=match_level)


@pytest.mark.parametrize(
    ("row", "want"),
    [
        (
            {"coords_conflict_address": True, "swapped_lonlat": False,
             "coords_outside_county": "False", "address_reason": "ambiguous",
             "candidates": "三溪村|双溪村", "location_source": "gps",
             "grid_reason": "near_boundary"},
            [("coords_conflict_address", CONFLICT),
             ("ambiguous", AMBIGUOUS),
             ("near_boundary", NEAR)],
        ),
        (
            {"swapped_lonlat": "1", "coords_outside_county": 1, "address_reason": "ok",
             "location_source": "village", "grid_reason": "ok"},
            [("swapped_lonlat", SWAPPED), ("coords_outside_county", OUTSIDE),
             ("located_by_village", VILLAGE)],
        ),
        (
            {"address_reason": "no_village_name", "candidates": np.nan,
             "location_source": "town", "grid_reason": "outside_grids"},
            [("no_village_name", "地址问题 / address problem: no_village_name"),
             ("located_by_town", TOWN), ("outside_grids", OUT_OF_GRIDS)],
        ),
        (  # missing values are no doubt
            {"coords_conflict_address": np.nan, "address_reason": None, "candidates": pd.NA,
             "location_source": " ", "grid_reason": np.nan},
            [],
        ),
    ],
)  # fmt: skip
def test_doubts_about_a_customer(row, want):
    as_series = pd.Series(row, dtype=object)
    for customer in (row, as_series):
        got = gridgeo.location_doubts(customer, fault=fault("town", "customer"))
        assert [(d["code"], d["text"]) for d in got] == want


@pytest.mark.parametrize(
    ("level", "grid_reason", "want"),
    [
        ("village", "ok", []),
        (None, "near_boundary", [("near_boundary", NEAR)]),
        ("town", "outside_grids", [("located_by_town", TOWN), ("outside_grids", OUT_OF_GRIDS)]),
        ("town", None, [("located_by_town", TOWN)]),
    ],
)
def test_doubts_about_a_point_or_an_address(level, grid_reason, want):
    got = gridgeo.location_doubts(fault=fault(level), grid_reason=grid_reason)
    assert [(d["code"], d["text"]) for d in got] == want
    assert gridgeo.location_doubts() == []


def hand_grids() -> gpd.GeoDataFrame:
    """One county grid, one supply grid, two village grids side by side (by hand)."""
    return gpd.GeoDataFrame(
        {"grid_id": ["T1", "T2", "T3-W", "T3-E"], "tier": [1, 2, 3, 3],
         "parent_id": [None, "T1", "T2", "T2"], "name": ["县", "供电网", "西网格", "东网格"]},
        geometry=[box(116.50, 27.19, 116.56, 27.24), box(116.50, 27.19, 116.56, 27.24),
                  box(116.50, 27.19, 116.53, 27.24), box(116.53, 27.19, 116.56, 27.24)],
        crs=4326,
    )  # fmt: skip


def test_fault_place_by_point_and_by_customer():
    grids = hand_grids()
    inside = gridgeo.Fault(lon=116.545, lat=27.20, located_by="point")
    assert gridgeo.fault_place(inside, grids) == {
        "grid_t1": "T1", "grid_t2": "T2", "grid_t3": "T3-E", "grid_reason": "ok"
    }  # fmt: skip
    # 0.2° (about 20 km) east of every grid
    far = gridgeo.Fault(lon=116.76, lat=27.20, located_by="point")
    assert gridgeo.fault_place(far, grids) == {
        "grid_t1": None, "grid_t2": None, "grid_t3": None, "grid_reason": "outside_grids"
    }  # fmt: skip
    # a customer's grids are the archive's, not looked up again
    row = pd.Series({"grid_t1": "T1", "grid_t2": "T2", "grid_t3": "T3-W", "grid_reason": "ok"})
    assert gridgeo.fault_place(far, grids, customer=row)["grid_t3"] == "T3-W"
    assert gridgeo.fault_place(far, None, customer=row)["grid_t3"] == "T3-W"
    with pytest.raises(InputError, match="`grids` are needed"):
        gridgeo.fault_place(far, None)


# --------------------------------------------------------------------------- the CLI


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_stations_status_lists_and_sets(ws, capsys):
    where = ("--workspace", str(ws.path))
    code, out, err = run(capsys, "stations", "status", *where)
    assert code == 0, err
    assert "全部在岗 / every station on duty" in out
    assert sum(" 在岗 on_duty " in line for line in out.splitlines()) == 3
    code, out, err = run(
        capsys, "stations", "status", "--set", "RS03", "忙碌", "--author", "张三",
        "--note", "抢修中", *where,
    )  # fmt: skip
    assert code == 0, err
    assert "已设置 / set: RS03 白舍站 -> 忙碌 busy, by 张三" in out
    assert "不可派 / not dispatched: RS03" in out
    assert stored(ws.path)["RS03"][:3] == ("busy", "抢修中", "张三")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("--set", "RS99", "busy", "--author", "张三"), "--set RS99 busy: 无此抢修站"),
        (("--set", "RS01", "gone", "--author", "张三"), "--set RS01 gone: 站点状态无效"),
        (("--set", "RS01", "busy"), "--set needs --author"),
        (("--note", "抢修中",), "--note and --author go with --set"),
    ],
)  # fmt: skip
def test_cli_stations_status_errors_are_one_line(ws, capsys, argv, fragment):
    before = sha(ws.path)
    code, _, err = run(capsys, "stations", "status", *argv, "--workspace", str(ws.path))
    assert code == 2
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err
    assert sha(ws.path) == before


@pytest.fixture(scope="module")
def dispatch_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample county's stations and roads, hand-made grids around the county seat and
    two hand-made customers with doubts."""
    from gridgeo import sample, workspace

    county = sample.load_sample()
    seat = county.repair_stations.geometry.iloc[0]  # RS01, in the county seat
    customers = gpd.GeoDataFrame(
        {"customer_id": ["C-CONFLICT", "C-PLAIN"], "address": ["琴城镇某村", "琴城镇某村"],
         "coords_conflict_address": [True, False], "address_reason": ["ambiguous", "ok"],
         "candidates": ["三溪村|双溪村", None], "location_source": ["gps", "gps"],
         "grid_t1": ["T1", "T1"], "grid_t2": ["T2", "T2"], "grid_t3": ["T3-E", "T3-W"],
         "grid_reason": ["near_boundary", "ok"]},
        geometry=[Point(seat.x + 0.005, seat.y), Point(seat.x - 0.005, seat.y)],
        crs=4326,
    )  # fmt: skip
    layers = {
        **{n: getattr(county, n) for n in ("county", "villages", "substations", "repair_stations")},
        "grids": hand_grids(),
    }
    path = tmp_path_factory.mktemp("board") / "workspace.gpkg"
    store = workspace.create_workspace(
        path, layers, roads=county.roads, author="test", reason="test"
    )
    store.add_layer("customers", customers, key="customer_id", author="test", reason="test")
    return path


def test_cli_dispatch_prints_the_doubts(dispatch_ws, capsys):
    where = ("dispatch", "--workspace", str(dispatch_ws))
    code, out, err = run(capsys, *where, "--customer", "C-CONFLICT")
    assert code == 0, err
    lines = out.splitlines()
    at = lines.index("定位疑点 / doubts about the location:")
    assert lines[at + 1 :] == [
        f"  ! coords_conflict_address: {CONFLICT}",
        f"  ! ambiguous: {AMBIGUOUS}",
        f"  ! near_boundary: {NEAR}",
    ]
    assert "网格 grid: T3-E (near_boundary)" in lines
    code, out, err = run(capsys, *where, "--customer", "C-PLAIN")
    assert code == 0, err
    assert "定位无疑点 / no doubt about the location" in out.splitlines()
    # a point in the county's south, far from the hand-made grids by the county seat
    south = STATIONS.geometry.iloc[2]
    code, out, err = run(capsys, *where, "--point", f"{south.x},{south.y}")
    assert code == 0, err
    assert f"  ! outside_grids: {OUT_OF_GRIDS}" in out.splitlines()


def test_cli_dispatch_can_leave_out_the_boards_busy_stations(dispatch_ws, capsys, tmp_path):
    path = tmp_path / "copy.gpkg"
    path.write_bytes(dispatch_ws.read_bytes())
    store = gridgeo.GeoPackageStore.open(path)
    where = ("dispatch", "--workspace", str(path), "--customer", "C-PLAIN")
    _, out, _ = run(capsys, *where)
    best = out.split("best station 最近抢修站 ")[1].split(":")[0]
    gridgeo.set_station_availability(store, best, "busy", by="张三")
    code, out, err = run(capsys, *where)  # the board is named, not applied
    assert code == 0, err
    assert f"best station 最近抢修站 {best}:" in out
    assert f"busy or out on the board: {best} (not left out here: add --use-board" in out
    code, out, err = run(capsys, *where, "--use-board")
    assert code == 0, err
    assert f"best station 最近抢修站 {best}:" not in out
    assert next(x for x in out.splitlines() if x.startswith(f"  {best} ")).endswith("不可派")
