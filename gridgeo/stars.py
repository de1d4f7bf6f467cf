"""服务之星: the grid members of one week ranked by a transparent score from the records.

Every grid member (网格员) named in the ``members`` column of the grids layer (names separated
by ``、``, or by ``,`` ``;`` ``/`` in hand-made layers, as the monthly evaluation reads them) is
one person of the ranking, keyed by name and grid id. The week is an ISO week
(``2026-W48``) in China's time zone (:data:`gridgeo.orders.TIMEZONE`), Monday 00:00 to the next
Monday 00:00; an order belongs to the week in which it was reported (``reported_at``, 受理时间),
a visit to the week in which it was done (``done_at``). Without a week given, a workspace is
ranked for :func:`last_full_week` of its latest order (on a Monday: the week that just ended).

Items and points (:data:`STAR_WEIGHTS`; a county may pass its own table with the same items):

==================  ==========  ======  ============================================================
item                label       points  counted
==================  ==========  ======  ============================================================
``on_time``         按时到达    +2      fault orders (故障报修) they handled with an arrival and
                                        ``arrived_at − reported_at ≤ repair_limit_s`` (30 min)
``first_time``      一次办结    +2      orders they handled that were settled the first time
``satisfied``       回访满意    +1      orders they handled whose callback was 满意
``dissatisfied``    回访不满意  −2      orders they handled whose callback was 不满意 (基本满意: 0)
``praise``          表扬        +3      praise orders (表扬) naming them as ``member``
``complaint``       被投诉      −3      complaint orders (投诉) with them as ``member``
``visit``           走访        +1      visits they did (home visits and callbacks with outcome
                                        完成 ``done``; attempts do not count), once visit
                                        records exist; without them every person has 0 visits
==================  ==========  ======  ============================================================

"Orders they handled" are the week's orders whose ``member`` is the person, of every kind but
praise and complaint (those are about the person, not handled by them). The score is the sum of
count × points over the items, and every person's score is explained line by line
(``按时到达 5 单 × 2 分 = 10 分``), so anyone can recompute it from the records.

An order's ``member`` is matched to a person by name; a name that several grids list is
decided by the order's grid ids (the grid of the person must be one of ``grid_t1``..``grid_t3``).
Orders naming nobody of the roster, or a name the grid ids cannot decide, count for nobody and
are reported in the notes.

Tie-break (written down so that the ranking is one order, reproducible): higher score first;
then fewer complaints (their count, whatever points a county gives them); then more on-time
arrivals; then the member's name in Unicode code-point
order (not pinyin); then the grid id. The 服务之星 is the first of the ranking when the score is
above zero (no star in a week without a positive score).

The weekly figures shown to all (:attr:`StarsResult.figures`) are the week's repair (故障报修),
complaint (投诉) and consultation (咨询) orders per village grid (tier 3, by ``grid_t3``).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from gridgeo._validate import as_text as _text
from gridgeo._validate import check_columns, column_flags, split_members
from gridgeo.errors import InputError, NotFoundError
from gridgeo.orders import YES_NO_WORDS, order_times_utc, read_orders
from gridgeo.performance import last_full_period, period_bounds
from gridgeo.settings import DEFAULT_SETTINGS, ServiceSettings

__all__ = [
    "STAR_ITEMS",
    "STAR_WEIGHTS",
    "VISITS_LAYER",
    "StarsResult",
    "last_full_week",
    "service_stars",
    "workspace_stars",
]

VISITS_LAYER = "visits"

STAR_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "on_time": 2,
        "first_time": 2,
        "satisfied": 1,
        "dissatisfied": -2,
        "praise": 3,
        "complaint": -3,
        "visit": 1,
    }
)
# item -> (Chinese label, counting word), in the order of the explanation lines
STAR_ITEMS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "on_time": ("按时到达", "单"),
        "first_time": ("一次办结", "单"),
        "satisfied": ("回访满意", "单"),
        "dissatisfied": ("回访不满意", "单"),
        "praise": ("表扬", "次"),
        "complaint": ("被投诉", "次"),
        "visit": ("走访", "次"),
    }
)
# kinds that are about the member rather than handled by them
_ABOUT_MEMBER = ("praise", "complaint")
_GRID_TIERS = ("grid_t1", "grid_t2", "grid_t3")
_STAR_ORDER_COLUMNS = (
    "order_id",
    "kind",
    "reported_at",
    "arrived_at",
    "member",
    "satisfaction",
    "first_time",
    *_GRID_TIERS,
)
_FIGURE_KINDS = {"fault": "repairs", "complaint": "complaints", "consultation": "consultations"}


def last_full_week(when: pd.Timestamp | str) -> str:
    """The last ISO week that has ended by the end of the day of ``when`` in China's time zone
    (:func:`gridgeo.performance.last_full_period` with ``"week"``): on a Monday, the week
    that just ended, not the one day of the new week."""
    return last_full_period(when, "week")


def _check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(weights, Mapping) or set(weights) != set(STAR_WEIGHTS):
        got = sorted(weights) if isinstance(weights, Mapping) else weights
        msg = (
            f"`weights` must give points for exactly the items {list(STAR_WEIGHTS)!r}, got {got!r}"
        )
        raise InputError(msg)
    out = {}
    for item in STAR_WEIGHTS:
        value = weights[item]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(float(value)):
            msg = f"`weights[{item!r}]` must be a finite number of points, got {value!r}"
            raise InputError(msg)
        out[item] = float(value)
    return out


def _persons(grids: pd.DataFrame) -> pd.DataFrame:
    """One row per (member, grid_id) from the grids' ``members`` column."""
    check_columns(grids, ("grid_id", "members"), "grids")
    names = grids["name"] if "name" in grids else grids["grid_id"]
    table = pd.DataFrame(
        {
            "grid_id": _text(grids["grid_id"]).to_numpy(),
            "grid_name": _text(names).to_numpy(),
            "member": split_members(grids["members"]).to_numpy(),
        }
    ).explode("member")
    table["member"] = _text(table["member"])
    table = table[table["member"] != ""].drop_duplicates(["member", "grid_id"])
    return table.reset_index(drop=True)


