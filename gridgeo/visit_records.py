"""Visit and callback records (走访/回访记录), callback lists and visit coverage.

Every home visit (家访) and phone callback (电话回访) a grid member makes is one row of the
workspace's versioned ``visits`` layer (key ``visit_id``), so every import or record is a new
version that keeps who, when and why (:meth:`gridgeo.store.Store.list_versions`), and each
record's own history is its rows in ``visits_history``.

Columns (:data:`VISIT_COLUMNS`; ``done_at`` timezone-aware, stored in UTC, read in China time
:data:`gridgeo.orders.TIMEZONE`):

================  ==================================================================
``visit_id``      记录编号, unique text
``kind``          ``home`` 家访 or ``callback`` 电话回访 (:data:`VISIT_KINDS`)
``customer_id``   the customer (户号), one of the workspace's customers
``member``        the grid member who visited or called (网格员)
``planned_on``    the planned date (``YYYY-MM-DD``) when the visit came from a plan, else ""
``done_at``       when it was made (走访/回访时间); a time without a zone is China time
``outcome``       a code of :data:`VISIT_OUTCOMES` (``done`` 完成, ``not_home`` 不在家, ...)
``satisfaction``  ``satisfied`` 满意 / ``basic`` 基本满意 / ``dissatisfied`` 不满意, or ""
``hazard``        a hazard found (发现隐患), free text, "" if none
``order_id``      the work order the visit raised or refers to (后续工单), "" if none
``notes``         notes, opinions (备注/意见建议), free text
``grid_t1..t3``   the customer's grids, set from the customer (not from the file)
``town``,         the customer's township and village names
``village``
``recorded_by``   who stored the record (the author of its version)
geometry          the customer's point (WGS84), empty if the customer has none
================  ==================================================================

Reading a file (:func:`import_visits`): CSV (UTF-8 or GBK) or XLSX, the header found as for
customer files (:func:`gridgeo.io.read_export_table`: title rows, merged headers, the sheet
holding the data); fields by the names of :data:`VISIT_COLUMN_ALIASES` (记录编号, 类型, 户号,
网格员, 走访时间, 结果 ... ). Row errors, by file line: an empty or repeated record id (in the
file or already stored as done), an empty or unknown kind, outcome or satisfaction word, an
unknown customer, a time that cannot be read, is missing or lies in the future, an empty
member, a follow-up order that is not stored. A file with any bad row stores nothing
(:class:`VisitRowsError`) unless ``skip_bad_rows``. A stored row with no ``done_at`` is a
planned visit (:func:`planned_visit_records`): a record with its id fills it in.

Counting (:func:`visit_coverage`, :func:`callbacks_due`) uses the records whose outcome is
``done``: a visit nobody answered is an attempt, not a visit. A customer's member is the one
:func:`gridgeo.visits.assign_members` gives (the member who plans their visits), so coverage
and plans agree on who is responsible.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgeo import io as _io
from gridgeo._validate import as_text, split_members
from gridgeo.errors import ConflictError, InputError, NotFoundError
from gridgeo.orders import (
    SATISFACTION,
    SATISFACTION_WORDS,
    TIMEZONE,
    OrderRowsError,
    create_order,
    parse_times,
    read_orders,
)
from gridgeo.performance import period_bounds
from gridgeo.visits import assign_members

if TYPE_CHECKING:
    from gridgeo.store import GeoPackageStore

__all__ = [
    "CALLBACK_QUESTIONS",
    "VISIT_COLUMNS",
    "VISIT_COLUMN_ALIASES",
    "VISIT_KINDS",
    "VISIT_LAYER",
    "VISIT_OUTCOMES",
    "VisitCoverage",
    "VisitImport",
    "VisitRowsError",
    "callbacks_due",
    "import_visits",
    "planned_visit_records",
    "read_visits",
    "record_visit",
    "visit_coverage",
    "visit_history",
    "visits_from_table",
]

logger = logging.getLogger(__name__)

VISIT_LAYER = "visits"
VISIT_KEY = "visit_id"
VISIT_KINDS: dict[str, str] = {"home": "家访", "callback": "电话回访"}
VISIT_OUTCOMES: dict[str, str] = {
    "done": "完成",
    "not_home": "不在家",
    "refused": "拒访",
    "no_answer": "无法接通",
    "wrong_number": "号码错误",
}
# the questions of a quarterly callback, asked in this order
CALLBACK_QUESTIONS: tuple[str, ...] = (
    "供电质量是否满意",
    "抢修是否及时",
    "缴费是否方便",
    "有何意见建议",
)
RECENT_ORDER_DAYS = 30  # an order reported this many days before makes a callback urgent
FUTURE_SLACK = pd.Timedelta(hours=1)  # clocks differ: a record up to this far ahead is taken

VISIT_COLUMNS = (
    "visit_id",
    "kind",
    "customer_id",
    "member",
    "planned_on",
    "done_at",
    "outcome",
    "satisfaction",
    "hazard",
    "order_id",
    "notes",
    "grid_t1",
    "grid_t2",
    "grid_t3",
    "town",
    "village",
    "recorded_by",
)
_FREE_TEXT = ("hazard", "notes")
_GRID_TIERS = ("grid_t1", "grid_t2", "grid_t3")

VISIT_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "visit_id": ("记录编号", "走访编号", "回访编号", "record_id", "visit_id"),
    "kind": ("类型", "走访类型", "服务类型", "kind"),
    "customer_id": ("户号", "用户编号", "客户编号", "customer_no", "customer_id"),
    "member": ("网格员", "走访人", "回访人", "member"),
    "planned_on": ("计划日期", "planned_on"),
    "done_at": ("走访时间", "回访时间", "时间", "done_at"),
    "outcome": ("结果", "走访结果", "回访结果", "outcome"),
    "satisfaction": ("满意度", "回访满意度", "satisfaction"),
    "hazard": ("发现隐患", "隐患", "安全隐患", "hazard"),
    "order_id": ("后续工单", "关联工单", "工单编号", "order_id"),
    "notes": ("备注", "意见建议", "notes"),
}  # fmt: skip
VISIT_REQUIRED = ("visit_id", "kind", "customer_id", "done_at", "outcome")
FIELD_LABELS: dict[str, str] = {f: names[0] for f, names in VISIT_COLUMN_ALIASES.items()}
ERROR_COLUMNS = ("file_line", "visit_id", "field", "value", "problem")

KIND_WORDS: dict[str, str] = {
    **{code: code for code in VISIT_KINDS},
    **dict.fromkeys(("家访", "走访", "上门走访", "入户走访", "visit"), "home"),
    **dict.fromkeys(("电话回访", "回访", "电话", "phone"), "callback"),
}
OUTCOME_WORDS: dict[str, str] = {
    **{code: code for code in VISIT_OUTCOMES},
    **dict.fromkeys(("完成", "已完成", "成功", "已走访", "已回访"), "done"),
    **dict.fromkeys(("不在家", "无人在家", "家中无人"), "not_home"),
    **dict.fromkeys(("拒访", "拒绝", "拒绝回访"), "refused"),
    **dict.fromkeys(("无法接通", "未接通", "无人接听", "关机"), "no_answer"),
    **dict.fromkeys(("号码错误", "空号", "错号"), "wrong_number"),
}
# the kinds of work order a visit may raise
RAISED_ORDER_KINDS = ("fault", "complaint")


class VisitRowsError(OrderRowsError):
    """A visit-record file or record has bad rows; nothing was stored.

    ``errors`` is the row-error table (:data:`ERROR_COLUMNS`). A subclass of
    :class:`gridgeo.orders.OrderRowsError`, so the service answers it as it answers bad
    order rows (400 with the table).
    """


# ------------------------------------------------------------------ values


def _text(values: pd.Series) -> pd.Series:
    """Codes, ids and names: stripped NFKC text, missing as '' (each distinct value once)."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    clean = [unicodedata.normalize("NFKC", str(v)).strip() for v in uniques]
    clean = ["" if c.lower() in ("nan", "nat", "none", "<na>") else c for c in clean]
    table = np.array([*clean, ""], dtype=object)  # code -1 (missing): the last, ''
    return pd.Series(table[codes], index=values.index, dtype=object)


