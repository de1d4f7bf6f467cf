"""The monthly report for leadership (月度供电服务报告): XLSX and an A4 PDF in Chinese.

:func:`leadership_report` gathers, for one month of a workspace:

- the month's figures from the records, as the monthly evaluation has them
  (:func:`gridgeo.evaluation.monthly_evaluation`, county tier): faults, on-site within the
  repair promise (到达现场及时率), first-time resolution of complaints (投诉一次办结率),
  complaints per 10,000 customers, satisfaction, reliability (RS-1, SAIDI, SAIFI), this month
  against last month and the targets;
- visit coverage (:func:`gridgeo.visit_records.visit_coverage`) at the end of the month:
  customers with two home visits this year, called back this quarter (when visit records are
  stored);
- the predicted service levels from the workspace's stored access (``customer_access``, the
  layer ``gridgeo run`` writes and its ``summary.json`` is made from): the share of customers
  within the 30-minute repair and 10-minute payment promises;
- trends: the county's figures for the last six months that have records
  (:func:`gridgeo.performance.service_figures`, the same figures the evaluation uses);
- the worst village grids (the one ranking of :func:`gridgeo.reach.rank_grids`, with the
  reason from :func:`gridgeo.reach.shortfall_reasons` and the targets they missed this
  month), the grids that missed most targets, and the worst villages with township and
  reason (:func:`gridgeo.reach.rank_villages`);
- the week's 服务之星 (:func:`gridgeo.stars.workspace_stars`, the last ISO week that ended
  in the month), the watch list (:func:`gridgeo.watch.workspace_watch`), and the siting
  suggestion (:func:`gridgeo.plan.site_facilities`, villages as candidate repair stations)
  when asked for (``suggest_stations``) or when the run of ``run_dir`` drew one on its map.

Grids are named by their ``name`` (never their id), villages by township and name, and the
report holds no English code. :func:`write_leadership_report` writes
``月度供电服务报告_<month>.xlsx`` (one sheet per section) and ``.pdf`` (A4 portrait, one to
three pages, drawn with matplotlib and the machine's Chinese font,
:func:`gridgeo.fonts.use_cjk_font`; the text is a real text layer). Both are written under a
temporary name and renamed, never left half-written.
"""

from __future__ import annotations

import json
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridgeo.archive import CUSTOMER_LAYER, NOT_LOCATED, write_xlsx
from gridgeo.errors import GridGeoError, NotFoundError
from gridgeo.evaluation import (
    EVALUATION_FIGURES,
    NOT_MET,
    UNIT_DECIMALS,
    MonthlyEvaluation,
    evaluate_workspace,
)
from gridgeo.orders import TIMEZONE, order_times_utc, read_orders
from gridgeo.performance import period_bounds, period_labels, service_figures
from gridgeo.settings import DEFAULT_SETTINGS, ServiceSettings

__all__ = [
    "HEADLINE_FIGURES",
    "TREND_FIGURES",
    "LeadershipReport",
    "leadership_report",
    "write_leadership_report",
    "write_report_pdf",
    "write_report_xlsx",
]

# the evaluation's figures the report leads with, in this order
HEADLINE_FIGURES: tuple[str, ...] = (
    "faults",
    "on_time_rate",
    "arrival_median_s",
    "complaints",
    "first_time_rate",
    "complaints_per_10k",
    "satisfaction_rate",
    "rs1",
    "saidi_h",
    "saifi",
)
# the figures drawn over the last months
TREND_FIGURES: tuple[str, ...] = ("on_time_rate", "first_time_rate", "satisfaction_rate")
TREND_MONTHS = 6
N_WORST = 5
N_WATCH = 8
N_STARS = 5
REPORT_NAME = "月度供电服务报告"


