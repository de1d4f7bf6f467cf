"""Argument checks shared by gridgeo's modules (private module, public names).

Each check raises a :class:`~gridgeo.errors.GridGeoError` subclass whose message names the
argument and how to fix it.
"""

from __future__ import annotations

import math
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

__all__ = ["as_geoseries", "check_ids", "check_points", "check_positive"]


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
