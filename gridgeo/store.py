"""Versioned workspace store: every saved edit is a new version, nothing is lost.

A workspace is one GeoPackage file that QGIS and GDAL open as usual. Each
versioned layer (``grids`` first, later ``customers``) is kept as two
GeoPackage feature tables plus two plain tables:

``<layer>``
    The current rows, in the order of the last save (rows added by
    :meth:`Store.save_rows` after them), with a ``version`` column that tells in
    which version each row last changed.
``<layer>_history``
    Every row that was ever current, with ``version`` (the version that wrote
    it) and ``superseded_in`` (the version that replaced or removed it, NULL
    while current). Version ``v`` of a layer is the rows with
    ``version <= v < superseded_in``. Only changed rows are added per save, so
    a 10^5-row customer archive does not grow by 10^5 rows per small edit.
``gridgeo_versions``
    One row per version: who, when (ISO-8601 UTC), why, row counts, checksum.
``gridgeo_layers``
    The versioned layers and their key column (``grid_id``, ``customer_id``).

Rows are read back sorted by the key column. Feature tables are declared with
geometry type GEOMETRY, so a redraw may turn a Polygon into a MultiPolygon.
Layers are created by GDAL (so ``gpkg_contents``, ``gpkg_geometry_columns``
and the SRS are right) without a spatial index: GDAL's R-tree triggers call
SpatiaLite functions that Python's ``sqlite3`` lacks. Every save is then one
SQLite transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) written with
``sqlite3``, geometries as GeoPackage binary blobs (OGC 12-128r18, 2.1.3).
The file keeps SQLite's default rollback journal rather than WAL: between
saves the workspace is one self-contained file that can be mailed or copied,
and a save killed midway leaves a ``-journal`` file beside it that SQLite
rolls back on the next open, restoring the last good version. (Copy a
workspace only when no ``-journal`` file is beside it.) A save based on a
stale version is refused with :class:`~gridgeo.errors.ConflictError`, so two
planners never overwrite each other.

An edit of a few rows of a large layer (one work order among 10^5) writes only
those rows with :meth:`Store.save_rows` and reads only the rows it needs with
:meth:`Store.read_rows`; the version it records (counts, history, checksum) is
the one a full save of the resulting content would record.

:class:`Store` is the small interface; :class:`GeoPackageStore` implements it
on a file, a PostGIS store can implement it later for many editors.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import hashlib
import logging
import operator
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridgeo.crs import ensure_crs
from gridgeo.errors import (
    ConflictError,
    CorruptFileError,
    DuplicateIdError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
    NotFoundError,
)

__all__ = [
    "DEFAULT_KEYS",
    "DEFAULT_TIMEOUT_S",
    "GeoPackageStore",
    "Store",
    "compare_frames",
    "geometry_from_gpkg",
    "geometry_to_gpkg",
]

logger = logging.getLogger(__name__)

DEFAULT_KEYS = {"grids": "grid_id", "customers": "customer_id"}
DEFAULT_TIMEOUT_S = 30.0

_GEOM = "geom"
_VERSION = "version"
_SUPERSEDED = "superseded_in"
_RESERVED = frozenset({"fid", _GEOM, _SUPERSEDED, "_ord"})
_LAYERS = "gridgeo_layers"
_VERSIONS = "gridgeo_versions"
_HISTORY_SUFFIX = "_history"
_SRS_ID = 4326
_SQLITE_MAGIC = b"SQLite format 3\x00"
_LAYER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# envelope contents indicator of a GeoPackage geometry blob -> envelope size in bytes
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_GPB_HEADER = np.dtype(
    [("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"), ("env", "<f8", (4,))]
)
_INT_TYPES = frozenset({"INTEGER", "INT", "BIGINT", "MEDIUMINT", "SMALLINT", "TINYINT"})
_FLOAT_TYPES = frozenset({"REAL", "FLOAT", "DOUBLE"})

# Test-only: called with a stage name ("before_commit") inside the save
# transaction, so a test can kill a writer mid-save. None in normal use.
_TEST_HOOK: Callable[[str], None] | None = None
# Test-only: called with a stage name around the version check of a save, in the
# saving thread, so a test can step two writers through it (tests/test_store_hook.py):
# "before_lock" (a write transaction is about to take the write lock), "locked" (it
# holds the lock), "checked" (a save's version check passed, inside that transaction).
# None in normal use: one `is None` test per stage, nothing else.
_CHECK_HOOK: Callable[[str], None] | None = None

_VERSIONS_DDL = f"""CREATE TABLE "{_VERSIONS}" (
 "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "layer" TEXT NOT NULL,
 "version" INTEGER NOT NULL, "parent_version" INTEGER, "author" TEXT NOT NULL,
 "created_at" TEXT NOT NULL, "reason" TEXT NOT NULL, "n_rows" INTEGER NOT NULL,
 "n_added" INTEGER NOT NULL, "n_removed" INTEGER NOT NULL, "n_changed" INTEGER NOT NULL,
 "restored_from" INTEGER, "checksum" TEXT NOT NULL, UNIQUE ("layer", "version"))"""
_LAYERS_DDL = f"""CREATE TABLE "{_LAYERS}" (
 "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "layer" TEXT NOT NULL UNIQUE,
 "key_column" TEXT NOT NULL, "history_table" TEXT NOT NULL, "created_at" TEXT NOT NULL)"""


def _q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _now() -> str:
    """UTC time in the GeoPackage ``last_change`` format (ISO-8601, ms, Z)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _kind(decl: str) -> str:
    base = decl.upper().split("(")[0].strip()
    if base in _INT_TYPES:
        return "int"
    if base in _FLOAT_TYPES:
        return "float"
    return {"BOOLEAN": "bool", "DATETIME": "datetime", "DATE": "date", "BLOB": "blob"}.get(
        base, "text"
    )


def _sample(labels: Iterable[Any], n: int = 5) -> str:
    items = list(labels)
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return f"{items[:n]!r}{more}"


# --------------------------------------------------------------------------- #
# GeoPackage geometry blobs


def geometry_to_gpkg(geoms: Any) -> list[bytes | None]:
    """Encode geometries as GeoPackage binary blobs (EPSG:4326, little-endian).

    Header: magic ``GP``, version 0, flags (envelope [minx, maxx, miny, maxy]
    and little-endian; empty geometries set the empty bit and carry no
    envelope), ``srs_id`` 4326, then ISO WKB. Missing geometries give None.
    """
    arr = np.asarray(geoms, dtype=object)
    missing = shapely.is_missing(arr)
    empty = shapely.is_empty(arr) & ~missing
    wkb = shapely.to_wkb(arr, byte_order=1, flavor="iso")
    head = np.zeros(len(arr), dtype=_GPB_HEADER)
    head["magic"] = b"GP"
    head["flags"] = np.where(empty, 0b0001_0001, 0b0000_0011)
    head["srs_id"] = _SRS_ID
    head["env"] = shapely.bounds(arr)[:, [0, 2, 1, 3]]
    raw = head.tobytes()
    size = _GPB_HEADER.itemsize
    return [
        None if m else raw[i * size : i * size + (8 if e else size)] + w
        for i, (m, e, w) in enumerate(zip(missing, empty, wkb, strict=True))
    ]


