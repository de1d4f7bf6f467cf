"""Service performance from the records: what the work orders say about the promises.

:func:`service_figures` turns the work orders (the columns of
:data:`gridgeo.orders.ORDER_COLUMNS`) into one row per group and period;
:func:`service_figures_by` does it for several groupings at once, sharing the per-order work
(10^6 orders, the three grid tiers, monthly: see ``benchmarks/bench_orders.py``).

A group is a grid of one tier (``grid_t1``, ``grid_t2``, ``grid_t3``), a repair station
(``station_id``) or a grid member (``member``); orders with no group are the group
:data:`gridgeo.archive.NOT_LOCATED` (未定位, grids) or :data:`UNASSIGNED` (未指定, stations and
members).

Periods
-------
Periods are calendar periods in China's time zone (:data:`gridgeo.orders.TIMEZONE`,
Asia/Shanghai, UTC+8 with no daylight saving): ``week`` (ISO week, Monday 00:00 to Monday,
label ``2026-W48``), ``month`` (``2026-11``), ``quarter`` (``2026-Q4``) and ``year``
(``2026``). An order belongs to the period of its ``reported_at`` (受理时间), whatever happens
later: a fault reported at 23:50 on 30 November and repaired on 1 December is a November order.
Outages are the exception, see below. Without ``periods`` the result holds the periods in which
at least one order was reported or an outage ran; a requested period without any record has
its counts at zero and every rate NaN (no records is not a perfect month).

This module is the one reader of period labels for the service from records:
:func:`parse_period` and :func:`period_bounds` read a label (start, and end exclusive),
:func:`period_labels` gives the label of each time and :func:`last_full_period` the last
period ended by a given day (the default month of the evaluation, week of the stars). Times
are read by :func:`gridgeo.orders.order_times_utc`: a time without a zone is China time.

Figures
-------
Times are differences of the recorded times, in seconds; medians and the 90th percentile use
linear interpolation between the two nearest orders (numpy's and pandas' default).

Each figure as ``column`` (中文): formula; denominator; what is excluded.

``orders`` (工单数)
    Orders reported in the period.
``n_<kind>`` (<kind>工单数), ``src_<source>`` (来自<source>的工单数)
    Orders of each kind of :data:`~gridgeo.orders.ORDER_KINDS` and each source of
    :data:`~gridgeo.orders.ORDER_SOURCES`.
``faults`` (故障报修工单数), ``faults_arrived`` (已到达现场的故障工单数)
    Orders of kind ``fault``; those of them with ``arrived_at``.
``faults_open_late`` (超时未到达的故障工单数)
    Faults with neither ``arrived_at`` nor ``closed_at`` whose limit had passed at ``as_of``.
``faults_on_time`` (及时到达的故障工单数)
    Faults with ``arrived_at − reported_at ≤ repair_limit_s`` (the settings' 30 minutes).
``on_time_rate`` (到达现场及时率)
    faults_on_time / (faults_arrived + faults_open_late). A fault with no arrival that is
    still open and past the limit counts as late; one still within the limit, or one closed
    without a site visit (settled by phone, a customer-internal fault), is excluded.
``arrival_median_s``, ``arrival_p90_s`` (到达现场时长中位数 / 90分位)
    Median and 90th percentile of arrived_at − reported_at over the faults with arrival.
``eta_orders`` (有预计到达时间的工单数)
    Faults with ``predicted_eta_s > 0``, ``arrived_at`` and a start of travel.
``eta_diff_median_s`` (实际与预计行驶时间差中位数)
    Median of actual − predicted travel time over those; actual = arrived_at − departed_at
    (dispatched_at when no departure is recorded). Positive: the road model under-estimates.
``eta_ratio_median`` (实际/预计行驶时间比中位数)
    Median of actual / predicted over the same faults.
``repair_median_s`` (修复时长中位数)
    Median of repaired_at − arrived_at over the faults with both.
``complaints`` (投诉数), ``complaints_closed`` (已办结投诉数)
    Orders of kind ``complaint``; those of them with ``closed_at``.
``complaints_first_time`` (一次办结投诉数), ``first_time_rate`` (投诉一次办结率)
    Closed complaints with ``first_time``; first_time_rate = complaints_first_time /
    complaints_closed (complaints still open are excluded).
``complaints_per_10k`` (每万户投诉数)
    complaints × 10,000 / customers.
``repeat_complaints`` (重复投诉数), ``repeat_complaints_per_10k`` (每万户重复投诉数)
    Complaints with ``repeat_of`` set; × 10,000 / customers.
``callbacks`` (回访数), ``satisfied`` (满意及基本满意数), ``satisfaction_rate`` (满意率)
    Orders of any kind with a callback result in :data:`~gridgeo.orders.SATISFACTION`; those
    满意 or 基本满意; satisfaction_rate = satisfied / callbacks.
``outages`` (停电次数), ``customer_interruptions`` (停电户次)
    Outages that started in the period; Σ customers_affected of them.
``customer_hours`` (停电时户数), ``customer_hours_unplanned`` (非计划停电时户数)
    Σ customers_affected × hours of outage inside the period; the same without planned outages.
``period_hours`` (统计期小时数)
    Hours of the period (24 × days).
``rs1`` (供电可靠率RS-1)
    1 − customer_hours / (customers × period_hours), every outage counted.
``rs3`` (供电可靠率(不计计划停电))
    1 − customer_hours_unplanned / (customers × period_hours): planned outages excluded
    (RS-3 style).
``saidi_h`` (户均停电时间), ``saifi`` (户均停电次数)
    customer_hours / customers (hours); customer_interruptions / customers.
``saidi_unplanned_h``, ``saifi_unplanned`` (户均非计划停电时间 / 次数)
    The same without planned outages.

Outages. An outage is an order (of any kind) with ``outage_start`` and ``customers_affected >
0``; each outage must be recorded on one order (further reports of the same outage carry no
outage fields), else it counts twice. An outage that runs across a period boundary is split
there: its hours go to each period they fall in, its interruption (``outages``,
``customer_interruptions``) to the period it started in, whatever period the order was reported
in. An outage with no ``outage_end`` is still running: its hours are counted up to ``as_of``.
The group of an outage is the order's group.

Customers. ``customers`` gives the denominator of the per-10,000 figures and the reliability
figures: the customers layer (counted per grid with :func:`gridgeo.archive.grid_of_customers`,
grid tiers only) or the customers per group as a Series. Without it (or for stations and
members given the customers layer) those figures are NaN. A rate whose denominator is zero is
NaN, never 0 or 100 %.

``as_of`` is the moment the records describe; by default the latest time recorded in any time
column of the orders, so that the same records give the same figures.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

import numpy as np
import pandas as pd

from gridgeo._validate import check_columns, column_flags
from gridgeo._validate import column_text as _text
from gridgeo.archive import NOT_LOCATED, grid_of_customers
from gridgeo.errors import InputError
from gridgeo.orders import (
    ORDER_KINDS,
    ORDER_SOURCES,
    SATISFACTION,
    TIME_COLUMNS,
    TIMEZONE,
    YES_NO_WORDS,
    order_times_utc,
)
from gridgeo.settings import DEFAULT_SETTINGS, ServiceSettings, check_choice

__all__ = [
    "FIGURE_LABELS",
    "GROUPINGS",
    "PERIODS",
    "UNASSIGNED",
    "Grouping",
    "Period",
    "last_full_period",
    "parse_period",
    "period_bounds",
    "period_labels",
    "service_figures",
    "service_figures_by",
]

Period = Literal["week", "month", "quarter", "year"]
Grouping = Literal["grid_t1", "grid_t2", "grid_t3", "station_id", "member"]
PERIODS: tuple[Period, ...] = get_args(Period)
GROUPINGS: tuple[Grouping, ...] = get_args(Grouping)

UNASSIGNED = "未指定"
CustomersInput: TypeAlias = "pd.Series | Mapping[str, float]"
GRID_GROUPINGS: tuple[Grouping, ...] = ("grid_t1", "grid_t2", "grid_t3")

_KIND_LABELS = {f"n_{code}": f"{label}工单数" for code, label in ORDER_KINDS.items()}
_SOURCE_LABELS = {f"src_{code}": f"来自{label}的工单数" for code, label in ORDER_SOURCES.items()}

FIGURE_LABELS: dict[str, str] = {
    "grid_t1": "县公司",
    "grid_t2": "供电网格",
    "grid_t3": "村级网格",
    "station_id": "抢修站",
    "member": "网格员",
    "period": "统计期",
    "period_start": "开始时间",
    "period_end": "结束时间",
    "customers": "客户数",
    "orders": "工单数",
    **_KIND_LABELS,
    **_SOURCE_LABELS,
    "faults": "故障报修工单数",
    "faults_arrived": "已到达现场的故障工单数",
    "faults_open_late": "超时未到达的故障工单数",
    "faults_on_time": "及时到达的故障工单数",
    "on_time_rate": "到达现场及时率",
    "arrival_median_s": "到达现场时长中位数(秒)",
    "arrival_p90_s": "到达现场时长90分位(秒)",
    "eta_orders": "有预计到达时间的工单数",
    "eta_diff_median_s": "实际与预计行驶时间差中位数(秒)",
    "eta_ratio_median": "实际/预计行驶时间比中位数",
    "repair_median_s": "修复时长中位数(秒)",
    "complaints": "投诉数",
    "complaints_closed": "已办结投诉数",
    "complaints_first_time": "一次办结投诉数",
    "first_time_rate": "投诉一次办结率",
    "complaints_per_10k": "每万户投诉数",
    "repeat_complaints": "重复投诉数",
    "repeat_complaints_per_10k": "每万户重复投诉数",
    "callbacks": "回访数",
    "satisfied": "满意及基本满意数",
    "satisfaction_rate": "满意率",
    "outages": "停电次数",
    "customer_interruptions": "停电户次",
    "customer_hours": "停电时户数",
    "customer_hours_unplanned": "非计划停电时户数",
    "period_hours": "统计期小时数",
    "rs1": "供电可靠率RS-1",
    "rs3": "供电可靠率(不计计划停电)",
    "saidi_h": "户均停电时间(小时)",
    "saifi": "户均停电次数",
    "saidi_unplanned_h": "户均非计划停电时间(小时)",
    "saifi_unplanned": "户均非计划停电次数",
}

_NS_PER_S = 1_000_000_000
_NS_PER_H = 3600 * _NS_PER_S
_LABEL_RE: dict[Period, re.Pattern[str]] = {
    "week": re.compile(r"^(\d{4})-W(\d{2})$"),
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "year": re.compile(r"^(\d{4})$"),
}
_LABEL_EXAMPLES = {"week": "2026-W48", "month": "2026-11", "quarter": "2026-Q4", "year": "2026"}
REQUIRED_COLUMNS = ("kind", "reported_at")


# --- periods ----------------------------------------------------------------------------------


def _local_ns(values: pd.Series, name: str) -> np.ndarray:
    """Times as naive China-local datetime64[ns] (NaT where missing), read by the one rule
    of :func:`gridgeo.orders.order_times_utc` (naive times are China time)."""
    local = order_times_utc(values, name).dt.tz_convert(TIMEZONE).dt.tz_localize(None)
    return local.to_numpy(dtype="datetime64[ns]")


def _period_start(local: np.ndarray, period: Period) -> np.ndarray:
    """The start (naive local datetime64[ns]) of the period of each time."""
    if period == "week":
        days = local.astype("datetime64[D]")
        weekday = (days.view("int64") + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        start = days - weekday.astype("timedelta64[D]")
    elif period == "month":
        start = local.astype("datetime64[M]")
    elif period == "quarter":
        months = local.astype("datetime64[M]").view("int64")
        start = (months - months % 3).astype("datetime64[M]")
    else:
        start = local.astype("datetime64[Y]")
    out = start.astype("datetime64[ns]")
    out[np.isnat(local)] = np.datetime64("NaT")
    return out


def _next_start(start: np.datetime64, period: Period) -> np.datetime64:
    if period == "week":
        return (start.astype("datetime64[D]") + np.timedelta64(7, "D")).astype("datetime64[ns]")
    if period == "year":
        return (start.astype("datetime64[Y]") + np.timedelta64(1, "Y")).astype("datetime64[ns]")
    step = 1 if period == "month" else 3
    month = start.astype("datetime64[M]") + np.timedelta64(step, "M")
    return month.astype("datetime64[ns]")


def _label(start: np.datetime64, period: Period) -> str:
    day = pd.Timestamp(start).date()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}"


def parse_period(label: str, period: Period | None = None) -> tuple[Period, pd.Timestamp]:
    """The kind and start (China local time, tz-aware) of a period label.

    Parameters
    ----------
    label
        ``2026-W48`` (ISO week), ``2026-11`` (month), ``2026-Q4`` or ``2026``.
    period
        The kind the label must be, or None for any.

    Returns
    -------
    tuple
        The period kind and its first moment in :data:`gridgeo.orders.TIMEZONE`.

    Raises
    ------
    InputError
        If the label is not a period (of kind ``period``).
    """
    kinds = PERIODS if period is None else (check_choice(period, PERIODS, "period"),)
    text = str(label).strip()
    for kind in kinds:
        match = _LABEL_RE[kind].match(text)
        if match is None:
            continue
        year = int(match.group(1))
        number = int(match.group(2)) if kind != "year" else 1
        try:
            if kind == "week":
                day = dt.date.fromisocalendar(year, number, 1)
            elif kind == "month":
                day = dt.date(year, number, 1)
            elif kind == "quarter":
                day = dt.date(year, 3 * number - 2, 1)
            else:
                day = dt.date(year, 1, 1)
        except ValueError:
            break
        return kind, pd.Timestamp(day).tz_localize(TIMEZONE)
    examples = " or ".join(_LABEL_EXAMPLES[k] for k in kinds)
    msg = f"统计期 {label!r} 无法识别 / period {label!r} not understood: write it like {examples}"
    raise InputError(msg)


def period_bounds(label: str, period: Period | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The start and end (exclusive) of a period label, in China's time zone.

    Parameters
    ----------
    label
        A label :func:`parse_period` reads (``2026-W48``, ``2026-11``, ``2026-Q4``, ``2026``).
    period
        The kind the label must be, or None for any.

    Returns
    -------
    tuple of pandas.Timestamp
        The first moment of the period and the first moment of the next one, timezone-aware
        in :data:`gridgeo.orders.TIMEZONE`.

    Raises
    ------
    InputError
        If the label is not a period (of kind ``period``).
    """
    kind, start = parse_period(label, period)
    end = _next_start(start.tz_localize(None).to_datetime64(), kind)
    return start, pd.Timestamp(end).tz_localize(TIMEZONE)


