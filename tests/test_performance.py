"""Service figures from work orders, each checked against a hand computation.

The hand-made set (:func:`hand_orders`) has two tier-3 grids A (2,000 customers) and B (3,000
customers) under the supply grid S of the county C, over October, November and December 2026
(China time). Every expected value below is worked out by hand in the comments.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from gridgeo.errors import InputError, MissingColumnError
from gridgeo.orders import ORDER_COLUMNS, TIME_COLUMNS
from gridgeo.performance import (
    FIGURE_LABELS,
    last_full_period,
    parse_period,
    period_bounds,
    period_labels,
    service_figures,
    service_figures_by,
)
from gridgeo.settings import DEFAULT_SETTINGS

TZ = "Asia/Shanghai"
CUSTOMERS = pd.Series({"A": 2000, "B": 3000})
CUSTOMERS_T2 = pd.Series({"S": 5000})


def t(text: str) -> pd.Timestamp:
    """A China-local wall time, as the UTC instant the store holds."""
    return pd.Timestamp(text).tz_localize(TZ).tz_convert("UTC")


def order(order_id: str, kind: str, grid: str, reported: str, **fields: object) -> dict:
    row: dict[str, object] = {
        "order_id": order_id,
        "kind": kind,
        "source": "95598",
        "status": "reported",
        "customer_id": "",
        "grid_t1": "C" if grid else "",
        "grid_t2": "S" if grid else "",
        "grid_t3": grid,
        "station_id": "S1",
        "member": {"A": "张三", "B": "李四"}.get(grid, ""),
        "predicted_eta_s": np.nan,
        "customers_affected": np.nan,
        "planned": False,
        "satisfaction": "",
        "first_time": False,
        "repeat_of": "",
        "reported_at": t(reported),
    }
    for key, value in fields.items():
        is_time = key in TIME_COLUMNS or key.startswith("outage_")
        row[key] = t(value) if is_time and isinstance(value, str) else value
    return row


def hand_orders() -> pd.DataFrame:
    """The hand-made orders (times China local in the arguments, stored in UTC)."""
    rows = [
        # --- grid A, October
        order("F0", "fault", "A", "2026-10-15 10:00", arrived_at="2026-10-15 10:20"),
        # planned outage 31 Oct 22:00 -> 1 Nov 04:00, 50 customers: 2 h in Oct, 4 h in Nov
        order(
            "O2",
            "service_request",
            "A",
            "2026-10-20 09:00",
            source="other",
            outage_start="2026-10-31 22:00",
            outage_end="2026-11-01 04:00",
            customers_affected=50,
            planned=True,
        ),
        # --- grid A, November
        # on site after exactly 30 min (on time), travel 08:10 -> 08:30 = 1200 s vs 1000 s
        order(
            "F1",
            "fault",
            "A",
            "2026-11-03 08:00",
            dispatched_at="2026-11-03 08:05",
            departed_at="2026-11-03 08:10",
            arrived_at="2026-11-03 08:30",
            repaired_at="2026-11-03 09:30",
            closed_at="2026-11-03 10:00",
            predicted_eta_s=1000.0,
            satisfaction="satisfied",
        ),
        # 50 min (late), no departure: travel 14:02 -> 14:50 = 2880 s vs 1200 s; an outage
        # 13:50 -> 16:50 of 100 customers (unplanned, 300 customer-hours)
        order(
            "F2",
            "fault",
            "A",
            "2026-11-05 14:00",
            source="grid_member",
            dispatched_at="2026-11-05 14:02",
            arrived_at="2026-11-05 14:50",
            repaired_at="2026-11-05 16:50",
            closed_at="2026-11-05 17:00",
            predicted_eta_s=1200.0,
            satisfaction="basic",
            outage_start="2026-11-05 13:50",
            outage_end="2026-11-05 16:50",
            customers_affected=100,
        ),
        # reported 30 Nov 23:50, on site 1 Dec 00:15 (25 min, on time): a November order;
        # travel 23:55 -> 00:15 = 1200 s vs 1500 s
        order(
            "F3",
            "fault",
            "A",
            "2026-11-30 23:50",
            dispatched_at="2026-11-30 23:52",
            departed_at="2026-11-30 23:55",
            arrived_at="2026-12-01 00:15",
            repaired_at="2026-12-01 01:15",
            closed_at="2026-12-01 02:00",
            predicted_eta_s=1500.0,
        ),
        # 1 Nov 06:00 China = 31 Oct 22:00 UTC: November; never reached, still open: late
        order("F4", "fault", "A", "2026-11-01 06:00", dispatched_at="2026-11-01 06:10"),
        # closed by phone without a site visit: excluded from the on-time rate
        order("F6", "fault", "A", "2026-11-10 09:00", closed_at="2026-11-10 09:20"),
        order(
            "C1",
            "complaint",
            "A",
            "2026-11-08 10:00",
            closed_at="2026-11-09 10:00",
            first_time=True,
            satisfaction="satisfied",
        ),
        order(
            "C2",
            "complaint",
            "A",
            "2026-11-20 10:00",
            closed_at="2026-11-22 10:00",
            repeat_of="C1",
            satisfaction="dissatisfied",
        ),
        order("C3", "complaint", "A", "2026-11-25 10:00"),  # still open
        order("P1", "praise", "A", "2026-11-11 10:00", source="online"),
        order("Q1", "consultation", "A", "2026-11-12 10:00", source="online"),
        # --- grid B, November
        # 40 min (late); outage 19:55 -> 21:00 (65 min) of 30 customers: 32.5 customer-hours
        order(
            "F7",
            "fault",
            "B",
            "2026-11-12 20:00",
            arrived_at="2026-11-12 20:40",
            repaired_at="2026-11-12 21:00",
            outage_start="2026-11-12 19:55",
            outage_end="2026-11-12 21:00",
            customers_affected=30,
        ),
        order(
            "C4",
            "complaint",
            "B",
            "2026-11-15 09:00",
            closed_at="2026-11-15 11:00",
            first_time=True,
        ),
        order("Q2", "consultation", "B", "2026-11-16 09:00"),
        # no grid: the group 未定位
        order("Q3", "consultation", "", "2026-11-17 09:00", source="other"),
        # --- grid B, December: 1 Dec 07:30 China is still 30 Nov in UTC
        order(
            "F8",
            "fault",
            "B",
            "2026-12-01 07:30",
            arrived_at="2026-12-01 07:45",
            closed_at="2026-12-01 09:00",
        ),
    ]
    frame = pd.DataFrame(rows)
    for column in ORDER_COLUMNS:
        if column not in frame:
            is_time = column in TIME_COLUMNS or column.startswith("outage_")
            frame[column] = pd.NaT if is_time else ""
    for column in (*TIME_COLUMNS, "outage_start", "outage_end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.loc[:, list(ORDER_COLUMNS)]


def row(figures: pd.DataFrame, group: str, period: str, by: str = "grid_t3") -> pd.Series:
    hit = figures[(figures[by] == group) & (figures["period"] == period)]
    assert len(hit) == 1, (group, period)
    return hit.iloc[0]


@pytest.fixture(scope="module")
def monthly() -> pd.DataFrame:
    return service_figures(hand_orders(), customers=CUSTOMERS, by="grid_t3", period="month")


def test_periods_and_groups(monthly):
    # F8 (1 Dec 07:30 China) makes a December row; no row for a month without records
    assert sorted(set(monthly["period"])) == ["2026-10", "2026-11", "2026-12"]
    assert list(dict.fromkeys(monthly["grid_t3"])) == ["A", "B", "未定位"]
    assert len(monthly) == 9
    nov_a = row(monthly, "A", "2026-11")
    assert nov_a["period_start"] == pd.Timestamp("2026-11-01", tz=TZ)
    assert nov_a["period_end"] == pd.Timestamp("2026-12-01", tz=TZ)
    assert nov_a["period_hours"] == 720
    assert row(monthly, "A", "2026-10")["period_hours"] == 744


def test_counts_by_kind_and_source(monthly):
    nov_a = row(monthly, "A", "2026-11")
    # A in November: F1 F2 F3 F4 F6, C1 C2 C3, P1, Q1
    assert nov_a["orders"] == 10
    assert nov_a["n_fault"] == 5
    assert nov_a["n_complaint"] == 3
    assert nov_a["n_praise"] == 1
    assert nov_a["n_consultation"] == 1
    assert nov_a["src_95598"] == 7
    assert nov_a["src_grid_member"] == 1
    assert nov_a["src_online"] == 2
    assert row(monthly, "A", "2026-10")["orders"] == 2
    assert row(monthly, "B", "2026-12")["n_fault"] == 1
    assert row(monthly, "未定位", "2026-11")["src_other"] == 1


def test_on_time_rate_and_arrival_times(monthly):
    nov_a = row(monthly, "A", "2026-11")
    # arrived: F1 1800 s (on time, equal to the limit), F2 3000 s, F3 1500 s; F4 open and
    # late; F6 closed without a visit (excluded): 2 on time of 3 + 1
    assert nov_a["faults"] == 5
    assert nov_a["faults_arrived"] == 3
    assert nov_a["faults_open_late"] == 1
    assert nov_a["faults_on_time"] == 2
    assert nov_a["on_time_rate"] == pytest.approx(2 / 4)
    assert nov_a["arrival_median_s"] == pytest.approx(1800)
    # sorted 1500, 1800, 3000; position 0.9 * 2 = 1.8 -> 1800 + 0.8 * 1200
    assert nov_a["arrival_p90_s"] == pytest.approx(2760)
    assert row(monthly, "A", "2026-10")["on_time_rate"] == pytest.approx(1.0)
    assert row(monthly, "B", "2026-11")["on_time_rate"] == pytest.approx(0.0)  # 2400 s
    assert row(monthly, "B", "2026-12")["on_time_rate"] == pytest.approx(1.0)  # 900 s


def test_predicted_against_actual(monthly):
    nov_a = row(monthly, "A", "2026-11")
    # actual - predicted: 1200 - 1000, 2880 - 1200, 1200 - 1500 -> 200, 1680, -300
    assert nov_a["eta_orders"] == 3
    assert nov_a["eta_diff_median_s"] == pytest.approx(200)
    # ratios 1.2, 2.4, 0.8
    assert nov_a["eta_ratio_median"] == pytest.approx(1.2)
    # B has no predicted ETA
    assert row(monthly, "B", "2026-11")["eta_orders"] == 0
    assert np.isnan(row(monthly, "B", "2026-11")["eta_diff_median_s"])


def test_repair_duration(monthly):
    # 3600, 7200, 3600
    assert row(monthly, "A", "2026-11")["repair_median_s"] == pytest.approx(3600)
    assert row(monthly, "B", "2026-11")["repair_median_s"] == pytest.approx(1200)


def test_complaints(monthly):
    nov_a = row(monthly, "A", "2026-11")
    # C1 closed first time, C2 closed not first time (a repeat of C1), C3 open
    assert nov_a["complaints"] == 3
    assert nov_a["complaints_closed"] == 2
    assert nov_a["complaints_first_time"] == 1
    assert nov_a["first_time_rate"] == pytest.approx(0.5)
    assert nov_a["complaints_per_10k"] == pytest.approx(3 * 10_000 / 2000)
    assert nov_a["repeat_complaints"] == 1
    assert nov_a["repeat_complaints_per_10k"] == pytest.approx(10_000 / 2000)
    nov_b = row(monthly, "B", "2026-11")
    assert nov_b["first_time_rate"] == pytest.approx(1.0)
    assert nov_b["complaints_per_10k"] == pytest.approx(10_000 / 3000)


def test_satisfaction(monthly):
    # F1 满意, F2 基本满意, C1 满意, C2 不满意
    nov_a = row(monthly, "A", "2026-11")
    assert nov_a["callbacks"] == 4
    assert nov_a["satisfied"] == 3
    assert nov_a["satisfaction_rate"] == pytest.approx(0.75)
    assert np.isnan(row(monthly, "B", "2026-11")["satisfaction_rate"])  # nobody called back


def test_reliability_split_at_the_month_boundary(monthly):
    oct_a, nov_a = row(monthly, "A", "2026-10"), row(monthly, "A", "2026-11")
    # O2 planned, 50 customers: 2 h in October (100 customer-hours), 4 h in November (200);
    # its interruption counts in October, where it started
    assert oct_a["customer_hours"] == pytest.approx(100)
    assert oct_a["customer_hours_unplanned"] == pytest.approx(0)
    assert oct_a["outages"] == 1
    assert oct_a["customer_interruptions"] == pytest.approx(50)
    assert oct_a["rs1"] == pytest.approx(1 - 100 / (2000 * 744))
    assert oct_a["rs3"] == pytest.approx(1.0)
    assert oct_a["saifi"] == pytest.approx(50 / 2000)
    assert oct_a["saifi_unplanned"] == pytest.approx(0)
    # November: F2's 100 customers x 3 h = 300 unplanned + O2's 200 planned
    assert nov_a["customer_hours"] == pytest.approx(500)
    assert nov_a["customer_hours_unplanned"] == pytest.approx(300)
    assert nov_a["outages"] == 1
    assert nov_a["customer_interruptions"] == pytest.approx(100)
    assert nov_a["rs1"] == pytest.approx(1 - 500 / (2000 * 720))
    assert nov_a["rs3"] == pytest.approx(1 - 300 / (2000 * 720))
    assert nov_a["saidi_h"] == pytest.approx(500 / 2000)
    assert nov_a["saidi_unplanned_h"] == pytest.approx(300 / 2000)
    assert nov_a["saifi"] == pytest.approx(100 / 2000)
    nov_b = row(monthly, "B", "2026-11")
    # 30 customers x 65 min
    assert nov_b["customer_hours"] == pytest.approx(30 * 65 / 60)
    assert nov_b["rs1"] == pytest.approx(1 - 32.5 / (3000 * 720))
    # a month with records but no outage in B: fully reliable
    assert row(monthly, "B", "2026-10")["rs1"] == pytest.approx(1.0)
    assert row(monthly, "B", "2026-10")["orders"] == 0


def test_tier2_adds_up_the_grids():
    figures = service_figures(hand_orders(), customers=CUSTOMERS_T2, by="grid_t2")
    nov = row(figures, "S", "2026-11", by="grid_t2")
    # faults A 5 + B 1; on time F1, F3; late F2, F7, F4 (open)
    assert nov["faults"] == 6
    assert nov["on_time_rate"] == pytest.approx(2 / 5)
    assert nov["rs1"] == pytest.approx(1 - (500 + 32.5) / (5000 * 720))
    assert nov["complaints_per_10k"] == pytest.approx(4 * 10_000 / 5000)
    # arrivals 1500, 1800, 2400, 3000: median 2100
    assert nov["arrival_median_s"] == pytest.approx(2100)


def test_members_and_stations():
    figures = service_figures(hand_orders(), by="member")
    assert row(figures, "张三", "2026-11", by="member")["faults"] == 5
    assert row(figures, "未指定", "2026-11", by="member")["orders"] == 1  # Q3
    assert np.isnan(row(figures, "张三", "2026-11", by="member")["rs1"])  # no customers given
    stations = service_figures(hand_orders(), by="station_id")
    # A 10 + B 3 (F7, C4, Q2) + Q3 with no grid
    assert row(stations, "S1", "2026-11", by="station_id")["orders"] == 14


def test_customers_layer_counts_customers_per_grid():
    customers = pd.DataFrame({"grid_t3": ["A", "A", "A", "A", "B", ""]})
    figures = service_figures(hand_orders(), customers=customers, periods=["2026-11"])
    nov_a = row(figures, "A", "2026-11")
    assert nov_a["customers"] == 4
    assert nov_a["complaints_per_10k"] == pytest.approx(3 * 10_000 / 4)
    assert row(figures, "未定位", "2026-11")["customers"] == 1


def test_requested_periods_and_a_period_without_records():
    figures = service_figures(hand_orders(), customers=CUSTOMERS, periods=["2026-11", "2026-09"])
    assert sorted(set(figures["period"])) == ["2026-09", "2026-11"]
    sep_a = row(figures, "A", "2026-09")
    assert sep_a["orders"] == 0
    # no records at all in September: no rate, not a perfect month
    assert np.isnan(sep_a["rs1"])
    assert np.isnan(sep_a["on_time_rate"])
    # the outage from October still gives November its 4 hours
    assert row(figures, "A", "2026-11")["customer_hours"] == pytest.approx(500)


def test_open_fault_within_the_limit_is_excluded():
    orders = hand_orders()
    orders = orders[orders["order_id"].isin(["F1", "F4"])]
    # at 06:20 F4 (reported 06:00) has waited 20 minutes: not yet late
    early = service_figures(orders, as_of=t("2026-11-01 06:20"))
    assert row(early, "A", "2026-11")["faults_open_late"] == 0
    assert row(early, "A", "2026-11")["on_time_rate"] == pytest.approx(1.0)
    late = service_figures(orders, as_of=t("2026-11-01 06:31"))
    assert row(late, "A", "2026-11")["on_time_rate"] == pytest.approx(0.5)


def test_the_limit_is_a_setting():
    # a 25-minute promise: F1 (30 min) becomes late, F3 (25 min) stays on time
    figures = service_figures(hand_orders(), settings=DEFAULT_SETTINGS.replace(repair_limit_s=1500))
    assert row(figures, "A", "2026-11")["on_time_rate"] == pytest.approx(1 / 4)


def test_outage_split_at_a_week_boundary():
    # Sunday 1 Nov 2026 23:00 -> Monday 2 Nov 01:00: one hour in each ISO week
    rows = [
        order(
            "X",
            "fault",
            "A",
            "2026-11-01 23:00",
            outage_start="2026-11-01 23:00",
            outage_end="2026-11-02 01:00",
            customers_affected=10,
        )
    ]
    orders = pd.DataFrame(rows)
    weekly = service_figures(orders, customers=CUSTOMERS, period="week")
    sunday = dt.date(2026, 11, 1).isocalendar()
    monday = dt.date(2026, 11, 2).isocalendar()
    first = f"{sunday[0]}-W{sunday[1]:02d}"
    second = f"{monday[0]}-W{monday[1]:02d}"
    assert row(weekly, "A", first)["customer_hours"] == pytest.approx(10)
    assert row(weekly, "A", second)["customer_hours"] == pytest.approx(10)
    assert row(weekly, "A", first)["customer_interruptions"] == pytest.approx(10)
    assert row(weekly, "A", second)["customer_interruptions"] == pytest.approx(0)
    assert row(weekly, "A", first)["period_hours"] == 168


def test_period_labels_use_china_time():
    times = pd.Series(
        [
            pd.Timestamp("2025-12-28 16:30", tz="UTC"),  # Mon 29 Dec 00:30 in China
            pd.Timestamp("2025-12-28 15:30", tz="UTC"),  # Sun 28 Dec 23:30 in China
            pd.Timestamp("2026-09-30 16:00", tz="UTC"),  # 1 Oct 00:00 in China
            pd.NaT,
        ],
        dtype="datetime64[ns, UTC]",
    )
    # 1 Jan 2026 is a Thursday, so ISO week 1 of 2026 begins on Monday 29 Dec 2025
    assert period_labels(times, "week").tolist() == ["2026-W01", "2025-W52", "2026-W40", None]
    assert period_labels(times, "month").tolist() == ["2025-12", "2025-12", "2026-10", None]
    assert period_labels(times, "quarter").tolist() == ["2025-Q4", "2025-Q4", "2026-Q4", None]
    assert period_labels(times, "year").tolist() == ["2025", "2025", "2026", None]


def test_parse_period():
    assert parse_period("2026-11") == ("month", pd.Timestamp("2026-11-01", tz=TZ))
    assert parse_period("2026-W01") == ("week", pd.Timestamp("2025-12-29", tz=TZ))
    assert parse_period("2026-Q4") == ("quarter", pd.Timestamp("2026-10-01", tz=TZ))
    assert parse_period("2026") == ("year", pd.Timestamp("2026-01-01", tz=TZ))
    with pytest.raises(InputError, match=r"2026-13.*2026-11"):
        parse_period("2026-13", "month")
    with pytest.raises(InputError, match="period 'Nov'"):
        parse_period("Nov")


def test_period_bounds_end_where_the_next_period_starts():
    # by the calendar: ISO week 1 of 2026 is Mon 29 Dec 2025 to Mon 5 Jan 2026; 2026-W53 is
    # Mon 28 Dec 2026 to Mon 4 Jan 2027 (2026 starts on a Thursday)
    cases = {
        "2026-W01": ("2025-12-29", "2026-01-05"),
        "2026-W53": ("2026-12-28", "2027-01-04"),
        "2026-02": ("2026-02-01", "2026-03-01"),
        "2026-12": ("2026-12-01", "2027-01-01"),
        "2026-Q4": ("2026-10-01", "2027-01-01"),
        "2028": ("2028-01-01", "2029-01-01"),
    }
    for label, (start, end) in cases.items():
        assert period_bounds(label) == (pd.Timestamp(start, tz=TZ), pd.Timestamp(end, tz=TZ))
    with pytest.raises(InputError, match="2026-W48"):
        period_bounds("2026-11", "week")
    with pytest.raises(InputError, match="2026-W48"):
        period_bounds("2026-W54", "week")


@pytest.mark.parametrize(
    ("when", "period", "label"),
    [
        ("2026-11-29 23:59", "week", "2026-W48"),  # Sunday in China: its week is over
        ("2026-11-30 00:01", "week", "2026-W48"),  # Monday: the week that just ended
        ("2026-11-28 20:00", "week", "2026-W47"),  # Saturday: the week before
        ("2027-01-04 20:00", "week", "2026-W53"),
        ("2026-11-30 23:59", "month", "2026-11"),  # last day of November
        ("2026-12-01 00:00", "month", "2026-11"),
        ("2026-11-29 20:00", "month", "2026-10"),
        ("2026-12-31 12:00", "quarter", "2026-Q4"),
        ("2026-12-30 12:00", "year", "2025"),
    ],
)
def test_last_full_period_in_china_time(when, period, label):
    assert last_full_period(t(when), period) == label  # an aware time (UTC)
    assert last_full_period(pd.Timestamp(when), period) == label  # naive: China time


def test_times_without_a_zone_are_china_time():
    orders = hand_orders()
    columns = [c for c in orders.columns if isinstance(orders[c].dtype, pd.DatetimeTZDtype)]
    assert "reported_at" in columns and "arrived_at" in columns
    naive = orders.assign(**{c: orders[c].dt.tz_convert(TZ).dt.tz_localize(None) for c in columns})
    pd.testing.assert_frame_equal(
        service_figures(naive, customers=CUSTOMERS), service_figures(orders, customers=CUSTOMERS)
    )
    # 23:50 on 30 November (China) is a November order; read as UTC it would be December's
    late = pd.Series([pd.Timestamp("2026-11-30 23:50")], name="reported_at")
    assert period_labels(late, "month").tolist() == ["2026-11"]


def test_bad_input_is_refused():
    orders = hand_orders()
    with pytest.raises(MissingColumnError, match="reported_at"):
        service_figures(orders.drop(columns="reported_at"))
    missing = orders.copy()
    missing.loc[0, "reported_at"] = pd.NaT
    with pytest.raises(InputError, match=r"1 order.*without `reported_at`"):
        service_figures(missing)
    with pytest.raises(InputError, match="`by` must be one of"):
        service_figures(orders, by="town")
    with pytest.raises(InputError, match="`period` must be one of"):
        service_figures(orders, period="day")


def test_every_figure_has_a_chinese_label(monthly):
    for column in monthly.columns:
        assert column in FIGURE_LABELS, column
        assert any("\u4e00" <= ch <= "\u9fff" for ch in FIGURE_LABELS[column]), column


def test_inputs_are_not_changed():
    orders = hand_orders()
    before = orders.copy()
    service_figures(orders, customers=CUSTOMERS)
    pd.testing.assert_frame_equal(orders, before)


def test_pandas_groupby_gives_the_same_medians():
    # an independent computation of two figures on a larger random set
    rng = np.random.default_rng(3)
    n = 2000
    base = pd.Timestamp("2026-01-01", tz="UTC")
    reported = base + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s")
    arrival = pd.to_timedelta(rng.integers(60, 7200, n), unit="s")
    orders = pd.DataFrame(
        {
            "kind": rng.choice(["fault", "complaint"], n),
            "grid_t3": rng.choice(["A", "B", "C"], n),
            "reported_at": reported,
            "arrived_at": reported + arrival,
        }
    )
    ours = service_figures(orders, period="quarter").set_index(["grid_t3", "period"])
    faults = orders[orders["kind"] == "fault"]
    quarter = faults["reported_at"].dt.tz_convert(TZ).dt.quarter
    year = faults["reported_at"].dt.tz_convert(TZ).dt.year
    label = year.astype(str) + "-Q" + quarter.astype(str)
    secs = (faults["arrived_at"] - faults["reported_at"]).dt.total_seconds()
    grouped = secs.groupby([faults["grid_t3"], label])
    for (grid, period), value in grouped.median().items():
        assert ours.loc[(grid, period), "arrival_median_s"] == pytest.approx(value)
    for (grid, period), value in grouped.quantile(0.9).items():
        assert ours.loc[(grid, period), "arrival_p90_s"] == pytest.approx(value)
    on_time = (secs <= 1800).groupby([faults["grid_t3"], label]).mean()
    for (grid, period), value in on_time.items():
        assert ours.loc[(grid, period), "on_time_rate"] == pytest.approx(value)


def test_no_orders_at_all():
    empty = hand_orders().iloc[:0]
    assert len(service_figures(empty)) == 0
    figures = service_figures(empty, customers=CUSTOMERS, periods=["2026-11"])
    assert figures["grid_t3"].tolist() == ["A", "B"]
    assert (figures["orders"] == 0).all()
    assert figures["rs1"].isna().all()


def test_several_groupings_at_once_equal_one_by_one():
    orders = hand_orders()
    customers = pd.DataFrame({"grid_t1": "C", "grid_t2": "S", "grid_t3": ["A"] * 3 + ["B"] * 2})
    together = service_figures_by(orders, by=("grid_t2", "grid_t3", "member"), customers=customers)
    assert list(together) == ["grid_t2", "grid_t3", "member"]
    for by, figures in together.items():
        alone = service_figures(orders, by=by, customers=customers)
        pd.testing.assert_frame_equal(figures, alone)
