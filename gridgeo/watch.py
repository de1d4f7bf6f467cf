"""Seasonal peaks and remote areas: faults against each grid's own baseline, and 重点巡查.

Seasonal peaks (:func:`fault_peaks`)
------------------------------------
Fault orders (故障报修) are counted per grid (``grid_t3`` by default) and period (ISO week
``2026-W48`` or month ``2026-11``, by ``reported_at`` in China's time zone), with zeros for the
periods without faults between the first and the last period of the records. A period belongs
to a season when any of its days does. The seasons (:data:`SEASONS`, a county passes its own):

===================  ==============  ==========================================================
code                 label           days
===================  ==============  ==========================================================
``summer``           迎峰度夏        July and August
``winter``           迎峰度冬        December and January
``spring_festival``  春节返乡        the fortnight from 7 days before 春节 (初一) to 6 days after,
                                     from the date table :data:`SPRING_FESTIVAL`
``tea``              采茶制茶        April (tea picking and roasting)
``tangerine``        蜜桔采摘        October and November (南丰蜜桔 harvest and cold storage)
===================  ==============  ==========================================================

A grid's **baseline** is the median of its fault counts over the off-season periods (those
touching no season), so seasonal loads do not raise the bar and one off-season spike does not
move it much; a grid whose records hold no off-season period takes the median of all its
periods. The baseline is taken over the periods of the table (``start`` to ``end`` when given).
A period is a **peak** when ``faults ≥ min_faults`` and
``faults ≥ peak_factor × baseline``; a peak inside a season is a seasonal peak, one outside
every season is an unexpected one (worth a look of its own).

Watch list (:func:`watch_list`)
-------------------------------
For every village grid (``grid_t3``) and every village (township + village name), over the
fault orders of one month (or of all records):

- **weak predicted reach** (预测可达性弱): the share of its customers whose predicted repair is
  not within the promise (``repair_ok`` False) is at least ``weak_share`` (default 20 %), or
  the median predicted repair time ``repair_eta_s`` is above ``repair_limit_s``;
- **many faults** (故障多): at least ``min_faults`` faults and faults per 1,000 customers at
  least ``rate_factor`` (default 1.5) times the county's rate over the same orders
  (all fault orders / all customers × 1,000);
- **slow arrivals** (实际到达慢): the median of ``arrived_at − reported_at`` over its fault
  orders with an arrival is above ``repair_limit_s``, and at least ``min_arrivals`` (default
  3) of its faults have an arrival: one or two late arrivals are not a pattern, so below
  that the unit is never claimed slow (it may still be listed for weak reach and many
  faults).

A unit is on the watch list (重点巡查) when its reach is weak **and** it has many faults or slow
arrivals. The list is ranked by the number of conditions met (more first), then faults per
1,000 customers (higher first), then the unreachable share (higher first), then the median
arrival (slower first), then grids before villages, then the unit's id; each row says its
reason in Chinese.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from gridgeo._validate import as_text as _text
from gridgeo._validate import check_columns
from gridgeo.errors import InputError, NotFoundError
from gridgeo.orders import order_times_utc, read_orders
from gridgeo.performance import period_bounds, period_labels
from gridgeo.settings import DEFAULT_SETTINGS, ServiceSettings, check_choice
from gridgeo.workspace import ACCESS_LAYER, CUSTOMERS_LAYER, read_access

__all__ = [
    "PERIODS",
    "SEASONS",
    "SPRING_FESTIVAL",
    "WATCH_COLUMNS",
    "WATCH_LEVELS",
    "Period",
    "Season",
    "WatchResult",
    "fault_peaks",
    "spring_festival_season",
    "watch_list",
    "workspace_watch",
]

Period = Literal["week", "month"]
PERIODS: tuple[Period, ...] = get_args(Period)

# 春节 (初一) by year; extend the table for later years
SPRING_FESTIVAL: Mapping[int, dt.date] = MappingProxyType(
    {
        2020: dt.date(2020, 1, 25),
        2021: dt.date(2021, 2, 12),
        2022: dt.date(2022, 2, 1),
        2023: dt.date(2023, 1, 22),
        2024: dt.date(2024, 2, 10),
        2025: dt.date(2025, 1, 29),
        2026: dt.date(2026, 2, 17),
        2027: dt.date(2027, 2, 6),
        2028: dt.date(2028, 1, 26),
        2029: dt.date(2029, 2, 13),
        2030: dt.date(2030, 2, 3),
    }
)


@dataclass(frozen=True)
class Season:
    """A season of extra load: whole months, or day windows (inclusive) such as 春节.

    Parameters
    ----------
    label
        The Chinese name shown to users.
    months
        Months (1-12) that belong to the season every year.
    windows
        ``(first day, last day)`` pairs, both inclusive.
    """

    label: str
    months: tuple[int, ...] = ()
    windows: tuple[tuple[dt.date, dt.date], ...] = ()

    def __post_init__(self) -> None:
        if any(not isinstance(m, int) or not 1 <= m <= 12 for m in self.months):
            msg = f"season {self.label!r}: months must be 1-12, got {self.months!r}"
            raise InputError(msg)
        if any(last < first for first, last in self.windows):
            msg = f"season {self.label!r}: a window ends before it starts: {self.windows!r}"
            raise InputError(msg)

    def contains(self, days: pd.DatetimeIndex) -> np.ndarray:
        """Whether each day (a date, no time zone) is in the season."""
        inside = np.isin(days.month, self.months)
        for first, last in self.windows:
            inside |= (days >= pd.Timestamp(first)) & (days <= pd.Timestamp(last))
        return np.asarray(inside, dtype=bool)


def spring_festival_season(
    table: Mapping[int, dt.date] = SPRING_FESTIVAL, *, before_days: int = 7, after_days: int = 6
) -> Season:
    """The 春节 season: from ``before_days`` before 初一 to ``after_days`` after, each year of
    ``table`` (a fortnight by default)."""
    windows = tuple(
        (day - dt.timedelta(days=before_days), day + dt.timedelta(days=after_days))
        for _, day in sorted(table.items())
    )
    return Season("春节返乡", windows=windows)


SEASONS: Mapping[str, Season] = MappingProxyType(
    {
        "summer": Season("迎峰度夏", months=(7, 8)),
        "winter": Season("迎峰度冬", months=(12, 1)),
        "spring_festival": spring_festival_season(),
        "tea": Season("采茶制茶", months=(4,)),
        "tangerine": Season("蜜桔采摘", months=(10, 11)),
    }
)

WATCH_COLUMNS = (
    "rank",
    "level",
    "unit_id",
    "name",
    "grid_id",
    "town",
    "village",
    "customers",
    "unreachable_share",
    "median_eta_s",
    "faults",
    "faults_per_1000",
    "county_faults_per_1000",
    "arrivals",
    "median_arrival_s",
    "weak_reach",
    "many_faults",
    "slow_arrivals",
    "watch",
    "reason",
)
WATCH_LEVELS: Mapping[str, str] = MappingProxyType({"grid": "网格", "village": "村"})


# the ranking rule of the module docstring, in order
_RANK_KEYS = [
    "watch",
    "_conditions",
    "faults_per_1000",
    "unreachable_share",
    "median_arrival_s",
    "_level",
    "unit_id",
]


def _faults(orders: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The fault orders and their reported times (UTC)."""
    check_columns(orders, ("kind", "reported_at"), "work orders")
    orders = orders.reset_index(drop=True)  # one row per label: times and rows align
    faults = orders[_text(orders["kind"]).to_numpy() == "fault"]
    return faults, order_times_utc(faults["reported_at"], "reported_at")


