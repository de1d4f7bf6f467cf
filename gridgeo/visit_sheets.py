"""Visit plans as grid members get them: periods, printable day sheets, printed routes.

:mod:`gridgeo.visits` makes the plan (:class:`~gridgeo.visits.VisitPlan`); this module turns it
into what a grid member (网格员) takes on their visit day and what the CLI prints:

- :func:`visit_period` reads a period as people write it (``2027``, ``2027-Q1``, ``2027-01``,
  ``2027-W02``, as the figures take them; none: next week) into its first and last day;
- :func:`day_sheet` is one member's visit day: the stops in order with their arrival times
  (China time), customer number, name, address, phone, village, why they come first and what
  to check (:data:`CHECKLIST`), and the day's totals against the day length;
- :func:`sheet_html` (one A4 page, print CSS, no external asset) and :func:`write_sheet_xlsx`
  (:func:`gridgeo.archive.write_xlsx`: text cells never become formulas) are the printable
  sheet; :func:`write_visit_sheets` writes both for every visit day of a plan, each file
  written under a temporary name and then renamed, so no half-written sheet is left;
- :func:`week_visits` is the job the demo runs: next week's visit days of one tier-3 grid.

The customer's name is taken from the plan's stops if they carry a ``name`` column, else from
``names`` (a Series: customer id -> name, e.g. the workspace's customers layer).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridgeo.archive import write_xlsx
from gridgeo.errors import InputError, NotFoundError
from gridgeo.performance import period_bounds
from gridgeo.visits import VisitPlan, VisitSettings, plan_workspace_visits

if TYPE_CHECKING:
    from gridgeo.store import GeoPackageStore

__all__ = [
    "CHECKLIST",
    "SHEET_COLUMNS",
    "UNPLANNED_CSV",
    "VISIT_PLAN_CSV",
    "VisitDaySheet",
    "customer_names",
    "day_sheet",
    "day_sheets",
    "map_name",
    "member_plan",
    "quarter_plan",
    "safe_name",
    "sheet_html",
    "sheet_points",
    "visit_period",
    "week_lines",
    "week_visits",
    "write_day_sheet",
    "write_sheet_xlsx",
    "write_visit_plan",
    "write_visit_sheets",
]

CHECKLIST: tuple[tuple[str, str], ...] = (
    ("表计", "meter"),
    ("进户线", "service line into the house"),
    ("漏电保护器", "residual-current device"),
    ("用电安全隐患", "electrical safety hazards"),
    ("服务诉求", "the customer's requests"),
)
"""What to check at every home visit (Chinese, English)."""

SHEET_COLUMNS: tuple[str, ...] = (
    "序号 No.",
    "预计到达 ETA",
    "预计离开 leave",
    "户号 customer",
    "户名 name",
    "地址 address",
    "电话 phone",
    "村 village",
    "优先原因 priority",
    "走访分钟 visit min",
    "检查项 to check",
    "走访结果 outcome",
)
"""The columns of a day sheet's stops, in order."""

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CHECK_TEXT = " ".join(f"□{zh}" for zh, _ in CHECKLIST)


# ------------------------------------------------------------------ periods


