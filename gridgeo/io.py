"""Reading, validating and writing input files.

Vector layers (GeoPackage, GeoJSON, Shapefile, zipped Shapefile) are read with
pyogrio; tables (CSV/TXT, XLSX) with lon/lat columns with pandas. Every reader
returns a GeoDataFrame in EPSG:4326 with true WGS84 coordinates: the caller
says which datum the lon/lat numbers are in (``"wgs84"``, ``"gcj02"`` for
Amap/Tencent, ``"bd09"`` for Baidu) and they are converted on the way in.

Bad input is refused with a :class:`~gridgeo.errors.GridGeoError` subclass
whose message names the file, the column or rows at fault and the fix. Row
numbers in messages are 0-based record numbers; for tables the file line
(header = line 1) is given too. Checked at the door: a Shapefile's companion
files, columns under their short or Chinese names (:data:`COLUMN_ALIASES`) or
as the caller maps them, unclosed polygon rings (closed with a warning, or
refused), the CRS (a GeoJSON in metres is not lon/lat), and that every
coordinate is a longitude/latitude once converted. Callers with their own
option names (the CLI's flags) pass ``option_names`` so that messages name
them.

Customer files (:func:`read_customer_file`, :func:`normalise_customer_values`) come as
the marketing system (营销系统) and the 95598 hotline export them: a title row or a date
line above the header, a two-row merged header, the data on another sheet, GBK text,
Chinese headers. The header is the first row naming ``customer_id`` and ``address``;
every cell is read as text (ids keep leading zeros; ``3610230000001.0`` is
``3610230000001``; ``3.61023E+12`` is refused, its digits are lost). The fields and the
names accepted for them (:data:`CUSTOMER_COLUMN_ALIASES`; Latin names in any case,
spaces, a leading ``*`` and a trailing bracketed note ignored; ``columns`` names others):

=================  ===========================================================================
field              names accepted → stored as
=================  ===========================================================================
``customer_id``    户号, 用户编号, 客户编号, 用户号, 客户号, 用电户号, customer_no, cust_id,
                   cust_no, account_no → text (required)
``name``           户名, 用户名称, 客户名称, 用户名, 客户名, 姓名, cust_name → text
``address``        用电地址, 地址, 客户地址, 用户地址, 详细地址, 装表地址 → text (required)
``phone``          手机号码, 联系电话, 手机, 手机号, 移动电话, 电话, 电话号码, 固定电话, 联系方式,
                   mobile, tel, telephone → ``13907941234`` or ``0794-3221234`` (+86 removed;
                   several, also of several phone columns, joined by ``/``)
``category``       用电类别, 用户类别, 客户类别, 用电分类 → residential (居民), commercial (商业,
                   非居民, 一般工商业), industrial (工业, 大工业), agricultural (农业, 农业排灌)
``voltage_class``  电压等级, 供电电压, 电压, voltage → HV (高压; 1 kV and above: 10kV, 35kV) or
                   LV (低压; 220V, 380V, 0.4kV; the default when empty)
``vulnerable``     重点关怀, 特殊群体, 重点关怀客户, 关怀对象, 困难户 → True unless empty or 否/无/0
``gps_lon``        经度, lon, lng, longitude → float (full-width ``１１６．５`` read)
``gps_lat``        纬度, lat, latitude → float
``gps_datum``      坐标系, 坐标系统, datum, crs → wgs84 (GPS, 北斗), gcj02 (高德, 腾讯), bd09 (百度)
=================  ===========================================================================

A value that cannot be read is a row problem reported with its file line, not an error:
a bad phone is stored empty, an unknown category as written, an unknown voltage empty,
an unreadable coordinate as NaN. An unknown datum on a row with coordinates is an error
naming the file lines.
"""

from __future__ import annotations

import csv
import io as io_module
import itertools
import logging
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from gridgeo import crs as _crs
from gridgeo.errors import (
    CoordinateError,
    CorruptFileError,
    CRSError,
    DuplicateIdError,
    EmptyDataError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
    NotFoundError,
)

__all__ = [
    "CUSTOMER_COLUMN_ALIASES",
    "list_layers",
    "normalise_customer_values",
    "normalise_phone",
    "read_customer_file",
    "read_export_table",
    "read_layer",
    "read_records",
    "read_table",
    "write_layer",
]

logger = logging.getLogger(__name__)

LAYER_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip")
TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
# Tried in order when `encoding` is None: UTF-8 (with or without BOM), then
# GB18030, the superset of GBK/GB2312 that Chinese Excel writes CSV in.
TABLE_ENCODINGS = ("utf-8-sig", "gb18030")
POINTS_MODES = ("required", "optional", "valid")
WRITE_MODES = ("w", "a")
# How many offending rows/values a message lists before "... (N in all)".
MAX_LISTED = 5

_READ_ERRORS = (RuntimeError, OSError, ValueError)

# Other names accepted for gridgeo's column names when the file lacks the
# column itself: Shapefile (DBF) field names stop at 10 characters, and county
# companies' tables often carry Chinese headers. Latin names match ignoring
# case. A file holding two aliases of one column is refused (say which one
# with `columns`).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "adcode": ("行政区划代码", "区划代码", "行政代码"),
    "substation_id": ("sub_id", "substation", "subst_id", "变电站编号", "变电站代码", "变电站id"),
    "station_id": ("stat_id", "抢修站编号", "站点编号", "驻点编号"),
    "point_id": ("pt_id", "缴费点编号", "网点编号"),
    "village_code": ("vill_code", "village_co", "村编码", "村代码", "行政村代码", "村编号"),
    "village": ("vill_name", "村名", "村名称", "村庄名称", "行政村"),
    "town_code": ("town_cd", "乡镇编码", "乡镇代码"),
    "town": ("town_name", "乡镇", "乡镇名称", "乡镇名"),
    "lon": ("lng", "longitude", "经度"),
    "lat": ("latitude", "纬度"),
}

# Key of ``gdf.attrs`` holding the columns renamed on reading: {gridgeo's name: the file's}.
SOURCE_COLUMNS_ATTR = "source_columns"

# Longitude/latitude ranges: coordinates outside them are never lon/lat.
_LON_LIMIT = 180.0
_LAT_LIMIT = 90.0
# Examples of metric CRSs near Nanfeng, named when a file is not in lon/lat.
_CRS_EXAMPLES = "EPSG:4548 (CGCS2000 3-degree Gauss-Kruger CM 117E) or EPSG:32650 (UTM 50N)"
# GDAL's own note when it accepts an unclosed ring; gridgeo reports it itself.
_UNCLOSED_RING_WARNING = "Non closed ring detected"


# --------------------------------------------------------------------------- #
# message helpers


def _listed(values: Sequence[Any]) -> str:
    """First few values, e.g. ``[3, 8, 9]`` or ``[1, 2, 3, 4, 5, ... 12 in all]``."""
    values = list(values)
    head = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:MAX_LISTED])
    more = f", ... {len(values)} in all" if len(values) > MAX_LISTED else ""
    return f"[{head}{more}]"


def _rows(index: Iterable[Any], lines: np.ndarray | None = None) -> str:
    """Describe rows by record number (and file line for tables): ``2 rows [1, 4]``."""
    rows = [int(i) if isinstance(i, (int, np.integer)) else i for i in index]
    text = f"{len(rows)} row{'s' if len(rows) != 1 else ''} {_listed(rows)}"
    if lines is not None:
        text += f" (file lines {_listed([int(n) for n in lines])})"
    return text


def _option(option_names: Mapping[str, str] | None, name: str, example: str) -> str:
    """How the user sets option ``name``: a CLI flag if the caller says so, else ``name=...``.

    ``option_names`` maps parameter names to the caller's spelling (e.g.
    ``{"crs": "--substations-crs"}``); ``example`` is the value shown.
    """
    if option_names and name in option_names:
        return f"{option_names[name]} {example}".rstrip()
    return f"`{name}` (e.g. {name}={example!r})"


def _columns_fix(missing: Sequence[str], option_names: Mapping[str, str] | None) -> str:
    """How to map the file's own column names, e.g. ``--columns substations:sub_no=...``."""
    pairs = ",".join(f"{c}=<name>" for c in missing)
    if option_names and "columns" in option_names:
        return f"{option_names['columns']}{pairs}"
    mapping = ", ".join(f"{c!r}: '<name>'" for c in missing)
    return f"`columns` (e.g. columns={{{mapping}}})"


def _columns_given(ours: str, theirs: str, option_names: Mapping[str, str] | None) -> str:
    """One pair of the ``columns`` mapping as the user wrote it."""
    if option_names and "columns" in option_names:
        return f"{option_names['columns']}{ours}={theirs}"
    return f"`columns` {{{ours!r}: {theirs!r}}}"


def _feature_rows(gdf: pd.DataFrame, mask: np.ndarray, id_column: str | None) -> str:
    """The rows of ``mask`` for a message, with their ids when the layer has an id column."""
    text = _rows(gdf.index[mask])
    if id_column is not None:
        text += f" (`{id_column}` {_listed(gdf[id_column][mask].tolist())})"
    return text


def _check_path(path: str | Path, suffixes: Sequence[str], what: str) -> Path:
    path = Path(path)
    if not path.exists():
        msg = f"{what} `path` {str(path)!r} does not exist: check the file name and folder."
        raise NotFoundError(msg)
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        msg = (
            f"{what} {str(path)!r} has extension {suffix!r}; supported: {suffixes!r}. "
            "Save the data in one of those formats."
        )
        raise InputError(msg)
    return path


def _check_columns(
    df: pd.DataFrame,
    required: Iterable[str],
    path: Path,
    *,
    hint: str = "",
    mappable: bool = False,
    option_names: Mapping[str, str] | None = None,
) -> None:
    missing = [c for c in dict.fromkeys(required) if c not in df.columns]
    if missing:
        present = [str(c) for c in df.columns if c != getattr(df, "_geometry_column_name", None)]
        fix = "Rename the column(s) in the file"
        if mappable:
            fix += f" or name the file's column(s) with {_columns_fix(missing, option_names)}"
        known = [f"{c}: {'/'.join(COLUMN_ALIASES[c])}" for c in missing if c in COLUMN_ALIASES]
        note = f" (other names accepted: {'; '.join(known)})" if mappable and known else ""
        label = "缺少列 / " if mappable else ""
        msg = (
            f"{label}{str(path)!r} lacks column(s) {missing!r}; columns present: {present!r}. "
            f"{fix}{hint}{note}."
        )
        raise MissingColumnError(msg)


def _apply_columns(
    df: pd.DataFrame,
    needed: Iterable[str],
    columns: Mapping[str, str] | None,
    path: Path,
    option_names: Mapping[str, str] | None,
) -> pd.DataFrame:
    """Rename the file's columns to gridgeo's names: ``columns`` first, then the aliases.

    ``columns`` maps gridgeo's name to the file's (``{"substation_id": "编号"}``);
    a needed column the file lacks is then looked up in :data:`COLUMN_ALIASES`.
    """
    geometry = getattr(df, "_geometry_column_name", None)
    names = [str(c) for c in df.columns if c != geometry]
    mapping = dict(columns or {})
    rename: dict[str, str] = {}
    for ours, theirs in mapping.items():
        given = _columns_given(ours, theirs, option_names)
        if theirs not in names:
            msg = (
                f"列名不存在 / {str(path)!r} has no column {theirs!r} named by {given}; columns "
                f"present: {names!r}. Give the name exactly as in the file."
            )
            raise MissingColumnError(msg)
        if ours in names and ours != theirs:
            msg = (
                f"列名重复 / {str(path)!r} has a column `{ours}` and {given} names another one "
                f"for it: leave `{ours}` out of the mapping or rename one of the two columns in "
                "the file."
            )
            raise InputError(msg)
        rename[theirs] = ours
    taken = set(rename) | set(rename.values())
    for ours in dict.fromkeys(needed):
        if ours in names or ours in mapping:
            continue
        candidates = {ours.lower(), *(a.lower() for a in COLUMN_ALIASES.get(ours, ()))}
        found = [c for c in names if c.lower() in candidates and c not in taken]
        if len(found) > 1:
            msg = (
                f"列名不明确 / {str(path)!r} has no column `{ours}` but several columns that "
                f"may be it {found!r}: say which one with {_columns_fix([ours], option_names)}."
            )
            raise MissingColumnError(msg)
        if found:
            rename[found[0]] = ours
            taken.update((found[0], ours))
            logger.info("%s: column %r read as %r", path, found[0], ours)
    out = df.rename(columns=rename) if rename else df  # df is a frame just read
    out.attrs[SOURCE_COLUMNS_ATTR] = {ours: theirs for theirs, ours in rename.items()}
    return out