def last_full_period(when: pd.Timestamp | str, period: Period) -> str:
    """The label of the last period that has ended by the end of the day of ``when``.

    The day is read in China's time zone (a time without a zone is China time, the rule of
    :func:`gridgeo.orders.order_times_utc`): the period of ``when`` if ``when`` falls on its
    last day, else the period before. On a Monday the last full week is the one that just
    ended; on 1 December the last full month is November.

    Parameters
    ----------
    when
        A time.
    period
        One of :data:`PERIODS`.

    Returns
    -------
    str
        The period label, e.g. ``2026-W48`` or ``2026-11``.
    """
    check_choice(period, PERIODS, "period")
    local = _local_ns(pd.Series([pd.Timestamp(when)]), "when")
    if np.isnat(local[0]):
        msg = f"`when` {when!r} is not a time; give a time such as 2026-11-30 08:00"
        raise InputError(msg)
    tomorrow = local.astype("datetime64[D]") + np.timedelta64(1, "D")
    current = _period_start(tomorrow.astype("datetime64[ns]"), period)
    before = current - np.timedelta64(1, "D")
    return _label(_period_start(before, period)[0], period)


def period_labels(times: pd.Series, period: Period = "month") -> pd.Series:
    """The period label of each time (China's time zone), on the same index.

    Parameters
    ----------
    times
        Times; a time without a zone is China time (missing values give missing labels).
    period
        One of :data:`PERIODS`.

    Returns
    -------
    pandas.Series
        Labels such as ``2026-11`` (object dtype; None where the time is missing).
    """
    check_choice(period, PERIODS, "period")
    starts = _period_start(_local_ns(times, str(times.name or "times")), period)
    missing = np.isnat(starts)
    codes, uniques = pd.factorize(starts[~missing])
    names = np.array([_label(u, period) for u in np.asarray(uniques)], dtype=object)
    labels = np.full(len(starts), None, dtype=object)
    labels[~missing] = names[codes]
    return pd.Series(labels, index=times.index, name="period", dtype=object)


