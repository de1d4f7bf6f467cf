"""服务之星: a hand-made week of orders whose ranking, score lines and tie-breaks are
worked out by hand in the comments (points: on time +2, first time +2, satisfied +1,
dissatisfied -2, praise +3, complaint -3, visit +1)."""

from __future__ import annotations

import pandas as pd
import pytest

from gridgeo.errors import InputError, MissingColumnError
from gridgeo.orders import ORDER_COLUMNS
from gridgeo.performance import period_bounds
from gridgeo.stars import STAR_WEIGHTS, last_full_week, service_stars

WEEK = "2026-W48"  # Monday 2026-11-23 00:00 to Monday 2026-11-30 00:00, Beijing time


def _grids() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "grid_id": ["T1", "S1", "G1", "G2"],
            "tier": [1, 2, 3, 3],
            "parent_id": ["", "T1", "S1", "S1"],
            "name": ["县公司", "供电所", "甲村网格", "乙村网格"],
            "manager": ["", "", "赵经理", "钱经理"],
            # 张三 is a member of two grids: his orders are told apart by their grid ids
            "members": ["", "", "张三、李四、孙八", "王五、张三、钱七"],
        }
    )


def _order(order_id: str, kind: str, member: str, grid: str, reported: str, **extra: object):
    row: dict[str, object] = dict.fromkeys(ORDER_COLUMNS, "")
    row.update(
        order_id=order_id,
        kind=kind,
        member=member,
        grid_t1="T1",
        grid_t2="S1",
        grid_t3=grid,
        reported_at=pd.Timestamp(reported, tz="Asia/Shanghai").tz_convert("UTC"),
        arrived_at=pd.NaT,
        first_time=False,
        satisfaction="",
    )
    for key, value in extra.items():
        row[key] = (
            pd.Timestamp(value, tz="Asia/Shanghai").tz_convert("UTC")
            if key == "arrived_at"
            else value
        )
    return row


def _orders() -> pd.DataFrame:
    rows = [
        # 李四@G1: on time at exactly 30 min (1,800 s), first time, satisfied
        _order(
            "o1",
            "fault",
            "李四",
            "G1",
            "2026-11-23 10:00",
            arrived_at="2026-11-23 10:30",
            first_time=True,
            satisfaction="satisfied",
        ),
        # 李四@G1: 31 min, late; dissatisfied
        _order(
            "o2",
            "fault",
            "李四",
            "G1",
            "2026-11-24 09:00",
            arrived_at="2026-11-24 09:31",
            satisfaction="dissatisfied",
        ),
        # 张三 in G1's order -> 张三@G1: on time, first time, satisfied
        _order(
            "o3",
            "fault",
            "张三",
            "G1",
            "2026-11-25 08:00",
            arrived_at="2026-11-25 08:20",
            first_time=True,
            satisfaction="satisfied",
        ),
        # 张三 in G2's order -> 张三@G2: a consultation settled first time, satisfied
        _order(
            "o4",
            "consultation",
            "张三",
            "G2",
            "2026-11-26 11:00",
            first_time=True,
            satisfaction="satisfied",
        ),
        # praise for 王五@G2
        _order("o5", "praise", "王五", "G2", "2026-11-27 15:00"),
        # a complaint against 李四: -3; its first time and satisfaction count for nothing
        _order(
            "o6",
            "complaint",
            "李四",
            "G1",
            "2026-11-28 16:00",
            first_time=True,
            satisfaction="satisfied",
        ),
        # Sunday 23:30 Beijing: in the week; arrival after midnight (40 min) -> late
        _order("o7", "fault", "王五", "G2", "2026-11-29 23:30", arrived_at="2026-11-30 00:10"),
        # a member not in the roster: counts for nobody, reported in the notes
        _order("o8", "fault", "赵六", "G1", "2026-11-24 12:00", arrived_at="2026-11-24 12:05"),
        # 张三 with a grid of neither of his grids: undecidable, counts for nobody
        _order(
            "o9",
            "fault",
            "张三",
            "G3",
            "2026-11-24 13:00",
            arrived_at="2026-11-24 13:05",
        ),
        # no arrival: not on time
        _order("o10", "fault", "王五", "G2", "2026-11-24 14:00"),
        # 孙八@G1: on time (25 min), satisfied, not first time: 2 + 1 = 3
        _order(
            "o11",
            "fault",
            "孙八",
            "G1",
            "2026-11-26 14:00",
            arrived_at="2026-11-26 14:25",
            satisfaction="satisfied",
        ),
        # 钱七@G2: two praises and one complaint: 3 + 3 - 3 = 3
        _order("o12", "praise", "钱七", "G2", "2026-11-23 09:00"),
        _order("o13", "praise", "钱七", "G2", "2026-11-25 09:00"),
        _order("o14", "complaint", "钱七", "G2", "2026-11-26 09:00"),
        # Monday 00:30 Beijing of the next week (Sunday 16:30 UTC): not in the week
        _order(
            "o15",
            "fault",
            "王五",
            "G2",
            "2026-11-30 00:30",
            arrived_at="2026-11-30 00:40",
            first_time=True,
        ),
        # Sunday 23:59 of the week before: not in the week
        _order("o16", "praise", "李四", "G1", "2026-11-22 23:59"),
    ]
    return pd.DataFrame(rows)


