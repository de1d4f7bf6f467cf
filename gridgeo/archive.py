"""The customer archive (客户资料档案): customers geocoded, put into grids, kept current.

Every grid keeps a complete, current archive of its customers. This module
turns a company's customer file into the workspace's ``customers`` layer and
back out as the per-grid archive:

- :func:`locate_customers` geocodes a customer table offline
  (:func:`gridgeo.geocode.geocode_customers`) and assigns every located
  customer to its grid on each tier (:func:`gridgeo.grids.assign_to_grids`);
- :func:`import_customers` reads a CSV/XLSX file, does the above and saves the
  result as a new version of the ``customers`` layer, keyed by
  ``customer_id``: re-importing an updated file updates the archive without
  duplicating anybody and reports what changed;
- :func:`customers_per_grid` counts the customers of every grid: THE count of
  "a grid's customers" that every output (CLI, summary, archive, API, map) shows.
  A customer belongs to the grid that contains its located position, or for a position
  just outside every grid (at most 500 m) the grid of its village or the nearest grid (the
  grid id columns ``grid_t1``/``grid_t2``/``grid_t3`` set when customers are assigned,
  :func:`grid_of_customers`); customers with no position or farther outside every grid are
  :data:`NOT_LOCATED` (未定位), a row of their own, and part of the county total;
- :func:`archive_summary` counts customers per grid by category, HV/LV,
  vulnerable households and not-located customers;
- :func:`match_rate_table` is the geocoding quality table;
- :func:`export_archive` writes a CSV and an XLSX file per tier-3 grid and one
  workbook per tier-2 grid.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xlsxwriter

from gridgeo import geocode as _geocode
from gridgeo import grids as _grids
from gridgeo.errors import DuplicateIdError, InputError, MissingColumnError
from gridgeo.io import normalise_customer_values, read_customer_file

__all__ = [
    "ARCHIVE_INPUT_COLUMNS",
    "CUSTOMER_LAYER",
    "EXCEL_CSV_SUFFIX",
    "GRID_ID_COLUMNS",
    "NOT_LOCATED",
    "ImportReport",
    "archive_summary",
    "customers_per_grid",
    "excel_csv_frame",
    "export_archive",
    "grid_of_customers",
    "import_customers",
    "locate_customers",
    "mask_phone_numbers",
    "match_rate_table",
    "with_customer_counts",
]

logger = logging.getLogger(__name__)

CUSTOMER_LAYER = "customers"
ID_COLUMN = "customer_id"
# What a company's customer file holds; only customer_id and address are required.
ARCHIVE_INPUT_COLUMNS: dict[str, Any] = {
    "customer_id": "",
    "name": "",
    "address": "",
    "phone": "",
    "category": "",
    "voltage_class": "LV",
    "vulnerable": False,
    "gps_lon": np.nan,
    "gps_lat": np.nan,
    "gps_datum": "",
}
REQUIRED_INPUT = ("customer_id", "address")
LOCATED_COLUMNS = (
    "match_level",
    "confidence",
    "town_code",
    "town",
    "village_code",
    "village",
    "candidates",
    "address_reason",
    "location_source",
    "coords_conflict_address",
    "swapped_lonlat",
    "coords_outside_county",
    "reason",
    "grid_t1",
    "grid_t2",
    "grid_t3",
    "grid_reason",
)
CATEGORY_ZH = {
    "residential": "居民",
    "commercial": "商业",
    "industrial": "工业",
    "agricultural": "农业",
}
_TRUE = {"true", "1", "yes", "y", "是", "t"}
# The grid id column of each tier, set from the customer's located position
# (gridgeo.grids.assign_to_grids) when customers are located or grids are saved.
GRID_ID_COLUMNS: Mapping[int, str] = {1: "grid_t1", 2: "grid_t2", 3: "grid_t3"}
# The group of the customers in no grid (no position, or a position > 500 m outside every grid).
NOT_LOCATED = "未定位"
GRID_COUNT_COLUMNS = ("customers", "hv_customers", "lv_customers", "vulnerable")


def _normalise_input(
    table: pd.DataFrame, path: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The :data:`ARCHIVE_INPUT_COLUMNS` in stored form, and the row problems.

    See :func:`gridgeo.io.normalise_customer_values` (phones, categories, voltages,
    full-width coordinates, datums).
    """
    missing = [c for c in REQUIRED_INPUT if c not in table.columns]
    if missing:
        msg = (
            f"customer table lacks column(s) {missing!r}; columns present: "
            f"{[str(c) for c in table.columns]!r}. A customer file needs at least "
            f"{list(REQUIRED_INPUT)!r} (户号 customer_id, 地址 address)."
        )
        raise MissingColumnError(msg)
    fields = [c for c in (*ARCHIVE_INPUT_COLUMNS, "file_line") if c in table.columns]
    out, problems = normalise_customer_values(table[fields], path=path)
    return out[list(ARCHIVE_INPUT_COLUMNS)], problems


def locate_customers(
    customers: pd.DataFrame,
    gazetteer: _geocode.Gazetteer,
    grids: gpd.GeoDataFrame | None = None,
    *,
    county_area: Any = None,
) -> gpd.GeoDataFrame:
    """Geocode customers and put each located one into its grids.

    Parameters
    ----------
    customers
        A customer table with ``customer_id`` and ``address`` (and optionally
        the other :data:`ARCHIVE_INPUT_COLUMNS`: ``phone``, phone GPS in ``gps_lon``,
        ``gps_lat`` with its datum in ``gps_datum``), values as a customer file
        writes them (居民, 10kV, full-width digits, ...): they are normalised by
        :func:`gridgeo.io.normalise_customer_values`, and values that cannot be read
        (a bad phone, an unknown category) are stored empty or as written, with one
        warning.
    gazetteer
        The county's townships and villages.
    grids
        The service grids (all tiers); None leaves the grid columns empty.
    county_area
        The county boundary, to flag coordinates outside it.

    Returns
    -------
    geopandas.GeoDataFrame
        The input columns, the geocoding and grid columns
        (:data:`LOCATED_COLUMNS`) and the customer's point (EPSG:4326; None
        where it could not be located), on the input's index.
    """
    table, problems = _normalise_input(customers)
    if len(problems):
        warnings.warn(
            f"客户数据问题 / {len(problems)} customer value(s) could not be read, e.g. "
            + "; ".join(_problem_text(r) for r in problems.head(3).to_dict("records")),
            UserWarning,
            stacklevel=2,
        )
    return _locate(table, gazetteer, grids, county_area)


def _problem_text(row: Mapping[str, Any]) -> str:
    """One row problem as printed: ``line 7 户号 A1 phone '12345': ...``."""
    line = f"line {int(row['file_line'])} " if "file_line" in row else ""
    return f"{line}户号 {row['customer_id']} {row['field']} {row['value']!r}: {row['problem']}"


def _locate(
    table: pd.DataFrame,
    gazetteer: _geocode.Gazetteer,
    grids: gpd.GeoDataFrame | None,
    county_area: Any,
) -> gpd.GeoDataFrame:
    """Geocode and assign customers whose columns are already normalised."""
    located = _geocode.geocode_customers(table, gazetteer, county_area=county_area)
    if grids is not None:
        assigned = _grids.assign_to_grids(located, grids)
    else:
        assigned = pd.DataFrame(
            {
                "grid_t1": None,
                "grid_t2": None,
                "grid_t3": None,
                "grid_reason": np.where(located.geometry.isna(), "not_geocoded", "no_grids"),
            },
            index=located.index,
        )
    out = located[[*ARCHIVE_INPUT_COLUMNS, *LOCATED_COLUMNS[:13]]].copy()
    for column in assigned.columns:
        out[column] = assigned[column].to_numpy()
    return gpd.GeoDataFrame(out, geometry=located.geometry.to_numpy(), crs="EPSG:4326")


