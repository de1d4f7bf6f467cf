"""Argument checks shared by gridgeo's modules (private module, public names).

Each check raises a :class:`~gridgeo.errors.GridGeoError` subclass whose message names the
argument and how to fix it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgeo.errors import (
    CRSError,
    DuplicateIdError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
)

__all__ = [
    "as_geoseries",
    "as_text",
    "check_columns",
    "check_ids",
    "check_points",
    "check_positive",
    "column_flags",
    "column_text",
    "split_members",
]


def check_positive(value: Any, name: str) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:
        msg = f"`{name}` must be a positive number, got {value!r}"
        raise InputError(msg)
    return float(value)


def as_geoseries(points: Any, name: str) -> gpd.GeoSeries:
    return check_points(points, name)[0]


def check_points(points: Any, name: str) -> tuple[gpd.GeoSeries, np.ndarray, np.ndarray]:
    """The points as a checked GeoSeries, its geometries and where they are not missing."""
    if isinstance(points, gpd.GeoDataFrame):
        series = points.geometry
    elif isinstance(points, gpd.GeoSeries):
        series = points
    else:
        msg = f"`{name}` must be a GeoDataFrame or GeoSeries of points, got {type(points).__name__}"
        raise InputError(msg)
    if series.crs is None:
        msg = f"`{name}` has no CRS; set it with `.set_crs(...)` (it is never guessed)"
        raise CRSError(msg)
    geoms = series.to_numpy()
    has = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kinds = shapely.get_type_id(geoms[has])
    if np.any(kinds != 0):
        k = int(np.flatnonzero(has)[kinds != 0][0])
        msg = (
            f"`{name}` must hold Points, row {series.index[k]!r} is a "
            f"{geoms[k].geom_type}; "
            "use `.representative_point()` for areas"
        )
        raise InvalidGeometryError(msg)
    return series, geoms, has


def check_ids(frame: Any, id_column: str, name: str) -> np.ndarray:
    if isinstance(frame, gpd.GeoDataFrame):
        if id_column not in frame.columns:
            msg = (
                f"`{name}` has no column {id_column!r} (columns: {list(frame.columns)!r}); "
                "pass the id column as `id_column`"
            )
            raise MissingColumnError(msg)
        ids = frame[id_column]
    else:
        ids = pd.Series(frame.index, index=frame.index)
    if ids.isna().any():
        msg = f"`{name}` column {id_column!r} has missing ids; give every row an id"
        raise InputError(msg)
    dup = ids[ids.duplicated()]
    if len(dup):
        msg = f"`{name}` column {id_column!r} repeats the id {dup.iloc[0]!r}; ids must be unique"
        raise DuplicateIdError(msg)
    return ids.to_numpy()


def check_columns(frame: pd.DataFrame, columns: tuple[str, ...], table: str, fix: str = "") -> None:
    """Refuse ``frame`` (called ``table`` in the message) if it lacks one of ``columns``.

    ``fix`` (e.g. "read them from the workspace's work_orders layer") ends the message.
    """
    missing = [c for c in columns if c not in frame]
    if missing:
        msg = f"{table} 缺少列 / the {table} lack column(s) {missing!r}" + (
            f": {fix}" if fix else ""
        )
        raise MissingColumnError(msg)


def as_text(values: pd.Series) -> pd.Series:
    """Values as stripped text, '' where missing (each distinct value converted once).

    No Unicode normalisation: codes and words are normalised where they are parsed
    (:mod:`gridgeo.orders`); here text is compared as stored.
    """
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    clean = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    return pd.Series(clean[codes], index=values.index, dtype=object)


def column_text(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column ``name`` as :func:`as_text`, or '' on every row when ``frame`` lacks it."""
    if name not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return as_text(frame[name])


def column_flags(frame: pd.DataFrame, name: str, words: Mapping[str, bool]) -> np.ndarray:
    """The column ``name`` as yes/no flags (False where missing, or when ``frame`` lacks it).

    Booleans (numpy's or pandas' nullable ones) are taken as they are; anything else is read
    as text, stripped and lower-cased, and is True when ``words`` maps it to True (the
    work orders' :data:`gridgeo.orders.YES_NO_WORDS`: 是, y, yes, true, 1, √).
    """
    if name not in frame:
        return np.zeros(len(frame), dtype=bool)
    values = frame[name]
    if values.dtype.kind == "b":  # numpy bool, or pandas' nullable boolean (missing: False)
        return values.to_numpy(dtype=bool, na_value=False)
    true_words = [word for word, flag in words.items() if flag]
    text = as_text(values).str.lower()
    return text.isin(true_words).to_numpy(dtype=bool)


def split_members(values: pd.Series) -> pd.Series:
    """The grid members named in each cell of a grids layer's ``members``: a list of names.

    Names are separated by ``、`` (:data:`gridgeo.roster.MEMBER_SEPARATOR`, as rosters are
    stored) or, in hand-made layers, by ``,``, ``，``, ``;``, ``；`` or ``/``; blanks are
    dropped. A missing cell gives an empty list.
    """
    text = as_text(values)
    return text.str.split(_MEMBER_SPLIT, regex=True).map(lambda names: [n for n in names if n])


_MEMBER_SPLIT = r"\s*[、,，;；/]\s*"