def _period_bound(label: str, period: Period) -> pd.Timestamp:
    return period_bounds(label, period)[0].tz_localize(None)


def fault_peaks(
    orders: pd.DataFrame,
    *,
    period: Period = "month",
    seasons: Mapping[str, Season] = SEASONS,
    peak_factor: float = 1.5,
    min_faults: int = 3,
    grid_column: str = "grid_t3",
    start: str | None = None,
    end: str | None = None,
) -> pd.DataFrame:
    """Fault orders per grid and period against the grid's own baseline, peaks flagged.

    Parameters
    ----------
    orders
        Work orders (``kind``, ``reported_at`` timezone-aware, ``grid_column``).
    period
        ``"week"`` (ISO weeks) or ``"month"``, in China's time zone.
    seasons
        Code → :class:`Season`; default :data:`SEASONS`.
    peak_factor, min_faults
        A peak has at least ``min_faults`` faults and ``peak_factor`` × the baseline.
    grid_column
        The grid id column the faults are counted by (``grid_t1``, ``grid_t2``, ``grid_t3``).
    start, end
        The first and last period (``2026-01`` or ``2026-W02``, as ``period``); default the
        first and last period of the fault orders.

    Returns
    -------
    pandas.DataFrame
        One row per grid and period: ``grid_id``, ``period`` (label), ``start`` (first day),
        ``faults``, ``baseline``, ``ratio`` (faults / baseline; inf when the baseline is 0),
        ``seasons`` (labels joined by ``、``), ``peak``, ``seasonal_peak``; sorted by grid
        and period. Orders without a grid id are not counted.

    Raises
    ------
    InputError
        If ``period``, ``peak_factor``, ``min_faults`` or a period label is not usable.
    MissingColumnError
        If ``orders`` lacks a column used.
    """
    check_choice(period, PERIODS, "period")
    if not peak_factor > 0 or isinstance(min_faults, bool) or int(min_faults) != min_faults:
        msg = (
            "`peak_factor` must be > 0 and `min_faults` a whole number, got "
            f"{peak_factor!r} and {min_faults!r}"
        )
        raise InputError(msg)
    check_columns(orders, (grid_column,), "work orders")
    faults, reported = _faults(orders)
    fault_labels = period_labels(reported, period)
    first_day = {label: _period_bound(label, period) for label in fault_labels.dropna().unique()}
    starts = pd.DatetimeIndex(pd.to_datetime(fault_labels.map(first_day)))
    grid = _text(faults[grid_column]).to_numpy()
    keep = (grid != "") & ~pd.isna(starts)
    counted = pd.DataFrame({"grid_id": grid[keep], "start": starts[keep]})

    first = _period_bound(start, period) if start else counted["start"].min()
    last = _period_bound(end, period) if end else counted["start"].max()
    columns = ["grid_id", "period", "start", "faults", "baseline", "ratio", "seasons", "peak"]
    if pd.isna(first) or pd.isna(last) or last < first:
        return pd.DataFrame(columns=[*columns, "seasonal_peak"])
    freq = "MS" if period == "month" else "7D"
    all_starts = pd.date_range(first, last, freq=freq)
    labels = period_labels(pd.Series(all_starts), period).tolist()  # naive: China time
    season_labels = []
    for day in all_starts:
        stop = day + (pd.offsets.MonthBegin(1) if period == "month" else pd.Timedelta(days=7))
        days = pd.date_range(day, stop - pd.Timedelta(days=1), freq="D")
        season_labels.append("、".join(s.label for s in seasons.values() if s.contains(days).any()))
    grids = sorted(set(counted["grid_id"]))
    index = pd.MultiIndex.from_product([grids, all_starts], names=["grid_id", "start"])
    table = (
        counted.groupby(["grid_id", "start"]).size().reindex(index, fill_value=0).rename("faults")
    ).reset_index()
    table["period"] = np.tile(labels, len(grids))
    table["seasons"] = np.tile(season_labels, len(grids))
    off = table["seasons"] == ""
    off_median = table[off].groupby("grid_id")["faults"].median()
    all_median = table.groupby("grid_id")["faults"].median()
    baseline = off_median.reindex(all_median.index).fillna(all_median)
    table["baseline"] = table["grid_id"].map(baseline).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["ratio"] = table["faults"] / table["baseline"]
    table["peak"] = (table["faults"] >= min_faults) & (
        table["faults"] >= peak_factor * table["baseline"]
    )
    table["seasonal_peak"] = table["peak"] & ~off
    table["start"] = table["start"].dt.date
    return table[[*columns, "seasonal_peak"]]