@dataclass(frozen=True)
class ImportReport:
    """What an import did to the archive."""

    version: int
    added: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # id -> changed columns
    unchanged: int = 0
    not_in_file: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    match_rates: pd.DataFrame | None = None
    # values that could not be read, one row each (file_line, customer_id, field, value, problem)
    problems: pd.DataFrame | None = None
    # False when nothing changed: no new version was written (``version`` is the current one)
    written: bool = True
    source_columns: dict[str, str] = field(default_factory=dict)  # field -> the file's header
    ignored_columns: list[str] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)
    not_stored: list[str] = field(default_factory=list)  # fields the stored layer lacks

    def lines(self, *, max_problems: int = 20) -> list[str]:
        """The report as printed by the CLI (Chinese with English)."""
        note = "" if self.written else " (未变，未写新版本 / nothing changed, no new version)"
        out = [
            f"档案版本 archive version {self.version}{note}: 新增 added {len(self.added)}, "
            f"更新 updated {len(self.updated)}, 未变 unchanged {self.unchanged}, "
            f"文件中没有 not in file {len(self.not_in_file)}, 删除 removed {len(self.removed)}"
        ]
        columns: dict[str, int] = {}
        for changed in self.updated.values():
            for column in changed:
                columns[column] = columns.get(column, 0) + 1
        if columns:
            detail = ", ".join(f"{c} {n}" for c, n in sorted(columns.items()))
            out.append(f"  updated columns: {detail}")
        renamed = {k: v for k, v in self.source_columns.items() if k != v}
        if renamed:
            pairs = ", ".join(f"{theirs}→{ours}" for ours, theirs in renamed.items())
            out.append(f"  读取的列 columns read: {pairs}")
        if self.ignored_columns:
            out.append(f"  未用的列 columns not used: {', '.join(self.ignored_columns)}")
        if [s for s in self.sheets if s]:
            out.append(f"  工作表 sheets read: {', '.join(self.sheets)}")
        if self.not_stored:
            out.append(
                f"  未保存 not stored: {', '.join(self.not_stored)} "
                "(工作区的客户图层建于此列之前 / the workspace's customers layer was made "
                "without it; import into a new "
                "workspace to keep it)"
            )
        problems = self.problems
        if problems is not None and len(problems):
            out.append(
                f"  数据问题 row problems: {len(problems)} (其余数据已导入 / the rest imported; "
                "fix the file and import again):"
            )
            rows = problems.head(max_problems).to_dict("records")
            out += [f"    {_problem_text(r)}" for r in rows]
            if len(problems) > max_problems:
                out.append(f"    ... {len(problems) - max_problems} more")
        return out