def visit_period(period: str | None, *, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """
    The first and last day (inclusive) of a period to plan.

    Parameters
    ----------
    period
        A period label as the figures take it (:func:`gridgeo.performance.period_bounds`):
        ``"2027"``, ``"2027-Q1"``, ``"2027-01"`` or ``"2027-W02"`` (an ISO week, Monday to
        Sunday), in either case; or None: the week after ``today``.
    today
        The day "next week" follows (default: today's date).

    Returns
    -------
    tuple of datetime.date

    Raises
    ------
    InputError
        ``period`` is not a period label (the message shows the forms).
    """
    if period is None:
        day = today or dt.date.today()
        monday = day - dt.timedelta(days=day.weekday()) + dt.timedelta(days=7)
        return monday, monday + dt.timedelta(days=6)
    first, after = period_bounds(str(period).strip().upper())
    return first.date(), (after - pd.Timedelta(days=1)).date()


# ------------------------------------------------------------------ one member's day


@dataclass(frozen=True)
class VisitDaySheet:
    """One member's visit day as printed.

    Attributes
    ----------
    member, date
        Who and when.
    grid_ids, base_id, base_name
        The member's tier-3 grids and the base the day starts and ends at.
    stops
        One row per stop in visiting order, columns :data:`SHEET_COLUMNS`.
    day_start
        When the member leaves the base ("HH:MM", China time).
    travel_s, visit_s, total_s, day_length_s
        The day's travel, time at the customers, both, and the day length.
    """

    member: str
    date: dt.date
    grid_ids: tuple[str, ...]
    base_id: str
    base_name: str
    stops: pd.DataFrame
    day_start: str
    travel_s: float
    visit_s: float
    total_s: float
    day_length_s: float

    @property
    def back_at(self) -> str:
        """When the member is back at the base ("HH:MM", China time)."""
        return _clock(_start_s(self.day_start) + self.total_s)

    @property
    def title(self) -> str:
        """The sheet's heading, e.g. ``走访单 / visit sheet 2027-01-06 周三 张三``."""
        wd = self.date.weekday()
        return f"走访单 / visit sheet {self.date.isoformat()} {WEEKDAYS_ZH[wd]} {self.member}"

    def total_lines(self) -> list[str]:
        """The day's totals in Chinese with English."""
        spare = self.day_length_s - self.total_s
        return [
            f"站点 / stops: {len(self.stops)}",
            f"路途 / travel: {_duration(self.travel_s)}",
            f"走访 / visits: {_duration(self.visit_s)}",
            f"合计 / total: {_duration(self.total_s)} of the day's {_duration(self.day_length_s)}"
            f" (余 / spare {_duration(spare)})",
            f"出发 / leave base: {self.day_start}, 返回 / back: {self.back_at}",
        ]

    def lines(self) -> list[str]:
        """The day's route as the CLI prints it."""
        wd = self.date.weekday()
        out = [
            f"走访路线 / visit route: {self.member}, {self.date.isoformat()} {WEEKDAYS_ZH[wd]} "
            f"{WEEKDAYS_EN[wd]}, 网格 / grids {', '.join(self.grid_ids)}, "
            f"出发地 / base {self.base_id} {self.base_name}",
            f"  {'序号':>4s} {'到达 ETA':>8s}  {'户号 customer':<15s} 户名 name / 地址 address / "
            "电话 phone / 优先 priority",
        ]
        for row in self.stops.itertuples(index=False):
            extra = " / ".join(p for p in (str(row[6]), str(row[8])) if p)
            out.append(
                f"  {row[0]:>4d} {row[1]:>8s}  {row[3]:<15s} {row[4]} {row[5]}"
                + (f" / {extra}" if extra else "")
            )
        out += [f"  {line}" for line in self.total_lines()]
        out.append("  检查 / check: " + "、".join(f"{zh} {en}" for zh, en in CHECKLIST))
        return out


def _start_s(text: str) -> float:
    hours, minutes = (int(p) for p in text.split(":"))
    return hours * 3600.0 + minutes * 60.0


def _clock(seconds: float) -> str:
    minutes = math.floor(seconds / 60.0)
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def _duration(seconds: float) -> str:
    minutes = round(float(seconds) / 60.0)
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours} h {rest:02d} min"


def _names_of(plan: VisitPlan, stops: pd.DataFrame, names: pd.Series | None) -> np.ndarray:
    if "name" in stops:
        return stops["name"].astype("string").fillna("").to_numpy(dtype=object)
    if names is None:
        return np.full(len(stops), "", dtype=object)
    lookup = pd.Series(names)
    lookup.index = lookup.index.astype(str)
    lookup = lookup[~lookup.index.duplicated()]
    found = stops["customer_id"].astype(str).map(lookup)
    return found.astype("string").fillna("").to_numpy(dtype=object)


def _text(values: pd.Series) -> list[str]:
    return values.astype("string").fillna("").astype(str).tolist()


def _member_row(plan: VisitPlan, member: str) -> pd.Series | None:
    if not len(plan.members):
        return None
    rows = plan.members[plan.members["member"].astype(str) == member]
    return rows.iloc[0] if len(rows) else None