@dataclass(frozen=True)
class LeadershipReport:
    """The monthly report of one month (:func:`leadership_report`).

    Every table has Chinese column names and is what the XLSX sheet of the same name holds;
    numbers are in the unit the column names (rates in %, times in minutes).

    Attributes
    ----------
    county, month, previous
        The county's name and the months (``2026-11``, ``2026-10``).
    evaluation
        The monthly evaluation the figures come from.
    figures
        概要: one row per figure: 指标, 单位, 本月, 上月, 变化, 目标, 结果.
    service
        预测服务水平: 指标, 数值 (%), 说明 (empty when the workspace has no stored access).
    trend
        趋势: one row per month with records of the last six: 月份, 工单数 and the
        figures of :data:`TREND_FIGURES` (%).
    worst_grids
        最差村级网格: 村级网格, 所属供电网格, 网格长, 客户数, the two promises (%), 原因,
        本月未达标指标.
    missed_grids
        考核未达标网格: 村级网格, 未达标指标数, 未达标指标.
    worst_villages
        最需关注的村: 乡镇, 村, 客户数, the two promises (%), 原因.
    stars
        服务之星: 名次, 网格员, 网格, 得分 (top five of :attr:`stars_week`).
    watch
        重点巡查: 序号, 类别, 名称, 原因.
    sites
        选址建议: 序号, 建议站址, 新增覆盖客户, 覆盖后达标率 (%) (empty when none).
    notes
        What the report could not include and why (Chinese).
    """

    county: str
    month: str
    previous: str
    evaluation: MonthlyEvaluation = field(repr=False)
    figures: pd.DataFrame = field(repr=False)
    service: pd.DataFrame = field(repr=False)
    trend: pd.DataFrame = field(repr=False)
    worst_grids: pd.DataFrame = field(repr=False)
    missed_grids: pd.DataFrame = field(repr=False)
    worst_villages: pd.DataFrame = field(repr=False)
    stars: pd.DataFrame = field(repr=False)
    stars_week: str = ""
    star_line: str = ""
    watch: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    sites: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """``南丰县 2026年11月 月度供电服务报告``."""
        return f"{self.county} {_month_zh(self.month)} {REPORT_NAME}".strip()

    def lines(self) -> list[str]:
        """The headline figures as the command line prints them (Chinese)."""
        out = [f"{self.title}："]
        for row in self.figures.itertuples(index=False):
            value = row[2]
            shown = "无数据" if not np.isfinite(value) else f"{value:g}{row[1]}"
            result = f"（{row[6]}）" if row[6] in ("达标", "未达标") else ""
            out.append(f"  {row[0]}：{shown}{result}")
        out += [f"  {row[0]}：{row[1]:.1f}%" for row in self.service.itertuples(index=False)]
        if self.star_line:
            out.append(f"  {self.star_line}")
        out += [f"  说明 / note: {note}" for note in self.notes]
        return out

    def sheets(self) -> dict[str, pd.DataFrame]:
        """The XLSX sheets by name, in order (empty sections are left out)."""
        sheets = {
            "概要": self.figures,
            "预测服务水平": self.service,
            "趋势": self.trend,
            "最差村级网格": self.worst_grids,
            "考核未达标网格": self.missed_grids,
            "最需关注的村": self.worst_villages,
            "服务之星": self.stars,
            "重点巡查": self.watch,
            "选址建议": self.sites,
        }
        out = {name: frame for name, frame in sheets.items() if len(frame.columns)}
        if self.notes:
            out["说明"] = pd.DataFrame({"说明": list(self.notes)})
        return out


def _month_zh(month: str) -> str:
    year, mon = str(month).split("-")
    return f"{int(year)}年{int(mon)}月"


def _months_back(month: str, n: int) -> list[str]:
    """``n`` month labels ending with ``month``, oldest first."""
    start, _ = period_bounds(month, "month")
    labels = [month]
    for _ in range(n - 1):
        start = start - pd.Timedelta(days=1)
        label = str(period_labels(pd.Series([start]), "month").iloc[0])
        start, _ = period_bounds(label, "month")
        labels.append(label)
    return labels[::-1]


def _grid_info(grids: pd.DataFrame) -> pd.DataFrame:
    info = pd.DataFrame(
        {
            c: (grids[c].fillna("").astype(str).to_numpy() if c in grids.columns else "")
            for c in ("name", "parent_id", "manager")
        },
        index=grids["grid_id"].astype(str).to_numpy(),
    )
    info["name"] = info["name"].where(info["name"] != "", info.index.to_series())
    return info


def _name(info: pd.DataFrame, gid: Any) -> str:
    if str(gid) == NOT_LOCATED:
        return "未定位（不在任何网格）"
    return str(info["name"].get(str(gid), "")) or "未命名网格"


def _rounded(value: float, decimals: int) -> float:
    return round(float(value), decimals) if np.isfinite(value) else np.nan


def _figures_table(evaluation: MonthlyEvaluation) -> pd.DataFrame:
    county = evaluation.tables["county"]
    first = county["group_id"].iloc[0] if len(county) else None
    rows = county[county["group_id"] == first].set_index("figure")
    out = []
    for figure in HEADLINE_FIGURES:
        if figure not in rows.index:
            continue
        row = rows.loc[figure]
        unit = str(row["unit"])
        d = UNIT_DECIMALS.get(unit, 2)
        target = f"{row['op']} {row['target']:g}{unit}" if row["op"] else ""
        out.append(
            {
                "指标": row["figure_zh"],
                "单位": unit,
                "本月": _rounded(row["value"], d),
                "上月": _rounded(row["previous"], d),
                "变化": _rounded(row["change"], d),
                "目标": target.replace(">=", "≥").replace("<=", "≤"),
                "结果": row["result"],
            }
        )
    return pd.DataFrame(out, columns=["指标", "单位", "本月", "上月", "变化", "目标", "结果"])