# --- helpers ----------------------------------------------------------------------------------


def _number(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _customers_per_group(
    customers: pd.DataFrame | CustomersInput | None, by: Grouping
) -> pd.Series | None:
    if customers is None:
        return None
    if isinstance(customers, pd.DataFrame):
        if by not in GRID_GROUPINGS:
            return None
        return grid_of_customers(customers, column=by).value_counts().astype(float)
    series = pd.Series(customers, dtype=float)
    series.index = series.index.astype(str)
    return series


# --- the figures ------------------------------------------------------------------------------


def service_figures(
    orders: pd.DataFrame,
    *,
    customers: pd.DataFrame | CustomersInput | None = None,
    by: Grouping = "grid_t3",
    period: Period = "month",
    periods: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    as_of: pd.Timestamp | None = None,
    settings: ServiceSettings = DEFAULT_SETTINGS,
) -> pd.DataFrame:
    """The service figures of the work orders per group and period (see the module docstring).

    Parameters
    ----------
    orders
        Work orders with the columns of :data:`gridgeo.orders.ORDER_COLUMNS` (``kind`` and
        ``reported_at`` required; a missing optional column counts as empty). Times are
        read by :func:`gridgeo.orders.order_times_utc` (without a zone: China time).
    customers
        The customers layer (grid tiers), or customers per group (a Series or mapping), or
        None: the denominator of the per-10,000 and reliability figures.
    by
        The group: one of :data:`GROUPINGS`.
    period
        One of :data:`PERIODS`.
    periods
        Labels of the periods wanted (e.g. ``["2026-10", "2026-11"]``), or None for every
        period with records.
    groups
        Group ids that get a row even with no order and no customer (e.g. every grid of the
        tier).
    as_of
        The moment the records describe (open faults past the limit, running outages);
        default the latest time in the orders.
    settings
        ``repair_limit_s`` is the on-site limit.

    Returns
    -------
    pandas.DataFrame
        One row per (group, period), sorted by group (unassigned last) and period; columns
        ``by``, ``period``, ``period_start``, ``period_end`` and the figures of
        :data:`FIGURE_LABELS`.

    Raises
    ------
    MissingColumnError
        If ``kind`` or ``reported_at`` is missing.
    InputError
        If an option is not valid, a period label is not understood, a time cannot be read,
        or an order has no ``reported_at``.
    """
    check_choice(by, GROUPINGS, "by")
    per_group: Mapping[str, CustomersInput] | pd.DataFrame | None
    if customers is None or isinstance(customers, pd.DataFrame):
        per_group = customers
    else:
        per_group = {by: customers}
    return service_figures_by(
        orders,
        by=(by,),
        customers=per_group,
        period=period,
        periods=periods,
        groups=None if groups is None else {by: groups},
        as_of=as_of,
        settings=settings,
    )[by]


def service_figures_by(
    orders: pd.DataFrame,
    *,
    by: Sequence[Grouping] = GRID_GROUPINGS,
    customers: pd.DataFrame | Mapping[str, pd.DataFrame | CustomersInput] | None = None,
    period: Period = "month",
    periods: Sequence[str] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    as_of: pd.Timestamp | None = None,
    settings: ServiceSettings = DEFAULT_SETTINGS,
) -> dict[str, pd.DataFrame]:
    """:func:`service_figures` for several groupings at once (the per-order work done once).

    Parameters
    ----------
    orders, period, periods, as_of, settings
        As for :func:`service_figures`.
    by
        The groupings, each one of :data:`GROUPINGS`; default the three grid tiers.
    customers
        The customers layer (for the grid tiers), or grouping → the customers layer or the
        customers per group, or None.
    groups
        Grouping → group ids that get a row even without orders or customers.

    Returns
    -------
    dict
        Grouping → the table :func:`service_figures` returns for it.
    """
    wanted = [check_choice(b, GROUPINGS, "by") for b in by]
    check_choice(period, PERIODS, "period")
    rows = _prepare(orders, period=period, periods=periods, as_of=as_of, settings=settings)
    out = {}
    for grouping in wanted:
        if customers is None or isinstance(customers, pd.DataFrame):
            per_group = _customers_per_group(customers, grouping)
        else:
            per_group = _customers_per_group(customers.get(grouping), grouping)
        extra = None if groups is None else groups.get(grouping)
        out[grouping] = _figures(rows, _text(orders, grouping), grouping, per_group, extra)
    return out


@dataclass(frozen=True)
class _Rows:
    """The per-order work shared by every grouping: periods, flags, durations, outage pieces."""

    period: Period
    all_periods: bool  # no periods asked for: drop the periods without records
    calendar: np.ndarray  # period starts, naive China time
    cal_end: np.ndarray
    period_of_row: np.ndarray  # index into the calendar, -1 outside it
    counts: dict[str, np.ndarray]  # figure -> the orders it counts (bool per order)
    sorted_values: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (rows, values) by value
    piece_row: np.ndarray  # outage pieces: the order, the period, customer-hours, unplanned
    piece_p: np.ndarray
    piece_weight: np.ndarray
    piece_unplanned: np.ndarray
    start_row: np.ndarray  # outages by the period they started in
    start_p: np.ndarray
    start_affected: np.ndarray
    start_unplanned: np.ndarray


def _prepare(
    orders: pd.DataFrame,
    *,
    period: Period,
    periods: Sequence[str] | None,
    as_of: pd.Timestamp | None,
    settings: ServiceSettings,
) -> _Rows:
    check_columns(
        orders,
        REQUIRED_COLUMNS,
        "work orders",
        fix="read them from the workspace's work_orders layer",
    )
    n = len(orders)
    times = {
        name: (
            _local_ns(orders[name], name)
            if name in orders
            else np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        )
        for name in (*TIME_COLUMNS, "outage_start", "outage_end")
    }
    reported = times["reported_at"]
    if np.isnat(reported).any():
        bad = int(np.isnat(reported).sum())
        msg = (
            f"{bad} 张工单没有受理时间 / {bad} order(s) without `reported_at`: every order needs "
            "its report time; fix or drop those records"
        )
        raise InputError(msg)
    if as_of is None:
        latest = [t.max() for t in times.values() if (~np.isnat(t)).any()]
        as_of_ns = max(latest) if latest else np.datetime64("NaT", "ns")
    else:
        as_of_ns = _local_ns(pd.Series([pd.Timestamp(as_of)]), "as_of")[0]

    kind = _text(orders, "kind").to_numpy(dtype=object)
    is_fault = kind == "fault"
    is_complaint = kind == "complaint"

    # outages: rows with a start and customers affected; a running one ends at as_of
    affected = _number(orders, "customers_affected")
    o_start = times["outage_start"]
    is_outage = ~np.isnat(o_start) & (affected > 0)
    o_end = times["outage_end"].copy()
    o_end[np.isnat(o_end)] = as_of_ns
    o_end = np.maximum(o_end, o_start)
    planned = column_flags(orders, "planned", YES_NO_WORDS)

    # the period calendar: requested, or every period from the first record to the last
    report_start = _period_start(reported, period)
    if periods is not None:
        starts = sorted(
            {parse_period(p, period)[1].tz_localize(None).to_datetime64() for p in periods}
        )
        calendar = np.array(starts, dtype="datetime64[ns]")
    elif n == 0:
        calendar = np.array([], dtype="datetime64[ns]")
    else:
        first = min(report_start.min(), _min_or(report_start, o_start[is_outage], period))
        last_time = max(reported.max(), o_end[is_outage].max() if is_outage.any() else first)
        calendar = _calendar(first, last_time, period)
    cal_end = np.array([_next_start(s, period) for s in calendar], dtype="datetime64[ns]")
    n_periods = len(calendar)
    period_of_row = np.searchsorted(calendar, report_start)
    in_calendar = (period_of_row < n_periods) & (
        calendar[np.minimum(period_of_row, n_periods - 1)] == report_start
    )
    period_of_row = np.where(in_calendar, period_of_row, -1)

    def seconds(later: str, earlier: np.ndarray) -> np.ndarray:
        diff = (times[later] - earlier).astype("timedelta64[ns]").astype(np.int64)
        out = diff / _NS_PER_S
        out[np.isnat(times[later]) | np.isnat(earlier)] = np.nan
        return out

    counts: dict[str, np.ndarray] = {"orders": np.ones(n, dtype=bool)}
    for code in ORDER_KINDS:
        counts[f"n_{code}"] = kind == code
    source = _text(orders, "source").to_numpy(dtype=object)
    for code in ORDER_SOURCES:
        counts[f"src_{code}"] = source == code

    # on site within the limit
    arrival_s = seconds("arrived_at", reported)
    limit_s = settings.repair_limit_s
    arrived = is_fault & np.isfinite(arrival_s)
    open_fault = is_fault & np.isnat(times["arrived_at"]) & np.isnat(times["closed_at"])
    waited_s = (as_of_ns - reported).astype("timedelta64[ns]").astype(np.int64) / _NS_PER_S
    counts["faults"] = is_fault
    counts["faults_arrived"] = arrived
    counts["faults_open_late"] = open_fault & (waited_s > limit_s)
    counts["faults_on_time"] = arrived & (arrival_s <= limit_s)

    # predicted against actual travel, repair
    departed = times["departed_at"]
    travel_from = np.where(np.isnat(departed), times["dispatched_at"], departed)
    actual_s = seconds("arrived_at", travel_from)
    predicted_s = _number(orders, "predicted_eta_s")
    has_eta = is_fault & np.isfinite(actual_s) & (predicted_s > 0)
    counts["eta_orders"] = has_eta
    repair_s = seconds("repaired_at", times["arrived_at"])
    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "arrival": (arrived, arrival_s),
            "eta_diff": (has_eta, actual_s - predicted_s),
            "eta_ratio": (has_eta, actual_s / predicted_s),
            "repair": (is_fault & np.isfinite(repair_s), repair_s),
        }
    sorted_values = {}
    for name, (mask, value) in values.items():
        rows_ = np.flatnonzero(mask & (period_of_row >= 0))
        order = np.argsort(value[rows_], kind="stable")
        sorted_values[name] = (rows_[order], value[rows_][order])

    # complaints and callbacks
    closed = ~np.isnat(times["closed_at"])
    first_time = column_flags(orders, "first_time", YES_NO_WORDS)
    repeat = (_text(orders, "repeat_of") != "").to_numpy()
    counts["complaints"] = is_complaint
    counts["complaints_closed"] = is_complaint & closed
    counts["complaints_first_time"] = is_complaint & closed & first_time
    counts["repeat_complaints"] = is_complaint & repeat
    satisfaction = _text(orders, "satisfaction").to_numpy(dtype=object)
    counts["callbacks"] = np.isin(satisfaction, list(SATISFACTION))
    counts["satisfied"] = np.isin(satisfaction, ["satisfied", "basic"])

    # outages: hours split at period boundaries, interruptions in the period they started
    rows = np.flatnonzero(is_outage)
    empty_i = np.zeros(0, dtype=np.int64)
    piece_row, piece_p, start_row, start_p = empty_i, empty_i, empty_i, empty_i
    piece_weight = np.zeros(0)
    if len(rows) and n_periods:
        start, end = o_start[rows], o_end[rows]
        first_p = np.maximum(np.searchsorted(calendar, start, side="right") - 1, 0)
        last_p = np.searchsorted(calendar, end, side="left") - 1
        last_p = np.minimum(np.maximum(last_p, first_p), n_periods - 1)
        spans = np.maximum(last_p - first_p + 1, 0)
        piece = np.repeat(np.arange(len(rows)), spans)
        piece_p = first_p[piece] + (
            np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans, spans)
        )
        lo = np.maximum(start[piece], calendar[piece_p])
        hi = np.minimum(end[piece], cal_end[piece_p])
        hours = np.clip((hi - lo).astype("timedelta64[ns]").astype(np.int64), 0, None) / _NS_PER_H
        piece_row = rows[piece]
        piece_weight = affected[piece_row] * hours
        started = _period_start(start, period)
        sp = np.searchsorted(calendar, started)
        ok = (sp < n_periods) & (calendar[np.minimum(sp, n_periods - 1)] == started)
        start_row, start_p = rows[ok], sp[ok]
    return _Rows(
        period=period,
        all_periods=periods is None,
        calendar=calendar,
        cal_end=cal_end,
        period_of_row=period_of_row,
        counts=counts,
        sorted_values=sorted_values,
        piece_row=piece_row,
        piece_p=piece_p,
        piece_weight=piece_weight,
        piece_unplanned=~planned[piece_row],
        start_row=start_row,
        start_p=start_p,
        start_affected=affected[start_row],
        start_unplanned=~planned[start_row],
    )


