"""Work orders (工单): every fault report, complaint, request or praise, and what became of it.

A work order is one row of the workspace's versioned ``work_orders`` layer (key ``order_id``),
so every change is a new version that keeps who, when and why, and each order's own history
is its rows in ``work_orders_history`` (:meth:`gridgeo.store.Store.read` at any version).

Columns (:data:`ORDER_COLUMNS`; times are timezone-aware, stored in UTC, read in China's time
zone :data:`TIMEZONE` for periods):

=====================  ==============================================================
``order_id``           工单编号, unique text
``kind``               one of :data:`ORDER_KINDS` (``fault`` 故障报修, ``complaint`` 投诉, ...)
``source``             one of :data:`ORDER_SOURCES` (``95598``, ``grid_member`` 网格员, ...)
``status``             one of :data:`ORDER_STATUSES`, the last step reached
``customer_id``        the customer, if known ("" otherwise)
``address``            the address as reported ("" if none)
``location_source``    how the point was found: ``customer``, ``point``, ``address``, ``none``
``reported_at``        受理时间 (required) ...
``dispatched_at``      派单 ... each later time optional but never before an earlier one, in the
``departed_at``        order of :data:`TIME_COLUMNS`
``arrived_at``         到达现场
``repaired_at``        修复
``closed_at``          归档/办结
``called_back_at``     回访
``grid_t1..grid_t3``   the grid of each tier, set at creation from the location
``town``, ``village``  township and village names of the location ("" if unknown)
``station_id``         the repair station dispatched ("" if none)
``crew``               the crew or person dispatched ("" if none)
``member``             the grid member responsible (网格员), "" if none
``predicted_eta_s``    the routing engine's ETA of the dispatched station at dispatch time
``fault_kind``         faults only: one of :data:`FAULT_KINDS` (高压/低压/客户内部), else ""
``outage_start``       for outages: when supply was lost and restored
``outage_end``
``customers_affected`` customers without supply in the outage (NaN if not an outage)
``planned``            a planned outage (计划停电), False otherwise
``result``             处理结果, free text
``satisfaction``       callback result: one of :data:`SATISFACTION` or ""
``first_time``         settled the first time (一次办结)
``repeat_of``          an earlier order of the same customer and kind within
                       :data:`REPEAT_WINDOW_DAYS` days ("" if none)
geometry               the location (WGS84 point), empty if unknown
=====================  ==============================================================

Reading an export (:func:`read_orders_file`, :func:`import_orders`): the header row is found as
for customer files (:func:`gridgeo.io.read_export_table`: title rows, a merged two-row header,
GBK or UTF-8 CSV, the XLSX sheet holding the data); the fields go by these names
(:data:`ORDER_COLUMN_ALIASES`; ``order_id``, ``kind`` and ``reported_at`` required):

=======================  ===================================================================
field                    names accepted
=======================  ===================================================================
``order_id``             工单编号, 工单号
``kind``                 工单类型, 业务类型, 诉求类型
``source``               工单来源, 受理渠道 (empty: ``other``)
``customer_id``          户号, 用户编号, 客户编号
``address``              故障地址, 用电地址, 地址
``reported_at``          受理时间, 报修时间, 来电时间
``dispatched_at``        派单时间
``departed_at``          出发时间
``arrived_at``           到达时间, 到达现场时间
``repaired_at``          修复时间, 故障修复时间
``closed_at``            归档时间, 办结时间
``called_back_at``       回访时间
``lon``, ``lat``         经度, 纬度 (the location, in ``datum``)
``datum``                坐标系 (wgs84/GPS/北斗, gcj02/高德/腾讯, bd09/百度; empty: WGS84)
``station_id``           抢修站, 抢修班组, 处理单位 (a station's name is stored as its id)
``crew``                 抢修人员, 处理人
``member``               网格员 (empty: the first member of the order's tier-3 grid)
``predicted_eta_s``      预计到达秒数
``fault_kind``           故障类型, 故障分类
``outage_start``         停电开始时间
``outage_end``           停电结束时间, 送电时间
``customers_affected``   停电户数
``planned``              是否计划停电
``result``               处理结果, 处理情况
``satisfaction``         回访满意度, 满意度
``first_time``           是否一次办结
=======================  ===================================================================

Values are codes or the words in use (:data:`KIND_WORDS` etc.): 故障报修/报修/故障/抢修 →
``fault``, 投诉 → ``complaint``, 举报 → ``report``, 意见 → ``opinion``, 建议 →
``suggestion``, 咨询/查询 → ``consultation``, 表扬 → ``praise``, 服务申请/业扩 →
``service_request``, 催费/缴费 → ``payment``; 95598/热线 → ``95598``, 网格员 →
``grid_member``, 网上国网/微信 → ``online``, 现场 → ``onsite``, 其他 → ``other``; 满意 →
``satisfied``, 基本满意 → ``basic``, 不满意 → ``dissatisfied``; 高压 → ``hv``, 低压 → ``lv``,
客户内部 → ``customer_internal``; 是/否 (also Y/N, 1/0) for ``planned`` and ``first_time``.
Times without a zone (``2026-11-03 14:20``, ``2026/11/3 14:20:05``, an Excel date cell) are
China time (:data:`TIMEZONE`) and stored in UTC, to the second.

Every import, creation and update is one version of the layer with author and reason; the
history of one order, field by field, is :func:`order_history` (from
:meth:`gridgeo.store.Store.row_history`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgeo import crs as _crs
from gridgeo import geocode as _geocode
from gridgeo import grids as _grids
from gridgeo import io as _io
from gridgeo import workspace as _workspace
from gridgeo._validate import as_text  # free text as typed: stripped, no NFKC
from gridgeo.errors import ConflictError, InputError, MissingColumnError, NotFoundError

if TYPE_CHECKING:
    from gridgeo.dispatch import DispatchResult
    from gridgeo.store import GeoPackageStore

__all__ = [
    "ERROR_COLUMNS",
    "FAULT_KINDS",
    "ORDER_COLUMNS",
    "ORDER_COLUMN_ALIASES",
    "ORDER_KINDS",
    "ORDER_LAYER",
    "ORDER_SOURCES",
    "ORDER_STATUSES",
    "REPEAT_WINDOW_DAYS",
    "SATISFACTION",
    "TIMEZONE",
    "TIME_COLUMNS",
    "OrderImport",
    "OrderRowsError",
    "create_order",
    "import_orders",
    "link_repeats",
    "order_from_dispatch",
    "order_history",
    "order_status",
    "order_times_utc",
    "orders_from_table",
    "parse_times",
    "read_orders",
    "read_orders_file",
    "update_order",
]

logger = logging.getLogger(__name__)

TIMEZONE = "Asia/Shanghai"
REPEAT_WINDOW_DAYS = 30

# code -> Chinese label; the codes are what is stored, the labels what users read
ORDER_KINDS: dict[str, str] = {
    "fault": "故障报修",
    "complaint": "投诉",
    "report": "举报",
    "opinion": "意见",
    "suggestion": "建议",
    "consultation": "咨询",
    "praise": "表扬",
    "service_request": "服务申请",
    "payment": "催费/缴费",
}
ORDER_SOURCES: dict[str, str] = {
    "95598": "95598热线",
    "grid_member": "网格员",
    "online": "网上国网/微信",
    "onsite": "现场",
    "other": "其他",
}
ORDER_STATUSES: dict[str, str] = {
    "reported": "已受理",
    "dispatched": "已派单",
    "departed": "已出发",
    "arrived": "已到达",
    "repaired": "已修复",
    "closed": "已办结",
    "called_back": "已回访",
}
FAULT_KINDS: dict[str, str] = {
    "hv": "高压故障",
    "lv": "低压故障",
    "customer_internal": "客户内部故障",
}
SATISFACTION: dict[str, str] = {
    "satisfied": "满意",
    "basic": "基本满意",
    "dissatisfied": "不满意",
}
# the order's timeline: each time present is never before any earlier one present
TIME_COLUMNS = (
    "reported_at",
    "dispatched_at",
    "departed_at",
    "arrived_at",
    "repaired_at",
    "closed_at",
    "called_back_at",
)
ORDER_COLUMNS = (
    "order_id",
    "kind",
    "source",
    "status",
    "customer_id",
    "address",
    "location_source",
    *TIME_COLUMNS,
    "grid_t1",
    "grid_t2",
    "grid_t3",
    "town",
    "village",
    "station_id",
    "crew",
    "member",
    "predicted_eta_s",
    "fault_kind",
    "outage_start",
    "outage_end",
    "customers_affected",
    "planned",
    "result",
    "satisfaction",
    "first_time",
    "repeat_of",
)


# --------------------------------------------------------------------------- #
# reading a 95598 / 供电服务指挥 export

ORDER_LAYER = "work_orders"
ORDER_KEY = "order_id"
# The fields of a work-order export and the names they go by (the first is the usual one);
# matched as customer-file headers are (gridgeo.io.read_export_table). ``lon``/``lat``/
# ``datum`` are the location as given; they are stored as the point.
ORDER_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("工单编号", "工单号", "order_no", "ticket_id"),
    "kind": ("工单类型", "业务类型", "诉求类型", "order_kind", "order_type"),
    "source": ("工单来源", "受理渠道", "来源", "channel"),
    "customer_id": ("户号", "用户编号", "客户编号", "customer_no"),
    "address": ("故障地址", "用电地址", "地址"),
    "reported_at": ("受理时间", "报修时间", "来电时间"),
    "dispatched_at": ("派单时间",),
    "departed_at": ("出发时间",),
    "arrived_at": ("到达时间", "到达现场时间"),
    "repaired_at": ("修复时间", "故障修复时间"),
    "closed_at": ("归档时间", "办结时间"),
    "called_back_at": ("回访时间",),
    "lon": ("经度", "lng", "longitude"),
    "lat": ("纬度", "latitude"),
    "datum": ("坐标系", "坐标系统", "crs"),
    "station_id": ("抢修站", "抢修班组", "处理单位"),
    "crew": ("抢修人员", "处理人"),
    "member": ("网格员",),
    "predicted_eta_s": ("预计到达秒数",),
    "fault_kind": ("故障类型", "故障分类"),
    "outage_start": ("停电开始时间",),
    "outage_end": ("停电结束时间", "送电时间"),
    "customers_affected": ("停电户数",),
    "planned": ("是否计划停电",),
    "result": ("处理结果", "处理情况"),
    "satisfaction": ("回访满意度", "满意度"),
    "first_time": ("是否一次办结",),
}  # fmt: skip
# A header row names at least these.
ORDER_REQUIRED = ("order_id", "kind", "reported_at")
# The Chinese label of each field, for row errors and the CLI.
FIELD_LABELS: dict[str, str] = {
    field: aliases[0] for field, aliases in ORDER_COLUMN_ALIASES.items() if aliases
}
FIELD_LABELS.update({"order_id": "工单编号", "lon": "经度", "lat": "纬度"})
# The columns of a row-error table.
ERROR_COLUMNS = ("file_line", "order_id", "field", "value", "problem")
# How often update_order re-applies an edit on a fresh version after a ConflictError.
MAX_UPDATE_RETRIES = 5

# value words -> codes (matched after NFKC, without spaces, Latin letters in any case)
KIND_WORDS: dict[str, str] = {
    **{code: code for code in ORDER_KINDS},
    **dict.fromkeys(("故障报修", "报修", "故障", "抢修", "故障抢修"), "fault"),
    "投诉": "complaint",
    "举报": "report",
    "意见": "opinion",
    "建议": "suggestion",
    **dict.fromkeys(("咨询", "查询", "信息查询"), "consultation"),
    "表扬": "praise",
    **dict.fromkeys(("服务申请", "业扩", "业扩报装"), "service_request"),
    **dict.fromkeys(("催费/缴费", "催费", "缴费", "交费"), "payment"),
}  # fmt: skip
SOURCE_WORDS: dict[str, str] = {
    **{code: code for code in ORDER_SOURCES},
    **dict.fromkeys(("95598热线", "热线", "电话"), "95598"),
    **dict.fromkeys(("网格员", "网格"), "grid_member"),
    **dict.fromkeys(("网上国网/微信", "网上国网", "微信", "app"), "online"),
    "现场": "onsite",
    "其他": "other",
}  # fmt: skip
SATISFACTION_WORDS: dict[str, str] = {
    **{code: code for code in SATISFACTION},
    **dict.fromkeys(("满意", "非常满意"), "satisfied"),
    "基本满意": "basic",
    **dict.fromkeys(("不满意", "非常不满意"), "dissatisfied"),
}
FAULT_WORDS: dict[str, str] = {
    **{code: code for code in FAULT_KINDS},
    **dict.fromkeys(("高压", "高压故障"), "hv"),
    **dict.fromkeys(("低压", "低压故障"), "lv"),
    **dict.fromkeys(("客户内部", "客户内部故障", "内部故障"), "customer_internal"),
}
YES_NO_WORDS: dict[str, bool] = {
    **dict.fromkeys(("是", "y", "yes", "true", "1", "√"), True),
    **dict.fromkeys(("否", "n", "no", "false", "0", "×"), False),
}
# datum words beside those of gridgeo.crs.DATUM_ALIASES
_DATUM_WORDS = {"gps": "wgs84", "北斗": "wgs84", "cgcs2000": "wgs84", "高德": "gcj02",
                "腾讯": "gcj02", "百度": "bd09"}  # fmt: skip
_TEXT_COLUMNS = (
    "order_id", "kind", "source", "status", "customer_id", "address", "location_source",
    "grid_t1", "grid_t2", "grid_t3", "town", "village", "station_id", "crew", "member",
    "fault_kind", "result", "satisfaction", "repeat_of",
)  # fmt: skip
# free text: stored and read as typed (stripped); NFKC is for codes, words and names only
_FREE_TEXT_COLUMNS = ("address", "crew", "result")
_STAMP_COLUMNS = (*TIME_COLUMNS, "outage_start", "outage_end")
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"
_MEMBER_SPLIT = r"\s*[、,，;；/]\s*"


class OrderRowsError(InputError):
    """A work-order file or edit has bad rows; nothing was stored.

    ``errors`` is the row-error table (:data:`ERROR_COLUMNS`).
    """

    def __init__(self, msg: str, errors: pd.DataFrame) -> None:
        super().__init__(msg)
        self.errors = errors


def read_orders_file(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    header_row: int | None = None,
    sheet: str | int | None = None,
    all_sheets: bool = False,
    encoding: str | None = None,
    option_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read a 95598 / 供电服务指挥 work-order export as text.

    Headers under the names of :data:`ORDER_COLUMN_ALIASES` (title rows above the header, a
    two-row merged header, GBK CSV, the sheet holding the data: see
    :func:`gridgeo.io.read_export_table`, which reads customer files too).

    Parameters
    ----------
    path
        ``.csv``/``.txt`` or ``.xlsx``.
    columns, header_row, sheet, all_sheets, encoding, option_names
        As for :func:`gridgeo.io.read_export_table`.

    Returns
    -------
    pandas.DataFrame
        The fields found, as text, with ``file_line`` and ``sheet``.
    """
    return _io.read_export_table(
        path,
        aliases=ORDER_COLUMN_ALIASES,
        required=ORDER_REQUIRED,
        what="work-order",
        plural="work orders",
        columns=columns,
        header_row=header_row,
        sheet=sheet,
        all_sheets=all_sheets,
        encoding=encoding,
        option_names=option_names,
    )