def _same_values(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Per row: equal values (numbers within 1e-9, missing equal to missing or '')."""
    numeric = [
        pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
        for s in (a, b)
    ]
    if all(numeric):
        x = pd.to_numeric(a, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        y = pd.to_numeric(b, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return np.asarray(np.isclose(x, y, rtol=0, atol=1e-9) | (np.isnan(x) & np.isnan(y)))
    x = a.astype(object).where(a.notna(), "").astype(str).to_numpy()
    y = b.astype(object).where(b.notna(), "").astype(str).to_numpy()
    return np.asarray(x == y)


def _unchanged(stored: gpd.GeoDataFrame, result: gpd.GeoDataFrame) -> bool:
    """Whether saving ``result`` would leave the stored layer as it is (both sorted by id)."""
    if len(stored) != len(result):
        return False
    ids = stored[ID_COLUMN].astype(str).to_numpy()
    if not np.array_equal(ids, result[ID_COLUMN].astype(str).to_numpy()):
        return False
    for column in result.columns:
        if column in (ID_COLUMN, result.geometry.name) or column not in stored.columns:
            continue
        a = result[column].reset_index(drop=True)
        b = stored[column].reset_index(drop=True)
        if not _same_values(a, b).all():
            return False
    ga, gb = result.geometry.to_numpy(), stored.geometry.to_numpy()
    na, nb = shapely.is_missing(ga), shapely.is_missing(gb)
    same = (na & nb) | (~na & ~nb & shapely.equals_exact(ga, gb, tolerance=1e-12))
    return bool(np.all(same))


def import_customers(
    store: Any,
    path: str | Path,
    gazetteer: _geocode.Gazetteer,
    *,
    author: str,
    reason: str,
    grids: gpd.GeoDataFrame | None = None,
    county_area: Any = None,
    replace: bool = False,
    encoding: str | None = None,
    sheet: str | int | None = None,
    all_sheets: bool = False,
    header_row: int | None = None,
    columns: Mapping[str, str] | None = None,
    option_names: Mapping[str, str] | None = None,
) -> ImportReport:
    """Import a customer file into the workspace's ``customers`` layer.

    The file is read as a marketing system (营销系统) or 95598 exports it
    (:func:`gridgeo.io.read_customer_file`: Chinese or English headers, title rows
    above the header, a two-row merged header, the sheet holding the data, ids as text)
    and checked first (missing columns, empty rows, repeated or empty ids, encodings
    such as GBK: each a clear error); its values are normalised
    (:func:`gridgeo.io.normalise_customer_values`: phones, 用电类别, 电压等级, full-width
    coordinates), values that cannot be read being row problems reported by file line
    (not fatal). It is then geocoded and assigned to grids, compared with the stored
    archive by ``customer_id`` and saved as ONE new version: nothing is written when any
    step fails, and nobody is duplicated. A file that changes nothing (same values, same
    locations and grids) writes nothing: no new version, ``written`` False. Customers
    stored but absent from the file are kept (an update file may list only some
    customers) unless ``replace=True`` says the file is the complete archive.

    Parameters
    ----------
    store
        The workspace store.
    path
        ``.csv``/``.txt`` (UTF-8 or GBK) or ``.xlsx``.
    gazetteer
        The county's townships and villages.
    author, reason
        Who imports and why (recorded with the version).
    grids
        The service grids; None leaves the grid columns empty.
    county_area
        The county boundary, to flag coordinates outside it.
    replace
        The file is the complete archive: stored customers absent from it are removed.
    encoding
        Text encoding of a CSV; None tries UTF-8 then GB18030.
    sheet, all_sheets, header_row, columns
        Which sheet(s), the header row (1-based, as Excel shows it) and the file's names
        of the fields (``{"customer_id": "编号"}``), where the defaults do not find them;
        see :func:`gridgeo.io.read_customer_file`.
    option_names
        How the caller's users set those options (e.g. ``{"sheet": "--sheet"}``), used
        in error messages.

    Returns
    -------
    ImportReport
        Added, updated (with the changed columns), unchanged, absent and
        removed customers, the version (new, or the current one when nothing
        changed), the match-rate table and the row problems.
    """
    records = read_customer_file(
        path,
        columns=columns,
        header_row=header_row,
        sheet=sheet,
        all_sheets=all_sheets,
        encoding=encoding,
        option_names=option_names,
    )
    table, problems = _normalise_input(records, path)
    located = _locate(table, gazetteer, grids, county_area)
    located.index = pd.Index(located[ID_COLUMN].to_numpy(), name=None)
    compare = list(ARCHIVE_INPUT_COLUMNS)[1:]

    if CUSTOMER_LAYER in store.layers():
        expected = store.current_version(CUSTOMER_LAYER)
        stored = store.read(CUSTOMER_LAYER)
        stored.index = pd.Index(stored[ID_COLUMN].to_numpy(), name=None)
    else:
        expected = None
        stored = located.iloc[0:0]
    # a layer made before a field was stored (phone) keeps its columns: the field is reported
    not_stored = [c for c in ARCHIVE_INPUT_COLUMNS if c not in stored.columns]
    if not_stored:
        located = located.drop(columns=not_stored)
        compare = [c for c in compare if c not in not_stored]
    new_ids = located.index.difference(stored.index, sort=False)
    common = located.index.intersection(stored.index, sort=False)
    absent = stored.index.difference(located.index, sort=False)

    updated: dict[str, list[str]] = {}
    if len(common):
        before = stored.loc[common]
        after = located.loc[common]
        for column in compare:
            same = _same_values(
                after[column].reset_index(drop=True), before[column].reset_index(drop=True)
            )
            for cid in common[~same]:
                updated.setdefault(str(cid), []).append(column)
    kept = stored.loc[absent] if not replace else stored.iloc[0:0]
    frames = [located] + ([kept[located.columns]] if len(kept) else [])
    result = gpd.GeoDataFrame(pd.concat(frames), crs="EPSG:4326")
    result = result.sort_values(ID_COLUMN, kind="stable").reset_index(drop=True)
    if "version" in result.columns:
        result = result.drop(columns="version")

    written = True
    if expected is None:
        version = store.add_layer(
            CUSTOMER_LAYER, result, key=ID_COLUMN, author=author, reason=reason
        )
    elif not (len(new_ids) or updated or (replace and len(absent))) and _unchanged(
        stored.reset_index(drop=True), result
    ):
        version, written = expected, False
        logger.info("customers: %s changes nothing, no new version", path)
    else:
        version = store.save(
            CUSTOMER_LAYER, result, expected_version=expected, author=author, reason=reason
        )
    return ImportReport(
        version=version,
        added=[str(i) for i in new_ids],
        updated=updated,
        unchanged=len(common) - len(updated),
        not_in_file=[str(i) for i in absent] if not replace else [],
        removed=[str(i) for i in absent] if replace else [],
        match_rates=match_rate_table(located),
        problems=problems,
        written=written,
        source_columns=dict(records.attrs.get("source_columns", {})),
        ignored_columns=list(records.attrs.get("ignored_columns", [])),
        sheets=list(dict.fromkeys(records["sheet"].astype(str))),
        not_stored=[c for c in not_stored if c != ID_COLUMN],
    )


def match_rate_table(customers: pd.DataFrame) -> pd.DataFrame:
    """How well the customers were located: counts and shares per outcome.

    Rows: match level (village / town / county / none), then the address
    reasons, then the location source (gps / village / town / none) and the
    coordinate flags. Columns ``what``, ``value``, ``customers``, ``share_pct``.
    """
    n = len(customers)
    parts = []
    for what in ("match_level", "address_reason", "location_source", "grid_reason"):
        if what in customers:
            counts = customers[what].fillna("none").astype(str).value_counts().sort_index()
            parts.append(
                pd.DataFrame({"what": what, "value": counts.index, "customers": counts.to_numpy()})
            )
    for flag in ("coords_conflict_address", "swapped_lonlat", "coords_outside_county"):
        if flag in customers:
            parts.append(
                pd.DataFrame(
                    {
                        "what": ["flag"],
                        "value": [flag],
                        "customers": [int(customers[flag].fillna(False).astype(bool).sum())],
                    }
                )
            )
    table = pd.concat(parts, ignore_index=True)
    table["share_pct"] = (100.0 * table["customers"] / max(n, 1)).round(2)
    return table


def _tier_column(tier: Any) -> str:
    whole = isinstance(tier, int | np.integer) and not isinstance(tier, bool)
    column = GRID_ID_COLUMNS.get(int(tier)) if whole else None
    if column is None:
        msg = f"`tier` must be 1, 2 or 3, got {tier!r}."
        raise InputError(msg)
    return column


def grid_of_customers(
    customers: pd.DataFrame, *, tier: int = 3, column: str | None = None
) -> pd.Series:
    """The grid each customer belongs to on one tier.

    This is the one definition of "the customers of a grid": a customer belongs to the grid
    that contains its located position, which is what the grid id columns ``grid_t1``,
    ``grid_t2`` and ``grid_t3`` hold (:func:`gridgeo.grids.assign_to_grids` sets them when
    customers are located, and :func:`gridgeo.workspace.save_grids` recomputes them when the
    grids change). A position outside every grid but at most
    :data:`gridgeo.grids.NEAR_BOUNDARY_M` (500 m) from them (a village point just outside the
    county line) belongs to the grid that lists the customer's village when the customer is
    placed at its village's point, else to the grid nearest to it (``grid_reason``
    ``near_boundary``). A customer with no position, or with a position farther outside every
    grid, has no grid id: it is :data:`NOT_LOCATED` (未定位), a group of its own that still
    counts in the county total.

    Parameters
    ----------
    customers
        Customers with the grid id column of ``tier`` (:data:`GRID_ID_COLUMNS`).
    tier
        1 (county), 2 (supply grid) or 3 (village grid).
    column
        The grid id column to read instead of the tier's (for tables that name it
        otherwise, as :func:`gridgeo.reach.reach_kpis` lets them).

    Returns
    -------
    pandas.Series
        Grid id (string) per customer, :data:`NOT_LOCATED` where there is none, on the
        customers' index.

    Raises
    ------
    InputError
        If ``tier`` is not 1, 2 or 3.
    MissingColumnError
        If ``customers`` lacks the tier's grid id column.
    """
    column = _tier_column(tier) if column is None else column
    if column not in customers:
        msg = (
            f"`customers` lacks {column!r}: put them into the grids first "
            "(locate_customers, import_customers or assign_to_grids)."
        )
        raise MissingColumnError(msg)
    ids = customers[column].astype("string")
    return ids.mask(ids.isna() | (ids.str.strip() == ""), NOT_LOCATED).rename(column)


def customers_per_grid(
    customers: pd.DataFrame, grids: pd.DataFrame | None = None, *, tier: int = 3
) -> pd.DataFrame:
    """How many customers each grid of one tier has, by :func:`grid_of_customers`.

    Every output that shows a grid's customers (the CLI tables, the Chinese summary, the
    archive, the API, the map) counts with this function, so they agree.

    Parameters
    ----------
    customers
        Customers with the tier's grid id column, ``voltage_class`` (``HV``/``LV``) and
        ``vulnerable``.
    grids
        The grids (``grid_id``, ``tier``): each grid of ``tier`` gets a row, zero when it has
        no customer. None lists the grids the customers are in.
    tier
        1, 2 or 3.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``grid_id`` (sorted), then the row :data:`NOT_LOCATED` (always present, zero
        when every customer is in a grid); columns ``customers``, ``hv_customers``,
        ``lv_customers`` and ``vulnerable``. The ``customers`` column adds up to
        ``len(customers)``, the county total.

    Raises
    ------
    InputError
        If ``tier`` is not 1, 2 or 3.
    MissingColumnError
        If a needed column is missing.
    """
    grid = grid_of_customers(customers, tier=tier)
    missing = [c for c in ("voltage_class", "vulnerable") if c not in customers]
    if missing:
        msg = f"`customers` lacks column(s) {missing!r} needed to count them per grid."
        raise MissingColumnError(msg)
    hv = customers["voltage_class"].astype("string").str.strip().str.upper().eq("HV")
    vulnerable = customers["vulnerable"].astype("boolean").fillna(False)
    frame = pd.DataFrame(
        {
            "grid_id": grid.to_numpy(dtype=object),
            "customers": 1,
            "hv_customers": hv.fillna(False).to_numpy(dtype=int),
            "vulnerable": vulnerable.to_numpy(dtype=int),
        }
    )
    counts = frame.groupby("grid_id", sort=True).sum()
    ids = set(counts.index) - {NOT_LOCATED}
    if grids is not None:
        if "grid_id" not in grids or "tier" not in grids:
            msg = "`grids` lacks `grid_id` or `tier`: pass the grids layer."
            raise MissingColumnError(msg)
        tiers = pd.to_numeric(grids["tier"], errors="coerce")
        ids |= set(grids.loc[tiers == tier, "grid_id"].astype(str))
    order = [*sorted(ids), NOT_LOCATED]
    out = counts.reindex(order, fill_value=0).astype(int)
    out["lv_customers"] = out["customers"] - out["hv_customers"]
    out.index.name = "grid_id"
    return out.loc[:, list(GRID_COUNT_COLUMNS)]


def with_customer_counts(
    grids: gpd.GeoDataFrame, counts: Mapping[int, pd.DataFrame]
) -> gpd.GeoDataFrame:
    """The grids with their count columns taken from :func:`customers_per_grid`.

    Parameters
    ----------
    grids
        Grids of any tiers (``grid_id``, ``tier``).
    counts
        Tier → the result of :func:`customers_per_grid` for that tier.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``grids`` whose ``customers``, ``hv_customers``, ``lv_customers`` and
        ``vulnerable`` are the counts (zero for a grid the table does not list; left as they
        were for a tier ``counts`` lacks).
    """
    out = grids.copy()
    tiers = pd.to_numeric(out["tier"], errors="coerce")
    ids = out["grid_id"].astype(str)
    for column in GRID_COUNT_COLUMNS:
        old = out[column] if column in out else pd.Series(np.nan, index=out.index)
        values = pd.to_numeric(old, errors="coerce").astype(float)
        for tier, table in counts.items():
            rows = tiers == tier
            values.loc[rows] = table[column].reindex(ids[rows], fill_value=0).to_numpy()
        out[column] = values.astype(int) if values.notna().all() else values
    return out


def archive_summary(customers: pd.DataFrame, *, tier: int = 3) -> pd.DataFrame:
    """Per-grid archive counts for one tier.

    Returns one row per grid id (``grid_id``) that has customers, with ``customers``, one
    column per category (``residential`` ...), ``hv``, ``lv``, ``vulnerable``,
    ``village_level`` (located to a village or by GPS) and ``not_village_level`` (town seat
    only: the address needs checking). Customers are grouped by :func:`grid_of_customers`
    (the counts are those of :func:`customers_per_grid`); customers in no grid are counted
    under grid id :data:`NOT_LOCATED` (未定位).
    """
    grid = grid_of_customers(customers, tier=tier)
    counts = customers_per_grid(customers, tier=tier)
    counts = counts.loc[counts["customers"] > 0]
    frame = pd.DataFrame(
        {
            "grid_id": grid.to_numpy(dtype=object),
            "village_level": customers["location_source"]
            .isin(["gps", "village"])
            .to_numpy(dtype=int),
        }
    )
    for cat in CATEGORY_ZH:
        frame[cat] = (customers["category"] == cat).to_numpy(dtype=int)
    out = frame.groupby("grid_id", sort=False).sum().reindex(counts.index)
    out["customers"] = counts["customers"]
    out["hv"] = counts["hv_customers"]
    out["lv"] = counts["lv_customers"]
    out["vulnerable"] = counts["vulnerable"]
    out["not_village_level"] = out["customers"] - out["village_level"]
    cols = ["customers", *CATEGORY_ZH, "hv", "lv", "vulnerable"]
    return out[[*cols, "village_level", "not_village_level"]].reset_index()


# --- the archive grid managers read (客户资料档案): Chinese headers and values ---------------

# Chinese values of the codes; the codes themselves stay in the English code columns.
VOLTAGE_ZH = {"HV": "高压", "LV": "低压"}
LOCATION_SOURCE_ZH = {"gps": "GPS定位", "village": "按村定位", "town": "按乡镇定位"}
NOT_LOCATED_ZH = "未定位"
# 定位说明: what to check about a customer's position, in this order
LOCATION_FLAGS_ZH = {
    "coords_conflict_address": "GPS与地址不符（按GPS定位，请核实）",
    "swapped_lonlat": "经纬度颠倒（坐标未采用）",
    "coords_outside_county": "坐标在县外（坐标未采用）",
}
ADDRESS_REASONS_ZH = {
    "no_village_name": "地址无村名",
    "unknown_village": "村名不在村庄名录",
    "village_in_other_town": "村属其他乡镇",
    "ambiguous": "地址有歧义",
    "county_only": "地址只有县名",
    "other_county": "外县地址",
    "no_admin_name": "地址无地名",
    "empty_address": "地址为空",
    "low_confidence": "地址匹配可信度低",
}
GRID_REASONS_ZH = {
    "near_boundary": "近县界，归入最近网格",
    "outside_grids": "位置在各网格之外",
}
LOCATION_OK_ZH = "正常"
# 抢修说明 / 缴费说明 from the access reasons (gridgeo.routing.REACH_REASONS, not_computed)
ACCESS_REASONS_ZH = {
    "ok": "",
    "over_limit": "超出时限",
    "too_far_from_road": "离道路过远",
    "isolated_road_piece": "所在道路与路网不通",
    "unreachable": "无法到达",
    "not_geocoded": "未定位",
    "not_computed": "未计算",
}
PROMISE_ZH = {True: "达标", False: "未达标"}
NOT_COMPUTED_ZH = "未计算"
SUMMARY_SHEET = "汇总"
XLSX_SHEET = "客户档案"
NOT_LOCATED_FILE = "未定位客户_not_located.csv"
# Added to a CSV's name for its copy for Excel (export_archive(..., excel_csv=True)):
# ``T3-SUB02-01_琴城镇网格1_excel.csv`` beside ``T3-SUB02-01_琴城镇网格1.csv``.
EXCEL_CSV_SUFFIX = "_excel"
# Text Excel would run as a formula when it opens a CSV; written as ="…" in the copy for Excel.
_FORMULA_START = ("=", "+", "-", "@")
# the headers of the archive, in order: Chinese for people, then the English code columns
ARCHIVE_HEADERS = (
    "户号",
    "户名",
    "地址",
    "联系电话",
    "高低压",
    "用电类别",
    "重点关怀",
    "县公司网格编号",
    "县公司网格",
    "供电网格编号",
    "供电网格",
    "村级网格编号",
    "村级网格",
    "网格长",
    "网格长电话",
    "网格员",
    "党员联络员",
    "联络员电话",
    "抢修到达(分钟)",
    "30分钟抢修",
    "抢修站",
    "抢修说明",
    "缴费用时(分钟)",
    "10分钟缴费",
    "最近缴费点",
    "缴费说明",
    "定位方式",
    "定位说明",
    "乡镇",
    "村",
    "经度(WGS84)",
    "纬度(WGS84)",
    "voltage_class",
    "category",
    "location_source",
    "location_codes",
    "repair_station_id",
    "repair_reason",
    "payment_point_id",
    "payment_reason",
)
# columns written as text whatever they hold (ids and phones: 3610230000001 is no number)
TEXT_HEADERS = (
    "户号",
    "联系电话",
    "县公司网格编号",
    "供电网格编号",
    "村级网格编号",
    "网格长电话",
    "联络员电话",
    "repair_station_id",
    "payment_point_id",
)
SUMMARY_HEADERS_ZH: Mapping[str, str] = {
    "grid_id": "网格编号",
    "customers": "客户数",
    **{cat: zh for cat, zh in CATEGORY_ZH.items()},
    "hv": "高压",
    "lv": "低压",
    "vulnerable": "重点关怀",
    "village_level": "定位到村",
    "not_village_level": "未定位到村(需核实地址)",
}
TIER_ZH = {1: "县公司", 2: "供电网格", 3: "村级网格"}
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_MOBILE = re.compile(r"(?<!\d)(1\d{2})(\d{4})(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)(\d{3,4})(\d{4})(?!\d)")
MAX_COLUMN_WIDTH = 50
_DIGIT_PIXELS = 7  # the default font's digit width: pixels per unit of column width
_XLSX_OPTIONS = {"constant_memory": False, "strings_to_numbers": False, "strings_to_urls": False}


def _text(values: Any, index: pd.Index) -> pd.Series:
    """Text per row, '' for missing values."""
    series = pd.Series(values, index=index) if not isinstance(values, pd.Series) else values
    text = series.astype(object).where(series.notna(), "").astype(str).str.strip()
    return text.replace({"nan": "", "None": "", "<NA>": ""})


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return _text(frame[name], frame.index)
    return pd.Series("", index=frame.index, dtype=object)


def _flag(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.zeros(len(frame), dtype=bool)
    values = frame[name]
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        return _text(values, frame.index).str.lower().isin(_TRUE).to_numpy()
    return values.astype("boolean").fillna(False).to_numpy(dtype=bool)


def _mask_match(match: re.Match[str]) -> str:
    return match.group(1) + "*" * len(match.group(2)) + match.group(3)


def mask_phone_numbers(values: pd.Series) -> pd.Series:
    """Mask the phone numbers in text: ``13912341234`` → ``139****1234``.

    Mainland mobiles keep their first three and last four digits; landlines keep the area
    code and the last four digits (``0794-7123456`` → ``0794-***3456``). Numbers inside a
    longer text (an address with a phone in it) are masked too; longer digit runs (an 18-digit
    ID number, a 13-digit customer number) are not phone numbers and are left alone.

    Parameters
    ----------
    values
        Text (missing values are kept as they are).

    Returns
    -------
    pandas.Series
        The masked text, on the same index.
    """

    def one(text: str) -> str:
        return _LANDLINE.sub(_mask_match, _MOBILE.sub(_mask_match, text))

    text = values.astype(object)
    present = text.notna()
    unique = pd.unique(text[present].astype(str))
    lookup = {v: one(v) for v in unique}
    return text.where(~present, text[present].astype(str).map(lookup))


def _minutes(eta_s: pd.Series) -> np.ndarray:
    """Seconds → minutes rounded UP to 0.1 min, so a shown 30.0 keeps the 30-minute promise.

    The division is rounded to 1e-6 first so that 1,800 s stored as 1799.9999999 is 30.0,
    not 30.1.
    """
    seconds = pd.to_numeric(eta_s, errors="coerce").to_numpy(dtype=float)
    return np.ceil(np.round(seconds / 6.0, 6)) / 10.0


def _aligned(table: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """``table`` row per customer: by ``customer_id`` when both have it, else by index."""
    if ID_COLUMN in table and ID_COLUMN in customers:
        keys = table[ID_COLUMN].astype(str)
        if keys.duplicated().any():
            twice = keys[keys.duplicated()].unique().tolist()[:5]
            msg = f"`access` has more than one row for customer(s) {twice!r}."
            raise DuplicateIdError(msg)
        out = (
            pd.DataFrame(table)
            .set_axis(keys.to_numpy())
            .reindex(customers[ID_COLUMN].astype(str).to_numpy())
        )
        found = pd.Index(keys.to_numpy()).get_indexer(customers[ID_COLUMN].astype(str)) >= 0
    else:
        out = pd.DataFrame(table).reindex(customers.index)
        found = customers.index.isin(table.index)
    out.index = customers.index
    return out.assign(_found=found)


def _names_of(table: pd.DataFrame | None, id_column: str) -> dict[str, str]:
    if table is None or id_column not in table:
        return {}
    names = _column(table, "name") if "name" in table else _column(table, id_column)
    ids = _column(table, id_column)
    return {i: n or i for i, n in zip(ids, names, strict=True)}


def _service_columns(
    customers: pd.DataFrame,
    access: pd.DataFrame | None,
    repair_stations: pd.DataFrame | None,
    payment_points: pd.DataFrame | None,
) -> dict[str, Any]:
    """30分钟抢修 and 10分钟缴费 columns per customer (未计算 without an access row)."""
    index = customers.index
    if access is None:
        table = pd.DataFrame(index=index).assign(_found=False)
    else:
        table = _aligned(access, customers)
    found = table["_found"].to_numpy(dtype=bool)
    out: dict[str, Any] = {}
    services = (
        ("repair", "repair_station_id", repair_stations, "station_id"),
        ("payment", "payment_point_id", payment_points, "point_id"),
    )
    headers = {
        "repair": ("抢修到达(分钟)", "30分钟抢修", "抢修站", "抢修说明"),
        "payment": ("缴费用时(分钟)", "10分钟缴费", "最近缴费点", "缴费说明"),
    }
    for service, id_column, places, place_id in services:
        eta, flag, place, note = headers[service]
        ok = _flag(table, f"{service}_ok") & found
        ids = _column(table, id_column).where(found, "")
        reason = _column(table, f"{service}_reason").where(found, "not_computed")
        reason = reason.mask(reason.eq("") & ok, "ok").mask(reason.eq(""), "not_computed")
        minutes = _minutes(table[f"{service}_eta_s"]) if f"{service}_eta_s" in table else None
        out[eta] = np.full(len(index), np.nan) if minutes is None else minutes
        out[flag] = np.where(
            found, np.where(ok, PROMISE_ZH[True], PROMISE_ZH[False]), NOT_COMPUTED_ZH
        )
        names = _names_of(places, place_id)
        out[place] = ids.map(lambda i, names=names: names.get(i, i)).to_numpy(dtype=object)
        out[note] = reason.map(lambda r: ACCESS_REASONS_ZH.get(r, r)).to_numpy(dtype=object)
        out[f"{service}_reason"] = reason.to_numpy(dtype=object)
        out[id_column] = ids.to_numpy(dtype=object)
    return out


def _location_notes(customers: pd.DataFrame, located: np.ndarray) -> tuple[Any, Any]:
    """定位说明 (Chinese) and ``location_codes`` (the codes joined by ``|``) per customer."""
    n = len(customers)
    notes = np.full(n, "", dtype=object)
    codes = np.full(n, "", dtype=object)

    def add(mask: np.ndarray, note: Any, code: Any) -> None:
        nonlocal notes, codes
        sep_n = np.where(notes == "", "", "；")
        sep_c = np.where(codes == "", "", "|")
        notes = np.where(mask, notes + sep_n + note, notes)
        codes = np.where(mask, codes + sep_c + code, codes)

    for flag, text in LOCATION_FLAGS_ZH.items():
        add(_flag(customers, flag), text, flag)
    reason = _column(customers, "address_reason")
    candidates = _column(customers, "candidates").to_numpy(dtype=object)
    listed = np.where(candidates == "", "", "（候选：" + candidates + "）")
    zh = reason.map(lambda r: ADDRESS_REASONS_ZH.get(r, r)).to_numpy(dtype=object)
    add((reason != "ok").to_numpy() & (reason != "").to_numpy(), zh + listed, reason.to_numpy())
    grid_reason = _column(customers, "grid_reason")
    for code, text in GRID_REASONS_ZH.items():
        add((grid_reason == code).to_numpy(), text, code)
    add(~located & (notes == ""), NOT_LOCATED_ZH, "not_geocoded")
    empty = notes == ""
    notes[empty] = LOCATION_OK_ZH
    codes[empty] = "ok"
    return notes, codes


def _roster_of(grids: pd.DataFrame, ids: pd.Series) -> dict[str, np.ndarray]:
    """The tier-3 grid's people and phones per customer ('' where the grid has none)."""
    keys = _column(grids, "grid_id").to_numpy()
    out = {}
    for column, header in (
        ("manager", "网格长"),
        ("phone", "网格长电话"),
        ("members", "网格员"),
        ("liaison", "党员联络员"),
        ("liaison_phone", "联络员电话"),
    ):
        values = pd.Series(_column(grids, column).to_numpy(), index=keys)
        values = values[~values.index.duplicated()]
        out[header] = values.reindex(ids.to_numpy()).fillna("").to_numpy(dtype=object)
    return out