def _unit_stats(
    customers: pd.DataFrame,
    faults: pd.DataFrame,
    waits_s: pd.Series,
    keys: list[str],
) -> pd.DataFrame:
    """Customers, reach and faults per unit (the ``keys`` columns)."""
    ok = customers["repair_ok"].fillna(False).astype(bool)
    cust = (
        customers.assign(_unreachable=~ok, _eta=pd.to_numeric(customers["repair_eta_s"]))
        .groupby(keys)
        .agg(
            customers=("_unreachable", "size"),
            unreachable_share=("_unreachable", "mean"),
            median_eta_s=("_eta", "median"),
        )
    )
    fault_stats = (
        faults.assign(_wait=waits_s)
        .groupby(keys)
        .agg(
            faults=("_wait", "size"),
            arrivals=("_wait", "count"),
            median_arrival_s=("_wait", "median"),
        )
    )
    table = cust.join(fault_stats, how="outer")
    table[["customers", "faults", "arrivals"]] = (
        table[["customers", "faults", "arrivals"]].fillna(0).astype(np.int64)
    )
    return table.reset_index()


def watch_list(
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    grids: pd.DataFrame | None = None,
    month: str | None = None,
    settings: ServiceSettings = DEFAULT_SETTINGS,
    weak_share: float = 0.2,
    rate_factor: float = 1.5,
    min_faults: int = 2,
    min_arrivals: int = 3,
    all_units: bool = False,
) -> pd.DataFrame:
    """The grids and villages to patrol (重点巡查), ranked, with their reasons.

    Parameters
    ----------
    orders
        Work orders (``kind``, ``reported_at``, ``arrived_at``, ``grid_t3``, ``town``,
        ``village``); times timezone-aware.
    customers
        Customers with their predicted access: ``customer_id``, ``grid_t3``, ``town``,
        ``village``, ``repair_ok``, ``repair_eta_s``.
    grids
        The grids layer, for the grids' names (optional).
    month
        ``YYYY-MM`` in China's time zone; default every order.
    settings
        The repair promise ``repair_limit_s``.
    weak_share, rate_factor, min_faults
        The thresholds of the module docstring.
    min_arrivals
        The fewest fault orders with an arrival on which slow arrivals are claimed (default 3).
    all_units
        Return every grid and village (``watch`` says which are on the list), not only the
        list.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`WATCH_COLUMNS`, ranked (``rank`` 1, 2, ...; 0 for units not on the
        list, after the list).

    Raises
    ------
    InputError
        If ``month`` or a threshold is not usable.
    MissingColumnError
        If ``orders`` or ``customers`` lacks a column used.
    """
    if not 0 < weak_share <= 1 or not rate_factor > 0 or not min_faults >= 0:
        msg = (
            "`weak_share` must be in (0, 1], `rate_factor` > 0 and `min_faults` >= 0, got "
            f"{weak_share!r}, {rate_factor!r}, {min_faults!r}"
        )
        raise InputError(msg)
    whole = isinstance(min_arrivals, int | np.integer) and not isinstance(min_arrivals, bool)
    if not whole or min_arrivals < 1:
        msg = f"`min_arrivals` must be a whole number >= 1, got {min_arrivals!r}"
        raise InputError(msg)
    check_columns(
        customers,
        ("customer_id", "grid_t3", "town", "village", "repair_ok", "repair_eta_s"),
        "customers",
    )
    check_columns(orders, ("arrived_at", "grid_t3", "town", "village"), "work orders")
    faults, reported = _faults(orders)
    if month is not None:
        first, stop = period_bounds(month, "month")
        inside = ((reported >= first) & (reported < stop)).to_numpy()
        faults, reported = faults[inside], reported[inside]
    arrived = order_times_utc(faults["arrived_at"], "arrived_at")
    waits = (arrived - reported).dt.total_seconds()
    limit = settings.repair_limit_s

    cust = pd.DataFrame(customers).copy()
    fault_frame = pd.DataFrame(faults).copy()
    for frame in (cust, fault_frame):
        for column in ("grid_t3", "town", "village"):
            frame[column] = _text(frame[column])
    n_customers = len(cust)
    county_rate = 1000.0 * len(faults) / n_customers if n_customers else np.nan

    grid_names: dict[str, str] = {}
    if grids is not None and "name" in grids:
        grid_names = dict(zip(_text(grids["grid_id"]), _text(grids["name"]), strict=True))
    parts = []
    by_grid = _unit_stats(
        cust[cust["grid_t3"] != ""], fault_frame[fault_frame["grid_t3"] != ""], waits, ["grid_t3"]
    )
    by_grid = by_grid.rename(columns={"grid_t3": "grid_id"})
    by_grid["level"] = "grid"
    by_grid["unit_id"] = by_grid["grid_id"]
    by_grid["name"] = by_grid["grid_id"].map(lambda g: grid_names.get(g, g))
    by_grid[["town", "village"]] = ""
    parts.append(by_grid)
    named = cust["village"] != ""
    by_village = _unit_stats(
        cust[named], fault_frame[fault_frame["village"] != ""], waits, ["town", "village"]
    )
    by_village["level"] = "village"
    by_village["unit_id"] = by_village["town"] + "|" + by_village["village"]
    by_village["name"] = by_village["town"] + by_village["village"]
    village_grid = (
        cust[named]
        .groupby(["town", "village"])["grid_t3"]
        .agg(lambda s: "、".join(sorted(set(s) - {""})))
    )
    by_village["grid_id"] = (
        pd.MultiIndex.from_frame(by_village[["town", "village"]])
        .map(village_grid.to_dict().get)
        .fillna("")
    )
    parts.append(by_village)
    table = pd.concat(parts, ignore_index=True)

    with np.errstate(divide="ignore", invalid="ignore"):
        per_1000 = 1000.0 * table["faults"] / table["customers"].where(table["customers"] > 0)
    table["faults_per_1000"] = per_1000
    table["county_faults_per_1000"] = county_rate
    table["weak_reach"] = (table["customers"] > 0) & (
        (table["unreachable_share"] >= weak_share) | (table["median_eta_s"] > limit)
    )
    table["many_faults"] = (table["faults"] >= min_faults) & (
        table["faults_per_1000"] >= rate_factor * county_rate
    )
    table["slow_arrivals"] = (table["arrivals"] >= min_arrivals) & (
        table["median_arrival_s"] > limit
    )
    table["watch"] = table["weak_reach"] & (table["many_faults"] | table["slow_arrivals"])
    conditions = table[["weak_reach", "many_faults", "slow_arrivals"]].sum(axis=1)
    table["_conditions"] = conditions
    table["_level"] = (table["level"] == "village").astype(int)
    table = table.sort_values(
        _RANK_KEYS,
        ascending=[False, False, False, False, False, True, True],
        na_position="last",
        kind="mergesort",
    ).reset_index(drop=True)
    n_watch = int(table["watch"].sum())
    table["rank"] = np.where(table["watch"], np.arange(1, len(table) + 1), 0)
    table["reason"] = [_reason(row, limit) for row in table.to_dict("records")]
    if not all_units:
        table = table.iloc[:n_watch]
    return table[list(WATCH_COLUMNS)].reset_index(drop=True)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f}"


