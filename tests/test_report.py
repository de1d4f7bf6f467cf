"""The monthly report for leadership (月度供电服务报告) of a small hand-made workspace.

The workspace: 南丰县 with one supply grid (琴城变电站供电网格) of two village grids,
水南村网格 (10 customers of 水南村, 琴城镇; member 张三) and 太和村网格 (10 customers of
太和村, 太和镇; member 李四), and one customer with no position (no grid, no village).
Grid ids look like the real ones (``T3-SUB01-01``) so that the test can see none leaks.

November 2026, by hand (China time):

- faults F1 20 min, F2 45 min, F3 30 min, F4 31 min, F5 10 min: on site within 30 minutes
  3 of 5 = 60 %; October: F0 10 min, 100 %;
- complaints C1 (closed, first time), C2 (closed, not first time), C3 (closed, first time),
  C4 (open): first-time resolution 2 of the 3 closed = 66.667 %; 4 complaints among the 20
  customers in the county's grid: 2,000 per 10,000;
- predicted reach: 水南村 all within both promises; 太和村 6 within 30-minute repair and
  4 at 40 minutes; the customer with no position within neither: repair 16/21, payment
  20/21;
- visits: c0 two home visits in 2026, callbacks c0 (October) and c1 (November) in the
  fourth quarter, c2's callback on 2 December is after the month: 1/20 and 2/20;
- 服务之星 of 2026-W48 (23–29 November): 李四, F5 on time 1 × 2 points = 2.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pypdf
import pytest
import shapely
from test_performance import order

from gridgeo import cli, fonts
from gridgeo.errors import NotFoundError
from gridgeo.evaluation import monthly_evaluation
from gridgeo.orders import read_orders
from gridgeo.reach import reach_kpis
from gridgeo.report import leadership_report, write_leadership_report
from gridgeo.store import GeoPackageStore
from gridgeo.visit_records import import_visits
from gridgeo.workspace import replace_roads

T1, T2, A, B = "T1-361023", "T2-SUB01", "T3-SUB01-01", "T3-SUB01-02"
GRIDS = pd.DataFrame(
    {
        "grid_id": [T1, T2, A, B],
        "tier": [1, 2, 3, 3],
        "parent_id": ["", T1, T2, T2],
        "name": ["南丰县供电公司", "琴城变电站供电网格", "水南村网格", "太和村网格"],
        "manager": ["", "赵六", "孙七", "周八"],
        "members": ["", "", "张三", "李四"],
    }
)
BOXES = {
    T1: (116.0, 27.0, 116.2, 27.1),
    T2: (116.0, 27.0, 116.2, 27.1),
    A: (116.0, 27.0, 116.1, 27.1),
    B: (116.1, 27.0, 116.2, 27.1),
}
V_A, V_B = "361023100201", "361023101201"


def _order(order_id: str, kind: str, grid: str, reported: str, **fields: object) -> dict:
    row = order(order_id, kind, grid, reported, **fields)
    row.update(grid_t1=T1, grid_t2=T2, grid_t3={"A": A, "B": B}[grid])
    row["town"], row["village"] = {"A": ("琴城镇", "水南村"), "B": ("太和镇", "太和村")}[grid]
    return row


def hand_orders() -> pd.DataFrame:
    rows = [
        _order("F9", "fault", "A", "2026-09-10 10:00", arrived_at="2026-09-10 10:05"),
        _order("F0", "fault", "A", "2026-10-15 10:00", arrived_at="2026-10-15 10:10"),
        _order("F1", "fault", "A", "2026-11-03 08:00", arrived_at="2026-11-03 08:20"),
        _order("F2", "fault", "A", "2026-11-05 14:00", arrived_at="2026-11-05 14:45"),
        _order("F3", "fault", "B", "2026-11-10 09:00", arrived_at="2026-11-10 09:30"),
        _order("F4", "fault", "B", "2026-11-12 10:00", arrived_at="2026-11-12 10:31"),
        _order("F5", "fault", "B", "2026-11-24 10:00", arrived_at="2026-11-24 10:10"),
        _order(
            "C1", "complaint", "A", "2026-11-08 10:00",
            closed_at="2026-11-09 10:00", first_time=True,
        ),
        _order("C2", "complaint", "B", "2026-11-09 10:00", closed_at="2026-11-12 10:00"),
        _order(
            "C3", "complaint", "B", "2026-11-15 10:00",
            closed_at="2026-11-15 18:00", first_time=True,
        ),
        _order("C4", "complaint", "A", "2026-11-28 10:00"),
    ]  # fmt: skip
    return pd.DataFrame(rows)


def customers_layer() -> gpd.GeoDataFrame:
    n = 21
    in_a = np.arange(n) < 10
    located = np.arange(n) < 20
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "grid_t1": np.where(located, T1, None),
            "grid_t2": np.where(located, T2, None),
            "grid_t3": np.where(in_a, A, np.where(located, B, None)),
            "village_code": np.where(in_a, V_A, np.where(located, V_B, None)),
            "town": np.where(in_a, "琴城镇", np.where(located, "太和镇", "")),
            "village": np.where(in_a, "水南村", np.where(located, "太和村", "")),
            "voltage_class": "LV",
            "vulnerable": False,
        }
    )
    x = np.where(in_a, 116.05, 116.15)
    points = [shapely.Point(xi, 27.05) if ok else None for xi, ok in zip(x, located, strict=True)]
    return gpd.GeoDataFrame(frame, geometry=points, crs=4326)


def access_layer(customers: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    i = np.arange(len(customers))
    late = (i >= 16) & (i < 20)  # four of 太和村 at 40 minutes
    lost = i == 20
    access = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "repair_eta_s": np.select([lost, late, i < 10], [np.nan, 2400.0, 600.0], 1200.0),
            "repair_station_id": np.where(lost, None, "RS1"),
            "repair_ok": ~late & ~lost,
            "repair_reason": np.where(lost, "not_geocoded", np.where(late, "over_limit", "ok")),
            "payment_eta_s": np.where(lost, np.nan, 300.0),
            "payment_point_id": np.where(lost, None, "PP1"),
            "payment_ok": ~lost,
            "payment_reason": np.where(lost, "not_geocoded", "ok"),
            "reason": np.where(lost, "not_geocoded", np.where(late, "over_limit", "ok")),
        }
    )  # fmt: skip
    return gpd.GeoDataFrame(access, geometry=customers.geometry.to_numpy(), crs=4326)


VISIT_HEADER = [
    "记录编号",
    "类型",
    "户号",
    "网格员",
    "走访时间",
    "结果",
    "满意度",
    "发现隐患",
    "备注",
]
VISITS = [
    ["R1", "家访", "c0", "张三", "2026-03-05 09:00", "完成", "", "", ""],
    ["R2", "家访", "c0", "张三", "2026-09-05 09:00", "完成", "", "", ""],
    ["R3", "家访", "c1", "张三", "2026-06-01 09:00", "完成", "", "", ""],
    ["R4", "回访", "c0", "张三", "2026-10-10 09:00", "完成", "", "", ""],
    ["R5", "回访", "c1", "张三", "2026-11-15 09:00", "完成", "", "", ""],
    ["R6", "回访", "c2", "张三", "2026-12-02 09:00", "完成", "", "", ""],
]


def make_workspace(path: Path, *, visits: bool = True) -> GeoPackageStore:
    grids = gpd.GeoDataFrame(
        GRIDS, geometry=[shapely.box(*BOXES[g]) for g in GRIDS["grid_id"]], crs=4326
    )
    county = gpd.GeoDataFrame(
        {"adcode": ["361023"], "name": ["南丰县"]},
        geometry=[shapely.box(*BOXES[T1])],
        crs=4326,
    )
    villages = gpd.GeoDataFrame(
        {
            "village_code": [V_A, V_B],
            "village": ["水南村", "太和村"],
            "town_code": ["361023100", "361023101"],
            "town": ["琴城镇", "太和镇"],
        },
        geometry=[shapely.Point(116.05, 27.05), shapely.Point(116.15, 27.05)],
        crs=4326,
    )
    customers = customers_layer()
    orders = hand_orders()
    layers = {
        "county": county,
        "grids": grids,
        "villages": villages,
        "customers": customers,
        "customer_access": access_layer(customers),
        "work_orders": gpd.GeoDataFrame(orders, geometry=[None] * len(orders), crs=4326),
    }
    keys = {
        "county": "adcode",
        "grids": "grid_id",
        "villages": "village_code",
        "customers": "customer_id",
        "customer_access": "customer_id",
        "work_orders": "order_id",
    }
    store = GeoPackageStore.create(path, layers, author="test", reason="test", keys=keys)
    if visits:
        csv = path.with_name("visits.csv")
        text = "\n".join(",".join(r) for r in [VISIT_HEADER, *VISITS]) + "\n"
        csv.write_text(text, encoding="utf-8")
        import_visits(store, csv, author="test", now="2026-12-05 12:00")
    return store


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "w.gpkg"
    make_workspace(path)
    return path


@pytest.fixture(scope="module")
def written(workspace: Path, tmp_path_factory: pytest.TempPathFactory):
    store = GeoPackageStore.open(workspace)
    report = leadership_report(store, "2026-11")
    files = write_leadership_report(report, tmp_path_factory.mktemp("out"))
    return report, files


@pytest.fixture(scope="module")
def book(written):
    return openpyxl.load_workbook(written[1]["xlsx"])


@pytest.fixture(scope="module")
def pdf_text(written) -> str:
    reader = pypdf.PdfReader(written[1]["pdf"])
    return "\n".join(page.extract_text() for page in reader.pages)


def sheet_rows(book, name: str) -> list[dict]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def figure_row(book, label: str) -> dict:
    (row,) = [r for r in sheet_rows(book, "概要") if r["指标"] == label]
    return row


def test_hand_figures(book):
    on_time = figure_row(book, "到达现场及时率")
    assert (on_time["本月"], on_time["上月"]) == (pytest.approx(60.0), pytest.approx(100.0))
    assert on_time["结果"] == "未达标"
    first = figure_row(book, "投诉一次办结率")
    assert first["本月"] == pytest.approx(200 / 3, abs=1e-3)
    assert figure_row(book, "故障报修工单数")["本月"] == 5
    assert figure_row(book, "投诉数")["本月"] == 4
    assert figure_row(book, "每万户投诉数")["本月"] == pytest.approx(4 * 10_000 / 20)
    # visits at the end of November: c0 two home visits of 20; c0 and c1 called in Q4
    assert figure_row(book, "2026年两次家访完成率")["本月"] == pytest.approx(5.0)
    assert figure_row(book, "2026年第4季度电话回访率")["本月"] == pytest.approx(10.0)


def test_figures_equal_the_evaluation(workspace, written, book, pdf_text):
    report, _ = written
    store = GeoPackageStore.open(workspace)
    ev = monthly_evaluation(
        read_orders(store, required=True),
        grids=store.read("grids"),
        customers=store.read("customers"),
        month="2026-11",
    )
    county = ev.tables["county"].set_index("figure")
    for figure in ("faults", "on_time_rate", "complaints", "first_time_rate", "rs1", "saifi"):
        want = county.loc[figure]
        row = figure_row(book, want["figure_zh"])
        assert row["本月"] == pytest.approx(want["value"], abs=1e-3), figure
        if np.isfinite(want["previous"]):
            assert row["上月"] == pytest.approx(want["previous"], abs=1e-3), figure
        assert row["结果"] == want["result"]
    # the PDF shows the same figures (rates to 0.1 %, reliability to 0.001 %)
    on_time = county.loc["on_time_rate"]
    assert f"到达现场及时率 {on_time['value']:.1f}% {on_time['previous']:.1f}%" in pdf_text
    first = county.loc["first_time_rate"]
    assert f"投诉一次办结率 {first['value']:.1f}%" in pdf_text
    rs1 = county.loc["rs1"]
    assert f"供电可靠率RS-1 {rs1['value']:.3f}%" in pdf_text
    assert f"本月工单 {ev.orders:,} 件（上月 {ev.previous_orders:,} 件）" in pdf_text
    # the trend of October and November equals each month's evaluation
    october = (
        monthly_evaluation(
            read_orders(store, required=True),
            grids=store.read("grids"),
            customers=store.read("customers"),
            month="2026-10",
        )
        .tables["county"]
        .set_index("figure")
    )
    trend = {r["月份"]: r for r in sheet_rows(book, "趋势")}
    assert list(trend) == ["2026-09", "2026-10", "2026-11"]  # the months with records
    assert trend["2026-11"]["到达现场及时率(%)"] == pytest.approx(on_time["value"], abs=1e-3)
    assert trend["2026-10"]["到达现场及时率(%)"] == pytest.approx(
        october.loc["on_time_rate", "value"], abs=1e-3
    )
    assert trend["2026-11"]["工单数"] == ev.orders == 9
    assert report.month == "2026-11"


def test_predicted_service_levels(workspace, book, pdf_text):
    rows = {r["指标"]: r["数值(%)"] for r in sheet_rows(book, "预测服务水平")}
    assert rows["30 分钟抢修到达率（预测）"] == pytest.approx(round(100 * 16 / 21, 1))
    assert rows["10 分钟缴费可达率（预测）"] == pytest.approx(round(100 * 20 / 21, 1))
    # the same as reach_kpis of the stored layers, read without gridgeo's join
    customers = gpd.read_file(workspace, layer="customers")
    access = gpd.read_file(workspace, layer="customer_access").set_index("customer_id")
    access = access.loc[customers["customer_id"]].set_index(customers.index)
    county = reach_kpis(access, customers)["county"].iloc[0]
    assert rows["30 分钟抢修到达率（预测）"] == pytest.approx(
        round(100 * county["repair_share_ok"], 1)
    )
    assert f"30 分钟抢修到达率（预测）：{100 * 16 / 21:.1f}%" in pdf_text


def test_worst_grids_and_villages_by_name_with_reason(book, pdf_text):
    grids = sheet_rows(book, "最差村级网格")
    # 太和村网格: repair 6/10 -> 60 %, the lowest of both shares; then 水南村网格 (100 %)
    assert [g["村级网格"] for g in grids] == ["太和村网格", "水南村网格"]
    assert grids[0]["所属供电网格"] == "琴城变电站供电网格"
    assert grids[0]["网格长"] == "周八"
    assert grids[0]["原因"] == "4 户超 30 分钟，最近抢修站中位 40 分钟"
    # 太和村网格 in November: F3 and F5 on time, F4 late -> 66.7 % < 95 %; complaints C2
    # (not first time) and C3 (first time) -> 50 % < 98 %
    assert grids[0]["本月未达标指标"] == "到达现场及时率 66.7%、投诉一次办结率 50.0%"
    villages = sheet_rows(book, "最需关注的村")
    assert [(v["乡镇"], v["村"]) for v in villages] == [("太和镇", "太和村")]
    assert villages[0]["原因"] == "4 户超 30 分钟，最近抢修站中位 40 分钟"
    flat = pdf_text.replace("\n", "")
    assert "太和镇" in flat and "4 户超 30 分钟，最近抢修站中位 40 分钟" in flat


def test_stars_and_watch_sheets(written, book):
    report, _ = written
    stars = sheet_rows(book, "服务之星")
    assert stars[0]["网格员"] == "李四" and stars[0]["得分"] == 2  # F5 on time: 1 x 2
    assert stars[0]["网格"] == "太和村网格"
    assert "服务之星：李四（太和村网格），2 分" in report.star_line
    assert "2026-11-23 至 2026-11-29" in report.star_line
    assert "重点巡查" in book.sheetnames


def test_no_codes_and_a4_pages(written, book, pdf_text):
    _, files = written
    for code in ("T1-", "T2-", "T3-", "SUB01", "unassigned", V_A, V_B, "nan", "None"):
        assert code not in pdf_text, code
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                text = "" if value is None else str(value)
                assert not re.search(r"T\d-|unassigned|SUB\d", text), (sheet.title, text)
    reader = pypdf.PdfReader(files["pdf"])
    assert 1 <= len(reader.pages) <= 3
    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert (round(width), round(height)) == (595, 842)  # A4 portrait in points
    assert "南丰县 2026年11月 月度供电服务报告" in pdf_text
    assert not list(files["pdf"].parent.glob("*.partial"))


def test_cli_writes_both_files(workspace, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["report", "leadership", "2026-11", "--workspace", str(workspace), "--out", str(out)]
    code = cli.main(argv)
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "到达现场及时率：60%（未达标）" in printed.out
    assert (out / "月度供电服务报告_2026-11.pdf").is_file()
    assert (out / "月度供电服务报告_2026-11.xlsx").is_file()
    # `report month` still writes the evaluation
    assert (
        cli.main(["report", "month", "2026-11", "--workspace", str(workspace), "--out", str(out)])
        == 0
    )
    assert (out / "月度考核_2026-11.xlsx").is_file()


def test_month_without_records_is_one_clear_line(workspace, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["report", "leadership", "2027-03", "--workspace", str(workspace), "--out", str(out)]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "2027-03 无工单记录" in err
    assert "2026-09 至 2026-11" in err
    assert "gridgeo report leadership 2026-11" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_without_visits_the_report_says_so(tmp_path):
    store = make_workspace(tmp_path / "w.gpkg", visits=False)
    report = leadership_report(store, "2026-11")
    assert any("尚无走访记录" in note for note in report.notes)
    assert "2026年两次家访完成率" not in set(report.figures["指标"])


def test_no_chinese_font_writes_nothing(written, tmp_path, monkeypatch):
    report, _ = written
    monkeypatch.setenv(fonts.CJK_FONT_ENV, str(tmp_path / "missing.ttc"))
    with pytest.raises(NotFoundError, match="GRIDGEO_CJK_FONT"):
        write_leadership_report(report, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_siting_suggestion_by_village_name(tmp_path):
    store = make_workspace(tmp_path / "w.gpkg", visits=False)
    # one road from 116.00 to 116.12 along the customers' latitude: 水南村 (116.05) lies on it,
    # 太和村 (116.15) is 3 km from its end, too far to join it; no repair station yet
    road = shapely.LineString([(116.00, 27.05), (116.06, 27.05), (116.12, 27.05)])
    replace_roads(store, gpd.GeoDataFrame({"highway": ["secondary"]}, geometry=[road], crs=4326))
    # only a station in 水南村 covers anyone: its 10 customers of the 21
    want = [{"序号": 1, "建议站址": "琴城镇 水南村", "新增覆盖客户": 10, "覆盖后达标率(%)": 47.6}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw Python warning reaches the user
        report = leadership_report(store, "2026-11", suggest_stations=1)
    assert report.sites.to_dict("records") == want
    assert "选址：1 个村无位置或离道路过远，未作为候选站址" in report.notes
    # the run's map drew one suggested station: the report suggests as many
    run = tmp_path / "run"
    run.mkdir()
    manifest = {"steps": {"map": {"inputs": {"suggest_stations": 1}}}}
    (run / "run_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert leadership_report(store, "2026-11", run_dir=run).sites.to_dict("records") == want
    assert leadership_report(store, "2026-11").sites.empty