def geometry_from_gpkg(blobs: Iterable[bytes | None]) -> np.ndarray:
    """Decode GeoPackage binary blobs (any envelope, either byte order) to shapely."""
    wkbs: list[bytes | None] = []
    for blob in blobs:
        if blob is None:
            wkbs.append(None)
            continue
        if blob[:2] != b"GP":
            msg = "a geometry is not a GeoPackage binary blob (no `GP` magic); the file is damaged"
            raise CorruptFileError(msg)
        wkbs.append(blob[8 + _ENVELOPE_BYTES[(blob[3] >> 1) & 0b111] :])
    return shapely.from_wkb(np.array(wkbs, dtype=object))


# --------------------------------------------------------------------------- #
# checks and comparison shared by every store


def _check_who_why(author: Any, reason: Any) -> tuple[str, str]:
    for name, value in (("author", author), ("reason", reason)):
        if not isinstance(value, str) or not value.strip():
            msg = (
                f"`{name}` must be a non-empty string, got {value!r}: every saved version "
                "records who made it and why (谁、为何修改)."
            )
            raise InputError(msg)
    return author.strip(), reason.strip()


def _check_frame(gdf: Any, layer: str, key: str) -> gpd.GeoDataFrame:
    """Return ``gdf`` in EPSG:4326 after checking its key and geometries."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"`gdf` for layer {layer!r} must be a GeoDataFrame, got {type(gdf).__name__}."
        raise InputError(msg)
    data = ensure_crs(gdf, source=f"`gdf` for layer {layer!r}")
    if key not in data.columns:
        msg = f"`gdf` for layer {layer!r} has no key column {key!r}; add it (one id per row)."
        raise MissingColumnError(msg)
    keys = data[key]
    if keys.isna().any():
        msg = (
            f"key column {key!r} of layer {layer!r} is empty in rows "
            f"{_sample(data.index[keys.isna()])}; give every row an id."
        )
        raise InputError(msg)
    dup = keys.duplicated(keep=False)
    if dup.any():
        msg = (
            f"key column {key!r} of layer {layer!r} repeats ids "
            f"{_sample(pd.unique(keys[dup]))}; make them unique."
        )
        raise DuplicateIdError(msg)
    geoms = data.geometry.to_numpy()
    bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if bad.any():
        why = [
            f"{k!r}: {r}"
            for k, r in zip(keys[bad], shapely.is_valid_reason(geoms[bad]), strict=True)
        ]
        msg = (
            f"layer {layer!r} has {int(bad.sum())} invalid geometries ({_sample(why, 3)}); "
            "repair them (shapely.make_valid) and save again. Nothing was saved."
        )
        raise InvalidGeometryError(msg)
    return data


def compare_frames(
    old: gpd.GeoDataFrame,
    new: gpd.GeoDataFrame,
    *,
    key: str,
    ignore: Iterable[str] = (_VERSION,),
) -> pd.DataFrame:
    """Compare two versions of a layer row by row, matched on ``key``.

    Parameters
    ----------
    old, new
        The two versions (e.g. from :meth:`Store.read`), same CRS.
    key
        The id column that matches rows.
    ignore
        Columns left out of the comparison (the store's own ``version``).

    Returns
    -------
    pandas.DataFrame
        One row per changed key, sorted by key: ``key`` column, ``change``
        (``added``, ``removed`` or ``modified``), ``geometry_changed`` and
        ``attributes_changed`` (both False for added and removed rows) and
        ``changed_columns`` (the changed attribute columns, comma-separated,
        in column order). Geometries compare vertex by vertex (exactly equal).
    """
    for name, frame in (("old", old), ("new", new)):
        if key not in frame.columns:
            msg = f"`{name}` has no key column {key!r}."
            raise MissingColumnError(msg)
        if frame[key].duplicated().any():
            dup = frame[key][frame[key].duplicated()]
            msg = f"key column {key!r} of `{name}` repeats ids {_sample(dup)}; make them unique."
            raise DuplicateIdError(msg)
    skip = {key, old.geometry.name, new.geometry.name, *ignore}
    cols = [c for c in old.columns if c not in skip]
    cols += [c for c in new.columns if c not in skip and c not in cols]
    a = old.set_index(key)
    b = new.set_index(key)
    added, removed = b.index.difference(a.index), a.index.difference(b.index)
    common = a.index.intersection(b.index)
    a, b = a.loc[common], b.loc[common]
    ga, gb = a.geometry.to_numpy(), b.geometry.to_numpy()
    na, nb = shapely.is_missing(ga), shapely.is_missing(gb)
    geom_changed = np.asarray(
        (na != nb) | (~na & ~nb & ~shapely.equals_exact(ga, gb, tolerance=0)), dtype=bool
    )
    changed = np.zeros((len(common), len(cols)), dtype=bool)
    for j, col in enumerate(cols):
        if col not in a.columns or col not in b.columns:
            changed[:, j] = True
            continue
        va, vb = a[col].to_numpy(dtype=object), b[col].to_numpy(dtype=object)
        both_na = pd.isna(va) & pd.isna(vb)
        changed[:, j] = ~(both_na | (va == vb).astype(bool))
    attr_changed = np.asarray(changed.any(axis=1), dtype=bool)
    mod = np.asarray(geom_changed | attr_changed, dtype=bool)
    names = np.array(cols, dtype=object)
    n_other = len(added) + len(removed)
    out = pd.DataFrame(
        {
            key: np.concatenate([added.to_numpy(), removed.to_numpy(), common[mod].to_numpy()]),
            "change": ["added"] * len(added)
            + ["removed"] * len(removed)
            + ["modified"] * int(mod.sum()),
            "geometry_changed": np.concatenate([np.zeros(n_other, bool), geom_changed[mod]]),
            "attributes_changed": np.concatenate([np.zeros(n_other, bool), attr_changed[mod]]),
            "changed_columns": [""] * n_other + [",".join(names[row]) for row in changed[mod]],
        }
    )
    return out.sort_values(key, kind="stable", ignore_index=True)


# --------------------------------------------------------------------------- #
# the interface


class Store(abc.ABC):
    """A versioned store of layers keyed by an id column (the interface).

    Subclasses implement :meth:`layers`, :meth:`current_version`, :meth:`read`,
    :meth:`list_versions` and ``_write`` (one transaction that checks
    ``expected_version``); saving, restoring and comparing are built on them.
    """

    @abc.abstractmethod
    def layers(self) -> dict[str, str]:
        """Return the versioned layers as ``{layer: key column}``."""

    @abc.abstractmethod
    def current_version(self, layer: str) -> int:
        """Return the current version number of ``layer``."""

    @abc.abstractmethod
    def read(self, layer: str, *, version: int | None = None) -> gpd.GeoDataFrame:
        """Return ``layer`` at ``version`` (None: current), rows sorted by key."""

    @abc.abstractmethod
    def list_versions(self, layer: str) -> pd.DataFrame:
        """Return one row per version of ``layer``: who, when, why, counts."""

    @abc.abstractmethod
    def _write_many(
        self,
        items: list[tuple[str, gpd.GeoDataFrame, int, int | None]],
        *,
        author: str,
        reason: str,
    ) -> list[int]:
        """Write ``(layer, data, expected_version, restored_from)`` items in ONE transaction
        that checks every ``expected_version``; return the new versions."""

    def _write(
        self,
        layer: str,
        data: gpd.GeoDataFrame,
        *,
        expected_version: int,
        author: str,
        reason: str,
        restored_from: int | None,
    ) -> int:
        return self._write_many(
            [(layer, data, expected_version, restored_from)], author=author, reason=reason
        )[0]

    def _key(self, layer: str) -> str:
        layers = self.layers()
        if layer not in layers:
            msg = (
                f"`layer` {layer!r} is not in this workspace; versioned layers: {sorted(layers)!r}."
            )
            raise NotFoundError(msg)
        return layers[layer]

    def save(
        self,
        layer: str,
        gdf: gpd.GeoDataFrame,
        *,
        expected_version: int,
        author: str,
        reason: str,
        validate: Callable[[gpd.GeoDataFrame], Iterable[str]] | None = None,
    ) -> int:
        """Save ``gdf`` as the new content of ``layer``, in one transaction.

        Parameters
        ----------
        layer
            The versioned layer, e.g. ``"grids"``.
        gdf
            The whole new content (all rows, not only the edited ones).
        expected_version
            The version the edit was based on (from :meth:`current_version`
            when the planner loaded the layer).
        author, reason
            Who saves and why; both required.
        validate
            Optional check run before anything is written; returns a list of
            problems (strings), and any problem refuses the save.

        Returns
        -------
        int
            The new version number.

        Raises
        ------
        ConflictError
            If the layer is no longer at ``expected_version``.
        InputError
            If ``author``/``reason`` is empty, ``validate`` reports problems,
            or the data does not fit the layer (CRSError, MissingColumnError,
            DuplicateIdError, InvalidGeometryError are subclasses).
        """
        author, reason = _check_who_why(author, reason)
        data = _check_frame(gdf, layer, self._key(layer))
        if validate is not None:
            problems = [str(p) for p in validate(data)]
            if problems:
                msg = (
                    f"the edit of layer {layer!r} was refused by `validate` with "
                    f"{len(problems)} problem(s); nothing was saved. Fix them and save again: "
                    + "; ".join(problems[:10])
                    + (f"; ... and {len(problems) - 10} more" if len(problems) > 10 else "")
                )
                raise InputError(msg)
        return self._write(
            layer,
            data,
            expected_version=expected_version,
            author=author,
            reason=reason,
            restored_from=None,
        )

    def save_many(
        self,
        changes: Mapping[str, tuple[gpd.GeoDataFrame, int]],
        *,
        author: str,
        reason: str,
        validate: Mapping[str, Callable[[gpd.GeoDataFrame], Iterable[str]]] | None = None,
        restored_from: Mapping[str, int] | None = None,
    ) -> dict[str, int]:
        """Save several layers as new versions in ONE transaction: all or none.

        For edits that must stay consistent across layers (grids and the customers' grid
        ids). ``changes`` maps each layer to ``(gdf, expected_version)``; ``validate`` maps
        layers to checks as in :meth:`save`. Every check runs, and every ``expected_version``
        is compared, before anything is written; one failure leaves every layer as it was.
        ``restored_from`` records, per layer, the old version a restore brings back.

        Returns
        -------
        dict
            The new version of each layer.

        Raises
        ------
        ConflictError, InputError
            As :meth:`save`, for any of the layers.
        """
        author, reason = _check_who_why(author, reason)
        restored_from = dict(restored_from or {})
        if not changes:
            msg = "`changes` is empty: give at least one layer to save"
            raise InputError(msg)
        items = []
        for layer, (gdf, expected_version) in changes.items():
            data = _check_frame(gdf, layer, self._key(layer))
            check = (validate or {}).get(layer)
            if check is not None:
                problems = [str(p) for p in check(data)]
                if problems:
                    msg = (
                        f"the edit of layer {layer!r} was refused by `validate` with "
                        f"{len(problems)} problem(s); nothing was saved. Fix them and save "
                        "again: " + "; ".join(problems[:10])
                    )
                    raise InputError(msg)
            items.append((layer, data, expected_version, restored_from.get(layer)))
        versions = self._write_many(items, author=author, reason=reason)
        return dict(zip(changes, versions, strict=True))

    def row_history(self, layer: str, key_value: Any) -> gpd.GeoDataFrame:
        """Return every stored state of one row, oldest first, with who wrote it when and why.

        Parameters
        ----------
        layer
            The versioned layer, e.g. ``"work_orders"``.
        key_value
            The row's key (e.g. an ``order_id``).

        Returns
        -------
        geopandas.GeoDataFrame
            One row per version that wrote the row: the layer's columns, ``version`` (the
            version that wrote this state), ``superseded_in`` (the version that replaced or
            removed it; missing while current), and that version's ``author``,
            ``created_at`` (UTC) and ``reason``. Empty if the key was never stored.
        """
        key = self._key(layer)
        versions = self.list_versions(layer)
        frames: list[gpd.GeoDataFrame] = []
        ends: list[Any] = []
        was_there = False
        for v in versions["version"].tolist():  # generic: a store may answer in one query
            rows = self.read(layer, version=int(v))
            mine = rows[(rows[key] == key_value).to_numpy()]
            written = len(mine) > 0 and int(mine[_VERSION].iloc[0]) == v
            if was_there and (written or not len(mine)):
                ends[-1] = v  # replaced or removed in this version
            if written:
                frames.append(mine)
                ends.append(pd.NA)
            was_there = len(mine) > 0
        out = pd.concat(frames, ignore_index=True) if frames else self.read(layer).iloc[:0]
        out = gpd.GeoDataFrame(out, crs=_SRS_ID)
        out[_SUPERSEDED] = pd.array(ends, dtype="Int64")
        return _with_version_info(out, versions)

    def read_rows(
        self, layer: str, values: Iterable[Any], *, column: str | None = None
    ) -> gpd.GeoDataFrame:
        """Return the current rows of ``layer`` whose ``column`` is one of ``values``.

        For edits that touch a few rows of a large layer (one work order, the orders of
        a few customers) without reading the whole layer.

        Parameters
        ----------
        layer
            The versioned layer.
        values
            The values wanted (e.g. keys); no value gives no rows.
        column
            The column to match (default: the layer's key column).

        Returns
        -------
        geopandas.GeoDataFrame
            The matching rows as :meth:`read` returns them (same columns and types),
            sorted by key.
        """
        wanted = set(values)
        rows = self.read(layer)  # generic: a store may answer in one query
        name = column or self._key(layer)
        if name not in rows.columns:
            msg = f"`column` {name!r} is not a column of layer {layer!r}."
            raise MissingColumnError(msg)
        return rows[rows[name].isin(wanted).to_numpy()].reset_index(drop=True)

    def save_rows(
        self,
        layer: str,
        gdf: gpd.GeoDataFrame,
        *,
        expected_version: int,
        author: str,
        reason: str,
    ) -> int:
        """Add or change only the rows of ``gdf`` in ``layer``, as a new version.

        The other rows stay as they are. The version is recorded exactly as :meth:`save`
        of the resulting whole content would record it (history rows for the added and
        changed rows, ``n_rows``, ``n_added``, ``n_changed``, ``n_removed`` = 0, the same
        checksum), in one transaction; rows of ``gdf`` equal to the stored ones count as
        unchanged. Removing rows needs :meth:`save`.

        Parameters
        ----------
        layer
            The versioned layer.
        gdf
            The rows to add or change, with every column of the layer.
        expected_version
            The version the edit was based on.
        author, reason
            Who saves and why; both required.

        Returns
        -------
        int
            The new version number.

        Raises
        ------
        ConflictError
            If the layer is no longer at ``expected_version``.
        InputError
            As :meth:`save`: bad rows store nothing.
        """
        key = self._key(layer)
        data = _check_frame(gdf, layer, key)
        current = self.read(layer)  # generic: a store may write the rows alone
        keep = current[~current[key].isin(set(data[key])).to_numpy()]
        whole = pd.concat([keep, data.drop(columns=[_VERSION], errors="ignore")])
        whole = gpd.GeoDataFrame(whole, crs=_SRS_ID).reset_index(drop=True)
        return self.save(
            layer, whole, expected_version=expected_version, author=author, reason=reason
        )

    def preview(self, layer: str, gdf: gpd.GeoDataFrame) -> pd.DataFrame:
        """Return what saving ``gdf`` would change in ``layer`` (writes nothing).

        Same table as :meth:`compare`, current version against ``gdf``.
        """
        key = self._key(layer)
        data = _check_frame(gdf, layer, key)
        return compare_frames(self.read(layer), data, key=key)

    def compare(self, layer: str, v1: int, v2: int, *, key: str | None = None) -> pd.DataFrame:
        """Return the changes from version ``v1`` to ``v2`` of ``layer``.

        See :func:`compare_frames` for the table; ``key`` defaults to the
        layer's key column.
        """
        key = key or self._key(layer)
        return compare_frames(self.read(layer, version=v1), self.read(layer, version=v2), key=key)

    def restore(
        self, layer: str, version: int, *, expected_version: int, author: str, reason: str
    ) -> int:
        """Make the content of ``version`` current again, as a NEW version.

        History is never deleted: the restore is recorded with who/when/why
        and ``restored_from``, and can itself be undone. Returns the new
        version number; :class:`ConflictError` if the layer moved on from
        ``expected_version``.
        """
        author, reason = _check_who_why(author, reason)
        data = self.read(layer, version=version)
        return self._write(
            layer,
            data,
            expected_version=expected_version,
            author=author,
            reason=reason,
            restored_from=version,
        )


def _with_version_info(rows: gpd.GeoDataFrame, versions: pd.DataFrame) -> gpd.GeoDataFrame:
    """``rows`` (one row's states) with the author, time and reason of the version that
    wrote each state."""
    out = rows.copy()
    info = versions.set_index("version")
    for column in ("author", "created_at", "reason"):
        out[column] = info[column].reindex(out[_VERSION].to_numpy()).to_numpy()
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- #
# column encoding for SQLite


def _encode_column(s: pd.Series, kind: str, col: str, layer: str) -> list[Any]:
    missing = s.isna().to_numpy()
    out: np.ndarray
    if kind in ("int", "float", "bool"):
        if kind == "int" and pd.api.types.is_integer_dtype(s.dtype) and not missing.any():
            return s.to_numpy(dtype=np.int64).astype(object).tolist()
        arr = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = np.isnan(arr) & ~missing
        if kind == "bool":
            bad |= ~missing & ~np.isin(arr, (0.0, 1.0))
        elif kind == "int":
            bad |= ~missing & (arr != np.round(arr))
        if bad.any():
            msg = (
                f"column {col!r} of layer {layer!r} holds {kind} values, but rows "
                f"{_sample(s.index[bad])} hold {_sample(s[bad])}; convert them and save again."
            )
            raise InputError(msg)
        out = (
            arr.astype(object)
            if kind == "float"
            else np.where(missing, 0, arr).astype(np.int64).astype(object)
        )
    elif kind in ("datetime", "date"):
        when = pd.to_datetime(s, errors="coerce")
        if (when.isna().to_numpy() & ~missing).any():
            msg = (
                f"column {col!r} of layer {layer!r} holds dates; rows "
                f"{_sample(s.index[when.isna() & ~missing])} are not dates; fix them."
            )
            raise InputError(msg)
        if kind == "date":
            text = when.dt.strftime("%Y-%m-%d")
        elif when.dt.tz is not None:
            text = when.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
        else:
            text = when.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3]
        out = text.to_numpy(dtype=object)
    elif kind == "blob":
        out = s.to_numpy(dtype=object).copy()
    else:
        out = s.where(~missing, "").astype(str).to_numpy(dtype=object)
    out[missing] = None
    return out.tolist()


def _decode_column(values: Iterable[Any], kind: str) -> Any:
    arr = np.array(list(values), dtype=object)
    missing = pd.isna(arr)
    if kind in ("int", "float"):
        if kind == "int" and not missing.any():
            return arr.astype(np.int64)
        arr[missing] = np.nan
        return arr.astype(float)
    if kind == "bool":
        if not missing.any():
            return arr.astype(bool)
        arr[~missing] = arr[~missing].astype(bool)
        return arr
    if kind in ("datetime", "date"):
        return pd.to_datetime(pd.Series(arr), format="ISO8601").to_numpy()
    if kind == "blob":
        return arr
    return pd.Series(list(arr)).array


def _frame_from_rows(rows: list[tuple[Any, ...]], cols: list[tuple[str, str]]) -> gpd.GeoDataFrame:
    """Rows ``(geom, *cols, version)`` fetched from a layer table as a GeoDataFrame."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * (len(cols) + 2)
    data = {c: _decode_column(v, _kind(t)) for (c, t), v in zip(cols, columns[1:-1], strict=True)}
    data[_VERSION] = _decode_column(columns[-1], "int")
    return gpd.GeoDataFrame(data, geometry=geometry_from_gpkg(columns[0]), crs=_SRS_ID)


# --------------------------------------------------------------------------- #
# the GeoPackage store


class GeoPackageStore(Store):
    """A versioned workspace in one GeoPackage file (the embedded default).

    Open an existing workspace with :meth:`open`, make one with :meth:`create`.
    Every call opens its own short SQLite connection, so several objects,
    threads or processes (two planners) can use the same file; a writer waits
    up to ``timeout_s`` for another one to finish.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.path = Path(path)
        self.timeout_s = float(timeout_s)
        if not self.path.is_file():
            msg = (
                f"workspace `path` {str(self.path)!r} does not exist: check the path, or create "
                "a workspace (`gridgeo workspace init`, `gridgeo demo`, or in Python "
                "GeoPackageStore.create(path, layers={...}, author=..., reason=...))."
            )
            raise NotFoundError(msg)
        with self.path.open("rb") as fh:
            head = fh.read(100)
        if not head.startswith(_SQLITE_MAGIC) or head[68:70] != b"GP":
            msg = (
                f"{str(self.path)!r} is not a GeoPackage (.gpkg) file; open a workspace made "
                "by gridgeo (`gridgeo demo`, or GeoPackageStore.create in Python)."
            )
            raise CorruptFileError(msg)
        with self._transaction(write=False) as con:
            found = con.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
                (_LAYERS, _VERSIONS),
            ).fetchone()[0]
        if found != 2:
            msg = (
                f"{str(self.path)!r} is a GeoPackage but not a gridgeo workspace (no "
                f"`{_LAYERS}`/`{_VERSIONS}` tables); make one from its layers with "
                "GeoPackageStore.create(new_path, "
                "layers={'grids': gpd.read_file(path, layer='grids')}, ...)."
            )
            raise CorruptFileError(msg)

    def __repr__(self) -> str:
        return f"GeoPackageStore({str(self.path)!r})"

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> GeoPackageStore:
        """Open an existing workspace file (NotFoundError / CorruptFileError)."""
        return cls(path, timeout_s=timeout_s)

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        layers: Mapping[str, gpd.GeoDataFrame],
        *,
        author: str,
        reason: str,
        keys: Mapping[str, str] | None = None,
        overwrite: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> GeoPackageStore:
        """Create a workspace whose layers start at version 1.

        Parameters
        ----------
        path
            The ``.gpkg`` file to write. An existing file is refused unless
            ``overwrite=True``.
        layers
            ``{layer name: GeoDataFrame}``; their columns fix each layer's schema.
        author, reason
            Recorded with version 1.
        keys
            ``{layer: key column}`` for layers not in :data:`DEFAULT_KEYS`.
        overwrite
            Replace an existing file.
        timeout_s
            How long a writer waits for another one.

        Returns
        -------
        GeoPackageStore
        """
        path = Path(path)
        author, reason = _check_who_why(author, reason)
        if path.exists() and not overwrite:
            msg = (
                f"`path` {str(path)!r} already exists; open it with GeoPackageStore.open(path) "
                "or pass overwrite=True to replace it."
            )
            raise InputError(msg)
        if not layers:
            msg = "`layers` is empty; pass at least one, e.g. layers={'grids': grids_gdf}."
            raise InputError(msg)
        all_keys = {**DEFAULT_KEYS, **(keys or {})}
        tmp = path.with_name(f".{path.stem}.creating{path.suffix}")
        tmp.unlink(missing_ok=True)
        try:
            store = cls.__new__(cls)
            store.path, store.timeout_s = tmp, float(timeout_s)
            for name, gdf in layers.items():
                if name not in all_keys:
                    msg = (
                        f"no key column known for layer {name!r}; "
                        f"pass keys={{{name!r}: 'id_column'}}."
                    )
                    raise InputError(msg)
                store.add_layer(name, gdf, key=all_keys[name], author=author, reason=reason)
            if overwrite:
                for suffix in ("-journal", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        logger.info("created workspace %s with layers %s", path, list(layers))
        return cls(path, timeout_s=timeout_s)

    def add_layer(
        self, layer: str, gdf: gpd.GeoDataFrame, *, key: str, author: str, reason: str
    ) -> int:
        """Add a new versioned layer (e.g. ``customers``) at version 1.

        Its columns fix the layer's schema; later saves must have the same
        columns. Returns 1.
        """
        author, reason = _check_who_why(author, reason)
        if (
            not isinstance(layer, str)
            or not _LAYER_NAME.match(layer)
            or layer.startswith(("gpkg_", "gridgeo_", "rtree_"))
        ):
            msg = (
                f"`layer` {layer!r} must be a plain name (letters, digits, _; not starting "
                "with gpkg_, gridgeo_ or rtree_), e.g. 'grids'."
            )
            raise InputError(msg)
        data = _check_frame(gdf, layer, key)
        hist = layer + _HISTORY_SUFFIX
        tables: set[str] = set()
        if self.path.exists():  # create() adds its first layer to a file GDAL makes
            with self._transaction(write=False) as con:
                sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
                tables = {r[0] for r in con.execute(sql)}
                found = [t for t in (layer, hist) if t in tables]
                # both tables empty and unregistered: left by an interrupted add_layer, reuse
                leftover = len(found) == 2 and _LAYERS in tables
                for t in found if leftover else ():
                    leftover &= con.execute(f"SELECT count(*) FROM {_q(t)}").fetchone()[0] == 0
                sql = f"SELECT count(*) FROM {_q(_LAYERS)} WHERE layer IN (?, ?)"
                leftover &= _LAYERS in tables and not con.execute(sql, (layer, hist)).fetchone()[0]
            if found and not leftover:
                msg = (
                    f"`layer` {layer!r} already exists in {str(self.path)!r} (tables {found!r}); "
                    "use save() to change a versioned layer, or pick another name."
                )
                raise InputError(msg)
        if not pd.api.types.is_integer_dtype(data[key].dtype) and not pd.api.types.is_string_dtype(
            data[key].dtype
        ):
            msg = (
                f"key column {key!r} of layer {layer!r} must hold integers or text, "
                f"not {data[key].dtype}; convert it (e.g. .astype(str))."
            )
            raise InputError(msg)
        attrs = data.drop(columns=[data.geometry.name, *([_VERSION] if _VERSION in data else [])])
        bad = sorted(_RESERVED.intersection(attrs.columns))
        if bad:
            msg = (
                f"layer {layer!r} may not have columns {bad!r} (the store uses them); rename them."
            )
            raise InputError(msg)
        empty = gpd.GeoDataFrame(
            attrs.iloc[:0].assign(**{_VERSION: pd.Series([], dtype=np.int64)}),
            geometry=gpd.GeoSeries([], crs=_SRS_ID),
        )
        options = {"SPATIAL_INDEX": "NO", "GEOMETRY_NAME": _GEOM, "FID": "fid", "OVERWRITE": "YES"}
        for table, frame in (
            (layer, empty),
            (hist, empty.assign(**{_SUPERSEDED: pd.Series([], dtype=np.int64)})),
        ):
            pyogrio.write_dataframe(
                frame,
                self.path,
                layer=table,
                driver="GPKG",
                geometry_type="Unknown",
                layer_options=options,
            )
        K = _q(key)
        with self._transaction(write=True) as con:
            now = _now()
            for table, ddl in ((_VERSIONS, _VERSIONS_DDL), (_LAYERS, _LAYERS_DDL)):
                if table not in tables:
                    con.execute(ddl)
                    con.execute(
                        "INSERT INTO gpkg_contents (table_name, data_type, identifier, "
                        "last_change) VALUES (?, 'attributes', ?, ?)",
                        (table, table, now),
                    )
            for name, table, on in (
                (f"uq_{layer}_{key}", layer, K),
                (f"idx_{hist}_{key}", hist, f"{K}, {_q(_VERSION)}"),
                (f"idx_{hist}_{_SUPERSEDED}", hist, _q(_SUPERSEDED)),
            ):
                unique = "UNIQUE " if table == layer else ""
                con.execute(f"CREATE {unique}INDEX {_q(name)} ON {_q(table)} ({on})")
            con.execute(
                f"INSERT INTO {_q(_LAYERS)} (layer, key_column, history_table, created_at) "
                "VALUES (?, ?, ?, ?)",
                (layer, key, hist, now),
            )
        return self._write(
            layer, data, expected_version=0, author=author, reason=reason, restored_from=None
        )

    # -- connections ------------------------------------------------------- #

    @contextlib.contextmanager
    def transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One SQLite transaction on the workspace file, for plain (not versioned) tables.

        For tables that other modules keep beside the versioned layers (users,
        sessions, the audit log of :mod:`gridgeo.users`): ``write=True`` takes the
        write lock at once (``BEGIN IMMEDIATE``), so a read-then-write is atomic.
        The transaction commits when the block ends and rolls back on any error;
        a lock held by another writer for over ``timeout_s`` is a
        :class:`~gridgeo.errors.ConflictError`, other SQLite errors a
        :class:`~gridgeo.errors.CorruptFileError`. Never use it to change a
        versioned layer or its history: use :meth:`save` and its kin.

        Parameters
        ----------
        write
            Take the write lock (True) or only read (False).

        Yields
        ------
        sqlite3.Connection
        """
        with self._transaction(write=write) as con:
            yield con

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            if write and _CHECK_HOOK is not None:
                _CHECK_HOOK("before_lock")
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            if write and _CHECK_HOOK is not None:
                _CHECK_HOOK("locked")
            yield con
            if write and _TEST_HOOK is not None:
                _TEST_HOOK("before_commit")
            con.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            if con.in_transaction:
                con.execute("ROLLBACK")
            if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
                msg = (
                    f"workspace {str(self.path)!r} is busy with another save for over "
                    f"{self.timeout_s} s (`timeout_s`); nothing was changed, try again."
                )
                raise ConflictError(msg) from err
            msg = (
                f"workspace {str(self.path)!r}: SQLite error {err!r}; nothing was changed. "
                "If the file is damaged, restore it from a copy."
            )
            raise CorruptFileError(msg) from err
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    @staticmethod
    def _layer(con: sqlite3.Connection, layer: str) -> tuple[str, str, list[tuple[str, str]]]:
        """Key column, history table and data columns ``(name, type)`` of ``layer``."""
        row = con.execute(
            f"SELECT key_column, history_table FROM {_q(_LAYERS)} WHERE layer = ?", (layer,)
        ).fetchone()
        if row is None:
            names = [r[0] for r in con.execute(f"SELECT layer FROM {_q(_LAYERS)} ORDER BY layer")]
            msg = f"`layer` {layer!r} is not in this workspace; versioned layers: {names!r}."
            raise NotFoundError(msg)
        cols = [(r[1], r[2]) for r in con.execute(f"PRAGMA table_info({_q(layer)})")]
        return row[0], row[1], [(c, t) for c, t in cols if c not in ("fid", _GEOM, _VERSION)]

    @staticmethod
    def _version(con: sqlite3.Connection, layer: str) -> int:
        sql = f"SELECT coalesce(max(version), 0) FROM {_q(_VERSIONS)} WHERE layer = ?"
        return int(con.execute(sql, (layer,)).fetchone()[0])

    # -- the interface ----------------------------------------------------- #

    def layers(self) -> dict[str, str]:
        with self._transaction(write=False) as con:
            rows = con.execute(
                f"SELECT layer, key_column FROM {_q(_LAYERS)} ORDER BY layer"
            ).fetchall()
        return dict(rows)

    def current_version(self, layer: str) -> int:
        with self._transaction(write=False) as con:
            self._layer(con, layer)
            return self._version(con, layer)

    def list_versions(self, layer: str) -> pd.DataFrame:
        cols = ["version", "parent_version", "author", "created_at", "reason", "n_rows",
                "n_added", "n_removed", "n_changed", "restored_from", "checksum"]  # fmt: skip
        with self._transaction(write=False) as con:
            self._layer(con, layer)
            sql = f"SELECT {', '.join(cols)} FROM {_q(_VERSIONS)} WHERE layer = ? ORDER BY version"
            rows = con.execute(sql, (layer,)).fetchall()
        out = pd.DataFrame(rows, columns=cols)
        out["created_at"] = pd.to_datetime(out["created_at"], utc=True, format="ISO8601")
        return out.astype({"parent_version": "Int64", "restored_from": "Int64"})

    def read(self, layer: str, *, version: int | None = None) -> gpd.GeoDataFrame:
        with self._transaction(write=False) as con:
            key, hist, cols = self._layer(con, layer)
            select = ", ".join(_q(c) for c in [_GEOM, *(c for c, _ in cols), _VERSION])
            if version is None:
                sql = f"SELECT {select} FROM {_q(layer)} ORDER BY {_q(key)}"
                args: tuple[int, ...] = ()
            else:
                known = [
                    r[0]
                    for r in con.execute(
                        f"SELECT version FROM {_q(_VERSIONS)} WHERE layer = ? ORDER BY version",
                        (layer,),
                    )
                ]
                if version not in known:
                    msg = (
                        f"layer {layer!r} has no `version` {version!r}; "
                        f"available versions: {known!r}."
                    )
                    raise NotFoundError(msg)
                sql = (
                    f"SELECT {select} FROM {_q(hist)} WHERE {_q(_VERSION)} <= ? AND "
                    f"({_q(_SUPERSEDED)} IS NULL OR {_q(_SUPERSEDED)} > ?) ORDER BY {_q(key)}"
                )
                args = (int(version), int(version))
            rows = con.execute(sql, args).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [()] * (len(cols) + 2)
        data = {
            c: _decode_column(v, _kind(t)) for (c, t), v in zip(cols, columns[1:-1], strict=True)
        }
        data[_VERSION] = _decode_column(columns[-1], "int")
        return gpd.GeoDataFrame(data, geometry=geometry_from_gpkg(columns[0]), crs=_SRS_ID)

    def row_history(self, layer: str, key_value: Any) -> gpd.GeoDataFrame:
        with self._transaction(write=False) as con:
            key, hist, cols = self._layer(con, layer)
            select = ", ".join(_q(c) for c in [_GEOM, *(c for c, _ in cols), _VERSION, _SUPERSEDED])
            sql = f"SELECT {select} FROM {_q(hist)} WHERE {_q(key)} = ? ORDER BY {_q(_VERSION)}"
            rows = con.execute(sql, (key_value,)).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [()] * (len(cols) + 3)
        data = {
            c: _decode_column(v, _kind(t)) for (c, t), v in zip(cols, columns[1:-2], strict=True)
        }
        data[_VERSION] = _decode_column(columns[-2], "int")
        superseded = pd.array(list(columns[-1]), dtype="Int64")
        out = gpd.GeoDataFrame(data, geometry=geometry_from_gpkg(columns[0]), crs=_SRS_ID)
        out[_SUPERSEDED] = superseded
        return _with_version_info(out, self.list_versions(layer))

    def read_rows(
        self, layer: str, values: Iterable[Any], *, column: str | None = None
    ) -> gpd.GeoDataFrame:
        wanted = list(dict.fromkeys(values))
        with self._transaction(write=False) as con:
            key, _, cols = self._layer(con, layer)
            name = column or key
            if name not in (key, *(c for c, _ in cols)):
                msg = f"`column` {name!r} is not a column of layer {layer!r}."
                raise MissingColumnError(msg)
            select = ", ".join(_q(c) for c in [_GEOM, *(c for c, _ in cols), _VERSION])
            # the values go through a temporary table: any number of them, one query
            con.execute("DROP TABLE IF EXISTS temp._wanted")
            con.execute("CREATE TEMP TABLE _wanted (v)")
            con.executemany("INSERT INTO temp._wanted (v) VALUES (?)", ((v,) for v in wanted))
            sql = (
                f"SELECT {select} FROM main.{_q(layer)} WHERE {_q(name)} IN "
                f"(SELECT v FROM temp._wanted) ORDER BY {_q(key)}"
            )
            rows = con.execute(sql).fetchall()
            con.execute("DROP TABLE temp._wanted")
        return _frame_from_rows(rows, cols)

    def save_rows(
        self,
        layer: str,
        gdf: gpd.GeoDataFrame,
        *,
        expected_version: int,
        author: str,
        reason: str,
    ) -> int:
        author, reason = _check_who_why(author, reason)
        data = _check_frame(gdf, layer, self._key(layer))
        # checks and encoding before the write lock, as for save
        p = self._prepare(layer, data, expected_version, checksum=False)
        names = [c for c, _ in p.cols]
        with self._transaction(write=True) as con:
            current = self._version(con, p.layer)
            if current != p.expected_version:
                msg = (
                    f"layer {p.layer!r} is at version {current}, but this edit was based "
                    f"on version {p.expected_version} (`expected_version`): someone saved "
                    f"in between. Reload the rows (store.read_rows({p.layer!r}, ...)), "
                    f"re-apply your edit, save again with expected_version={current}."
                )
                raise ConflictError(msg)
            if _CHECK_HOOK is not None:
                _CHECK_HOOK("checked")
            new = current + 1
            old_box = con.execute(
                "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?",
                (p.layer,),
            ).fetchone()
            n_added, n_changed = _upsert_rows(
                con, p.layer, p.hist, p.key, p.cols, p.blobs, p.values, new
            )
            # the whole new content as stored, for the checksum a full save of it records
            # (the same values as encoded: SQLite gives back what it was given)
            select = ", ".join(_q(c) for c in [_GEOM, *names])
            cursor = con.execute(f"SELECT {select} FROM main.{_q(p.layer)}")
            columns = list(zip(*cursor, strict=True)) or [()] * (len(names) + 1)
            n_rows = len(columns[0])
            at = names.index(p.key) + 1
            checksum = _checksum(names, columns[1:], columns[0], columns[at])
            # the layer's extent grows to hold the new rows (a moved row may leave it
            # a little larger than needed: gpkg_contents extents are informative)
            bounds = []
            for i, pair in enumerate(zip(old_box, p.bounds, strict=True)):
                known = [v for v in pair if v is not None]
                bounds.append((min if i < 2 else max)(known) if known else None)
            now = _now()
            _update_contents(con, p.layer, p.hist, bounds, now)
            con.execute(
                f"INSERT INTO {_q(_VERSIONS)} (layer, version, parent_version, author, "
                "created_at, reason, n_rows, n_added, n_removed, n_changed, "
                "restored_from, checksum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (p.layer, new, current or None, author, now, reason, n_rows,
                 n_added, 0, n_changed, None, checksum),
            )  # fmt: skip
        logger.info(
            "saved %s version %d by %s (%d rows added, %d changed): %s",
            layer, new, author, n_added, n_changed, reason,
        )  # fmt: skip
        return new

    def _prepare(
        self, layer: str, data: gpd.GeoDataFrame, expected_version: int, *, checksum: bool = True
    ) -> _Prepared:
        """Check and encode one layer's new content (before any write lock is taken).

        ``checksum=False`` (rows for :meth:`save_rows`, not a whole content) leaves
        ``checksum`` empty.
        """
        if not isinstance(expected_version, (int, np.integer)) or isinstance(
            expected_version, bool
        ):
            msg = (
                "`expected_version` must be the version number you loaded (an int), "
                f"got {expected_version!r}."
            )
            raise InputError(msg)
        with self._transaction(write=False) as con:
            key, hist, cols = self._layer(con, layer)
        names = [c for c, _ in cols]
        missing = [c for c in names if c not in data.columns]
        if missing:
            msg = (
                f"`gdf` for layer {layer!r} lacks columns {missing!r}; keep every column of "
                f"the layer (read it with store.read({layer!r}) and edit that)."
            )
            raise MissingColumnError(msg)
        extra = [c for c in data.columns if c not in (*names, _VERSION, data.geometry.name)]
        if extra:
            msg = (
                f"`gdf` for layer {layer!r} has columns {extra!r} the layer does not have; "
                "drop them (a layer's columns are fixed when it is added)."
            )
            raise InputError(msg)
        # encode before taking the write lock, so other planners wait as little as possible
        values = [_encode_column(data[c], _kind(t), c, layer) for c, t in cols]
        geoms = data.geometry.to_numpy()
        blobs = geometry_to_gpkg(geoms)
        digest = _checksum(names, values, blobs, data[key].to_numpy()) if checksum else ""
        box = shapely.bounds(geoms)
        known = ~np.isnan(box[:, 0])  # missing and empty geometries have no bounds
        bounds: list[float | None] = [None] * 4
        if known.any():
            bounds = [*box[known, :2].min(axis=0).tolist(), *box[known, 2:].max(axis=0).tolist()]
        return _Prepared(
            layer=layer,
            expected_version=int(expected_version),
            key=key,
            hist=hist,
            cols=cols,
            values=values,
            blobs=blobs,
            checksum=digest,
            bounds=bounds,
        )

    def _write_many(
        self,
        items: list[tuple[str, gpd.GeoDataFrame, int, int | None]],
        *,
        author: str,
        reason: str,
    ) -> list[int]:
        prepared = [self._prepare(layer, data, expected) for layer, data, expected, _ in items]
        versions = []
        with self._transaction(write=True) as con:
            for p in prepared:
                current = self._version(con, p.layer)
                if current != p.expected_version:
                    msg = (
                        f"layer {p.layer!r} is at version {current}, but this edit was based "
                        f"on version {p.expected_version} (`expected_version`): someone saved "
                        f"in between. Reload the layer (store.read({p.layer!r})), re-apply "
                        f"your edit, save again with expected_version={current}."
                    )
                    raise ConflictError(msg)
            if _CHECK_HOOK is not None:
                _CHECK_HOOK("checked")
            now = _now()
            for p, (*_, restored_from) in zip(prepared, items, strict=True):
                current = p.expected_version
                new = current + 1
                counts = _replace_rows(con, p.layer, p.hist, p.key, p.cols, p.blobs, p.values, new)
                _update_contents(con, p.layer, p.hist, p.bounds, now)
                con.execute(
                    f"INSERT INTO {_q(_VERSIONS)} (layer, version, parent_version, author, "
                    "created_at, reason, n_rows, n_added, n_removed, n_changed, "
                    "restored_from, checksum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (p.layer, new, current or None, author, now, reason, len(p.blobs),
                     *counts, restored_from, p.checksum),
                )  # fmt: skip
                versions.append(new)
        for p, new in zip(prepared, versions, strict=True):
            logger.info("saved %s version %d by %s: %s", p.layer, new, author, reason)
        return versions


