"""The monthly evaluation (月度考核) of the hand-made orders, against hand arithmetic.

The orders are those of ``test_performance.hand_orders`` (grids A and B under S under C);
the customers layer here has 2,000 customers in A and 3,000 in B. A is looked after by 张三,
B by 李四 and 王五 (王五 has no order).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from test_performance import hand_orders

from gridgeo import cli
from gridgeo.errors import InputError, MissingColumnError
from gridgeo.evaluation import (
    evaluation_summary_html,
    evaluation_summary_text,
    monthly_evaluation,
    write_evaluation_xlsx,
)
from gridgeo.store import GeoPackageStore

GRIDS = pd.DataFrame(
    {
        "grid_id": ["C", "S", "A", "B"],
        "tier": [1, 2, 3, 3],
        "parent_id": ["", "C", "S", "S"],
        "name": ["南丰县供电公司", "琴城供电网格", "水南村网格", "太和村网格"],
        "manager": ["", "赵六", "孙七", "周八"],
        "members": ["", "", "张三", "李四、王五"],
    }
)


def customers_layer() -> pd.DataFrame:
    t3 = ["A"] * 2000 + ["B"] * 3000
    return pd.DataFrame({"grid_t1": "C", "grid_t2": "S", "grid_t3": t3})


@pytest.fixture(scope="module")
def evaluation():
    return monthly_evaluation(
        hand_orders(), grids=GRIDS, customers=customers_layer(), month="2026-11"
    )


def pick(evaluation, tier: str, name: str, figure: str) -> pd.Series:
    table = evaluation.tables[tier]
    hit = table[(table["name"] == name) & (table["figure"] == figure)]
    assert len(hit) == 1, (tier, name, figure)
    return hit.iloc[0]


def test_months_and_totals(evaluation):
    assert evaluation.month == "2026-11"
    assert evaluation.previous == "2026-10"
    # the county: November A 10 + B 3 + Q3 (no grid); October F0, O2
    assert evaluation.orders == 14
    assert evaluation.orders_without_grid == 1
    assert evaluation.previous_orders == 2
    # Q3's group is counted, not listed as a grid
    assert set(evaluation.tables["county"]["group_id"]) == {"C"}
    assert list(evaluation.tables) == ["county", "supply_grid", "village_grid", "member"]


def test_county_figures_against_targets(evaluation):
    on_time = pick(evaluation, "county", "南丰县供电公司", "on_time_rate")
    # on time F1, F3 of F1 F2 F3 F4(open, late) F7 -> 40 %; October F0 on time -> 100 %
    assert on_time["value"] == pytest.approx(40.0)
    assert on_time["previous"] == pytest.approx(100.0)
    assert on_time["change"] == pytest.approx(-60.0)
    assert on_time["target"] == pytest.approx(95.0)
    assert on_time["result"] == "未达标"
    assert on_time["group_id"] == "C"
    # closed complaints C1, C2, C4; first time C1, C4
    first = pick(evaluation, "county", "南丰县供电公司", "first_time_rate")
    assert first["value"] == pytest.approx(200 / 3)
    assert first["result"] == "未达标"
    assert np.isnan(first["previous"])  # no complaint in October
    satisfaction = pick(evaluation, "county", "南丰县供电公司", "satisfaction_rate")
    assert satisfaction["value"] == pytest.approx(75.0)
    rs1 = pick(evaluation, "county", "南丰县供电公司", "rs1")
    # 500 customer-hours in A, 32.5 in B, 5,000 customers, 720 hours
    assert rs1["value"] == pytest.approx(100 * (1 - 532.5 / (5000 * 720)))
    assert rs1["previous"] == pytest.approx(100 * (1 - 100 / (5000 * 744)))
    assert rs1["target"] == pytest.approx(99.9)
    assert rs1["result"] == "达标"
    arrival = pick(evaluation, "county", "南丰县供电公司", "arrival_median_s")
    # arrivals 25, 30, 40, 50 minutes
    assert arrival["value"] == pytest.approx(35.0)
    assert arrival["unit"] == "分钟"
    assert arrival["result"] == "—"
    per10k = pick(evaluation, "county", "南丰县供电公司", "complaints_per_10k")
    assert per10k["value"] == pytest.approx(4 * 10_000 / 5000)


def test_village_grids(evaluation):
    a = pick(evaluation, "village_grid", "水南村网格", "on_time_rate")
    assert (a["value"], a["previous"], a["result"]) == (pytest.approx(50.0), 100.0, "未达标")
    b_first = pick(evaluation, "village_grid", "太和村网格", "first_time_rate")
    assert b_first["value"] == pytest.approx(100.0)
    assert b_first["result"] == "达标"
    b_sat = pick(evaluation, "village_grid", "太和村网格", "satisfaction_rate")
    assert np.isnan(b_sat["value"])
    assert b_sat["result"] == "无数据"
    a_rs1 = pick(evaluation, "village_grid", "水南村网格", "rs1")
    assert a_rs1["value"] == pytest.approx(100 * (1 - 500 / (2000 * 720)))
    a_repeat = pick(evaluation, "village_grid", "水南村网格", "repeat_complaints_per_10k")
    assert a_repeat["value"] == pytest.approx(5.0)
    supply = pick(evaluation, "supply_grid", "琴城供电网格", "on_time_rate")
    assert supply["value"] == pytest.approx(40.0)


def test_members(evaluation):
    zhang = pick(evaluation, "member", "张三", "on_time_rate")
    assert zhang["value"] == pytest.approx(50.0)
    assert zhang["group_id"] == "A"
    wang = pick(evaluation, "member", "王五", "faults")
    assert wang["value"] == 0
    assert wang["group_id"] == "B"
    # 王五 looks after B (3,000 customers) with no outage on his orders: 100 %
    assert pick(evaluation, "member", "王五", "rs1")["value"] == pytest.approx(100.0)
    assert pick(evaluation, "member", "王五", "on_time_rate")["result"] == "无数据"
    # 李四's orders are B's: one complaint in 3,000 customers
    li = pick(evaluation, "member", "李四", "complaints_per_10k")
    assert li["value"] == pytest.approx(10_000 / 3000)


def test_targets_can_be_changed():
    ev = monthly_evaluation(
        hand_orders(),
        grids=GRIDS,
        customers=customers_layer(),
        month="2026-11",
        targets={"on_time_rate": (">=", 0.4), "complaints_per_10k": ("<=", 5.0)},
    )
    assert pick(ev, "county", "南丰县供电公司", "on_time_rate")["result"] == "达标"
    # 8 complaints per 10,000 > 5
    assert pick(ev, "county", "南丰县供电公司", "complaints_per_10k")["result"] == "未达标"
    assert pick(ev, "county", "南丰县供电公司", "rs1")["result"] == "—"


def test_bad_month_and_targets():
    with pytest.raises(InputError, match=r"2026/11.*2026-11"):
        monthly_evaluation(hand_orders(), grids=GRIDS, customers=None, month="2026/11")
    with pytest.raises(InputError, match="unknown target figure 'speed'"):
        monthly_evaluation(
            hand_orders(), grids=GRIDS, customers=None, month="2026-11", targets={"speed": 1}
        )
    with pytest.raises(InputError, match="target of 'rs1'"):
        monthly_evaluation(
            hand_orders(),
            grids=GRIDS,
            customers=None,
            month="2026-11",
            targets={"rs1": ("=", 0.9)},
        )
    with pytest.raises(MissingColumnError, match="tier"):
        monthly_evaluation(
            hand_orders(), grids=GRIDS.drop(columns="tier"), customers=None, month="2026-11"
        )


def test_month_without_records_says_so():
    ev = monthly_evaluation(
        hand_orders(), grids=GRIDS, customers=customers_layer(), month="2027-03"
    )
    assert ev.orders == 0
    county = ev.tables["county"]
    assert set(county["result"]) == {"无数据"}
    text = evaluation_summary_text(ev)
    assert "2027-03 无工单记录" in text
    assert "nan" not in text.lower()


def test_without_customers_reliability_has_no_data():
    ev = monthly_evaluation(hand_orders(), grids=GRIDS, customers=None, month="2026-11")
    assert pick(ev, "county", "南丰县供电公司", "rs1")["result"] == "无数据"
    assert pick(ev, "county", "南丰县供电公司", "on_time_rate")["value"] == pytest.approx(40.0)


def test_summary_text_and_html(evaluation):
    text = evaluation_summary_text(evaluation)
    assert "2026-11 月度考核" in text
    assert "到达现场及时率: 40.0%（上月 100.0%）目标 >= 95.0%，未达标" in text
    assert "投诉一次办结率: 66.7%（上月无数据）" in text
    assert "到达现场及时率 -60.0 个百分点" in text
    assert "水南村网格 到达现场及时率 由达标变为未达标" in text
    assert "水南村网格 (A)" in text
    assert "nan" not in text.lower()
    page = evaluation_summary_html(evaluation)
    assert page.startswith("<!DOCTYPE html>")
    assert "@page{size:A4" in page
    assert "水南村网格" in page
    assert "nan" not in page.lower()


def test_xlsx(evaluation, tmp_path):
    path = write_evaluation_xlsx(evaluation, tmp_path / "月度考核_2026-11.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["县公司", "供电网格", "村级网格", "网格员"]
    sheet = book["村级网格"]
    header = [c.value for c in sheet[1]]
    assert header == [
        "层级",
        "编号",
        "名称",
        "指标",
        "单位",
        "本月",
        "上月",
        "变化",
        "目标",
        "考核结果",
        "指标代码",
    ]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None
    rows = {(r[2], r[10]): r for r in sheet.iter_rows(min_row=2, values_only=True)}
    a = rows[("水南村网格", "on_time_rate")]
    assert a[1] == "A"
    assert (a[5], a[6], a[7], a[8], a[9]) == (50, 100, -50, ">= 95", "未达标")
    b = rows[("太和村网格", "satisfaction_rate")]
    assert b[5] is None  # no callback: an empty cell, not NaN
    assert b[9] == "无数据"
    rs1 = rows[("水南村网格", "rs1")]
    assert rs1[5] == pytest.approx(100 * (1 - 500 / (2000 * 720)), abs=1e-3)
    assert not list(tmp_path.glob("*.partial"))


def make_workspace(path, *, with_orders: bool = True) -> None:
    """A real workspace GeoPackage with the grids, the customers and (or not) the orders."""
    grids = gpd.GeoDataFrame(GRIDS, geometry=[shapely.box(0, 0, 1, 1)] * len(GRIDS), crs=4326)
    customers = customers_layer()
    customers["customer_id"] = [f"c{i}" for i in range(len(customers))]
    customers = gpd.GeoDataFrame(customers, geometry=[None] * len(customers), crs=4326)
    layers = {"grids": grids, "customers": customers}
    keys = {"grids": "grid_id", "customers": "customer_id"}
    if with_orders:
        orders = hand_orders()
        layers["work_orders"] = gpd.GeoDataFrame(orders, geometry=[None] * len(orders), crs=4326)
        keys["work_orders"] = "order_id"
    GeoPackageStore.create(path, layers, author="test", reason="test", keys=keys)


def test_cli_report_month(tmp_path, capsys):
    make_workspace(tmp_path / "w.gpkg")
    out_dir = tmp_path / "out"
    argv = ["report", "month", "2026-11", "--workspace", str(tmp_path / "w.gpkg")]
    code = cli.main([*argv, "--out", str(out_dir)])
    out = capsys.readouterr().out
    assert code == 0
    assert "到达现场及时率: 40.0%（上月 100.0%）" in out
    assert "供电可靠率RS-1: 99.985%" in out
    book = openpyxl.load_workbook(out_dir / "月度考核_2026-11.xlsx")
    rows = {(r[2], r[10]): r for r in book["县公司"].iter_rows(min_row=2, values_only=True)}
    assert rows[("南丰县供电公司", "first_time_rate")][5] == pytest.approx(200 / 3, abs=1e-3)
    assert (out_dir / "月度考核_2026-11.html").is_file()


def test_cli_without_orders_says_how_to_import(tmp_path, capsys):
    make_workspace(tmp_path / "w.gpkg", with_orders=False)
    argv = ["report", "month", "2026-11", "--workspace", str(tmp_path / "w.gpkg")]
    code = cli.main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "gridgeo orders import FILE --workspace w.gpkg" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_bad_month(tmp_path, capsys):
    make_workspace(tmp_path / "w.gpkg")
    argv = ["report", "month", "11月", "--workspace", str(tmp_path / "w.gpkg")]
    code = cli.main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "2026-11" in err
    assert "Traceback" not in err


def test_no_orders_at_all():
    ev = monthly_evaluation(
        hand_orders().iloc[:0], grids=GRIDS, customers=customers_layer(), month="2026-11"
    )
    assert ev.orders == 0
    assert set(ev.tables["village_grid"]["result"]) == {"无数据"}
    assert "2026-11 无工单记录" in evaluation_summary_text(ev)


def test_member_not_on_the_roster_is_still_evaluated():
    grids = GRIDS.assign(members=["", "", "张三", "王五"])  # 李四 left the roster
    ev = monthly_evaluation(hand_orders(), grids=grids, customers=None, month="2026-11")
    li = pick(ev, "member", "李四", "faults")
    assert li["value"] == 1  # F7
    assert li["group_id"] == ""
