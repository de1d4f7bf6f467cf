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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd

from gridgeo import geocode as _geocode
from gridgeo import grids as _grids
from gridgeo.errors import InputError, MissingColumnError
from gridgeo.io import read_records

__all__ = [
    "ARCHIVE_INPUT_COLUMNS",
    "CUSTOMER_LAYER",
    "GRID_ID_COLUMNS",
    "NOT_LOCATED",
    "ImportReport",
    "archive_summary",
    "customers_per_grid",
    "export_archive",
    "grid_of_customers",
    "import_customers",
    "locate_customers",
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


def _normalise_input(table: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED_INPUT if c not in table.columns]
    if missing:
        msg = (
            f"customer table lacks column(s) {missing!r}; columns present: "
            f"{[str(c) for c in table.columns]!r}. A customer file needs at least "
            f"{list(REQUIRED_INPUT)!r} (户号 customer_id, 地址 address)."
        )
        raise MissingColumnError(msg)
    out = pd.DataFrame(index=table.index)
    for column, default in ARCHIVE_INPUT_COLUMNS.items():
        values = table[column] if column in table.columns else pd.Series(default, table.index)
        if column in ("gps_lon", "gps_lat"):
            out[column] = pd.to_numeric(values, errors="coerce").astype(float)
        elif column == "vulnerable":
            text = values.astype(str).str.strip().str.lower()
            out[column] = text.isin(_TRUE)
        else:
            out[column] = values.fillna("").astype(str).str.strip()
    out["voltage_class"] = out["voltage_class"].str.upper().replace("", "LV")
    bad_voltage = ~out["voltage_class"].isin(["HV", "LV"])
    if bad_voltage.any():
        values = list(dict.fromkeys(out.loc[bad_voltage, "voltage_class"]))[:5]
        msg = (
            f"column `voltage_class` holds {values!r}; use HV (高压, 10 kV and above) or LV (低压)."
        )
        raise InputError(msg)
    return out


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
        the other :data:`ARCHIVE_INPUT_COLUMNS`: phone GPS in ``gps_lon``,
        ``gps_lat`` with its datum in ``gps_datum``).
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
    table = _normalise_input(customers)
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

    def lines(self) -> list[str]:
        """The report as printed by the CLI (Chinese with English)."""
        out = [
            f"档案版本 archive version {self.version}: 新增 added {len(self.added)}, "
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
        return out


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
) -> ImportReport:
    """Import a customer file into the workspace's ``customers`` layer.

    The file is read and checked first (missing columns, empty rows,
    repeated or empty ids, encodings such as GBK: each a clear error), then
    geocoded and assigned to grids, then compared with the stored archive by
    ``customer_id`` and saved as ONE new version: nothing is written when any
    step fails, and nobody is duplicated. Customers stored but absent from
    the file are kept (an update file may list only some customers) unless
    ``replace=True`` says the file is the complete archive.

    Returns
    -------
    ImportReport
        Added, updated (with the changed columns), unchanged, absent and
        removed customers, the new version and the match-rate table.
    """
    records = read_records(
        path, id_column=ID_COLUMN, required_columns=REQUIRED_INPUT, encoding=encoding, sheet=sheet
    )
    located = locate_customers(
        records.drop(columns="file_line"), gazetteer, grids, county_area=county_area
    )
    located.index = pd.Index(located[ID_COLUMN].to_numpy(), name=None)
    compare = list(ARCHIVE_INPUT_COLUMNS)[1:]

    if CUSTOMER_LAYER in store.layers():
        expected = store.current_version(CUSTOMER_LAYER)
        stored = store.read(CUSTOMER_LAYER)
        stored.index = pd.Index(stored[ID_COLUMN].to_numpy(), name=None)
    else:
        expected = None
        stored = located.iloc[0:0]
    new_ids = located.index.difference(stored.index, sort=False)
    common = located.index.intersection(stored.index, sort=False)
    absent = stored.index.difference(located.index, sort=False)

    updated: dict[str, list[str]] = {}
    if len(common):
        before = _normalise_input(stored.loc[common, ["customer_id", *compare]]).loc[common]
        after = located.loc[common, compare]
        for column in compare:
            b, a = before[column], after[column]
            if column in ("gps_lon", "gps_lat"):
                differs = ~(np.isclose(b, a, rtol=0, atol=1e-9) | (b.isna() & a.isna()))
            else:
                differs = b.astype(str) != a.astype(str)
            for cid in common[differs.to_numpy()]:
                updated.setdefault(str(cid), []).append(column)
    kept = stored.loc[absent] if not replace else stored.iloc[0:0]
    frames = [located] + ([kept[located.columns]] if len(kept) else [])
    result = gpd.GeoDataFrame(pd.concat(frames), crs="EPSG:4326")
    result = result.sort_values(ID_COLUMN, kind="stable").reset_index(drop=True)
    if "version" in result.columns:
        result = result.drop(columns="version")

    if expected is None:
        version = store.add_layer(
            CUSTOMER_LAYER, result, key=ID_COLUMN, author=author, reason=reason
        )
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