def _export_frame(
    customers: pd.DataFrame,
    grids: pd.DataFrame | None = None,
    *,
    access: pd.DataFrame | None = None,
    repair_stations: pd.DataFrame | None = None,
    payment_points: pd.DataFrame | None = None,
    mask_phones: bool = False,
) -> pd.DataFrame:
    """One archive row per customer with :data:`ARCHIVE_HEADERS`, on the customers' index."""
    index = customers.index
    grids = pd.DataFrame(columns=["grid_id", "name"]) if grids is None else grids
    names = dict(zip(_column(grids, "grid_id"), _column(grids, "name"), strict=True))
    voltage = _column(customers, "voltage_class").str.upper()
    category = _column(customers, "category")
    source = _column(customers, "location_source")
    geometry = customers.geometry if isinstance(customers, gpd.GeoDataFrame) else None
    has_point = (
        np.zeros(len(index), dtype=bool)
        if geometry is None
        else (~(geometry.isna() | geometry.is_empty)).to_numpy()
    )
    located = has_point & source.isin(list(LOCATION_SOURCE_ZH)).to_numpy()
    lon = np.full(len(index), np.nan)
    lat = np.full(len(index), np.nan)
    if geometry is not None and has_point.any():
        lon[has_point] = np.round(geometry[has_point].x.to_numpy(), 6)
        lat[has_point] = np.round(geometry[has_point].y.to_numpy(), 6)
    tiers = {
        tier: grid_of_customers(customers, tier=tier).astype(object)
        if GRID_ID_COLUMNS[tier] in customers
        else pd.Series(NOT_LOCATED, index=index, dtype=object)
        for tier in GRID_ID_COLUMNS
    }
    tier_ids = {t: ids.where(ids != NOT_LOCATED, "") for t, ids in tiers.items()}
    notes, codes = _location_notes(customers, located)
    columns: dict[str, Any] = {
        "户号": _column(customers, ID_COLUMN),
        "户名": _column(customers, "name"),
        "地址": _column(customers, "address"),
        "联系电话": _column(customers, "phone"),
        "高低压": voltage.map(lambda v: VOLTAGE_ZH.get(v, v)),
        "用电类别": category.map(lambda c: CATEGORY_ZH.get(c, c)),
        "重点关怀": np.where(_flag(customers, "vulnerable"), "是", "否"),
    }
    for tier, (id_header, name_header) in {
        1: ("县公司网格编号", "县公司网格"),
        2: ("供电网格编号", "供电网格"),
        3: ("村级网格编号", "村级网格"),
    }.items():
        columns[id_header] = tier_ids[tier]
        columns[name_header] = tier_ids[tier].map(lambda g: names.get(g, "") if g else "")
    columns.update(_roster_of(grids, tier_ids[3]))
    columns.update(_service_columns(customers, access, repair_stations, payment_points))
    columns["定位方式"] = np.where(
        located, source.map(lambda s: LOCATION_SOURCE_ZH.get(s, s)), NOT_LOCATED_ZH
    )
    columns["定位说明"] = notes
    columns["乡镇"] = _column(customers, "town")
    columns["村"] = _column(customers, "village")
    columns["经度(WGS84)"] = lon
    columns["纬度(WGS84)"] = lat
    columns["voltage_class"] = voltage
    columns["category"] = category
    columns["location_source"] = np.where(located, source, "")
    columns["location_codes"] = codes
    frame = pd.DataFrame({h: _values(columns[h]) for h in ARCHIVE_HEADERS}, index=index)
    if mask_phones:
        for header in ("联系电话", "网格长电话", "联络员电话", "地址", "户名"):
            frame[header] = mask_phone_numbers(frame[header])
    return frame