def _reason(row: Mapping[str, Any], limit_s: float) -> str:
    parts = []
    if row["weak_reach"]:
        parts.append(
            f"预测可达性弱：{row['unreachable_share']:.0%} 的客户 {_minutes(limit_s)} 分钟内"
            f"不可达，预测抢修时间中位 {_minutes(row['median_eta_s'])} 分钟"
        )
    if row["many_faults"]:
        parts.append(
            f"故障多：{row['faults']} 起，每千户 {row['faults_per_1000']:.1f} 起"
            f"（全县 {row['county_faults_per_1000']:.1f} 起）"
        )
    if row["slow_arrivals"]:
        parts.append(
            f"实际到达慢：到达现场中位 {_minutes(row['median_arrival_s'])} 分钟"
            f"（承诺 {_minutes(limit_s)} 分钟，{row['arrivals']} 单有到达时间）"
        )
    return "；".join(parts)


@dataclass(frozen=True)
class WatchResult:
    """The watch list and the seasonal peaks of a workspace (:func:`workspace_watch`).

    Attributes
    ----------
    month
        The month of the watch list (``2026-11``), or None for every order.
    watch
        :func:`watch_list` (the list only).
    peaks
        :func:`fault_peaks` by month over every order, peaks only (of ``month`` when given).
    """

    month: str | None
    watch: pd.DataFrame
    peaks: pd.DataFrame

    def lines(self, *, max_rows: int = 30) -> list[str]:
        """The list and the peaks as printed by the CLI (Chinese with English)."""
        span = self.month or "全部工单 / all orders"
        out = [f"重点巡查 / watch list ({span}): {len(self.watch)} 处 / units"]
        if self.watch.empty:
            out.append(
                "  无 / none: no grid or village has weak reach with many faults or slow arrivals"
            )
        for row in self.watch.head(max_rows).itertuples(index=False):
            level = WATCH_LEVELS[row.level]
            out.append(f"  {row.rank:>3d}. {level} {row.name} ({row.unit_id}): {row.reason}")
        if len(self.watch) > max_rows:
            out.append(
                f"  … {len(self.watch) - max_rows} more / 另有 {len(self.watch) - max_rows} 处"
            )
        out.append(
            "故障高峰 / fault peaks by month against each grid's off-season median "
            f"({len(self.peaks)}):"
        )
        for row in self.peaks.head(max_rows).itertuples(index=False):
            kind = (
                f"季节高峰 seasonal: {row.seasons}"
                if row.seasonal_peak
                else "非季节高峰 unexpected"
            )
            out.append(
                f"  {row.grid_id:<16s} {row.period}  故障 {row.faults} 起，基线 {row.baseline:g} 起"
                f" ({kind})"
            )
        if len(self.peaks) > max_rows:
            out.append(
                f"  … {len(self.peaks) - max_rows} more / 另有 {len(self.peaks) - max_rows} 个"
            )
        return out