def _check_ids(
    df: pd.DataFrame, id_column: str | None, path: Path, *, lines: np.ndarray | None
) -> None:
    if id_column is None:
        return
    ids = df[id_column]

    def where(mask: np.ndarray) -> str:
        return _rows(df.index[mask], None if lines is None else lines[mask])

    blank = (ids.isna() | (ids.astype("string").str.strip() == "").fillna(True)).to_numpy()
    if blank.any():
        msg = (
            f"{str(path)!r}: id column `{id_column}` is empty in {where(blank)}. "
            "Give every row an id."
        )
        raise InputError(msg)
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        values = list(dict.fromkeys(ids[dup].tolist()))
        msg = (
            f"{str(path)!r}: id column `{id_column}` repeats value(s) {_listed(values)} in "
            f"{where(dup)}. Make the ids unique."
        )
        raise DuplicateIdError(msg)


# --------------------------------------------------------------------------- #
# vector layers


def list_layers(path: str | Path) -> list[str]:
    """Names of the layers in a vector file.

    Parameters
    ----------
    path
        A GeoPackage, GeoJSON, Shapefile or zipped Shapefile.

    Returns
    -------
    list of str

    Raises
    ------
    NotFoundError
        If the file does not exist.
    CorruptFileError
        If the file cannot be opened as a vector data source, or a Shapefile
        lacks its ``.shx``.
    """
    path = _check_path(path, LAYER_SUFFIXES, "Layer file")
    if path.suffix.lower() == ".shp":
        _check_shapefile_parts(path, needs_columns=False)
    try:
        layers = pyogrio.list_layers(path)
    except _READ_ERRORS as exc:
        msg = (
            f"{str(path)!r} cannot be opened as a vector file ({exc}). It may be truncated "
            "or not the format its extension says: export it again."
        )
        raise CorruptFileError(msg) from exc
    return [str(name) for name in layers[:, 0]]


def read_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    datum: str = "wgs84",
    id_column: str | None = None,
    required_columns: Sequence[str] = (),
    geometry_types: Sequence[str] | None = None,
    repair: bool = False,
    crs: Any = None,
    columns: Mapping[str, str] | None = None,
    option_names: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read and validate a vector layer, returned in WGS84 (EPSG:4326).

    Checked at the door: a Shapefile's companion files, the columns (with
    ``columns`` and the aliases of :data:`COLUMN_ALIASES`), unclosed polygon
    rings (closed, with a warning, or refused when they cannot be), the CRS,
    and that every coordinate is a longitude/latitude once converted.

    Parameters
    ----------
    path
        GeoPackage (``.gpkg``), GeoJSON (``.geojson``/``.json``), Shapefile
        (``.shp``, with its ``.shx``, ``.dbf`` and ``.prj`` beside it) or
        zipped Shapefile (``.zip``).
    layer
        Layer name; required when the file holds more than one layer.
    datum
        What the lon/lat numbers are once in EPSG:4326: ``"wgs84"``,
        ``"gcj02"`` (Amap, Tencent, DataV boundaries stored as if WGS84) or
        ``"bd09"`` (Baidu). Non-WGS84 data is converted to WGS84.
    id_column
        Column that must be present, non-empty and unique.
    required_columns
        Columns that must be present.
    geometry_types
        Allowed geometry types, e.g. ``("Point",)`` or
        ``("Polygon", "MultiPolygon")``; None allows any.
    repair
        If True, invalid geometries are repaired with ``shapely.make_valid``
        and a warning; by default they are refused.
    crs
        The CRS of the coordinates when the file does not say it: a file
        with no CRS (a Shapefile without its ``.prj``), or a GeoJSON without
        a ``crs`` member, which is lon/lat by its specification but is
        sometimes exported in metres. A file that declares another CRS is
        refused rather than overridden.
    columns
        Names of the file's columns for gridgeo's, e.g.
        ``{"substation_id": "编号"}``; needed columns the file lacks are
        otherwise looked up in :data:`COLUMN_ALIASES` (``sub_id``,
        ``vill_code``, ``变电站编号``, ...). The columns are renamed.
    option_names
        How the caller's users set ``crs`` and ``columns`` (e.g.
        ``{"crs": "--substations-crs", "columns": "--columns substations:"}``
        at the command line), used in error messages.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326, WGS84 coordinates, index 0..n-1 in file order; the
        columns renamed on reading are in ``gdf.attrs["source_columns"]``
        (gridgeo's name -> the file's).

    Raises
    ------
    NotFoundError
        Missing file or unknown layer (the message lists the layers).
    CorruptFileError
        The file cannot be read, or a Shapefile lacks its ``.shx``.
    EmptyDataError
        The layer has no rows.
    MissingColumnError
        A required or id column is missing (or a Shapefile lacks its ``.dbf``).
    CRSError
        The layer has no CRS and ``crs`` was not given, ``crs`` contradicts
        the file's CRS, ``datum`` is unknown, or coordinates are not
        longitude/latitude (a file in metres read as lon/lat).
    DuplicateIdError
        The id column repeats values.
    InvalidGeometryError
        Missing, empty, invalid or wrong-type geometries, or polygon rings
        that cannot be closed.
    """
    datum_name = _crs.normalise_datum(datum)
    layers = list_layers(path)
    path = Path(path)
    if layer is None and len(layers) > 1:
        how = option_names["layer"] if option_names and "layer" in option_names else "`layer`"
        msg = f"{str(path)!r} holds {len(layers)} layers {layers!r}: pass {how} to say which one."
        raise InputError(msg)
    if layer is not None and layer not in layers:
        msg = f"{str(path)!r} has no layer {layer!r}; layers there: {layers!r}."
        raise NotFoundError(msg)
    needed = [*required_columns, *([id_column] if id_column else [])]
    if path.suffix.lower() == ".shp":
        _check_shapefile_parts(path, needs_columns=bool(needed or columns))
    where = f"{str(path)!r}" + (f" layer {layer!r}" if layer is not None else "")
    gdf, unclosed = _read_frame(path, layer)
    if len(gdf) == 0:
        msg = f"{where} holds no features: check that the right file and layer were exported."
        raise EmptyDataError(msg)
    gdf = _apply_columns(gdf, needed, columns, path, option_names)
    renamed = gdf.attrs[SOURCE_COLUMNS_ATTR]
    _check_columns(gdf, needed, path, mappable=True, option_names=option_names)
    _report_unclosed(gdf, unclosed, where, id_column)
    gdf = _set_crs(gdf, crs, path, where, option_names)
    _check_ids(gdf, id_column, path, lines=None)
    gdf = _check_geometries(
        gdf,
        where,
        id_column=id_column,
        geometry_types=geometry_types,
        repair=repair,
        option_names=option_names,
    )
    if gdf.crs.is_geographic:
        _check_lonlat(gdf, path, where, id_column, option_names, stage="file")
    gdf = _crs.ensure_crs(gdf, source=where)
    if datum_name != "wgs84":
        gdf = _crs.to_wgs84_geometry(gdf, datum_name)
        logger.info("%s: converted %d geometries from %s to WGS84", where, len(gdf), datum_name)
    _check_lonlat(gdf, path, where, id_column, option_names, stage="converted")
    gdf.attrs[SOURCE_COLUMNS_ATTR] = renamed
    return gdf


def _check_shapefile_parts(path: Path, *, needs_columns: bool) -> None:
    """A Shapefile is several files: refuse one whose ``.shx`` or needed ``.dbf`` is absent."""
    stem = path.stem.lower()
    present = {p.name.lower() for p in path.parent.iterdir() if p.stem.lower() == stem}
    parts = f"{path.stem}.shx, {path.stem}.dbf and {path.stem}.prj"
    fix = (
        f"copy {parts} into the same folder as the .shp (or send the Shapefile zipped with all "
        "its parts)."
    )
    if f"{stem}.shx" not in present:
        msg = (
            f"Shapefile 缺少 .shx / {str(path)!r} has no {path.stem}.shx beside it: a Shapefile "
            f"is several files; {fix}"
        )
        raise CorruptFileError(msg)
    if needs_columns and f"{stem}.dbf" not in present:
        msg = (
            f"Shapefile 缺少 .dbf / {str(path)!r} has no {path.stem}.dbf beside it, so it has no "
            f"columns (a Shapefile keeps its attributes in the .dbf): {fix}"
        )
        raise MissingColumnError(msg)


def _read_frame(path: Path, layer: str | None) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Read a layer; polygon rings that are not closed are closed where possible.

    Returns the frame and a mask of the features whose geometry was unclosed:
    those with a geometry now were closed, those without could not be.
    """
    kwargs: dict[str, Any] = {"layer": layer, "engine": "pyogrio"}
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _UNCLOSED_RING_WARNING, RuntimeWarning)
            try:
                gdf = gpd.read_file(path, **kwargs)
                return gdf, np.zeros(len(gdf), dtype=bool)
            except shapely.errors.GEOSException:
                pass  # an unclosed ring: read again, closing what can be closed
            gdf = gpd.read_file(path, on_invalid="fix", **kwargs)
            wkb = pyogrio.raw.read(path, layer=layer, columns=[])[2]
    except _READ_ERRORS as exc:
        msg = (
            f"{str(path)!r} (layer {layer!r}) cannot be read ({exc}). It may be truncated or "
            "damaged: export it again."
        )
        raise CorruptFileError(msg) from exc
    present = np.array([w is not None for w in wkb], dtype=bool)
    unreadable = shapely.is_missing(shapely.from_wkb(wkb, on_invalid="ignore"))
    return gdf, present & unreadable


def _report_unclosed(
    gdf: gpd.GeoDataFrame, unclosed: np.ndarray, where: str, id_column: str | None
) -> None:
    if not unclosed.any():
        return

    def rows(mask: np.ndarray) -> str:
        return _feature_rows(gdf, mask, id_column)

    geoms = gdf.geometry.to_numpy()
    # closing adds the first point at the end; a ring of fewer than 3 corners stays unusable
    too_few = np.char.startswith(
        shapely.is_valid_reason(geoms).astype(str), "Too few points"
    ) & ~shapely.is_missing(geoms)
    lost = unclosed & (shapely.is_missing(geoms) | too_few)
    if lost.any():
        msg = (
            f"多边形未闭合 / {where}: geometry of {rows(lost)} has a polygon ring that is not "
            "closed and cannot be closed (too few points). Redraw those features (a ring needs "
            "at least 3 distinct corners and ends where it starts)."
        )
        raise InvalidGeometryError(msg)
    warnings.warn(
        f"多边形未闭合，已闭合 / {where}: closed the unclosed polygon ring(s) of {rows(unclosed)} "
        "by joining the last point to the first; check their shape",
        UserWarning,
        stacklevel=3,
    )


