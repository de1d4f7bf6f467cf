"""Home visits ("6+1"): who visits whom on which visit day, and each day's route on the roads.

Every customer gets :attr:`VisitSettings.visits_per_year` home visits (家访) a year; each grid
member (网格员) of a tier-3 grid has one visit day a week (the "+1" of "6+1", the weekday a
setting) of :attr:`VisitSettings.day_length_s`, starting and ending at their base (their supply
office or repair station).

How a plan is made (:func:`plan_visits`)
----------------------------------------
Members and bases
    :func:`member_bases`: one row per person named in the ``members`` of a tier-3 grid (a name
    listed on several grids is one person who looks after all of them). The base is the one the
    caller gives (a ``bases`` table: member, base_id), else the one the grids layer names (a
    ``member_bases`` column, as a roster would carry it), else the repair station or supply
    office nearest (straight line, metric CRS) to the representative point of the member's
    first grid: deterministic, so the sample county's members get their bases from its
    stations without a roster column.
Customers per member
    :func:`assign_members`: a grid's customers are shared by its members in contiguous pieces of
    equal size, in the order of their villages around the grid's centre (then around it within
    the village), so a member keeps whole villages where the counts allow.
Rounds
    The year is cut into ``visits_per_year`` rounds of equal months (two: January-June and
    July-December); in each round every customer is due once. A period (a week, a quarter, a
    year) is planned round by round and the plan keeps the visit days inside the period, so a
    quarter's plan is the first half of its round's plan, and next quarter follows on.
Order within a round
    Overdue customers first (their last recorded home visit is older than a round, or none on
    record when ``last_visits`` is given), then by priority score (:func:`visit_priority`:
    重点关怀 households, recent complaints, repeated faults, high-voltage customers, villages
    before a seasonal peak), then by village (villages chained nearest-first from the base on
    the travel-time matrix), then by place, so one village's customers are visited together.
Filling the visit days
    The visit days of the round are filled in date order, each by cheapest insertion into a
    tour from the base and back on the travel-time matrix, taking customers in the order above
    while the tour's travel plus visit time fits the day; when the next customer does not fit,
    up to :data:`LOOKAHEAD` later customers are tried for the time left, then the day is closed.
    A day is therefore never over-full (the insertion tour is a feasible plan by construction).
Visit windows
    A customer with a visit window (a ``visit_window`` column, "09:00-12:00" China time, or
    ``open`` / ``close``; :func:`visit_windows`) is visited within it: the member leaves the
    base at :attr:`VisitSettings.day_start`, waits for a window to open, and the fill puts a
    customer with a window only where the tour keeps every window; the routes keep them as
    the clients' time windows of PyVRP (days of up to :data:`EXACT_MAX_STOPS` places: every
    order tried). A window that no visit day can keep is listed (``window_outside_day``).
Routes
    Each day's stops are then ordered: days of up to :data:`EXACT_MAX_STOPS` places by trying
    every order, longer ones by PyVRP (iterated local search, a fixed number of iterations
    and seed, so plans are reproducible: half the day's places, at least 5, at most
    :attr:`VisitSettings.solver_iterations`) with the day length as the route's hard shift
    duration; the insertion tour is the start solution and is kept if PyVRP does not find a
    shorter feasible one. Travel times come from :func:`gridgeo.routing.travel_matrix` on the
    engine of the chosen mode (two-wheeler by default), one matrix per member, its searches
    bounded by the member's longest way out of the base plus the longest way back (no way
    between two places is longer than the way through the base). On the sample county the
    plan's days are within 0.1 % in all of the exact optimum of their places (proven by a MILP
    in ``benchmarks/bench_visits.py``).
What does not fit
    Customers the round's visit days cannot take are never squeezed in: they are listed in
    :attr:`VisitPlan.unplanned` with the reason ``no_visit_day_left``, and the fill goes on
    over extra (virtual) visit days to count how many more each member would need
    (:attr:`VisitPlan.members`, ``extra_days_needed``). Customers that cannot be planned at all
    are listed with ``not_located`` (no point), ``no_grid`` (in no tier-3 grid), ``no_member``
    (their tier-3 grid names no member),
    ``too_far_from_road`` / ``isolated_road_piece`` (the road engine's snapping reasons),
    ``no_road_route`` (no road way to and from the base within a day) or ``over_day_alone``
    (the trip to them and back with the visit alone is longer than a day).

The sample county (30,000 customers, 26 tier-3 grids of two members: 52 members) has 52 x 52 =
2,704 visit days a year for 60,000 visits, about 22 a day, or 3.7 h of visits at the default
durations (10 minutes; 15 for commercial and high-voltage customers, 20 for industrial ones);
the busiest members (about 850 customers: 33 visits a visit day if spread over all 52) would
need about 6 h of visits a day. With the travel on the two-wheeler roads it fits: a year's plan
uses 1,630 of the 2,704 visit days (days are filled before the next one is opened, so the rest
of the year's visit days stay free), needs no extra day, and lists 256 visits (128 customers)
that cannot be planned: customers too far from any road or on an isolated road piece, and
customers with no location (``benchmarks/bench_visits.py``). A longer visit (e.g.
``visit_s=1200``) or a shorter day makes the plan list what does not fit and the extra days
needed.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgeo import settings as _settings
from gridgeo._validate import check_columns, split_members
from gridgeo.errors import InputError
from gridgeo.routing import ReachEngine, travel_matrix
from gridgeo.settings import VisitMode
from gridgeo.watch import SEASONS, Season

if TYPE_CHECKING:
    from gridgeo.store import GeoPackageStore

__all__ = [
    "PRIORITY_WEIGHTS",
    "UNPLANNED_REASONS",
    "DayRoute",
    "VisitPlan",
    "VisitSettings",
    "assign_members",
    "day_route_legs",
    "member_bases",
    "plan_visits",
    "plan_workspace_visits",
    "route_day",
    "visit_priority",
    "visit_windows",
]

logger = logging.getLogger(__name__)

# the defaults live with the other settings (gridgeo.settings): one source
DEFAULT_DAY_LENGTH_S = _settings.DEFAULT_VISIT_DAY_LENGTH_S
DEFAULT_VISIT_S = _settings.DEFAULT_VISIT_S
DEFAULT_VISIT_S_BY_CATEGORY = _settings.DEFAULT_VISIT_S_BY_CATEGORY
DEFAULT_HV_VISIT_S = _settings.DEFAULT_HV_VISIT_S  # a high-voltage customer, at least
DEFAULT_WEEKDAY = _settings.DEFAULT_VISIT_WEEKDAY  # Wednesday (Monday = 0)
DEFAULT_DAY_START = _settings.DEFAULT_VISIT_DAY_START
DEFAULT_SOLVER_ITERATIONS = 20
LOOKAHEAD = 40  # customers tried for the time left in a day once the next one does not fit
MAX_EXTRA_DAYS = 520  # extra (virtual) visit days counted per member and round, at most

PRIORITY_WEIGHTS: Mapping[str, int] = MappingProxyType(
    {"vulnerable": 4, "complaint": 3, "repeat_faults": 2, "hv": 2, "season": 1}
)
PRIORITY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "overdue": "逾期未访",
        "vulnerable": "重点关怀",
        "complaint": "近期投诉",
        "repeat_faults": "重复故障",
        "hv": "高压客户",
        "season": "迎峰前",
    }
)
UNPLANNED_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "not_located": "无位置 / no location: geocode the customer's address",
        "no_grid": "不在网格内 / in no tier-3 grid: assign the customer to the grids",
        "no_member": "网格无网格员 / the tier-3 grid names no member: fill the roster",
        "too_far_from_road": "离道路太远 / too far from any road: check the location",
        "isolated_road_piece": "孤立道路 / on a road piece joined to no other road",
        "no_road_route": "无道路可达 / no road way between the base and the customer",
        "over_day_alone": "单户往返即超一天 / the trip there and back alone exceeds a day",
        "no_visit_day_left": "走访日已满 / the member's visit days are full: add visit days",
        "window_outside_day": "走访时段无法赶到 / the visit window cannot be kept on a visit "
        "day (outside the day, or too far to reach in time): change 走访时段 or --start",
    }
)
WINDOW_COLUMN = "visit_window"  # "09:00-12:00", China time
WINDOW_OPEN_CLOSE = ("open", "close")  # or two columns "09:00" and "12:00"


@dataclass(frozen=True)
class VisitSettings:
    """The settings of visit plans.

    Parameters
    ----------
    day_length_s
        Length of a visit day, from leaving the base to being back (8 h).
    visit_s
        Time spent at a customer whose category has no own duration.
    visit_s_by_category
        Time at a customer by ``category`` (commercial 15 min, industrial 20 min).
    hv_visit_s
        Least time at a high-voltage customer (``voltage_class`` HV).
    weekday
        The members' visit day of the week (0 Monday ... 6 Sunday; Wednesday).
    day_start
        When the member leaves the base ("HH:MM", China time), for the ETAs.
    visits_per_year
        Home visits per customer a year (2): the year's rounds.
    mode
        Travel mode of the routes (``two_wheeler`` or ``drive``).
    solver_iterations
        PyVRP iterations of a day's route (fixed, with ``seed``, for reproducible plans);
        :func:`route_day` uses them all, a plan's days half their places, at least 5, at most
        this (their insertion tour is already a good start).
    seed
        Seed of the route solver.
    complaint_days
        A complaint within this many days before the round makes a customer a priority.
    repeat_fault_count, repeat_fault_days
        This many faults within this many days before the round are repeated faults.
    season_min_faults
        A village with this many faults in last year's days of a season that starts within the
        round is visited before it.
    """

    day_length_s: float = DEFAULT_DAY_LENGTH_S
    visit_s: float = DEFAULT_VISIT_S
    visit_s_by_category: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_VISIT_S_BY_CATEGORY)
    )
    hv_visit_s: float = DEFAULT_HV_VISIT_S
    weekday: int = DEFAULT_WEEKDAY
    day_start: str = DEFAULT_DAY_START
    visits_per_year: int = 2
    mode: VisitMode = _settings.DEFAULT_VISIT_MODE
    solver_iterations: int = DEFAULT_SOLVER_ITERATIONS
    seed: int = 0
    complaint_days: int = 90
    repeat_fault_count: int = 2
    repeat_fault_days: int = 365
    season_min_faults: int = 2

    def __post_init__(self) -> None:
        problems = []
        if not (math.isfinite(self.day_length_s) and self.day_length_s > 0):
            problems.append(f"`day_length_s` must be > 0, got {self.day_length_s!r}")
        durations = {"visit_s": self.visit_s, "hv_visit_s": self.hv_visit_s}
        durations.update(
            {f"visit_s_by_category[{k!r}]": v for k, v in self.visit_s_by_category.items()}
        )
        for name, value in durations.items():
            if not (math.isfinite(value) and value >= 0):
                problems.append(f"`{name}` must be >= 0 seconds, got {value!r}")
        if self.weekday not in range(7):
            problems.append(f"`weekday` must be 0 (Monday) to 6 (Sunday), got {self.weekday!r}")
        if self.visits_per_year not in (1, 2, 3, 4, 6, 12):
            problems.append(
                f"`visits_per_year` must divide the 12 months (1, 2, 3, 4, 6 or 12), "
                f"got {self.visits_per_year!r}"
            )
        if self.mode not in ("drive", "two_wheeler"):
            problems.append(f"`mode` must be 'drive' or 'two_wheeler', got {self.mode!r}")
        if self.solver_iterations < 0:
            problems.append(f"`solver_iterations` must be >= 0, got {self.solver_iterations!r}")
        try:
            _day_start_s(self.day_start)
        except ValueError:
            problems.append(f"`day_start` must be 'HH:MM', got {self.day_start!r}")
        if problems:
            raise InputError("visit settings: " + "; ".join(problems))

    @property
    def day_start_s(self) -> float:
        """Seconds after midnight the member leaves the base."""
        return _day_start_s(self.day_start)


def _day_start_s(text: str) -> float:
    hours, minutes = (int(part) for part in str(text).split(":"))
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(text)
    return hours * 3600.0 + minutes * 60.0


@dataclass(frozen=True)
class DayRoute:
    """One visit day's route.

    Attributes
    ----------
    order
        Positions (into the stops given) in visiting order.
    arrive_s, leave_s
        Seconds after leaving the base at which each stop (in ``order``) is reached and left.
    travel_s, visit_s, total_s
        Travel time of the round trip, time at the customers, and both together.
    """

    order: np.ndarray
    arrive_s: np.ndarray
    leave_s: np.ndarray
    travel_s: float
    visit_s: float

    @property
    def total_s(self) -> float:
        """Travel and visit time of the day."""
        return self.travel_s + self.visit_s


@dataclass(frozen=True)
class VisitPlan:
    """A visit plan for a period.

    Attributes
    ----------
    stops
        One row per planned visit: ``member``, ``grid_id`` (the customer's tier-3 grid),
        ``date``, ``round`` (1..visits_per_year), ``seq`` (1 = first stop), ``customer_id``,
        ``village_code``, ``village``, ``address``, ``phone``, ``category``, ``visit_s``,
        ``arrive_s`` / ``leave_s`` (seconds after leaving the base: the visit's start, after
        any wait for the customer's visit window to open, and its end), ``eta`` (China time
        "HH:MM"), ``priority`` (score), ``priority_reasons`` (Chinese words), ``overdue``,
        ``geometry`` (the customer's point).
    days
        One row per visit day that has stops: ``member``, ``date``, ``round``, ``base_id``,
        ``stops``, ``travel_s``, ``visit_s``, ``total_s`` (back at the base: travel, visits
        and any wait for a window), ``day_length_s``, ``solver``
        (``pyvrp`` or ``insertion``: which order was kept).
    unplanned
        One row per (customer, round) that could not be planned in the period's rounds:
        ``customer_id``, ``member`` (empty if none), ``round``, ``reason`` (a code of
        :data:`UNPLANNED_REASONS`) and ``reason_text``.
    members
        One row per member: ``member``, ``grid_ids``, ``base_id``, ``base_name``,
        ``customers``, ``visit_days`` (in the period), ``planned`` (visits), ``unplanned``
        (visits of its customers that did not fit) and ``extra_days_needed`` (visit days more
        than the period's rounds have that the member would need).
    settings
        The settings the plan was made with.
    """

    stops: gpd.GeoDataFrame
    days: pd.DataFrame
    unplanned: pd.DataFrame
    members: pd.DataFrame
    settings: VisitSettings

    def visit_rows(self) -> pd.DataFrame:
        """The planned visits as rows of the workspace's ``visits`` layer (data model):
        ``visit_id`` (customer id and date), ``customer_id``, ``member``, ``planned_on``,
        ``done_at`` (empty), ``kind`` (``home``), ``outcome`` (empty), plus ``grid_id``,
        ``round``, ``seq`` and ``eta`` of the plan."""
        s = self.stops
        dates = pd.to_datetime(s["date"])
        return pd.DataFrame(
            {
                "visit_id": s["customer_id"].astype(str) + "-" + dates.dt.strftime("%Y%m%d"),
                "customer_id": s["customer_id"].to_numpy(),
                "member": s["member"].to_numpy(),
                "planned_on": s["date"].to_numpy(),
                "done_at": pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]"),
                "kind": "home",
                "outcome": "",
                "grid_id": s["grid_id"].to_numpy(),
                "round": s["round"].to_numpy(),
                "seq": s["seq"].to_numpy(),
                "eta": s["eta"].to_numpy(),
            },
            index=s.index,
        )

    def lines(self) -> list[str]:
        """A short summary in Chinese with English, for the CLI."""
        extra = int(self.members["extra_days_needed"].sum()) if len(self.members) else 0
        by_reason = self.unplanned["reason"].value_counts()
        out = [
            f"走访计划 / visit plan: {len(self.stops):,} visits on {len(self.days):,} visit "
            f"days of {len(self.members)} members",
            f"  无法安排 / cannot be planned: {len(self.unplanned):,}"
            + "".join(f"; {reason} {n:,}" for reason, n in by_reason.items()),
        ]
        if extra:
            out.append(
                f"  需增加走访日 / extra visit days needed: {extra:,} "
                f"({int((self.members['extra_days_needed'] > 0).sum())} members)"
            )
        return out


# ------------------------------------------------------------------ members, bases, customers


def member_bases(
    grids: pd.DataFrame,
    stations: gpd.GeoDataFrame,
    *,
    bases: pd.DataFrame | None = None,
    id_column: str = "station_id",
) -> gpd.GeoDataFrame:
    """The grid members of the tier-3 grids and their bases.

    Parameters
    ----------
    grids
        The grids layer (``grid_id``, ``tier``, ``members``, polygon).
    stations
        Supply offices / repair stations (``id_column``, ``name`` if any, point).
    bases
        Optional explicit bases: ``member`` and ``base_id`` (a value of ``id_column``). Members
        not in it get the base the grids layer names in a ``member_bases`` column if it has
        one (station ids in the order of ``members``, separated as they are; one id for all
        the grid's members; a member's first grid by id decides), else the station nearest to
        their first grid.
    id_column
        The id column of ``stations``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per member, sorted by name: ``member``, ``grid_ids`` (list, sorted),
        ``base_id``, ``base_name``, ``geometry`` (the base, EPSG:4326).

    Raises
    ------
    MissingColumnError
        A column is missing.
    InputError
        No stations, or an explicit base names an unknown station or member.
    """
    check_columns(grids, ("grid_id", "tier", "members", "geometry"), "grids")
    check_columns(stations, (id_column, "geometry"), "stations")
    if len(stations) == 0:
        msg = "no repair station or supply office to use as the members' base: add the stations"
        raise InputError(msg)
    tier3 = grids[pd.to_numeric(grids["tier"], errors="coerce") == 3]
    pairs = pd.DataFrame(
        {
            "grid_id": tier3["grid_id"].astype(str).to_numpy(),
            "member": split_members(tier3["members"]).to_numpy(),
        }
    ).explode("member")
    pairs = pairs.dropna(subset=["member"])
    pairs = pairs[pairs["member"] != ""].sort_values(["member", "grid_id"], kind="stable")
    per = pairs.groupby("member", sort=True)["grid_id"].agg(list)
    st = stations.to_crs("EPSG:4326")
    st_ids = st[id_column].astype(str).to_numpy()
    st_names = st["name"].astype(str).to_numpy() if "name" in st else st_ids
    crs = st.estimate_utm_crs()
    st_m = shapely.get_coordinates(st.to_crs(crs).geometry.to_numpy())
    g = gpd.GeoDataFrame(
        tier3, geometry="geometry", crs=grids.crs if hasattr(grids, "crs") else None
    )
    if g.crs is None:
        g = g.set_crs("EPSG:4326")
    rep = g.to_crs(crs).set_index(g["grid_id"].astype(str)).geometry.representative_point()
    rep_xy = shapely.get_coordinates(rep.to_numpy())
    rep_xy = dict(zip(rep.index, map(tuple, rep_xy), strict=True))
    explicit: dict[str, str] = {}
    if "member_bases" in tier3:
        in_order = tier3.sort_values("grid_id", key=lambda c: c.astype(str), kind="stable")
        listed = split_members(in_order["member_bases"]).to_numpy()
        named = split_members(in_order["members"]).to_numpy()
        for grid_id, people, ids in zip(in_order["grid_id"], named, listed, strict=True):
            if len(ids) == 1:
                ids = ids * len(people)
            if ids and len(ids) != len(people):
                msg = (
                    f"grid {grid_id!r} names {len(people)} member(s) but {len(ids)} base(s) in "
                    "`member_bases`: give one station id per member, in the same order, or one "
                    "for all"
                )
                raise InputError(msg)
            for person, base_id in zip(people, ids, strict=False):
                explicit.setdefault(person, base_id)  # a member's first grid decides
    if bases is not None:
        check_columns(bases, ("member", "base_id"), "bases")
        given = dict(zip(bases["member"].astype(str), bases["base_id"].astype(str), strict=True))
        unknown_m = sorted(set(given) - set(per.index))
        if unknown_m:
            msg = (
                f"bases name unknown member(s) {unknown_m!r}: use names from the tier-3 grids' "
                "`members`"
            )
            raise InputError(msg)
        explicit.update(given)
    unknown_st = sorted(set(explicit.values()) - set(st_ids))
    if unknown_st:
        msg = (
            f"member bases name unknown station(s) {unknown_st!r}: use the `{id_column}` of the "
            "repair stations / supply offices layer"
        )
        raise InputError(msg)
    rows = []
    where = {s: i for i, s in enumerate(st_ids)}
    for member, grid_ids in per.items():
        if member in explicit:
            k = where[explicit[member]]
        else:
            x, y = rep_xy[grid_ids[0]]
            d2 = (st_m[:, 0] - x) ** 2 + (st_m[:, 1] - y) ** 2
            k = int(np.lexsort((st_ids, d2))[0])  # nearest, ties by id
        rows.append((member, grid_ids, st_ids[k], st_names[k], st.geometry.iloc[k]))
    out = pd.DataFrame(rows, columns=["member", "grid_ids", "base_id", "base_name", "geometry"])
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")


def assign_members(customers: gpd.GeoDataFrame, members: pd.DataFrame) -> pd.Series:
    """The member who visits each customer, on the customers' index ("" where none).

    A tier-3 grid's customers (``grid_t3``) are cut into as many contiguous pieces of equal
    size as the grid has members (by name), ordered by their village's angle around
    the centre of the grid's customers, then by their own angle around it; so members keep
    whole villages where the counts allow. ``members`` is :func:`member_bases`' table.
    """
    check_columns(customers, ("grid_t3", "geometry"), "customers")
    out = pd.Series("", index=customers.index, dtype=object)
    by_grid: dict[str, list[str]] = {}
    for member, grid_ids in zip(members["member"], members["grid_ids"], strict=True):
        for grid_id in grid_ids:
            by_grid.setdefault(str(grid_id), []).append(str(member))
    pts = customers.geometry
    xy = np.full((len(customers), 2), np.nan)
    has = ~(pts.isna() | pts.is_empty).to_numpy()
    if has.any():
        crs = customers[has].estimate_utm_crs()
        xy[has] = shapely.get_coordinates(customers.geometry[has].to_crs(crs).to_numpy())
    grid = customers["grid_t3"].astype("string").fillna("").to_numpy(dtype=object)
    village = (
        customers["village_code"].astype("string").fillna("").to_numpy(dtype=object)
        if "village_code" in customers
        else np.full(len(customers), "", dtype=object)
    )
    for grid_id, names in by_grid.items():
        rows = np.flatnonzero((grid == grid_id) & has)
        if len(rows) == 0:
            continue
        p = xy[rows]
        centre = p.mean(axis=0)
        angle = np.arctan2(p[:, 1] - centre[1], p[:, 0] - centre[0])
        frame = pd.DataFrame({"v": village[rows], "a": angle})
        v_angle = frame.groupby("v")["a"].transform("mean").to_numpy()
        order = np.lexsort((angle, village[rows].astype(str), v_angle))
        k = len(names)
        piece = (np.arange(len(rows)) * k) // len(rows)
        out.iloc[rows[order]] = np.asarray(names, dtype=object)[piece]
    return out


# ------------------------------------------------------------------ priorities


def _rounds(year: int, visits_per_year: int) -> list[tuple[dt.date, dt.date]]:
    months = 12 // visits_per_year
    out = []
    for r in range(visits_per_year):
        first = dt.date(year, 1 + r * months, 1)
        nxt = (
            dt.date(year + 1, 1, 1)
            if r == visits_per_year - 1
            else dt.date(year, 1 + (r + 1) * months, 1)
        )
        out.append((first, nxt - dt.timedelta(days=1)))
    return out


def _season_starts(season: Season, first: dt.date, last: dt.date) -> bool:
    days = pd.date_range(first - dt.timedelta(days=1), last)
    inside = season.contains(days)
    return bool((inside[1:] & ~inside[:-1]).any())


def visit_priority(
    customers: pd.DataFrame,
    *,
    orders: pd.DataFrame | None = None,
    on: dt.date,
    until: dt.date | None = None,
    settings: VisitSettings | None = None,
    seasons: Mapping[str, Season] = SEASONS,
) -> pd.DataFrame:
    """Why each customer should be visited early, from the archive and the work orders.

    Parameters
    ----------
    customers
        ``customer_id`` and, where known, ``vulnerable`` (重点关怀), ``voltage_class`` (HV),
        ``village_code``.
    orders
        Work orders (``customer_id``, ``kind``, ``reported_at``; :func:`gridgeo.read_orders`).
    on
        The first day of the planned round: complaints and faults before it count.
    until
        The round's last day (seasons that start between ``on`` and it); ``on`` if None.
    settings, seasons
        The windows and thresholds (:class:`VisitSettings`) and the seasons of load.

    Returns
    -------
    pandas.DataFrame
        On the customers' index: a boolean column per reason of :data:`PRIORITY_WEIGHTS`,
        ``priority`` (the sum of the weights of the reasons that hold) and
        ``priority_reasons`` (their Chinese words, joined by ``、``).
    """
    settings = settings or VisitSettings()
    until = until or on
    check_columns(customers, ("customer_id",), "customers")
    idx = customers.index
    out = pd.DataFrame(index=idx)
    if "vulnerable" in customers:
        vul = customers["vulnerable"]
        out["vulnerable"] = vul.map(
            lambda v: str(v).strip().lower() in {"true", "1", "是", "yes"}
        ).to_numpy(bool)
    else:
        out["vulnerable"] = False
    if "voltage_class" in customers:
        out["hv"] = (
            customers["voltage_class"]
            .astype("string")
            .str.upper()
            .eq("HV")
            .fillna(False)
            .to_numpy(bool)
        )
    else:
        out["hv"] = False
    out["complaint"] = False
    out["repeat_faults"] = False
    out["season"] = False
    if orders is not None and len(orders):
        check_columns(orders, ("customer_id", "kind", "reported_at"), "work orders")
        when = pd.to_datetime(orders["reported_at"], utc=True, errors="coerce")
        start = pd.Timestamp(on).tz_localize("Asia/Shanghai").tz_convert("UTC")
        before = when < start
        kind = orders["kind"].astype(str)
        cust = orders["customer_id"].astype("string").fillna("")
        ids = customers["customer_id"].astype(str)
        recent_c = before & (when >= start - pd.Timedelta(days=settings.complaint_days))
        complained = set(cust[recent_c & (kind == "complaint")]) - {""}
        out["complaint"] = ids.isin(complained).to_numpy()
        recent_f = before & (when >= start - pd.Timedelta(days=settings.repeat_fault_days))
        faults = cust[recent_f & (kind == "fault")]
        counts = faults[faults != ""].value_counts()
        repeated = set(counts.index[counts >= settings.repeat_fault_count])
        out["repeat_faults"] = ids.isin(repeated).to_numpy()
        if "village_code" in customers:
            villages = customers["village_code"].astype("string").fillna("")
            village_of = dict(zip(ids, villages, strict=True))
            local_day = when.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None).dt.normalize()
            last_year = before & (when >= start - pd.Timedelta(days=365)) & (kind == "fault")
            flagged: set[str] = set()
            for season in seasons.values():
                if not _season_starts(season, on, until):
                    continue
                in_season = last_year & season.contains(pd.DatetimeIndex(local_day))
                v = cust[in_season].map(village_of).dropna()
                counts_v = v[v != ""].value_counts()
                flagged |= set(counts_v.index[counts_v >= settings.season_min_faults])
            out["season"] = villages.isin(flagged).to_numpy()
    weights = np.zeros(len(idx), dtype=np.int64)
    words: list[list[str]] = [[] for _ in range(len(idx))]
    for key, weight in PRIORITY_WEIGHTS.items():
        flag = out[key].to_numpy(bool)
        weights += weight * flag
        for i in np.flatnonzero(flag):
            words[i].append(PRIORITY_LABELS[key])
    out["priority"] = weights
    out["priority_reasons"] = ["、".join(w) for w in words]
    return out


# ------------------------------------------------------------------ routes


def _visit_durations(customers: pd.DataFrame, settings: VisitSettings) -> np.ndarray:
    n = len(customers)
    base = np.full(n, float(settings.visit_s))
    if "category" in customers:
        cat = customers["category"].astype("string").fillna("")
        for name, seconds in settings.visit_s_by_category.items():
            base[(cat == name).to_numpy(bool)] = float(seconds)
    if "voltage_class" in customers:
        hv = customers["voltage_class"].astype("string").str.upper().eq("HV").fillna(False)
        base[hv.to_numpy(bool)] = np.maximum(base[hv.to_numpy(bool)], settings.hv_visit_s)
    return base


_WINDOW_SPLIT = re.compile(r"\s*(?:-|~|至|到|－|–|—)\s*")


def _clock_of(text: str) -> float | None:
    """Seconds after midnight of "HH:MM" (or "HH:MM:SS"); NaN for an empty text; None if the
    text is not a time of day."""
    text = unicodedata.normalize("NFKC", text).strip()
    if text == "":
        return math.nan
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        return None
    hours, minutes = int(parts[0]), int(parts[1])
    seconds = int(parts[2]) if len(parts) == 3 else 0
    if not (0 <= hours <= 24 and 0 <= minutes < 60 and 0 <= seconds < 60):
        return None
    return hours * 3600.0 + minutes * 60.0 + seconds


def visit_windows(customers: pd.DataFrame, settings: VisitSettings | None = None) -> pd.DataFrame:
    """
    When each customer can be visited, in seconds after the member leaves the base.

    Parameters
    ----------
    customers
        The customers: a ``visit_window`` column ("09:00-12:00", China time; "09:00-" or
        "-12:00" leave one end open; "至", "~" also separate), or ``open`` and ``close``
        columns ("09:00", "12:00"); empty values: no window. Neither column: no windows.
    settings
        :class:`VisitSettings` (the day's start, ``day_start``).

    Returns
    -------
    pandas.DataFrame
        On the customers' index: ``tw_early_s`` and ``tw_late_s``, seconds after leaving the
        base at ``settings.day_start`` (NaN where that end is open; negative for a time
        before the day starts).

    Raises
    ------
    InputError
        A value is not a time of day or its window closes before it opens (the message names
        the column, the first customers and how to write it).
    """
    settings = settings or VisitSettings()
    out = pd.DataFrame({"tw_early_s": np.nan, "tw_late_s": np.nan}, index=customers.index)
    if WINDOW_COLUMN in customers:
        text = customers[WINDOW_COLUMN].astype("string").fillna("")
        column = f"`{WINDOW_COLUMN}` (走访时段)"

        def ends(value: str) -> tuple[float | None, float | None]:
            value = unicodedata.normalize("NFKC", value).strip()
            if value == "":
                return math.nan, math.nan
            pieces = _WINDOW_SPLIT.split(value)
            if len(pieces) != 2:
                return None, None
            return _clock_of(pieces[0]), _clock_of(pieces[1])

        parsed = {v: ends(v) for v in pd.unique(text.to_numpy(dtype=object))}
        pairs = [parsed[v] for v in text.to_numpy(dtype=object)]
    elif all(c in customers for c in WINDOW_OPEN_CLOSE):
        o, c = (customers[k].astype("string").fillna("").to_numpy(dtype=object) for k in
                WINDOW_OPEN_CLOSE)  # fmt: skip
        column = "`open` / `close` (开始/结束时间)"
        pairs = [(_clock_of(a), _clock_of(b)) for a, b in zip(o, c, strict=True)]
    else:
        return out
    early = np.array([math.inf if a is None else a for a, _ in pairs], dtype=float)
    late = np.array([math.inf if b is None else b for _, b in pairs], dtype=float)
    bad = np.isinf(early) | np.isinf(late) | (early > late)
    if bad.any():
        ids = (
            customers["customer_id"].astype(str).to_numpy()
            if "customer_id" in customers
            else customers.index.astype(str).to_numpy()
        )
        shown = ", ".join(ids[bad][:5]) + (" ..." if bad.sum() > 5 else "")
        msg = (
            f"走访时段无法识别 / {int(bad.sum())} customer(s) have a visit window in {column} "
            f"that is not HH:MM-HH:MM or closes before it opens ({shown}): write e.g. "
            "09:00-12:00, or leave it empty"
        )
        raise InputError(msg)
    start = settings.day_start_s
    out["tw_early_s"] = early - start
    out["tw_late_s"] = late - start
    return out


def _window_array(
    customers: pd.DataFrame, settings: VisitSettings, limit_s: float
) -> np.ndarray | None:
    """(n, 2) windows in seconds after leaving the base (open ends: 0 and ``limit_s``), or None
    if no customer has one. ``tw_early_s`` / ``tw_late_s`` columns, where given, come first."""
    if "tw_early_s" in customers or "tw_late_s" in customers:
        nan = pd.Series(np.nan, index=customers.index)
        early = pd.to_numeric(customers.get("tw_early_s", nan), errors="coerce").to_numpy(float)
        late = pd.to_numeric(customers.get("tw_late_s", nan), errors="coerce").to_numpy(float)
    else:
        w = visit_windows(customers, settings)
        early, late = w["tw_early_s"].to_numpy(float), w["tw_late_s"].to_numpy(float)
    if np.isnan(early).all() and np.isnan(late).all():
        return None
    early = np.maximum(np.nan_to_num(early, nan=0.0), 0.0)
    return np.column_stack([early, np.nan_to_num(late, nan=limit_s)])


def _dense_times(engine: ReachEngine, points: gpd.GeoSeries, limit_s: float) -> np.ndarray:
    """Travel times between all ``points`` within ``limit_s`` (inf beyond), the base first.

    A way from one place to another is never longer than the way through the base (both are
    ways on the same roads), so the searches between the places stop at the longest way out
    of the base plus the longest way back: the same matrix as searching to ``limit_s``, with
    searches that cover the member's part of the county instead of the whole county."""
    base = points.iloc[:1]

    def row(reverse: bool) -> np.ndarray:
        coo = travel_matrix(engine, base, points, limit_s=limit_s, reverse=reverse).tocoo()
        times = np.full(len(points), np.inf)
        times[coo.col] = coo.data
        return times

    out_of, into = row(False), row(True)
    ends = [t[1:][np.isfinite(t[1:])] for t in (out_of, into)]
    bound = sum(float(t.max()) if len(t) else 0.0 for t in ends) + 1.0  # rounding slack
    csr = travel_matrix(engine, points, points, limit_s=min(limit_s, bound)).tocoo()
    out = np.full(csr.shape, np.inf)
    out[csr.row, csr.col] = csr.data
    np.fill_diagonal(out, 0.0)
    return out


def _cut_reasons(engine: ReachEngine, pts: gpd.GeoSeries, locs: np.ndarray) -> list[str]:
    """Why locations have no road way to and from the base: the snapping reason
    (``too_far_from_road``, ``isolated_road_piece``) or ``no_road_route``."""
    snapped = engine.snap(pts.iloc[np.unique(locs)])["reason"]
    return [r if r in UNPLANNED_REASONS else "no_road_route" for r in snapped.reindex(locs)]


def _tour_travel(M: np.ndarray, tour: list[int] | np.ndarray) -> float:
    path = np.asarray(tour, dtype=np.int64)
    return float(M[path[:-1], path[1:]].sum())


def _solve_pyvrp(
    M: np.ndarray,
    service_s: np.ndarray,
    limit_s: float,
    initial: list[int],
    *,
    iterations: int,
    seed: int,
    windows: np.ndarray | None = None,
) -> list[int] | None:
    """Order of the stops (1..n of M) by PyVRP, or None if it found no feasible route."""
    import pyvrp
    from pyvrp.stop import MaxIterations

    n = M.shape[0]
    big = math.ceil(limit_s) * 4 + 1
    T = np.where(np.isfinite(M), np.ceil(M), big).astype(np.int64)
    np.fill_diagonal(T, 0)
    locations = [pyvrp.Location(0, 0) for _ in range(n)]  # positions unused: matrices given
    clients = []
    for i in range(1, n):
        if windows is None:
            early, late = 0, math.floor(limit_s)
        else:
            early = math.ceil(windows[i - 1, 0])
            late = max(early, math.floor(min(windows[i - 1, 1], limit_s)))
        clients.append(
            pyvrp.Client(
                location=i,
                service_duration=math.ceil(service_s[i - 1]),
                tw_early=int(early),
                tw_late=int(late),
            )
        )
    data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=[pyvrp.Depot(location=0)],
        vehicle_types=[
            pyvrp.VehicleType(
                1,
                shift_duration=math.floor(limit_s),
                # the cost is the travel time (the "distance" matrix holds times): waiting for
                # a window to open costs nothing, the shift bounds the day with the waits
                unit_distance_cost=1,
                unit_duration_cost=0,
            )
        ],
        distance_matrices=[T],  # type: ignore[list-item]  # stubs say ndarray[int]
        duration_matrices=[T],  # type: ignore[list-item]
    )
    start = pyvrp.Solution(data, [[i - 1 for i in initial]]) if initial else None
    result = pyvrp.solve(
        data,
        stop=MaxIterations(iterations),
        seed=seed,
        display=False,
        collect_stats=False,
        initial_solution=start,
    )
    best = result.best
    if not best.is_feasible() or best.num_missing_clients():
        return None
    routes = best.routes()
    if not routes:
        return []
    return [int(a.idx) + 1 for a in routes[0].schedule() if a.is_client()]


def _cheapest_insertion(M: np.ndarray, tour: list[int], c: int) -> tuple[float, int]:
    """Least added travel time of putting location ``c`` into ``tour`` (base at both ends)."""
    path = np.asarray(tour, dtype=np.int64)
    a, b = path[:-1], path[1:]
    delta = M[a, c] + M[c, b] - M[a, b]
    k = int(np.argmin(delta))
    return float(delta[k]), k + 1


def _insertion_order(M: np.ndarray, service_s: np.ndarray) -> list[int]:
    """Stops 1..n of ``M`` (0 = base) put in by cheapest insertion, in the given order."""
    tour = [0, 0]
    for c in range(1, M.shape[0]):
        _, at = _cheapest_insertion(M, tour, c)
        tour.insert(at, c)
    return tour[1:-1]


def _times(
    M: np.ndarray, order: list[int], service_s: np.ndarray, windows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Arrival and leaving times (s after leaving the base) of the stops in ``order`` (1..n of
    ``M``), waiting for a window's start, and the round trip's travel time."""
    arrive = np.zeros(len(order))
    leave = np.zeros(len(order))
    now, here, travel = 0.0, 0, 0.0
    for k, stop in enumerate(order):
        leg = float(M[here, stop])
        travel += leg
        now += leg
        arrive[k] = now
        if windows is not None:
            now = max(now, float(windows[stop - 1, 0]))
        now += float(service_s[stop - 1])
        leave[k] = now
        here = stop
    travel += float(M[here, 0])
    return arrive, leave, travel


def _fits(
    M: np.ndarray,
    order: list[int],
    service_s: np.ndarray,
    limit_s: float,
    windows: np.ndarray | None,
) -> bool:
    arrive, leave, travel = _times(M, order, service_s, windows)
    back = (leave[-1] if len(order) else 0.0) + float(M[order[-1], 0] if order else 0.0)
    if (
        windows is not None
        and len(order)
        and np.any(arrive > windows[np.asarray(order) - 1, 1] + 1e-9)
    ):
        return False
    return math.isfinite(travel) and back <= limit_s + 1e-9


def _exact_order(M: np.ndarray) -> list[int]:
    """The quickest order of a few stops, by trying every one (:data:`EXACT_MAX_STOPS`)."""
    import itertools

    n = M.shape[0] - 1
    perms = np.array(list(itertools.permutations(range(1, n + 1))), dtype=np.int64)
    zeros = np.zeros((len(perms), 1), dtype=np.int64)
    paths = np.hstack([zeros, perms, zeros])
    cost = M[paths[:, :-1], paths[:, 1:]].sum(axis=1)
    return [int(i) for i in perms[int(np.argmin(cost))]]


EXACT_MAX_STOPS = 8  # days with this few places are ordered exactly (every order tried)
MIN_PLAN_ITERATIONS = 5  # PyVRP iterations of a small plan day, at least


def _plan_iterations(n_places: int, settings: VisitSettings) -> int:
    """PyVRP iterations for a plan's day of ``n_places`` places: ``n_places // 2``, at least
    :data:`MIN_PLAN_ITERATIONS`, at most ``settings.solver_iterations``.

    The fill's insertion tour is the start and is already good: on the sample county's year
    (912 days of 9 to 42 places) the solver shortens the days by 0.39 % in all at 20
    iterations, 0.38 % with this budget and 0.41 % at 200, and this budget takes a quarter
    less time (``benchmarks/bench_visits.py``). :func:`route_day` uses the full setting.
    """
    if settings.solver_iterations <= 0:
        return 0
    return min(settings.solver_iterations, max(MIN_PLAN_ITERATIONS, n_places // 2))


def _exact_order_windows(
    M: np.ndarray, service_s: np.ndarray, windows: np.ndarray, limit_s: float
) -> list[int] | None:
    """The order of a few stops with the least travel among those that keep every window
    (waiting for a window's start) and the day length, by trying every order; ties: back at
    the base first. None if no order fits."""
    import itertools

    n = M.shape[0] - 1
    perms = np.array(list(itertools.permutations(range(1, n + 1))), dtype=np.int64)
    now = np.zeros(len(perms))
    travel = np.zeros(len(perms))
    ok = np.ones(len(perms), dtype=bool)
    here = np.zeros(len(perms), dtype=np.int64)
    for k in range(n):
        stop = perms[:, k]
        leg = M[here, stop]
        travel += leg
        now = np.maximum(now + leg, windows[stop - 1, 0])
        ok &= now <= windows[stop - 1, 1] + 1e-9
        now += service_s[stop - 1]
        here = stop
    back = M[here, 0]
    travel += back
    now += back
    ok &= np.isfinite(travel) & (now <= limit_s + 1e-9)
    if not ok.any():
        return None
    cand = np.flatnonzero(ok)
    best = cand[np.lexsort((now[cand], travel[cand]))[0]]
    return [int(i) for i in perms[best]]


def _order_stops(
    M: np.ndarray,
    service_s: np.ndarray,
    limit_s: float,
    settings: VisitSettings,
    *,
    initial: list[int] | None = None,
    windows: np.ndarray | None = None,
    iterations: int | None = None,
) -> tuple[list[int], str]:
    """The visiting order of stops 1..n of ``M`` and the method that gave it (PyVRP with
    ``iterations``, default ``settings.solver_iterations``, from the ``initial`` order)."""
    n = M.shape[0] - 1
    if n == 0:
        return [], "none"
    if n <= EXACT_MAX_STOPS:
        if windows is None:
            exact = _exact_order(M)
            if _fits(M, exact, service_s, limit_s, None):
                return exact, "exact"
            return _too_long(n, limit_s)
        found = _exact_order_windows(M, service_s, windows, limit_s)
        return (found, "exact") if found is not None else _too_long(n, limit_s)
    start = initial if initial is not None else _insertion_order(M, service_s)
    solved = None
    budget = settings.solver_iterations if iterations is None else iterations
    if budget > 0 and n >= 2:
        solved = _solve_pyvrp(
            M,
            service_s,
            limit_s,
            start,
            iterations=budget,
            seed=settings.seed,
            windows=windows,
        )
    start_ok = _fits(M, start, service_s, limit_s, windows)
    if (
        solved is not None
        and _fits(M, solved, service_s, limit_s, windows)
        and (
            not start_ok
            or _tour_travel(M, [0, *solved, 0]) < _tour_travel(M, [0, *start, 0]) - 1e-9
        )
    ):
        return solved, "pyvrp"
    if start_ok:
        return start, "insertion"
    return _too_long(n, limit_s)


def _too_long(n: int, limit_s: float) -> Any:
    msg = (
        f"行程超出一天 / the {n} stops do not fit a visit day of {limit_s / 3600:.1f} h "
        "(travel, visits and time windows): remove stops or lengthen the visit day"
    )
    raise InputError(msg)


def route_day(
    engine: ReachEngine,
    base: Any,
    stops: gpd.GeoDataFrame,
    *,
    settings: VisitSettings | None = None,
) -> DayRoute:
    """
    Order one visit day's stops on the roads, from the base and back.

    Parameters
    ----------
    engine
        The reach engine of the travel mode (:func:`gridgeo.read_reach_engine`).
    base
        The member's base: a shapely point in EPSG:4326 or a one-row GeoSeries/GeoDataFrame.
    stops
        The customers (points); ``visit_s`` if given, else the durations of ``settings`` by
        ``category`` / ``voltage_class``; the visit windows where given: ``tw_early_s`` /
        ``tw_late_s`` (seconds after leaving the base: the visit must start within), else
        ``visit_window`` or ``open`` / ``close`` (China time, :func:`visit_windows`).
    settings
        Day length, durations and the solver's iterations and seed.

    Returns
    -------
    DayRoute

    Raises
    ------
    InputError
        A stop has no road way to or from the base, or the stops cannot fit the day.
    """
    settings = settings or VisitSettings()
    if isinstance(base, (gpd.GeoSeries, gpd.GeoDataFrame)):
        base_pt = base.to_crs("EPSG:4326").geometry.iloc[0]
    else:
        base_pt = base
    pts = gpd.GeoSeries([base_pt, *stops.to_crs("EPSG:4326").geometry.to_numpy()], crs="EPSG:4326")
    limit = settings.day_length_s
    M = _dense_times(engine, pts, limit)
    service = (
        stops["visit_s"].to_numpy(float)
        if "visit_s" in stops
        else _visit_durations(stops, settings)
    )
    cut = ~(np.isfinite(M[0, 1:]) & np.isfinite(M[1:, 0]))
    if cut.any():
        labels = list(stops.index[cut])[:5]
        msg = (
            f"无道路可达 / stop(s) {labels!r} have no road way to and from the base within "
            f"{limit / 3600:.1f} h: check their location or leave them out"
        )
        raise InputError(msg)
    windows = _window_array(stops, settings, limit)
    order, _ = _order_stops(M, service, limit, settings, windows=windows)
    arrive, leave, travel = _times(M, order, service, windows)
    positions = np.asarray(order, dtype=np.int64) - 1
    return DayRoute(
        order=positions,
        arrive_s=arrive,
        leave_s=leave,
        travel_s=travel,
        visit_s=float(service.sum()),
    )


def day_route_legs(engine: ReachEngine, base: Any, stops: gpd.GeoSeries) -> gpd.GeoDataFrame:
    """
    The legs of a day's route drawn on the roads: base, the stops in order, back to the base.

    Each leg follows the quickest way on the engine's roads (:func:`gridgeo.routing.route_line`,
    the path of the same search that gives the travel times), with the off-road pieces at its
    ends drawn straight; a leg with no road way (a stop too far from any road, or on a road
    piece joined to no other) is a straight segment.

    Parameters
    ----------
    engine
        The reach engine the day was routed on.
    base
        The member's base: a shapely point in EPSG:4326 or a one-row GeoSeries/GeoDataFrame.
    stops
        The stops' points in visiting order (a GeoSeries in any CRS).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per leg (``len(stops) + 1``): ``from_seq`` and ``to_seq`` (0: the base),
        ``travel_s`` (inf where no road way), ``drawn`` (``roads`` or ``straight``), line
        (EPSG:4326).
    """
    from gridgeo.routing import route_line, times_to_point

    if isinstance(base, (gpd.GeoSeries, gpd.GeoDataFrame)):
        base_pt = base.to_crs("EPSG:4326").geometry.iloc[0]
    else:
        base_pt = base
    where = [base_pt, *stops.to_crs("EPSG:4326").to_numpy(), base_pt]
    snap = engine.snap_points(gpd.GeoSeries(where, crs="EPSG:4326"), "stops")
    rows = []
    n = len(where) - 1
    for k in range(n):
        src, dst = snap.take(np.array([k])), snap.take(np.array([k + 1]))
        eta, choice, pred = times_to_point(engine, src, dst)
        a, b = where[k], where[k + 1]
        if pred is not None and np.isfinite(eta[0]):
            road = engine.to_lonlat(np.array([route_line(engine, src, 0, dst, choice, pred)]))[0]
            line = shapely.LineString([a, *shapely.get_coordinates(road), b])
            drawn = "roads"
        else:
            line = shapely.LineString([a, b])
            drawn = "straight"
        rows.append((k, 0 if k + 1 == n else k + 1, float(eta[0]), drawn, line))
    frame = pd.DataFrame(rows, columns=["from_seq", "to_seq", "travel_s", "drawn", "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")


# ------------------------------------------------------------------ plans


def _as_date(value: Any, name: str) -> dt.date:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        msg = f"`{name}` is not a date: {value!r} (use YYYY-MM-DD)"
        raise InputError(msg) from exc
    if pd.isna(stamp):
        msg = f"`{name}` is not a date: {value!r} (use YYYY-MM-DD)"
        raise InputError(msg)
    return stamp.date()


def _visit_dates(first: dt.date, last: dt.date, weekday: int) -> list[dt.date]:
    shift = (weekday - first.weekday()) % 7
    day = first + dt.timedelta(days=shift)
    out = []
    while day <= last:
        out.append(day)
        day += dt.timedelta(days=7)
    return out


def _village_chain(M: np.ndarray, first_loc: np.ndarray) -> np.ndarray:
    """Rank of each village (given by a location) on a nearest-first chain from the base."""
    n = len(first_loc)
    rank = np.zeros(n, dtype=np.int64)
    left = np.ones(n, dtype=bool)
    here = 0
    for k in range(n):
        cand = np.flatnonzero(left)
        d = M[here, first_loc[cand]]
        j = int(cand[int(np.argmin(d))])
        rank[j] = k
        left[j] = False
        here = int(first_loc[j])
    return rank


def _day_fits(
    M: np.ndarray,
    loc: np.ndarray,
    service: np.ndarray,
    windows: np.ndarray,
    customers: list[int],
    limit_s: float,
) -> bool:
    """Whether customers visited in this order keep their windows and the day length."""
    now, here = 0.0, 0
    for c in customers:
        now = max(now + float(M[here, loc[c]]), float(windows[c, 0]))
        if now > windows[c, 1] + 1e-9:
            return False
        now += float(service[c])
        here = int(loc[c])
    return now + float(M[here, 0]) <= limit_s + 1e-9


class _Tour:
    """A tour from the base (0) and back held in arrays, for quick cheapest insertions: the
    same arithmetic as :func:`_cheapest_insertion` with the legs' times kept."""

    def __init__(self, M: np.ndarray, capacity: int) -> None:
        self.M = M
        self.n = 0  # stops
        self.path = np.zeros(capacity + 2, dtype=np.int64)  # base, stops, base
        self.legs = np.zeros(capacity + 1)  # path[i] -> path[i + 1]
        self.legs[0] = M[0, 0]

    def cheapest(self, c: int) -> tuple[float, int]:
        """Least added travel time of putting location ``c`` in, and where (index)."""
        n = self.n
        delta = self.M[self.path[: n + 1], c] + self.M[c, self.path[1 : n + 2]]
        delta -= self.legs[: n + 1]
        k = int(delta.argmin())
        return float(delta[k]), k + 1

    def insert(self, at: int, c: int) -> None:
        n, path, legs = self.n, self.path, self.legs
        path[at + 1 : n + 3] = path[at : n + 2].copy()
        path[at] = c
        legs[at + 1 : n + 2] = legs[at : n + 1].copy()
        legs[at - 1] = self.M[path[at - 1], c]
        legs[at] = self.M[c, path[at + 1]]
        self.n = n + 1


def _fill_days(
    M: np.ndarray,
    loc: np.ndarray,
    service: np.ndarray,
    queue: np.ndarray,
    limit_s: float,
    n_days: int,
    windows: np.ndarray | None = None,
) -> list[list[int]]:
    """Visit days filled in order by cheapest insertion (see the module docstring).

    ``queue`` holds customer positions in priority order; returns the customers of each day
    (``n_days`` real days, then as many extra days as the rest needs, at most
    :data:`MAX_EXTRA_DAYS` more, whose last entry then holds every customer left) in
    insertion-tour order. With ``windows`` (per customer position, seconds after leaving the
    base), a customer goes in at the cheapest place of the tour that keeps every window.
    """
    taken = np.zeros(len(queue), dtype=bool)
    head = 0
    days: list[list[int]] = []
    while head < len(queue) and len(days) < n_days + MAX_EXTRA_DAYS:
        tour = _Tour(M, len(queue) - head)
        members: list[int] = [-1, -1]  # customers along the tour, -1 at the base
        travel = visit = 0.0
        misses = 0
        k = head
        while k < len(queue) and misses <= LOOKAHEAD:
            if taken[k]:
                k += 1
                continue
            c = int(queue[k])
            if windows is not None:
                at, delta = _window_insertion(
                    M, loc, service, windows, members, c,
                    spare_s=limit_s - travel - visit, limit_s=limit_s,
                )  # fmt: skip
            else:
                delta, at = tour.cheapest(int(loc[c]))
            if at > 0 and travel + delta + visit + service[c] <= limit_s:
                tour.insert(at, int(loc[c]))
                members.insert(at, c)
                travel += delta
                visit += float(service[c])
                taken[k] = True
            else:
                misses += 1
            k += 1
        while head < len(queue) and taken[head]:
            head += 1
        days.append(members[1:-1])
    if head < len(queue):  # beyond the extra days counted: listed all the same, never dropped
        days.append([int(queue[k]) for k in range(head, len(queue)) if not taken[k]])
    return days


def _window_insertion(
    M: np.ndarray,
    loc: np.ndarray,
    service: np.ndarray,
    windows: np.ndarray,
    members: list[int],
    c: int,
    *,
    spare_s: float,
    limit_s: float,
) -> tuple[int, float]:
    """The cheapest place (index into the tour, base at both ends) to put customer ``c`` that
    keeps every window and the day length, and the travel it adds; (0, inf) if none.

    ``members`` are the tour's customers with -1 for the base at both ends; ``spare_s`` the
    day length less the tour's travel and visits (waiting not counted: a quick bound)."""
    inner = members[1:-1]
    path = np.asarray([0, *(int(loc[i]) for i in inner), 0], dtype=np.int64)
    a, b = path[:-1], path[1:]
    lc = int(loc[c])
    delta = M[a, lc] + M[lc, b] - M[a, b]
    for k in np.argsort(delta, kind="stable"):
        if not delta[k] + service[c] <= spare_s + 1e-9:
            break
        if _day_fits(M, loc, service, windows, [*inner[:k], c, *inner[k:]], limit_s):
            return int(k) + 1, float(delta[k])
    return 0, math.inf


_STOP_COLUMNS = [
    "member",
    "grid_id",
    "date",
    "round",
    "seq",
    "customer_id",
    "village_code",
    "village",
    "address",
    "phone",
    "category",
    "visit_s",
    "arrive_s",
    "leave_s",
    "eta",
    "priority",
    "priority_reasons",
    "overdue",
]
_DAY_COLUMNS = [
    "member",
    "date",
    "round",
    "base_id",
    "stops",
    "travel_s",
    "visit_s",
    "total_s",
    "day_length_s",
    "solver",
]
_UNPLANNED_COLUMNS = ["customer_id", "member", "round", "reason", "reason_text"]


def _hhmm(seconds: np.ndarray) -> list[str]:
    minutes = np.floor(np.asarray(seconds) / 60.0).astype(np.int64)
    return [f"{m // 60 % 24:02d}:{m % 60:02d}" for m in minutes]


def _route_customers(
    M: np.ndarray,
    locs: np.ndarray,
    rows: np.ndarray,
    service: np.ndarray,
    limit_s: float,
    settings: VisitSettings,
    windows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, str]:
    """Order one day's customers (``rows``, at member locations ``locs`` of ``M``).

    Customers at the same place (and with the same visit window) are one stop of the route
    (their visits one after the other, in the given order): travel times are shortest-path
    times, so keeping them together never makes a tour longer, and the solver sees fewer
    stops. ``windows`` (per customer position, seconds after leaving the base) are kept: a
    place's window closes early enough for its last visit to start in time. Returns the
    customers in visiting order, when each visit starts and ends (s after leaving the base,
    after waiting for a window to open), the travel time and the method that ordered the
    stops.
    """
    if windows is None:
        key = np.asarray(locs, dtype=float)[:, None]
    else:
        key = np.column_stack([locs, windows[rows]])
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    # places in the order their first customer comes (the fill's order), as the start tour
    by_first = np.argsort(first, kind="stable")
    rank = np.empty_like(by_first)
    rank[by_first] = np.arange(len(by_first))
    first, inverse = first[by_first], rank[inverse]
    places = np.asarray(locs)[first]
    place_s = np.bincount(inverse, weights=service[rows], minlength=len(places))
    place_w = None
    if windows is not None:
        # the last visit at a place starts after the others there: its window closes earlier
        last_s = np.zeros(len(places))
        np.maximum.at(last_s, inverse, service[rows])
        place_w = windows[rows[first]].copy()
        place_w[:, 1] -= place_s - last_s
    sub = np.concatenate([[0], places])
    Md = M[np.ix_(sub, sub)]
    order, solver = _order_stops(
        Md,
        place_s,
        limit_s,
        settings,
        initial=list(range(1, len(places) + 1)),
        windows=place_w,
        iterations=_plan_iterations(len(places), settings),
    )
    p_arrive, p_leave, travel = _times(Md, order, place_s, place_w)
    p_start = p_leave - place_s[np.asarray(order, dtype=np.int64) - 1] if len(order) else p_arrive
    seq_parts, arrive_parts = [], []
    for k, o in enumerate(order):
        here = rows[inverse == o - 1]
        if windows is not None:  # the longest visit last: the place's window allows for it
            here = here[np.argsort(service[here], kind="stable")]
        seq_parts.append(here)
        # visits at one place follow each other
        arrive_parts.append(p_start[k] + np.concatenate([[0.0], np.cumsum(service[here])[:-1]]))
    seq = np.concatenate(seq_parts)
    arrive = np.concatenate(arrive_parts)
    visit = service[seq]
    return seq, arrive, arrive + visit, travel, solver


def _stops_frame(
    parts: list[dict[str, np.ndarray]],
    cust: gpd.GeoDataFrame,
    ids: np.ndarray,
    text: dict[str, np.ndarray],
    service: np.ndarray,
    settings: VisitSettings,
) -> gpd.GeoDataFrame:
    columns = [*_STOP_COLUMNS, "geometry"]
    if not parts:
        return gpd.GeoDataFrame(pd.DataFrame(columns=columns), geometry="geometry", crs="EPSG:4326")
    frame = pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
    row = frame["_row"].to_numpy()
    frame["grid_id"] = text["grid_t3"][row]
    frame["customer_id"] = ids[row]
    for c in ("village_code", "village", "address", "phone", "category"):
        frame[c] = text[c][row]
    frame["visit_s"] = service[row]
    frame["eta"] = _hhmm(settings.day_start_s + frame["arrive_s"].to_numpy())
    frame["priority"] = frame["_prio"].astype(np.int64)
    over = np.where(frame["overdue"].to_numpy(bool), PRIORITY_LABELS["overdue"], "")
    why = frame["_why"].astype(str).to_numpy()
    frame["priority_reasons"] = [
        "、".join(w for w in (a, b) if w) for a, b in zip(over, why, strict=True)
    ]
    frame["geometry"] = cust.geometry.to_numpy()[row]
    return gpd.GeoDataFrame(frame[columns], geometry="geometry", crs="EPSG:4326")


def plan_visits(
    customers: gpd.GeoDataFrame,
    members: gpd.GeoDataFrame,
    engine: ReachEngine,
    *,
    start: Any,
    end: Any,
    settings: VisitSettings | None = None,
    orders: pd.DataFrame | None = None,
    last_visits: pd.Series | None = None,
) -> VisitPlan:
    """
    Plan the home visits of a period: each member's visit days, their customers and routes.

    How customers are ordered, how the days are filled and routed, and what happens to
    customers that do not fit, is told in the module docstring (:mod:`gridgeo.visits`).

    Parameters
    ----------
    customers
        The customers layer: ``customer_id``, ``grid_t3``, point; where known ``village_code``,
        ``village``, ``address``, ``phone``, ``category``, ``voltage_class``, ``vulnerable``.
    members
        :func:`member_bases`' table (member, grid_ids, base_id, base point).
    engine
        The reach engine of ``settings.mode``.
    start, end
        First and last day of the period (inclusive; dates or "YYYY-MM-DD").
    settings
        :class:`VisitSettings`.
    orders
        Work orders for the priorities (:func:`visit_priority`), or None.
    last_visits
        Last recorded home visit of each customer (a Series on ``customer_id``, NaT for none),
        or None if there are no visit records: customers visited within a round are done for it,
        those not visited for longer than a round are overdue.

    Returns
    -------
    VisitPlan

    Raises
    ------
    InputError
        ``end`` before ``start``, a missing column, or an engine of another travel mode.
    """
    settings = settings or VisitSettings()
    first_day, last_day = _as_date(start, "start"), _as_date(end, "end")
    if last_day < first_day:
        msg = f"the period ends ({last_day}) before it starts ({first_day}): swap start and end"
        raise InputError(msg)
    check_columns(customers, ("customer_id", "grid_t3", "geometry"), "customers")
    check_columns(members, ("member", "grid_ids", "base_id", "geometry"), "members")
    mode = getattr(engine, "mode", None)
    if mode is not None and mode != settings.mode:
        msg = (
            f"the road engine is for travel mode {mode!r} but the visit settings ask for "
            f"{settings.mode!r}: build the engine of mode {settings.mode!r} or change the setting"
        )
        raise InputError(msg)
    cust = customers.to_crs("EPSG:4326").reset_index(drop=True)
    ids = cust["customer_id"].astype(str).to_numpy(dtype=object)
    owner = assign_members(cust, members).to_numpy(dtype=object)
    located = ~(cust.geometry.isna() | cust.geometry.is_empty).to_numpy()
    service = _visit_durations(cust, settings)
    limit = settings.day_length_s
    windows = _window_array(cust, settings, limit)
    text = {
        c: (
            cust[c].astype("string").fillna("").to_numpy(dtype=object)
            if c in cust
            else np.full(len(cust), "", dtype=object)
        )
        for c in ("village_code", "village", "address", "phone", "category", "grid_t3")
    }
    last = None
    if last_visits is not None:
        lv = pd.to_datetime(last_visits, errors="coerce")
        lv.index = lv.index.astype(str)
        last = pd.Series(ids).map(lv).to_numpy(dtype="datetime64[ns]")

    rounds = []
    for year in range(first_day.year, last_day.year + 1):
        for r, (f, lst) in enumerate(_rounds(year, settings.visits_per_year), start=1):
            if lst >= first_day and f <= last_day:
                rounds.append((r, f, lst))

    stop_parts: list[dict[str, np.ndarray]] = []
    day_rows: list[dict[str, Any]] = []
    unplanned: list[tuple[str, str, int, str]] = []
    member_rows: list[dict[str, Any]] = []
    for r, _, _ in rounds:
        no_loc = np.flatnonzero(~located)
        unplanned += [(ids[i], owner[i], r, "not_located") for i in no_loc]
        no_member = np.flatnonzero(located & (owner == ""))
        unplanned += [
            (ids[i], "", r, "no_member" if text["grid_t3"][i] else "no_grid") for i in no_member
        ]
    priorities = {
        (r, f): visit_priority(
            cust, orders=orders, on=max(f, first_day), until=lst, settings=settings
        )
        for r, f, lst in rounds
    }

    for m in members.itertuples(index=False):
        name = str(m.member)
        rows = np.flatnonzero(located & (owner == name))
        stats = {"planned": 0, "unplanned": 0, "extra": 0, "days": 0, "later": 0}
        if len(rows):
            coords = shapely.get_coordinates(cust.geometry.to_numpy()[rows])
            # one place per point (to about 1 cm); routed at its first customer's point
            _, first, inverse = np.unique(
                np.round(coords, 7), axis=0, return_index=True, return_inverse=True
            )
            uniq = coords[first]
            loc_of = np.zeros(len(cust), dtype=np.int64)
            loc_of[rows] = inverse.ravel() + 1
            pts = gpd.GeoSeries([m.geometry, *shapely.points(uniq)], crs="EPSG:4326")
            M = _dense_times(engine, pts, limit)
            there, back = M[0, loc_of[rows]], M[loc_of[rows], 0]
            cut = ~(np.isfinite(there) & np.isfinite(back))
            alone = ~cut & (there + service[rows] + back > limit)
            if cut.any():
                why = _cut_reasons(engine, pts, loc_of[rows[cut]])
                for i, reason in zip(rows[cut], why, strict=True):
                    unplanned += [(ids[i], name, r, reason) for r, _, _ in rounds]
            for i in rows[alone]:
                unplanned += [(ids[i], name, r, "over_day_alone") for r, _, _ in rounds]
            mine_w = None
            late_w = np.zeros(len(rows), dtype=bool)
            if windows is not None and (windows[rows] != (0.0, limit)).any():
                mine_w = windows
                begin_s = np.maximum(there, windows[rows, 0])
                late_w = (
                    ~cut
                    & ~alone
                    & (
                        (begin_s > windows[rows, 1] + 1e-9)
                        | (begin_s + service[rows] + back > limit + 1e-9)
                    )
                )
                for i in rows[late_w]:
                    unplanned += [(ids[i], name, r, "window_outside_day") for r, _, _ in rounds]
            ok_rows = rows[~cut & ~alone & ~late_w]
            vill = text["village_code"][ok_rows]
            first_loc = pd.Series(loc_of[ok_rows]).groupby(vill).first()
            chain = _village_chain(M, first_loc.to_numpy()) if len(first_loc) else np.zeros(0)
            v_rank = pd.Series(chain, index=first_loc.index).reindex(vill).to_numpy()
            for r, f, lst in rounds:
                begin = max(f, first_day)
                pr = priorities[(r, f)]
                prio_all = pr["priority"].to_numpy()
                why_all = pr["priority_reasons"].to_numpy(dtype=object)
                due = np.ones(len(ok_rows), dtype=bool)
                overdue = np.zeros(len(ok_rows), dtype=bool)
                if last is not None:
                    seen = last[ok_rows]
                    due = ~(seen >= np.datetime64(f))
                    gap = np.timedelta64(round(365 / settings.visits_per_year), "D")
                    overdue = np.isnat(seen) | (seen < np.datetime64(begin) - gap)
                todo = ok_rows[due]
                key_over, key_v = overdue[due], v_rank[due]
                prio = pr["priority"].to_numpy()[todo]
                queue = todo[
                    np.lexsort((ids[todo].astype(str), loc_of[todo], key_v, -prio, ~key_over))
                ]
                over_of = dict(zip(todo, key_over, strict=True))
                dates = _visit_dates(begin, lst, settings.weekday)
                filled = _fill_days(M, loc_of, service, queue, limit, len(dates), mine_w)
                for d, day_customers in enumerate(filled):
                    if d >= len(dates):
                        stats["extra"] += 1
                        stats["unplanned"] += len(day_customers)
                        unplanned += [(ids[i], name, r, "no_visit_day_left") for i in day_customers]
                        continue
                    if dates[d] > last_day:
                        stats["later"] += len(day_customers)
                        continue
                    if not day_customers:
                        continue
                    dc = np.asarray(day_customers, dtype=np.int64)
                    seq_c, arrive, leave, travel, solver = _route_customers(
                        M, loc_of[dc], dc, service, limit, settings, mine_w
                    )
                    n_c = len(seq_c)
                    # columns gathered as arrays (one frame at the end: a frame a day is slow)
                    stop_parts.append(
                        {
                            "member": np.full(n_c, name, dtype=object),
                            "date": np.full(n_c, dates[d], dtype=object),
                            "round": np.full(n_c, r, dtype=np.int64),
                            "seq": np.arange(1, n_c + 1),
                            "_row": seq_c,
                            "arrive_s": arrive,
                            "leave_s": leave,
                            "overdue": np.array([bool(over_of[i]) for i in seq_c], dtype=bool),
                            "_prio": prio_all[seq_c],
                            "_why": why_all[seq_c],
                        }
                    )
                    visit_total = float(service[dc].sum())
                    # back at the base: travel, visits and any wait for a window to open
                    back_s = float(leave[-1] + M[loc_of[seq_c[-1]], 0])
                    day_rows.append(
                        {
                            "member": name,
                            "date": dates[d],
                            "round": r,
                            "base_id": m.base_id,
                            "stops": len(dc),
                            "travel_s": travel,
                            "visit_s": visit_total,
                            "total_s": max(travel + visit_total, back_s),
                            "day_length_s": limit,
                            "solver": solver,
                        }
                    )
                    stats["planned"] += len(dc)
                    stats["days"] += 1
        member_rows.append(
            {
                "member": name,
                "grid_ids": list(m.grid_ids),
                "base_id": m.base_id,
                "base_name": getattr(m, "base_name", m.base_id),
                "customers": len(rows),
                "visit_days": stats["days"],
                "planned": stats["planned"],
                "later_in_round": stats["later"],
                "unplanned": stats["unplanned"],
                "extra_days_needed": stats["extra"],
            }
        )
        logger.debug("member %s: %s", name, stats)

    stops = _stops_frame(stop_parts, cust, ids, text, service, settings)
    days = pd.DataFrame(day_rows, columns=_DAY_COLUMNS)
    if len(stops):
        stops = stops.sort_values(["member", "date", "seq"], kind="stable", ignore_index=True)
        days = days.sort_values(["member", "date"], kind="stable", ignore_index=True)
    lost = pd.DataFrame(unplanned, columns=_UNPLANNED_COLUMNS[:4])
    lost["reason_text"] = lost["reason"].map(UNPLANNED_REASONS)
    lost = lost.sort_values(
        ["round", "reason", "member", "customer_id"], kind="stable", ignore_index=True
    )
    return VisitPlan(
        stops=stops,
        days=days,
        unplanned=lost,
        members=pd.DataFrame(member_rows),
        settings=settings,
    )


def plan_workspace_visits(
    store: GeoPackageStore,
    *,
    start: Any,
    end: Any,
    settings: VisitSettings | None = None,
    bases: pd.DataFrame | None = None,
    grid: str | None = None,
    member: str | None = None,
) -> VisitPlan:
    """Plan the visits of a workspace (the job the CLI, the API and the pages call).

    Reads the customers, grids (with the roster's members), repair stations, the work orders
    if any, and the road engine of ``settings.mode``. ``grid`` (a tier-3 grid id) plans that
    grid's customers only, with that grid's members only (a member who also looks after
    another grid is planned for this grid alone); ``member`` plans that member's customers
    (of all their grids, or of ``grid``). Customers are shared among a grid's members as in
    the whole workspace's plan (:func:`assign_members`), so a part plans what the whole plan
    gives that part. See :func:`plan_visits`.

    Raises
    ------
    InputError
        ``grid`` is no tier-3 grid with members, ``member`` is no member (of ``grid``).
    """
    from gridgeo.orders import read_orders
    from gridgeo.workspace import read_reach_engine

    settings = settings or VisitSettings()
    grids = store.read("grids")
    stations = store.read("repair_stations")
    members = member_bases(grids, stations, bases=bases)
    customers = store.read("customers")
    if grid is not None:
        grid = str(grid)
        mine = members["grid_ids"].map(lambda g: grid in g)
        if not mine.any():
            known = sorted({g for gs in members["grid_ids"] for g in gs})
            msg = f"no member looks after grid {grid!r}: use a tier-3 grid id, e.g. {known[:3]!r}"
            raise InputError(msg)
        members = members[mine].reset_index(drop=True)
        members["grid_ids"] = [[grid] for _ in range(len(members))]
        customers = customers[customers["grid_t3"].astype(str) == grid]
    if member is not None:
        member = str(member)
        if not (members["member"] == member).any():
            where = f" of grid {grid!r}" if grid is not None else ""
            msg = (
                f"no grid member {member!r}{where}: use a name from the tier-3 grids' members, "
                f"e.g. {list(members['member'][:3])!r}"
            )
            raise InputError(msg)
        wanted = set(members.loc[members["member"] == member, "grid_ids"].iloc[0])
        customers = customers[customers["grid_t3"].astype(str).isin(wanted)]
        owner = assign_members(customers, members)
        customers = customers[owner == member]
        members = members[members["member"] == member].reset_index(drop=True)
    orders = read_orders(store)
    engine = read_reach_engine(store, mode=settings.mode)
    return plan_visits(
        customers,
        members,
        engine,
        start=start,
        end=end,
        settings=settings,
        orders=orders if len(orders) else None,
    )