_EXPORT_COLUMNS: Mapping[str, str] = {
    "customer_id": "户号 customer_id",
    "name": "户名 name",
    "address": "地址 address",
    "category": "类别 category",
    "voltage_class": "电压 voltage",
    "vulnerable": "困难户 vulnerable",
    "town": "乡镇 town",
    "village": "村 village",
    "location_source": "定位来源 located by",
    "match_level": "匹配级别 match level",
    "address_reason": "地址说明 address note",
    "grid_t2": "供电网格 supply grid",
    "grid_t3": "村级网格 village grid",
}


def _export_frame(customers: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(customers[list(_EXPORT_COLUMNS)]).copy()
    frame["category"] = frame["category"].map(CATEGORY_ZH).fillna(frame["category"])
    frame["vulnerable"] = np.where(frame["vulnerable"].astype(bool), "是", "")
    lon = customers.geometry.x if isinstance(customers, gpd.GeoDataFrame) else np.nan
    lat = customers.geometry.y if isinstance(customers, gpd.GeoDataFrame) else np.nan
    frame = frame.rename(columns=dict(_EXPORT_COLUMNS))
    frame["经度 lon (WGS84)"] = np.round(lon, 6)
    frame["纬度 lat (WGS84)"] = np.round(lat, 6)
    return frame


def export_archive(
    customers: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    out_dir: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write the archive: CSV + XLSX per tier-3 grid, a workbook per tier-2 grid.

    Files are named by grid id and grid name (``T3-SUB02-01_琴城...网格1.csv``);
    each tier-2 workbook has a 汇总 summary sheet (the supply grid's own row, then one row
    per tier-3 grid) and one sheet per tier-3 grid. A grid's customers are those of
    :func:`grid_of_customers`; customers in no grid (:data:`NOT_LOCATED`) go to
    ``未定位客户_not_located.csv``. Returns the paths written.

    ``progress``, if given, is called after each grid's files as ``progress(done, total)``
    with the grids done and the grids to write (tier 3, then tier 2).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = dict(zip(grids["grid_id"], grids["name"], strict=True))
    written: list[Path] = []
    frame = _export_frame(customers)
    order = np.argsort(frame["户号 customer_id"].to_numpy(dtype=str), kind="stable")
    frame = frame.iloc[order]
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
        _write_xlsx(xlsx_path, {"客户档案": rows})
        written += [csv_path, xlsx_path]
        step()
    lost = frame[~located3]
    if len(lost):
        path = out / "未定位客户_not_located.csv"
        lost.to_csv(path, index=False, encoding="utf-8-sig")
        written.append(path)
    summary3 = archive_summary(customers, tier=3)
    summary2 = archive_summary(customers, tier=2)
    for grid2, rows in frame[located2].groupby(t2[located2], sort=True):
        stem = _safe(f"{grid2}_{names.get(grid2, '')}")
        path = out / f"{stem}_workbook.xlsx"
        children = sorted(set(t3[(t2 == grid2) & located3]))
        summary = pd.concat(
            [summary2[summary2["grid_id"] == grid2], summary3[summary3["grid_id"].isin(children)]]
        )
        sheets = {"汇总 summary": summary}
        for child in children:
            sheets[str(child)[-31:]] = rows[rows["村级网格 village grid"] == child]
        _write_xlsx(path, sheets)
        written.append(path)
        step()
    return written


def _write_xlsx(path: Path, sheets: Mapping[str, pd.DataFrame]) -> None:
    """Write frames as sheets (header row, then the rows; missing values as empty cells).

    openpyxl's write-only mode: about four times faster than ``DataFrame.to_excel`` for the
    archive's tens of thousands of rows.
    """
    book = openpyxl.Workbook(write_only=True)
    for name, frame in sheets.items():
        sheet = book.create_sheet(title=name)
        sheet.append([str(c) for c in frame.columns])
        values = frame.astype(object).where(frame.notna(), None)
        for row in values.itertuples(index=False, name=None):
            sheet.append(row)
    book.save(path)


def _safe(name: str) -> str:
    return "".join("_" if ch in '\\/:*?"<>|' else ch for ch in name).strip()
