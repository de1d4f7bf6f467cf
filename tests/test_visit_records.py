"""Visit and callback records, callback lists and coverage, on a hand-made workspace.

Every grid here has one member, so who answers for a customer is read off the grid by hand;
expected values are worked out in the comments (China time = UTC + 8 h, no daylight
saving) or counted by brute force over the records the test makes.
"""

from __future__ import annotations

import random
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import Point, box

import gridgeo
from gridgeo.visit_records import (
    CALLBACK_QUESTIONS,
    VisitRowsError,
    callbacks_due,
    import_visits,
    planned_visit_records,
    read_visits,
    record_visit,
    visit_coverage,
    visit_history,
)

NOW = "2027-06-30 12:00"  # the present of the tests (China time)
HEADER = ["记录编号", "类型", "户号", "网格员", "走访时间", "结果", "满意度", "发现隐患", "备注"]

# customer -> (tier-3 grid, x); 张三 looks after G1 and G3, 李四 after G2
CUSTOMERS = {
    "c1": ("G1", 0.5),
    "c2": ("G1", 1.5),
    "c3": ("G2", 2.5),
    "c4": ("G2", 3.5),
    "c5": ("G3", 4.5),
    "c6": ("G3", 5.5),
}
MEMBER_OF_GRID = {"G1": "张三", "G2": "李四", "G3": "张三"}


def make_workspace(path: Path) -> gridgeo.GeoPackageStore:
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["T1", "S1", "G1", "G2", "G3"],
            "tier": [1, 2, 3, 3, 3],
            "parent_id": ["", "T1", "S1", "S1", "S1"],
            "name": ["县公司", "供电所", "甲村网格", "乙村网格", "丙村网格"],
            "members": ["", "", "张三", "李四", "张三"],
        },
        geometry=[
            box(0, 0, 6, 1),
            box(0, 0, 6, 1),
            box(0, 0, 2, 1),
            box(2, 0, 4, 1),
            box(4, 0, 6, 1),
        ],
        crs="EPSG:4326",
    )
    ids = list(CUSTOMERS)
    customers = gpd.GeoDataFrame(
        {
            "customer_id": ids,
            "name": [f"客户{i}" for i in range(1, 7)],
            "phone": [f"1380000000{i}" for i in range(1, 7)],
            "address": [f"甲村{i}号" for i in range(1, 7)],
            "town": "琴城镇",
            "village": [f"{CUSTOMERS[c][0]}村" for c in ids],
            "grid_t1": "T1",
            "grid_t2": "S1",
            "grid_t3": [CUSTOMERS[c][0] for c in ids],
        },
        geometry=[Point(CUSTOMERS[c][1], 0.5) for c in ids],
        crs="EPSG:4326",
    )
    return gridgeo.GeoPackageStore.create(
        path, {"grids": grids, "customers": customers}, author="test", reason="hand-made"
    )


@pytest.fixture
def store(tmp_path: Path) -> gridgeo.GeoPackageStore:
    return make_workspace(tmp_path / "ws.gpkg")


def write_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    text = "\n".join(",".join(r) for r in [HEADER, *rows]) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


def stored_layer(store: gridgeo.GeoPackageStore) -> gpd.GeoDataFrame:
    """The ``visits`` layer read back with pyogrio, not through gridgeo."""
    return gpd.read_file(store.path, layer="visits").set_index("visit_id")


# ------------------------------------------------------------------ import