@dataclass(frozen=True)
class _Prepared:
    """One layer's new content, checked and encoded for SQLite."""

    layer: str
    expected_version: int
    key: str
    hist: str
    cols: list[tuple[str, str]]
    values: list[list[Any]]
    blobs: list[bytes | None]
    checksum: str
    bounds: list[float | None]


def _replace_rows(
    con: sqlite3.Connection,
    layer: str,
    hist: str,
    key: str,
    cols: list[tuple[str, str]],
    blobs: list[bytes | None],
    values: list[list[Any]],
    new: int,
) -> tuple[int, int, int]:
    """Write version ``new`` inside the open transaction; return (added, removed, changed).

    The rows are staged in a temporary table with the layer's column types, so
    that SQL ``IS`` compares them with the current rows exactly as stored.
    """
    names = [c for c, _ in cols]
    T, H, K, V, S = _q(layer), _q(hist), _q(key), _q(_VERSION), _q(_SUPERSEDED)
    q_cols = ", ".join(_q(c) for c in [_GEOM, *names])
    decl = ", ".join(f"{_q(c)} {t}" for c, t in [(_GEOM, "BLOB"), *cols])
    same = " AND ".join(f"t.{_q(c)} IS s.{_q(c)}" for c in [_GEOM, *names])
    marks = ", ".join("?" * (len(names) + 2))

    def count(sql: str) -> int:
        return int(con.execute(f"SELECT count(*) FROM {sql}").fetchone()[0])

    con.execute("DROP TABLE IF EXISTS temp._stage")
    con.execute(f"CREATE TEMP TABLE _stage ({decl}, {V} INTEGER, _ord INTEGER)")
    con.execute(f"CREATE UNIQUE INDEX temp._stage_key ON _stage ({K})")
    con.executemany(
        f"INSERT INTO temp._stage ({q_cols}, _ord) VALUES ({marks})",
        zip(blobs, *values, range(len(blobs)), strict=True),
    )
    # an unchanged row keeps the version in which it last changed; NULL marks new content
    con.execute(
        f"UPDATE temp._stage AS s SET {V} = "
        f"(SELECT t.{V} FROM main.{T} AS t WHERE t.{K} = s.{K} AND {same})"
    )
    n_added = count(
        f"temp._stage AS s WHERE NOT EXISTS (SELECT 1 FROM main.{T} AS t WHERE t.{K} = s.{K})"
    )
    n_removed = count(
        f"main.{T} AS t WHERE NOT EXISTS (SELECT 1 FROM temp._stage AS s WHERE s.{K} = t.{K})"
    )
    n_new = count(f"temp._stage WHERE {V} IS NULL")
    con.execute(
        f"UPDATE main.{H} SET {S} = ? WHERE {S} IS NULL AND "
        f"{K} NOT IN (SELECT {K} FROM temp._stage WHERE {V} IS NOT NULL)",
        (new,),
    )
    con.execute(f"UPDATE temp._stage SET {V} = ? WHERE {V} IS NULL", (new,))
    con.execute(
        f"INSERT INTO main.{H} ({q_cols}, {V}) "
        f"SELECT {q_cols}, {V} FROM temp._stage WHERE {V} = ? ORDER BY _ord",
        (new,),
    )
    con.execute(f"DELETE FROM main.{T}")
    con.execute(
        f"INSERT INTO main.{T} ({q_cols}, {V}) SELECT {q_cols}, {V} FROM temp._stage ORDER BY _ord"
    )
    con.execute("DROP TABLE temp._stage")
    return n_added, n_removed, n_new - n_added