def _attribute(
    rows: pd.DataFrame, persons: pd.DataFrame, grid_columns: tuple[str, ...]
) -> tuple[pd.Series, list[str], list[str]]:
    """The person (index into ``persons``) of each row by its ``member`` name, -1 if none.

    Returns the person per row, the names not in the roster and the names the grid ids of
    the row could not decide between two or more grids.
    """
    names = _text(rows["member"])
    person = pd.Series(-1, index=rows.index, dtype=np.int64)
    named = rows.index[names != ""]
    pairs = pd.DataFrame({"row": named, "member": names.loc[named].to_numpy()}).merge(
        persons[["member", "grid_id"]].reset_index(names="person"), on="member", how="left"
    )
    unknown = sorted(set(pairs.loc[pairs["person"].isna(), "member"]))
    pairs = pairs.dropna(subset=["person"])
    n_candidates = pairs.groupby("row")["person"].transform("size")
    in_grid = np.zeros(len(pairs), dtype=bool)
    for column in grid_columns:
        if column in rows:
            ids = _text(rows[column]).reindex(pairs["row"]).to_numpy()
            in_grid |= ids == pairs["grid_id"].to_numpy()
    pairs = pairs[(n_candidates.to_numpy() == 1) | in_grid]
    decided = pairs.groupby("row")["person"].agg(["size", "first"])
    one = decided[decided["size"] == 1]
    person.loc[one.index] = one["first"].astype(np.int64).to_numpy()
    undecided = rows.index.isin(named) & (person == -1).to_numpy()
    ambiguous = sorted(set(names[undecided]) - set(unknown))
    return person, unknown, ambiguous


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (Chinese characters take two)."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - used, 1)


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else f"{int(value)}"


