"""The visit plan as its users get it (gridgeo.visit_sheets), the visit settings in user units
(gridgeo.settings.visit_settings) and the roster's member bases (gridgeo.roster).

The day sheets are read back with openpyxl and html.parser; their order, arrival times and
totals are recomputed by hand from NetworkX travel times on a small hand-made road line.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import replace
from html.parser import HTMLParser

import geopandas as gpd
import networkx as nx
import openpyxl
import pandas as pd
import pytest
from handgraphs import hand_graph, pts
from shapely.geometry import box

from gridgeo import settings
from gridgeo.errors import InputError, NotFoundError
from gridgeo.roster import apply_roster, validate_roster
from gridgeo.routing import ReachEngine
from gridgeo.settings import visit_settings
from gridgeo.visit_sheets import (
    CHECKLIST,
    SHEET_COLUMNS,
    UNPLANNED_CSV,
    VISIT_PLAN_CSV,
    day_sheet,
    member_plan,
    sheet_html,
    visit_period,
    write_visit_plan,
)
from gridgeo.visits import VisitSettings, member_bases, plan_visits

# A straight road W(-1100) - A(0) - B(1000) - C(3500) (metres along x), two-way at 10 m/s.
NODES = {"W": (-1100.0, 0.0), "A": (0.0, 0.0), "B": (1000.0, 0.0), "C": (3500.0, 0.0)}
EDGES = [("W", "A", 110.0, True), ("A", "B", 100.0, True), ("B", "C", 250.0, True)]
DAY_START_S = 8 * 3600 + 30 * 60  # 08:30, the default
# customer -> (node, category, name); 甲 visits c1..c4 from base A, 乙 visits c5 from A
CUSTOMERS = {
    "c1": ("B", "residential", "王一"),
    "c2": ("C", "commercial", "李二商店"),
    "c3": ("W", "residential", "张三"),
    "c4": ("B", "residential", "赵四"),
}
VISIT_S = {"residential": 600.0, "commercial": 900.0}  # the defaults: 10 and 15 minutes


@pytest.fixture(scope="module")
def line() -> tuple[nx.MultiDiGraph, ReachEngine]:
    G = hand_graph(NODES, EDGES)
    return G, ReachEngine(G)


def _members() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"member": ["甲"], "grid_ids": [["G1"]], "base_id": ["RS1"], "base_name": ["城关站"]},
        geometry=pts(NODES["A"]).to_numpy(),
        crs="EPSG:4326",
    )


def _customers() -> gpd.GeoDataFrame:
    ids = list(CUSTOMERS)
    return gpd.GeoDataFrame(
        {
            "customer_id": ids,
            "grid_t3": "G1",
            "village_code": "V1",
            "village": "加津村",
            "address": [f'=HYPERLINK("x") {c}' if c == "c3" else f"加津村{c}号" for c in ids],
            "phone": ["13800000001", "", "079412345678", ""],
            "category": [CUSTOMERS[c][1] for c in ids],
            "vulnerable": [c == "c3" for c in ids],
        },
        geometry=pts(*(NODES[CUSTOMERS[c][0]] for c in ids)).to_numpy(),
        crs="EPSG:4326",
    )


NAMES = pd.Series({c: v[2] for c, v in CUSTOMERS.items()})


@pytest.fixture(scope="module")
def plan(line):
    _, engine = line
    settings = VisitSettings(mode="drive")
    return plan_visits(
        _customers(), _members(), engine, start="2027-01-01", end="2027-01-31", settings=settings
    )


def _hhmm(seconds: float) -> str:
    minutes = math.floor(seconds / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _hand_times(G: nx.MultiDiGraph, order: list[str]) -> tuple[list[float], list[float], float]:
    """Arrival and leaving times (s after leaving A) of the customers in ``order`` and the
    round trip's travel time, from NetworkX times between the nodes they sit on."""
    T = {u: nx.single_source_dijkstra_path_length(G, u, weight="travel_time") for u in NODES}
    here, now, travel = "A", 0.0, 0.0
    arrive, leave = [], []
    for c in order:
        node, category, _ = CUSTOMERS[c]
        travel += T[here][node]
        now += T[here][node]
        arrive.append(now)
        now += VISIT_S[category]
        leave.append(now)
        here = node
    return arrive, leave, travel + T[here]["A"]