def _upsert_rows(
    con: sqlite3.Connection,
    layer: str,
    hist: str,
    key: str,
    cols: list[tuple[str, str]],
    blobs: list[bytes | None],
    values: list[list[Any]],
    new: int,
) -> tuple[int, int]:
    """Add or change the given rows as version ``new``; return (added, changed).

    As :func:`_replace_rows` (staged with the layer's column types, compared with SQL
    ``IS``), but the layer's other rows are not touched; a given row equal to the stored
    one is left as it is.
    """
    names = [c for c, _ in cols]
    T, H, K, V, S = _q(layer), _q(hist), _q(key), _q(_VERSION), _q(_SUPERSEDED)
    q_cols = ", ".join(_q(c) for c in [_GEOM, *names])
    decl = ", ".join(f"{_q(c)} {t}" for c, t in [(_GEOM, "BLOB"), *cols])
    same = " AND ".join(f"t.{_q(c)} IS s.{_q(c)}" for c in [_GEOM, *names])
    marks = ", ".join("?" * (len(names) + 2))
    con.execute("DROP TABLE IF EXISTS temp._stage")
    con.execute(f"CREATE TEMP TABLE _stage ({decl}, {V} INTEGER, _ord INTEGER)")
    con.execute(f"CREATE UNIQUE INDEX temp._stage_key ON _stage ({K})")
    con.executemany(
        f"INSERT INTO temp._stage ({q_cols}, _ord) VALUES ({marks})",
        zip(blobs, *values, range(len(blobs)), strict=True),
    )
    con.execute(
        f"DELETE FROM temp._stage AS s WHERE EXISTS "
        f"(SELECT 1 FROM main.{T} AS t WHERE t.{K} = s.{K} AND {same})"
    )  # unchanged: nothing to write
    n_added = int(
        con.execute(
            f"SELECT count(*) FROM temp._stage AS s WHERE NOT EXISTS "
            f"(SELECT 1 FROM main.{T} AS t WHERE t.{K} = s.{K})"
        ).fetchone()[0]
    )
    n_new = int(con.execute("SELECT count(*) FROM temp._stage").fetchone()[0])
    con.execute(
        f"UPDATE main.{H} SET {S} = ? WHERE {S} IS NULL AND {K} IN (SELECT {K} FROM temp._stage)",
        (new,),
    )
    con.execute(f"UPDATE temp._stage SET {V} = ?", (new,))
    con.execute(
        f"INSERT INTO main.{H} ({q_cols}, {V}) SELECT {q_cols}, {V} FROM temp._stage ORDER BY _ord"
    )
    # changed rows keep their place in the table (which stays in key order after a full
    # save of key-sorted rows, so the checksum needs no reordering); added rows go last
    s_cols = ", ".join(f"s.{_q(c)}" for c in [_GEOM, *names, _VERSION])
    con.execute(
        f"UPDATE main.{T} SET ({q_cols}, {V}) = (SELECT {s_cols} FROM temp._stage AS s "
        f"WHERE s.{K} = main.{T}.{K}) WHERE {K} IN (SELECT {K} FROM temp._stage)"
    )
    con.execute(
        f"INSERT INTO main.{T} ({q_cols}, {V}) SELECT {q_cols}, {V} FROM temp._stage AS s "
        f"WHERE NOT EXISTS (SELECT 1 FROM main.{T} AS t WHERE t.{K} = s.{K}) ORDER BY _ord"
    )
    con.execute("DROP TABLE temp._stage")
    return n_added, n_new - n_added