def day_sheet(
    plan: VisitPlan, member: str, date: Any, *, names: pd.Series | None = None
) -> VisitDaySheet:
    """
    One member's visit day of a plan, as printed on the sheet.

    Parameters
    ----------
    plan
        The visit plan (:func:`gridgeo.plan_visits`).
    member
        The member's name.
    date
        The visit day (a date or "YYYY-MM-DD").
    names
        Customer names by customer id, used when the plan's stops carry no ``name``.

    Returns
    -------
    VisitDaySheet

    Raises
    ------
    NotFoundError
        The plan has no such member, or the member has no visit on that day (the message
        lists the member's visit days).
    """
    member = str(member)
    info = _member_row(plan, member)
    if info is None:
        known = sorted(plan.members["member"].astype(str)) if len(plan.members) else []
        msg = f"no grid member {member!r} in the plan: use one of {known[:8]!r}"
        raise NotFoundError(msg)
    day = pd.Timestamp(date).date()
    days = plan.days[plan.days["member"].astype(str) == member]
    on = days[pd.to_datetime(days["date"]).dt.date == day]
    if not len(on):
        listed = [str(pd.Timestamp(d).date()) for d in days["date"]]
        msg = (
            f"{member} has no visits on {day.isoformat()}: the visit days planned are "
            f"{listed[:10]!r}" + ("" if listed else " (none)")
        )
        raise NotFoundError(msg)
    d = on.iloc[0]
    s = plan.stops
    mine = s[(s["member"].astype(str) == member) & (pd.to_datetime(s["date"]).dt.date == day)]
    mine = mine.sort_values("seq", kind="stable")
    start_s = plan.settings.day_start_s
    stops = pd.DataFrame(
        {
            SHEET_COLUMNS[0]: mine["seq"].astype(int).to_numpy(),
            SHEET_COLUMNS[1]: _text(mine["eta"]),
            SHEET_COLUMNS[2]: [_clock(start_s + v) for v in mine["leave_s"].to_numpy(float)],
            SHEET_COLUMNS[3]: _text(mine["customer_id"]),
            SHEET_COLUMNS[4]: _names_of(plan, mine, names),
            SHEET_COLUMNS[5]: _text(mine["address"]),
            SHEET_COLUMNS[6]: _text(mine["phone"]),
            SHEET_COLUMNS[7]: _text(mine["village"]),
            SHEET_COLUMNS[8]: _text(mine["priority_reasons"]),
            SHEET_COLUMNS[9]: np.round(mine["visit_s"].to_numpy(float) / 60.0, 1),
            SHEET_COLUMNS[10]: _CHECK_TEXT,
            SHEET_COLUMNS[11]: "",
        }
    ).reset_index(drop=True)
    return VisitDaySheet(
        member=member,
        date=day,
        grid_ids=tuple(str(g) for g in info["grid_ids"]),
        base_id=str(info["base_id"]),
        base_name=str(info.get("base_name", info["base_id"])),
        stops=stops,
        day_start=plan.settings.day_start,
        travel_s=float(d["travel_s"]),
        visit_s=float(d["visit_s"]),
        total_s=float(d["total_s"]),
        day_length_s=float(d["day_length_s"]),
    )


def sheet_points(plan: VisitPlan, sheet: VisitDaySheet) -> gpd.GeoSeries:
    """The points of a day sheet's stops, in the sheet's order (EPSG:4326)."""
    s = plan.stops
    mine = s[
        (s["member"].astype(str) == sheet.member)
        & (pd.to_datetime(s["date"]).dt.date == sheet.date)
    ].sort_values("seq", kind="stable")
    return gpd.GeoSeries(mine.geometry.to_numpy(), crs="EPSG:4326")


def map_name(sheet: VisitDaySheet) -> str:
    """The file name of a day's route map: ``走访路线图_<member>_<date>.html``."""
    return safe_name(f"走访路线图_{sheet.member}_{sheet.date.isoformat()}") + ".html"


def member_plan(plan: VisitPlan, member: str) -> VisitPlan:
    """The part of a plan that is one member's: their stops, days, unplanned visits and row."""
    member = str(member)

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        if "member" not in frame or not len(frame):
            return frame
        return frame[frame["member"].astype(str) == member].reset_index(drop=True)

    return dataclasses.replace(
        plan,
        stops=mine(plan.stops),
        days=mine(plan.days),
        unplanned=mine(plan.unplanned),
        members=mine(plan.members),
    )


def day_sheets(plan: VisitPlan, *, names: pd.Series | None = None) -> list[VisitDaySheet]:
    """Every visit day of a plan, by member then date (see :func:`day_sheet`)."""
    days = plan.days.sort_values(["member", "date"], kind="stable")
    return [
        day_sheet(plan, str(m), d, names=names)
        for m, d in zip(days["member"], days["date"], strict=True)
    ]


# ------------------------------------------------------------------ printable sheets


