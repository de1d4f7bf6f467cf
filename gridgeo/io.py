"""Reading, validating and writing input files.

Vector layers (GeoPackage, GeoJSON, Shapefile, zipped Shapefile) are read with
pyogrio; tables (CSV/TXT, XLSX) with lon/lat columns with pandas. Every reader
returns a GeoDataFrame in EPSG:4326 with true WGS84 coordinates: the caller
says which datum the lon/lat numbers are in (``"wgs84"``, ``"gcj02"`` for
Amap/Tencent, ``"bd09"`` for Baidu) and they are converted on the way in.

Bad input is refused with a :class:`~gridgeo.errors.GridGeoError` subclass
whose message names the file, the column or rows at fault and the fix. Row
numbers in messages are 0-based record numbers; for tables the file line
(header = line 1) is given too.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
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

__all__ = ["list_layers", "read_layer", "read_records", "read_table", "write_layer"]

logger = logging.getLogger(__name__)

LAYER_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip")
TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
# Tried in order when `encoding` is None: UTF-8 (with or without BOM), then
# GB18030, the superset of GBK/GB2312 that Chinese Excel writes CSV in.
TABLE_ENCODINGS = ("utf-8-sig", "gb18030")
POINTS_MODES = ("required", "optional")
WRITE_MODES = ("w", "a")
# How many offending rows/values a message lists before "... (N in all)".
MAX_LISTED = 5

_READ_ERRORS = (RuntimeError, OSError, ValueError)


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
    df: pd.DataFrame, required: Iterable[str], path: Path, *, hint: str = ""
) -> None:
    missing = [c for c in dict.fromkeys(required) if c not in df.columns]
    if missing:
        present = [str(c) for c in df.columns if c != getattr(df, "_geometry_column_name", None)]
        msg = (
            f"{str(path)!r} lacks column(s) {missing!r}; columns present: {present!r}. "
            f"Rename the column(s) in the file{hint}."
        )
        raise MissingColumnError(msg)


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
        If the file cannot be opened as a vector data source.
    """
    path = _check_path(path, LAYER_SUFFIXES, "Layer file")
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
) -> gpd.GeoDataFrame:
    """Read and validate a vector layer, returned in WGS84 (EPSG:4326).

    Parameters
    ----------
    path
        GeoPackage (``.gpkg``), GeoJSON (``.geojson``/``.json``), Shapefile
        (``.shp``) or zipped Shapefile (``.zip``).
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
        CRS to assume when the file has none (e.g. a Shapefile without its
        ``.prj``). Ignored when the file has a CRS. GeoJSON without a ``crs``
        member is EPSG:4326 by its specification.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326, WGS84 coordinates, index 0..n-1 in file order.

    Raises
    ------
    NotFoundError
        Missing file or unknown layer (the message lists the layers).
    CorruptFileError
        The file cannot be read.
    EmptyDataError
        The layer has no rows.
    MissingColumnError
        A required or id column is missing.
    CRSError
        The layer has no CRS and ``crs`` was not given, or ``datum`` is unknown.
    DuplicateIdError
        The id column repeats values.
    InvalidGeometryError
        Missing, empty, invalid or wrong-type geometries.
    """
    datum_name = _crs.normalise_datum(datum)
    layers = list_layers(path)
    path = Path(path)
    if layer is None and len(layers) > 1:
        msg = f"{str(path)!r} holds {len(layers)} layers {layers!r}: pass `layer` to say which one."
        raise InputError(msg)
    if layer is not None and layer not in layers:
        msg = f"{str(path)!r} has no layer {layer!r}; layers there: {layers!r}."
        raise NotFoundError(msg)
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except _READ_ERRORS as exc:
        msg = (
            f"{str(path)!r} (layer {layer!r}) cannot be read ({exc}). It may be truncated or "
            "damaged: export it again."
        )
        raise CorruptFileError(msg) from exc
    where = f"{str(path)!r}" + (f" layer {layer!r}" if layer is not None else "")
    if len(gdf) == 0:
        msg = f"{where} holds no features: check that the right file and layer were exported."
        raise EmptyDataError(msg)
    _check_columns(gdf, [*required_columns, *([id_column] if id_column else [])], path)
    if gdf.crs is None:
        if crs is None:
            msg = (
                f"{where} has no CRS (a Shapefile needs its .prj file). gridgeo never guesses "
                "one: restore the .prj / set the CRS in the file, or pass `crs`, e.g. "
                "read_layer(path, crs='EPSG:4326', datum='gcj02')."
            )
            raise CRSError(msg)
        try:
            gdf = gdf.set_crs(pyproj.CRS.from_user_input(crs))
        except pyproj.exceptions.CRSError as exc:
            msg = f"`crs` {crs!r} is not a CRS pyproj knows: pass e.g. 'EPSG:4326'."
            raise CRSError(msg) from exc
    _check_ids(gdf, id_column, path, lines=None)
    gdf = _check_geometries(
        gdf, where, id_column=id_column, geometry_types=geometry_types, repair=repair
    )
    gdf = _crs.ensure_crs(gdf, source=where)
    if datum_name != "wgs84":
        gdf = _crs.to_wgs84_geometry(gdf, datum_name)
        logger.info("%s: converted %d geometries from %s to WGS84", where, len(gdf), datum_name)
    return gdf


def _check_geometries(
    gdf: gpd.GeoDataFrame,
    where: str,
    *,
    id_column: str | None,
    geometry_types: Sequence[str] | None,
    repair: bool,
) -> gpd.GeoDataFrame:
    def rows(mask: np.ndarray) -> str:
        text = _rows(gdf.index[mask])
        if id_column is not None:
            text += f" (`{id_column}` {_listed(gdf[id_column][mask].tolist())})"
        return text

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
                "Repair them (shapely.make_valid, QGIS 'Fix geometries') or pass repair=True."
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
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a CSV/Excel table, drop fully empty rows, check columns and ids.

    Returns the table (index 0..n-1) and the file line of each row.
    """
    path = _check_path(path, TABLE_SUFFIXES, "Table file")
    dtype = {id_column: str} if id_column else {}
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
    _check_columns(df, needed, path, hint=hint)
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
        ``"optional"``: such rows are kept with no geometry.
    area
        Optional polygon in EPSG:4326 WGS84 (e.g. the county): points farther
        than ``max_distance_m`` from it get ``coord_reason="outside_area"``.
        It replaces the China check, so tables outside China can be read.
    max_distance_m
        Tolerance around ``area`` in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, the table's columns plus ``coord_reason`` and the geometry;
        index 0..n-1 in file order (fully empty rows dropped with a warning).

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
        With ``points="required"``, rows with empty or non-numeric lon/lat.
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
        hint=(
            " or pass the names in the file (`lon`, `lat`, `id_column`, ...), "
            "e.g. read_table(path, lon='经度', lat='纬度')"
        ),
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
    return gpd.GeoDataFrame(out, geometry=geometry, crs="EPSG:4326")


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