def _values(values: Any) -> np.ndarray:
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    return array if array.dtype.kind == "f" else array.astype(object)


def _promise_counts(frame: pd.DataFrame, grid: np.ndarray) -> pd.DataFrame:
    """Customers within each promise per grid id."""
    ok = pd.DataFrame(
        {
            "30分钟抢修达标户数": (frame["30分钟抢修"] == PROMISE_ZH[True]).to_numpy(dtype=int),
            "10分钟缴费达标户数": (frame["10分钟缴费"] == PROMISE_ZH[True]).to_numpy(dtype=int),
        }
    )
    return ok.groupby(grid).sum()


def _summary_zh(
    summary: pd.DataFrame, promises: pd.DataFrame, tier: int, names: Mapping[str, str]
) -> pd.DataFrame:
    """:func:`archive_summary` rows with Chinese headers and labels and the promise counts."""
    ids = summary["grid_id"].astype(str)
    out = summary.rename(columns=dict(SUMMARY_HEADERS_ZH)).reset_index(drop=True)
    label = ids.map(lambda g: NOT_LOCATED_ZH if g == NOT_LOCATED else names.get(g, ""))
    out.insert(1, "网格名称", label.to_numpy(dtype=object))
    out.insert(2, "层级", TIER_ZH[tier])
    for column in promises.columns:
        counts = promises[column].reindex(ids.to_numpy()).fillna(0)
        out[column] = counts.astype(int).to_numpy()
    return out