@dataclass(frozen=True)
class StarsResult:
    """The 服务之星 ranking of one week (:func:`service_stars`).

    Attributes
    ----------
    week
        The ISO week, e.g. ``2026-W48``.
    start, end
        Monday 00:00 and the next Monday 00:00 in China's time zone.
    ranking
        One row per grid member: ``rank``, ``member``, ``grid_id``, ``grid_name``, the count
        of every item of :data:`STAR_ITEMS`, ``score``, ``star`` and ``explanation`` (the
        score line by line, lines joined by newlines), in rank order.
    figures
        The week's ``repairs``, ``complaints`` and ``consultations`` per village grid
        (``grid_id``, ``grid_name``).
    weights
        The points per item used.
    notes
        What the ranking could not use (orders naming nobody of the roster, no visit records).
    """

    week: str
    start: pd.Timestamp
    end: pd.Timestamp
    ranking: pd.DataFrame
    figures: pd.DataFrame
    weights: Mapping[str, float]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def star(self) -> pd.Series | None:
        """The row of the 服务之星, or None when nobody scored above zero."""
        stars = self.ranking[self.ranking["star"]]
        return None if stars.empty else stars.iloc[0]

    def lines(self, *, top: int | None = 10) -> list[str]:
        """The ranking, the explanations and the weekly figures as printed (Chinese/English).

        ``top`` limits the ranking and the explanations to the first ``top`` people (None or
        0: everybody); the weekly figures are always complete.
        """
        shown = self.ranking if not top else self.ranking.head(top)
        more = len(self.ranking) - len(shown)
        last = (self.end - pd.Timedelta(days=1)).date()
        out = [f"服务之星 / service stars {self.week} ({self.start.date()} – {last}, 北京时间)"]
        star = self.star
        if star is None:
            out.append("  本周无人得分为正，不评服务之星 / no positive score this week: no star")
        else:
            out.append(
                f"  本周服务之星 / star of the week: {star['member']} "
                f"({star['grid_name']} {star['grid_id']}), {_number(star['score'])} 分"
            )
        out.append(
            f"  {_pad('名次', 6)}{_pad('网格员', 10)}{_pad('网格', 16)}{_pad('网格名称', 24)}得分"
        )
        for row in shown.itertuples(index=False):
            out.append(
                f"  {_pad(str(row.rank), 6)}{_pad(row.member, 10)}{_pad(row.grid_id, 16)}"
                f"{_pad(row.grid_name, 24)}{_number(row.score):>4s}"
            )
        if more:
            out.append(f"  … 另有 {more} 人 / {more} more (--top 0 shows everybody)")
        out.append("得分说明 / how each score is made:")
        for row in shown.itertuples(index=False):
            out.append(f"  {row.rank}. {row.member} ({row.grid_id})")
            out.extend(f"     {line}" for line in row.explanation.splitlines())
        out.append(
            "本周工单 / this week's orders per village grid "
            "(报修 repairs, 投诉 complaints, 咨询 consultations):"
        )
        figures = self.figures
        for row in figures.itertuples(index=False):
            out.append(
                f"  {_pad(row.grid_id, 16)}{_pad(row.grid_name, 24)}报修 {row.repairs:>3d}  "
                f"投诉 {row.complaints:>3d}  咨询 {row.consultations:>3d}"
            )
        out.append(
            f"  {_pad('合计 total', 40)}报修 {int(figures['repairs'].sum()):>3d}  "
            f"投诉 {int(figures['complaints'].sum()):>3d}  "
            f"咨询 {int(figures['consultations'].sum()):>3d}"
        )
        out.extend(f"注 / note: {note}" for note in self.notes)
        return out


def _explain(counts: Mapping[str, int], weights: Mapping[str, float], no_visits: bool) -> str:
    lines = []
    total = 0.0
    for item, (label, unit) in STAR_ITEMS.items():
        n, points = counts[item], weights[item]
        total += n * points
        line = f"{label} {n} {unit} × {_number(points)} 分 = {_number(n * points)} 分"
        if item == "visit" and no_visits:
            line += "（走访记录尚未接入 / no visit records yet）"
        lines.append(line)
    lines.append(f"合计 {_number(total)} 分")
    return "\n".join(lines)