# by hand:
#   张三@G1  on_time 1, first 1, satisfied 1           = 2 + 2 + 1         = 5
#   孙八@G1  on_time 1, satisfied 1                     = 2 + 1             = 3
#   张三@G2  first 1, satisfied 1                       = 2 + 1             = 3
#   王五@G2  praise 1                                   = 3                 = 3
#   钱七@G2  praise 2, complaint 1                      = 6 - 3             = 3
#   李四@G1  on_time 1, first 1, sat 1, dissat 1, compl 1 = 2 + 2 + 1 - 2 - 3 = 0
# ties at 3: 钱七 has a complaint (last of the four); 孙八 has one on-time arrival (first);
# 张三 before 王五 by code point (U+5F20 < U+738B)
EXPECTED = [
    ("张三", "G1", 5),
    ("孙八", "G1", 3),
    ("张三", "G2", 3),
    ("王五", "G2", 3),
    ("钱七", "G2", 3),
    ("李四", "G1", 0),
]


def test_ranking_scores_and_tie_breaks_by_hand():
    assert "张三" < "王五"  # the premise of the name tie-break
    result = service_stars(_orders(), week=WEEK, grids=_grids())
    ranking = result.ranking
    got = list(zip(ranking["member"], ranking["grid_id"], ranking["score"], strict=True))
    assert got == [(m, g, float(s)) for m, g, s in EXPECTED]
    assert ranking["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    assert ranking["star"].tolist() == [True] + [False] * 5
    assert result.star is not None and result.star["member"] == "张三"
    lisi = ranking.set_index(["member", "grid_id"]).loc[("李四", "G1")]
    assert lisi[list(STAR_WEIGHTS)].tolist() == [1, 1, 1, 1, 0, 1, 0]
    qian = ranking.set_index(["member", "grid_id"]).loc[("钱七", "G2")]
    assert (qian["praise"], qian["complaint"]) == (2, 1)


def test_each_score_line_by_hand():
    ranking = service_stars(_orders(), week=WEEK, grids=_grids()).ranking
    lisi = ranking.set_index(["member", "grid_id"]).loc[("李四", "G1"), "explanation"]
    assert lisi.splitlines() == [
        "按时到达 1 单 × 2 分 = 2 分",
        "一次办结 1 单 × 2 分 = 2 分",
        "回访满意 1 单 × 1 分 = 1 分",
        "回访不满意 1 单 × -2 分 = -2 分",
        "表扬 0 次 × 3 分 = 0 分",
        "被投诉 1 次 × -3 分 = -3 分",
        "走访 0 次 × 1 分 = 0 分（走访记录尚未接入 / no visit records yet）",
        "合计 0 分",
    ]
    qian = ranking.set_index(["member", "grid_id"]).loc[("钱七", "G2"), "explanation"]
    assert "表扬 2 次 × 3 分 = 6 分" in qian.splitlines()
    assert qian.splitlines()[-1] == "合计 3 分"


def test_week_bounds_and_notes():
    result = service_stars(_orders(), week=WEEK, grids=_grids())
    assert result.start == pd.Timestamp("2026-11-23", tz="Asia/Shanghai")
    assert result.end == pd.Timestamp("2026-11-30", tz="Asia/Shanghai")
    notes = " ".join(result.notes)
    assert "赵六" in notes  # not in the roster
    assert "张三" in notes  # the undecidable order o9
    assert "no visit records yet" in notes


def test_weekly_figures_per_village_grid_by_hand():
    figures = service_stars(_orders(), week=WEEK, grids=_grids()).figures.set_index("grid_id")
    # G1: faults o1 o2 o3 o8 o11, complaint o6; G2: faults o7 o10, complaint o14,
    # consultation o4; G3 (not a known grid): fault o9; o15 and o16 are outside the week
    assert figures.loc["G1", ["repairs", "complaints", "consultations"]].tolist() == [5, 1, 0]
    assert figures.loc["G2", ["repairs", "complaints", "consultations"]].tolist() == [2, 1, 1]
    assert figures.loc["G3", ["repairs", "complaints", "consultations"]].tolist() == [1, 0, 0]
    assert figures.loc["G3", "grid_name"] == "未知网格"
    assert list(figures.index) == ["G1", "G2", "G3"]


def test_visits_count_in_their_week():
    visits = pd.DataFrame(
        {
            "member": ["李四", "李四", "李四", "张三", "张三"],
            "grid_id": ["", "", "", "", "G2"],
            "done_at": pd.to_datetime(
                [
                    "2026-11-23T09:00:00+08:00",
                    "2026-11-29T23:00:00+08:00",  # Sunday night: in the week
                    "2026-11-30T01:00:00+08:00",  # next week
                    "2026-11-24T09:00:00+08:00",  # 张三 of which grid? nobody
                    "2026-11-24T10:00:00+08:00",  # 张三@G2
                ],
                utc=True,
            ),
        }
    )
    result = service_stars(_orders(), week=WEEK, grids=_grids(), visits=visits)
    table = result.ranking.set_index(["member", "grid_id"])
    assert table.loc[("李四", "G1"), "visit"] == 2
    assert table.loc[("李四", "G1"), "score"] == 2.0  # 0 + 2 visits
    assert table.loc[("张三", "G2"), "score"] == 4.0  # 3 + 1 visit
    assert table.loc[("张三", "G1"), "visit"] == 0
    assert "走访 2 次 × 1 分 = 2 分" in table.loc[("李四", "G1"), "explanation"].splitlines()
    assert not any("no visit records" in n for n in result.notes)
    assert any("张三" in n for n in result.notes)


def test_visit_records_count_when_done_and_by_their_grid():
    # records of gridgeo.visit_records: outcome codes and the customer's grid ids
    visits = pd.DataFrame(
        {
            "member": ["李四", "李四", "李四", "张三", "张三"],
            "outcome": ["done", "not_home", "done", "no_answer", "done"],
            "grid_t1": "T1",
            "grid_t2": "S1",
            "grid_t3": ["G1", "G1", "G1", "G2", "G2"],
            "done_at": pd.to_datetime(
                [
                    "2026-11-23T09:00:00+08:00",  # done: counts
                    "2026-11-24T09:00:00+08:00",  # nobody at home: an attempt, no point
                    "2026-11-22T23:59:00+08:00",  # the Sunday before: last week
                    "2026-11-25T09:00:00+08:00",  # 张三@G2, no answer: no point
                    "2026-11-26T09:00:00+08:00",  # 张三@G2 (decided by grid_t3), done
                ],
                utc=True,
            ),
        }
    )
    result = service_stars(_orders(), week=WEEK, grids=_grids(), visits=visits)
    table = result.ranking.set_index(["member", "grid_id"])
    assert table.loc[("李四", "G1"), "visit"] == 1
    assert table.loc[("张三", "G2"), "visit"] == 1
    assert table.loc[("张三", "G1"), "visit"] == 0
    assert table.loc[("张三", "G2"), "score"] == 4.0  # 3 + 1 visit
    assert not any("走访记录" in n for n in result.notes)  # every record found its member


def test_workspace_stars_count_imported_visit_records(tmp_path):
    from test_visit_records import HEADER, make_workspace

    from gridgeo import create_order, import_visits, workspace_stars

    store = make_workspace(tmp_path / "ws.gpkg")
    create_order(
        store, {"order_id": "O1", "kind": "咨询", "reported_at": "2027-01-05 08:00"}, author="t"
    )
    rows = [
        ["V1", "家访", "c1", "张三", "2027-01-05 09:00", "完成"],  # 2027-W01 (Mon 01-04)
        ["V2", "电话回访", "c5", "张三", "2027-01-06 09:00", "完成"],
        ["V3", "家访", "c3", "李四", "2027-01-06 10:00", "不在家"],  # an attempt
        ["V4", "家访", "c4", "李四", "2027-01-11 10:00", "完成"],  # next week
    ]
    path = tmp_path / "v.csv"
    text = [",".join(HEADER[:6])] + [",".join(r) for r in rows]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    import_visits(store, path, author="t", now="2027-06-30 12:00")
    ranking = workspace_stars(store, week="2027-W01").ranking.set_index(["member", "grid_id"])
    # 张三 is on G1 and G3: V1 (c1, G1) and V2 (c5, G3) go to each grid's 张三
    assert ranking.loc[("张三", "G1"), "visit"] == 1
    assert ranking.loc[("张三", "G3"), "visit"] == 1
    assert ranking.loc[("李四", "G2"), "visit"] == 0


def test_own_weights_change_the_ranking():
    weights = dict(STAR_WEIGHTS, complaint=0)  # complaints cost nothing
    ranking = service_stars(_orders(), week=WEEK, grids=_grids(), weights=weights).ranking
    # 钱七 now 6 (two praises), 李四 3; the tie at 3 still counts complaints (not points):
    # 孙八 (0 complaints, 1 on time), 张三@G2, 王五 (0, 0), then 李四 (1 complaint)
    got = list(zip(ranking["member"], ranking["score"], strict=True))
    assert got == [
        ("钱七", 6.0),
        ("张三", 5.0),
        ("孙八", 3.0),
        ("张三", 3.0),
        ("王五", 3.0),
        ("李四", 3.0),
    ]


def test_no_star_without_a_positive_score():
    ranking = service_stars(_orders().iloc[:0], week=WEEK, grids=_grids()).ranking
    assert len(ranking) == 6 and not ranking["star"].any()
    assert (ranking["score"] == 0).all()
    # all tied at 0: by name code point, then grid id
    names = list(zip(ranking["member"], ranking["grid_id"], strict=True))
    assert names == sorted(names)


@pytest.mark.parametrize("week", ["2026-48", "2026-W54", "W48", ""])
def test_bad_week(week):
    with pytest.raises(InputError, match="2026-W48"):
        period_bounds(week, "week")


def test_last_full_week():
    # Sunday 29 Nov 23:59 Beijing (15:59 UTC) ends 2026-W48; Monday 30 Nov 00:01 Beijing
    # (Sunday 16:01 UTC) is in 2026-W49, whose last full week is 2026-W48; so is Saturday's
    assert last_full_week(pd.Timestamp("2026-11-29 15:59", tz="UTC")) == "2026-W48"
    assert last_full_week(pd.Timestamp("2026-11-29 16:01", tz="UTC")) == "2026-W48"
    assert last_full_week(pd.Timestamp("2026-11-28 12:00", tz="UTC")) == "2026-W47"
    assert last_full_week(pd.Timestamp("2027-01-04 12:00", tz="UTC")) == "2026-W53"


def test_week_53_exists_in_long_years():
    start, end = period_bounds("2026-W53", "week")  # 2026 has 53 ISO weeks (a Thursday start)
    assert start == pd.Timestamp("2026-12-28", tz="Asia/Shanghai")
    assert end == pd.Timestamp("2027-01-04", tz="Asia/Shanghai")


def test_bad_weights_and_columns():
    with pytest.raises(InputError, match="weights"):
        service_stars(_orders(), week=WEEK, grids=_grids(), weights={"on_time": 2})
    with pytest.raises(InputError, match="visit"):
        service_stars(_orders(), week=WEEK, grids=_grids(), weights=dict(STAR_WEIGHTS, visit="x"))
    with pytest.raises(MissingColumnError, match="member"):
        service_stars(_orders().drop(columns="member"), week=WEEK, grids=_grids())
    with pytest.raises(MissingColumnError, match="members"):
        service_stars(_orders(), week=WEEK, grids=_grids().drop(columns="members"))


def test_lines_name_the_star_and_the_figures():
    text = "\n".join(service_stars(_orders(), week=WEEK, grids=_grids()).lines())
    assert "本周服务之星 / star of the week: 张三 (甲村网格 G1), 5 分" in text
    assert "按时到达 1 单 × 2 分 = 2 分" in text
    assert "合计 total" in text


# --- the command line -----------------------------------------------------------------------


def _workspace(path, *, orders: bool = True):
    import geopandas as gpd
    from shapely.geometry import Point, box

    from gridgeo.store import GeoPackageStore

    layers = {"grids": gpd.GeoDataFrame(_grids(), geometry=[box(0, 0, 1, 1)] * 4, crs=4326)}
    if orders:
        frame = _orders()
        layers["work_orders"] = gpd.GeoDataFrame(
            frame, geometry=[Point(0.5, 0.5)] * len(frame), crs=4326
        )
    GeoPackageStore.create(
        path, layers, author="test", reason="test", keys={"work_orders": "order_id"}
    )
    return path


def test_cli_stars(tmp_path, capsys):
    from gridgeo.cli import main

    path = _workspace(tmp_path / "w.gpkg")
    assert main(["stars", "--workspace", str(path), "--week", WEEK, "--top", "0"]) == 0
    out = capsys.readouterr().out
    assert "本周服务之星 / star of the week: 张三 (甲村网格 G1), 5 分" in out
    assert "回访不满意 1 单 × -2 分 = -2 分" in out  # 李四's line, shown with --top 0
    # without --week: the latest order is o15 (Monday 30 Nov, 2026-W49): the last full week
    # is the one before, 2026-W48
    assert main(["stars", "--workspace", str(path)]) == 0
    assert "service stars 2026-W48 (2026-11-23 – 2026-11-29" in capsys.readouterr().out


def test_cli_stars_errors(tmp_path, capsys):
    from gridgeo.cli import main

    path = _workspace(tmp_path / "w.gpkg", orders=False)
    assert main(["stars", "--workspace", str(path)]) == 2
    err = capsys.readouterr().err
    assert "gridgeo orders import" in err and "work_orders" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    path = _workspace(tmp_path / "v.gpkg")
    assert main(["stars", "--workspace", str(path), "--week", "2026-48"]) == 2
    err = capsys.readouterr().err
    assert "2026-W48" in err and len(err.strip().splitlines()) == 1


def test_members_are_split_as_the_monthly_evaluation_splits_them():
    # a hand-made grids layer: 、 as stored rosters write it, and , ； / typed by hand
    grids = pd.DataFrame(
        {"grid_id": ["V1"], "tier": [3], "name": ["甲村"], "members": [" 王芳、李明, 赵一；钱二/ "]}
    )
    ranking = service_stars(_orders().iloc[:0], week=WEEK, grids=grids).ranking
    assert sorted(ranking["member"]) == sorted(["王芳", "李明", "赵一", "钱二"])
    assert set(ranking["grid_id"]) == {"V1"}