def _trend_table(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    county_ids: Sequence[str],
    month: str,
    settings: ServiceSettings,
) -> pd.DataFrame:
    """The county's figures for the months with records among the last six."""
    months = _months_back(month, TREND_MONTHS)
    figures = service_figures(
        orders,
        customers=customers,
        by="grid_t1",
        period="month",
        periods=months,
        groups=list(county_ids),
        settings=settings,
    )
    # every order of the month counts for the totals, as in the evaluation
    total = figures.groupby("period")["orders"].sum().reindex(months).fillna(0)
    first = county_ids[0] if county_ids else None
    mine = figures[figures["grid_t1"] == first].set_index("period").reindex(months)
    rows = []
    for label in months:
        if total[label] == 0:
            continue
        row: dict[str, Any] = {"月份": label, "工单数": int(total[label])}
        for figure in TREND_FIGURES:
            zh, _unit, factor = EVALUATION_FIGURES[figure]
            row[f"{zh}(%)"] = _rounded(float(mine.at[label, figure]) * factor, 3)
        rows.append(row)
    columns = ["月份", "工单数", *(f"{EVALUATION_FIGURES[f][0]}(%)" for f in TREND_FIGURES)]
    return pd.DataFrame(rows, columns=columns)


def _missed(evaluation: MonthlyEvaluation) -> pd.DataFrame:
    """The village grids' missed targets of the month: 村级网格 → list of "指标 数值"."""
    village = evaluation.tables["village_grid"]
    missed = village[village["result"] == NOT_MET]
    parts = []
    for row in missed.itertuples(index=False):
        d = 1 if row.unit == "%" and row.figure not in ("rs1", "rs3") else 3
        value = f"{row.value:.{d}f}{row.unit}" if row.unit == "%" else f"{row.value:g}{row.unit}"
        parts.append({"group_id": row.group_id, "text": f"{row.figure_zh} {value}"})
    return pd.DataFrame(parts, columns=["group_id", "text"])


def _service(store: Any, settings: ServiceSettings) -> tuple[dict[str, Any] | None, str]:
    """The reach KPIs from the stored access, or None and why not."""
    from gridgeo.reach import reach_kpis
    from gridgeo.workspace import ACCESS_LAYER, read_access

    if ACCESS_LAYER not in store.layers() or CUSTOMER_LAYER not in store.layers():
        return None, (
            "工作区未计算服务水平，报告不含预测服务水平、最差网格和村：先运行 "
            f"gridgeo run --workspace {store.path.name} --out 输出目录"
        )
    customers, access = read_access(store)
    return reach_kpis(access, customers), ""


def _pct(value: float) -> float:
    return _rounded(100.0 * float(value), 1)


def _service_table(kpis: dict[str, Any] | None, settings: ServiceSettings) -> pd.DataFrame:
    if kpis is None:
        return pd.DataFrame(columns=["指标", "数值(%)", "说明"])
    c = kpis["county"].iloc[0]
    repair = f"{settings.repair_limit_s / 60:g} 分钟抢修到达率（预测）"
    payment = f"{settings.payment_limit_s / 60:g} 分钟缴费可达率（预测）"
    rows = [
        {
            "指标": repair,
            "数值(%)": _pct(c["repair_share_ok"]),
            "说明": f"按道路计算，{int(c['customers']):,} 户客户；"
            f"用时中位 {c['repair_median_eta_s'] / 60:.1f} 分钟",
        },
        {
            "指标": payment,
            "数值(%)": _pct(c["payment_share_ok"]),
            "说明": f"用时中位 {c['payment_median_eta_s'] / 60:.1f} 分钟",
        },
    ]
    return pd.DataFrame(rows)