def _figures(
    rows: _Rows,
    group_text: pd.Series,
    by: Grouping,
    per_group: pd.Series | None,
    groups: Sequence[str] | None,
) -> pd.DataFrame:
    """The figures of one grouping from the shared per-order work."""
    empty_label = NOT_LOCATED if by in GRID_GROUPINGS else UNASSIGNED
    group_text = group_text.mask(group_text == "", empty_label)
    names = set(pd.unique(group_text.to_numpy(dtype=object)))
    if per_group is not None:
        names |= set(per_group.index)
    if groups is not None:
        names |= {str(g) for g in groups}
    ordered = sorted(names - {empty_label}) + ([empty_label] if empty_label in names else [])
    group_index = pd.Index(ordered)
    group_of_row = group_index.get_indexer(group_text.to_numpy(dtype=object))
    calendar, cal_end = rows.calendar, rows.cal_end
    n_groups, n_periods = len(group_index), len(calendar)
    n_keys = n_groups * n_periods
    period_of_row = rows.period_of_row
    key = np.where(period_of_row >= 0, group_of_row * n_periods + period_of_row, -1)
    used = key >= 0
    key_used = key[used]

    cols: dict[str, np.ndarray] = {}
    for name, mask in rows.counts.items():
        cols[name] = np.bincount(key_used[mask[used]], minlength=n_keys).astype(float)

    def quantiles(name: str, qs: tuple[float, ...]) -> list[np.ndarray]:
        order_rows, values = rows.sorted_values[name]
        k = key[order_rows]
        by_key = np.argsort(k, kind="stable")  # values stay sorted within each key
        return _sorted_quantiles(k[by_key], values[by_key], n_keys, qs)

    cols["on_time_rate"] = _ratio(
        cols["faults_on_time"], cols["faults_arrived"] + cols["faults_open_late"]
    )
    cols["arrival_median_s"], cols["arrival_p90_s"] = quantiles("arrival", (0.5, 0.9))
    (cols["eta_diff_median_s"],) = quantiles("eta_diff", (0.5,))
    (cols["eta_ratio_median"],) = quantiles("eta_ratio", (0.5,))
    (cols["repair_median_s"],) = quantiles("repair", (0.5,))
    cols["first_time_rate"] = _ratio(cols["complaints_first_time"], cols["complaints_closed"])
    customers_col = np.full(n_keys, np.nan)
    if per_group is not None:
        per = per_group.reindex(group_index).fillna(0.0).to_numpy(dtype=float)
        customers_col = np.repeat(per, n_periods)
    cols["complaints_per_10k"] = _ratio(cols["complaints"] * 10_000, customers_col)
    cols["repeat_complaints_per_10k"] = _ratio(cols["repeat_complaints"] * 10_000, customers_col)
    cols["satisfaction_rate"] = _ratio(cols["satisfied"], cols["callbacks"])

    piece_key = group_of_row[rows.piece_row] * n_periods + rows.piece_p
    unpl = rows.piece_unplanned
    hours_all = np.bincount(piece_key, weights=rows.piece_weight, minlength=n_keys)
    hours_unplanned = np.bincount(
        piece_key[unpl], weights=rows.piece_weight[unpl], minlength=n_keys
    )
    start_key = group_of_row[rows.start_row] * n_periods + rows.start_p
    u = rows.start_unplanned
    outage_count = np.bincount(start_key, minlength=n_keys).astype(float)
    inter_all = np.bincount(start_key, weights=rows.start_affected, minlength=n_keys)
    inter_unplanned = np.bincount(start_key[u], weights=rows.start_affected[u], minlength=n_keys)
    period_hours = (cal_end - calendar).astype("timedelta64[ns]").astype(np.int64) / _NS_PER_H
    hours_col = np.tile(period_hours, n_groups)
    cols["outages"] = outage_count
    cols["customer_interruptions"] = inter_all
    cols["customer_hours"] = hours_all
    cols["customer_hours_unplanned"] = hours_unplanned
    cols["period_hours"] = hours_col
    cols["rs1"] = 1.0 - _ratio(hours_all, customers_col * hours_col)
    cols["rs3"] = 1.0 - _ratio(hours_unplanned, customers_col * hours_col)
    cols["saidi_h"] = _ratio(hours_all, customers_col)
    cols["saifi"] = _ratio(inter_all, customers_col)
    cols["saidi_unplanned_h"] = _ratio(hours_unplanned, customers_col)
    cols["saifi_unplanned"] = _ratio(inter_unplanned, customers_col)

    # a period without any record has no rates (and is left out unless it was asked for)
    period_orders = np.bincount(period_of_row[period_of_row >= 0], minlength=n_periods)
    period_outages = np.bincount(rows.piece_p, weights=rows.piece_weight, minlength=n_periods)
    period_outages += np.bincount(rows.start_p, minlength=n_periods)
    empty_period = np.tile((period_orders == 0) & (period_outages == 0), n_groups)
    labels = [_label(s, rows.period) for s in calendar]
    out = pd.DataFrame(
        {
            by: np.repeat(group_index.to_numpy(dtype=object), n_periods),
            "period": np.tile(np.array(labels, dtype=object), n_groups),
            "period_start": pd.DatetimeIndex(np.tile(calendar, n_groups)).tz_localize(TIMEZONE),
            "period_end": pd.DatetimeIndex(np.tile(cal_end, n_groups)).tz_localize(TIMEZONE),
            "customers": customers_col,
        }
    )
    for name in _FIGURE_ORDER:
        values = cols[name]
        if name not in _COUNT_COLUMNS and name != "period_hours":
            values = np.where(empty_period, np.nan, values)
        out[name] = values.astype(np.int64) if name in _COUNT_COLUMNS else values
    if rows.all_periods:
        out = out[~empty_period].reset_index(drop=True)
    return out