def service_stars(
    orders: pd.DataFrame,
    *,
    week: str,
    grids: pd.DataFrame,
    weights: Mapping[str, float] = STAR_WEIGHTS,
    visits: pd.DataFrame | None = None,
    settings: ServiceSettings = DEFAULT_SETTINGS,
) -> StarsResult:
    """Rank the grid members of one week by the score of the module docstring.

    Parameters
    ----------
    orders
        Work orders with the columns of :data:`gridgeo.orders.ORDER_COLUMNS` (at least
        ``order_id``, ``kind``, ``reported_at``, ``arrived_at``, ``member``, ``satisfaction``,
        ``first_time`` and ``grid_t1``..``grid_t3``); times as
        :func:`gridgeo.orders.order_times_utc` reads them (without a zone: China time).
    week
        The ISO week, ``YYYY-Www`` (e.g. ``2026-W48``), in China's time zone.
    grids
        The grids layer (``grid_id``, ``members`` separated by ``、``, and ``name``); the
        village grids (tier 3) also give the rows of the weekly figures.
    weights
        Points per item, the items of :data:`STAR_WEIGHTS`.
    visits
        Visit records (``member``, ``done_at``; a ``grid_id`` or ``grid_t1..3`` column
        decides between members of the same name; with an ``outcome`` column only ``done``
        records count), or None while there are none: every person then has 0 visits and
        the notes say so.
    settings
        The repair promise (``repair_limit_s``) an on-time arrival keeps.

    Returns
    -------
    StarsResult
        The ranking with each person's explanation, the weekly figures and notes.

    Raises
    ------
    InputError
        If ``week`` is not an ISO week, ``weights`` lacks an item, or a time is unreadable.
    MissingColumnError
        If ``orders``, ``grids`` or ``visits`` lacks a column used.
    """
    start, end = period_bounds(week, "week")
    points = _check_weights(weights)
    check_columns(orders, _STAR_ORDER_COLUMNS, "work orders")
    persons = _persons(grids)
    notes: list[str] = []
    orders = orders.reset_index(drop=True)  # one row per label: flags and people align

    reported = order_times_utc(orders["reported_at"], "reported_at")
    in_week = orders[((reported >= start) & (reported < end)).to_numpy()]
    reported = reported[in_week.index]
    arrived = order_times_utc(in_week["arrived_at"], "arrived_at")
    kind = _text(in_week["kind"])
    handled = ~kind.isin(_ABOUT_MEMBER)
    on_time = (
        (kind == "fault")
        & arrived.notna()
        & ((arrived - reported).dt.total_seconds() <= settings.repair_limit_s)
    )
    # True, 1 or a yes word; missing (None, NaN, pd.NA) and anything else is not first-time
    first = pd.Series(
        column_flags(in_week, "first_time", YES_NO_WORDS), index=in_week.index, dtype=bool
    )
    satisfaction = _text(in_week["satisfaction"])
    flags = pd.DataFrame(
        {
            "on_time": handled & on_time,
            "first_time": handled & first.astype(bool),
            "satisfied": handled & (satisfaction == "satisfied"),
            "dissatisfied": handled & (satisfaction == "dissatisfied"),
            "praise": kind == "praise",
            "complaint": kind == "complaint",
        },
        index=in_week.index,
    )
    person, unknown, ambiguous = _attribute(in_week, persons, _GRID_TIERS)
    counts = flags[person >= 0].groupby(person[person >= 0]).sum()
    counts = counts.reindex(range(len(persons)), fill_value=0).astype(np.int64)
    names = _text(in_week["member"])
    if unknown:
        n = int(names.isin(unknown).sum())
        notes.append(
            f"{n} 张工单的网格员不在网格名册中，不计分 / {n} order(s) name member(s) not in the "
            f"grids' roster and count for nobody: {'、'.join(unknown[:10])} — fix: correct the "
            "names in the orders or the roster (`gridgeo grids roster`)"
        )
    if ambiguous:
        n = int(((person < 0) & names.isin(ambiguous)).sum())
        notes.append(
            f"{n} 张工单的同名网格员无法按网格区分，不计分 / {n} order(s) name a member of "
            f"several grids that the orders' grid ids do not decide, and count for nobody: "
            f"{'、'.join(ambiguous[:10])}"
        )

    no_visits = visits is None
    if visits is None:
        counts["visit"] = 0
        notes.append("走访记录尚未接入，走访计 0 分 / no visit records yet: visits count 0 points")
    else:
        check_columns(visits, ("member", "done_at"), "visits")
        done = order_times_utc(visits["done_at"], "done_at")
        made = ((done >= start) & (done < end)).to_numpy()
        if "outcome" in visits:  # records: an attempt (不在家, 无法接通 ...) is not a visit
            outcome = _text(visits["outcome"]).to_numpy()
            made = made & np.isin(outcome, ("done", "完成", ""))
        week_visits = visits.reset_index(drop=True)[made]
        tiers = ("grid_id", *_GRID_TIERS)  # plan rows name grid_id, records grid_t1..t3
        who, v_unknown, v_ambiguous = _attribute(week_visits, persons, tiers)
        counts["visit"] = (
            who[who >= 0].value_counts().reindex(range(len(persons)), fill_value=0).to_numpy()
        )
        if v_unknown or v_ambiguous:
            notes.append(
                f"走访记录中的网格员无法对应名册 / visits by name(s) not matched to one member "
                f"of the roster count for nobody: {'、'.join((v_unknown + v_ambiguous)[:10])}"
            )

    items = list(STAR_ITEMS)
    weight_vector = np.array([points[i] for i in items])
    ranking = persons.copy()
    for item in items:
        ranking[item] = counts[item].to_numpy()
    ranking["score"] = ranking[items].to_numpy(dtype=float) @ weight_vector
    ranking["explanation"] = [
        _explain(dict(zip(items, row, strict=True)), points, no_visits)
        for row in ranking[items].itertuples(index=False, name=None)
    ]
    ranking = ranking.sort_values(
        ["score", "complaint", "on_time", "member", "grid_id"],
        ascending=[False, True, False, True, True],
        kind="mergesort",
    ).reset_index(drop=True)
    ranking.insert(0, "rank", np.arange(1, len(ranking) + 1))
    ranking["star"] = (ranking["rank"] == 1) & (ranking["score"] > 0)
    ranking = ranking[
        ["rank", "member", "grid_id", "grid_name", *items, "score", "star", "explanation"]
    ]
    return StarsResult(
        week=f"{start.isocalendar()[0]}-W{start.isocalendar()[1]:02d}",
        start=start,
        end=end,
        ranking=ranking,
        figures=_weekly_figures(in_week, kind, grids),
        weights=MappingProxyType(points),
        notes=tuple(notes),
    )


