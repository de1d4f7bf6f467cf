"""The monthly evaluation (月度考核): every tier's figures against their targets and last month.

:func:`monthly_evaluation` computes the figures of :func:`gridgeo.performance.service_figures`
for one month and the month before it, on each tier of the service:

=================  ==========  ======================================================
tier               中文        groups
=================  ==========  ======================================================
``county``         县公司      the tier-1 grid(s) (``grid_t1``)
``supply_grid``    供电网格    the tier-2 grids (``grid_t2``)
``village_grid``   村级网格    the tier-3 grids (``grid_t3``)
``member``         网格员      the grid members (the orders' ``member``); a member's
                               customers are those of the tier-3 grids that list them in
                               ``members`` (a grid shared by two members counts for both)
=================  ==========  ======================================================

Each tier is a long table, one row per group and figure (:data:`EVALUATION_FIGURES`): the
value this month and last month in the unit shown (rates in %, times in minutes), the change,
the target and the result 达标 (met) / 未达标 (not met) / 无数据 (no data: the figure has no
denominator this month, e.g. no fault order) / — (the figure has no target). Grids are listed
by name with their id; every grid of the tier is listed, with or without orders.

Targets (:data:`DEFAULT_TARGETS`, a figure → (``">="`` or ``"<="``, value as a fraction for
rates); pass ``targets=`` to change them, e.g. a county that promises 90 % on-time arrivals.
The defaults: ``on_time_rate`` 到达现场及时率 ≥ 95 %, ``first_time_rate`` 投诉一次办结率 ≥ 98 %,
``satisfaction_rate`` 满意率 ≥ 98 %, ``rs1`` 供电可靠率RS-1 ≥ 99.9 %.

A month without a single order (county total) has no figures at all: every value is 无数据,
not zero. Members are the names in the grids' ``members`` and in the orders' ``member``.

:func:`write_evaluation_xlsx` writes one sheet per tier with Chinese headers (frozen header,
filter, widths; :func:`gridgeo.archive.write_xlsx`); :func:`evaluation_summary_text` and
:func:`evaluation_summary_html` are the one-page Chinese summary (headline figures, the grids
that missed most targets, what changed since last month).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from gridgeo._validate import check_columns, split_members
from gridgeo._validate import column_text as _text
from gridgeo.archive import CUSTOMER_LAYER, grid_of_customers, write_xlsx
from gridgeo.errors import InputError, NotFoundError
from gridgeo.orders import read_orders
from gridgeo.performance import (
    GRID_GROUPINGS,
    Grouping,
    last_full_period,
    period_bounds,
    period_labels,
    service_figures_by,
)
from gridgeo.settings import DEFAULT_SETTINGS, ServiceSettings

__all__ = [
    "DEFAULT_TARGETS",
    "EVALUATION_FIGURES",
    "EVALUATION_TIERS",
    "UNIT_DECIMALS",
    "MonthlyEvaluation",
    "Tier",
    "evaluate_workspace",
    "evaluation_summary_html",
    "evaluation_summary_text",
    "last_full_month",
    "monthly_evaluation",
    "write_evaluation",
    "write_evaluation_xlsx",
]

Tier = Literal["county", "supply_grid", "village_grid", "member"]
EVALUATION_TIERS: tuple[Tier, ...] = get_args(Tier)
TIER_LABELS: dict[Tier, str] = {
    "county": "县公司",
    "supply_grid": "供电网格",
    "village_grid": "村级网格",
    "member": "网格员",
}
_TIER_GROUPING: dict[Tier, Grouping] = {
    "county": "grid_t1",
    "supply_grid": "grid_t2",
    "village_grid": "grid_t3",
    "member": "member",
}
_GRID_TIER: dict[Tier, int] = {"county": 1, "supply_grid": 2, "village_grid": 3}

# figure -> (中文, unit shown, factor from the figure's unit to the unit shown)
EVALUATION_FIGURES: dict[str, tuple[str, str, float]] = {
    "faults": ("故障报修工单数", "件", 1.0),
    "on_time_rate": ("到达现场及时率", "%", 100.0),
    "arrival_median_s": ("到达现场时长中位数", "分钟", 1 / 60),
    "eta_diff_median_s": ("实际比预计多用时间(中位数)", "分钟", 1 / 60),
    "complaints": ("投诉数", "件", 1.0),
    "first_time_rate": ("投诉一次办结率", "%", 100.0),
    "complaints_per_10k": ("每万户投诉数", "件/万户", 1.0),
    "repeat_complaints_per_10k": ("每万户重复投诉数", "件/万户", 1.0),
    "satisfaction_rate": ("满意率", "%", 100.0),
    "rs1": ("供电可靠率RS-1", "%", 100.0),
    "rs3": ("供电可靠率(不计计划停电)", "%", 100.0),
    "saidi_h": ("户均停电时间", "小时", 1.0),
    "saifi": ("户均停电次数", "次", 1.0),
}
DEFAULT_TARGETS: dict[str, tuple[str, float]] = {
    "on_time_rate": (">=", 0.95),
    "first_time_rate": (">=", 0.98),
    "satisfaction_rate": (">=", 0.98),
    "rs1": (">=", 0.999),
}
MET, NOT_MET, NO_DATA, NO_TARGET = "达标", "未达标", "无数据", "—"
_COLUMNS_ZH = {
    "tier_zh": "层级",
    "group_id": "编号",
    "name": "名称",
    "figure_zh": "指标",
    "unit": "单位",
    "value": "本月",
    "previous": "上月",
    "change": "变化",
    "target": "目标",
    "result": "考核结果",
    "figure": "指标代码",
}
# decimals a figure of each unit is rounded to for reading (the workbook, the report)
UNIT_DECIMALS = {"%": 3, "分钟": 1, "小时": 3, "次": 4, "件/万户": 2, "件": 0}


@dataclass(frozen=True)
class MonthlyEvaluation:
    """The evaluation of one month.

    Attributes
    ----------
    month, previous
        The month evaluated and the month before (``2026-11``, ``2026-10``).
    tables
        Tier → long table: ``tier``, ``tier_zh``, ``group_id``, ``name``, ``figure``,
        ``figure_zh``, ``unit``, ``value``, ``previous``, ``change``, ``target`` (in the unit
        shown, NaN without target), ``op``, ``result`` (达标 / 未达标 / 无数据 / —).
    orders, previous_orders
        Orders reported in the month and in the month before (county total, with the orders
        that have no grid).
    orders_without_grid
        Orders of the month with no tier-1 grid (no location): in ``orders``, in no table.
    """

    month: str
    previous: str
    tables: dict[str, pd.DataFrame] = field(repr=False)
    orders: int
    previous_orders: int
    orders_without_grid: int = 0


def _check_targets(targets: Mapping[str, tuple[str, float]]) -> dict[str, tuple[str, float]]:
    out = {}
    for figure, spec in targets.items():
        if figure not in EVALUATION_FIGURES:
            msg = (
                f"考核目标 {figure!r} 未知 / unknown target figure {figure!r}: the figures are "
                + (", ".join(EVALUATION_FIGURES))
            )
            raise InputError(msg)
        try:
            op, value = spec
            value = float(value)
        except (TypeError, ValueError) as exc:
            msg = f"target of {figure!r} must be ('>=' or '<=', number), got {spec!r}"
            raise InputError(msg) from exc
        if op not in (">=", "<=") or not np.isfinite(value):
            msg = f"target of {figure!r} must be ('>=' or '<=', number), got {spec!r}"
            raise InputError(msg)
        out[figure] = (op, value)
    return out


def _previous_month(month: str) -> str:
    start, _ = period_bounds(month, "month")
    return str(period_labels(pd.Series([start - pd.Timedelta(days=1)]), "month").iloc[0])


def last_full_month(when: pd.Timestamp | str) -> str:
    """The last month that has ended by the end of the day of ``when`` in China's time zone
    (:func:`gridgeo.performance.last_full_period` with ``"month"``): on 1 December,
    November."""
    return last_full_period(when, "month")


def _members_of(grids: pd.DataFrame) -> pd.DataFrame:
    """One row per (member, tier-3 grid) from the grids' ``members`` (names separated by
    ``、``, or ``,`` ``;`` ``/`` in hand-made layers; the rule the stars use too)."""
    t3 = grids[pd.to_numeric(grids["tier"], errors="coerce") == 3]
    names = split_members(_text(t3, "members"))
    pairs = pd.DataFrame({"grid_id": t3["grid_id"].astype(str), "member": names}).explode("member")
    pairs["member"] = pairs["member"].fillna("")
    return pairs[pairs["member"] != ""].reset_index(drop=True)


def monthly_evaluation(
    orders: pd.DataFrame,
    *,
    grids: pd.DataFrame,
    customers: pd.DataFrame | None,
    month: str,
    targets: Mapping[str, tuple[str, float]] | None = None,
    settings: ServiceSettings = DEFAULT_SETTINGS,
) -> MonthlyEvaluation:
    """The 月度考核 of ``month``: each tier's figures against the targets and last month.

    Parameters
    ----------
    orders
        Work orders (:data:`gridgeo.orders.ORDER_COLUMNS`), any months.
    grids
        The grids layer (``grid_id``, ``tier``, ``name``, ``members``).
    customers
        The customers layer (``grid_t1``..``grid_t3``), or None (the per-10,000 and
        reliability figures are then 无数据).
    month
        The month, e.g. ``"2026-11"``.
    targets
        Figure → (``">="``/``"<="``, value); default :data:`DEFAULT_TARGETS`.
    settings
        The repair limit of the on-time rate.

    Returns
    -------
    MonthlyEvaluation

    Raises
    ------
    InputError
        If ``month`` is not a month or a target is not valid.
    MissingColumnError
        If ``grids`` lacks ``grid_id`` or ``tier``.
    """
    previous = _previous_month(month)  # refuses a label that is not a month
    month = str(month).strip()
    checked = _check_targets(DEFAULT_TARGETS if targets is None else targets)
    check_columns(grids, ("grid_id", "tier"), "grids", fix="pass the workspace's grids layer")
    tiers = pd.to_numeric(grids["tier"], errors="coerce")
    names = dict(zip(grids["grid_id"].astype(str), _text(grids, "name"), strict=True))
    pairs = _members_of(grids)
    member_grids = pairs.groupby("member")["grid_id"].agg(lambda ids: "、".join(sorted(ids)))

    groupings = {tier: _TIER_GROUPING[tier] for tier in EVALUATION_TIERS}
    group_ids: dict[str, list[str]] = {
        _TIER_GROUPING[tier]: list(grids.loc[tiers == t, "grid_id"].astype(str))
        for tier, t in _GRID_TIER.items()
    }
    in_orders = (
        set(orders["member"].dropna().astype(str).str.strip()) if "member" in orders else set()
    )
    group_ids["member"] = sorted((set(member_grids.index) | in_orders) - {""})
    per_group: dict[str, pd.DataFrame | pd.Series] = {}
    if customers is not None:
        per_t3 = grid_of_customers(customers, tier=3).value_counts()
        counts = per_t3.reindex(pairs["grid_id"]).fillna(0).to_numpy()
        per_group = {by: customers for by in GRID_GROUPINGS}
        per_group["member"] = pairs.assign(n=counts).groupby("member")["n"].sum()
    all_figures = service_figures_by(
        orders,
        by=tuple(groupings.values()),
        customers=per_group,
        period="month",
        periods=[previous, month],
        groups=group_ids,
        settings=settings,
    )
    figures = all_figures["grid_t1"]
    per_month = figures.groupby("period")["orders"].sum()
    now = figures[figures["period"] == month]
    county_orders = (
        int(per_month.get(month, 0)),
        int(per_month.get(previous, 0)),
        int(now.loc[~now["grid_t1"].isin(group_ids["grid_t1"]), "orders"].sum()),
    )
    tables: dict[str, pd.DataFrame] = {}
    for tier, by in groupings.items():
        figures = all_figures[by]
        # the tables list the tier's grids (members); orders without one are counted above
        figures = figures[figures[by].isin(group_ids[by])]
        tables[tier] = _long_table(
            figures,
            tier,
            by,
            (month, previous),
            (county_orders[0] == 0, county_orders[1] == 0),
            checked,
            names,
            member_grids,
        )
    return MonthlyEvaluation(
        month=month,
        previous=previous,
        tables=tables,
        orders=county_orders[0],
        previous_orders=county_orders[1],
        orders_without_grid=county_orders[2],
    )


def _long_table(
    figures: pd.DataFrame,
    tier: Tier,
    by: str,
    months: tuple[str, str],
    empty: tuple[bool, bool],
    targets: Mapping[str, tuple[str, float]],
    names: Mapping[str, str],
    member_grids: pd.Series,
) -> pd.DataFrame:
    month, previous = months
    now = figures[figures["period"] == month].set_index(by)
    before = figures[figures["period"] == previous].set_index(by).reindex(now.index)
    groups = now.index.astype(str)
    parts = []
    for figure, (label, unit, factor) in EVALUATION_FIGURES.items():
        # a month without a single order has no figures at all (not zero faults)
        value = now[figure].to_numpy(dtype=float) * factor * (np.nan if empty[0] else 1.0)
        last = before[figure].to_numpy(dtype=float) * factor * (np.nan if empty[1] else 1.0)
        op, target = targets.get(figure, ("", np.nan))
        target_shown = target * factor if op else np.nan
        if op == ">=":
            met = value >= target_shown
        elif op == "<=":
            met = value <= target_shown
        else:
            met = np.zeros(len(value), dtype=bool)
        result = np.where(np.isnan(value), NO_DATA, np.where(met, MET, NOT_MET))
        if not op:
            result = np.where(np.isnan(value), NO_DATA, NO_TARGET)
        parts.append(
            pd.DataFrame(
                {
                    "group": groups,
                    "figure": figure,
                    "figure_zh": label,
                    "unit": unit,
                    "value": value,
                    "previous": last,
                    "change": value - last,
                    "target": target_shown,
                    "op": op,
                    "result": result,
                }
            )
        )
    long = pd.concat(parts, ignore_index=True)
    order = {g: i for i, g in enumerate(groups)}
    long["_g"] = long["group"].map(order)
    long["_f"] = long["figure"].map({f: i for i, f in enumerate(EVALUATION_FIGURES)})
    long = long.sort_values(["_g", "_f"], kind="stable").drop(columns=["_g", "_f"])
    if tier == "member":
        long["name"] = long["group"]
        long["group_id"] = long["group"].map(member_grids).fillna("")
    else:
        long["group_id"] = long["group"]
        long["name"] = long["group"].map(names).fillna("")
        long["name"] = long["name"].where(long["name"] != "", long["group"])
    long.insert(0, "tier", tier)
    long.insert(1, "tier_zh", TIER_LABELS[tier])
    columns = [
        "tier",
        "tier_zh",
        "group_id",
        "name",
        "figure",
        "figure_zh",
        "unit",
        "value",
        "previous",
        "change",
        "target",
        "op",
        "result",
    ]
    return long.loc[:, columns].reset_index(drop=True)


# --- outputs ----------------------------------------------------------------------------------


def _sheet_frame(table: pd.DataFrame) -> pd.DataFrame:
    frame = table.copy()
    decimals = frame["unit"].map(UNIT_DECIMALS).fillna(2).astype(int)
    for column in ("value", "previous", "change", "target"):
        frame[column] = [
            round(v, d) if np.isfinite(v) else np.nan
            for v, d in zip(frame[column].to_numpy(dtype=float), decimals, strict=True)
        ]
    frame["target"] = [
        f"{op} {t:g}" if op else "" for op, t in zip(frame["op"], frame["target"], strict=True)
    ]
    frame = frame.loc[:, list(_COLUMNS_ZH)].rename(columns=_COLUMNS_ZH)
    return frame.reset_index(drop=True)


def write_evaluation_xlsx(evaluation: MonthlyEvaluation, path: str | Path) -> Path:
    """Write the evaluation as XLSX: one sheet per tier (县公司, 供电网格, 村级网格, 网格员).

    Chinese headers (层级, 编号, 名称, 指标, 单位, 本月, 上月, 变化, 目标, 考核结果,
    指标代码), a bold frozen header row with a filter, widths from the content; values
    rounded for reading (rates to 0.001 %); an empty cell where a month has no data.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheets = {
        TIER_LABELS[tier]: _sheet_frame(table)  # type: ignore[index]
        for tier, table in evaluation.tables.items()
    }
    partial = path.with_name(path.name + ".partial")
    write_xlsx(partial, sheets)
    partial.replace(path)  # never a half-written workbook under the final name
    return path