def _set_crs(
    gdf: gpd.GeoDataFrame,
    crs: Any,
    path: Path,
    where: str,
    option_names: Mapping[str, str] | None,
) -> gpd.GeoDataFrame:
    """The file's CRS, or ``crs`` where the file has none (or a GeoJSON's implied lon/lat)."""
    crs_fix = _option(option_names, "crs", "EPSG:4548")
    if crs is None:
        if gdf.crs is None:
            msg = (
                f"{where} has no CRS (a Shapefile needs its .prj file). gridgeo never guesses "
                f"one: restore the .prj / set the CRS in the file, or pass {crs_fix} "
                "(EPSG:4326 for lon/lat)."
            )
            raise CRSError(msg)
        return gdf
    try:
        given = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        given_as = (
            f"{option_names['crs']} {crs}"
            if option_names and "crs" in option_names
            else f"`crs` {crs!r}"
        )
        msg = f"{given_as} is not a CRS pyproj knows: give e.g. 'EPSG:4326' or 'EPSG:4548'."
        raise CRSError(msg) from exc
    geojson_default = (
        path.suffix.lower() in (".geojson", ".json")
        and gdf.crs is not None
        and gdf.crs.equals(pyproj.CRS.from_epsg(4326))
    )
    if gdf.crs is None or geojson_default:
        return gdf.set_crs(given, allow_override=True)
    if gdf.crs.equals(given):
        return gdf
    msg = (
        f"{where} says its CRS is {gdf.crs.to_string()!r} but {given.to_string()!r} was "
        f"given as {_option(option_names, 'crs', str(crs))}: leave that out, or correct the "
        "CRS stored in the file."
    )
    raise CRSError(msg)


def _check_lonlat(
    gdf: gpd.GeoDataFrame,
    path: Path,
    where: str,
    id_column: str | None,
    option_names: Mapping[str, str] | None,
    *,
    stage: str,
) -> None:
    """Refuse coordinates outside lon/lat ranges: they are never longitude/latitude."""
    bounds = shapely.bounds(gdf.geometry.to_numpy())
    bad = ~np.isfinite(bounds).all(axis=1) | (np.abs(bounds) > [_LON_LIMIT, _LAT_LIMIT] * 2).any(
        axis=1
    )
    if not bad.any():
        return
    rows = _rows(gdf.index[bad])
    if id_column is not None:
        rows += f" (`{id_column}` {_listed(gdf[id_column][bad].tolist())})"
    first = shapely.get_coordinates(gdf.geometry.to_numpy()[bad][:1])[0]
    example = f"x={first[0]:.10g}, y={first[1]:.10g}"
    crs_fix = _option(option_names, "crs", "EPSG:<code>")
    if stage == "file":
        geojson = (
            " (a GeoJSON without a `crs` member is read as lon/lat)"
            if path.suffix.lower() in (".geojson", ".json")
            else ""
        )
        msg = (
            f"坐标不是经纬度 / {where}: coordinates such as {example} in {rows} are outside "
            f"longitude/latitude ranges (-180..180, -90..90), so they are not lon/lat although "
            f"the file's CRS is {gdf.crs.to_string()!r}{geojson}. The file is probably in "
            f"metres: pass {crs_fix} with the file's EPSG code, e.g. {_CRS_EXAMPLES}, or save "
            "the file with its CRS."
        )
    else:
        msg = (
            f"坐标系与坐标不符 / {where}: after conversion to WGS84 lon/lat, {rows} are outside "
            f"longitude/latitude ranges (e.g. {example}): the CRS does not fit the "
            f"coordinates. Correct the CRS in the file or pass the right one with {crs_fix}."
        )
    raise CRSError(msg)


def _repair_fix(option_names: Mapping[str, str] | None) -> str:
    """`` or pass repair=True`` (or the caller's flag); nothing where the caller has none."""
    if not option_names:
        return " or pass repair=True"
    return f" or pass {option_names['repair']}" if "repair" in option_names else ""