def _weekly_figures(in_week: pd.DataFrame, kind: pd.Series, grids: pd.DataFrame) -> pd.DataFrame:
    """Repairs, complaints and consultations of the week per village grid (tier 3); orders
    of no known village grid get a row of their own (``-``: 未入网格, else 未知网格)."""
    village = grids[grids["tier"] == 3] if "tier" in grids else grids
    names = village["name"] if "name" in village else village["grid_id"]
    table = pd.DataFrame(
        {"grid_id": _text(village["grid_id"]).to_numpy(), "grid_name": _text(names).to_numpy()}
    ).drop_duplicates("grid_id")
    grid = _text(in_week["grid_t3"]).replace("", "-")
    known = pd.Index(table["grid_id"])
    extra = sorted(set(grid[kind.isin(list(_FIGURE_KINDS))]) - set(known))
    table = pd.concat(
        [
            table,
            pd.DataFrame(
                {
                    "grid_id": extra,
                    "grid_name": ["未入网格" if g == "-" else "未知网格" for g in extra],
                }
            ),
        ],
        ignore_index=True,
    )
    for code, column in _FIGURE_KINDS.items():
        per_grid = grid[kind == code].value_counts()
        table[column] = per_grid.reindex(table["grid_id"], fill_value=0).to_numpy(dtype=np.int64)
    return table.sort_values("grid_id", kind="mergesort").reset_index(drop=True)


def workspace_stars(
    store: Any, *, week: str | None = None, settings: ServiceSettings = DEFAULT_SETTINGS
) -> StarsResult:
    """The 服务之星 of a workspace: its work orders, grids and (when stored) visits.

    Parameters
    ----------
    store
        The workspace (:class:`gridgeo.store.GeoPackageStore`).
    week
        The ISO week (``2026-W48``); default :func:`last_full_week` of the latest reported
        order.
    settings
        The repair promise an on-time arrival keeps.

    Raises
    ------
    NotFoundError
        If the workspace has no work orders (:func:`gridgeo.orders.read_orders` with
        ``required``) or no grids.
    """
    orders = pd.DataFrame(read_orders(store, required=True))
    layers = store.layers()
    if "grids" not in layers:
        msg = (
            f"工作区 {store.path.name!r} 没有网格 / workspace {store.path.name!r} has no grids: "
            "build them first with `gridgeo grids build`"
        )
        raise NotFoundError(msg)
    if week is None:
        week = last_full_week(order_times_utc(orders["reported_at"], "reported_at").max())
    visits = pd.DataFrame(store.read(VISITS_LAYER)) if VISITS_LAYER in layers else None
    grids = pd.DataFrame(store.read("grids"))
    return service_stars(orders, week=week, grids=grids, visits=visits, settings=settings)
