"""A year of GENERATED work orders for the sample county (生成的示例工单, not real data).

The sample county has roads, customers and a roster but no records, so the service-loop
figures (arrival times, first-time resolution, reliability, 服务之星) would have nothing to
read. :func:`generate_work_orders` invents one year of work orders, 1 Dec 2025 to 30 Nov 2026
in China's time (:data:`YEAR_START`, :data:`YEAR_END`), consistent with the workspace's roads
and grids, and :func:`add_sample_orders` stores them as the versioned ``work_orders`` layer
(``gridgeo demo`` does this after the service levels are computed). Every record is
GENERATED: its ``result`` text ends with :data:`GENERATED_NOTE`, and the numbers below are
invented to be plausible, not measured anywhere.

The same inputs and seed give the same orders (one ``numpy.random.Generator``, inputs sorted
by their ids before any draw).

Which customers. Customers with a village, a tier-3 grid and a finite 30-minute repair ETA
(``customer_access.repair_eta_s``) report orders; the others (not located to a village, no
road reach) report none here.

Faults (故障报修). A customer's expected faults in a year are

    ``BASE_FAULT_RATE`` × category factor × line-age factor × hill factor × season sum

- :data:`BASE_FAULT_RATE` = 0.05 faults per customer and year (valley, 10-year-old line,
  outside the seasons);
- :data:`CATEGORY_FACTOR`: residential 1.0, commercial 1.3, agricultural 1.8 (pumps,
  orchards' cold stores), industrial 2.0;
- line age per village, drawn by the generator: ``LINE_AGE_MIN_Y + LINE_AGE_SPAN_Y × r +
  N(0, LINE_AGE_SD_Y)`` years, clipped to 3..40, where ``r`` (0..1) is the village's rank by
  the median repair ETA of its customers (older lines further out); factor ``0.5 + age/20``
  (10 years: 1.0, 30 years: 2.0);
- hills: factor ``1 + max(0, elevation_m - 150) / 500`` from the village's elevation;
- seasons (:data:`SEASONS`, local dates, ends included; a day's multiplier is the product of
  the seasons it is in, 1.0 outside them):

  - 冬季负荷高峰 winter peak: 15 Dec 2025 - 31 Jan 2026, × 1.5 (heating, ice);
  - 春节返乡 Spring Festival fortnight: 10 - 23 Feb 2026, × 1.7 (春节 17 Feb; migrant
    workers home);
  - 采茶制茶 tea picking and roasting: 1 - 30 Apr 2026, × 1.5;
  - 夏季负荷高峰 summer peak: 1 Jul - 31 Aug 2026, × 1.8 (air conditioning, storms);
  - 蜜桔采摘与冷库 tangerine harvest and cold storage: 15 Oct - 30 Nov 2026, × 1.5.

  The "season sum" is the year's multipliers summed over its days / 365 (about 1.33). A
  fault's day is drawn with probability proportional to the day's multiplier, its hour from
  :data:`HOUR_WEIGHTS` (evening peak).
- fault kind (:data:`FAULT_KIND_SHARE`): 高压 10 %, 低压 55 %, 客户内部 35 %;
- timeline: dispatched 2-8 min after the report to the customer's ``repair_station_id``
  with ``predicted_eta_s`` = its ``repair_eta_s``; departed 20-45 % of the turnout after
  dispatch; **arrived** = dispatched + :data:`TURNOUT_S` (5 min) + predicted ETA × ``f`` +
  the supply grid's delay + noise, ``f`` log-normal (median 1, σ :data:`ETA_FACTOR_SIGMA`),
  noise normal (σ :data:`ARRIVAL_NOISE_S`, lower tail cut at -turnout/2, which leaves its
  median 0). So the median of ``arrived - dispatched - predicted`` in a supply grid is the
  turnout plus that grid's delay. The delay per tier-2 grid (:func:`supply_grid_delays`):
  the tier-2 grids in id order take 0, 5, 10, 0, 5, 10, ... minutes
  (:data:`DELAY_CYCLE_MIN`), unless a table is passed;
- repaired after a log-normal duration (median :data:`REPAIR_MEDIAN_MIN`: 高压 150, 低压 75,
  客户内部 40 min, σ 0.5); closed 5-60 min later; called back 2-48 h after closing
  (:data:`CALLBACK_SHARE` = 95 % of orders, the others stay ``closed``);
- satisfaction at the callback: 不满意 3 % (+20 % when on site more than 30 min after the
  report), 基本满意 12 % (+10 %), else 满意;
- a repeat: :data:`REPEAT_SHARE` = 6 % of faults come back 1-20 days later (same customer,
  same fault kind; the first is then not settled the first time); a dissatisfied order is not
  settled the first time with probability 0.3;
- outages: a 高压 fault cuts the whole village (``customers_affected`` = the village's
  customers in the customers layer) from 2-15 min before the report until the repair.

Other orders (customers drawn uniformly among those above, days uniform over the year,
hours from :data:`HOUR_WEIGHTS`), per customer and year (:data:`OTHER_RATES`): 咨询 0.02,
服务申请 0.012, 催费/缴费 0.004, 表扬 0.002, 投诉 0.0015, 意见 0.0008, 建议 0.0006,
举报 0.0002. Besides: a complaint follows :data:`SLOW_COMPLAINT_SHARE` = 25 % of the faults
with the crew on site more than 45 min after the report (0.5-6 h after the repair); praise
follows :data:`FAST_PRAISE_SHARE` = 4 % of the faults on site within 20 min; 10 % of the
complaints not settled the first time come back 2-15 days later. Sources by kind:
:data:`SOURCE_SHARE` (mostly 95598, then 网格员 and 网上国网/微信).

What this gives on the bundled sample (30,000 customers, default seed): 4,364 orders, of
which 3,066 faults (about 0.1 per customer and year), 554 consultations, 359 service requests,
145 complaints (48 per 10,000 customers), 99 praises; 64 % of the crews on site within 30 min
of the report; SAIDI about 11 h per customer and year (10 h unplanned), SAIFI about 3.3, so
RS-1 about 99.87 %. Generating takes about half a second.

Planned outages (计划停电): :data:`PLANNED_PER_MONTH` = 2 a month, kind ``service_request``,
source ``other``, no customer (the village's point), ``planned`` True, the whole village off
from 08:00 local on a weekday for 4-8 h, notified 3-7 days before.

``repeat_of``: for every order, the latest earlier order of the same customer and kind
reported at most :data:`gridgeo.orders.REPEAT_WINDOW_DAYS` (30) days before it, "" if none.
``member``: a member of the customer's tier-3 grid (the grid's ``members`` roster, one per
village), the manager if the grid lists no member. ``crew``: ``<station_id>-<k>`` with ``k``
in 1..the station's ``crews``. ``order_id``: ``GD`` + local report date + a 4-digit number in
the order of the reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gridgeo._validate import check_columns
from gridgeo.errors import InputError, NotFoundError
from gridgeo.orders import ORDER_COLUMNS, REPEAT_WINDOW_DAYS, TIME_COLUMNS, TIMEZONE
from gridgeo.store import GeoPackageStore

__all__ = [
    "DEFAULT_SEED",
    "GENERATED_NOTE",
    "ORDERS_LAYER",
    "SEASONS",
    "Season",
    "add_sample_orders",
    "generate_work_orders",
    "season_multiplier",
    "supply_grid_delays",
]

ORDERS_LAYER = "work_orders"
DEFAULT_SEED = 20251201
YEAR_START = "2025-12-01"  # local (China) date, included
YEAR_END = "2026-12-01"  # local date, excluded
GENERATED_NOTE = "[生成的示例记录，非真实数据 / GENERATED sample record, not real data]"
STORE_REASON = "generated sample records (生成的示例工单)"
STEP_NAME = "示例工单 / sample work orders"


@dataclass(frozen=True)
class Season:
    """A seasonal peak: fault reports multiplied by ``factor`` from ``start`` to ``end``
    (local dates, both included)."""

    code: str
    label: str
    start: str
    end: str
    factor: float


SEASONS: tuple[Season, ...] = (
    Season("winter", "冬季负荷高峰 / winter peak", "2025-12-15", "2026-01-31", 1.5),
    Season("spring_festival", "春节返乡 / Spring Festival", "2026-02-10", "2026-02-23", 1.7),
    Season("tea", "采茶制茶 / tea picking", "2026-04-01", "2026-04-30", 1.5),
    Season("summer", "夏季负荷高峰 / summer peak", "2026-07-01", "2026-08-31", 1.8),
    Season("tangerine", "蜜桔采摘与冷库 / tangerine harvest", "2026-10-15", "2026-11-30", 1.5),
)

BASE_FAULT_RATE = 0.05  # faults per customer and year outside the seasons
CATEGORY_FACTOR = {"residential": 1.0, "commercial": 1.3, "agricultural": 1.8, "industrial": 2.0}
LINE_AGE_MIN_Y = 6.0
LINE_AGE_SPAN_Y = 24.0
LINE_AGE_SD_Y = 3.0
HILL_BASE_M = 150.0
HILL_SCALE_M = 500.0
# report hour weights (0..23 h local): quiet nights, a morning and a larger evening peak
HOUR_WEIGHTS = np.array(
    [1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 4, 4, 4, 4, 5, 6, 7, 7, 6, 4, 2, 1], dtype=float
)
FAULT_KIND_SHARE = {"hv": 0.10, "lv": 0.55, "customer_internal": 0.35}
REPAIR_MEDIAN_MIN = {"hv": 150.0, "lv": 75.0, "customer_internal": 40.0}
REPAIR_SIGMA = 0.5
TURNOUT_S = 300.0
ETA_FACTOR_SIGMA = 0.12
ARRIVAL_NOISE_S = 120.0
DELAY_CYCLE_MIN = (0.0, 5.0, 10.0)
CALLBACK_SHARE = 0.95
REPEAT_SHARE = 0.06
SLOW_COMPLAINT_S = 45 * 60
SLOW_COMPLAINT_SHARE = 0.25
FAST_PRAISE_S = 20 * 60
FAST_PRAISE_SHARE = 0.04
ON_SITE_LIMIT_S = 30 * 60
OTHER_RATES = {
    "consultation": 0.02,
    "service_request": 0.012,
    "payment": 0.004,
    "praise": 0.002,
    "complaint": 0.0015,
    "opinion": 0.0008,
    "suggestion": 0.0006,
    "report": 0.0002,
}
PLANNED_PER_MONTH = 2
_SOURCES = ("95598", "grid_member", "online", "onsite", "other")
SOURCE_SHARE = {
    "fault": (0.70, 0.17, 0.11, 0.01, 0.01),
    "complaint": (0.85, 0.0, 0.12, 0.0, 0.03),
    "praise": (0.40, 0.40, 0.20, 0.0, 0.0),
    "other": (0.55, 0.25, 0.18, 0.0, 0.02),
}
_RESULTS = {
    "hv": "高压线路故障，已抢修恢复供电",
    "lv": "低压线路故障，已修复",
    "customer_internal": "客户内部故障，已指导客户处理",
    "complaint": "投诉已核实处理并答复客户",
    "slow_complaint": "投诉抢修到达慢，已核实并致歉",
    "consultation": "咨询已答复",
    "service_request": "服务申请已办理",
    "payment": "缴费事项已办理",
    "praise": "表扬已登记",
    "opinion": "意见已登记并答复",
    "suggestion": "建议已登记并答复",
    "report": "举报已核查并答复",
    "planned": "计划停电检修，已按时恢复供电",
    "repeat": "同一故障再次报修，已彻底处理",
}
_CUSTOMER_COLUMNS = ("customer_id", "village_code", "grid_t1", "grid_t2", "grid_t3")
_ACCESS_COLUMNS = ("customer_id", "repair_eta_s", "repair_station_id")
_DAY_S = 86400.0
# the workspace layers the generator reads, in its arguments' order
_READS = ("customers", "customer_access", "grids", "repair_stations", "villages")


def season_multiplier(days: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """The fault multiplier of each local date (product of the :data:`SEASONS` it is in)."""
    d = pd.DatetimeIndex(days).tz_localize(None).normalize()
    out = np.ones(len(d))
    for s in SEASONS:
        inside = (d >= pd.Timestamp(s.start)) & (d <= pd.Timestamp(s.end))
        out[np.asarray(inside)] *= s.factor
    return out


def supply_grid_delays(grids: pd.DataFrame) -> dict[str, float]:
    """The default extra delay (minutes) per tier-2 grid: :data:`DELAY_CYCLE_MIN` in id order."""
    ids = sorted(grids.loc[grids["tier"].astype(int) == 2, "grid_id"].astype(str))
    return {g: DELAY_CYCLE_MIN[i % len(DELAY_CYCLE_MIN)] for i, g in enumerate(ids)}


def _choice(
    rng: np.random.Generator, codes: tuple[str, ...], p: tuple[float, ...], n: int
) -> np.ndarray:
    share = np.asarray(p, dtype=float)
    return np.asarray(codes, dtype=object)[rng.choice(len(codes), size=n, p=share / share.sum())]


def _customer_table(
    customers: pd.DataFrame,
    access: pd.DataFrame,
    grids: pd.DataFrame,
    villages: pd.DataFrame,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customers that report orders (sorted by id) and the villages with their line age."""
    cust = customers.sort_values("customer_id", kind="stable").reset_index(drop=True)
    cust["customer_id"] = cust["customer_id"].astype(str)
    acc = access[list(_ACCESS_COLUMNS)].copy()
    acc["customer_id"] = acc["customer_id"].astype(str)
    cust = cust.merge(acc.drop_duplicates("customer_id"), on="customer_id", how="left")
    vill = villages.sort_values("village_code", kind="stable").reset_index(drop=True)
    vill["village_code"] = vill["village_code"].astype(str)
    # customers per village, over the whole customers layer (an HV fault cuts them all)
    vill["n_customers"] = (
        vill["village_code"].map(cust["village_code"].astype(str).value_counts()).fillna(0)
    )
    eta = pd.to_numeric(cust["repair_eta_s"], errors="coerce")
    ok = (
        cust["village_code"].notna()
        & cust["village_code"].astype(str).isin(vill["village_code"])
        & cust["grid_t3"].notna()
        & (cust["grid_t3"].astype(str) != "")
        & np.isfinite(eta)
        & cust["repair_station_id"].notna()
    )
    cust = cust[ok.to_numpy()].reset_index(drop=True)
    cust["village_code"] = cust["village_code"].astype(str)
    cust["repair_eta_s"] = eta[ok.to_numpy()].to_numpy()

    # line age: older further out (rank of the village's median repair ETA)
    med = cust.groupby("village_code")["repair_eta_s"].median()
    r = vill["village_code"].map(med.rank(pct=True)).fillna(1.0).to_numpy()
    age = LINE_AGE_MIN_Y + LINE_AGE_SPAN_Y * r + rng.normal(0.0, LINE_AGE_SD_Y, len(vill))
    vill["line_age_y"] = np.clip(age, 3.0, 40.0)
    elev = pd.to_numeric(vill.get("elevation_m", pd.Series(0.0, index=vill.index)))
    vill["hill_factor"] = 1.0 + np.maximum(0.0, elev.fillna(0.0).to_numpy() - HILL_BASE_M) / (
        HILL_SCALE_M
    )

    # the member responsible: one of the tier-3 grid's members per village (by village order)
    roster = grids.set_index(grids["grid_id"].astype(str))
    members = roster["members"] if "members" in roster.columns else pd.Series("", roster.index)
    manager = roster["manager"] if "manager" in roster.columns else pd.Series("", roster.index)
    vpos = pd.Series(np.arange(len(vill)), index=vill["village_code"])
    pairs = cust[["grid_t3", "village_code"]].astype(str).drop_duplicates()
    who = {}
    for g, v in pairs.itertuples(index=False):  # one per (grid, village): a few hundred
        names = [n for n in str(members.get(g, "") or "").split("、") if n and n != "nan"]
        m = manager.get(g, "")
        fallback = "" if pd.isna(m) else str(m)
        who[(g, v)] = names[int(vpos[v]) % len(names)] if names else fallback
    keys = pd.MultiIndex.from_arrays([cust["grid_t3"].astype(str), cust["village_code"]])
    cust["member"] = pd.Series(who, dtype=object).reindex(keys).fillna("").to_numpy()

    vi = vill.set_index("village_code")
    cat = cust["category"] if "category" in cust.columns else pd.Series("residential", cust.index)
    cust["rate"] = (
        BASE_FAULT_RATE
        * cat.map(CATEGORY_FACTOR).fillna(1.0).to_numpy()
        * (0.5 + cust["village_code"].map(vi["line_age_y"]).to_numpy() / 20.0)
        * cust["village_code"].map(vi["hill_factor"]).to_numpy()
    )
    cust["town"] = cust["town"].fillna("").astype(str) if "town" in cust else ""
    cust["village"] = cust["village"].fillna("").astype(str) if "village" in cust else ""
    cust["address"] = cust["address"].fillna("").astype(str) if "address" in cust else ""
    return cust, vill