def _worst_grids(
    kpis: dict[str, Any] | None,
    info: pd.DataFrame,
    missed: pd.DataFrame,
    settings: ServiceSettings,
) -> pd.DataFrame:
    from gridgeo.reach import rank_grids, shortfall_reasons

    repair = f"{settings.repair_limit_s / 60:g}分钟抢修到达率(%)"
    payment = f"{settings.payment_limit_s / 60:g}分钟缴费可达率(%)"
    columns = [
        "村级网格",
        "所属供电网格",
        "网格长",
        "客户数",
        repair,
        payment,
        "原因",
        "本月未达标指标",
    ]
    if kpis is None:
        return pd.DataFrame(columns=columns)
    ranked = rank_grids(kpis["tier3"]).head(N_WORST)
    reasons = shortfall_reasons(
        kpis,
        by="grid_t3",
        repair_limit_s=settings.repair_limit_s,
        payment_limit_s=settings.payment_limit_s,
    )["reason"]
    rows = []
    for gid, row in ranked.iterrows():
        parent = str(info["parent_id"].get(str(gid), ""))
        texts = missed.loc[missed["group_id"] == str(gid), "text"]
        rows.append(
            {
                "村级网格": _name(info, gid),
                "所属供电网格": _name(info, parent) if parent else "",
                "网格长": str(info["manager"].get(str(gid), "")),
                "客户数": int(row["customers"]),
                repair: _pct(row["repair_share_ok"]),
                payment: _pct(row["payment_share_ok"]),
                "原因": str(reasons.get(str(gid), "")),
                "本月未达标指标": "、".join(texts) if len(texts) else "无",
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _missed_grids(missed: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    columns = ["村级网格", "未达标指标数", "未达标指标"]
    if missed.empty:
        return pd.DataFrame(columns=columns)
    counts = missed.groupby("group_id")["text"].agg(["size", lambda t: "、".join(t)])
    counts.columns = ["n", "texts"]
    counts["_id"] = counts.index.astype(str)
    counts = counts.sort_values(["n", "_id"], ascending=[False, True]).head(N_WORST)
    return pd.DataFrame(
        {
            "村级网格": [_name(info, g) for g in counts.index],
            "未达标指标数": counts["n"].astype(int).to_numpy(),
            "未达标指标": counts["texts"].to_numpy(),
        },
        columns=columns,
    )


def _worst_villages(
    kpis: dict[str, Any] | None, store: Any, settings: ServiceSettings
) -> pd.DataFrame:
    from gridgeo.reach import rank_villages

    repair = f"{settings.repair_limit_s / 60:g}分钟抢修到达率(%)"
    payment = f"{settings.payment_limit_s / 60:g}分钟缴费可达率(%)"
    columns = ["乡镇", "村", "客户数", repair, payment, "原因"]
    if kpis is None:
        return pd.DataFrame(columns=columns)
    villages = store.read("villages") if "villages" in store.layers() else None
    table = rank_villages(
        kpis,
        villages=villages,
        repair_limit_s=settings.repair_limit_s,
        payment_limit_s=settings.payment_limit_s,
    ).head(N_WORST)
    return pd.DataFrame(
        {
            "乡镇": table["town"].to_numpy(),
            "村": table["village"].where(table["village"] != "", "未命名村").to_numpy(),
            "客户数": table["customers"].astype(int).to_numpy(),
            repair: [_pct(v) for v in table["repair_share_ok"]],
            payment: [_pct(v) for v in table["payment_share_ok"]],
            "原因": table["reason"].to_numpy(),
        },
        columns=columns,
    )


def _stars(store: Any, month: str, settings: ServiceSettings) -> tuple[pd.DataFrame, str, str]:
    from gridgeo.stars import last_full_week, workspace_stars

    _, end = period_bounds(month, "month")
    week = last_full_week(end - pd.Timedelta(seconds=1))
    result = workspace_stars(store, week=week, settings=settings)
    top = result.ranking.head(N_STARS)
    table = pd.DataFrame(
        {
            "名次": top["rank"].astype(int).to_numpy(),
            "网格员": top["member"].astype(str).to_numpy(),
            "网格": [str(n) or "未命名网格" for n in top["grid_name"].fillna("").astype(str)],
            "得分": top["score"].astype(float).to_numpy(),
        }
    )
    last = (result.end - pd.Timedelta(days=1)).date()
    span = f"{result.week[:4]}年第{int(result.week[-2:])}周（{result.start.date()} 至 {last}）"
    star = result.star
    if star is None:
        line = f"{span}：无人得分为正，本周不评服务之星"
    else:
        line = (
            f"{span}服务之星：{star['member']}（{star['grid_name'] or '未命名网格'}），"
            f"{float(star['score']):g} 分"
        )
    return table, result.week, line


def _watch(store: Any, month: str, info: pd.DataFrame, settings: ServiceSettings) -> pd.DataFrame:
    from gridgeo.watch import WATCH_LEVELS, workspace_watch

    result = workspace_watch(store, month=month, settings=settings)
    rows = []
    for row in result.watch.head(N_WATCH).itertuples(index=False):
        if row.level == "village":
            name = f"{row.town} {row.village}".strip()
        else:
            name = _name(info, row.grid_id)
        rows.append(
            {
                "序号": int(row.rank),
                "类别": WATCH_LEVELS.get(row.level, "网格"),
                "名称": name,
                "原因": row.reason,
            }
        )
    return pd.DataFrame(rows, columns=["序号", "类别", "名称", "原因"])


def _run_suggestion(run_dir: Path | None) -> int:
    """The number of suggested stations the run of ``run_dir`` drew on its map (0: none)."""
    if run_dir is None:
        return 0
    from gridgeo.run import MANIFEST_FILE

    try:
        manifest = json.loads((Path(run_dir) / MANIFEST_FILE).read_text(encoding="utf-8"))
        k = manifest["steps"]["map"]["inputs"]["suggest_stations"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    return int(k) if isinstance(k, int) and not isinstance(k, bool) and k > 0 else 0


def _sites(store: Any, k: int, settings: ServiceSettings, notes: list[str]) -> pd.DataFrame:
    from gridgeo.plan import site_facilities
    from gridgeo.workspace import read_reach_engine

    customers = store.read(CUSTOMER_LAYER)
    villages = store.read("villages")
    stations = store.read("repair_stations") if "repair_stations" in store.layers() else None
    with warnings.catch_warnings():
        # the villages that cannot be sites are counted in the notes below, in Chinese
        warnings.simplefilter("ignore", UserWarning)
        result = site_facilities(
            read_reach_engine(store, mode="drive"),
            customers,
            villages,
            service="repair",
            existing=stations,
            k=min(int(k), len(villages)),
            limit_s=settings.repair_limit_s,
            id_column="village_code",
        )
    unusable = int((~result.candidates["usable"].astype(bool)).sum())
    if unusable:
        notes.append(f"选址：{unusable} 个村无位置或离道路过远，未作为候选站址")
    picks = result.picks
    chosen = villages.loc[picks["candidate"]]
    blank = pd.Series("", index=chosen.index)
    town = chosen["town"].fillna("").astype(str) if "town" in chosen else blank
    name = chosen["village"].fillna("").astype(str) if "village" in chosen else blank
    return pd.DataFrame(
        {
            "序号": picks.index.astype(int).to_numpy(),
            "建议站址": (town + " " + name).str.strip().to_numpy(),
            "新增覆盖客户": picks["gain_customers"].astype(int).to_numpy(),
            "覆盖后达标率(%)": [_pct(v) for v in picks["covered_share"]],
        }
    )


def _no_month_message(orders: pd.DataFrame, month: str, workspace: str) -> str:
    times = order_times_utc(orders["reported_at"], "reported_at").dropna()
    if times.empty:
        return (
            f"{month} 无工单记录 / no work orders reported in {month}: the workspace has none; "
            f"import them with `gridgeo orders import FILE --workspace {workspace}`"
        )
    labels = period_labels(times, "month")
    first, last = labels.min(), labels.max()
    return (
        f"{month} 无工单记录 / no work orders reported in {month} (工单月份 {first} 至 {last} / "
        f"the orders cover {first} to {last}): pass one of those months, e.g. "
        f"`gridgeo report leadership {last} --workspace {workspace} --out DIR`"
    )


def leadership_report(
    store: Any,
    month: str,
    *,
    run_dir: str | Path | None = None,
    suggest_stations: int | None = None,
    settings: ServiceSettings = DEFAULT_SETTINGS,
) -> LeadershipReport:
    """The 月度供电服务报告 of ``month`` from a workspace (see the module docstring).

    Parameters
    ----------
    store
        The workspace (:class:`gridgeo.store.GeoPackageStore`) with work orders and grids.
    month
        The month, e.g. ``"2026-11"``.
    run_dir
        The output folder of ``gridgeo run`` on this workspace (optional): when its map drew
        suggested repair stations, the report suggests as many.
    suggest_stations
        New repair stations to suggest (villages as candidates); default as the run of
        ``run_dir``, else none.
    settings
        The promises.

    Raises
    ------
    NotFoundError
        If the workspace has no work orders or grids, or no order was reported in ``month``
        (the message names the months the records cover).
    InputError
        If ``month`` is not a month.
    """
    evaluation = evaluate_workspace(store, month, settings=settings)
    orders = read_orders(store, required=True)
    workspace = getattr(getattr(store, "path", None), "name", "WORKSPACE")
    if evaluation.orders == 0:
        raise NotFoundError(_no_month_message(orders, evaluation.month, workspace))
    month = evaluation.month
    layers = store.layers()
    grids = store.read("grids")
    info = _grid_info(grids)
    customers = store.read(CUSTOMER_LAYER) if CUSTOMER_LAYER in layers else None
    county = store.read("county") if "county" in layers else None
    county_name = (
        str(county["name"].iloc[0]) if county is not None and "name" in county.columns else ""
    )
    notes: list[str] = []
    if evaluation.orders_without_grid:
        notes.append(f"本月 {evaluation.orders_without_grid} 件工单未定位，不计入任何网格")

    figures = _figures_table(evaluation)
    t1 = sorted(
        grids.loc[pd.to_numeric(grids["tier"], errors="coerce") == 1, "grid_id"].astype(str)
    )
    trend = _trend_table(orders, customers, t1, month, settings)
    kpis, why = _service(store, settings)
    if why:
        notes.append(why)
    missed = _missed(evaluation)
    visits = _visit_rows(store, month, notes)
    figures = pd.concat([figures, visits], ignore_index=True) if len(visits) else figures

    stars, week, star_line = _stars(store, month, settings)
    watch = pd.DataFrame(columns=["序号", "类别", "名称", "原因"])
    if kpis is not None:
        watch = _watch(store, month, info, settings)
    k = _run_suggestion(None if run_dir is None else Path(run_dir))
    k = k if suggest_stations is None else int(suggest_stations)
    sites = pd.DataFrame(columns=["序号", "建议站址", "新增覆盖客户", "覆盖后达标率(%)"])
    if k > 0 and kpis is not None and "villages" in layers:
        sites = _sites(store, k, settings, notes)
    return LeadershipReport(
        county=county_name,
        month=month,
        previous=evaluation.previous,
        evaluation=evaluation,
        figures=figures,
        service=_service_table(kpis, settings),
        trend=trend,
        worst_grids=_worst_grids(kpis, info, missed, settings),
        missed_grids=_missed_grids(missed, info),
        worst_villages=_worst_villages(kpis, store, settings),
        stars=stars,
        stars_week=week,
        star_line=star_line,
        watch=watch,
        sites=sites,
        notes=tuple(notes),
    )


def _visit_rows(store: Any, month: str, notes: list[str]) -> pd.DataFrame:
    """Visit coverage at the end of ``month`` as rows of the figures table."""
    from gridgeo.stars import VISITS_LAYER
    from gridgeo.visit_records import visit_coverage

    if VISITS_LAYER not in store.layers():
        notes.append("尚无走访记录，报告不含走访覆盖率：导入走访记录后再生成")
        return pd.DataFrame()
    start, end = period_bounds(month, "month")
    local = start.tz_convert(TIMEZONE)
    quarter = (local.month - 1) // 3 + 1
    try:
        coverage = visit_coverage(store, local.year, quarter, as_of=end - pd.Timedelta(seconds=1))
    except GridGeoError as exc:
        notes.append(f"走访覆盖率无法计算：{exc}")
        return pd.DataFrame()
    total = int(coverage.by_grid["customers"].sum())
    rows = []
    for label, column in (
        (f"{local.year}年两次家访完成率", "two_visits"),
        (f"{local.year}年第{quarter}季度电话回访率", "called"),
    ):
        done = int(coverage.by_grid[column].sum())
        value = _rounded(100.0 * done / total, 3) if total else np.nan
        rows.append(
            {"指标": label, "单位": "%", "本月": value, "上月": np.nan, "变化": np.nan,
             "目标": "", "结果": "—" if total else "无数据"}
        )  # fmt: skip
    return pd.DataFrame(rows)


# --- XLSX ---------------------------------------------------------------------------------


def write_report_xlsx(report: LeadershipReport, path: str | Path) -> Path:
    """Write the report as XLSX, one sheet per section (:meth:`LeadershipReport.sheets`).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    write_xlsx(partial, report.sheets())
    partial.replace(path)
    return path


# --- PDF ----------------------------------------------------------------------------------

_A4_IN = (8.27, 11.69)
_MARGIN_IN = 0.6
_FONT_PT = 8.5
_LINE = 1.45  # line height in font sizes


def _width_units(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _wrap(text: str, units: int) -> list[str]:
    """``text`` cut into lines of at most ``units`` display units (a CJK character is 2)."""
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        line, width = "", 0
        for ch in paragraph:
            w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
            if width + w > units and line:
                lines.append(line)
                line, width = "", 0
            line += ch
            width += w
        lines.append(line)
    return lines


def _cell(value: Any, column: str) -> str:
    """A table value as the PDF shows it: shares with one decimal, counts with separators."""
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "—"
        return f"{value:.1f}" if "%" in column else f"{value:g}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return str(value)


class _Pages:
    """A4 portrait pages filled top to bottom: headings, lines of text, tables, charts."""

    def __init__(self, pdf: Any) -> None:
        import matplotlib.pyplot as plt

        self._plt = plt
        self.pdf = pdf
        self.pages = 0
        self.fig: Any = None
        self.y = 0.0
        self.width_in = _A4_IN[0] - 2 * _MARGIN_IN
        self.new_page()

    def line_in(self, size: float = _FONT_PT) -> float:
        return size * _LINE / 72.0

    def new_page(self) -> None:
        if self.fig is not None:
            self.finish()
        self.fig = self._plt.figure(figsize=_A4_IN)
        self.pages += 1
        self.y = _A4_IN[1] - _MARGIN_IN
        self.fig.text(
            0.5, 0.25 / _A4_IN[1], f"第 {self.pages} 页", ha="center", va="bottom", fontsize=7
        )

    def finish(self) -> None:
        self.pdf.savefig(self.fig)
        self._plt.close(self.fig)
        self.fig = None

    def room(self, height_in: float) -> None:
        if self.y - height_in < _MARGIN_IN:
            self.new_page()

    def text(
        self, text: str, *, size: float = _FONT_PT, bold: bool = False, indent_in: float = 0.0
    ) -> None:
        units = int((self.width_in - indent_in) * 72 / (size / 2))
        for line in _wrap(text, units):
            self.room(self.line_in(size))
            self.fig.text(
                (_MARGIN_IN + indent_in) / _A4_IN[0],
                self.y / _A4_IN[1],
                line,
                fontsize=size,
                va="top",
                fontweight="bold" if bold else "normal",
            )
            self.y -= self.line_in(size)

    def gap(self, inches: float = 0.08) -> None:
        self.y -= inches

    def heading(self, text: str) -> None:
        self.room(self.line_in(11) + 3 * self.line_in())
        self.gap(0.06)
        self.text(text, size=11, bold=True)
        self.gap(0.03)

    def table(self, frame: pd.DataFrame, widths: Sequence[float]) -> None:
        """Rows of ``frame`` with column widths in shares of the page width, cells wrapped."""
        from matplotlib.lines import Line2D

        size = _FONT_PT
        total = float(sum(widths))
        cols_in = [self.width_in * w / total for w in widths]
        units = [max(2, int(w * 72 / (size / 2)) - 1) for w in cols_in]
        rows = [[str(c) for c in frame.columns]]
        rows += [
            [_cell(v, c) for v, c in zip(r, frame.columns, strict=True)]
            for r in frame.itertuples(index=False)
        ]
        for i, row in enumerate(rows):
            cells = [_wrap(text, u) for text, u in zip(row, units, strict=True)]
            height = max(len(c) for c in cells) * self.line_in(size) + 0.04
            if self.y - height < _MARGIN_IN:
                self.new_page()
                if i > 0:  # the header again on the new page
                    self.table(frame.iloc[:0], widths)
            x = _MARGIN_IN
            for lines, w in zip(cells, cols_in, strict=True):
                for k, line in enumerate(lines):
                    self.fig.text(
                        (x + 0.03) / _A4_IN[0],
                        (self.y - 0.02 - k * self.line_in(size)) / _A4_IN[1],
                        line,
                        fontsize=size,
                        va="top",
                        fontweight="bold" if i == 0 else "normal",
                    )
                x += w
            self.y -= height
            y = self.y / _A4_IN[1]
            self.fig.add_artist(
                Line2D(
                    [_MARGIN_IN / _A4_IN[0], 1 - _MARGIN_IN / _A4_IN[0]],
                    [y, y],
                    linewidth=0.8 if i == 0 else 0.3,
                    color="#444444" if i == 0 else "#bbbbbb",
                )
            )

    def chart(self, height_in: float, draw: Callable[[Any], None]) -> None:
        self.room(height_in + 0.1)
        bottom = (self.y - height_in) / _A4_IN[1]
        ax = self.fig.add_axes(
            (
                (_MARGIN_IN + 0.5) / _A4_IN[0],
                bottom + 0.35 / _A4_IN[1],
                (self.width_in - 0.7) / _A4_IN[0],
                (height_in - 0.45) / _A4_IN[1],
            )
        )
        draw(ax)
        self.y -= height_in


def _draw_trend(trend: pd.DataFrame) -> Callable[[Any], None]:
    def draw(ax: Any) -> None:
        x = np.arange(len(trend))
        for column, style in zip(trend.columns[2:], ("o-", "s--", "^:"), strict=False):
            ax.plot(x, trend[column].to_numpy(dtype=float), style, label=column.replace("(%)", ""))
        ax.set_xticks(x, [_month_zh(m) for m in trend["月份"]], fontsize=7)
        ax.set_ylabel("%", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, linewidth=0.3, alpha=0.6)
        ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, ncol=3)

    return draw


def _figure_lines(report: LeadershipReport) -> pd.DataFrame:
    """The figures table as the PDF shows it (values with units, change in points)."""
    rows = []
    for row in report.figures.itertuples(index=False):
        unit = row.单位

        def shown(v: float, sign: bool = False, unit: str = unit, figure: str = row.指标) -> str:
            if not np.isfinite(v):
                return "—" if not sign else ""
            d = (
                3
                if "可靠率" in figure
                else (1 if unit in ("%", "分钟") else UNIT_DECIMALS.get(unit, 2))
            )
            text = f"{v:+.{d}f}" if sign else f"{v:,.{d}f}"
            if sign:
                return text + (" 个百分点" if unit == "%" else f" {unit}")
            return text + ("%" if unit == "%" else f" {unit}")

        rows.append(
            {
                "指标": row.指标,
                "本月": shown(row.本月),
                "上月": shown(row.上月),
                "变化": shown(row.变化, sign=True),
                "目标": row.目标,
                "结果": row.结果,
            }
        )
    return pd.DataFrame(rows, columns=["指标", "本月", "上月", "变化", "目标", "结果"])


def write_report_pdf(report: LeadershipReport, path: str | Path) -> Path:
    """Write the report as an A4 portrait PDF (one to three pages) with a Chinese text layer.

    Raises
    ------
    NotFoundError
        If the machine has no Chinese font (:func:`gridgeo.fonts.use_cjk_font`; the message
        says what to install).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_pdf import PdfPages

    from gridgeo.fonts import use_cjk_font

    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with matplotlib.rc_context():
        use_cjk_font()  # before anything is written: no font, no file
        matplotlib.rcParams["pdf.fonttype"] = 42  # TrueType: a text layer readers can search
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with PdfPages(partial, metadata={"Title": report.title, "Creator": "gridgeo"}) as pdf:
                pages = _Pages(pdf)
                _fill(pages, report)
                pages.finish()
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    partial.replace(path)
    return path


def _fill(pages: _Pages, report: LeadershipReport) -> None:
    ev = report.evaluation
    pages.text(report.title, size=15, bold=True)
    pages.text(
        f"统计月份 {_month_zh(report.month)}，对比上月 {_month_zh(report.previous)}；"
        f"本月工单 {ev.orders:,} 件（上月 {ev.previous_orders:,} 件）",
        size=9,
    )
    pages.heading("一、本月指标（来自工单记录）")
    pages.table(_figure_lines(report), (3.2, 1.7, 1.7, 1.8, 1.3, 1.0))
    pages.heading("二、预测服务水平（按道路计算）")
    if len(report.service):
        for row in report.service.itertuples(index=False):
            pages.text(f"{row[0]}：{row[1]:.1f}%（{row[2]}）")
    else:
        pages.text("未计算 — 见文末说明")
    if len(report.trend) >= 2:
        pages.heading("三、趋势")
        pages.chart(2.3, _draw_trend(report.trend))
    pages.heading("四、服务最差的村级网格（预测服务水平）")
    if len(report.worst_grids):
        pages.table(report.worst_grids, (2.0, 2.0, 0.9, 0.8, 1.1, 1.1, 3.6, 2.7))
    else:
        pages.text("无")
    pages.heading("五、本月考核未达标最多的村级网格")
    if len(report.missed_grids):
        pages.table(report.missed_grids, (2.5, 1.2, 6.5))
    else:
        pages.text("所有村级网格均达标或无数据")
    pages.heading("六、最需关注的村")
    if len(report.worst_villages):
        pages.table(report.worst_villages, (1.2, 1.3, 0.9, 1.3, 1.3, 5.0))
    else:
        pages.text("所有村的客户均在承诺时间内")
    pages.heading("七、本周服务之星")
    pages.text(report.star_line)
    if len(report.stars):
        pages.table(report.stars, (1.0, 2.0, 4.0, 1.0))
    pages.heading("八、重点巡查")
    if len(report.watch):
        pages.table(report.watch, (0.7, 0.8, 2.2, 7.0))
    else:
        pages.text("本月无重点巡查对象")
    pages.heading("九、选址建议")
    if len(report.sites):
        pages.table(report.sites, (0.8, 4.0, 2.0, 2.0))
    else:
        pages.text("本次未做选址（生成报告时加 --suggest-stations K 可给出 K 处新抢修站建议）")
    if report.notes:
        pages.heading("说明")
        for note in report.notes:
            pages.text(f"· {note}")


def write_leadership_report(report: LeadershipReport, out_dir: str | Path) -> dict[str, Path]:
    """Write ``月度供电服务报告_<month>.xlsx`` and ``.pdf`` into ``out_dir``.

    The PDF is drawn first: without a Chinese font nothing is written.

    Returns
    -------
    dict
        ``pdf`` and ``xlsx`` → the files written.
    """
    out = Path(out_dir)
    stem = f"{REPORT_NAME}_{report.month}"
    pdf = write_report_pdf(report, out / f"{stem}.pdf")
    xlsx = write_report_xlsx(report, out / f"{stem}.xlsx")
    return {"pdf": pdf, "xlsx": xlsx}