def _sorted_quantiles(
    keys: np.ndarray, values: np.ndarray, n_keys: int, qs: tuple[float, ...]
) -> list[np.ndarray]:
    """Quantiles ``qs`` per key of values sorted by key, then value (linear interpolation)."""
    counts = np.bincount(keys, minlength=n_keys)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    out = []
    for q in qs:
        result = np.full(n_keys, np.nan)
        pos = starts[has] + q * (counts[has] - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.ceil(pos).astype(np.int64)
        result[has] = values[lo] + (values[hi] - values[lo]) * (pos - lo)
        out.append(result)
    return out


_COUNT_COLUMNS = frozenset(
    {
        "orders",
        *(f"n_{c}" for c in ORDER_KINDS),
        *(f"src_{c}" for c in ORDER_SOURCES),
        "faults",
        "faults_arrived",
        "faults_open_late",
        "faults_on_time",
        "eta_orders",
        "complaints",
        "complaints_closed",
        "complaints_first_time",
        "repeat_complaints",
        "callbacks",
        "satisfied",
        "outages",
    }
)

# the figure columns in the order of FIGURE_LABELS (after the group, period and customers)
_FIGURE_ORDER = tuple(list(FIGURE_LABELS)[list(FIGURE_LABELS).index("orders") :])


def _min_or(report_start: np.ndarray, outage_start: np.ndarray, period: Period) -> np.datetime64:
    if len(outage_start) == 0:
        return report_start.min()
    return _period_start(outage_start, period).min()


def _calendar(first: np.datetime64, last_time: np.datetime64, period: Period) -> np.ndarray:
    """Every period from the one starting at ``first`` to the one holding ``last_time``."""
    starts = [first]
    while True:
        nxt = _next_start(starts[-1], period)
        if nxt > last_time:
            break
        starts.append(nxt)
    return np.array(starts, dtype="datetime64[ns]")