def test_import_reads_chinese_headers_times_and_grids(store, tmp_path):
    path = write_csv(
        tmp_path / "visits.csv",
        [
            ["V1", "家访", "c1", "张三", "2027-01-06 09:30", "完成", "满意", "表箱锈蚀", ""],
            ["V2", "电话回访", "c3", "李四", "2027/1/7 14:05", "无法接通", "", "", "再打"],
        ],
        encoding="gbk",
    )
    result = import_visits(store, path, author="王管理", now=NOW)
    assert result.added == ["V1", "V2"] and result.filled == [] and not len(result.errors)
    layer = stored_layer(store)
    assert list(layer.index) == ["V1", "V2"]
    v1, v2 = layer.loc["V1"], layer.loc["V2"]
    assert (v1["kind"], v1["outcome"], v1["satisfaction"]) == ("home", "done", "satisfied")
    assert (v2["kind"], v2["outcome"], v2["satisfaction"]) == ("callback", "no_answer", "")
    # China time minus 8 hours
    assert pd.Timestamp(v1["done_at"]) == pd.Timestamp("2027-01-06 01:30", tz="UTC")
    assert pd.Timestamp(v2["done_at"]) == pd.Timestamp("2027-01-07 06:05", tz="UTC")
    assert (v1["grid_t1"], v1["grid_t2"], v1["grid_t3"]) == ("T1", "S1", "G1")
    assert v2["grid_t3"] == "G2" and v2["village"] == "G2村" and v2["notes"] == "再打"
    assert v1["hazard"] == "表箱锈蚀" and v1["recorded_by"] == "王管理"
    assert (v1.geometry.x, v1.geometry.y) == (0.5, 0.5)  # the customer's point
    versions = store.list_versions("visits")
    assert versions["author"].tolist() == ["王管理"]