# ------------------------------------------------------------------ periods


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2027", "2027-01-01", "2027-12-31"),
        ("2027-Q1", "2027-01-01", "2027-03-31"),
        ("2027-q4", "2027-10-01", "2027-12-31"),
        ("2028-02", "2028-02-01", "2028-02-29"),  # a leap year
        # 1 Jan 2027 is a Friday, so ISO week 1 starts on Monday 4 January
        ("2027-W01", "2027-01-04", "2027-01-10"),
        ("2027-W02", "2027-01-11", "2027-01-17"),
        ("2026-W53", "2026-12-28", "2027-01-03"),  # 2026 has 53 ISO weeks (starts Thursday)
    ],
)
def test_visit_period(text, first, last):
    assert visit_period(text) == (dt.date.fromisoformat(first), dt.date.fromisoformat(last))


def test_no_period_is_next_week():
    # 6 Dec 2026 is a Sunday, 2 Dec a Wednesday: next week is 7-13 December for both
    week = (dt.date(2026, 12, 7), dt.date(2026, 12, 13))
    assert visit_period(None, today=dt.date(2026, 12, 6)) == week
    assert visit_period(None, today=dt.date(2026, 12, 2)) == week


@pytest.mark.parametrize(
    "text", ["2027-Q5", "2027-W54", "2027-W53", "2027-13", "27-01", "Q1", "2027-01-06"]
)
def test_bad_period_lists_the_forms(text):
    with pytest.raises(InputError, match=r"not understood: write it like 2026-W48 or 2026-11"):
        visit_period(text)


# ------------------------------------------------------------------ the day sheet


def test_day_sheet_follows_the_route_with_hand_computed_etas(line, plan):
    G, _ = line
    day = dt.date(2027, 1, 6)  # the first Wednesday of 2027
    sheet = day_sheet(plan, "甲", day, names=NAMES)
    order = sheet.stops["户号 customer"].tolist()
    assert sorted(order) == ["c1", "c2", "c3", "c4"]  # 50 min of visits fit an 8-hour day
    # the order is the plan's, seq 1..4
    mine = plan.stops[plan.stops["member"] == "甲"].sort_values("seq")
    assert order == mine["customer_id"].tolist()
    assert sheet.stops["序号 No."].tolist() == [1, 2, 3, 4]
    # the quickest round trip from A over W, B and C: 2 x (1,100 + 3,500) m at 10 m/s = 920 s
    best = min(_hand_times(G, list(p))[2] for p in itertools.permutations(["c1", "c2", "c3", "c4"]))
    assert best == pytest.approx(920.0)
    arrive, leave, travel = _hand_times(G, order)
    assert travel == pytest.approx(best, abs=1e-6)
    assert sheet.stops["预计到达 ETA"].tolist() == [_hhmm(DAY_START_S + t) for t in arrive]
    assert sheet.stops["预计离开 leave"].tolist() == [_hhmm(DAY_START_S + t) for t in leave]
    # totals: 920 s travel, 3 x 600 + 900 s of visits, 3,620 s; back at 08:30 + 60 min 20 s
    assert sheet.travel_s == pytest.approx(920.0, abs=1e-6)
    assert sheet.visit_s == pytest.approx(2700.0)
    assert sheet.total_s == pytest.approx(3620.0, abs=1e-6)
    assert sheet.day_length_s == 8 * 3600
    assert sheet.back_at == "09:30"
    # what the member needs at each door
    by_id = sheet.stops.set_index("户号 customer")
    assert by_id.loc["c2", "户名 name"] == "李二商店"
    assert by_id.loc["c1", "电话 phone"] == "13800000001"
    assert by_id.loc["c2", "走访分钟 visit min"] == 15.0
    assert by_id.loc["c3", "优先原因 priority"] == "重点关怀"
    boxes = "□表计 □进户线 □漏电保护器 □用电安全隐患 □服务诉求"
    assert (sheet.stops["检查项 to check"] == boxes).all()
    lines = sheet.lines()
    assert lines[0].startswith("走访路线 / visit route: 甲, 2027-01-06 周三 Wednesday")
    assert "合计 / total: 1 h 00 min of the day's 8 h 00 min (余 / spare 7 h 00 min)" in "\n".join(
        lines
    )