def _fmt(value: float, unit: str, figure: str = "", *, change: bool = False) -> str:
    """A value as the summary shows it: rates to 0.1 % (reliability to 0.001 %)."""
    if not np.isfinite(value):
        return "无数据"
    decimals = UNIT_DECIMALS.get(unit, 2)
    if unit == "%":
        decimals = 3 if figure in ("rs1", "rs3") else 1
    sign = "+" if change and value > 0 else ""
    if unit == "%":
        return f"{sign}{value:.{decimals}f}{' 个百分点' if change else '%'}"
    return f"{sign}{value:.{decimals}f}{'' if unit in ('件', '次') else ' '}{unit}"


def _summary(evaluation: MonthlyEvaluation) -> dict[str, list[str]]:
    """The summary's sections as lines of text."""
    month, prev = evaluation.month, evaluation.previous
    county = evaluation.tables["county"]
    head = [f"{month} 月度考核 / monthly evaluation (对比上月 {prev})"]
    if evaluation.orders == 0:
        head.append(f"{month} 无工单记录 / no work orders reported in {month}")
        return {"head": head, "figures": [], "worst": [], "changes": []}
    head.append(f"工单 {evaluation.orders} 件 (上月 {evaluation.previous_orders} 件)")
    if evaluation.orders_without_grid:
        n = evaluation.orders_without_grid
        head.append(f"其中 {n} 件无网格（未定位）/ {n} order(s) without a grid (not located)")
    figures = []
    for row in county.itertuples(index=False):
        now = _fmt(row.value, row.unit, row.figure)
        if evaluation.previous_orders == 0 or not np.isfinite(row.previous):
            last = "上月无数据"
        else:
            last = f"上月 {_fmt(row.previous, row.unit, row.figure)}"
        shown = _fmt(row.target, row.unit, row.figure)
        target = f"目标 {row.op} {shown}，{row.result}" if row.op else ""
        prefix = f"{row.name} " if county["group_id"].nunique() > 1 else ""
        figures.append(f"{prefix}{row.figure_zh}: {now}（{last}）{target}".rstrip())
    village = evaluation.tables["village_grid"]
    missed = village[village["result"] == NOT_MET]
    worst = []
    if len(missed):
        counts = missed.groupby(["group_id", "name"]).size().sort_values(ascending=False)
        for (gid, name), n in counts.head(5).items():
            which = "、".join(missed.loc[missed["group_id"] == gid, "figure_zh"])
            worst.append(f"{name} ({gid}): {n} 项未达标 — {which}")
    else:
        worst.append("所有村级网格均达标或无数据 / every village grid met its targets")
    changes = []
    for row in county.itertuples(index=False):
        if np.isfinite(row.change) and row.change != 0 and row.unit in ("%", "分钟"):
            shown = _fmt(row.change, row.unit, row.figure, change=True)
            changes.append(f"{row.figure_zh} {shown}")
    flipped = []
    for table in (evaluation.tables["supply_grid"], village):
        for row in table.itertuples(index=False):
            if row.result == NOT_MET and row.op and np.isfinite(row.previous):
                was_met = (
                    row.previous >= row.target if row.op == ">=" else row.previous <= row.target
                )
                if was_met:
                    flipped.append(f"{row.name} {row.figure_zh} 由达标变为未达标")
    changes += flipped[:8]
    if not changes:
        changes.append("与上月相比无明显变化 / no change worth noting")
    return {"head": head, "figures": figures, "worst": worst, "changes": changes}