# --------------------------------------------------------------------------- #
# values


_MISSING_WORDS = frozenset({"nan", "nat", "none", "<na>"})


def _clean(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return "" if text.lower() in _MISSING_WORDS else text


def _text(values: pd.Series) -> pd.Series:
    """Cells as stripped NFKC text, missing as '' (each distinct value cleaned once)."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    clean = np.array([_clean(v) for v in uniques] + [""], dtype=object)
    return pd.Series(clean[codes], index=values.index, dtype=object)  # code -1: the ''


def _word_key(values: pd.Series) -> pd.Series:
    return values.str.replace(r"\s+", "", regex=True).str.lower()


MIN_YEAR, MAX_YEAR = 1900, 2199  # the years a time in a record may have


def parse_times(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Read times as exports write them; China time unless a zone is given; UTC out.

    ``2026-11-03 14:20``, ``2026/11/3 14:20:05``, ``2026年11月3日 14:20``, an Excel date
    cell (``2026-11-03T14:20:00``) are China time (:data:`TIMEZONE`); ``...+08:00`` and
    ``...Z`` say their own zone. Seconds are the finest unit kept.

    Parameters
    ----------
    values
        Text (or datetime) values.

    Returns
    -------
    tuple
        The times (``datetime64[ns, UTC]``, NaT where empty or unreadable) on the input's
        index, and a boolean array: True where a value was given but is not a time.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        out = values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").dt.floor("s")
        return out, np.zeros(len(values), dtype=bool)
    codes, uniques = pd.factorize(_text(values).to_numpy(dtype=object))
    if not len(uniques):
        empty_out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        return empty_out, np.zeros(len(values), dtype=bool)
    # each distinct text is read once, then spread back over the rows; the usual
    # 2026-11-03 14:20:05 is read at once, the other forms go through the rewrites
    text = pd.Series(uniques, dtype=object)
    # a year outside 1900-2199 is not a time of a work order (and past 2262 not one pandas
    # can hold): a bad value, not an overflow
    year = pd.to_numeric(text.str.extract(r"^\s*(\d{4})", expand=False), errors="coerce")
    odd_year = ((year < MIN_YEAR) | (year > MAX_YEAR)).to_numpy()
    text = text.where(~odd_year, "")
    usual = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    plain = usual.notna().to_numpy()
    distinct = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    bad_distinct = odd_year.copy()
    if plain.any():
        local = usual[plain].dt.tz_localize(TIMEZONE).dt.tz_convert("UTC")
        distinct[plain] = local.astype("datetime64[ns, UTC]").dt.floor("s").array
    if not plain.all():
        rest, bad_rest = _parse_distinct_times(text[~plain])
        distinct[~plain] = rest.array
        bad_distinct[~plain] |= bad_rest
    out = distinct.iloc[codes].set_axis(values.index).astype("datetime64[ns, UTC]")
    return out, np.asarray(bad_distinct[codes], dtype=bool)


def order_times_utc(values: pd.Series, column: str) -> pd.Series:
    """A column of work-order times as timezone-aware UTC, by the one rule of times.

    The rule: a time with a zone is that moment; a time without one (a naive datetime, or
    text such as ``2026-11-03 14:20``) is China time (:data:`TIMEZONE`), as users type times
    and exports write them. Stored orders always carry their zone (UTC). Text is read as
    :func:`parse_times` reads it.

    Parameters
    ----------
    values
        Times: timezone-aware or naive datetimes, or text.
    column
        The column's name, for the message.

    Returns
    -------
    pandas.Series
        ``datetime64[ns, UTC]`` on the input's index, NaT where empty.

    Raises
    ------
    InputError
        If a value is given but is not a time (the message names the column and the value).
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        local = values.dt.tz_localize(TIMEZONE, ambiguous="NaT", nonexistent="NaT")
        return local.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    times, bad = parse_times(values)
    if bad.any():
        value = values.to_numpy(dtype=object)[np.flatnonzero(bad)[0]]
        msg = (
            f"时间列 {column} 无法读取 / column {column!r} holds a value that is not a time "
            f"({value!r}): write it like 2026-11-23 08:05 (China time) or "
            "2026-11-23T08:05:00+08:00"
        )
        raise InputError(msg)
    return times


def _parse_distinct_times(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    text = text.str.replace(r"[年月/]", "-", regex=True).str.replace("日", " ", regex=False)
    text = text.str.replace(r"(\d)T(\d)", r"\1 \2", regex=True).str.replace(r"\s+", " ", regex=True)
    text = text.str.strip()
    empty = (text == "").to_numpy()
    aware = text.str.contains(_OFFSET, regex=True).to_numpy() & ~empty
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    for mask, utc in ((~empty & ~aware, False), (aware, True)):
        if not mask.any():
            continue
        part = text[mask]
        when = pd.to_datetime(part, format="ISO8601", errors="coerce", utc=utc)
        retry = when.isna().to_numpy()
        if retry.any():
            again = pd.to_datetime(part[retry], format="mixed", errors="coerce", utc=utc)
            when = when.where(~retry, again) if utc else when.astype(object).where(~retry, again)
            # all unreadable: an object column of NaT, which must still become a time column
            when = pd.to_datetime(when, utc=utc, errors="coerce")
        if not utc:
            when = when.dt.tz_localize(TIMEZONE).dt.tz_convert("UTC")
        out[mask] = when.astype("datetime64[ns, UTC]").array
    out = out.dt.floor("s")
    return out, np.asarray(~empty & out.isna().to_numpy(), dtype=bool)


def _numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    text = _text(values)
    num = pd.to_numeric(text.where(text != "", None), errors="coerce").to_numpy(dtype=float)
    return num, np.asarray((text != "").to_numpy() & np.isnan(num), dtype=bool)


def _datum(values: pd.Series, default: str) -> tuple[np.ndarray, np.ndarray]:
    """Datum names per row (blank: ``default``) and the rows whose datum is unknown."""
    text = _word_key(_text(values))
    out = np.full(len(text), default, dtype=object)
    bad = np.zeros(len(text), dtype=bool)
    for word in pd.unique(text[text != ""]):  # a handful of distinct words
        name = _DATUM_WORDS.get(word) or _crs.DATUM_ALIASES.get(word)
        rows = (text == word).to_numpy()
        if name is None:
            bad |= rows
        else:
            out[rows] = name
    return out, bad


def order_status(orders: pd.DataFrame) -> pd.Series:
    """The status of each order: the last step of :data:`TIME_COLUMNS` with a time.

    Parameters
    ----------
    orders
        Orders with the time columns (missing columns count as empty).

    Returns
    -------
    pandas.Series
        Codes of :data:`ORDER_STATUSES` on the orders' index (``reported`` when no time at
        all is given).
    """
    status = np.full(len(orders), "reported", dtype=object)
    for column, code in zip(TIME_COLUMNS, ORDER_STATUSES, strict=True):
        if column in orders.columns:
            status[orders[column].notna().to_numpy()] = code
    return pd.Series(status, index=orders.index, dtype=object)


def link_repeats(orders: pd.DataFrame, *, window_days: float = REPEAT_WINDOW_DAYS) -> pd.Series:
    """The earlier order each order repeats (重复工单), or ''.

    An order repeats the nearest earlier order of the same customer and kind reported
    ``0 < Δt ≤ window_days`` days before it: exactly 30 days counts, 30 days and one second
    does not; orders reported at the same moment do not repeat each other (each repeats the
    order before them). Orders without a customer repeat nothing. Vectorised: one sort, and
    each order's predecessor found by shifting.

    Parameters
    ----------
    orders
        ``order_id``, ``customer_id``, ``kind`` and ``reported_at`` (timezone-aware).
    window_days
        The window, in days (default :data:`REPEAT_WINDOW_DAYS`).

    Returns
    -------
    pandas.Series
        The ``order_id`` repeated (``""`` if none), on the orders' index.
    """
    window = pd.Timedelta(days=float(window_days))
    n = len(orders)
    out = np.full(n, "", dtype=object)
    if n == 0:
        return pd.Series(out, index=orders.index, dtype=object)
    cust = _text(orders["customer_id"]).to_numpy(dtype=object)
    kind = _text(orders["kind"]).to_numpy(dtype=object)
    when = pd.to_datetime(orders["reported_at"], utc=True)
    t = when.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    ok = (cust != "") & when.notna().to_numpy()
    ids = orders["order_id"].astype(str).to_numpy(dtype=object)
    order = np.lexsort((ids, t, kind, cust))
    order = order[ok[order]]
    if len(order) == 0:
        return pd.Series(out, index=orders.index, dtype=object)
    c, k, tt = cust[order], kind[order], t[order]
    same_group = np.r_[False, (c[1:] == c[:-1]) & (k[1:] == k[:-1])]
    new_tie = ~(same_group & np.r_[False, tt[1:] == tt[:-1]])
    # the first row of each row's tie (same customer, kind and time), carried forward
    tie_start = np.maximum.accumulate(np.where(new_tie, np.arange(len(order)), 0))
    prev = tie_start - 1
    has_prev = prev >= 0
    prev_c = np.where(has_prev, prev, 0)
    linked = (
        has_prev
        & (c[prev_c] == c)
        & (k[prev_c] == k)
        & (tt - tt[prev_c] > 0)
        & (tt - tt[prev_c] <= window.value)
    )
    out[order[linked]] = ids[order[prev_c[linked]]]
    return pd.Series(out, index=orders.index, dtype=object)


# --------------------------------------------------------------------------- #
# table -> orders


def _empty_errors() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ERROR_COLUMNS})