def _sheet_names(ids: list[str], names: Mapping[str, str], taken: set[str]) -> dict[str, str]:
    """A readable, unique sheet name (≤ 31 characters, no ``[]:*?/\\``) per grid id.

    The grid's name, else its id; a name already used gets ``(2)``, ``(3)`` ... at the end.
    """
    out: dict[str, str] = {}
    used = {t.lower() for t in taken}
    for grid_id in ids:
        base = _SHEET_FORBIDDEN.sub("_", names.get(grid_id, "") or grid_id).strip("' ")
        base = base or _SHEET_FORBIDDEN.sub("_", grid_id)
        name, k = base[:31], 1
        while name.lower() in used:
            k += 1
            tail = f"({k})"
            name = base[: 31 - len(tail)] + tail
        used.add(name.lower())
        out[grid_id] = name
    return out


def display_widths(frame: pd.DataFrame) -> pd.DataFrame:
    """Characters per cell as Excel shows them (a CJK character is two wide)."""
    widths = {}
    for column in frame.columns:
        values = frame[column]
        # measured once per distinct value (ids are many, grid names and codes few)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        if values.dtype.kind == "f":
            text = pd.Series([f"{v:g}" for v in uniques], dtype=object)
        else:
            text = pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype(str)
        per_value = (text.str.len() + text.str.count(r"[^\x00-\x7f]")).to_numpy(dtype=int)
        widths[column] = np.append(per_value, 0)[codes]  # a missing value (-1) is 0 wide
    return pd.DataFrame(widths, index=frame.index, columns=frame.columns).astype(int)