def evaluation_summary_text(evaluation: MonthlyEvaluation) -> str:
    """The one-page summary as plain text (for the command line)."""
    parts = _summary(evaluation)
    lines = list(parts["head"])
    for title, key in (
        ("主要指标 / headline figures", "figures"),
        ("未达标最多的村级网格 / grids missing most targets", "worst"),
        ("变化 / what changed", "changes"),
    ):
        if parts[key]:
            lines += ["", title, *(f"  {line}" for line in parts[key])]
    return "\n".join(lines) + "\n"


def evaluation_summary_html(evaluation: MonthlyEvaluation) -> str:
    """The one-page summary as a standalone HTML page that prints on one A4 sheet."""
    parts = _summary(evaluation)
    esc = html.escape
    sections = []
    for title, key in (
        ("主要指标", "figures"),
        ("未达标最多的村级网格", "worst"),
        ("与上月相比", "changes"),
    ):
        if parts[key]:
            items = "".join(f"<li>{esc(line)}</li>" for line in parts[key])
            sections.append(f"<h2>{esc(title)}</h2><ul>{items}</ul>")
    head = parts["head"]
    subtitle = "".join(f"<p>{esc(line)}</p>" for line in head[1:])
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{esc(head[0])}</title><style>"
        "@page{size:A4;margin:15mm}"
        "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;font-size:10.5pt;"
        "max-width:180mm;margin:auto;line-height:1.4}"
        "h1{font-size:15pt;margin:0 0 4pt}h2{font-size:12pt;margin:10pt 0 3pt}"
        "ul{margin:0;padding-left:16pt}li{margin:1pt 0}p{margin:2pt 0}"
        "</style></head><body>"
        f"<h1>{esc(head[0])}</h1>{subtitle}{''.join(sections)}"
        "</body></html>\n"
    )