def _check_geometries(
    gdf: gpd.GeoDataFrame,
    where: str,
    *,
    id_column: str | None,
    geometry_types: Sequence[str] | None,
    repair: bool,
    option_names: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    def rows(mask: np.ndarray) -> str:
        return _feature_rows(gdf, mask, id_column)

    geoms = gdf.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        msg = (
            f"{where}: geometry is missing or empty in {rows(empty)}. "
            "Delete those features or draw their geometry."
        )
        raise InvalidGeometryError(msg)
    if geometry_types is not None:
        allowed = tuple(geometry_types)
        kinds = gdf.geometry.geom_type.to_numpy()
        wrong = ~np.isin(kinds, allowed)
        if wrong.any():
            found = sorted(set(kinds[wrong].tolist()))
            msg = (
                f"{where}: geometry type(s) {found!r} in {rows(wrong)} where "
                f"{allowed!r} is expected. Pass the right layer or convert the geometries."
            )
            raise InvalidGeometryError(msg)
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = list(dict.fromkeys(shapely.is_valid_reason(geoms[invalid]).tolist()))
        if not repair:
            msg = (
                f"{where}: invalid geometry in {rows(invalid)}: {_listed(reasons)}. "
                "Repair them (QGIS 'Fix geometries', shapely.make_valid)"
                + _repair_fix(option_names)
                + "."
            )
            raise InvalidGeometryError(msg)
        gdf = gdf.copy()
        fixed = shapely.make_valid(geoms[invalid])
        gdf.loc[invalid, gdf.geometry.name] = fixed
        warnings.warn(
            f"{where}: repaired {int(invalid.sum())} invalid geometries with "
            f"shapely.make_valid ({rows(invalid)})",
            UserWarning,
            stacklevel=3,
        )
    return gdf


def write_layer(gdf: gpd.GeoDataFrame, path: str | Path, layer: str, *, mode: str = "w") -> Path:
    """Write a GeoDataFrame as a GeoPackage layer in EPSG:4326.

    Parameters
    ----------
    gdf
        Data to write; it must have a CRS (it is reprojected to EPSG:4326).
    path
        The ``.gpkg`` file; created if needed. Other layers are kept.
    layer
        Layer name.
    mode
        ``"w"`` replaces the layer, ``"a"`` appends rows to it.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    CRSError
        If ``gdf`` has no CRS.
    InputError
        Unknown ``mode``, a non-``.gpkg`` path or an empty layer name.
    NotFoundError
        If the folder of ``path`` does not exist.
    """
    path = Path(path)
    if mode not in WRITE_MODES:
        msg = f"Unknown `mode` {mode!r}: use one of {WRITE_MODES!r}."
        raise InputError(msg)
    if path.suffix.lower() != ".gpkg":
        msg = f"`path` {str(path)!r} must end in '.gpkg': write_layer writes GeoPackages."
        raise InputError(msg)
    if not layer:
        msg = "`layer` must be a non-empty layer name."
        raise InputError(msg)
    if not path.parent.is_dir():
        msg = f"Folder {str(path.parent)!r} of `path` does not exist: create it first."
        raise NotFoundError(msg)
    out = _crs.ensure_crs(gdf, source=f"GeoDataFrame for layer {layer!r}")
    out.to_file(path, layer=layer, driver="GPKG", engine="pyogrio", mode=mode)
    logger.info("wrote %d rows to %s layer %r (mode %r)", len(out), path, layer, mode)
    return path


# --------------------------------------------------------------------------- #
# tables with lon/lat columns


def _read_csv(path: Path, encoding: str | None, dtype: dict[str, Any]) -> pd.DataFrame:
    sep = "," if path.suffix.lower() == ".csv" else None
    encodings = (encoding,) if encoding else TABLE_ENCODINGS
    last: Exception | None = None
    for enc in encodings:
        try:
            df = pd.read_csv(
                path,
                encoding=enc,
                dtype=dtype,
                sep=sep,
                engine="python" if sep is None else "c",
                skipinitialspace=True,
                skip_blank_lines=False,
            )
        except UnicodeDecodeError as exc:
            last = exc
            continue
        except LookupError as exc:
            msg = f"`encoding` {encoding!r} is unknown: pass e.g. 'utf-8' or 'gb18030'."
            raise InputError(msg) from exc
        except pd.errors.EmptyDataError as exc:
            msg = f"{str(path)!r} is empty: it has no header and no rows."
            raise EmptyDataError(msg) from exc
        except (pd.errors.ParserError, ValueError) as exc:
            msg = (
                f"{str(path)!r} is not a readable CSV table ({exc}). Save it again as "
                "'CSV UTF-8 (comma delimited)'."
            )
            raise CorruptFileError(msg) from exc
        logger.info("read %s with encoding %s", path, enc)
        return df
    msg = (
        f"{str(path)!r} is not text in encoding(s) {list(encodings)!r} ({last}). Save it as "
        "'CSV UTF-8' (Excel: 另存为 CSV UTF-8) or pass the right `encoding`."
    )
    raise CorruptFileError(msg)


def _read_excel(path: Path, sheet: str | int | None, dtype: dict[str, Any]) -> pd.DataFrame:
    try:
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        sheets = list(book.sheetnames)
        book.close()
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        msg = "Reading .xlsx needs openpyxl: pip install openpyxl."
        raise InputError(msg) from exc
    except Exception as exc:  # openpyxl raises zipfile/KeyError/... on damaged files
        msg = (
            f"{str(path)!r} cannot be opened as an Excel workbook ({exc!r}). Save it again "
            "from Excel as .xlsx."
        )
        raise CorruptFileError(msg) from exc
    if isinstance(sheet, str) and sheet not in sheets:
        msg = f"{str(path)!r} has no sheet {sheet!r}; sheets there: {sheets!r}."
        raise NotFoundError(msg)
    if isinstance(sheet, int) and not 0 <= sheet < len(sheets):
        msg = f"{str(path)!r} has no sheet number {sheet!r}; sheets there: {sheets!r}."
        raise NotFoundError(msg)
    return pd.read_excel(path, sheet_name=sheet or 0, dtype=dtype, engine="openpyxl")


def _read_records(
    path: str | Path,
    *,
    id_column: str | None,
    required_columns: Sequence[str],
    encoding: str | None,
    sheet: str | int | None,
    hint: str,
    mappable: bool = False,
    columns: Mapping[str, str] | None = None,
    option_names: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a CSV/Excel table, drop fully empty rows, check columns and ids.

    With ``mappable``, columns are renamed by ``columns`` and the aliases first.
    Returns the table (index 0..n-1) and the file line of each row.
    """
    path = _check_path(path, TABLE_SUFFIXES, "Table file")
    # the id column is read as text (leading zeros), under any name it may have
    id_names = [id_column] if id_column else []
    if id_column and mappable:
        id_names += COLUMN_ALIASES.get(id_column, ())
        if columns and id_column in columns:
            id_names.append(columns[id_column])
    dtype: dict[str, Any] = {name: str for name in id_names if name}
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        df = _read_excel(path, sheet, dtype)
    else:
        df = _read_csv(path, encoding, dtype)
    df.columns = [str(c).strip() for c in df.columns]

    # file line of each row (header = line 1); blank lines are read as empty rows
    lines = np.arange(len(df)) + 2
    blank_rows = df.isna().all(axis=1).to_numpy()
    if blank_rows.any():
        warnings.warn(
            f"{str(path)!r}: dropped fully empty {_rows(df.index[blank_rows], lines[blank_rows])}",
            UserWarning,
            stacklevel=3,
        )
        df = df.loc[~blank_rows].reset_index(drop=True)
        lines = lines[~blank_rows]
    if len(df) == 0:
        msg = f"{str(path)!r} has a header but no data rows: fill in the table."
        raise EmptyDataError(msg)
    needed = [*required_columns, *([id_column] if id_column else [])]
    if mappable:
        df = _apply_columns(df, needed, columns, path, option_names)
    _check_columns(df, needed, path, hint=hint, mappable=mappable, option_names=option_names)
    _check_ids(df, id_column, path, lines=lines)
    return df, lines


def read_records(
    path: str | Path,
    *,
    id_column: str | None = None,
    required_columns: Sequence[str] = (),
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read a CSV or Excel table without coordinates (a roster, a list of ids).

    Same reading rules as :func:`read_table`: UTF-8 or GB18030 text, fully empty
    rows dropped with a warning, the id column read as text and checked for
    empty and repeated values, missing columns named with the fix.

    Parameters
    ----------
    path
        ``.csv``, ``.txt`` or ``.xlsx``/``.xlsm``.
    id_column
        Column that must be present, non-empty and unique.
    required_columns
        Other columns that must be present.
    encoding
        Text encoding of a CSV; None tries UTF-8 then GB18030.
    sheet
        Excel sheet name or 0-based number; None reads the first sheet.

    Returns
    -------
    pandas.DataFrame
        The table, index 0..n-1 in file order, plus column ``file_line``.
    """
    df, lines = _read_records(
        path,
        id_column=id_column,
        required_columns=required_columns,
        encoding=encoding,
        sheet=sheet,
        hint="",
    )
    out = df.copy()
    out["file_line"] = lines
    return out


def read_table(
    path: str | Path,
    *,
    lon: str = "lon",
    lat: str = "lat",
    datum: str = "wgs84",
    datum_column: str | None = None,
    id_column: str | None = None,
    required_columns: Sequence[str] = (),
    encoding: str | None = None,
    sheet: str | int | None = None,
    points: str = "required",
    area: shapely.Geometry | None = None,
    max_distance_m: float = _crs.DEFAULT_MAX_DISTANCE_M,
    columns: Mapping[str, str] | None = None,
    option_names: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read a CSV or Excel table with lon/lat columns as WGS84 points.

    Each row's coordinates are checked with :func:`gridgeo.crs.check_coordinates`
    and the result is kept in column ``coord_reason``. Rows whose reason is not
    ``"ok"`` (swapped lon/lat, outside China or ``area``, empty or non-numeric
    lon/lat) get no geometry -- they are reported, never silently used or
    fixed -- and a warning counts them. The ``lon``/``lat`` columns keep the
    numbers as given (in their datum); the geometry holds WGS84 points.

    Parameters
    ----------
    path
        ``.csv``, ``.txt`` (delimiter sniffed) or ``.xlsx``/``.xlsm``.
    lon, lat
        Names of the longitude and latitude columns (e.g. ``"经度"``, ``"纬度"``).
    datum
        Datum of the lon/lat numbers for every row: ``"wgs84"``, ``"gcj02"``
        or ``"bd09"``.
    datum_column
        Name of a column giving the datum per row instead (overrides ``datum``).
    id_column
        Column that must be present, non-empty and unique (read as text, so
        leading zeros survive).
    required_columns
        Other columns that must be present.
    encoding
        Text encoding of a CSV; None tries UTF-8 then GB18030 (GBK) and logs
        which one was used.
    sheet
        Excel sheet name or 0-based number; None reads the first sheet.
    points
        ``"required"``: every row must have lon and lat (empty or non-numeric
        values raise :class:`~gridgeo.errors.CoordinateError`);
        ``"optional"``: such rows are kept with no geometry; ``"valid"``:
        every row must have a usable point (a row whose ``coord_reason`` is
        not ``"ok"`` -- numbers outside lon/lat ranges or China, swapped
        lon/lat -- raises :class:`~gridgeo.errors.CoordinateError`).
    area
        Optional polygon in EPSG:4326 WGS84 (e.g. the county): points farther
        than ``max_distance_m`` from it get ``coord_reason="outside_area"``.
        It replaces the China check, so tables outside China can be read.
    max_distance_m
        Tolerance around ``area`` in metres.
    columns
        Names of the file's columns for gridgeo's, e.g. ``{"lon": "东经"}``;
        needed columns (``lon``, ``lat``, id and required columns) the file
        lacks are otherwise looked up in :data:`COLUMN_ALIASES` (``经度``,
        ``lng``, ``变电站编号``, ...). The columns are renamed.
    option_names
        How the caller's users set ``columns`` (e.g.
        ``{"columns": "--columns substations:"}``), used in error messages.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, the table's columns plus ``coord_reason`` and the geometry;
        index 0..n-1 in file order (fully empty rows dropped with a warning);
        the columns renamed on reading are in ``gdf.attrs["source_columns"]``
        (gridgeo's name -> the file's).

    Raises
    ------
    NotFoundError
        Missing file or sheet.
    CorruptFileError
        Unreadable file or undecodable text.
    EmptyDataError
        No data rows.
    MissingColumnError
        A lon/lat, id, datum or required column is missing.
    DuplicateIdError
        The id column repeats values.
    CoordinateError
        With ``points="required"``, rows with empty or non-numeric lon/lat;
        with ``points="valid"``, rows without a usable point.
    CRSError
        Unknown ``datum`` or unknown values in ``datum_column``.
    """
    if points not in POINTS_MODES:
        msg = f"Unknown `points` {points!r}: use one of {POINTS_MODES!r}."
        raise InputError(msg)
    datum_name = _crs.normalise_datum(datum)
    needed = [lon, lat, *required_columns]
    needed += [c for c in (datum_column,) if c]
    df, lines = _read_records(
        path,
        id_column=id_column,
        required_columns=needed,
        encoding=encoding,
        sheet=sheet,
        hint=""
        if option_names
        else (
            " or pass the names in the file (`lon`, `lat`, `id_column`, ...), "
            "e.g. read_table(path, lon='经度', lat='纬度')"
        ),
        mappable=True,
        columns=columns,
        option_names=option_names,
    )
    path = Path(path)

    parsed = _crs.check_coordinates(df[lon], df[lat])
    reason = parsed["reason"].to_numpy()
    unusable = np.isin(reason, ["missing", "not_a_number"])
    if points == "required" and unusable.any():
        kinds = sorted(set(reason[unusable].tolist()))
        msg = (
            f"{str(path)!r}: `{lon}`/`{lat}` are {' or '.join(kinds)} in "
            f"{_rows(df.index[unusable], lines[unusable])}. Fill in numeric coordinates or pass "
            "points='optional' to keep those rows without a point."
        )
        raise CoordinateError(msg)

    # Convert every usable pair first (both datums leave points outside China,
    # such as swapped pairs, unchanged), then check the WGS84 points, so that
    # `area` is compared with true positions.
    x = parsed["lon"].to_numpy()
    y = parsed["lat"].to_numpy()
    wx = np.full(len(df), np.nan)
    wy = np.full(len(df), np.nan)
    usable = ~unusable
    if datum_column is None:
        row_datums = np.full(len(df), datum_name, dtype=object)
    else:
        # only rows with a point need a datum
        row_datums = np.full(len(df), None, dtype=object)
        row_datums[usable] = _row_datums(
            df.loc[usable, datum_column], path, datum_column, lines[usable]
        )
    for name in _crs.DATUMS:
        sel = usable & (row_datums == name)
        if sel.any():
            wx[sel], wy[sel] = _crs.to_wgs84(x[sel], y[sel], name)
    if area is not None:
        checked = _crs.check_coordinates(wx, wy, area=area, max_distance_m=max_distance_m)
        reason = np.where(usable, checked["reason"].to_numpy(), reason)
    ok = reason == "ok"

    not_ok = ~ok
    if points == "valid" and not_ok.any():
        raise CoordinateError(_no_point_message(path, lon, lat, reason, df.index, lines))
    if not_ok.any():
        counts = pd.Series(reason[not_ok]).value_counts().to_dict()
        warnings.warn(
            f"{str(path)!r}: {int(not_ok.sum())} of {len(df)} rows get no point "
            f"(coord_reason counts {counts!r}), e.g. {_rows(df.index[not_ok], lines[not_ok])}",
            UserWarning,
            stacklevel=2,
        )
    geometry = shapely.points(wx, wy)
    geometry[not_ok] = None
    out = df.copy()
    out["coord_reason"] = reason
    result = gpd.GeoDataFrame(out, geometry=geometry, crs="EPSG:4326")
    result.attrs[SOURCE_COLUMNS_ATTR] = df.attrs.get(SOURCE_COLUMNS_ATTR, {})
    return result


_REASON_FIXES = {
    "missing": "fill in the empty lon/lat",
    "not_a_number": "write lon/lat as decimal degrees such as 116.53",
    "swapped_lonlat": "exchange the lon and lat values",
    "outside_china": (
        "numbers outside China or outside lon/lat ranges are not lon/lat degrees "
        "(metres? degrees-minutes?): convert them to decimal degrees"
    ),
    "outside_area": "check the point or its datum",
}


def _no_point_message(
    path: Path, lon: str, lat: str, reason: np.ndarray, index: pd.Index, lines: np.ndarray
) -> str:
    """One line naming the rows without a usable point, by reason, and each fix."""
    parts = []
    for kind in dict.fromkeys(reason[reason != "ok"].tolist()):
        sel = reason == kind
        parts.append(f"{kind} in {_rows(index[sel], lines[sel])}: {_REASON_FIXES[kind]}")
    return (
        f"经纬度不可用 / {str(path)!r}: `{lon}`/`{lat}` give no usable point in "
        f"{int((reason != 'ok').sum())} "
        f"of {len(reason)} rows -- {'; '.join(parts)}."
    )


def _row_datums(values: pd.Series, path: Path, column: str, lines: np.ndarray) -> np.ndarray:
    """Normalised datum name per row; unknown or empty values raise CRSError."""
    keys = values.astype("string").str.strip().str.lower()
    lookup = {alias: name for alias, name in _crs.DATUM_ALIASES.items()}
    names = keys.map(lookup)
    bad = names.isna().to_numpy()
    if bad.any():
        found = list(dict.fromkeys(values[bad].tolist()))
        msg = (
            f"{str(path)!r}: datum column `{column}` has unknown or empty value(s) "
            f"{_listed(found)} in {_rows(values.index[bad], lines[bad])}; use one of "
            f"{_crs.DATUMS!r}."
        )
        raise CRSError(msg)
    return names.to_numpy(dtype=object)


# --------------------------------------------------------------------------- #
# customer files as marketing systems (营销系统) and the 95598 hotline export them

# The fields of a customer file and the names they go by (matched after NFKC, without spaces,
# a leading ``*`` or a trailing bracketed note such as ``（手机）``; Latin names ignoring case).
# The first name of each tuple is the usual one. Only ``customer_id`` and ``address`` are
# required. A file holding two names of one field is refused (say which one with
# ``columns``), except for ``phone``: the numbers of every phone column are kept.
CUSTOMER_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "户号", "用户编号", "客户编号", "用户号", "客户号", "用电户号", "户号编码",
        "customer_no", "cust_id", "cust_no", "customer_number", "account_no",
    ),
    "name": (
        "户名", "用户名称", "客户名称", "用户名", "客户名", "姓名", "cust_name", "customer_name",
    ),
    "address": (
        "用电地址", "地址", "客户地址", "用户地址", "详细地址", "装表地址", "customer_address",
    ),
    "phone": (
        "手机号码", "联系电话", "手机", "手机号", "移动电话", "电话", "电话号码", "固定电话",
        "联系方式", "mobile", "phone_no", "tel", "telephone", "contact_phone",
    ),
    "category": (
        "用电类别", "用户类别", "客户类别", "用电分类", "用户分类", "cust_type",
        "customer_type", "usage_type",
    ),
    "voltage_class": ("电压等级", "供电电压", "电压", "voltage", "voltage_level"),
    "vulnerable": (
        "重点关怀", "特殊群体", "重点关怀客户", "关怀对象", "困难户", "vulnerable_household",
    ),
    "gps_lon": ("经度", "lon", "lng", "longitude", "gps经度"),
    "gps_lat": ("纬度", "lat", "latitude", "gps纬度"),
    "gps_datum": ("坐标系", "坐标系统", "datum", "crs"),
}  # fmt: skip
CUSTOMER_REQUIRED = ("customer_id", "address")
# Rows searched for the header when no header row is given (title rows, a date line, ...).
MAX_HEADER_SEARCH = 30
# The field whose several columns do not conflict: their values are joined with "/" (in
# the order of the aliases: 手机号码 before 联系电话).
_JOINED_FIELDS = ("phone",)
# What a value of each field may be written as -> the code the archive stores.
CATEGORY_CODES: dict[str, str] = {
    **dict.fromkeys(
        ("residential", "居民", "居民生活", "城镇居民", "乡村居民", "农村居民", "居民照明",
         "城乡居民", "居民生活用电", "一户一表"),
        "residential",
    ),
    **dict.fromkeys(
        ("commercial", "商业", "商业用电", "商业经营", "一般工商业", "一般工商业用电", "非居民",
         "非居民照明", "非居民照明用电", "非工业", "经营"),
        "commercial",
    ),
    **dict.fromkeys(
        ("industrial", "工业", "大工业", "大工业用电", "普通工业", "普通工业用电", "一般工业",
         "工业生产", "工业用电"),
        "industrial",
    ),
    **dict.fromkeys(
        ("agricultural", "农业", "农业生产", "农业排灌", "农排", "农业用电", "农业生产用电",
         "贫困县农业排灌"),
        "agricultural",
    ),
}  # fmt: skip
# Datum names beside those of gridgeo.crs.DATUM_ALIASES.
_DATUM_WORDS = {
    "gps": "wgs84",
    "cgcs2000": "wgs84",  # differs from WGS84 by centimetres
    "北斗": "wgs84",
    "高德": "gcj02",
    "腾讯": "gcj02",
    "火星": "gcj02",
    "火星坐标": "gcj02",
    "国测局": "gcj02",
    "百度": "bd09",
}
_NO = {"", "否", "无", "非", "no", "n", "false", "f", "0", "×", "x", "none", "nan"}
_VOLTAGE_WORDS = {"高压": "HV", "hv": "HV", "低压": "LV", "lv": "LV"}
_HV_VOLTS = 1000.0  # 1 kV and above is high voltage (高压): 10 kV, 35 kV, ...


def _cell_text(value: Any) -> str:
    """One cell as text: Excel numbers without ``.0`` (ids, phones), None as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not np.isfinite(value):
            return ""
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


def _header_key(name: str) -> str:
    """A header cell as matched: NFKC, no spaces, no ``*``, no trailing bracketed note."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lstrip("*").strip()
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"\([^()]*\)$", "", text) or text
    return text.lower()


@dataclass(frozen=True)
class _Fields:
    """The fields of one kind of export table: their names, the required ones, and words."""

    aliases: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]
    joined: tuple[str, ...]
    what: str  # "customer": "a customer field"
    plural: str  # "customers": "the customers are on sheet ..."

    @property
    def keys(self) -> dict[str, str]:
        """Every accepted header, as matched (:func:`_header_key`) -> its field."""
        return {
            _header_key(alias): field
            for field, aliases in self.aliases.items()
            for alias in (field, *aliases)
        }


def _field_mapping(
    columns: Mapping[str, str] | None,
    option_names: Mapping[str, str] | None,
    fields: _Fields,
) -> dict[str, str]:
    """``columns`` as {field: the file's header}; either order of a pair is accepted."""
    out: dict[str, str] = {}
    example = next(iter(fields.aliases))
    for left, right in (columns or {}).items():
        if left in fields.aliases:
            out[left] = right
        elif right in fields.aliases:
            out[right] = left
        else:
            given = _columns_given(left, right, option_names)
            msg = (
                f"列名映射无效 / {given}: neither side is a {fields.what} field; fields: "
                f"{', '.join(fields.aliases)} (e.g. {fields.aliases[example][0]}={example})."
            )
            raise InputError(msg)
    return out


def _match_header(
    cells: Sequence[str], mapping: Mapping[str, str], fields: _Fields
) -> tuple[dict[str, list[int]], list[int]]:
    """Positions of each field in a header row, and the positions of unmapped cells."""
    given = {_header_key(theirs): field for field, theirs in mapping.items()}
    alias_keys = fields.keys
    found: dict[str, list[int]] = {}
    unmapped = []
    for j, cell in enumerate(cells):
        if not cell:
            continue
        key = _header_key(cell)
        field = given.get(key) or (None if key in given else alias_keys.get(key))
        if field is None or (field in mapping and key not in given):
            unmapped.append(j)
            continue
        found.setdefault(field, []).append(j)
    return found, unmapped


def _is_header(found: Mapping[str, list[int]], fields: _Fields) -> bool:
    return all(field in found for field in fields.required)


def _decode_text(path: Path, encoding: str | None) -> str:
    """A CSV/TXT's text, in ``encoding`` or the first of :data:`TABLE_ENCODINGS` that fits.

    Line ends are left as they are (:func:`_universal_newlines` translates them).
    """
    encodings = (encoding,) if encoding else TABLE_ENCODINGS
    last: Exception | None = None
    data = path.read_bytes()
    for enc in encodings:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as exc:
            last = exc
            continue
        except LookupError as exc:
            msg = f"`encoding` {encoding!r} is unknown: pass e.g. 'utf-8' or 'gb18030'."
            raise InputError(msg) from exc
        logger.info("read %s with encoding %s", path, enc)
        return text
    msg = (
        f"{str(path)!r} is not text in encoding(s) {list(encodings)!r} ({last}). Save it as "
        "'CSV UTF-8' (Excel: 另存为 CSV UTF-8) or pass the right `encoding`."
    )
    raise CorruptFileError(msg)


def _universal_newlines(text: str) -> str:
    """``\\r\\n`` and ``\\r`` as ``\\n``, as a file opened in text mode reads them."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


# A line end as a file opened in text mode (and the csv module) sees one.
_LINE_END = re.compile(r"\r\n|\r|\n")
_LONE_CR = re.compile(r"\r(?!\n)")


def _text_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one by one, each line end as ``\\n`` (no copy of the text)."""
    start = 0
    for end in _LINE_END.finditer(text):
        yield text[start : end.start()] + "\n"
        start = end.end()
    if start < len(text):
        yield text[start:]


def _text_delimiter(path: Path, text: str) -> str:
    """``,`` for a .csv; for a .txt the delimiter sniffed from its start."""
    if path.suffix.lower() == ".csv":
        return ","
    try:
        return csv.Sniffer().sniff(text[:20000], delimiters=",\t;|").delimiter
    except csv.Error:
        return "\t" if "\t" in text.partition("\n")[0] else ","


def _csv_rows(
    path: Path, lines_in: Iterable[str], delimiter: str, limit: int | None = None
) -> tuple[list[list[str]], list[int]]:
    """The first ``limit`` (None: all) rows of a CSV's lines, and the line each starts on."""
    reader = csv.reader(lines_in, delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for row in itertools.islice(reader, limit):
            rows.append([cell.strip() for cell in row])
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        msg = (
            f"{str(path)!r} is not a readable CSV table (line {reader.line_num}: {exc}). Save it "
            "again as 'CSV UTF-8 (comma delimited)'."
        )
        raise CorruptFileError(msg) from exc
    return rows, lines


def _read_text_rows(path: Path, encoding: str | None) -> tuple[list[list[str]], list[int]]:
    """A CSV/TXT as rows of text and the file line each row starts on."""
    text = _universal_newlines(_decode_text(path, encoding))
    delimiter = _text_delimiter(path, text)
    return _csv_rows(path, io_module.StringIO(text, newline=""), delimiter)


@dataclass(frozen=True)
class _TextTable:
    """A decoded CSV/TXT with its first rows parsed (the head, where the header is).

    The body below the header is read column-wise by :func:`_text_body_columns`, many
    times faster than the csv module's rows (:func:`_read_text_rows`) for 10^6 lines.
    """

    path: Path
    text: str  # as decoded, line ends untranslated
    delimiter: str
    rows: list[list[str]]  # the head (every row when `complete`)
    lines: list[int]
    complete: bool

    def all_rows(self) -> tuple[list[list[str]], list[int]]:
        """Every row of the file and its line, as :func:`_read_text_rows` gives them."""
        if self.complete:
            return self.rows, self.lines
        text = _universal_newlines(self.text)
        return _csv_rows(self.path, io_module.StringIO(text, newline=""), self.delimiter)


def _read_text_table(path: Path, encoding: str | None, header_row: int | None) -> _TextTable:
    """A CSV/TXT decoded, with the rows a header search looks at (and the next two) parsed."""
    text = _decode_text(path, encoding)
    # the same translated start (its first 20,000 characters, its first line) as in
    # _read_text_rows, without translating the whole text
    first_end = _LINE_END.search(text)
    start = text[: max(40000, first_end.end() if first_end else len(text))]
    delimiter = _text_delimiter(path, _universal_newlines(start))
    # the header is in the first MAX_HEADER_SEARCH rows (or at `header_row`), a merged
    # second header row may follow, and the first body row gives the body's first line
    limit = max(MAX_HEADER_SEARCH, header_row or 0) + 2
    rows, lines = _csv_rows(path, _text_lines(text), delimiter, limit + 1)
    return _TextTable(path, text, delimiter, rows, lines, complete=len(rows) <= limit)


def _has_long_line(text: str, limit: int) -> bool:
    """Whether a line of ``text`` (split at ``\\n``) is longer than ``limit`` characters."""
    start = 0
    while len(text) - start > limit:
        last = text.rfind("\n", start, start + limit + 1)
        if last < 0:
            return True
        start = last + 1
    return False


def _text_body_columns(
    table: _TextTable, first: int, positions: Sequence[int]
) -> tuple[dict[int, np.ndarray], np.ndarray] | None:
    """Columns ``positions`` of the rows from head row ``first`` on, and each row's line.

    The body is read by pandas' C parser, with the csv module's cells (stripped; a short
    row padded with ``""``, the cells past the header ignored; line ends in quoted cells as
    ``\\n``). A row's line is the body's first line plus the lines of the rows above it:
    one each, and one more per line end inside a cell. None when the result could differ
    from the csv module's: a line end inside a cell that is not read (the rows' lines are
    then unknown), a line longer than the csv module's field limit, or rows pandas
    refuses; the caller then parses every row with the csv module.
    """
    line = table.lines[first]
    offset = 0
    if line > 1:
        ends = itertools.islice(_LINE_END.finditer(table.text), line - 2, None)
        offset = next(ends).end()
    body = table.text[offset:]
    if body.startswith("\ufeff") or _has_long_line(body, csv.field_size_limit()):
        return None  # pandas would drop the BOM; the csv module may refuse a long cell
    n_lines = body.count("\n")
    if "\r" in body and _LONE_CR.search(body):  # a line end of its own ("\r\n" is one)
        n_lines += body.count("\r") - body.count("\r\n")
    if body and body[-1] not in "\r\n":
        n_lines += 1
    try:
        frame = pd.read_csv(
            io_module.BytesIO(body.encode("utf-8")),
            sep=table.delimiter,
            header=None,
            names=list(range(max(positions) + 1)),
            usecols=sorted(set(positions)),
            index_col=False,
            dtype=object,
            na_filter=False,
            keep_default_na=False,
            skip_blank_lines=False,  # a blank line is a row, dropped with the empty rows
            encoding="utf-8",
            engine="c",
        )
    except ValueError:  # pandas' ParserError: rows it cannot split as the csv module does
        return None
    values = {j: frame[j].to_numpy(dtype=object) for j in set(positions)}
    spans = np.ones(len(frame), dtype=np.int64)  # lines per row
    columns = {}
    try:  # (a TypeError: not a str, a value pandas made up)
        if len(frame) != n_lines:  # quoted cells span lines: count their line ends
            for j, cells in values.items():
                multi = np.flatnonzero([("\n" in v or "\r" in v) for v in cells])
                spans[multi] += np.array([len(_LINE_END.findall(v)) for v in cells[multi]], int)
                values[j] = cells = cells.copy()  # pandas' arrays are read-only
                cells[multi] = [_universal_newlines(v) for v in cells[multi]]
            if int(spans.sum()) != n_lines:  # line ends in cells that are not read
                return None
        for j, cells in values.items():
            columns[j] = np.empty(len(frame), dtype=object)
            columns[j][:] = list(map(str.strip, cells))
    except TypeError:
        return None
    starts = line + np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)
    return columns, starts


def _read_sheets(path: Path) -> dict[str, list[list[str]]]:
    """Every sheet of a workbook as rows of text (row i is Excel row i + 1)."""
    try:
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/... on damaged files
        msg = (
            f"{str(path)!r} cannot be opened as an Excel workbook ({exc!r}). Save it again "
            "from Excel as .xlsx."
        )
        raise CorruptFileError(msg) from exc
    try:
        sheets = {}
        for ws in book.worksheets:
            ws.reset_dimensions()  # some exporters write a wrong sheet size
            sheets[str(ws.title)] = [
                [_cell_text(v) for v in row] for row in ws.iter_rows(min_row=1, values_only=True)
            ]
    finally:
        book.close()
    return sheets


def _find_header(
    rows: list[list[str]], mapping: Mapping[str, str], header_row: int | None, fields: _Fields
) -> tuple[int, list[str]] | None:
    """The 0-based header row and its cells (two merged header rows joined), or None."""
    if header_row is not None:
        if header_row - 1 >= len(rows):
            return None
        r = header_row - 1
        return r, list(rows[r])
    for r, cells in enumerate(rows[:MAX_HEADER_SEARCH]):
        found, _ = _match_header(cells, mapping, fields)
        if not _is_header(found, fields):
            continue
        # a second header row under merged cells (户号 spanning two rows, 联系方式 over
        # 手机/固话): its cells are all field names and it is blank under the required fields
        if r + 1 < len(rows):
            below = rows[r + 1]
            sub, other = _match_header(below, mapping, fields)
            required_blank = all(
                not below[j] for f in fields.required for j in found[f] if j < len(below)
            )
            if sub and not other and required_blank:
                joined = [b or c for b, c in itertools.zip_longest(below, cells, fillvalue="")]
                return r + 1, joined
        return r, list(cells)
    return None


def _missing_header_message(
    path: Path,
    where: str,
    rows: list[list[str]],
    mapping: Mapping[str, str],
    header_row: int | None,
    option_names: Mapping[str, str] | None,
    fields: _Fields,
) -> str:
    """Which fields no header row has, the header the file seems to have, and the fixes."""
    best: tuple[int, int, list[str]] = (-1, 0, [])
    candidates = (
        [(header_row - 1, rows[header_row - 1])]
        if header_row is not None and header_row - 1 < len(rows)
        else list(enumerate(rows[:MAX_HEADER_SEARCH]))
    )
    for r, cells in candidates:
        found, _ = _match_header(cells, mapping, fields)
        score = len(found) * 100 + sum(1 for c in cells if c)
        if score > best[0]:
            best = (score, r, cells)
    _, r, cells = best
    found, _ = _match_header(cells, mapping, fields)
    missing = [f for f in fields.required if f not in found]
    present = [c for c in cells if c]
    known = "; ".join(f"{f}: {'/'.join(fields.aliases[f][:4])}" for f in missing)
    header_fix = _option(option_names, "header_row", "N")
    at = f" (row {r + 1})" if present else ""
    return (
        f"缺少列 / {str(path)!r}{where} lacks column(s) {missing!r}; columns present{at}: "
        f"{present!r}. Rename the column(s) in the file, or name the file's column(s) with "
        f"{_columns_fix(missing, option_names)}, or give the header row with {header_fix} "
        f"(other names accepted: {known})."
    )


def _sheet_table(
    path: Path,
    where: str,
    rows: list[list[str]],
    lines: list[int],
    mapping: Mapping[str, str],
    header_row: int | None,
    option_names: Mapping[str, str] | None,
    fields: _Fields,
    text: _TextTable | None = None,
) -> tuple[pd.DataFrame | None, dict[str, str], list[str], int | None]:
    """One sheet's rows (None if it has no header), source names, ignored, header.

    ``text``: the CSV whose head ``rows`` are; its body is read column-wise.
    """
    found_header = _find_header(rows, mapping, header_row, fields)
    if found_header is None:
        return None, {}, [], None
    r, cells = found_header
    found, unmapped = _match_header(cells, mapping, fields)
    if not _is_header(found, fields):
        return None, {}, [], r + 1
    columns: dict[str, list[int]] = {}
    for field, positions in found.items():
        if len(positions) > 1 and field not in fields.joined:
            names = [cells[j] for j in positions]
            msg = (
                f"列名不明确 / {str(path)!r}{where}: several columns may be `{field}` "
                f"{names!r}: say which one with {_columns_fix([field], option_names)}."
            )
            raise MissingColumnError(msg)
        if len(positions) > 1:
            order = [_header_key(a) for a in (field, *fields.aliases[field])]
            positions = sorted(
                positions,
                key=lambda j: (
                    order.index(_header_key(cells[j])) if _header_key(cells[j]) in order else -1
                ),  # named by `columns`
            )
        columns[field] = positions
    fast = None
    if text is not None and not text.complete:
        fast = _text_body_columns(text, r + 1, [j for ps in columns.values() for j in ps])
        if fast is None:  # rows the C parser cannot give as the csv module does
            logger.info("%s: body read row by row with the csv module", path)
            rows, lines = text.all_rows()
    data: dict[str, Any] = {}
    if fast is not None:
        cols, body_lines = fast
        for field, positions in columns.items():
            if len(positions) == 1:
                data[field] = cols[positions[0]]
            else:  # several phone columns: every number kept, in the order of the aliases
                data[field] = [
                    "/".join(dict.fromkeys(v for v in values if v))
                    for values in zip(*(cols[j] for j in positions), strict=True)
                ]
    else:
        body = rows[r + 1 :]
        body_lines = np.asarray(lines[r + 1 :], dtype=np.int64)
        for field, positions in columns.items():
            if len(positions) == 1:
                j = positions[0]
                data[field] = [row[j] if j < len(row) else "" for row in body]
            else:  # several phone columns: every number kept, in the order of the aliases
                data[field] = [
                    "/".join(dict.fromkeys(row[j] for j in positions if j < len(row) and row[j]))
                    for row in body
                ]
    frame = pd.DataFrame(data, dtype=object)
    frame["file_line"] = body_lines
    source = {field: "/".join(cells[j] for j in ps) for field, ps in columns.items()}
    ignored = [cells[j] for j in unmapped]
    return frame, source, ignored, r + 1


def read_export_table(
    path: str | Path,
    *,
    aliases: Mapping[str, tuple[str, ...]],
    required: Sequence[str],
    joined: Sequence[str] = (),
    what: str = "record",
    plural: str | None = None,
    columns: Mapping[str, str] | None = None,
    header_row: int | None = None,
    sheet: str | int | None = None,
    all_sheets: bool = False,
    encoding: str | None = None,
    option_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read a table as business systems export it: title rows, merged header, Chinese names.

    The header row is the first row (of the first :data:`MAX_HEADER_SEARCH`) that names every
    field of ``required`` under one of its names in ``aliases`` (matched after NFKC, without
    spaces, a leading ``*`` or a trailing bracketed note; Latin names ignoring case), so title
    rows above it are skipped; a second header row under merged cells is joined to it. Every
    cell is read as text (an Excel number ``3610230000001.0`` is ``"3610230000001"``). This is
    the one reader of customer files (:func:`read_customer_file`) and work-order exports
    (:func:`gridgeo.orders.read_orders_file`). A CSV's header is found with the csv module and
    its body read column-wise by pandas' C parser (10^6 rows in seconds), with the csv
    module's cells and lines; a file whose quoted cells span lines is read row by row.

    Parameters
    ----------
    path
        ``.csv``/``.txt`` (UTF-8 or GB18030/GBK) or ``.xlsx``/``.xlsm``.
    aliases
        ``{field: (other names, ...)}``; the first name is the usual one.
    required
        The fields a header row must name.
    joined
        Fields that may have several columns, whose values are joined with ``/`` (in the
        order of the aliases); several columns of any other field are refused.
    what, plural
        The kind of record in messages (``"customer"``, ``"customers"``).
    columns
        The file's names for the fields, ``{"customer_id": "编号"}`` (``{"编号":
        "customer_id"}`` is read the same); other fields are found by their aliases.
    header_row
        The header's row number as Excel shows it (1-based), instead of searching.
    sheet
        The sheet to read (name, or 0-based number). None: the sheet holding the table;
        several such sheets are refused unless ``all_sheets``.
    all_sheets
        Read every sheet holding the table (sheets without it, such as notes, are skipped
        and named in ``attrs["skipped_sheets"]``).
    encoding
        Text encoding of a CSV; None tries UTF-8 then GB18030.
    option_names
        How the caller's users set ``columns``, ``header_row``, ``sheet`` and
        ``all_sheets`` (e.g. ``{"sheet": "--sheet"}``), used in error messages.

    Returns
    -------
    pandas.DataFrame
        One column per field found (text, ``""`` where empty), ``file_line`` (the row's
        line in a CSV, its Excel row in a workbook) and ``sheet`` (the sheet name, ``""``
        for a CSV); index 0..n-1. Fully empty rows are left out. ``attrs`` holds
        ``source_columns`` ({field: the file's header}), ``ignored_columns``,
        ``header_row`` ({sheet: 1-based row}) and ``skipped_sheets``.

    Raises
    ------
    NotFoundError
        Missing file or sheet.
    CorruptFileError
        Unreadable file or undecodable text.
    EmptyDataError
        No data rows (naming the sheet that has them, if another one does).
    MissingColumnError
        No header row with the required fields, or two columns for one field.
    InputError
        Invalid options.
    """
    path = _check_path(path, TABLE_SUFFIXES, "Table file")
    if header_row is not None and (
        isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1
    ):
        msg = f"{_option(option_names, 'header_row', '2')}: the header row must be 1 or more."
        raise InputError(msg)
    fields = _Fields(dict(aliases), tuple(required), tuple(joined), what, plural or f"{what} rows")
    missing_required = [f for f in fields.required if f not in fields.aliases]
    if missing_required:
        msg = f"`required` fields {missing_required!r} have no entry in `aliases`."
        raise InputError(msg)
    mapping = _field_mapping(columns, option_names, fields)
    text: _TextTable | None = None
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        books = _read_sheets(path)
        names = list(books)
        if isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(names):
                msg = f"{str(path)!r} has no sheet number {sheet!r}; sheets there: {names!r}."
                raise NotFoundError(msg)
            sheet = names[sheet]
        if sheet is not None and sheet not in books:
            msg = f"{str(path)!r} has no sheet {sheet!r}; sheets there: {names!r}."
            raise NotFoundError(msg)
        tables = {n: (rows, list(range(1, len(rows) + 1))) for n, rows in books.items()}
    else:
        if sheet is not None or all_sheets:
            msg = (
                f"{str(path)!r} is a CSV table, which has no sheets: leave out "
                f"{_option(option_names, 'sheet', '').strip()}."
            )
            raise InputError(msg)
        text = _read_text_table(path, encoding, header_row)
        tables = {"": (text.rows, text.lines)}

    read: dict[str, pd.DataFrame] = {}
    headers: dict[str, int] = {}
    sources: dict[str, dict[str, str]] = {}
    ignored: list[str] = []
    skipped: list[str] = []
    no_header: dict[str, str] = {}
    for name, (rows, lines) in tables.items():
        where = f" sheet {name!r}" if name else ""
        given_row = header_row if sheet is None or name == sheet else None
        frame, src, ign, at = _sheet_table(
            path, where, rows, lines, mapping, given_row, option_names, fields, text
        )
        if frame is None:
            if text is not None:  # a CSV's head only so far
                rows, lines = text.all_rows()
            if any(any(c for c in row) for row in rows):
                skipped.append(name)
                no_header[name] = _missing_header_message(
                    path, where, rows, mapping, given_row, option_names, fields
                )
            continue
        # every cell is a str: "" is the only falsy one
        keep = np.zeros(len(frame), dtype=bool)
        for field in src:
            keep |= frame[field].to_numpy(dtype=object).astype(bool)
        if not keep.all():
            frame = frame.loc[keep].copy()
        frame["sheet"] = name
        read[name] = frame
        headers[name] = int(at or 0)
        sources[name] = src
        ignored += [c for c in ign if c not in ignored]
    with_data = [n for n, f in read.items() if len(f)]

    if sheet is not None:
        if sheet not in read:
            if sheet in no_header:
                raise MissingColumnError(no_header[sheet])
            msg = f"{str(path)!r} sheet {sheet!r} is empty" + (
                f": the {fields.plural} are on sheet {with_data[0]!r}." if with_data else "."
            )
            raise EmptyDataError(msg)
        if sheet not in with_data:
            msg = f"{str(path)!r} sheet {sheet!r} has a header but no data rows" + (
                f": the {fields.plural} are on sheet {with_data[0]!r}." if with_data else "."
            )
            raise EmptyDataError(msg)
        with_data = [sheet]
    elif not read:
        if no_header:
            raise MissingColumnError(next(iter(no_header.values())))
        msg = f"{str(path)!r} is empty: it has no header and no rows."
        raise EmptyDataError(msg)
    elif not with_data:
        where = f" (sheet(s) {list(read)!r})" if list(read) != [""] else ""
        msg = f"{str(path)!r}{where} has a header but no data rows: fill in the table."
        raise EmptyDataError(msg)
    elif len(with_data) > 1 and not all_sheets:
        flag = _option(option_names, "all_sheets", "").strip() if option_names else ""
        msg = (
            f"多个工作表 / {str(path)!r}: sheets {with_data!r} all hold {fields.what} rows; read "
            f"them all with {flag or 'all_sheets=True'} or pick one with "
            f"{_option(option_names, 'sheet', with_data[0])}."
        )
        raise InputError(msg)
    if len(with_data) > 1:
        per_sheet = {n: sorted(sources[n]) for n in with_data}
        if len({tuple(v) for v in per_sheet.values()}) > 1:
            msg = (
                f"工作表表头不同 / {str(path)!r}: the sheets do not have the same fields "
                f"{per_sheet!r}; give each sheet the same header or read one with "
                f"{_option(option_names, 'sheet', with_data[0])}."
            )
            raise InputError(msg)
    source = sources[with_data[0]]
    frames = [read[n] for n in with_data]
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out = out.reset_index(drop=True)
    for field in source:  # every cell is a str already (no NaN): the str dtype
        out[field] = out[field].astype(str)
    out.attrs = {
        SOURCE_COLUMNS_ATTR: source,
        "ignored_columns": ignored,
        "header_row": headers,
        "skipped_sheets": skipped,
    }
    return out


def read_customer_file(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    header_row: int | None = None,
    sheet: str | int | None = None,
    all_sheets: bool = False,
    encoding: str | None = None,
    option_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read a customer file as a marketing system (营销系统) or 95598 exports it.

    The header row is the first row (of the first :data:`MAX_HEADER_SEARCH`) that names
    ``customer_id`` and ``address`` under one of their names
    (:data:`CUSTOMER_COLUMN_ALIASES`), so title rows (``南丰县供电公司客户资料``, a date
    line) above it are skipped; a second header row under merged cells (``联系方式`` over
    ``手机号码``/``固定电话``) is joined to it. Every cell is read as text: ids keep their
    leading zeros, an Excel number ``3610230000001.0`` is ``"3610230000001"``.

    Parameters
    ----------
    path
        ``.csv``/``.txt`` (UTF-8 or GB18030/GBK) or ``.xlsx``/``.xlsm``.
    columns
        The file's names for the fields, ``{"customer_id": "编号"}`` (``{"编号":
        "customer_id"}`` is read the same); other fields are found by their aliases.
    header_row
        The header's row number as Excel shows it (1-based), instead of searching.
    sheet
        The sheet to read (name, or 0-based number). None: the sheet holding the customer
        table; several such sheets are refused unless ``all_sheets``.
    all_sheets
        Read every sheet holding the customer table (sheets without it, such as notes, are
        skipped and named in ``attrs["skipped_sheets"]``).
    encoding
        Text encoding of a CSV; None tries UTF-8 then GB18030.
    option_names
        How the caller's users set ``columns``, ``header_row``, ``sheet`` and
        ``all_sheets`` (e.g. ``{"sheet": "--sheet"}``), used in error messages.

    Returns
    -------
    pandas.DataFrame
        One column per field found (text, ``""`` where empty), ``file_line`` (the row's
        line in a CSV, its Excel row in a workbook) and ``sheet`` (the sheet name, ``""``
        for a CSV); index 0..n-1. Fully empty rows are left out. ``attrs`` holds
        ``source_columns`` ({field: the file's header}), ``ignored_columns``,
        ``header_row`` ({sheet: 1-based row}) and ``skipped_sheets``.

    Raises
    ------
    NotFoundError
        Missing file or sheet.
    CorruptFileError
        Unreadable file or undecodable text.
    EmptyDataError
        No data rows (naming the sheet that has them, if another one does).
    MissingColumnError
        No header row with the required fields, or two columns for one field.
    DuplicateIdError
        ``customer_id`` repeats values.
    InputError
        Empty or scientific-notation ids (``3.61023E+12``: the digits are lost), or
        invalid options.
    """
    out = read_export_table(
        path,
        aliases=CUSTOMER_COLUMN_ALIASES,
        required=CUSTOMER_REQUIRED,
        joined=_JOINED_FIELDS,
        what="customer",
        plural="customers",
        columns=columns,
        header_row=header_row,
        sheet=sheet,
        all_sheets=all_sheets,
        encoding=encoding,
        option_names=option_names,
    )
    attrs = dict(out.attrs)
    checked = _check_path(path, TABLE_SUFFIXES, "Table file")
    out = _customer_ids(out, checked)
    _check_ids(out, "customer_id", checked, lines=out["file_line"].to_numpy())
    out.attrs = attrs
    return out


def _texts(values: pd.Series) -> np.ndarray:
    """A column as an object array of stripped ``str``, missing values as ``""``.

    The same as ``values.fillna("").astype(str).str.strip()``, with one C-level ``map`` of
    ``str.strip`` (pandas' string methods cost several times more per value).
    """
    if pd.api.types.is_string_dtype(values):  # str/string dtype, or object of str only
        arr = values.to_numpy(dtype=object, na_value="")
    else:
        arr = values.astype(object).where(values.notna(), "").astype(str).to_numpy(dtype=object)
    out = np.empty(len(arr), dtype=object)
    out[:] = list(map(str.strip, arr))
    return out


def _nfkc(texts: np.ndarray, *, strip: bool) -> np.ndarray:
    """Every text in Unicode NFKC (full-width digits and letters to ASCII), then stripped."""
    if "".join(texts).isascii():  # NFKC leaves ASCII as it is
        return texts.copy()
    out = np.empty(len(texts), dtype=object)
    if strip:
        out[:] = [unicodedata.normalize("NFKC", v).strip() for v in texts]
    else:
        out[:] = [unicodedata.normalize("NFKC", v) for v in texts]
    return out


def _per_unique(values: np.ndarray, func: Any, width: int = 1) -> list[np.ndarray]:
    """``func`` of each distinct value once, spread back to every row.

    ``func`` returns ``width`` scalars (a tuple when ``width`` > 1); one object array per
    returned value, in order.
    """
    codes, uniques = pd.factorize(values)
    results = [func(v) for v in uniques]
    columns = [results] if width == 1 else [list(c) for c in zip(*results, strict=True)]
    out = []
    for column in columns or [[]] * width:
        mapped = np.empty(len(uniques) + 1, dtype=object)
        mapped[:-1] = column
        mapped[-1] = None  # factorize's code -1 (a missing value): not in stripped text
        out.append(mapped[codes])
    return out


_EXCEL_INTEGER = re.compile(r"^(\d+)\.0+$")
_SCIENTIFIC = re.compile(r"[0-9.]+[eE][+-]?\d+")


def _customer_ids(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Ids as text: NFKC, no Excel ``.0``; scientific notation (lost digits) refused."""
    # one pass of plain str calls over the (nearly all distinct) ids; the regexes only on
    # the few ids holding a "." or an "e", which is what makes 10^6 rows take a fraction
    # of a second instead of seconds with pandas' per-element regex
    ids = _nfkc(_texts(frame["customer_id"]), strip=True)
    dotted = np.flatnonzero([("." in v) for v in ids])
    ids[dotted] = [_EXCEL_INTEGER.sub(r"\1", v) for v in ids[dotted]]
    sci = np.zeros(len(ids), dtype=bool)
    maybe = np.flatnonzero([("e" in v or "E" in v) for v in ids])
    sci[maybe] = [_SCIENTIFIC.fullmatch(v) is not None for v in ids[maybe]]
    ids = pd.Series(ids, index=frame.index, dtype=str)
    if sci.any():
        msg = (
            f"户号被Excel改成科学计数法 / {str(path)!r}: `customer_id` is written like "
            f"{ids[sci].iloc[0]!r} in {_rows(frame.index[sci], frame['file_line'].to_numpy()[sci])}"
            ": Excel has dropped the digits. In the marketing system's export (or Excel: 设置单元格"
            "格式 → 文本) keep the 户号 column as text and export the file again."
        )
        raise InputError(msg)
    out = frame.copy()
    out["customer_id"] = ids
    return out


_MOBILE = re.compile(r"1[3-9]\d{9}")
_PHONE_SPLIT = re.compile(r"[,，;；/、|]+|\s{2,}")


def _phone_parts(value: str) -> tuple[list[str], list[str]]:
    """The numbers of one phone cell in gridgeo's form, and the parts that are none."""
    if isinstance(value, str) and _MOBILE.fullmatch(value):  # one mobile: nothing to clean
        return [value], []
    text = unicodedata.normalize("NFKC", str(value)).strip()
    text = re.sub(r"^(\d{6,})\.0+$", r"\1", text)  # an Excel number read as text
    good: list[str] = []
    bad: list[str] = []
    for part in _PHONE_SPLIT.split(text):
        part = part.strip()
        if not part:
            continue
        digits = re.sub(r"[\s\-()（）—]", "", part)
        digits = re.sub(r"^(\+86|0086|86)(?=1[3-9]\d{9}$)", "", digits)
        digits = re.sub(r"^(\+86|0086)(?=[1-9]\d{8,10}$)", "0", digits)
        area = 3 if digits[:2] in ("01", "02") else 4
        if _MOBILE.fullmatch(digits) or re.fullmatch(r"[2-9]\d{6,7}", digits):
            number = digits
        elif re.fullmatch(r"0\d{9,11}", digits) and 7 <= len(digits) - area <= 8:
            number = f"{digits[:area]}-{digits[area:]}"
        else:
            bad.append(part)
            continue
        if number not in good:
            good.append(number)
    return good, bad


def _plain_mobiles(texts: np.ndarray) -> np.ndarray:
    """Which texts are one mainland mobile number in ASCII digits (``1[3-9]`` + 9 digits)."""
    out = np.zeros(len(texts), dtype=bool)
    eleven = np.flatnonzero(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) == 11)
    if len(eleven):
        codes = np.asarray(texts[eleven].astype("U11")).view(np.uint32).reshape(-1, 11)
        digits = ((codes >= ord("0")) & (codes <= ord("9"))).all(axis=1)
        prefix = (codes[:, 0] == ord("1")) & (codes[:, 1] >= ord("3"))
        out[eleven] = digits & prefix
    return out


def _phone_values(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per phone cell: its valid numbers joined with ``/`` and whether some part is none.

    A cell holding one mobile number in ASCII digits (most cells) is itself, found for all
    the distinct cells at once; the others go through :func:`_phone_parts`.
    """
    codes, uniques = pd.factorize(texts)
    uniques = np.asarray(uniques, dtype=object)
    joined = np.empty(len(uniques) + 1, dtype=object)
    bad = np.zeros(len(uniques) + 1, dtype=bool)
    plain = _plain_mobiles(uniques)
    joined[:-1][plain] = uniques[plain]
    rest = np.flatnonzero(~plain)
    summaries = [_phone_summary(v) for v in uniques[rest]]
    joined[rest] = [j for j, _ in summaries]
    bad[rest] = [b for _, b in summaries]
    joined[-1] = ""  # factorize's code -1: no missing values in stripped text
    return joined[codes], bad[codes]


def _phone_summary(value: str) -> tuple[str, bool]:
    """The valid numbers of a phone cell joined with ``/``, and whether some part is none."""
    good, bad = _phone_parts(value)
    return "/".join(good), bool(bad)


def normalise_phone(value: str) -> str | None:
    """A phone number in gridgeo's form, or None if it is not one.

    Mainland mobile numbers as 11 digits (``13907941234``; ``+86``/``0086`` removed),
    landlines as ``0794-3221234`` (area code and number; 3-digit area codes for 010 and
    02x) or the local number alone (``3221234``); several numbers in one cell are joined
    with ``/``; ``""`` stays ``""``.
    """
    good, bad = _phone_parts(value)
    if bad or (not good and str(value).strip()):
        return None
    return "/".join(good)


def _number(text: str) -> float | None:
    """A coordinate written as text (full-width digits, a trailing ° allowed), or None."""
    clean = unicodedata.normalize("NFKC", text).strip().rstrip("°").strip()
    try:
        value = float(clean)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _numbers(texts: np.ndarray) -> np.ndarray:
    """:func:`_number` of every text (NaN where None or empty), each distinct value once."""
    codes, uniques = pd.factorize(texts)
    uniques = np.asarray(uniques, dtype=object)
    given = np.flatnonzero(uniques != "")
    parsed = np.full(len(uniques) + 1, np.nan)  # the last: factorize's code -1
    try:  # the usual case, plain decimals: one C loop of float() (full-width digits too)
        parsed[given] = uniques[given].astype(float)
    except (TypeError, ValueError):
        parsed[given] = np.array([_number(v) for v in uniques[given]], dtype=float)
    parsed[~np.isfinite(parsed)] = np.nan  # inf and nan are no coordinates (_number)
    return parsed[codes]


def _category_code(text: str) -> tuple[str | None, bool]:
    """The :data:`CATEGORY_CODES` code of a 用电类别 (None if unknown), and if it says anything."""
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()
    return CATEGORY_CODES.get(key), key != ""


def _voltage(text: str) -> str | None:
    """``HV``/``LV`` from 高压/低压, HV/LV or a voltage (10kV, 0.4千伏, 220V); None if unknown."""
    key = unicodedata.normalize("NFKC", text).strip().lower().replace(" ", "")
    if key in _VOLTAGE_WORDS:
        return _VOLTAGE_WORDS[key]
    found = re.fullmatch(r"(?:交流)?([0-9.]+)(kv|千伏|v|伏)", key)
    if not found:
        return None
    try:
        volts = float(found.group(1)) * (1000.0 if found.group(2) in ("kv", "千伏") else 1.0)
    except ValueError:
        return None
    return "HV" if volts >= _HV_VOLTS else "LV"


def _datum_name(text: str) -> str | None:
    key = unicodedata.normalize("NFKC", text).strip().lower().replace(" ", "")
    if key == "":
        return ""
    return _crs.DATUM_ALIASES.get(key) or _DATUM_WORDS.get(key)


# What each problem says, in Chinese and English.
_PROBLEMS = {
    "phone": "电话号码无效，未保存 / not a mainland mobile or landline number, stored empty",
    "phone_part": (
        "部分电话号码无效，只保存有效的 / some numbers are not mobile or landline numbers, "
        "only the valid ones stored"
    ),
    "category": "用电类别未知，按原文保存 / unknown category, stored as written",
    "voltage_class": "电压等级未知 / unknown voltage, stored empty",
    "gps_lon": "经度不是数字，坐标未用 / longitude is not a number, coordinates not used",
    "gps_lat": "纬度不是数字，坐标未用 / latitude is not a number, coordinates not used",
    "gps_pair": "经纬度只有一个，坐标未用 / only one of longitude/latitude, coordinates not used",
}


def normalise_customer_values(
    table: pd.DataFrame, *, path: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customer fields in the form the archive stores, and the row problems.

    ``phone`` normalised by :func:`normalise_phone`; ``category`` (用电类别) as
    ``residential``/``commercial``/``industrial``/``agricultural`` (居民, 非居民照明 and
    一般工商业 as commercial, 大工业 as industrial, 农业排灌 as agricultural, ...);
    ``voltage_class`` (电压等级) as ``HV`` (1 kV and above, 高压) or ``LV`` (低压, the
    default for an empty cell); ``vulnerable`` (重点关怀) True unless empty or a no
    (否/无/0/false): a 特殊群体 column naming the group (低保户) counts; coordinates read
    after NFKC (full-width ``１１６．５``); ``gps_datum`` as ``wgs84``/``gcj02``/``bd09``
    (also GPS, 北斗, 高德, 腾讯, 百度). A value that cannot be read is a row problem, never
    silently dropped: a bad phone is stored empty, an unknown category as written, an
    unknown voltage empty, unreadable coordinates as NaN.

    Parameters
    ----------
    table
        The fields of :data:`CUSTOMER_COLUMN_ALIASES` present (others absent or empty),
        optionally ``file_line`` (used in the problems and messages).
    path
        The file, named in error messages.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Every field of :data:`CUSTOMER_COLUMN_ALIASES` on the table's index, and the
        problems: ``file_line`` (if the table has it), ``customer_id``, ``field``,
        ``value``, ``problem`` (Chinese / English), in row order.

    Raises
    ------
    CRSError
        If a row with coordinates names a datum that is not one of the above (all such
        rows listed by file line).
    """
    n = len(table)
    index = table.index
    lines = table["file_line"].to_numpy() if "file_line" in table else None

    def text(field: str) -> pd.Series:
        if field not in table:
            return pd.Series([""] * n, index=index, dtype=object)
        return pd.Series(_texts(table[field]), index=index, dtype=str)

    out = pd.DataFrame(index=index)
    problems: list[pd.DataFrame] = []

    def problem(field: str, mask: np.ndarray, values: pd.Series, kind: str | None = None) -> None:
        if mask.any():
            frame = pd.DataFrame(
                {
                    "customer_id": out["customer_id"].to_numpy()[mask],
                    "field": field,
                    "value": values.to_numpy()[mask],
                    "problem": _PROBLEMS[kind or field],
                    "_row": np.flatnonzero(mask),
                }
            )
            if lines is not None:
                frame.insert(0, "file_line", lines[mask])
            problems.append(frame)

    # Every field is parsed once per distinct value (_per_unique) with plain str calls:
    # a file of 10^6 rows holds far fewer distinct categories, voltages, datums and flags,
    # and the per-value work on phones and coordinates is a fast path for the usual form.
    out["customer_id"] = pd.Series(
        _nfkc(text("customer_id").to_numpy(dtype=object), strip=False), index=index, dtype=str
    )
    out["name"] = text("name")
    out["address"] = text("address")

    raw_phone = text("phone")
    joined, has_bad = _phone_values(raw_phone.to_numpy(dtype=object))
    good = pd.Series(joined, index=index, dtype=str)
    some_bad = has_bad.astype(bool)
    kept = (good != "").to_numpy(dtype=bool)
    problem("phone", some_bad & ~kept, raw_phone)
    problem("phone", some_bad & kept, raw_phone, "phone_part")
    out["phone"] = good

    raw_cat = text("category")
    code, says = _per_unique(raw_cat.to_numpy(), _category_code, 2)
    known = pd.notna(code)
    unknown = ~known & says.astype(bool)
    problem("category", unknown, raw_cat)
    out["category"] = pd.Series(np.where(known, code, raw_cat.to_numpy()), index=index, dtype=str)

    raw_volt = text("voltage_class")
    (vclass,) = _per_unique(raw_volt.to_numpy(), lambda v: _voltage(v) if v else None)
    empty_volt = (raw_volt == "").to_numpy()
    problem("voltage_class", pd.isna(vclass) & ~empty_volt, raw_volt)
    vclass = np.where(pd.isna(vclass), "", vclass)
    out["voltage_class"] = np.where(empty_volt, "LV", vclass).astype(str)

    flag = text("vulnerable")
    (no,) = _per_unique(flag.to_numpy(), lambda v: unicodedata.normalize("NFKC", v).lower() in _NO)
    out["vulnerable"] = ~no.astype(bool)

    raw_lon, raw_lat = text("gps_lon"), text("gps_lat")
    values = {}
    for field, raw in (("gps_lon", raw_lon), ("gps_lat", raw_lat)):
        parsed = _numbers(raw.to_numpy())
        bad = np.isnan(parsed) & (raw != "").to_numpy()
        problem(field, bad, raw)
        values[field] = parsed
    has_x, has_y = np.isfinite(values["gps_lon"]), np.isfinite(values["gps_lat"])
    readable = has_x | has_y
    one = ((raw_lon != "") != (raw_lat != "")).to_numpy() & readable
    problem("gps_lon/gps_lat", one, raw_lon.where(raw_lon != "", raw_lat), "gps_pair")
    out["gps_lon"] = values["gps_lon"]
    out["gps_lat"] = values["gps_lat"]

    raw_datum = text("gps_datum")
    (names,) = _per_unique(raw_datum.to_numpy(), _datum_name)
    datum = pd.Series(names, index=index, dtype=object)
    bad_datum = (datum.isna() & has_x & has_y).to_numpy()
    if bad_datum.any():
        found = list(dict.fromkeys(raw_datum[bad_datum].tolist()))
        where = _rows(index[bad_datum], None if lines is None else lines[bad_datum])
        at = f"{str(path)!r}: " if path is not None else ""
        msg = (
            f"坐标系未知 / {at}`gps_datum` (坐标系) has unknown value(s) {_listed(found)} in "
            f"{where}; write wgs84 (GPS, 北斗), gcj02 (高德, 腾讯) or bd09 (百度)."
        )
        raise CRSError(msg)
    out["gps_datum"] = datum.where(datum.notna(), "").astype(str)
    if problems:
        table_out = pd.concat(problems, ignore_index=True).sort_values("_row", kind="stable")
        table_out = table_out.drop(columns="_row").reset_index(drop=True)
    else:
        columns = ["customer_id", "field", "value", "problem"]
        table_out = pd.DataFrame(
            columns=(["file_line", *columns] if lines is not None else columns)
        )
    return out, table_out