def _update_contents(
    con: sqlite3.Connection, layer: str, hist: str, bounds: list[float | None], now: str
) -> None:
    """Keep gpkg_contents (extent, last_change) and GDAL's feature counts right."""
    old = con.execute(
        "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?", (hist,)
    ).fetchone()
    hist_bounds = []
    for i, pair in enumerate(zip(old, bounds, strict=True)):
        known = [v for v in pair if v is not None]
        hist_bounds.append((min if i < 2 else max)(known) if known else None)
    sql = (
        "UPDATE gpkg_contents SET last_change = ?, min_x = ?, min_y = ?, max_x = ?, max_y = ? "
        "WHERE table_name = ?"
    )
    con.execute(sql, (now, *bounds, layer))
    con.execute(sql, (now, *hist_bounds, hist))
    con.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?", (now, _VERSIONS))
    for table in (layer, hist):
        con.execute(
            f"UPDATE gpkg_ogr_contents SET feature_count = (SELECT count(*) FROM {_q(table)}) "
            "WHERE lower(table_name) = lower(?)",
            (table,),
        )


def _checksum(
    names: list[str],
    values: Sequence[Sequence[Any]],
    blobs: Sequence[bytes | None],
    keys: Sequence[Any] | np.ndarray,
) -> str:
    """SHA-256 of a version's content: rows in key order, the store's columns left out."""
    order = np.argsort(np.asarray(keys, dtype=object), kind="stable")
    in_order = len(order) < 2 or bool((order == np.arange(len(order))).all())
    pick = None if in_order else operator.itemgetter(*order.tolist())

    def by_key(col: Sequence[Any]) -> list[Any]:
        return list(col) if pick is None else list(pick(col))  # the same objects, key order

    h = hashlib.sha256()
    for name, col in zip(names, values, strict=True):
        h.update(name.encode() + b"\x00" + repr(by_key(col)).encode() + b"\x00")
    ordered = by_key(blobs)
    sizes = np.array([-1 if b is None else len(b) for b in ordered], dtype=np.int64)
    h.update(sizes.tobytes())
    h.update(b"".join(b for b in ordered if b is not None))
    return h.hexdigest()