def evaluate_workspace(
    store: Any,
    month: str,
    *,
    targets: Mapping[str, tuple[str, float]] | None = None,
    settings: ServiceSettings = DEFAULT_SETTINGS,
) -> MonthlyEvaluation:
    """The evaluation of ``month`` from a workspace's work orders, grids and customers.

    Raises
    ------
    NotFoundError
        If the workspace has no work orders (the message names ``gridgeo orders import``) or
        no grids (``gridgeo grids build``).
    """
    orders = read_orders(store, required=True)
    layers = store.layers()
    name = getattr(getattr(store, "path", None), "name", "WORKSPACE")
    if "grids" not in layers:
        msg = (
            "工作区没有网格 / the workspace has no grids: build them first with "
            f"`gridgeo grids build --workspace {name}`"
        )
        raise NotFoundError(msg)
    customers = store.read(CUSTOMER_LAYER) if CUSTOMER_LAYER in layers else None
    return monthly_evaluation(
        orders,
        grids=store.read("grids"),
        customers=customers,
        month=month,
        targets=targets,
        settings=settings,
    )


def write_evaluation(evaluation: MonthlyEvaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write the XLSX (:func:`write_evaluation_xlsx`) and the one-page HTML summary.

    Returns
    -------
    dict
        ``xlsx`` and ``html`` → the files written (``月度考核_<month>.xlsx`` / ``.html``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"月度考核_{evaluation.month}"
    xlsx = write_evaluation_xlsx(evaluation, out / f"{stem}.xlsx")
    page = out / f"{stem}.html"
    partial = page.with_name(page.name + ".partial")
    partial.write_text(evaluation_summary_html(evaluation), encoding="utf-8")
    partial.replace(page)
    return {"xlsx": xlsx, "html": page}