def _block(kind: str, idx: np.ndarray, reported_s: np.ndarray) -> dict[str, np.ndarray]:
    n = len(idx)
    nan = np.full(n, np.nan)
    return {
        "kind": np.full(n, kind, dtype=object),
        "cust": idx.astype(np.int64),
        "reported_at": reported_s,
        **{c: nan.copy() for c in TIME_COLUMNS[1:]},
        "outage_start": nan.copy(),
        "outage_end": nan.copy(),
        "customers_affected": nan.copy(),
        "predicted_eta_s": nan.copy(),
        "fault_kind": np.full(n, "", dtype=object),
        "station_id": np.full(n, "", dtype=object),
        "crew": np.full(n, "", dtype=object),
        "planned": np.zeros(n, dtype=bool),
        "first_time": np.ones(n, dtype=bool),
        "satisfaction": np.full(n, "", dtype=object),
        "result": np.full(n, "", dtype=object),
        "village_row": np.full(n, -1, dtype=np.int64),
    }


def _satisfaction(rng: np.random.Generator, late: np.ndarray) -> np.ndarray:
    u = rng.random(len(late))
    p_bad = 0.03 + 0.20 * late
    p_basic = 0.12 + 0.10 * late
    return np.where(
        u < p_bad, "dissatisfied", np.where(u < p_bad + p_basic, "basic", "satisfied")
    ).astype(object)