def _parse_times(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """:func:`gridgeo.orders.parse_times`, with times pandas cannot hold (before 1677 or
    after 2262) counted as not a time instead of raising."""
    try:
        return parse_times(values)
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        pass
    codes, uniques = pd.factorize(values.astype(str).to_numpy(dtype=object))
    when_u = pd.Series(pd.NaT, index=range(len(uniques)), dtype="datetime64[ns, UTC]")
    bad_u = np.zeros(len(uniques), dtype=bool)
    for i, value in enumerate(uniques):  # rare: each distinct value alone finds the bad ones
        try:
            t, b = parse_times(pd.Series([value], dtype=object))
        except (pd.errors.OutOfBoundsDatetime, OverflowError):
            bad_u[i] = True
            continue
        when_u.iloc[i], bad_u[i] = t.iloc[0], bool(b[0])
    when = when_u.iloc[codes].set_axis(values.index).astype("datetime64[ns, UTC]")
    return when, bad_u[codes]


def _ids(values: pd.Series) -> pd.Series:
    """Ids as files give them (an Excel ``123.0`` is ``123``)."""
    return _text(values).str.replace(r"^(\d+)\.0+$", r"\1", regex=True)


def _key(values: pd.Series) -> pd.Series:
    return values.str.replace(r"\s+", "", regex=True).str.lower()


def _choices(codes: Mapping[str, str]) -> str:
    return f"{'、'.join(codes.values())} (or {', '.join(codes)})"


class _Errors:
    def __init__(self, lines: np.ndarray, ids: np.ndarray) -> None:
        self.lines, self.ids = lines, ids
        self.frames: list[pd.DataFrame] = []

    def add(self, mask: Any, field: str, values: Any, problem: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        vals = np.asarray(values, dtype=object)
        self.frames.append(
            pd.DataFrame(
                {
                    "file_line": self.lines[mask],
                    "visit_id": self.ids[mask],
                    "field": f"{FIELD_LABELS.get(field, field)} {field}",
                    "value": vals[mask].astype(str),
                    "problem": problem,
                }
            )
        )

    def table(self) -> pd.DataFrame:
        if not self.frames:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in ERROR_COLUMNS})
        out = pd.concat(self.frames, ignore_index=True)
        return out.sort_values(["file_line", "field"], kind="stable", ignore_index=True)


def error_lines(errors: pd.DataFrame, *, max_rows: int = 20) -> list[str]:
    """The row-error table as printed (行号/记录编号/字段/问题), at most ``max_rows`` rows."""
    if not len(errors):
        return []
    out = [f"  {'行号 line':<9s} {'记录编号 record':<16s} {'字段 field':<26s} 问题 problem"]
    for row in errors.head(max_rows).itertuples(index=False):
        value = f" (值 value {row.value!r})" if row.value else ""
        out.append(
            f"  {int(row.file_line):<9d} {row.visit_id!s:<16s} {row.field:<26s} "
            f"{row.problem}{value}"
        )
    if len(errors) > max_rows:
        out.append(f"  ... {len(errors) - max_rows} more / 另有 {len(errors) - max_rows} 处")
    return out


# ------------------------------------------------------------------ table -> records