def test_a_file_with_bad_rows_stores_nothing_and_names_the_rows(store, tmp_path):
    import_visits(
        store,
        write_csv(
            tmp_path / "first.csv",
            [["V0", "家访", "c1", "张三", "2027-01-02 09:00", "完成", "", "", ""]],
        ),
        author="t",
        now=NOW,
    )
    rows = [
        ["V1", "家访", "c1", "张三", "2027-01-06 09:30", "完成", "", "", ""],  # line 2: good
        ["V2", "家访", "c99", "张三", "2027-01-06 10:30", "完成", "", "", ""],  # 3: customer
        ["V3", "家访", "c2", "张三", "2027-13-45 10:30", "完成", "", "", ""],  # 4: date
        ["V4", "拜访", "c2", "张三", "2027-01-06 11:30", "完成", "", "", ""],  # 5: kind
        ["V5", "家访", "c2", "张三", "2027-01-06 11:30", "很好", "", "", ""],  # 6: outcome
        ["V6", "家访", "c2", "张三", "2027-01-06 11:30", "完成", "", "", ""],  # 7: dup of 8
        ["V6", "家访", "c2", "张三", "2027-01-06 12:30", "完成", "", "", ""],  # 8
        ["V0", "家访", "c2", "张三", "2027-01-06 12:30", "完成", "", "", ""],  # 9: stored
        ["V7", "家访", "c2", "张三", "2027-08-01 12:30", "完成", "", "", ""],  # 10: future
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    before = store.current_version("visits")
    with pytest.raises(VisitRowsError, match="nothing stored") as info:
        import_visits(store, path, author="t", now=NOW)
    errors = info.value.errors
    assert errors["file_line"].tolist() == [3, 4, 5, 6, 7, 8, 9, 10]
    fields = dict(zip(errors["file_line"], errors["field"], strict=True))
    assert fields[3].endswith("customer_id") and fields[4].endswith("done_at")
    assert fields[5].endswith("kind") and fields[6].endswith("outcome")
    assert fields[7].endswith("visit_id") and fields[9].endswith("visit_id")
    assert fields[10].endswith("done_at")
    message = str(info.value)
    assert "c99" in message and "--skip-bad-rows" in message
    assert store.current_version("visits") == before
    assert list(stored_layer(store).index) == ["V0"]

    done = import_visits(store, path, author="t", now=NOW, skip_bad_rows=True)
    assert done.added == ["V1"]
    assert sorted(stored_layer(store).index) == ["V0", "V1"]


def test_an_xlsx_with_a_title_row(store, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["南丰县供电公司 走访记录 2027年1月"])
    sheet.append(HEADER)
    sheet.append(["V9", "回访", "c5", "张三", "2027-01-08 08:00", "完成", "基本满意", "", ""])
    path = tmp_path / "visits.xlsx"
    book.save(path)
    import_visits(store, path, author="t", now=NOW)
    row = stored_layer(store).loc["V9"]
    assert (row["kind"], row["satisfaction"], row["grid_t3"]) == ("callback", "basic", "G3")


def test_a_file_without_a_required_column_is_refused(store, tmp_path):
    path = tmp_path / "no_time.csv"
    path.write_text("记录编号,类型,户号,结果\nV1,家访,c1,完成\n", encoding="utf-8")
    with pytest.raises(gridgeo.InputError, match="走访时间"):
        import_visits(store, path, author="t", now=NOW)
    assert "visits" not in store.layers()


def test_a_planned_visit_is_filled_in_by_its_record(store, tmp_path):
    plan = pd.DataFrame(
        {
            "visit_id": ["c1-20270106"],
            "customer_id": ["c1"],
            "member": ["张三"],
            "planned_on": [pd.Timestamp("2027-01-06").date()],
            "grid_id": ["G1"],
        }
    )
    planned = planned_visit_records(plan, store.read("customers"))
    assert planned[["grid_t1", "grid_t2", "grid_t3"]].values.tolist() == [["T1", "S1", "G1"]]
    assert planned.geometry.iloc[0].x == 0.5  # c1's point
    store.add_layer("visits", planned, key="visit_id", author="plan", reason="plan")
    path = write_csv(
        tmp_path / "v.csv",
        [["c1-20270106", "家访", "c1", "张三", "2027-01-06 10:00", "完成", "", "", ""]],
    )
    result = import_visits(store, path, author="t", now=NOW)
    assert result.filled == ["c1-20270106"] and result.added == []
    row = stored_layer(store).loc["c1-20270106"]
    assert row["outcome"] == "done" and row["planned_on"] == "2027-01-06"
    # recorded once, the id is taken
    with pytest.raises(VisitRowsError, match="already stored"):
        import_visits(store, path, author="t", now=NOW)
    history = visit_history(store, "c1-20270106")
    assert history["author"].tolist() == ["plan", "t"]


# ------------------------------------------------------------------ one record, work orders


def test_record_visit_raises_a_work_order_and_keeps_the_link(store):
    fields = {
        "visit_id": "V20",
        "kind": "家访",
        "customer_id": "c4",
        "member": "李四",
        "done_at": "2027-02-03 10:00",
        "outcome": "完成",
        "hazard": "进户线老化",
    }
    made = record_visit(store, fields, author="李四", raise_order="故障报修", now=NOW)
    assert made["order_id"].tolist() == ["ZFV20"]
    orders = gpd.read_file(store.path, layer="work_orders")
    assert orders["order_id"].tolist() == ["ZFV20"]
    order = orders.iloc[0]
    assert (order["kind"], order["source"], order["customer_id"]) == ("fault", "grid_member", "c4")
    assert pd.Timestamp(order["reported_at"]) == pd.Timestamp("2027-02-03 02:00", tz="UTC")
    assert stored_layer(store).loc["V20", "order_id"] == "ZFV20"

    # a bad record raises no order; a kind a visit cannot raise is refused
    with pytest.raises(VisitRowsError, match="unknown customer"):
        record_visit(
            store,
            {**fields, "visit_id": "V21", "customer_id": "c99"},
            author="李四",
            raise_order="投诉",
            now=NOW,
        )
    with pytest.raises(gridgeo.InputError, match="raise_order"):
        record_visit(
            store, {**fields, "visit_id": "V22"}, author="李四", raise_order="表扬", now=NOW
        )
    assert gpd.read_file(store.path, layer="work_orders")["order_id"].tolist() == ["ZFV20"]
    assert sorted(stored_layer(store).index) == ["V20"]
    # a follow-up order must exist
    with pytest.raises(VisitRowsError, match="no such work order"):
        record_visit(
            store, {**fields, "visit_id": "V23", "order_id": "NOPE"}, author="李四", now=NOW
        )
    record_visit(store, {**fields, "visit_id": "V24", "order_id": "ZFV20"}, author="李四", now=NOW)
    assert read_visits(store, member="李四")["visit_id"].tolist() == ["V20", "V24"]


def test_read_visits_filters(store, tmp_path):
    rows = [
        ["V1", "家访", "c1", "张三", "2027-01-06 09:30", "完成", "", "", ""],
        ["V2", "电话回访", "c3", "李四", "2027-01-31 23:59", "完成", "", "", ""],
        ["V3", "电话回访", "c5", "张三", "2027-02-01 00:00", "完成", "", "", ""],
    ]
    import_visits(store, write_csv(tmp_path / "v.csv", rows), author="t", now=NOW)
    assert read_visits(store, grid="G3")["visit_id"].tolist() == ["V3"]
    assert read_visits(store, grid="S1")["visit_id"].tolist() == ["V1", "V2", "V3"]
    assert read_visits(store, kind="回访")["visit_id"].tolist() == ["V2", "V3"]
    # January in China time: the end is exclusive
    jan = read_visits(store, start="2027-01-01", end="2027-02-01")
    assert jan["visit_id"].tolist() == ["V1", "V2"]
    with pytest.raises(gridgeo.InputError, match="`kind`"):
        read_visits(store, kind="拜访")
    with pytest.raises(gridgeo.InputError, match="`start`"):
        read_visits(store, start="yesterday-ish")


# ------------------------------------------------------------------ coverage


def _random_records(seed: int) -> list[list[str]]:
    rnd = random.Random(seed)
    rows = []
    for i in range(120):
        cid = rnd.choice(list(CUSTOMERS))
        kind = rnd.choice(["家访", "电话回访"])
        outcome = rnd.choice(["完成", "完成", "不在家", "无法接通"])
        day = pd.Timestamp("2026-12-20") + pd.Timedelta(minutes=rnd.randrange(0, 190 * 24 * 60))
        member = MEMBER_OF_GRID[CUSTOMERS[cid][0]]
        rows.append(
            [f"R{i:03d}", kind, cid, member, day.strftime("%Y-%m-%d %H:%M"), outcome, "", "", ""]
        )
    return rows


@pytest.mark.parametrize(
    ("seed", "quarter", "as_of"),
    [(1, 1, "2027-06-30 12:00"), (2, 2, "2027-06-30 12:00"), (3, 2, "2027-05-10 08:00")],
)
def test_coverage_against_a_brute_force_count(store, tmp_path, seed, quarter, as_of):
    rows = _random_records(seed)
    import_visits(store, write_csv(tmp_path / "r.csv", rows), author="t", now=NOW)
    cov = visit_coverage(store, 2027, quarter, as_of=as_of)

    # brute force, record by record, in China time as written in the file
    at = min(pd.Timestamp(as_of), pd.Timestamp(f"2027-{3 * quarter + 1:02d}-01"))
    q_start = pd.Timestamp(f"2027-{3 * quarter - 2:02d}-01")
    quarter_over = pd.Timestamp(f"2027-{3 * quarter + 1:02d}-01") <= pd.Timestamp(as_of)
    expect = {}
    for cid, (grid, _) in CUSTOMERS.items():
        mine = [r for r in rows if r[2] == cid and r[5] == "完成"]
        homes = [pd.Timestamp(r[4]) for r in mine if r[1] == "家访"]
        calls = [pd.Timestamp(r[4]) for r in mine if r[1] == "电话回访"]
        in_year = [t for t in homes if pd.Timestamp("2027-01-01") <= t < at]
        called = any(q_start <= t < at for t in calls)
        first_half_over = pd.Timestamp("2027-07-01") <= at
        missing = first_half_over and not any(
            pd.Timestamp("2027-01-01") <= t < pd.Timestamp("2027-07-01") for t in homes
        )
        expect[cid] = (grid, len(in_year) >= 2, called, missing, quarter_over and not called)
    by_grid = cov.by_grid.set_index("grid_id")
    assert sorted(by_grid.index) == ["G1", "G2", "G3"]
    for grid in ("G1", "G2", "G3"):
        mine = [e for e in expect.values() if e[0] == grid]
        assert by_grid.loc[grid, "customers"] == 2
        assert by_grid.loc[grid, "two_visits"] == sum(e[1] for e in mine)
        assert by_grid.loc[grid, "called"] == sum(e[2] for e in mine)
        assert by_grid.loc[grid, "two_visits_share"] == pytest.approx(sum(e[1] for e in mine) / 2)
        assert by_grid.loc[grid, "overdue_visits"] == sum(e[3] for e in mine)
        assert by_grid.loc[grid, "overdue_callbacks"] == sum(e[4] for e in mine)
    by_member = cov.by_member.set_index("member")
    zhang = [e for e in expect.values() if e[0] in ("G1", "G3")]
    assert by_member.loc["张三", "customers"] == 4
    assert by_member.loc["张三", "grid_ids"] == ["G1", "G3"]
    assert by_member.loc["张三", "called"] == sum(e[2] for e in zhang)
    assert by_member.loc["张三", "called_share"] == pytest.approx(sum(e[2] for e in zhang) / 4)
    behind = sorted(c for c, e in expect.items() if e[3] or e[4])
    assert sorted(cov.overdue["customer_id"]) == behind


def test_coverage_by_hand_and_overdue_rounds(store, tmp_path):
    rows = [
        # c1: two done home visits in the first half, one callback done in Q2
        ["A1", "家访", "c1", "张三", "2027-01-06 09:00", "完成", "", "", ""],
        ["A2", "家访", "c1", "张三", "2027-03-06 09:00", "完成", "", "", ""],
        ["A3", "回访", "c1", "张三", "2027-04-02 09:00", "完成", "", "", ""],
        # c3: one home visit nobody answered, a callback nobody answered
        ["A4", "家访", "c3", "李四", "2027-02-06 09:00", "不在家", "", "", ""],
        ["A5", "回访", "c3", "李四", "2027-04-03 09:00", "无法接通", "", "", ""],
        # c5: a done visit late on 2026-12-31 (last year) and one done in June
        ["A6", "家访", "c5", "张三", "2026-12-31 23:30", "完成", "", "", ""],
        ["A7", "家访", "c5", "张三", "2027-06-06 09:00", "完成", "", "", ""],
    ]
    import_visits(store, write_csv(tmp_path / "h.csv", rows), author="t", now=NOW)
    cov = visit_coverage(store, 2027, "2027-Q2", as_of="2027-07-02 00:00")
    g = cov.by_grid.set_index("grid_id")
    # G1: c1 two visits, called; c2 nothing -> 1/2 and 1/2
    assert (g.loc["G1", "two_visits"], g.loc["G1", "called"]) == (1, 1)
    # G2 nobody done; G3: c5 has one visit in 2027 only
    assert (g.loc["G2", "two_visits"], g.loc["G2", "called"]) == (0, 0)
    assert g.loc["G3", "two_visits"] == 0
    # the first round (Jan-Jun) has ended: c2, c3, c4, c6 have no done visit in it
    overdue = cov.overdue.set_index("customer_id")
    assert sorted(overdue.index) == ["c2", "c3", "c4", "c5", "c6"]  # c5: no Q2 callback
    assert overdue.loc["c5", "missing_rounds"] == "" and overdue.loc["c5", "callback_overdue"]
    assert overdue.loc["c3", "missing_rounds"] == "1"
    assert overdue.loc["c5", "last_visit_at"] == "2027-06-06 09:00"
    assert "c1" not in overdue.index
    assert any("两次家访" in line for line in cov.lines())

    with pytest.raises(gridgeo.InputError, match="`quarter`"):
        visit_coverage(store, 2027, "2026-Q4")
    with pytest.raises(gridgeo.InputError, match="`quarter`"):
        visit_coverage(store, 2027, 5)


# ------------------------------------------------------------------ callback lists


def test_callbacks_due_puts_open_and_recent_orders_first(store, tmp_path):
    for fields in (
        # c2: an open fault order; c4: a closed one reported 10 days before; c6: 40 days before
        {
            "order_id": "O1",
            "kind": "故障报修",
            "customer_id": "c2",
            "reported_at": "2027-05-01 08:00",
        },
        {
            "order_id": "O2",
            "kind": "咨询",
            "customer_id": "c4",
            "reported_at": "2027-05-31 08:00",
            "closed_at": "2027-05-31 09:00",
        },
        {
            "order_id": "O3",
            "kind": "咨询",
            "customer_id": "c6",
            "reported_at": "2027-04-30 08:00",
            "closed_at": "2027-04-30 09:00",
        },
    ):
        gridgeo.create_order(store, fields, author="t")
    rows = [
        ["B1", "电话回访", "c1", "张三", "2027-04-02 09:00", "完成", "满意", "", ""],  # called
        ["B2", "电话回访", "c5", "张三", "2027-04-03 09:00", "无法接通", "", "", ""],  # attempt
        ["B3", "电话回访", "c3", "李四", "2027-03-30 09:00", "完成", "", "", ""],  # last quarter
    ]
    import_visits(store, write_csv(tmp_path / "b.csv", rows), author="t", now=NOW)
    due = callbacks_due(store, "2027-Q2", as_of="2027-06-10 08:00")
    # 张三 (G1, G3): c2 (open order), then c5, c6 (40 days: not recent); c1 was called
    # 李四 (G2): c4 (order 10 days before), then c3 (called last quarter only)
    assert due[["member", "customer_id"]].values.tolist() == [
        ["张三", "c2"],
        ["张三", "c5"],
        ["张三", "c6"],
        ["李四", "c4"],
        ["李四", "c3"],
    ]
    rows_by = due.set_index("customer_id")
    assert rows_by.loc["c2", "open_orders"] == "O1" and rows_by.loc["c2", "urgent"]
    assert rows_by.loc["c4", "recent_orders"] == "O2" and rows_by.loc["c4", "open_orders"] == ""
    assert not rows_by.loc["c6", "urgent"]
    assert rows_by.loc["c5", "attempts"] == 1
    assert rows_by.loc["c5", "last_attempt_at"] == "2027-04-03 09:00"
    assert rows_by.loc["c2", "phone"] == "13800000002"
    assert all(q in rows_by.loc["c3", "questions"] for q in CALLBACK_QUESTIONS)
    assert "供电质量是否满意" in CALLBACK_QUESTIONS

    one = callbacks_due(store, "2027-Q2", member="李四", as_of="2027-06-10 08:00")
    assert one["customer_id"].tolist() == ["c4", "c3"]
    with pytest.raises(gridgeo.InputError, match="no grid member"):
        callbacks_due(store, "2027-Q2", member="赵六")
    with pytest.raises(gridgeo.InputError, match="2027-Q1"):
        callbacks_due(store, "2027-13")


def test_record_visit_reads_naive_datetimes_as_china_time(store):
    import datetime as dt

    base = {"kind": "回访", "customer_id": "c2", "member": "张三", "outcome": "完成"}
    record_visit(
        store,
        {**base, "visit_id": "N1", "done_at": dt.datetime(2027, 3, 1, 8, 0)},
        author="t",
        now=NOW,
    )
    aware = pd.Timestamp("2027-03-01 08:00", tz="Asia/Shanghai")
    record_visit(store, {**base, "visit_id": "N2", "done_at": aware}, author="t", now=NOW)
    layer = stored_layer(store)
    expected = pd.Timestamp("2027-03-01 00:00", tz="UTC")  # 08:00 China time
    assert pd.Timestamp(layer.loc["N1", "done_at"]) == expected
    assert pd.Timestamp(layer.loc["N2", "done_at"]) == expected
    with pytest.raises(gridgeo.InputError, match="unknown visit field"):
        record_visit(store, {**base, "visit_id": "N3", "when": "x"}, author="t", now=NOW)
    # a time pandas cannot hold is a row error, not a crash
    with pytest.raises(VisitRowsError, match="not a time"):
        record_visit(store, {**base, "visit_id": "N4", "done_at": "2262-05-01"}, author="t")


def test_the_plan_csv_filled_in_imports_back(store, tmp_path):
    # the columns of VisitPlan.visit_rows() as the plan's CSV has them, done_at/outcome filled
    path = tmp_path / "visit_plan.csv"
    path.write_text(
        "visit_id,customer_id,member,planned_on,done_at,kind,outcome,grid_id,round,seq,eta\n"
        "c3-20270106,c3,李四,2027-01-06,2027-01-06 10:20,home,不在家,G2,1,1,08:50\n",
        encoding="utf-8-sig",
    )
    import_visits(store, path, author="李四", now=NOW)
    row = stored_layer(store).loc["c3-20270106"]
    assert (row["kind"], row["outcome"], row["planned_on"]) == ("home", "not_home", "2027-01-06")
    assert pd.Timestamp(row["done_at"]) == pd.Timestamp("2027-01-06 02:20", tz="UTC")