def _callback(rng: np.random.Generator, b: dict[str, np.ndarray], share: float) -> None:
    n = len(b["cust"])
    called = rng.random(n) < share
    when = b["closed_at"] + rng.uniform(2 * 3600, 48 * 3600, n)
    b["called_back_at"] = np.where(called, when, np.nan)
    sat = b["satisfaction"]
    b["satisfaction"] = np.where(called, sat, "").astype(object)


def _hours(rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
    """Seconds from the year's start: a day index plus an hour drawn from the weights."""
    hour = rng.choice(24, size=len(day), p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return day * _DAY_S + hour * 3600.0 + rng.uniform(0, 3600, len(day))


def _faults(
    rng: np.random.Generator,
    cust: pd.DataFrame,
    mult: np.ndarray,
    delay_s: np.ndarray,
    crews: Mapping[str, int],
    vrow: np.ndarray,
) -> dict[str, np.ndarray]:
    ndays = len(mult)
    counts = rng.poisson(cust["rate"].to_numpy() * mult.sum() / 365.0)
    idx = np.repeat(np.arange(len(cust)), counts)
    day = rng.choice(ndays, size=len(idx), p=mult / mult.sum())
    b = _block("fault", idx, _hours(rng, day))
    n = len(idx)
    fk = _choice(rng, tuple(FAULT_KIND_SHARE), tuple(FAULT_KIND_SHARE.values()), n)
    b["fault_kind"] = fk
    eta = cust["repair_eta_s"].to_numpy()[idx]
    station = cust["repair_station_id"].astype(str).to_numpy()[idx]
    b["station_id"] = station.astype(object)
    k = np.array([crews.get(s, 1) for s in station], dtype=np.int64)
    crew_no = 1 + (rng.random(n) * np.maximum(k, 1)).astype(np.int64)
    b["crew"] = np.array([f"{s}-{c}" for s, c in zip(station, crew_no, strict=True)], dtype=object)
    b["predicted_eta_s"] = eta
    b["dispatched_at"] = b["reported_at"] + rng.uniform(120, 480, n)
    b["departed_at"] = b["dispatched_at"] + rng.uniform(0.2, 0.45, n) * TURNOUT_S
    f = rng.lognormal(0.0, ETA_FACTOR_SIGMA, n)
    noise = np.maximum(rng.normal(0.0, ARRIVAL_NOISE_S, n), -TURNOUT_S / 2)
    b["arrived_at"] = b["dispatched_at"] + TURNOUT_S + eta * f + delay_s[idx] + noise
    med = np.array([REPAIR_MEDIAN_MIN[x] for x in fk]) * 60.0
    b["repaired_at"] = b["arrived_at"] + med * rng.lognormal(0.0, REPAIR_SIGMA, n)
    b["closed_at"] = b["repaired_at"] + rng.uniform(300, 3600, n)
    late = (b["arrived_at"] - b["reported_at"]) > ON_SITE_LIMIT_S
    b["satisfaction"] = _satisfaction(rng, late)
    b["first_time"] = ~((b["satisfaction"] == "dissatisfied") & (rng.random(n) < 0.3))
    _callback(rng, b, CALLBACK_SHARE)
    hv = fk == "hv"
    b["outage_start"] = np.where(hv, b["reported_at"] - rng.uniform(120, 900, n), np.nan)
    b["outage_end"] = np.where(hv, b["repaired_at"], np.nan)
    b["village_row"] = vrow[idx]
    b["result"] = np.array([_RESULTS[x] for x in fk], dtype=object)
    return b


def _simple(
    rng: np.random.Generator,
    kind: str,
    idx: np.ndarray,
    reported: np.ndarray,
    *,
    handled_s: tuple[float, float],
    visit_s: tuple[float, float] | None = None,
    callback: float = 0.0,
    first_time: float = 1.0,
    result: str = "",
) -> dict[str, np.ndarray]:
    """An order handled without a repair crew: dispatched to the member (if ``visit_s``, the
    member goes on site), closed ``handled_s`` after, sometimes called back."""
    b = _block(kind, idx, reported)
    n = len(idx)
    start = reported
    if visit_s is not None:
        b["dispatched_at"] = reported + rng.uniform(600, 4 * 3600, n)
        b["departed_at"] = b["dispatched_at"] + rng.uniform(*visit_s, n)
        b["arrived_at"] = b["departed_at"] + rng.uniform(600, 2400, n)
        start = b["arrived_at"]
    b["closed_at"] = start + rng.uniform(*handled_s, n)
    b["first_time"] = rng.random(n) < first_time
    sat = _satisfaction(rng, np.zeros(n, dtype=bool))
    b["satisfaction"] = np.where(b["first_time"], sat, "dissatisfied").astype(object)
    _callback(rng, b, callback)
    b["result"] = np.full(n, result or _RESULTS[kind], dtype=object)
    return b


def _concat(blocks: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    return pd.DataFrame({k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]})


def generate_work_orders(
    customers: pd.DataFrame,
    access: pd.DataFrame,
    grids: pd.DataFrame,
    repair_stations: pd.DataFrame,
    villages: gpd.GeoDataFrame,
    *,
    seed: int = DEFAULT_SEED,
    grid_delay_min: Mapping[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """Generate one year of GENERATED work orders for a workspace (see the module).

    Parameters
    ----------
    customers
        The customers layer: ``customer_id``, ``village_code``, ``grid_t1`` .. ``grid_t3``,
        and where present ``category``, ``address``, ``town``, ``village`` and the point.
    access
        The ``customer_access`` layer: ``customer_id``, ``repair_eta_s``,
        ``repair_station_id``.
    grids
        The grids layer with the roster (``grid_id``, ``tier``, ``members``, ``manager``).
    repair_stations
        ``station_id`` and ``crews``.
    villages
        ``village_code``, ``elevation_m`` (0 if absent) and the point.
    seed
        The seed of the one random generator.
    grid_delay_min
        Extra arrival delay in minutes per tier-2 grid id; default
        :func:`supply_grid_delays` (0/5/10 min in id order). Grids not listed get 0.

    Returns
    -------
    geopandas.GeoDataFrame
        Exactly :data:`gridgeo.orders.ORDER_COLUMNS` and the geometry (EPSG:4326), times
        timezone-aware in UTC, sorted by report time (``order_id`` in that order).

    Raises
    ------
    MissingColumnError
        If an input lacks a column it needs.
    InputError
        If no customer can report orders (none with a village, grid and repair ETA).
    """
    for frame, columns, what in (
        (customers, _CUSTOMER_COLUMNS, "customers"),
        (access, _ACCESS_COLUMNS, "customer_access"),
        (grids, ("grid_id", "tier"), "grids"),
        (repair_stations, ("station_id",), "repair_stations"),
        (villages, ("village_code",), "villages"),
    ):
        check_columns(frame, columns, what, fix=f"pass the workspace's {what} layer")
    rng = np.random.default_rng(seed)
    cust, vill = _customer_table(customers, access, grids, villages, rng)
    if cust.empty:
        msg = (
            "no customer can report work orders (none has a village, a tier-3 grid and a "
            "repair ETA): import the customers and run `gridgeo run` first"
        )
        raise InputError(msg)
    t0 = pd.Timestamp(YEAR_START, tz=TIMEZONE)
    days = pd.date_range(YEAR_START, YEAR_END, freq="D", inclusive="left")
    ndays = len(days)
    year_s = ndays * _DAY_S
    mult = season_multiplier(days)
    delays = supply_grid_delays(grids) if grid_delay_min is None else dict(grid_delay_min)
    delay_s = cust["grid_t2"].astype(str).map(delays).fillna(0.0).to_numpy(dtype=float) * 60.0
    crews = dict(
        zip(
            repair_stations["station_id"].astype(str),
            pd.to_numeric(repair_stations.get("crews", 1), errors="coerce").fillna(1).astype(int),
            strict=True,
        )
    )
    vrow_of = pd.Series(np.arange(len(vill)), index=vill["village_code"])
    vrow = cust["village_code"].map(vrow_of).to_numpy(dtype=np.int64)
    n_cust = len(cust)

    faults = _faults(rng, cust, mult, delay_s, crews, vrow)
    # repeats: the same fault again 1-20 days later; the first was not settled
    rep = np.flatnonzero(rng.random(len(faults["cust"])) < REPEAT_SHARE)
    again = faults["reported_at"][rep] + rng.uniform(1, 20, len(rep)) * _DAY_S
    keep = again < year_s
    rep, again = rep[keep], again[keep]
    faults["first_time"][rep] = False
    fb = _block("fault", faults["cust"][rep], again)
    fb.update(_faults_like(rng, faults, rep, again, delay_s))
    blocks = [faults, fb]

    # complaints after slow arrivals, praise after fast ones
    on_site = faults["arrived_at"] - faults["reported_at"]
    slow = np.flatnonzero(
        (on_site > SLOW_COMPLAINT_S) & (rng.random(len(on_site)) < SLOW_COMPLAINT_SHARE)
    )
    t = faults["repaired_at"][slow] + rng.uniform(1800, 6 * 3600, len(slow))
    ok = t < year_s
    blocks.append(
        _simple(
            rng,
            "complaint",
            faults["cust"][slow][ok],
            t[ok],
            handled_s=(4 * 3600, 72 * 3600),
            callback=0.95,
            first_time=0.88,
            result=_RESULTS["slow_complaint"],
        )
    )
    fast = np.flatnonzero(
        (on_site <= FAST_PRAISE_S) & (rng.random(len(on_site)) < FAST_PRAISE_SHARE)
    )
    t = faults["closed_at"][fast] + rng.uniform(3600, 3 * _DAY_S, len(fast))
    ok = t < year_s
    blocks.append(
        _simple(rng, "praise", faults["cust"][fast][ok], t[ok], handled_s=(3600, 48 * 3600))
    )

    # the other kinds, uniform over the year
    for kind, rate in OTHER_RATES.items():
        n = int(rng.poisson(rate * n_cust))
        idx = rng.integers(0, n_cust, n)
        rep_s = _hours(rng, rng.integers(0, ndays, n).astype(float))
        if kind == "consultation":
            b = _simple(rng, kind, idx, rep_s, handled_s=(120, 1800), callback=0.3)
        elif kind == "service_request":
            b = _simple(
                rng,
                kind,
                idx,
                rep_s,
                handled_s=(1800, 4 * 3600),
                visit_s=(3600, 72 * 3600),
                callback=0.95,
            )
        elif kind in ("payment", "praise"):
            b = _simple(rng, kind, idx, rep_s, handled_s=(300, 3600))
        else:
            b = _simple(
                rng,
                kind,
                idx,
                rep_s,
                handled_s=(4 * 3600, 5 * _DAY_S),
                callback=0.95,
                first_time=0.88 if kind == "complaint" else 1.0,
            )
            b["dispatched_at"] = rep_s + rng.uniform(600, 3 * 3600, n)
        blocks.append(b)
    # complaints not settled the first time come back (a small county may have none)
    complaints = [b for b in blocks if b["kind"][:1].tolist() == ["complaint"]]
    if complaints:
        comp = _concat(complaints)
        back = np.flatnonzero(~comp["first_time"].to_numpy() & (rng.random(len(comp)) < 0.10))
        t = comp["reported_at"].to_numpy()[back] + rng.uniform(2, 15, len(back)) * _DAY_S
        ok = t < year_s
        blocks.append(
            _simple(
                rng,
                "complaint",
                comp["cust"].to_numpy()[back][ok],
                t[ok],
                handled_s=(4 * 3600, 72 * 3600),
                callback=0.95,
                first_time=0.88,
            )
        )

    # planned outages: a village, a weekday, from 08:00 local for 4-8 h
    blocks.append(_planned(rng, cust, vill, days, crews))
    df = _concat([b for b in blocks if len(b["cust"])])
    return _finish(rng, df, cust, vill, t0)


def _faults_like(
    rng: np.random.Generator,
    faults: dict[str, np.ndarray],
    rep: np.ndarray,
    again: np.ndarray,
    delay_s: np.ndarray,
) -> dict[str, np.ndarray]:
    """The timeline of repeated faults: as a fault, at ``again``, same kind and station."""
    n = len(rep)
    idx = faults["cust"][rep]
    eta = faults["predicted_eta_s"][rep]
    fk = faults["fault_kind"][rep]
    out: dict[str, np.ndarray] = {
        "fault_kind": fk,
        "station_id": faults["station_id"][rep],
        "crew": faults["crew"][rep],
        "predicted_eta_s": eta,
        "village_row": faults["village_row"][rep],
    }
    out["dispatched_at"] = again + rng.uniform(120, 480, n)
    out["departed_at"] = out["dispatched_at"] + rng.uniform(0.2, 0.45, n) * TURNOUT_S
    f = rng.lognormal(0.0, ETA_FACTOR_SIGMA, n)
    noise = np.maximum(rng.normal(0.0, ARRIVAL_NOISE_S, n), -TURNOUT_S / 2)
    out["arrived_at"] = out["dispatched_at"] + TURNOUT_S + eta * f + delay_s[idx] + noise
    med = np.array([REPAIR_MEDIAN_MIN[x] for x in fk]) * 60.0
    out["repaired_at"] = out["arrived_at"] + med * rng.lognormal(0.0, REPAIR_SIGMA, n)
    out["closed_at"] = out["repaired_at"] + rng.uniform(300, 3600, n)
    late = (out["arrived_at"] - again) > ON_SITE_LIMIT_S
    sat = _satisfaction(rng, late)
    called = rng.random(n) < CALLBACK_SHARE
    out["called_back_at"] = np.where(
        called, out["closed_at"] + rng.uniform(2 * 3600, 48 * 3600, n), np.nan
    )
    out["satisfaction"] = np.where(called, sat, "").astype(object)
    hv = fk == "hv"
    out["outage_start"] = np.where(hv, again - rng.uniform(120, 900, n), np.nan)
    out["outage_end"] = np.where(hv, out["repaired_at"], np.nan)
    out["result"] = np.full(n, _RESULTS["repeat"], dtype=object)
    return out


def _planned(
    rng: np.random.Generator,
    cust: pd.DataFrame,
    vill: pd.DataFrame,
    days: pd.DatetimeIndex,
    crews: Mapping[str, int],
) -> dict[str, np.ndarray]:
    # weekdays at least 8 days into the year, so the notice (3-7 days before) is in it
    weekdays = np.flatnonzero((days.day_of_week < 5) & (np.arange(len(days)) >= 8))
    months = days.month.to_numpy()[weekdays] + 12 * days.year.to_numpy()[weekdays]
    chosen: list[int] = []
    for m in np.unique(months):
        pool = weekdays[months == m]
        chosen.extend(rng.choice(pool, size=PLANNED_PER_MONTH, replace=False).tolist())
    day = np.sort(np.asarray(chosen, dtype=float))
    n = len(day)
    # villages with customers that report; the village's most frequent repair station
    served = vill.index[vill["village_code"].isin(cust["village_code"])].to_numpy()
    vrow = rng.choice(served, size=n, replace=n > len(served))
    start = day * _DAY_S + 8 * 3600.0
    b = _block("service_request", np.full(n, -1), start - rng.uniform(3, 7, n) * _DAY_S)
    station = cust.groupby("village_code")["repair_station_id"].agg(
        lambda s: s.astype(str).value_counts().index[0]
    )
    st = vill["village_code"].to_numpy()[vrow]
    b["station_id"] = np.array([station.get(v, "") for v in st], dtype=object)
    k = np.array([max(1, crews.get(s, 1)) for s in b["station_id"]], dtype=np.int64)
    crew_no = 1 + (rng.random(n) * k).astype(np.int64)
    b["crew"] = np.array(
        [f"{s}-{c}" if s else "" for s, c in zip(b["station_id"], crew_no, strict=True)],
        dtype=object,
    )
    b["dispatched_at"] = b["reported_at"] + rng.uniform(3600, 86400, n)
    b["departed_at"] = start - rng.uniform(1800, 3600, n)
    b["arrived_at"] = start - rng.uniform(300, 1200, n)
    end = start + rng.uniform(4, 8, n) * 3600.0
    b["repaired_at"] = end
    b["closed_at"] = end + rng.uniform(600, 3600, n)
    b["outage_start"] = start
    b["outage_end"] = end
    b["planned"] = np.ones(n, dtype=bool)
    b["village_row"] = vrow.astype(np.int64)
    b["result"] = np.full(n, _RESULTS["planned"], dtype=object)
    return b


def _finish(
    rng: np.random.Generator,
    df: pd.DataFrame,
    cust: pd.DataFrame,
    vill: pd.DataFrame,
    t0: pd.Timestamp,
) -> gpd.GeoDataFrame:
    """Round the times, number the orders, fill the customer and village columns."""
    for c in (*TIME_COLUMNS, "outage_start", "outage_end"):
        df[c] = np.round(df[c].to_numpy(dtype=float))
    has_c = df["cust"].to_numpy() >= 0
    ci = np.where(has_c, df["cust"].to_numpy(), 0)
    df["customer_id"] = np.where(has_c, cust["customer_id"].to_numpy()[ci], "")
    # village of the order: the customer's, or the planned outage's
    vcode_of_cust = cust["village_code"].to_numpy()[ci]
    vrow_of = pd.Series(np.arange(len(vill)), index=vill["village_code"])
    vrow = np.where(has_c, vrow_of.reindex(vcode_of_cust).to_numpy(), df["village_row"])
    vrow = vrow.astype(np.int64)
    df["_vrow"] = vrow
    df = df.sort_values(["reported_at", "customer_id", "kind"], kind="stable").reset_index(
        drop=True
    )
    has_c = df["customer_id"].to_numpy() != ""
    ci = cust.reset_index(drop=True).set_index("customer_id")
    cid = df["customer_id"].where(has_c, None)
    vr = df["_vrow"].to_numpy()
    vcode = vill["village_code"].to_numpy()[vr]

    def from_cust(col: str, fallback: np.ndarray | str) -> np.ndarray:
        vals = cid.map(ci[col]) if col in ci.columns else pd.Series(np.nan, index=df.index)
        fb = np.broadcast_to(np.asarray(fallback, dtype=object), (len(df),))
        return np.where(has_c, vals.fillna("").astype(str).to_numpy(), fb).astype(object)

    # tier grids of a planned outage: those of most of the village's customers
    vgrid = cust.groupby("village_code")[["grid_t1", "grid_t2", "grid_t3"]].agg(
        lambda s: s.astype(str).value_counts().index[0]
    )
    out = pd.DataFrame(index=df.index)
    local = t0 + pd.to_timedelta(df["reported_at"], unit="s")
    day = local.dt.strftime("%Y%m%d")
    seq = df.groupby(day).cumcount() + 1
    out["order_id"] = "GD" + day + seq.map("{:04d}".format)
    out["kind"] = df["kind"].astype(object)
    src = np.empty(len(df), dtype=object)
    for key, share in SOURCE_SHARE.items():
        kinds = df["kind"].to_numpy()
        m = (
            (kinds == key)
            if key != "other"
            else ~np.isin(kinds, [k for k in SOURCE_SHARE if k != "other"])
        )
        src[m] = _choice(rng, _SOURCES, share, int(m.sum()))
    src[df["planned"].to_numpy()] = "other"
    out["source"] = src
    out["status"] = "reported"
    for c, status in zip(TIME_COLUMNS, _STATUS, strict=True):
        out.loc[df[c].notna().to_numpy(), "status"] = status
    out["customer_id"] = df["customer_id"].astype(object)
    out["address"] = from_cust("address", "")
    out["location_source"] = np.where(has_c, "customer", "point").astype(object)
    for c in TIME_COLUMNS:
        out[c] = (t0 + pd.to_timedelta(df[c], unit="s")).dt.tz_convert("UTC")
    for g in ("grid_t1", "grid_t2", "grid_t3"):
        out[g] = from_cust(g, vgrid[g].reindex(vcode).fillna("").to_numpy())
    out["town"] = from_cust(
        "town", vill["town"].astype(str).to_numpy()[vr] if "town" in vill else ""
    )
    out["village"] = from_cust(
        "village", vill["village"].astype(str).to_numpy()[vr] if "village" in vill else ""
    )
    out["station_id"] = df["station_id"].astype(object)
    out["crew"] = df["crew"].astype(object)
    member = cust.groupby("village_code")["member"].first()
    out["member"] = from_cust("member", member.reindex(vcode).fillna("").to_numpy())
    out["predicted_eta_s"] = df["predicted_eta_s"].astype(float)
    out["fault_kind"] = df["fault_kind"].astype(object)
    for c in ("outage_start", "outage_end"):
        out[c] = (t0 + pd.to_timedelta(df[c], unit="s")).dt.tz_convert("UTC")
    outage = df["outage_start"].notna().to_numpy()
    out["customers_affected"] = np.where(outage, vill["n_customers"].to_numpy()[vr], np.nan)
    out["planned"] = df["planned"].astype(bool)
    out["result"] = (df["result"].astype(str) + " " + GENERATED_NOTE).astype(object)
    out["satisfaction"] = df["satisfaction"].astype(object)
    out["first_time"] = df["first_time"].astype(bool)
    out["repeat_of"] = _repeats(out)
    pts = cid.map(ci.geometry) if isinstance(ci, gpd.GeoDataFrame) else None
    vpts = vill.geometry.to_numpy()[vr] if isinstance(vill, gpd.GeoDataFrame) else None
    geom = np.full(len(df), None, dtype=object)
    if pts is not None:
        geom[has_c] = pts.to_numpy()[has_c]
    if vpts is not None:
        geom[~has_c] = vpts[~has_c]
    out = out[list(ORDER_COLUMNS)]
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geom, crs="EPSG:4326"), crs="EPSG:4326")


_STATUS = ("reported", "dispatched", "departed", "arrived", "repaired", "closed", "called_back")


def _repeats(orders: pd.DataFrame) -> np.ndarray:
    """The latest order of the same customer and kind reported ``0 < Δt <= 30`` days before.

    Orders reported at the same moment do not repeat each other (each repeats the order
    before them), as in :mod:`gridgeo.orders`.
    """
    out = np.full(len(orders), "", dtype=object)
    has = orders["customer_id"].to_numpy() != ""
    d = orders.loc[has, ["order_id", "customer_id", "kind", "reported_at"]]
    d = d.sort_values(["customer_id", "kind", "reported_at", "order_id"], kind="stable")
    new_key = (d["customer_id"] != d["customer_id"].shift()) | (d["kind"] != d["kind"].shift())
    # blocks of orders of one customer, kind and moment; a block repeats the block before it
    block = (new_key | (d["reported_at"] != d["reported_at"].shift())).cumsum()
    blocks = pd.DataFrame(
        {
            "last_id": d.groupby(block)["order_id"].last(),
            "at": d.groupby(block)["reported_at"].last(),
            "starts_key": new_key.groupby(block).first(),
        }
    )
    prev_id = blocks["last_id"].shift()
    gap = blocks["at"] - blocks["at"].shift()
    linked = ~blocks["starts_key"] & (gap <= pd.Timedelta(days=REPEAT_WINDOW_DAYS))
    rep = prev_id.where(linked, "").reindex(block.to_numpy()).to_numpy()
    out[d.index.to_numpy()] = rep
    return out


def add_sample_orders(
    store: GeoPackageStore,
    *,
    seed: int = DEFAULT_SEED,
    author: str = "gridgeo demo",
    progress: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """Generate the year of sample orders from a workspace and store them as ``work_orders``.

    Reads ``customers``, ``customer_access``, ``grids``, ``repair_stations`` and
    ``villages``; adds the versioned layer ``work_orders`` (key ``order_id``) or saves a new
    version of it, with the reason :data:`STORE_REASON`; the same orders as the current
    version write nothing.

    Parameters
    ----------
    store
        The workspace, with its service levels computed (``gridgeo run``).
    seed
        The generator's seed.
    author
        Recorded with the new version.
    progress
        Called with a start line and a done line (like the steps of ``gridgeo run``).

    Returns
    -------
    tuple of int
        The stored version and the number of orders.

    Raises
    ------
    NotFoundError
        If the workspace lacks one of the layers read.
    """
    say = progress or (lambda line: None)
    layers = store.layers()
    missing = [name for name in _READS if name not in layers]
    if missing:
        msg = (
            f"工作区缺少 / workspace {str(store.path)!r} has no {', '.join(missing)}: build the "
            "grids, import the customers and run `gridgeo run --workspace W --out DIR` first"
        )
        raise NotFoundError(msg)
    t0 = time.perf_counter()
    say(f"{STEP_NAME}: 计算中 / computing …")
    orders = generate_work_orders(*(store.read(name) for name in _READS), seed=seed)
    if ORDERS_LAYER in layers and store.preview(ORDERS_LAYER, orders).empty:
        version = store.current_version(ORDERS_LAYER)  # the same year again: nothing written
    elif ORDERS_LAYER in layers:
        version = store.save(
            ORDERS_LAYER,
            orders,
            expected_version=store.current_version(ORDERS_LAYER),
            author=author,
            reason=STORE_REASON,
        )
    else:
        version = store.add_layer(
            ORDERS_LAYER, orders, key="order_id", author=author, reason=STORE_REASON
        )
    local = orders["reported_at"].dt.tz_convert(TIMEZONE)
    say(
        f"{STEP_NAME}: 完成 / done in {time.perf_counter() - t0:.1f} s ({ORDERS_LAYER} "
        f"v{version}: {len(orders):,} orders, {local.min():%Y-%m} .. {local.max():%Y-%m}, "
        "生成的示例记录 / GENERATED)"
    )
    return version, len(orders)