def visits_from_table(
    table: pd.DataFrame,
    *,
    customers: pd.DataFrame,
    stored: pd.DataFrame | None = None,
    order_ids: Iterable[str] | None = None,
    now: Any = None,
    recorded_by: str = "",
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Turn a text table of visit records into records, and list the rows that are wrong.

    Parameters
    ----------
    table
        Text columns named as the fields of :data:`VISIT_COLUMN_ALIASES` (the fields of
        :data:`VISIT_REQUIRED` at least); ``file_line`` if read from a file.
    customers
        The customers the records may name (``customer_id``; ``grid_t1..3``, ``town``,
        ``village`` and the point where present).
    stored
        The stored records with the table's ids (``visit_id``, ``done_at``): an id stored as
        done is a row error, one stored as planned (no ``done_at``) is filled in.
    order_ids
        The stored work-order numbers a follow-up ``order_id`` must be one of; None: not
        checked.
    now
        The present (default: the clock), for the future-time check.
    recorded_by
        Who stores the records.

    Returns
    -------
    tuple
        The good records (:data:`VISIT_COLUMNS`, the customer's point) and the row errors
        (:data:`ERROR_COLUMNS`, by file line).
    """
    missing = [c for c in VISIT_REQUIRED if c not in table.columns]
    if missing:
        names = ", ".join(f"{FIELD_LABELS[c]} {c}" for c in missing)
        msg = f"走访记录表缺少列 / the visit-record table lacks {missing!r}: give {names}."
        raise InputError(msg)
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
    ids = _ids(table["visit_id"])
    err = _Errors(lines, ids.to_numpy(dtype=object))
    out = pd.DataFrame(index=index)
    out["visit_id"] = ids

    empty = (ids == "").to_numpy()
    err.add(empty, "visit_id", ids, "记录编号为空 / record id empty: give every row one")
    dup = ids.duplicated(keep=False).to_numpy() & ~empty
    if dup.any():
        first = pd.Series(lines, index=index).groupby(ids.to_numpy()).transform("min")
        for line in np.unique(first[dup]):
            rows = dup & (first.to_numpy() == line)
            err.add(
                rows,
                "visit_id",
                ids,
                f"记录编号重复 / record id repeated in the file (first at line {line}): "
                "keep one row per record",
            )
    if stored is not None and len(stored):
        done = stored.loc[pd.to_datetime(stored["done_at"], utc=True).notna().to_numpy()]
        taken = ids.isin(set(done[VISIT_KEY].astype(str))).to_numpy() & ~empty
        err.add(
            taken,
            "visit_id",
            ids,
            "记录编号已存在 / record id already stored: give a new id (records are not "
            "overwritten)",
        )

    for field, words, codes in (
        ("kind", KIND_WORDS, VISIT_KINDS),
        ("outcome", OUTCOME_WORDS, VISIT_OUTCOMES),
        ("satisfaction", SATISFACTION_WORDS, SATISFACTION),
    ):
        raw = col(field)
        code = _key(raw).map(words)
        blank = (raw == "").to_numpy()
        err.add(
            ~blank & code.isna().to_numpy(),
            field,
            raw,
            f"无法识别 / unknown {field} word: use one of {_choices(codes)}",
        )
        if field != "satisfaction":
            err.add(blank, field, raw, f"{FIELD_LABELS[field]}为空 / {field} empty")
        out[field] = code.where(code.notna(), "").astype(object)

    raw_time = table["done_at"]
    when, bad = _parse_times(raw_time)
    shown = _text(raw_time) if not isinstance(raw_time.dtype, pd.DatetimeTZDtype) else raw_time
    err.add(bad, "done_at", shown, "时间无法读取 / not a time: write it like 2027-01-06 09:30")
    err.add(
        when.isna().to_numpy() & ~bad,
        "done_at",
        shown,
        "时间为空 / done_at empty: every record has the time it was made",
    )
    clock = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    clock = clock.tz_localize(TIMEZONE) if clock.tzinfo is None else clock
    future = (when > clock + FUTURE_SLACK).fillna(False).to_numpy(dtype=bool)
    err.add(future, "done_at", shown, "时间在将来 / done_at in the future: check the date")
    out["done_at"] = when

    planned = col("planned_on")
    day = pd.to_datetime(planned.where(planned != "", None), errors="coerce", format="mixed")
    bad_day = (planned != "").to_numpy() & day.isna().to_numpy()
    err.add(bad_day, "planned_on", planned, "日期无法读取 / not a date: write it like 2027-01-06")
    out["planned_on"] = [
        "" if pd.isna(d) else d.strftime("%Y-%m-%d") for d in day.where(~bad_day, pd.NaT)
    ]

    member = col("member")
    err.add(member == "", "member", member, "网格员为空 / member empty: name who visited or called")
    out["member"] = member

    cid = _ids(table["customer_id"])
    out["customer_id"] = cid
    err.add(cid == "", "customer_id", cid, "户号为空 / customer_id empty")
    known = customers.drop_duplicates("customer_id").copy()
    known.index = _ids(known["customer_id"]).to_numpy()
    unknown = (cid != "").to_numpy() & ~cid.isin(known.index).to_numpy()
    err.add(
        unknown,
        "customer_id",
        cid,
        "户号不在客户档案中 / unknown customer: import the customer file first "
        "(gridgeo customers import) or check the number",
    )

    if stored is not None and len(stored):
        # a planned visit (no done_at) is filled in: its date is kept, its customer must match
        plans = stored.loc[pd.to_datetime(stored["done_at"], utc=True).isna().to_numpy()]
        plans = plans.set_index(plans[VISIT_KEY].astype(str))
        cust_of = dict(zip(plans.index, plans["customer_id"].astype(str), strict=True))
        planned_for = pd.Series([cust_of.get(i, "") for i in ids], index=index, dtype=object)
        other = (planned_for != "").to_numpy() & (planned_for != cid).to_numpy()
        err.add(
            other,
            "customer_id",
            cid,
            "此记录编号计划给另一户 / the record id is a planned visit of another customer: "
            "check the id or the customer",
        )
        day_of = dict(zip(plans.index, _text(plans["planned_on"]), strict=True))
        kept = pd.Series([day_of.get(i, "") for i in ids], index=index, dtype=object)
        out["planned_on"] = out["planned_on"].where(out["planned_on"] != "", kept)

    order = _ids(col("order_id"))
    if order_ids is not None:
        gone = (order != "").to_numpy() & ~order.isin(set(map(str, order_ids))).to_numpy()
        err.add(
            gone,
            "order_id",
            order,
            "工单不存在 / no such work order: import the work orders first or leave it empty",
        )
    out["order_id"] = order
    for field in _FREE_TEXT:
        out[field] = as_text(table[field]) if field in table.columns else col(field)
    out["recorded_by"] = str(recorded_by)

    errors = err.table()
    bad_rows = np.isin(lines, errors["file_line"].to_numpy()) if len(errors) else np.zeros(n, bool)
    good = out.loc[~bad_rows]
    rows = known.reindex(good["customer_id"].to_numpy())
    for column in (*_GRID_TIERS, "town", "village"):
        values = rows[column] if column in rows.columns else pd.Series("", index=rows.index)
        good[column] = _text(values).to_numpy()
    geoms = (
        rows.geometry.to_numpy()
        if isinstance(rows, gpd.GeoDataFrame)
        else np.full(len(good), None, dtype=object)
    )
    return _as_layer(gpd.GeoDataFrame(good, geometry=geoms, crs="EPSG:4326")), errors


def _as_layer(visits: pd.DataFrame) -> gpd.GeoDataFrame:
    """Records in the stored form: :data:`VISIT_COLUMNS` in order, fixed dtypes."""
    geoms = (
        np.asarray(visits.geometry.to_numpy(), dtype=object)
        if isinstance(visits, gpd.GeoDataFrame)
        else np.full(len(visits), None, dtype=object)
    )
    geoms = geoms.copy()
    geoms[shapely.is_missing(geoms) | shapely.is_empty(geoms)] = None
    data: dict[str, Any] = {}
    for column in VISIT_COLUMNS:
        if column in visits.columns:
            values = visits[column]
        else:
            values = pd.Series([None] * len(visits), index=visits.index, dtype=object)
        if column == "done_at":
            when = pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
            data[column] = when.dt.floor("s").array
        elif column in _FREE_TEXT:
            data[column] = as_text(values).to_numpy(dtype=object)
        else:
            data[column] = _text(values).to_numpy(dtype=object)
    out = gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326", index=visits.index)
    return out.sort_values(VISIT_KEY, kind="stable").reset_index(drop=True)


def planned_visit_records(
    rows: pd.DataFrame, customers: pd.DataFrame | None = None
) -> gpd.GeoDataFrame:
    """Planned visits (:meth:`gridgeo.visits.VisitPlan.visit_rows`) in the records' form.

    ``done_at`` and ``outcome`` stay empty until the visit is recorded (a record with the
    same ``visit_id`` fills them in); ``grid_t3`` is the plan's ``grid_id``, and with
    ``customers`` the grids of every tier, township, village and point are the customer's
    (so a grid manager's lists show them). Store them with
    :meth:`~gridgeo.store.GeoPackageStore.save_rows` (or ``add_layer`` for the first).
    """
    cid = _ids(rows["customer_id"].astype(object))
    frame = pd.DataFrame(
        {
            "visit_id": rows["visit_id"].astype(str).to_numpy(),
            "kind": "home",
            "customer_id": cid.to_numpy(),
            "member": rows["member"].astype(str).to_numpy(),
            "planned_on": pd.to_datetime(rows["planned_on"]).dt.strftime("%Y-%m-%d").to_numpy(),
            "done_at": pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns, UTC]").array,
            "grid_t3": rows["grid_id"].astype(str).to_numpy() if "grid_id" in rows else "",
        }
    )
    geoms = np.full(len(frame), None, dtype=object)
    if customers is not None:
        known = customers.drop_duplicates("customer_id")
        known = known.set_index(_ids(known["customer_id"]).to_numpy()).reindex(cid.to_numpy())
        for column in (*_GRID_TIERS, "town", "village"):
            if column in known:
                frame[column] = _text(known[column]).to_numpy()
        if isinstance(known, gpd.GeoDataFrame):
            geoms = np.asarray(known.geometry.to_numpy(), dtype=object)
    return _as_layer(gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326"))


# ------------------------------------------------------------------ store


def _version(store: GeoPackageStore) -> int | None:
    return store.current_version(VISIT_LAYER) if VISIT_LAYER in store.layers() else None


def _context(store: GeoPackageStore, table: pd.DataFrame) -> dict[str, Any]:
    """The customers, stored records and order numbers the table's rows are checked against."""
    wanted = pd.unique(_ids(table["customer_id"]).to_numpy(dtype=object))
    customers = store.read_rows("customers", [w for w in wanted if w])
    ids = [i for i in pd.unique(_ids(table["visit_id"]).to_numpy(dtype=object)) if i]
    stored = store.read_rows(VISIT_LAYER, ids) if _version(store) is not None else None
    order_ids = None
    if "order_id" in table.columns:
        named = [o for o in pd.unique(_ids(table["order_id"]).to_numpy(dtype=object)) if o]
        if named:
            has_orders = "work_orders" in store.layers()
            found = store.read_rows("work_orders", named) if has_orders else None
            order_ids = [] if found is None else found["order_id"].astype(str).tolist()
    return {"customers": customers, "stored": stored, "order_ids": order_ids}


def _save(store: GeoPackageStore, new: gpd.GeoDataFrame, version: int | None, *, author: str,
          reason: str) -> int:  # fmt: skip
    if version is None:
        return store.add_layer(VISIT_LAYER, new, key=VISIT_KEY, author=author, reason=reason)
    return store.save_rows(VISIT_LAYER, new, expected_version=version, author=author, reason=reason)


@dataclasses.dataclass(frozen=True)
class VisitImport:
    """What an import did to the ``visits`` layer."""

    version: int
    added: list[str]
    filled: list[str]  # planned visits now recorded
    errors: pd.DataFrame

    def lines(self, *, max_errors: int = 20) -> list[str]:
        """The report as printed (Chinese with English)."""
        head = (
            f"走访记录版本 visits version {self.version}: 新增 added {len(self.added)}, "
            f"计划已完成 planned visits recorded {len(self.filled)}, "
            f"错误行 bad rows {self.errors['file_line'].nunique()} (未导入 / not stored)"
        )
        return [head, *error_lines(self.errors, max_rows=max_errors)]


def import_visits(
    store: GeoPackageStore,
    path: str | Path,
    *,
    author: str,
    reason: str | None = None,
    skip_bad_rows: bool = False,
    now: Any = None,
    columns: Mapping[str, str] | None = None,
    header_row: int | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
) -> VisitImport:
    """Import visit and callback records (CSV/XLSX, Chinese headers) as ONE new version.

    Parameters
    ----------
    store
        The workspace (with its customers).
    path
        ``.csv``/``.txt`` (UTF-8 or GBK) or ``.xlsx``.
    author, reason
        Who imports and why (default reason: the file's name).
    skip_bad_rows
        Store the good rows of a file with bad rows (the bad ones are reported).
    now
        The present, for the future-time check (default: the clock).
    columns, header_row, sheet, encoding
        As for :func:`gridgeo.io.read_export_table`.

    Returns
    -------
    VisitImport

    Raises
    ------
    VisitRowsError
        Bad rows and not ``skip_bad_rows``, or no good row at all: nothing stored; the
        message names the rows.
    ConflictError
        The records were saved by someone else meanwhile: nothing stored, import again.
    """
    name = Path(path).name
    table = _io.read_export_table(
        path,
        aliases=VISIT_COLUMN_ALIASES,
        required=VISIT_REQUIRED,
        what="visit-record",
        plural="visit records",
        columns=columns,
        header_row=header_row,
        sheet=sheet,
        encoding=encoding,
    )
    version = _version(store)
    new, errors = visits_from_table(table, now=now, recorded_by=author, **_context(store, table))
    if len(errors) and not skip_bad_rows:
        msg = "\n".join(
            [
                f"{name} 有 {len(errors)} 处错误，未保存任何记录 / {len(errors)} row error(s), "
                "nothing stored: fix the rows (or import the good rows with --skip-bad-rows)",
                *error_lines(errors),
            ]
        )
        raise VisitRowsError(msg, errors)
    if not len(new):
        msg = "\n".join(
            [
                f"{name} 没有可导入的记录 / no good rows to import, nothing stored",
                *error_lines(errors),
            ]
        )
        raise VisitRowsError(msg, errors)
    before = (
        set() if version is None else set(store.read_rows(VISIT_LAYER, new[VISIT_KEY])[VISIT_KEY])
    )
    try:
        saved = _save(
            store, new, version, author=author, reason=reason or f"导入走访记录 import {name}"
        )
    except ConflictError as exc:
        msg = (
            f"走访记录在导入期间被他人修改，未保存 / the visit records changed while {name} was "
            "imported; nothing stored: import the file again."
        )
        raise ConflictError(msg) from exc
    ids = new[VISIT_KEY].tolist()
    return VisitImport(
        version=saved,
        added=[i for i in ids if i not in before],
        filled=[i for i in ids if i in before],
        errors=errors,
    )


def _fields_table(fields: Mapping[str, Any]) -> pd.DataFrame:
    unknown = sorted(set(fields) - set(VISIT_COLUMN_ALIASES))
    if unknown:
        msg = (
            f"走访记录字段无效 / unknown visit field(s) {unknown!r}; fields: "
            f"{', '.join(VISIT_COLUMN_ALIASES)}."
        )
        raise InputError(msg)
    row: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            row[name] = ""
        elif isinstance(value, (pd.Timestamp, dt.datetime)):
            stamp = pd.Timestamp(value)
            row[name] = stamp.isoformat() if stamp.tzinfo is not None else str(stamp)
        else:
            row[name] = str(value)
    for name in VISIT_REQUIRED:
        row.setdefault(name, "")
    row["file_line"] = 1
    return pd.DataFrame([row])


def record_visit(
    store: GeoPackageStore,
    fields: Mapping[str, Any],
    *,
    author: str,
    reason: str | None = None,
    raise_order: str | None = None,
    order_id: str | None = None,
    now: Any = None,
) -> gpd.GeoDataFrame:
    """Record one visit or callback (checked as an imported row), as a new version.

    Parameters
    ----------
    store
        The workspace.
    fields
        The record's fields (names of :data:`VISIT_COLUMN_ALIASES`; ``visit_id``, ``kind``,
        ``customer_id``, ``done_at``, ``outcome`` and ``member`` required); codes or
        Chinese words, the time as text (China time) or a timezone-aware datetime.
    author, reason
        Who records it and why.
    raise_order
        ``fault`` (故障报修) or ``complaint`` (投诉): the visit raises a work order of this
        kind for the customer (:func:`gridgeo.orders.create_order`, source 网格员, reported
        at the visit's time), whose number is kept in the record's ``order_id``.
    order_id
        The new order's number (default ``ZF`` + the record id).
    now
        The present, for the future-time check (default: the clock).

    Returns
    -------
    geopandas.GeoDataFrame
        The stored record (one row).

    Raises
    ------
    VisitRowsError
        A field is wrong or the id is taken (nothing stored).
    InputError
        ``raise_order`` is not a kind a visit may raise.
    ConflictError
        The records keep changing while saving (nothing stored).
    """
    from gridgeo.orders import KIND_WORDS as ORDER_KIND_WORDS

    visit_id = str(fields.get("visit_id", "")).strip()
    kind = None
    if raise_order is not None:
        kind = ORDER_KIND_WORDS.get(str(raise_order).strip().lower())
        if kind not in RAISED_ORDER_KINDS:
            msg = (
                f"`raise_order` {raise_order!r}: a visit raises a 故障报修 (fault) or 投诉 "
                "(complaint) work order"
            )
            raise InputError(msg)
        if fields.get("order_id"):
            msg = "give `order_id` (an existing order) or `raise_order` (a new one), not both"
            raise InputError(msg)
    table = _fields_table(fields)
    for _attempt in range(5):
        version = _version(store)
        new, errors = visits_from_table(
            table, now=now, recorded_by=author, **_context(store, table)
        )
        if len(errors):
            parts = [f"{r.field} {r.value!r}: {r.problem}" for r in errors.itertuples(index=False)]
            msg = f"走访记录 {visit_id} 有误 / visit record {visit_id!r}: " + "; ".join(parts)
            raise VisitRowsError(msg, errors)
        why = reason or f"记录走访 record visit {visit_id}"
        if kind is not None:
            # the record is checked first, so a bad record raises no order
            number = order_id or f"ZF{visit_id}"
            row = new.iloc[0]
            create_order(
                store,
                {
                    "order_id": number,
                    "kind": kind,
                    "source": "grid_member",
                    "customer_id": row["customer_id"],
                    "reported_at": row["done_at"],
                    "member": row["member"],
                },
                author=author,
                reason=f"走访发现 raised by visit {visit_id}",
            )
            new["order_id"] = number
            kind = None  # raised once, even if the record's save is retried
        try:
            _save(store, new, version, author=author, reason=why)
        except ConflictError:
            logger.info("visit %s: the records changed meanwhile, saving again", visit_id)
            table = _fields_table({**fields, "order_id": new["order_id"].iloc[0]})
            continue
        return new
    msg = f"走访记录保存冲突 / visit {visit_id!r} not saved: the records keep changing; try again."
    raise ConflictError(msg)


def read_visits(
    store: GeoPackageStore,
    *,
    member: str | None = None,
    grid: str | None = None,
    kind: str | None = None,
    start: Any = None,
    end: Any = None,
) -> gpd.GeoDataFrame:
    """The stored records (and planned visits), filtered; empty if none are stored.

    Parameters
    ----------
    store
        The workspace.
    member
        The grid member's name.
    grid
        A grid id of any tier.
    kind
        ``home`` / 家访 or ``callback`` / 电话回访.
    start, end
        Made at or after ``start`` and before ``end`` (China time text such as
        ``2027-01-01``, or timezone-aware); planned visits have no time and are left out
        by either.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`VISIT_COLUMNS` and the point, sorted by ``visit_id``.

    Raises
    ------
    InputError
        A filter is not valid.
    """
    if _version(store) is None:
        visits = _as_layer(pd.DataFrame(columns=list(VISIT_COLUMNS)))
    else:
        visits = _as_layer(store.read(VISIT_LAYER))
    keep = np.ones(len(visits), dtype=bool)
    if member:
        keep &= (visits["member"] == str(member).strip()).to_numpy()
    if grid:
        keep &= (visits[list(_GRID_TIERS)] == str(grid)).any(axis=1).to_numpy()
    if kind:
        code = KIND_WORDS.get(str(kind).strip().lower())
        if code is None:
            msg = f"`kind` {kind!r} is unknown; use one of {_choices(VISIT_KINDS)}."
            raise InputError(msg)
        keep &= (visits["kind"] == code).to_numpy()
    for name, value, after in (("start", start, True), ("end", end, False)):
        if value is None or value == "":
            continue
        when, bad = _parse_times(pd.Series([value]))
        if bad.any() or when.isna().all():
            msg = f"`{name}` {value!r} is not a time; write it like 2027-01-01 or 2027-01-01 08:00."
            raise InputError(msg)
        t = when.iloc[0]
        done = visits["done_at"]
        keep &= ((done >= t) if after else (done < t)).fillna(False).to_numpy(dtype=bool)
    return visits.loc[keep].reset_index(drop=True)


def visit_history(store: GeoPackageStore, visit_id: str) -> pd.DataFrame:
    """Every stored state of one record, oldest first, with ``version``, ``author``,
    ``created_at`` and ``reason`` (:meth:`~gridgeo.store.Store.row_history`).

    Raises
    ------
    NotFoundError
        The record was never stored.
    """
    states = store.row_history(VISIT_LAYER, str(visit_id)) if _version(store) is not None else None
    if states is None or not len(states):
        msg = f"没有此走访记录 / no visit record {visit_id!r} in the workspace."
        raise NotFoundError(msg)
    return pd.DataFrame(states.drop(columns=states.geometry.name))


# ------------------------------------------------------------------ who answers for whom


def _quarter(quarter: Any, year: int | None = None) -> tuple[str, pd.Timestamp, pd.Timestamp]:
    """A quarter label (``2027-Q1``), its start and end (China time)."""
    label = (
        f"{int(year)}-Q{int(quarter)}"
        if year is not None and str(quarter).isdigit()
        else str(quarter)
    )
    try:
        start, end = period_bounds(label, "quarter")
    except InputError as exc:
        msg = f"季度无法识别 / `quarter` {quarter!r} is not a quarter: write it like 2027-Q1"
        raise InputError(msg) from exc
    if year is not None and start.year != int(year):
        msg = f"`quarter` {quarter!r} is not in `year` {year!r}: give a quarter of that year"
        raise InputError(msg)
    return label.strip(), start, end


def _customers_and_members(store: GeoPackageStore) -> gpd.GeoDataFrame:
    """The customers with the member who answers for each (``member``, "" if none)."""
    if "customers" not in store.layers() or "grids" not in store.layers():
        msg = (
            f"工作区 {store.path.name!r} 没有客户或网格 / workspace has no customers or grids: "
            "build the workspace first (gridgeo demo / gridgeo customers import)"
        )
        raise NotFoundError(msg)
    customers = store.read("customers")
    grids = store.read("grids")
    tier3 = grids[pd.to_numeric(grids["tier"], errors="coerce") == 3]
    pairs = pd.DataFrame(
        {"grid_id": _text(tier3["grid_id"]).to_numpy(), "member": split_members(tier3["members"])}
    ).explode("member")
    pairs = pairs.dropna(subset=["member"])
    pairs = pairs[pairs["member"] != ""]
    per = pairs.groupby("member", sort=True)["grid_id"].agg(sorted)
    members = pd.DataFrame({"member": per.index, "grid_ids": per.to_numpy()})
    out = customers.copy()
    out["customer_id"] = _ids(out["customer_id"]).to_numpy()
    for column in (*_GRID_TIERS, "village"):
        out[column] = _text(out[column]) if column in out else ""
    out["member"] = assign_members(out, members) if len(members) else ""
    return out


def _done(visits: pd.DataFrame, kind: str) -> pd.DataFrame:
    mine = visits[(visits["kind"] == kind).to_numpy() & (visits["outcome"] == "done").to_numpy()]
    return mine[mine["done_at"].notna().to_numpy()]


def _rounds(year: int, visits_per_year: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The year's visit rounds (as :mod:`gridgeo.visits` plans them), China time."""
    months = 12 // visits_per_year
    out = []
    for k in range(visits_per_year):
        first = pd.Timestamp(year=year, month=1 + k * months, day=1, tz=TIMEZONE)
        out.append((first, first + pd.DateOffset(months=months)))
    return out


@dataclasses.dataclass(frozen=True)
class VisitCoverage:
    """Visit coverage of a year and quarter (:func:`visit_coverage`).

    Attributes
    ----------
    year, quarter
        The year and the quarter label (``2027-Q1``).
    as_of
        The moment the figures are counted at (China time).
    by_grid
        One row per tier-3 grid: ``grid_id``, ``customers``, ``two_visits`` (customers with
        ``visits_per_year`` done home visits in the year so far), ``two_visits_share``,
        ``called`` (a done callback this quarter), ``called_share``, ``overdue_visits``,
        ``overdue_callbacks``.
    by_member
        The same per member (``member``, ``grid_ids``).
    overdue
        One row per customer behind: ``customer_id``, ``member``, ``grid_t1..3``,
        ``village``, ``missing_rounds`` (the ended rounds without a done home visit, e.g.
        ``1``), ``callback_overdue`` (the quarter ended without a done callback),
        ``last_visit_at``, ``last_callback_at``.
    """

    year: int
    quarter: str
    as_of: pd.Timestamp
    by_grid: pd.DataFrame
    by_member: pd.DataFrame
    overdue: pd.DataFrame

    def lines(self) -> list[str]:
        """A summary in Chinese with English."""
        total = int(self.by_grid["customers"].sum())
        two = int(self.by_grid["two_visits"].sum())
        called = int(self.by_grid["called"].sum())
        share = (lambda k: f"{k / total:.1%}") if total else (lambda k: "-")
        return [
            f"走访覆盖 / visit coverage {self.year} {self.quarter} "
            f"(截至 as of {self.as_of.strftime('%Y-%m-%d %H:%M')})",
            f"  全年两次家访 / two home visits this year: {two:,}/{total:,} ({share(two)})",
            f"  本季度电话回访 / called back this quarter: {called:,}/{total:,} ({share(called)})",
            f"  逾期 / overdue customers: {len(self.overdue):,}",
        ]


def visit_coverage(
    store: GeoPackageStore,
    year: int,
    quarter: int | str,
    *,
    as_of: Any = None,
    visits_per_year: int = 2,
) -> VisitCoverage:
    """Per grid and member: the share of customers with two visits this year and with a
    callback this quarter, and who is overdue.

    Only records with outcome ``done`` count. The figures are counted at ``at`` = the
    earlier of ``as_of`` and the end of the quarter: home visits done from 1 January to
    ``at``, callbacks done from the quarter's start to ``at``. A customer is overdue for a
    visit round (the year cut into ``visits_per_year`` rounds of equal months, as plans are
    made) that has ended by ``at`` with no done home visit in it, and overdue for the
    callback when the quarter has ended by ``as_of`` without one. Customers in no tier-3 grid
    count in no grid; those whose grid names no member count for no member.

    Parameters
    ----------
    store
        The workspace (customers, grids; visit records if any).
    year
        The year.
    quarter
        1..4, or a label such as ``2027-Q1`` (of ``year``).
    as_of
        When the figures are counted (default: now), China time if naive.
    visits_per_year
        The home visits each customer is due a year.

    Returns
    -------
    VisitCoverage

    Raises
    ------
    InputError
        A quarter that is not one of the year, a bad ``as_of``.
    NotFoundError
        The workspace has no customers or grids.
    """
    label, q_start, q_end = _quarter(quarter, year)
    moment = _moment(as_of)
    at = min(moment, q_end)
    customers = _customers_and_members(store)
    visits = read_visits(store)
    y_start = pd.Timestamp(year=int(year), month=1, day=1, tz=TIMEZONE)
    cid = customers["customer_id"].to_numpy(dtype=object)

    home = _done(visits, "home")
    home = home[((home["done_at"] >= y_start) & (home["done_at"] < at)).to_numpy()]
    n_home = home["customer_id"].value_counts().reindex(cid, fill_value=0).to_numpy()
    calls = _done(visits, "callback")
    in_q = calls[((calls["done_at"] >= q_start) & (calls["done_at"] < at)).to_numpy()]
    called = np.isin(cid, in_q["customer_id"].to_numpy(dtype=object))
    # the ended rounds without a done home visit, as text ("1", "1、2"), one pass per round
    missing = np.full(len(cid), "", dtype=object)
    for k, (r_start, r_end) in enumerate(_rounds(int(year), visits_per_year), start=1):
        if r_end > at:
            continue
        seen = home[((home["done_at"] >= r_start) & (home["done_at"] < r_end)).to_numpy()]
        miss = ~np.isin(cid, seen["customer_id"].to_numpy(dtype=object))
        missing = np.where(miss, np.where(missing == "", str(k), missing + f"、{k}"), missing)
    callback_overdue = ~called & (q_end <= moment)
    table = pd.DataFrame(
        {
            "customer_id": cid,
            "member": customers["member"].to_numpy(dtype=object),
            **{c: customers[c].to_numpy(dtype=object) for c in (*_GRID_TIERS, "village")},
            "two_visits": n_home >= visits_per_year,
            "called": called,
            "overdue_visit": missing != "",
            "callback_overdue": callback_overdue,
        }
    )

    def per(column: str) -> pd.DataFrame:
        part = table[table[column] != ""]
        out = part.groupby(column, sort=True).agg(
            customers=("customer_id", "size"),
            two_visits=("two_visits", "sum"),
            called=("called", "sum"),
            overdue_visits=("overdue_visit", "sum"),
            overdue_callbacks=("callback_overdue", "sum"),
        )
        out.insert(2, "two_visits_share", out["two_visits"] / out["customers"])
        out.insert(4, "called_share", out["called"] / out["customers"])
        return out.reset_index()

    by_grid = per("grid_t3").rename(columns={"grid_t3": "grid_id"})
    by_member = per("member")
    grids_of = (
        table[table["member"] != ""].groupby("member")["grid_t3"].agg(lambda g: sorted(set(g)))
    )
    by_member.insert(1, "grid_ids", by_member["member"].map(grids_of))

    last_home = _last(visits, "home", at)
    last_call = _last(visits, "callback", at)
    behind = table["overdue_visit"].to_numpy() | table["callback_overdue"].to_numpy()
    overdue = table.loc[behind, ["customer_id", "member", *_GRID_TIERS, "village"]].copy()
    overdue["missing_rounds"] = missing[behind]
    overdue["callback_overdue"] = table.loc[behind, "callback_overdue"].to_numpy()
    overdue["last_visit_at"] = overdue["customer_id"].map(last_home)
    overdue["last_callback_at"] = overdue["customer_id"].map(last_call)
    overdue = overdue.sort_values(["member", "customer_id"], kind="stable").reset_index(drop=True)
    return VisitCoverage(
        year=int(year),
        quarter=label,
        as_of=at.tz_convert(TIMEZONE),
        by_grid=by_grid,
        by_member=by_member,
        overdue=overdue,
    )


def _moment(value: Any) -> pd.Timestamp:
    if value is None:
        return pd.Timestamp.now(tz=TIMEZONE)
    when, bad = _parse_times(pd.Series([value]))
    if bad.any() or when.isna().all():
        msg = f"`as_of` {value!r} is not a time; write it like 2027-03-31 18:00."
        raise InputError(msg)
    return when.iloc[0].tz_convert(TIMEZONE)


def _last(visits: pd.DataFrame, kind: str, before: pd.Timestamp) -> pd.Series:
    """The last done record of ``kind`` per customer before ``before``, China time text."""
    done = _done(visits, kind)
    done = done[(done["done_at"] < before).to_numpy()]
    last = done.groupby("customer_id")["done_at"].max()
    return last.dt.tz_convert(TIMEZONE).dt.strftime("%Y-%m-%d %H:%M")


def callbacks_due(
    store: GeoPackageStore,
    quarter: str,
    *,
    member: str | None = None,
    as_of: Any = None,
    recent_days: int = RECENT_ORDER_DAYS,
) -> pd.DataFrame:
    """The quarter's call list: per member, the customers not yet called back this quarter.

    A customer is called when a callback with outcome ``done`` is recorded in the quarter;
    attempts (无法接通 ...) leave them on the list, counted in ``attempts``. Per member, first
    the customers with an open work order (no ``closed_at``) or one reported within
    ``recent_days`` days before ``as_of`` (``urgent``), then the others; within each, by
    customer id. Every row carries the questions to ask (:data:`CALLBACK_QUESTIONS`).

    Parameters
    ----------
    store
        The workspace.
    quarter
        ``2027-Q1``.
    member
        One member's list (default: every member's).
    as_of
        The moment the list is made (default: now; China time if naive).
    recent_days
        How recent an order makes a callback urgent.

    Returns
    -------
    pandas.DataFrame
        ``member``, ``grid_t3``, ``customer_id``, ``name``, ``phone``, ``address``,
        ``village``, ``urgent``, ``open_orders`` and ``recent_orders`` (order numbers joined
        by ``、``), ``attempts``, ``last_attempt_at`` (China time), ``questions``.

    Raises
    ------
    InputError
        A quarter that is not understood, or a member nobody of the roster is called.
    """
    _, q_start, q_end = _quarter(quarter)
    moment = _moment(as_of)
    customers = _customers_and_members(store)
    customers = customers[customers["member"] != ""]
    if member is not None:
        name = str(member).strip()
        if not (customers["member"] == name).any():
            known = sorted(set(customers["member"]))
            msg = (
                f"没有此网格员 / no grid member {member!r} answers for customers: use a name of "
                f"the grids' roster, e.g. {known[:3]!r}"
            )
            raise InputError(msg)
        customers = customers[customers["member"] == name]
    visits = read_visits(store)
    calls = visits[(visits["kind"] == "callback").to_numpy()]
    calls = calls[((calls["done_at"] >= q_start) & (calls["done_at"] < q_end)).to_numpy()]
    called = set(calls.loc[(calls["outcome"] == "done").to_numpy(), "customer_id"])
    due = customers[~customers["customer_id"].isin(called).to_numpy()]
    attempts = calls["customer_id"].value_counts()
    last_attempt = (
        calls.groupby("customer_id")["done_at"]
        .max()
        .dt.tz_convert(TIMEZONE)
        .dt.strftime("%Y-%m-%d %H:%M")
    )

    orders = read_orders(store)
    ids = due["customer_id"].to_numpy(dtype=object)
    open_ids = pd.Series("", index=ids, dtype=object)
    recent_ids = pd.Series("", index=ids, dtype=object)
    if len(orders):
        mine = orders[orders["customer_id"].isin(set(ids)).to_numpy()]
        mine = mine[(mine["reported_at"] <= moment).fillna(False).to_numpy(dtype=bool)]
        is_open = mine["closed_at"].isna().to_numpy()
        recent = (mine["reported_at"] >= moment - pd.Timedelta(days=recent_days)).to_numpy()

        def joined(rows: pd.DataFrame) -> pd.Series:
            return rows.groupby("customer_id")["order_id"].agg(lambda o: "、".join(sorted(o)))

        open_ids = joined(mine[is_open]).reindex(ids).fillna("")
        recent_ids = joined(mine[recent]).reindex(ids).fillna("")
    out = pd.DataFrame(
        {
            "member": due["member"].to_numpy(dtype=object),
            "grid_t3": due["grid_t3"].to_numpy(dtype=object),
            "customer_id": ids,
            **{
                c: (_text(due[c]).to_numpy(dtype=object) if c in due else "")
                for c in ("name", "phone", "address", "village")
            },
            "open_orders": open_ids.to_numpy(dtype=object),
            "recent_orders": recent_ids.to_numpy(dtype=object),
        }
    )
    out["urgent"] = (out["open_orders"] != "") | (out["recent_orders"] != "")
    out["attempts"] = out["customer_id"].map(attempts).fillna(0).astype(np.int64)
    out["last_attempt_at"] = out["customer_id"].map(last_attempt).astype(object).fillna("")
    out["questions"] = "；".join(CALLBACK_QUESTIONS)
    out = out.sort_values(
        ["member", "urgent", "customer_id"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)
    columns = ["member", "grid_t3", "customer_id", "name", "phone", "address", "village",
               "urgent", "open_orders", "recent_orders", "attempts", "last_attempt_at",
               "questions"]  # fmt: skip
    return out[columns]