def test_day_sheet_names_come_from_the_stops_or_are_left_empty(plan):
    sheet = day_sheet(plan, "甲", "2027-01-06")
    assert sheet.stops["户名 name"].eq("").all()
    with_names = plan.stops.assign(name=plan.stops["customer_id"].map(NAMES) + "(档案)")
    named = day_sheet(replace(plan, stops=with_names), "甲", "2027-01-06", names=NAMES)
    assert set(named.stops["户名 name"]) == {f"{v[2]}(档案)" for v in CUSTOMERS.values()}


def test_day_sheet_errors_name_the_member_and_the_days(plan):
    with pytest.raises(NotFoundError, match=r"no grid member '丙' in the plan: use one of"):
        day_sheet(plan, "丙", "2027-01-06")
    with pytest.raises(NotFoundError, match=r"甲 has no visits on 2027-01-13.*\['2027-01-06'\]"):
        day_sheet(plan, "甲", "2027-01-13")


class _Table(HTMLParser):
    """The cells of an HTML page's table rows, and every attribute value seen."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.attrs: list[str] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [v or "" for _, v in attrs]
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_written_sheets_read_back(tmp_path, line, plan):
    G, _ = line
    written = write_visit_plan(plan, tmp_path, names=NAMES)
    folder = tmp_path / "甲"
    book_path = folder / "走访单_甲_2027-01-06.xlsx"
    page_path = folder / "走访单_甲_2027-01-06.html"
    assert written == [book_path, page_path, tmp_path / VISIT_PLAN_CSV, tmp_path / UNPLANNED_CSV]
    assert not list(tmp_path.rglob("*.partial"))
    expected = day_sheet(plan, "甲", "2027-01-06", names=NAMES)
    order = expected.stops["户号 customer"].tolist()
    arrive, _, _ = _hand_times(G, order)

    # XLSX: the stops in order, text cells (a formula-looking address stays text)
    book = openpyxl.load_workbook(book_path)
    assert book.sheetnames == ["走访路线", "当日合计"]
    rows = list(book["走访路线"].iter_rows(values_only=True))
    assert list(rows[0]) == list(SHEET_COLUMNS)
    assert [r[0] for r in rows[1:]] == [1, 2, 3, 4]
    assert [r[3] for r in rows[1:]] == order
    assert [r[1] for r in rows[1:]] == [_hhmm(DAY_START_S + t) for t in arrive]
    assert {r[3]: r[4] for r in rows[1:]} == {c: v[2] for c, v in CUSTOMERS.items()}
    address = next(cell for cell in book["走访路线"]["F"] if str(cell.value).startswith("="))
    assert address.data_type == "s" and address.value == '=HYPERLINK("x") c3'
    summary = {r[0]: r[1] for r in book["当日合计"].iter_rows(min_row=2, values_only=True)}
    assert summary["路途分钟 / travel min"] == pytest.approx(920 / 60, abs=0.05)
    assert summary["走访分钟 / visit min"] == 45.0
    assert summary["合计分钟 / total min"] == pytest.approx(3620 / 60, abs=0.05)
    assert summary["工作日长分钟 / day length min"] == 480.0
    assert summary["返回 / back at base"] == "09:30"
    assert [summary[f"检查 / check {k}"].split()[0] for k in range(1, 6)] == [
        "表计", "进户线", "漏电保护器", "用电安全隐患", "服务诉求",
    ]  # fmt: skip

    # HTML: the same stops and times, for A4, nothing fetched from anywhere
    text = page_path.read_text(encoding="utf-8")
    page = _Table()
    page.feed(text)
    body = [r for r in page.rows[1:] if r]
    assert [r[2] for r in body] == order
    assert [r[1] for r in body] == [_hhmm(DAY_START_S + t) for t in arrive]
    assert "@page{size:A4" in text
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    for needle in ("http:", "https:", "//", "url("):
        assert needle not in text.replace("<!DOCTYPE html>", ""), needle
    assert all("http" not in a for a in page.attrs)
    for zh, _ in CHECKLIST:
        assert zh in text
    # HTML is escaped
    assert "=HYPERLINK(&quot;x&quot;) c3" in text

    # the plan's rows for the visits layer, read back independently
    rows = pd.read_csv(tmp_path / VISIT_PLAN_CSV, dtype=str, encoding="utf-8-sig")
    assert rows["visit_id"].tolist() == [f"{c}-20270106" for c in order]
    assert set(rows["planned_on"]) == {"2027-01-06"} and set(rows["kind"]) == {"home"}
    assert pd.read_csv(tmp_path / UNPLANNED_CSV).empty


def test_sheet_html_of_a_long_day_has_every_stop(plan):
    sheet = day_sheet(plan, "甲", "2027-01-06")
    many = sheet.stops.loc[sheet.stops.index.repeat(12)].reset_index(drop=True)
    page = _Table()
    page.feed(sheet_html(replace(sheet, stops=many)))
    assert len([r for r in page.rows[1:] if r]) == 48


def test_member_plan_keeps_one_member(line):
    _, engine = line
    members = pd.concat([_members(), _members().assign(member="乙", grid_ids=[["G2"]])])
    customers = _customers()
    customers.loc[3, "grid_t3"] = "G2"  # c4 is 乙's
    full = plan_visits(
        customers,
        gpd.GeoDataFrame(members, crs="EPSG:4326").reset_index(drop=True),
        engine,
        start="2027-01-01",
        end="2027-01-31",
        settings=VisitSettings(mode="drive"),
    )
    mine = member_plan(full, "乙")
    assert mine.stops["customer_id"].tolist() == ["c4"]
    assert mine.days["member"].tolist() == ["乙"] and mine.members["member"].tolist() == ["乙"]
    assert len(member_plan(full, "甲").stops) == 3


# ------------------------------------------------------------------ visit settings


def test_visit_settings_in_user_units():
    # one source: the settings module's visit defaults are VisitSettings' defaults
    assert visit_settings() == VisitSettings()
    d = VisitSettings()
    assert (
        (d.day_length_s, d.visit_s, d.hv_visit_s, d.weekday, d.day_start, d.mode)
        == (
            settings.DEFAULT_VISIT_DAY_LENGTH_S,
            settings.DEFAULT_VISIT_S,
            settings.DEFAULT_HV_VISIT_S,
            settings.DEFAULT_VISIT_WEEKDAY,
            settings.DEFAULT_VISIT_DAY_START,
            settings.DEFAULT_VISIT_MODE,
        )
        == (8 * 3600.0, 600.0, 900.0, 2, "08:30", "two_wheeler")
    )
    assert dict(d.visit_s_by_category) == dict(settings.DEFAULT_VISIT_S_BY_CATEGORY)
    s = visit_settings(
        day_hours=7.5,
        visit_min=12,
        visit_min_by_category={"industrial": 30},
        weekday="周四",
        day_start="09:00",
        mode="drive",
    )
    assert s.day_length_s == 27000.0 and s.visit_s == 720.0
    assert s.visit_s_by_category == {"commercial": 900.0, "industrial": 1800.0}
    assert (s.weekday, s.day_start, s.mode, s.day_start_s) == (3, "09:00", "drive", 32400.0)
    assert visit_settings(weekday="fri").weekday == 4
    assert visit_settings(weekday="6").weekday == 6
    assert visit_settings(base=s, visit_min=5).day_length_s == 27000.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"day_hours": 0}, r"`day_hours` must be a positive number"),
        ({"visit_min": -1}, r"`visit_min` must be a number >= 0"),
        ({"visit_min_by_category": {"commercial": -5}}, r"visit_min_by_category\['commercial'\]"),
        ({"weekday": "someday"}, r"`weekday` must be 0 \(Monday\) to 6 \(Sunday\)"),
        ({"weekday": 7}, r"`weekday` must be 0"),
        ({"day_start": "8h"}, r"`day_start` must be 'HH:MM'"),
        ({"mode": "walk"}, r"`mode` must be one of \('drive', 'two_wheeler'\)"),
    ],
)
def test_visit_settings_refuse_bad_values(kwargs, match):
    with pytest.raises(InputError, match=match):
        visit_settings(**kwargs)


# ------------------------------------------------------------------ member bases in the roster

ROSTER = pd.DataFrame(
    {
        "grid_id": ["G1", "G2"],
        "manager": ["王建国", "刘秀英"],
        "manager_phone": ["13800001234", "13800001235"],
        "members": ["甲、乙", "丙"],
        "liaison": ["", ""],
        "liaison_phone": ["", ""],
        "member_bases": ["RS2, RS1", "RS2"],
    }
)
STATIONS = gpd.GeoDataFrame(
    {"station_id": ["RS1", "RS2"], "name": ["近站", "远站"]},
    geometry=pts((100.0, 100.0), (30000.0, 0.0)).to_numpy(),
    crs="EPSG:4326",
)
GRIDS = gpd.GeoDataFrame(
    {"grid_id": ["G1", "G2"], "tier": [3, 3]},
    geometry=[box(*pts((0.0, 0.0)).total_bounds).buffer(0.01)] * 2,
    crs="EPSG:4326",
)


def test_roster_member_bases_reach_the_visit_plan():
    roster = validate_roster(ROSTER, ["G1", "G2"], station_ids=STATIONS["station_id"])
    assert roster["member_bases"].tolist() == ["RS2、RS1", "RS2"]
    grids = apply_roster(GRIDS, roster)
    assert grids["member_bases"].tolist() == ["RS2、RS1", "RS2"]
    bases = member_bases(grids, STATIONS).set_index("member")["base_id"]
    # as the roster says, though RS1 is the nearer station to every grid
    assert bases.to_dict() == {"丙": "RS2", "乙": "RS1", "甲": "RS2"}
    # a roster without bases clears them: back to the nearest station
    cleared = apply_roster(grids, roster.drop(columns="member_bases"))
    assert cleared["member_bases"].tolist() == ["", ""]
    assert set(member_bases(cleared, STATIONS)["base_id"]) == {"RS1"}


@pytest.mark.parametrize(
    ("bases", "stations", "match"),
    [
        (
            ["RS1、RS2、RS1", ""],
            None,
            r"`member_bases` of grid\(s\) \['G1'\] in file line\(s\) \[2\]",
        ),
        (["RS1", "RS9"], ["RS1", "RS2"], r"station\(s\) \['RS9'\] in file line\(s\) \[3\]"),
    ],
)
def test_roster_member_bases_are_checked(bases, stations, match):
    with pytest.raises(InputError, match=match):
        validate_roster(ROSTER.assign(member_bases=bases), ["G1", "G2"], station_ids=stations)


def test_roster_without_member_bases_is_as_before():
    roster = validate_roster(ROSTER.drop(columns="member_bases"), ["G1", "G2"])
    assert "member_bases" not in roster
    assert "member_bases" not in apply_roster(GRIDS, roster)


def test_workspace_grids_carry_member_bases():
    from gridgeo.workspace import ROSTER_COLUMNS_IN_GRIDS

    assert "member_bases" in ROSTER_COLUMNS_IN_GRIDS