_CSS = (
    "@page{size:A4 portrait;margin:7mm}"
    "*{box-sizing:border-box}"
    "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;font-size:7.5pt;"
    "margin:0 auto;max-width:196mm;line-height:1.2;color:#000}"
    "h1{font-size:12pt;margin:0 0 1pt}p{margin:0 0 1pt}"
    "table{border-collapse:collapse;width:100%;margin-top:2pt;table-layout:fixed}"
    "th,td{border:0.5pt solid #555;padding:0.5pt 1.5pt;vertical-align:top;"
    "overflow-wrap:anywhere}"
    "th{background:#eee;font-weight:bold;text-align:left;font-size:7pt}"
    "td.n{text-align:right}td.t{white-space:nowrap}"
    "tr{break-inside:avoid}"
    "ul.totals{margin:2pt 0 0;padding-left:12pt;columns:2}"
    "@media print{body{max-width:none}}"
)
# the printed columns (positions into SHEET_COLUMNS) and their widths in mm; the leaving time
# and the checklist's words are in the XLSX, the page has a box per check
_PAGE_COLUMNS = ((0, 7), (1, 10), (3, 23), (4, 17), (5, 44), (6, 20), (7, 15), (8, 16), (9, 8))
_BOXES = "□" * len(CHECKLIST)


def sheet_html(sheet: VisitDaySheet) -> str:
    """The day sheet as a standalone HTML page for one A4 sheet (no external asset).

    A day of up to about 45 stops prints on one page (single-line rows); the checks are boxes
    in the order of :data:`CHECKLIST`, named above the table.
    """
    esc = html.escape
    cols = "".join(f'<col style="width:{w}mm">' for _, w in _PAGE_COLUMNS)
    cols += '<col style="width:15mm"><col>'
    head = "".join(f"<th>{esc(SHEET_COLUMNS[j])}</th>" for j, _ in _PAGE_COLUMNS)
    head += "<th>检查 check</th><th>结果 outcome</th>"
    rows = []
    for row in sheet.stops.itertuples(index=False):
        cells = []
        for j, _ in _PAGE_COLUMNS:
            cls = ' class="n"' if j in (0, 9) else ' class="t"' if j in (1, 3) else ""
            cells.append(f"<td{cls}>{esc(str(row[j]))}</td>")
        cells.append(f'<td class="t">{_BOXES}</td><td></td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    totals = "".join(f"<li>{esc(line)}</li>" for line in sheet.total_lines())
    check = " ".join(f"{k}.{zh}（{en}）" for k, (zh, en) in enumerate(CHECKLIST, 1))
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(sheet.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(sheet.title)}</h1>"
        f"<p>网格员 / member: {esc(sheet.member)}；网格 / grids: {esc(', '.join(sheet.grid_ids))}"
        f"；出发地 / base: {esc(sheet.base_id)} {esc(sheet.base_name)}；出发 / leave "
        f"{esc(sheet.day_start)}，返回 / back {esc(sheet.back_at)}</p>"
        f"<p>每户检查（按框的顺序）/ check at every visit, box by box: {esc(check)}</p>"
        f"<table><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<ul class="totals">{totals}</ul>'
        "</body></html>\n"
    )


def write_sheet_xlsx(sheet: VisitDaySheet, path: str | Path) -> Path:
    """Write the day sheet as XLSX: sheet ``走访路线`` (the stops, :data:`SHEET_COLUMNS`) and
    sheet ``当日合计`` (member, base, totals against the day length, the checklist).

    The file is written under a temporary name and renamed when complete.
    """
    path = Path(path)
    summary = pd.DataFrame(
        [
            ("走访单 / sheet", sheet.title),
            ("网格员 / member", sheet.member),
            ("日期 / date", sheet.date.isoformat()),
            ("网格 / grids", ", ".join(sheet.grid_ids)),
            ("出发地 / base", f"{sheet.base_id} {sheet.base_name}"),
            ("站点 / stops", str(len(sheet.stops))),
            ("出发 / leave base", sheet.day_start),
            ("返回 / back at base", sheet.back_at),
            ("路途分钟 / travel min", round(sheet.travel_s / 60.0, 1)),
            ("走访分钟 / visit min", round(sheet.visit_s / 60.0, 1)),
            ("合计分钟 / total min", round(sheet.total_s / 60.0, 1)),
            ("工作日长分钟 / day length min", round(sheet.day_length_s / 60.0, 1)),
            *((f"检查 / check {k}", f"{zh} {en}") for k, (zh, en) in enumerate(CHECKLIST, 1)),
        ],
        columns=["项目 item", "内容 value"],
    )
    partial = path.with_name(path.name + ".partial")
    write_xlsx(partial, {"走访路线": sheet.stops, "当日合计": summary})
    partial.replace(path)
    return path