def header_width(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0x7F)


def export_archive(
    customers: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    out_dir: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    access: pd.DataFrame | None = None,
    repair_stations: pd.DataFrame | None = None,
    payment_points: pd.DataFrame | None = None,
    mask_phones: bool = False,
    excel_csv: bool = False,
) -> list[Path]:
    """Write the archive grid managers use: CSV + XLSX per tier-3 grid, a workbook per tier 2.

    Every file has one row per customer with :data:`ARCHIVE_HEADERS`: 户号, 户名, 地址,
    联系电话 (the customers' ``phone`` column where the layer has it), 高低压 and 用电类别 in
    Chinese, 重点关怀, the id and name of the customer's grid on each tier, the tier-3 grid's
    网格长 / 网格员 / 党员联络员 and their phones (``manager``, ``members``, ``liaison``,
    ``phone``, ``liaison_phone`` of the grids layer), the 30-minute repair and 10-minute
    payment service levels (minutes rounded UP to 0.1 min, so a time shown as 30.0 or less is
    one that keeps the promise; 达标/未达标; the station and payment point by name; the reason
    in Chinese; 未计算 without ``access``), 定位方式 (GPS定位, 按村定位, 按乡镇定位, 未定位) and
    定位说明 (GPS与地址不符, 经纬度颠倒, 坐标在县外, the address problem with its candidates,
    近县界归入最近网格, ...; 正常 when there is nothing to check), the position, then English
    code columns for machines (``voltage_class``, ``category``, ``location_source``,
    ``location_codes``, station and point ids, reason codes).

    Files are named by grid id and grid name (``T3-SUB02-01_琴城...网格1.csv``). CSVs are UTF-8
    with a BOM (Excel opens them in Chinese), values as they are (ids and phones as plain
    digits): the files for other systems; with ``excel_csv`` each CSV also gets a copy for
    Excel (:data:`EXCEL_CSV_SUFFIX`, :func:`excel_csv_frame`). XLSX sheets have a frozen header
    row, an auto-filter, column widths from their contents, and ids and phones as text cells (a
    13-digit 户号 never turns into 3.61023E+12). Each tier-2 workbook has a 汇总 sheet in
    Chinese (the supply grid's own row, then one row per tier-3 grid: counts by category,
    HV/LV, 重点关怀, located to a village, customers within each promise) and one sheet per
    tier-3 grid named by the grid's name (≤ 31 characters, unique). A grid's customers are
    those of :func:`grid_of_customers`; customers in no grid (:data:`NOT_LOCATED`) go to
    :data:`NOT_LOCATED_FILE` with the reason in 定位说明.

    Parameters
    ----------
    customers
        The ``customers`` layer.
    grids
        The ``grids`` layer (names, tiers and the roster).
    out_dir
        The folder to write into (created).
    progress
        Called after each grid's files as ``progress(done, total)`` with the grids done and
        the grids to write (tier 3, then tier 2).
    access
        The customers' access (the ``customer_access`` layer, or
        :func:`gridgeo.workspace.read_access`), joined by ``customer_id``; None leaves the
        service levels 未计算.
    repair_stations, payment_points
        The ``repair_stations`` (``station_id``, ``name``) and ``payment_points``
        (``point_id``, ``name``) layers, for the names; None shows the ids.
    mask_phones
        Mask every phone number (``139****1234``), also inside addresses and names: for files
        that leave the company.
    excel_csv
        Also write each CSV as ``<name>_excel.csv`` for opening in Excel: ids and phones as
        ``="3610230000001"``, so that Excel keeps them as text (the plain CSV shows a 13-digit
        户号 as 3.61023E+12 there and loses its last digits when saved).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = dict(zip(_column(grids, "grid_id"), _column(grids, "name"), strict=True))
    written: list[Path] = []
    frame = _export_frame(
        customers,
        grids,
        access=access,
        repair_stations=repair_stations,
        payment_points=payment_points,
        mask_phones=mask_phones,
    )
    order = np.argsort(frame["户号"].to_numpy(dtype=str), kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)  # row labels = positions from here on
    widths = display_widths(frame)
    cells = {column: _cells(frame[column], text=column in TEXT_HEADERS) for column in frame}
    for_excel = excel_csv_frame(frame) if excel_csv else None
    t3 = grid_of_customers(customers, tier=3).to_numpy(dtype=object)[order]
    t2 = grid_of_customers(customers, tier=2).to_numpy(dtype=object)[order]
    located3, located2 = t3 != NOT_LOCATED, t2 != NOT_LOCATED
    total = len(set(t3[located3])) + len(set(t2[located2]))
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    for grid_id, rows in frame[located3].groupby(t3[located3], sort=True):
        stem = _safe(f"{grid_id}_{names.get(grid_id, '')}")
        csv_path = out / f"{stem}.csv"
        rows.to_csv(csv_path, index=False, encoding="utf-8-sig")  # Excel opens it as UTF-8
        xlsx_path = out / f"{stem}.xlsx"
        write_xlsx(xlsx_path, {XLSX_SHEET: rows}, widths=widths, cells=cells)
        written += [csv_path, xlsx_path]
        if for_excel is not None:
            written.append(_write_excel_csv(for_excel.loc[rows.index], csv_path))
        step()
    lost = frame[~located3]
    if len(lost):
        path = out / NOT_LOCATED_FILE
        lost.to_csv(path, index=False, encoding="utf-8-sig")
        written.append(path)
        if for_excel is not None:
            written.append(_write_excel_csv(for_excel.loc[lost.index], path))
    summary3 = _summary_zh(archive_summary(customers, tier=3), _promise_counts(frame, t3), 3, names)
    summary2 = _summary_zh(archive_summary(customers, tier=2), _promise_counts(frame, t2), 2, names)
    for grid2, rows in frame[located2].groupby(t2[located2], sort=True):
        stem = _safe(f"{grid2}_{names.get(grid2, '')}")
        path = out / f"{stem}_workbook.xlsx"
        children = sorted(set(t3[(t2 == grid2) & located3]))
        summary = pd.concat(
            [
                summary2[summary2["网格编号"] == grid2],
                summary3[summary3["网格编号"].isin(children)],
            ],
            ignore_index=True,
        )
        sheets = {SUMMARY_SHEET: summary}
        titles = _sheet_names([str(c) for c in children], names, {SUMMARY_SHEET})
        child_ids = rows["村级网格编号"].to_numpy(dtype=object)
        for child in children:
            sheets[titles[str(child)]] = rows[child_ids == child]
        write_xlsx(path, sheets, widths=widths, cells=cells)
        written.append(path)
        step()
    return written


def excel_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The archive rows as the CSV for Excel holds them.

    The values of :data:`TEXT_HEADERS` (户号, phones, grid and station ids) are written as
    the formula ``="3610230000001"`` (quotes inside doubled), which Excel shows as the text
    ``3610230000001``, so that a 13-digit 户号 is not turned into 3.61023E+12 and a phone
    keeps its leading 0; other text beginning with ``=``, ``+``, ``-`` or ``@`` is written
    the same way, so Excel shows it as written instead of running it. Empty cells stay
    empty; numbers (coordinates, minutes) stay numbers. Other programs read these files as
    ``="…"``: the plain CSV is the one for them.

    Parameters
    ----------
    frame
        Archive rows (:data:`ARCHIVE_HEADERS`).

    Returns
    -------
    pandas.DataFrame
        The same rows and columns, on the same index.
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        as_text = column in TEXT_HEADERS
        if values.dtype.kind in "biuf" and not as_text:
            continue
        data = values.astype(object).to_numpy()
        present = np.flatnonzero(pd.notna(data) & (data != ""))
        text = [str(v) for v in data[present]]
        wrap = [as_text or t.startswith(_FORMULA_START) for t in text]
        cells = data.copy()
        cells[present] = [
            '="' + t.replace('"', '""') + '"' if w else t for t, w in zip(text, wrap, strict=True)
        ]
        out[column] = cells
    return out


def _write_excel_csv(rows: pd.DataFrame, plain: Path) -> Path:
    """Write the copy for Excel of the CSV at ``plain`` (:data:`EXCEL_CSV_SUFFIX`)."""
    path = plain.with_name(f"{plain.stem}{EXCEL_CSV_SUFFIX}{plain.suffix}")
    rows.to_csv(path, index=False, encoding="utf-8-sig")
    return path


@dataclass(frozen=True)
class _Cells:
    """The cells of one column, ready to write: how, and the values (None: an empty cell)."""

    kind: str  # "string", "number", "boolean", or "any" (decided value by value)
    values: np.ndarray  # object


def _cells(values: pd.Series, *, text: bool) -> _Cells:
    """The cells of one column, prepared on the whole column at once.

    Numeric columns are numbers (NaN and infinities empty cells); ``text`` columns and text
    values are strings, '' an empty cell; a column of mixed Python values is written value
    by value.
    """
    kind = values.dtype.kind
    if kind in "biu" and not text:  # nullable booleans and integers may hold pd.NA
        present = values.astype(object).where(values.notna(), None).to_numpy(dtype=object)
        return _Cells("boolean" if kind == "b" else "number", present)
    if kind == "f" and not text:
        array = values.to_numpy(dtype=float, na_value=np.nan)
        numbers = array.astype(object)
        numbers[~np.isfinite(array)] = None
        return _Cells("number", numbers)
    data = values.astype(object)
    data = data.where(data.notna() & data.ne(""), None)
    if text:
        present = data.notna()
        data = data.where(~present, data[present].astype(str))
    array = data.to_numpy(dtype=object)
    strings = pd.api.types.infer_dtype(array, skipna=True) in ("string", "empty")
    return _Cells("string" if strings else "any", array)


def write_xlsx(
    path: Path,
    sheets: Mapping[str, pd.DataFrame],
    *,
    widths: pd.DataFrame | None = None,
    cells: Mapping[str, _Cells] | None = None,
) -> None:
    """Write frames as sheets: a bold, frozen header row with an auto-filter, then the rows.

    Missing values are empty cells; :data:`TEXT_HEADERS` columns and every text value are
    string cells (text beginning with ``=`` too: never a formula). Column widths come from
    ``widths`` (:func:`display_widths` of a frame the sheets are rows of) or the sheet.
    ``cells`` (:func:`_cells` per column of that frame, whose row labels are positions) are
    used for the sheets that are rows of it, so that each value is prepared once however
    many files it goes into.

    XlsxWriter, every cell written with the typed call of its column (``write_string``
    never makes a formula, ``write_number``): about twice as fast as openpyxl's write-only
    mode for the archive's ~2 million cells. Shared strings (not ``constant_memory``): a
    sheet is at most the rows of one supply grid, and the shared-string table is ~10 %
    faster than in-line strings because grid names, people and 达标 repeat on every row.
    Widths are set in pixels of the default font's digit so that the stored width is the
    width asked for (``set_column`` would add Excel's cell padding).
    """
    with xlsxwriter.Workbook(str(path), _XLSX_OPTIONS) as book:
        bold = book.add_format({"bold": True})
        for name, frame in sheets.items():
            sheet = book.add_worksheet(name)
            n_columns = len(frame.columns)
            if n_columns:
                sheet.freeze_panes(1, 0)
                sheet.autofilter(0, 0, len(frame), n_columns - 1)
                wide = (
                    widths.loc[frame.index]
                    if widths is not None and set(frame.columns) <= set(widths.columns)
                    else display_widths(frame)
                )
                most = wide.max() if len(wide) else pd.Series(0, index=frame.columns)
                for j, column in enumerate(frame.columns):
                    width = max(header_width(str(column)), int(most.get(column, 0)))
                    pixels = (min(width, MAX_COLUMN_WIDTH) + 2) * _DIGIT_PIXELS
                    sheet.set_column_pixels(j, j, pixels)
            for j, column in enumerate(frame.columns):
                sheet.write_string(0, j, str(column), bold)
            if not n_columns or not len(frame):
                continue
            prepared = (
                [cells[column] for column in frame.columns]
                if cells is not None and all(column in cells for column in frame.columns)
                else None
            )
            if prepared is not None:
                rows = frame.index.to_numpy()
                columns = [column.values[rows].tolist() for column in prepared]
            else:
                prepared = [_cells(frame[c], text=c in TEXT_HEADERS) for c in frame.columns]
                columns = [column.values.tolist() for column in prepared]
            writers = [_writer(sheet, column.kind) for column in prepared]
            for r, row in enumerate(zip(*columns, strict=True), start=1):
                for j, value in enumerate(row):
                    if value is not None:
                        writers[j](r, j, value)


def _writer(sheet: Any, kind: str) -> Callable[[int, int, Any], Any]:
    """The sheet's call writing one cell of a column of :class:`_Cells` ``kind``."""
    if kind == "string":
        return sheet.write_string
    if kind == "number":
        return sheet.write_number
    if kind == "boolean":
        return sheet.write_boolean

    def write_any(row: int, col: int, value: Any) -> Any:
        if isinstance(value, str):
            return sheet.write_string(row, col, value)
        if isinstance(value, (bool, np.bool_)):
            return sheet.write_boolean(row, col, bool(value))
        if isinstance(value, (int, float, np.integer, np.floating)):
            number = float(value)
            return sheet.write_number(row, col, number) if np.isfinite(number) else 0
        return sheet.write_string(row, col, str(value))

    return write_any


def _safe(name: str) -> str:
    return "".join("_" if ch in '\\/:*?"<>|' else ch for ch in name).strip()