def workspace_watch(
    store: Any, *, month: str | None = None, settings: ServiceSettings = DEFAULT_SETTINGS
) -> WatchResult:
    """The watch list and the monthly fault peaks of a workspace.

    Reads the work orders, the customers with their stored access (``customer_access``) and
    the grids; see :func:`watch_list` and :func:`fault_peaks`.

    Raises
    ------
    NotFoundError
        If the workspace has no work orders, customers or stored access (the message says
        which command makes them).
    """
    orders = pd.DataFrame(read_orders(store, required=True))
    layers = store.layers()
    name = store.path.name
    if CUSTOMERS_LAYER not in layers:
        msg = (
            f"工作区 {name!r} 没有客户档案 / workspace {name!r} has no customers: import them "
            f"with `gridgeo customers import FILE --workspace {name}`"
        )
        raise NotFoundError(msg)
    if ACCESS_LAYER not in layers:
        msg = (
            f"工作区 {name!r} 未计算服务水平 / workspace {name!r} has no stored service levels "
            f"({ACCESS_LAYER}): run `gridgeo run --workspace {name} --out DIR` first"
        )
        raise NotFoundError(msg)
    customers, access = read_access(store)
    table = pd.DataFrame(
        {
            column: customers.get(column, "")
            for column in ("customer_id", "grid_t3", "town", "village")
        }
    )
    table["repair_ok"] = access["repair_ok"].to_numpy()
    table["repair_eta_s"] = pd.to_numeric(access["repair_eta_s"]).to_numpy()
    grids = pd.DataFrame(store.read("grids")) if "grids" in layers else None
    watch = watch_list(orders, table, grids=grids, month=month, settings=settings)
    peaks = fault_peaks(orders, period="month")
    peaks = peaks[peaks["peak"] & ((peaks["period"] == month) if month else True)]
    return WatchResult(month=month, watch=watch, peaks=peaks.reset_index(drop=True))