def safe_name(name: str) -> str:
    """``name`` usable as a file or folder name (no path separators, no blanks)."""
    return "".join("_" if ch in '\\/:*?"<>|' or ch.isspace() else ch for ch in name).strip("_")


def write_day_sheet(sheet: VisitDaySheet, out_dir: str | Path) -> list[Path]:
    """Write one day sheet as ``走访单_<member>_<date>.xlsx`` and ``.html`` in ``out_dir``
    (made if missing); each file under a temporary name, renamed when complete."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = safe_name(f"走访单_{sheet.member}_{sheet.date.isoformat()}")
    book = write_sheet_xlsx(sheet, out / f"{stem}.xlsx")
    page = out / f"{stem}.html"
    partial = page.with_name(page.name + ".partial")
    partial.write_text(sheet_html(sheet), encoding="utf-8")
    partial.replace(page)
    return [book, page]


def write_visit_sheets(
    plan: VisitPlan, out_dir: str | Path, *, names: pd.Series | None = None
) -> list[Path]:
    """
    Write the printable sheet of every visit day of a plan (:func:`write_day_sheet`), in a
    folder per member under ``out_dir``: ``<member>/走访单_<member>_<date>.xlsx`` and ``.html``.

    Returns the paths written, by member and date (xlsx, then html).
    """
    out = Path(out_dir)
    written: list[Path] = []
    for sheet in day_sheets(plan, names=names):
        written += write_day_sheet(sheet, out / safe_name(sheet.member))
    return written


VISIT_PLAN_CSV = "visit_plan.csv"
UNPLANNED_CSV = "unplanned.csv"


def write_visit_plan(
    plan: VisitPlan, out_dir: str | Path, *, names: pd.Series | None = None
) -> list[Path]:
    """
    Write a plan for its users: the day sheets (:func:`write_visit_sheets`), the planned
    visits as rows of the ``visits`` layer (:meth:`~gridgeo.visits.VisitPlan.visit_rows`,
    :data:`VISIT_PLAN_CSV`) and what cannot be planned with the reasons
    (:data:`UNPLANNED_CSV`); the CSVs are UTF-8 with a byte-order mark, which Excel reads.

    Returns the paths written.
    """
    out = Path(out_dir)
    written = write_visit_sheets(plan, out, names=names)
    rows = plan.visit_rows()
    rows["planned_on"] = pd.to_datetime(rows["planned_on"]).dt.strftime("%Y-%m-%d")
    for frame, name in ((rows, VISIT_PLAN_CSV), (plan.unplanned, UNPLANNED_CSV)):
        path = out / name
        partial = path.with_name(path.name + ".partial")
        frame.to_csv(partial, index=False, encoding="utf-8-sig")
        partial.replace(path)
        written.append(path)
    return written


# ------------------------------------------------------------------ the demo's week


def week_lines(plan: VisitPlan, *, grid: str | None = None) -> list[str]:
    """One line per visit day of a plan: member, date, stops, total time (for the demo)."""
    head = "走访日 / visit days" + (f" of grid {grid}" if grid else "")
    out = [f"{head}: {len(plan.days)}"]
    days = plan.days.sort_values(["date", "member"], kind="stable")
    for d in days.itertuples(index=False):
        day = pd.Timestamp(d.date).date()
        out.append(
            f"  {d.member}  {day.isoformat()} {WEEKDAYS_ZH[day.weekday()]}  "
            f"{int(d.stops)} 户 / stops  合计 / total {_duration(float(d.total_s))} "
            f"(路途 / travel {_duration(float(d.travel_s))})"
        )
    return out


def week_visits(
    store: GeoPackageStore,
    out_dir: str | Path,
    *,
    grid: str | None = None,
    today: dt.date | None = None,
    settings: VisitSettings | None = None,
    progress: Callable[..., Any] | None = None,
) -> tuple[VisitPlan, list[Path]]:
    """
    Plan next week's visit days of one tier-3 grid's members and write their sheets.

    Parameters
    ----------
    store
        The workspace.
    out_dir
        Where the sheets go (:func:`write_visit_sheets`).
    grid
        The tier-3 grid (default: the first by id that names members).
    today
        The week after this day's week is planned; default: the day of the last work order on
        record if there are any (so a workspace's outputs do not depend on the clock), else
        today.
    settings
        :class:`~gridgeo.visits.VisitSettings`.
    progress
        Called with the lines to show, if given.

    Returns
    -------
    tuple
        The plan and the files written.
    """
    from gridgeo._validate import split_members
    from gridgeo.orders import read_orders

    if grid is None:
        grids = store.read("grids")
        tier3 = grids[pd.to_numeric(grids["tier"], errors="coerce") == 3]
        staffed = tier3[split_members(tier3["members"]).map(bool).to_numpy()]
        if not len(staffed):
            msg = (
                "没有网格员的三级网格 / no tier-3 grid names members: fill the roster "
                "(`gridgeo grids roster FILE --workspace W`)"
            )
            raise InputError(msg)
        grid = str(sorted(staffed["grid_id"].astype(str))[0])
    if today is None:
        orders = read_orders(store)
        when = (
            pd.to_datetime(orders["reported_at"], utc=True, errors="coerce").dropna()
            if len(orders)
            else pd.Series(dtype="datetime64[ns, UTC]")
        )
        today = when.max().tz_convert("Asia/Shanghai").date() if len(when) else dt.date.today()
    start, end = visit_period(None, today=today)
    t0 = time.perf_counter()
    plan = plan_workspace_visits(store, start=start, end=end, settings=settings, grid=grid)
    written = write_visit_plan(plan, out_dir, names=customer_names(store))
    if progress is not None:
        week = f"{start.isocalendar().year}-W{start.isocalendar().week:02d}"
        progress(
            f"下周走访 / next week's visits ({week}, {start.isoformat()} - {end.isoformat()}), "
            f"网格 / grid {grid}, {time.perf_counter() - t0:.1f} s:",
            *(f"  {line}" for line in week_lines(plan)),
            f"  走访单与计划 / sheets and plan: {len(written)} files in {Path(out_dir)}",
        )
    return plan, written


def quarter_plan(
    store: GeoPackageStore,
    out_dir: str | Path,
    *,
    today: dt.date | None = None,
    settings: VisitSettings | None = None,
    progress: Callable[..., None] | None = None,
) -> tuple[VisitPlan, str, list[Path]]:
    """
    Plan the whole county's visits of the quarter after ``today`` and write the plan.

    Every member of every grid, one visit day a week ("6+1"); the files are the planned
    visits as rows of the ``visits`` layer (:data:`VISIT_PLAN_CSV`) and what cannot be planned
    with its reason (:data:`UNPLANNED_CSV`), without the day sheets (a quarter has hundreds;
    ``gridgeo visits day`` prints one member's day).

    Parameters
    ----------
    store
        The workspace.
    out_dir
        The folder to write to (created).
    today
        The quarter planned is the one after this day's (default: today).
    settings
        :class:`~gridgeo.visits.VisitSettings`.
    progress
        Called with the summary lines when done.

    Returns
    -------
    tuple
        The plan, the quarter's label (``2027-Q1``) and the files written.
    """
    day = today or dt.date.today()
    year, quarter = day.year, (day.month - 1) // 3 + 1
    year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    label = f"{year}-Q{quarter}"
    start, end = visit_period(label)
    t0 = time.perf_counter()
    plan = plan_workspace_visits(store, start=start, end=end, settings=settings)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = plan.visit_rows()
    rows["planned_on"] = pd.to_datetime(rows["planned_on"]).dt.strftime("%Y-%m-%d")
    written = []
    for frame, name in ((rows, VISIT_PLAN_CSV), (plan.unplanned, UNPLANNED_CSV)):
        path = out / name
        partial = path.with_name(path.name + ".partial")
        frame.to_csv(partial, index=False, encoding="utf-8-sig")
        partial.replace(path)
        written.append(path)
    if progress is not None:
        progress(
            f"下季度走访计划 / next quarter's visit plan ({label}, {start.isoformat()} - "
            f"{end.isoformat()}), 全县 / whole county, {time.perf_counter() - t0:.1f} s:",
            *(f"  {line}" for line in plan.lines()),
            f"  计划 / plan: {', '.join(str(p) for p in written)}",
        )
    return plan, label, written


def customer_names(store: GeoPackageStore) -> pd.Series:
    """Customer names by customer id (for the sheets), from the workspace's customers layer
    (empty if it has no ``name``)."""
    customers = store.read("customers")
    if "name" not in customers:
        return pd.Series(dtype=object)
    ids = customers["customer_id"].astype(str).to_numpy()
    return pd.Series(_text(customers["name"]), index=ids, dtype=object)