class _Errors:
    """Collects row errors, vectorised: one call per (field, problem) with a row mask."""

    def __init__(self, lines: np.ndarray, ids: np.ndarray) -> None:
        self.lines, self.ids = lines, ids
        self.frames: list[pd.DataFrame] = []

    def add(self, mask: np.ndarray, field: str, values: Any, problem: str | np.ndarray) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        vals = np.asarray(values, dtype=object)
        probs = np.asarray(problem, dtype=object)
        self.frames.append(
            pd.DataFrame(
                {
                    "file_line": self.lines[mask],
                    "order_id": self.ids[mask],
                    "field": f"{FIELD_LABELS.get(field, field)} {field}",
                    "value": vals[mask] if vals.ndim else vals,
                    "problem": probs[mask] if probs.ndim else probs,
                }
            )
        )

    def table(self) -> pd.DataFrame:
        if not self.frames:
            return _empty_errors()
        out = pd.concat(self.frames, ignore_index=True)
        out["value"] = out["value"].astype(str)
        return out.sort_values(["file_line", "field"], kind="stable", ignore_index=True)


def _choices(codes: Mapping[str, str]) -> str:
    return "、".join(codes.values())


def orders_from_table(
    table: pd.DataFrame,
    *,
    customers: gpd.GeoDataFrame | None = None,
    gazetteer: _geocode.Gazetteer | None = None,
    grids: gpd.GeoDataFrame | None = None,
    stations: pd.DataFrame | None = None,
    stored_ids: Iterable[str] = (),
    default_datum: str = "wgs84",
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Turn a text table of work orders into orders, and list the rows that are wrong.

    Values are read as :data:`ORDER_COLUMN_ALIASES` documents (codes or Chinese words, China
    time). Each order is located by its customer's point when ``customer_id`` is known,
    else by ``lon``/``lat`` in their ``datum`` (converted to WGS84), else by its address,
    geocoded as customers are (:func:`gridgeo.geocode.geocode_customers`), else not at
    all; its grids on the three tiers come from that location as customers' do
    (:func:`gridgeo.grids.assign_to_grids`), and ``member``, where the file gives none,
    is the first member of its tier-3 grid.

    Row errors (one row of the error table each): a missing or repeated ``order_id`` (in
    the table, or in ``stored_ids``); an empty or unknown ``kind``; an unknown ``source``,
    ``satisfaction``, ``fault_kind``, ``planned`` or ``first_time`` word; a time that
    cannot be read; a missing ``reported_at``; a timeline out of order (each time of
    :data:`TIME_COLUMNS` never before an earlier one; ``outage_end`` not before
    ``outage_start``); a ``customer_id`` not among ``customers``; lon/lat that cannot be
    read, given half, in an unknown datum, swapped, or outside the county.

    Parameters
    ----------
    table
        Text columns named as the fields of :data:`ORDER_COLUMN_ALIASES` (``order_id``,
        ``kind`` and ``reported_at`` at least); ``file_line`` if read from a file.
    customers
        The workspace's customers (``customer_id``, point; ``town``, ``village``,
        ``village_code``, ``location_source`` where present). None: customer ids are not
        checked, and orders are located by point or address.
    gazetteer
        The county's gazetteer (addresses, and the county for the outside check).
    grids
        The grids (all tiers, with ``members``). None leaves the grid ids empty.
    stations
        The repair stations (``station_id``, ``name``): a station given by name is stored
        by its id.
    stored_ids
        Order numbers already taken (a repeat is a row error).
    default_datum
        The datum of lon/lat on rows that give none.

    Returns
    -------
    tuple
        The good orders (:data:`ORDER_COLUMNS`, point geometry in EPSG:4326, ``repeat_of``
        linked among themselves; on the table's index) and the row errors
        (:data:`ERROR_COLUMNS`, by file line).
    """
    missing = [c for c in ORDER_REQUIRED if c not in table.columns]
    if missing:
        msg = (
            f"工单表缺少列 / the work-order table lacks {missing!r}: give "
            + ", ".join(f"{FIELD_LABELS[c]} {c}" for c in missing)
            + "."
        )
        raise MissingColumnError(msg)
    default = _crs.normalise_datum(default_datum)
    n = len(table)
    index = table.index

    def col(name: str) -> pd.Series:
        if name in table.columns:
            return _text(table[name])
        return pd.Series([""] * n, index=index, dtype=object)

    lines = (
        pd.to_numeric(table["file_line"], errors="coerce").fillna(0).astype(np.int64).to_numpy()
        if "file_line" in table.columns
        else np.arange(1, n + 1, dtype=np.int64)
    )
    ids = col("order_id").str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    err = _Errors(lines, ids.to_numpy(dtype=object))
    out = pd.DataFrame(index=index)
    out["order_id"] = ids

    # order numbers
    empty_id = (ids == "").to_numpy()
    err.add(empty_id, "order_id", ids, "工单编号为空 / order number empty: give every row one")
    dup = ids.duplicated(keep=False).to_numpy() & ~empty_id
    if dup.any():
        first_line = pd.Series(lines, index=index).groupby(ids.to_numpy()).transform("min")
        err.add(
            dup,
            "order_id",
            ids,
            "工单编号重复 / order number repeated in the file (first at line "
            + first_line.astype(str).to_numpy(dtype=object)
            + "): keep one row per order",
        )
    taken = ids.isin(set(map(str, stored_ids))).to_numpy() & ~empty_id
    err.add(taken, "order_id", ids, "工单编号已存在 / order number already stored")

    # codes
    for field, words, codes, required in (
        ("kind", KIND_WORDS, ORDER_KINDS, True),
        ("source", SOURCE_WORDS, ORDER_SOURCES, False),
        ("satisfaction", SATISFACTION_WORDS, SATISFACTION, False),
        ("fault_kind", FAULT_WORDS, FAULT_KINDS, False),
    ):
        raw = col(field)
        code = _word_key(raw).map(words)
        blank = (raw == "").to_numpy()
        bad = ~blank & code.isna().to_numpy()
        err.add(
            bad,
            field,
            raw,
            f"无法识别 / unknown {field} word; use one of {_choices(codes)} "
            f"(or {', '.join(codes)})",
        )
        if required:
            err.add(blank, field, raw, f"{FIELD_LABELS[field]}为空 / {field} empty")
        fill = "other" if field == "source" else ""
        out[field] = code.where(code.notna(), fill).astype(object)
    flag_fills: tuple[tuple[str, bool | None], ...] = (("planned", False), ("first_time", None))
    for field, flag_fill in flag_fills:
        raw = col(field)
        flag = _word_key(raw).map(YES_NO_WORDS)
        bad = (raw != "").to_numpy() & flag.isna().to_numpy()
        err.add(bad, field, raw, "应为 是/否 / must be 是 (yes) or 否 (no)")
        out[field] = flag.astype(object).where(flag.notna(), flag_fill)
    out["planned"] = out["planned"].astype(bool)

    # times
    for field in _STAMP_COLUMNS:
        raw = table[field] if field in table.columns else col(field)
        when, bad = parse_times(raw)
        err.add(
            bad,
            field,
            _text(raw) if not isinstance(raw.dtype, pd.DatetimeTZDtype) else raw.astype(str),
            "时间无法读取 / not a time: write it like 2026-11-03 14:20",
        )
        out[field] = when
    err.add(
        out["reported_at"].isna().to_numpy() & ~(col("reported_at") != "").to_numpy(),
        "reported_at",
        col("reported_at"),
        "受理时间为空 / reported_at empty: every order has a report time",
    )
    prev = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    prev_field = np.full(n, "", dtype=object)
    for field in TIME_COLUMNS:
        t = out[field]
        early = (t.notna() & prev.notna() & (t < prev)).to_numpy()
        if early.any():
            labels = np.array([FIELD_LABELS.get(f, f) for f in prev_field], dtype=object)
            shown = _local_text(prev)
            err.add(
                early,
                field,
                _local_text(t),
                "时间顺序错误 / out of order: before " + labels + " " + prev_field + " " + shown,
            )
        take = (t.notna() & (prev.isna() | (t > prev))).to_numpy()
        prev = prev.where(~take, t)
        prev_field = np.where(take, field, prev_field)
    backwards = (
        out["outage_start"].notna()
        & out["outage_end"].notna()
        & (out["outage_end"] < out["outage_start"])
    ).to_numpy()
    err.add(
        backwards,
        "outage_end",
        _local_text(out["outage_end"]),
        "停电结束早于停电开始 / outage_end before outage_start " + _local_text(out["outage_start"]),
    )

    # numbers
    for field in ("customers_affected", "predicted_eta_s"):
        num, bad = _numbers(col(field))
        bad |= ~np.isnan(num) & (num < 0)
        err.add(bad, field, col(field), "应为非负数 / must be a number >= 0")
        out[field] = np.where(bad, np.nan, num)

    # plain text; free text (address, crew, result) is stored as typed, without NFKC
    for field in ("customer_id", "member"):
        out[field] = col(field)
    for field in _FREE_TEXT_COLUMNS:
        out[field] = as_text(table[field]) if field in table.columns else col(field)
    out["customer_id"] = out["customer_id"].str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    station = col("station_id")
    if stations is not None and len(stations) and "name" in stations.columns:
        by_name = dict(
            zip(_text(stations["name"]), stations["station_id"].astype(str), strict=True)
        )
        known = set(stations["station_id"].astype(str))
        station = station.where(station.isin(known) | ~station.isin(by_name), station.map(by_name))
    out["station_id"] = station

    # location
    geometry, located = _locate(out, table, col, customers, gazetteer, default, err)
    out["location_source"] = located["location_source"]
    out["town"] = located["town"]
    out["village"] = located["village"]
    if grids is not None and len(grids):
        points = gpd.GeoDataFrame(
            {
                "location_source": located["assign_source"].to_numpy(),
                "village_code": located["village_code"].to_numpy(),
            },
            geometry=geometry,
            index=index,
            crs="EPSG:4326",
        )
        assigned = _grids.assign_to_grids(points, grids)
        for column in ("grid_t1", "grid_t2", "grid_t3"):
            out[column] = _text(assigned[column])
        members = _first_members(grids)
        no_member = (out["member"] == "").to_numpy()
        out.loc[no_member, "member"] = out.loc[no_member, "grid_t3"].map(members).fillna("")
    else:
        for column in ("grid_t1", "grid_t2", "grid_t3"):
            out[column] = ""
    out["status"] = order_status(out)
    out["repeat_of"] = ""

    errors = err.table()
    bad_rows = np.isin(lines, errors["file_line"].to_numpy()) if len(errors) else np.zeros(n, bool)
    good = _as_layer(gpd.GeoDataFrame(out, geometry=geometry, crs="EPSG:4326").loc[~bad_rows])
    good["repeat_of"] = link_repeats(good)
    return good, errors


def _local_text(times: pd.Series) -> np.ndarray:
    """Times as China time text, ``2026-11-03 14:20:00``; '' where missing."""
    local = times.dt.tz_convert(TIMEZONE).dt.strftime("%Y-%m-%d %H:%M:%S")
    return local.fillna("").to_numpy(dtype=object)


def _first_members(grids: pd.DataFrame) -> dict[str, str]:
    """The first member (网格员) of each grid's roster, by grid id."""
    if "members" not in grids.columns:
        return {}
    first = _text(grids["members"]).str.split(_MEMBER_SPLIT, regex=True).str[0].fillna("")
    return dict(zip(grids["grid_id"].astype(str), first, strict=True))


def _locate(
    out: pd.DataFrame,
    table: pd.DataFrame,
    col: Callable[[str], pd.Series],
    customers: gpd.GeoDataFrame | None,
    gazetteer: _geocode.Gazetteer | None,
    default_datum: str,
    err: _Errors,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Each order's point (customer > lon/lat > address > none) and where it came from."""
    n = len(out)
    index = out.index
    geometry = np.full(n, None, dtype=object)
    found = pd.DataFrame(
        {
            "location_source": "none",
            "assign_source": None,
            "town": "",
            "village": "",
            "village_code": None,
        },
        index=index,
    ).astype(object)
    cid = out["customer_id"]
    by_customer = np.zeros(n, dtype=bool)
    if customers is not None:
        known = customers.drop_duplicates("customer_id").set_index(
            customers["customer_id"].astype(str).drop_duplicates().to_numpy()
        )
        has_id = (cid != "").to_numpy()
        unknown = has_id & ~cid.isin(known.index).to_numpy()
        err.add(
            unknown,
            "customer_id",
            cid,
            "户号不在客户档案中 / unknown customer: import the customer file first "
            "(gridgeo customers import) or check the number",
        )
        by_customer = has_id & ~unknown
        if by_customer.any():
            rows = known.loc[cid[by_customer].to_numpy()]
            geoms = rows.geometry.to_numpy()
            placed = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
            take = np.flatnonzero(by_customer)
            geometry[take] = np.where(placed, geoms, None)
            src = np.where(placed, "customer", "none")
            found.iloc[take, 0] = src
            for column, j in (("location_source", 1), ("town", 2), ("village", 3),
                              ("village_code", 4)):  # fmt: skip
                if column in rows.columns:
                    vals = rows[column].to_numpy(dtype=object)
                    found.iloc[take, j] = [
                        ("" if j in (2, 3) else None) if pd.isna(v) else v for v in vals
                    ]
    rest = ~by_customer
    lon_raw, lat_raw = col("lon"), col("lat")
    lon, bad_lon = _numbers(lon_raw)
    lat, bad_lat = _numbers(lat_raw)
    half = np.isnan(lon) ^ np.isnan(lat)
    err.add(bad_lon, "lon", lon_raw, "经度无法读取 / lon is not a number")
    err.add(bad_lat, "lat", lat_raw, "纬度无法读取 / lat is not a number")
    err.add(
        half & ~bad_lon & ~bad_lat,
        "lon",
        lon_raw + "," + lat_raw,
        "经纬度只给了一个 / give both lon and lat (or neither)",
    )
    datum, bad_datum = _datum(col("datum"), default_datum)
    has_point = ~np.isnan(lon) & ~np.isnan(lat)
    err.add(
        bad_datum & has_point,
        "datum",
        col("datum"),
        "坐标系无法识别 / unknown datum: use wgs84 (GPS), gcj02 (高德/腾讯) or bd09 (百度)",
    )
    has_point &= ~bad_datum
    address = out["address"]
    todo = rest & (has_point | (address != "").to_numpy())
    if todo.any() and gazetteer is not None:
        frame = pd.DataFrame(
            {
                "address": address[todo].to_numpy(),
                "gps_lon": np.where(has_point, lon, np.nan)[todo],
                "gps_lat": np.where(has_point, lat, np.nan)[todo],
                "gps_datum": datum[todo],
            },
            index=index[todo],
        )
        geo = _geocode.geocode_customers(frame, gazetteer, default_datum=default_datum)
        take = np.flatnonzero(todo)
        check = geo["gps_check"].to_numpy(dtype=object)
        wrong = np.zeros(n, dtype=bool)
        swapped = np.zeros(n, dtype=bool)
        outside = np.zeros(n, dtype=bool)
        wrong[take] = np.isin(check, ("not_a_number", "outside_china"))
        swapped[take] = check == "swapped_lonlat"
        outside[take] = check == "outside_area"
        pair = lon_raw + "," + lat_raw
        err.add(swapped, "lon", pair, "经纬度颠倒 / lon and lat swapped: exchange the columns")
        err.add(
            outside,
            "lon",
            pair,
            "坐标在县界外 / point outside the county: check the point and its datum "
            "(坐标系 gcj02 for Amap/WeChat picks, bd09 for Baidu)",
        )
        err.add(wrong, "lon", pair, "坐标不在中国境内 / not a lon/lat in China")
        source = geo["location_source"].to_numpy(dtype=object)
        code = np.where(source == "gps", "point", np.where(pd.isna(source), "none", "address"))
        geoms = geo.geometry.to_numpy()
        geometry[take] = np.where(pd.isna(source), None, geoms)
        found.iloc[take, 0] = code
        found.iloc[take, 1] = source
        for column, j in (("town", 2), ("village", 3), ("village_code", 4)):
            vals = geo[column].to_numpy(dtype=object)
            found.iloc[take, j] = [("" if j in (2, 3) else None) if pd.isna(v) else v for v in vals]
    elif todo.any():  # no gazetteer: points only, converted to WGS84
        pts = todo & has_point
        for name in np.unique(datum[pts]):
            rows = pts & (datum == name)
            x, y = _crs.to_wgs84(lon[rows], lat[rows], str(name))
            geometry[rows] = shapely.points(np.asarray(x), np.asarray(y))
            found.loc[rows, "location_source"] = "point"
            found.loc[rows, "assign_source"] = "gps"
    return geometry, found


# --------------------------------------------------------------------------- #
# the stored layer


def _as_layer(orders: pd.DataFrame) -> gpd.GeoDataFrame:
    """Orders in the stored form: :data:`ORDER_COLUMNS` in order, fixed dtypes, key-sorted."""
    geoms = (
        orders.geometry.to_numpy()
        if isinstance(orders, gpd.GeoDataFrame)
        else np.full(len(orders), None, dtype=object)
    )
    data: dict[str, Any] = {}
    for column in ORDER_COLUMNS:
        values = (
            orders[column]
            if column in orders.columns
            else pd.Series([None] * len(orders), index=orders.index, dtype=object)
        )
        if column in _FREE_TEXT_COLUMNS:
            data[column] = as_text(values).to_numpy(dtype=object)
        elif column in _TEXT_COLUMNS:
            data[column] = _text(values).to_numpy(dtype=object)
        elif column in _STAMP_COLUMNS:
            when = pd.to_datetime(values, utc=True)
            # .array, not .to_numpy(): the latter makes one Timestamp object per cell
            data[column] = when.astype("datetime64[ns, UTC]").dt.floor("s").array
        elif column in ("planned", "first_time"):
            if pd.api.types.is_bool_dtype(values.dtype):  # bool or boolean: no words to read
                flags = pd.array(values, dtype="boolean")
            else:
                flags = pd.array([_flag(v) for v in values], dtype="boolean")
            data[column] = flags.fillna(False).to_numpy(bool) if column == "planned" else flags
        else:
            data[column] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    out = gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326", index=orders.index)
    for column in _STAMP_COLUMNS:
        out[column] = pd.to_datetime(out[column], utc=True).astype("datetime64[ns, UTC]")
    return out.copy()  # own, writable arrays (pandas hands out read-only views)


def _flag(value: Any) -> bool | None:
    """A yes/no value (bool, 0/1, or a word of :data:`YES_NO_WORDS`), None if missing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return YES_NO_WORDS.get(value.strip().lower())
    return bool(value)


def _sorted(orders: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return orders.sort_values(ORDER_KEY, kind="stable").reset_index(drop=True)


def _stored(store: GeoPackageStore) -> tuple[gpd.GeoDataFrame, int | None]:
    """The stored orders in the stored form and the layer's version (None: no layer yet)."""
    if ORDER_LAYER not in store.layers():
        return _as_layer(pd.DataFrame(columns=list(ORDER_COLUMNS))), None
    version = store.current_version(ORDER_LAYER)
    frame = store.read(ORDER_LAYER, version=version)
    return _sorted(_as_layer(frame)), version


def _stored_version(store: GeoPackageStore) -> int | None:
    """The ``work_orders`` layer's version (None: no layer yet)."""
    return store.current_version(ORDER_LAYER) if ORDER_LAYER in store.layers() else None


def _order_ids(values: pd.Series) -> pd.Series:
    """Order numbers as :func:`orders_from_table` reads them (NFKC text, ``123.0`` → ``123``)."""
    return _text(values).str.replace(r"^(\d+)\.0+$", r"\1", regex=True)


def _involved(
    store: GeoPackageStore, ids: Iterable[str], customers: Iterable[str]
) -> gpd.GeoDataFrame:
    """The stored orders an edit of orders ``ids`` (of ``customers``) can change.

    The orders themselves, and every order of their customers, old and new: repeats link
    orders of one customer only (:func:`link_repeats`), so re-linking these gives the links
    a pass over all stored orders would give, without reading the others.
    """
    who = {str(c) for c in customers} - {""}
    theirs = store.read_rows(ORDER_LAYER, sorted(who), column="customer_id")
    # orders stored under another customer (or none) than the one given now, and theirs
    other = sorted({str(i) for i in ids} - set(theirs[ORDER_KEY].astype(str)))
    mine = store.read_rows(ORDER_LAYER, other)
    before = sorted(set(mine["customer_id"].astype(str)) - who - {""})
    parts = [theirs, mine, store.read_rows(ORDER_LAYER, before, column="customer_id")]
    both = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    both = both.drop_duplicates(ORDER_KEY)
    return _sorted(_as_layer(gpd.GeoDataFrame(both, crs=4326)))


def _write_changed(
    store: GeoPackageStore,
    before: gpd.GeoDataFrame,
    after: gpd.GeoDataFrame,
    *,
    version: int,
    author: str,
    reason: str,
) -> tuple[list[str], list[str], int | None]:
    """Save the orders of ``after`` added or changed from ``before`` (only those rows).

    Returns the ids added, the ids changed and the new version (None: nothing changed,
    nothing written).
    """
    added, updated = _changed_ids(before, after)
    if not added and not updated:
        return added, updated, None
    rows = after[after[ORDER_KEY].isin({*added, *updated}).to_numpy()]
    new = store.save_rows(ORDER_LAYER, rows, expected_version=version, author=author, reason=reason)
    return added, updated, new


def _cell_strings(orders: gpd.GeoDataFrame) -> pd.DataFrame:
    """Every cell as text (missing as ''), geometry as WKB hex: for exact comparison."""
    out = pd.DataFrame(index=orders[ORDER_KEY].to_numpy())
    for column in ORDER_COLUMNS:
        values = orders[column]
        if column in _STAMP_COLUMNS:  # nanoseconds since 1970 (NaT: the smallest int64)
            stamps = pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
            out[column] = stamps.to_numpy("datetime64[ns]").astype(np.int64).astype(str)
            continue
        obj = values.astype(object)
        out[column] = obj.where(obj.notna(), "").astype(str).to_numpy()
    geoms = np.asarray(orders.geometry.to_numpy(), dtype=object)
    gone = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    hexes = np.full(len(geoms), "", dtype=object)
    hexes[~gone] = shapely.to_wkb(geoms[~gone], hex=True)
    out["geometry"] = hexes
    return out


def _changed_ids(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> tuple[list[str], list[str]]:
    """The order ids added and the ids whose values changed from ``old`` to ``new``.

    Cells compare as :func:`_cell_strings` renders them (missing and '' alike, times to the
    nanosecond, geometries by their WKB), column by column without making the text.
    """
    old_ids = old[ORDER_KEY].astype(str).to_numpy(dtype=object)
    new_ids = new[ORDER_KEY].astype(str).to_numpy(dtype=object)
    at = pd.Index(old_ids).get_indexer(new_ids)
    added = new_ids[at < 0].tolist()
    ia, ib = at[at >= 0], np.flatnonzero(at >= 0)
    diff = np.zeros(len(ib), dtype=bool)
    for column in ORDER_COLUMNS:
        if column in _STAMP_COLUMNS:  # nanoseconds since 1970 (NaT: the smallest int64)
            x, y = (
                pd.to_datetime(f[column], utc=True)
                .astype("datetime64[ns, UTC]")
                .to_numpy("datetime64[ns]")
                .view(np.int64)
                for f in (old, new)
            )
            diff |= x[ia] != y[ib]
            continue
        x, y = (f[column].astype(object).to_numpy()[i] for f, i in ((old, ia), (new, ib)))
        x = np.where(pd.isna(x), "", x)
        y = np.where(pd.isna(y), "", y)
        diff |= ~np.asarray(x == y, dtype=bool)
    gx, gy = (np.asarray(f.geometry.to_numpy(), dtype=object)[i] for f, i in ((old, ia), (new, ib)))
    wx, wy = (
        np.where(shapely.is_missing(g) | shapely.is_empty(g), None, shapely.to_wkb(g))
        for g in (gx, gy)
    )
    diff |= ~np.asarray(wx == wy, dtype=bool)
    return added, new_ids[ib[diff]].tolist()


def _context(store: GeoPackageStore, table: pd.DataFrame | None = None) -> dict[str, Any]:
    """The workspace layers an order is checked and located against.

    With ``table`` (the orders to check), only the customers it names are read.
    """
    layers = set(store.layers())
    ctx: dict[str, Any] = {}
    ctx["customers"] = None
    if "customers" in layers and table is not None:
        named = _order_ids(table["customer_id"]) if "customer_id" in table.columns else None
        wanted = [] if named is None else pd.unique(named[named != ""].to_numpy(dtype=object))
        ctx["customers"] = store.read_rows("customers", wanted)
    elif "customers" in layers:
        ctx["customers"] = store.read("customers")
    ctx["grids"] = store.read("grids") if "grids" in layers else None
    ctx["stations"] = store.read("repair_stations") if "repair_stations" in layers else None
    ctx["gazetteer"] = (
        _workspace.read_gazetteer(store) if {"county", "towns", "villages"} <= layers else None
    )
    return ctx


def _rows_message(what: str, errors: pd.DataFrame, *, max_rows: int = 20) -> str:
    head = (
        f"{what}有 {len(errors)} 处错误，未保存任何工单 / {len(errors)} row error(s), nothing "
        "stored: fix the rows (or import the good rows with --skip-bad-rows)"
    )
    return "\n".join([head, *error_lines(errors, max_rows=max_rows)])


def error_lines(errors: pd.DataFrame, *, max_rows: int = 20) -> list[str]:
    """The row-error table as printed (行号/工单编号/字段/问题), at most ``max_rows`` rows."""
    if not len(errors):
        return []
    out = [f"  {'行号 line':<9s} {'工单编号 order':<16s} {'字段 field':<28s} 问题 problem"]
    for row in errors.head(max_rows).itertuples(index=False):
        value = f" (值 value {row.value!r})" if row.value else ""
        out.append(
            f"  {int(row.file_line):<9d} {row.order_id!s:<16s} {row.field:<28s} "
            f"{row.problem}{value}"
        )
    if len(errors) > max_rows:
        out.append(f"  ... {len(errors) - max_rows} more / 另有 {len(errors) - max_rows} 处")
    return out


# --------------------------------------------------------------------------- #
# import, create, update, read


@dataclasses.dataclass(frozen=True)
class OrderImport:
    """What an import did to the ``work_orders`` layer."""

    version: int
    added: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    unchanged: int = 0
    errors: pd.DataFrame = dataclasses.field(default_factory=_empty_errors)
    written: bool = True  # False: nothing changed, no new version

    def lines(self, *, max_errors: int = 20) -> list[str]:
        """The report as printed by the CLI (Chinese with English)."""
        note = "" if self.written else " (未变，未写新版本 / nothing changed, no new version)"
        out = [
            f"工单版本 work_orders version {self.version}{note}: 新增 added {len(self.added)}, "
            f"更新 updated {len(self.updated)}, 未变 unchanged {self.unchanged}, "
            f"错误行 bad rows {self.errors['file_line'].nunique()} (未导入 / not stored)"
        ]
        return out + error_lines(self.errors, max_rows=max_errors)


def _merge_update(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``new`` orders over stored ``old`` ones: an empty new value keeps the stored one."""
    merged = new.copy()
    base = old.set_index(ORDER_KEY).loc[new[ORDER_KEY].to_numpy()]
    for column in ORDER_COLUMNS:
        if column == ORDER_KEY:
            continue
        fresh = merged[column]
        if column in _STAMP_COLUMNS:  # times: no '' to look for, and no object round trip
            empty = fresh.isna()
        else:
            empty = fresh.isna() | (fresh.astype(object) == "")
        if column == "location_source":
            empty |= fresh.astype(object) == "none"
        if column == "planned":
            empty = ~fresh.astype(bool)
        stored = base[column].array
        merged[column] = fresh.where(~empty.to_numpy(), pd.Series(stored, index=merged.index))
    no_point = (merged["location_source"] == "none").to_numpy() | shapely.is_missing(
        merged.geometry.to_numpy()
    )
    geoms = merged.geometry.to_numpy().copy()
    geoms[no_point] = base.geometry.to_numpy()[no_point]
    merged = merged.set_geometry(gpd.GeoSeries(geoms, index=merged.index, crs="EPSG:4326"))
    merged["status"] = order_status(merged)
    return _as_layer(merged)


def import_orders(
    store: GeoPackageStore,
    path: str | Path,
    *,
    author: str,
    reason: str | None = None,
    skip_bad_rows: bool = False,
    update_existing: bool = True,
    default_datum: str = "wgs84",
    columns: Mapping[str, str] | None = None,
    header_row: int | None = None,
    sheet: str | int | None = None,
    all_sheets: bool = False,
    encoding: str | None = None,
    option_names: Mapping[str, str] | None = None,
) -> OrderImport:
    """Import a 95598 / 供电服务指挥 export into the workspace's ``work_orders`` layer.

    The file is read (:func:`read_orders_file`), checked and located
    (:func:`orders_from_table`) against the workspace's customers, gazetteer, grids and
    repair stations, and saved as ONE new version (who, when, why). A file with any bad
    row stores nothing (:class:`OrderRowsError` with the row-error table) unless
    ``skip_bad_rows``: then the good rows are stored and the bad ones reported. An order
    already stored is updated from the file (``update_existing``; an empty cell keeps the
    stored value) or, with ``update_existing=False``, is a row error. A file that changes
    nothing writes nothing (``written`` False). ``repeat_of`` is linked over the stored
    and the new orders together. Only the stored orders the file can change are read (its
    own orders and every order of their customers: repeats never link two customers), and
    only the orders added or changed are written
    (:meth:`~gridgeo.store.GeoPackageStore.save_rows`), so the cost follows the file, not
    the number of orders stored.

    Parameters
    ----------
    store
        The workspace.
    path
        ``.csv``/``.txt`` (UTF-8 or GBK) or ``.xlsx``.
    author, reason
        Who imports and why (default reason: the file's name).
    skip_bad_rows
        Store the good rows of a file with bad rows.
    update_existing
        Orders already stored are updated (True) or are row errors (False).
    default_datum
        The datum of lon/lat on rows without a 坐标系.
    columns, header_row, sheet, all_sheets, encoding, option_names
        See :func:`read_orders_file`.

    Returns
    -------
    OrderImport

    Raises
    ------
    OrderRowsError
        Bad rows and not ``skip_bad_rows`` (nothing stored).
    ConflictError
        Someone saved the orders during the import; nothing stored, import again.
    """
    table = read_orders_file(
        path,
        columns=columns,
        header_row=header_row,
        sheet=sheet,
        all_sheets=all_sheets,
        encoding=encoding,
        option_names=option_names,
    )
    # only the stored orders the file can change are read: its own orders and every order
    # of their customers (for the repeat links); only the rows added or changed are written
    version = _stored_version(store)
    ctx = _context(store, table)
    taken: list[str] = []
    if not update_existing and version is not None and "order_id" in table.columns:
        file_ids = pd.unique(_order_ids(table["order_id"]).to_numpy(dtype=object))
        taken = store.read_rows(ORDER_LAYER, file_ids)[ORDER_KEY].astype(str).tolist()
    new, errors = orders_from_table(table, stored_ids=taken, default_datum=default_datum, **ctx)
    if len(errors) and not skip_bad_rows:
        raise OrderRowsError(_rows_message(f"{Path(path).name} ", errors), errors)
    why = reason or f"导入工单 import {Path(path).name}"
    if version is None:
        stored, _ = _stored(store)  # no layer yet: no orders
        result = _combine(stored, new)
        added, updated = _changed_ids(stored, result)
        if not len(result):
            msg = (
                f"{Path(path).name} 没有可导入的工单 / no good rows to import, nothing stored: "
                "fix the rows\n" + "\n".join(error_lines(errors))
            )
            raise OrderRowsError(msg, errors)
        version, written = (
            store.add_layer(ORDER_LAYER, result, key=ORDER_KEY, author=author, reason=why),
            True,
        )
    else:
        stored = _involved(store, new[ORDER_KEY], new["customer_id"])
        result = _combine(stored, new)
        try:
            added, updated, saved = _write_changed(
                store, stored, result, version=version, author=author, reason=why
            )
        except ConflictError as err:
            msg = (
                f"工单在导入期间被他人修改，未保存 / the work orders changed while "
                f"{Path(path).name} was imported; nothing stored: import the file again."
            )
            raise ConflictError(msg) from err
        written = saved is not None
        version = saved if saved is not None else version
    in_file = set(new[ORDER_KEY])
    unchanged = len(new) - len(added) - sum(1 for i in updated if i in in_file)
    return OrderImport(
        version=version,
        added=added,
        updated=updated,
        unchanged=unchanged,
        errors=errors,
        written=written,
    )


def _combine(stored: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Stored orders with ``new`` added or merged in, repeats re-linked over all."""
    again = new[ORDER_KEY].isin(set(stored[ORDER_KEY])).to_numpy()
    parts = [stored.loc[~stored[ORDER_KEY].isin(set(new[ORDER_KEY])).to_numpy()], new[~again]]
    if again.any():
        parts.append(_merge_update(stored, new[again]))
    parts = [p for p in parts if len(p)]
    if not parts:
        return stored
    result = _sorted(_as_layer(gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=4326)))
    result["repeat_of"] = link_repeats(result).to_numpy()
    return result


def _fields_table(fields: Mapping[str, Any]) -> pd.DataFrame:
    """One order's fields (codes, words, times, numbers) as a one-row text table."""
    unknown = sorted(set(fields) - set(ORDER_COLUMN_ALIASES))
    if unknown:
        msg = (
            f"工单字段无效 / unknown order field(s) {unknown!r}; fields: "
            f"{', '.join(ORDER_COLUMN_ALIASES)}."
        )
        raise InputError(msg)
    row: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            row[name] = ""
        elif isinstance(value, bool):
            row[name] = "是" if value else "否"
        elif isinstance(value, (pd.Timestamp, dt.datetime)):
            stamp = pd.Timestamp(value)
            row[name] = stamp.isoformat() if stamp.tzinfo is not None else str(stamp)
        else:
            row[name] = str(value)
    row["file_line"] = 1
    return pd.DataFrame([row])


def _one(errors: pd.DataFrame, order_id: str) -> str:
    parts = [f"{r.field} {r.value!r}: {r.problem}" for r in errors.itertuples(index=False)]
    return f"工单 {order_id} 有误 / order {order_id!r}: " + "; ".join(parts)


def create_order(
    store: GeoPackageStore,
    fields: Mapping[str, Any],
    *,
    author: str,
    reason: str | None = None,
    default_datum: str = "wgs84",
) -> gpd.GeoDataFrame:
    """Create one work order, checked and located as an imported one, as a new version.

    Parameters
    ----------
    store
        The workspace.
    fields
        The order's fields (names of :data:`ORDER_COLUMN_ALIASES`; ``order_id``, ``kind``,
        ``reported_at`` required); codes or Chinese words, times as text (China time) or
        timezone-aware datetimes, ``lon``/``lat``/``datum`` for a point.
    author, reason
        Who creates it and why.
    default_datum
        The datum of ``lon``/``lat`` without ``datum``.

    Returns
    -------
    geopandas.GeoDataFrame
        The stored order (one row).

    Raises
    ------
    OrderRowsError
        A field is wrong or the order number is taken (nothing stored).
    """
    order_id = str(fields.get("order_id", ""))
    table = _fields_table(fields)
    wanted = _order_ids(table["order_id"]).tolist() if "order_id" in table.columns else []
    for _attempt in range(MAX_UPDATE_RETRIES):
        # read only this order number and its customer's orders (for the repeat links)
        version = _stored_version(store)
        taken = [] if version is None else store.read_rows(ORDER_LAYER, wanted)[ORDER_KEY]
        ctx = _context(store, table)
        new, errors = orders_from_table(
            table, stored_ids=list(taken), default_datum=default_datum, **ctx
        )
        if len(errors):
            raise OrderRowsError(_one(errors, order_id), errors)
        why = reason or f"新建工单 create order {order_id}"
        try:
            if version is None:
                result = _combine(_stored(store)[0], new)
                store.add_layer(ORDER_LAYER, result, key=ORDER_KEY, author=author, reason=why)
            else:
                stored = _involved(store, new[ORDER_KEY], new["customer_id"])
                result = _combine(stored, new)
                _write_changed(store, stored, result, version=version, author=author, reason=why)
        except ConflictError:
            continue
        return result[result[ORDER_KEY] == order_id].reset_index(drop=True)
    msg = f"工单保存冲突 / order {order_id!r} not created: the orders keep changing; try again."
    raise ConflictError(msg)


def _row_fields(row: pd.Series) -> dict[str, Any]:
    """A stored order as fields for :func:`create_order` / re-validation."""
    out: dict[str, Any] = {}
    for name in ORDER_COLUMN_ALIASES:
        if name in ("lon", "lat", "datum"):
            continue
        value = row[name]
        out[name] = (
            None if value is None or (not isinstance(value, str) and pd.isna(value)) else value
        )
    return out


def update_order(
    store: GeoPackageStore,
    order_id: str,
    changes: Mapping[str, Any],
    *,
    author: str,
    reason: str,
) -> gpd.GeoDataFrame:
    """Change fields of one stored order (arrival, repair, callback, ...) as a new version.

    The changed order is checked as a new one (codes, timeline order, customer); its status
    is recomputed from its times; it is located again only when ``customer_id``,
    ``address`` or ``lon``/``lat`` change; ``repeat_of`` is re-linked over the orders of its
    customer, old and new (the only links an edit can move), and only the rows that change
    are written (:meth:`~gridgeo.store.GeoPackageStore.save_rows`). A
    save that meets another one (:class:`~gridgeo.errors.ConflictError`) is retried on the
    fresh version (another order's edit does not touch this one) up to
    :data:`MAX_UPDATE_RETRIES` times. An update that changes nothing writes nothing.

    Parameters
    ----------
    store
        The workspace.
    order_id
        The order.
    changes
        ``{field: new value}``, fields as for :func:`create_order`; None empties a field.
    author, reason
        Who changes it and why.

    Returns
    -------
    geopandas.GeoDataFrame
        The order as stored (one row).

    Raises
    ------
    NotFoundError
        No such order.
    OrderRowsError
        The changed order is wrong (nothing stored).
    """
    order_id = str(order_id)
    relocate = bool({"customer_id", "address", "lon", "lat", "datum"} & set(changes))
    for _attempt in range(MAX_UPDATE_RETRIES):
        # only this order and its customers' orders (old and new customer) are read: the
        # repeat links are all that can change beside the order itself
        version = _stored_version(store)
        found = _sorted(_as_layer(store.read_rows(ORDER_LAYER, [order_id])))
        if version is None or not len(found):
            msg = (
                f"没有此工单 / no work order {order_id!r} in the workspace: check the number "
                "(gridgeo orders list)."
            )
            raise NotFoundError(msg)
        old = found.iloc[0]
        fields = {**_row_fields(old), **changes}
        table = _fields_table(fields)
        ctx = _context(store, table) if relocate else {}
        new, errors = orders_from_table(table, **ctx)
        if len(errors):
            raise OrderRowsError(_one(errors, order_id), errors)
        if not relocate:
            for column in ("location_source", "town", "village", "grid_t1", "grid_t2",
                           "grid_t3"):  # fmt: skip
                new[column] = old[column]
            if "member" not in changes:
                new["member"] = old["member"]
            new = new.set_geometry(gpd.GeoSeries([old.geometry], index=new.index, crs="EPSG:4326"))
        new = _as_layer(new)
        stored = _involved(store, [order_id], new["customer_id"])
        hit = (stored[ORDER_KEY] == order_id).to_numpy()
        result = _sorted(
            gpd.GeoDataFrame(pd.concat([stored.loc[~hit], new], ignore_index=True), crs=4326)
        )
        result["repeat_of"] = link_repeats(result).to_numpy()
        mine = (result[ORDER_KEY] == order_id).to_numpy()
        try:
            _write_changed(store, stored, result, version=version, author=author, reason=reason)
        except ConflictError:
            logger.info("order %s: the orders changed meanwhile, applying again", order_id)
            continue
        return result.loc[mine].reset_index(drop=True)
    msg = (
        f"工单保存冲突 / order {order_id!r} not updated: the orders changed "
        f"{MAX_UPDATE_RETRIES} times while saving; try again."
    )
    raise ConflictError(msg)


def read_orders(
    store: GeoPackageStore,
    *,
    grid: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    start: Any = None,
    end: Any = None,
    required: bool = False,
) -> gpd.GeoDataFrame:
    """The stored work orders, filtered.

    Parameters
    ----------
    store
        The workspace.
    grid
        A grid id of any tier: the orders in it.
    kind, status
        A code of :data:`ORDER_KINDS` / :data:`ORDER_STATUSES` (or its Chinese word).
    start, end
        Orders reported at or after ``start`` and before ``end`` (text in China time, or
        timezone-aware).
    required
        Refuse a workspace without work orders (no ``work_orders`` layer, or no order in
        it), with the command that imports them; the jobs built on the records use this.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`ORDER_COLUMNS` and the point, sorted by ``order_id`` (empty if the workspace
        has no orders yet and ``required`` is False).

    Raises
    ------
    NotFoundError
        If ``required`` and the workspace has no work orders.
    InputError
        If a filter is not valid.
    """
    orders, _ = _stored(store)
    if required and orders.empty:
        name = store.path.name
        msg = (
            f"工作区 {name!r} 没有工单 / workspace {name!r} has no work orders "
            f"(`{ORDER_LAYER}` layer): import them first with "
            f"`gridgeo orders import FILE --workspace {name}`"
        )
        raise NotFoundError(msg)
    keep = np.ones(len(orders), dtype=bool)
    if grid:
        keep &= (orders[["grid_t1", "grid_t2", "grid_t3"]] == str(grid)).any(axis=1).to_numpy()
    for name, value, words, codes in (
        ("kind", kind, KIND_WORDS, ORDER_KINDS),
        ("status", status, {**{c: c for c in ORDER_STATUSES},
                            **{v: c for c, v in ORDER_STATUSES.items()}}, ORDER_STATUSES),
    ):  # fmt: skip
        if value is None:
            continue
        code = words.get(_word_key(pd.Series([str(value)])).iloc[0])
        if code is None:
            msg = f"`{name}` {value!r} is unknown; use one of {list(codes)!r} ({_choices(codes)})."
            raise InputError(msg)
        keep &= (orders[name] == code).to_numpy()
    for name, value, after in (("start", start, True), ("end", end, False)):
        if value is None:
            continue
        when, bad = parse_times(pd.Series([value]))
        if bad.any() or when.isna().all():
            msg = f"`{name}` {value!r} is not a time; write it like 2026-11-01 00:00."
            raise InputError(msg)
        t = when.iloc[0]
        rep = orders["reported_at"]
        keep &= ((rep >= t) if after else (rep < t)).fillna(False).to_numpy(dtype=bool)
    return orders.loc[keep].reset_index(drop=True)


def order_history(store: GeoPackageStore, order_id: str) -> pd.DataFrame:
    """Who changed what in one order, and when: field by field, oldest first.

    Parameters
    ----------
    store
        The workspace.
    order_id
        The order.

    Returns
    -------
    pandas.DataFrame
        ``version``, ``author``, ``created_at`` (UTC), ``reason``, ``field``, ``old``,
        ``new`` (text; times in China time): one row per changed field; the version that
        created the order has one row with ``field`` ``"created"``.

    Raises
    ------
    NotFoundError
        The order was never stored.
    """
    columns = ["version", "author", "created_at", "reason", "field", "old", "new"]
    if ORDER_LAYER not in store.layers():
        states = pd.DataFrame()
    else:
        states = store.row_history(ORDER_LAYER, str(order_id))
    if not len(states):
        msg = f"没有此工单 / no work order {order_id!r} in the workspace (gridgeo orders list)."
        raise NotFoundError(msg)
    layer = _as_layer(states)
    texts = _cell_strings(layer.assign(order_id=range(len(states))))
    for column in _STAMP_COLUMNS:
        texts[column] = _local_text(layer[column])
    geoms = np.asarray(layer.geometry.to_numpy(), dtype=object)
    texts["geometry"] = [
        "" if g is None or shapely.is_empty(g) else f"{g.x:.6f},{g.y:.6f}" for g in geoms
    ]  # one order's few states: lon,lat as people read them
    rows = []
    for i in range(len(states)):
        info = states.iloc[i]
        head = [int(info["version"]), info["author"], info["created_at"], info["reason"]]
        if i == 0:
            rows.append([*head, "created", "", ""])
            continue
        before, after = texts.iloc[i - 1], texts.iloc[i]
        for column in [*ORDER_COLUMNS, "geometry"]:
            if before[column] != after[column] and column != ORDER_KEY:
                rows.append([*head, column, before[column], after[column]])
    return pd.DataFrame(rows, columns=columns)


def order_from_dispatch(
    result: DispatchResult,
    *,
    order_id: str,
    reported_at: Any,
    dispatched_at: Any = None,
    kind: str = "fault",
    source: str = "95598",
    customer_id: str = "",
    address: str = "",
    crew: str = "",
) -> dict[str, Any]:
    """The fields of a new order from a dispatch recommendation (for :func:`create_order`).

    The recommended station and its ETA (``predicted_eta_s``, the routing engine's at
    dispatch time), the fault's point (WGS84), dispatched now unless ``dispatched_at``.

    Parameters
    ----------
    result
        The answer of :func:`gridgeo.dispatch.dispatch`.
    order_id, reported_at
        The order's number and report time.
    dispatched_at
        When it was dispatched (default: now).
    kind, source, customer_id, address, crew
        As for :func:`create_order`.

    Returns
    -------
    dict
        Fields for :func:`create_order`.

    Raises
    ------
    InputError
        The dispatch chose no station.
    """
    if result.station_id is None:
        msg = (
            f"无可派抢修站 / the dispatch chose no station ({result.reason}): create the order "
            "without --create-order and dispatch by hand."
        )
        raise InputError(msg)
    eta = float(result.eta_s)
    return {
        "order_id": order_id,
        "kind": kind,
        "source": source,
        "customer_id": customer_id,
        "address": address,
        "reported_at": reported_at,
        "dispatched_at": dispatched_at
        if dispatched_at is not None
        else pd.Timestamp.now(tz="UTC").floor("s"),
        "station_id": str(result.station_id),
        "crew": crew,
        "predicted_eta_s": round(eta, 1) if math.isfinite(eta) else None,
        "lon": result.fault.lon,
        "lat": result.fault.lat,
        "datum": "wgs84",
    }
