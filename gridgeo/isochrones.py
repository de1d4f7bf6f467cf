"""Isochrones: the areas reached within time bands, to a stated distance, light enough for a map.

Definition
----------
The area of a band is every road part reached within the band (edges reached in part are cut
at the reached fraction; the sources' own edges and off-road legs included: the road parts of
:func:`gridgeo.routing.reached_lines`), widened by ``buffer_m`` on every side in the metric CRS.
It follows the roads: it is never a convex hull, and a valley without a road stays outside.

How it is built
---------------
A union of thousands of buffered road pieces (the first way: 3.4 s and 197,797 vertices for
the sample county's 24 areas, one of 27,728) spends its time overlaying polygons that mostly
cover each other. Here the reached road parts are sampled instead, every point with its travel
time (:func:`gridgeo.routing.reached_points`, points at most half a cell apart), on a grid of
square cells of ``h = buffer_m / CELLS_PER_BUFFER`` (25 m for the default 150 m buffer): a cell
is in the area of a band when its centre is within ``buffer_m`` (6 cells) of the centre of a
cell that holds a point reached within the band (a disk of cells, spread as bits, 64 cells a
word, over the band's own window). The outline of the cells is traced into rings (shells
round the areas, holes round the places far from every reached road) and each ring is
simplified for display by Douglas-Peucker with the tolerance ``tolerance_m`` (default
``buffer_m * TOLERANCE_PER_BUFFER`` = 40.5 m; where that makes a ring cross itself or another
ring, by GEOS's topology-preserving simplifier with the same tolerance): the outline moves by
at most the tolerance. The sample county's 24 areas take about a tenth of the time and have
about a sixth of the vertices (under 5,000 a polygon; ``benchmarks/bench_isochrones.py``).
With ``per_station``, the area of all the sources together is the union of their own areas (a
road part is reached within a band from all of them together exactly when it is from one of
them), so it needs no search or sampling of its own.

Guarantee
---------
With ``r = buffer_m``, the cell ``h = r / 6``, the sample spacing ``h / 2`` and the display
tolerance ``tol``, the polygon of a band

- **contains** every point within ``r - sqrt(2) h - h / 2 - tol`` of the road parts reached
  within the band (61.6 m for the defaults: every reached road part lies inside, with that
  margin, as long as ``tol < 0.68 r``), and
- **leaves out** every point farther than ``r + sqrt(2) h + tol`` from all of them (225.9 m
  for the defaults): a place whose true travel time is over the band and that is this far from
  every road part reached within it is outside;

:func:`isochrone_bounds_m` gives the two distances. (A cell's centre lies within ``h /
sqrt(2)`` of its points, a reached point within ``h / 2`` of a sample, and the simplification
moves the outline by at most ``tol``: every point farther than ``tol`` from the cells' outline
keeps its side. Where two cells of an area meet only at a corner, the outline passes that
corner twice: it is cut there into two rings that touch at the corner, as valid polygons have
them, and the corner is kept by the simplification.) The
result depends only on the inputs: the same roads, stations and options give the same
polygons, vertex for vertex.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from gridgeo._validate import check_ids, check_positive
from gridgeo.errors import InputError
from gridgeo.reach import ALL_STATIONS, DEFAULT_BANDS_S, DEFAULT_ISOCHRONE_BUFFER_M
from gridgeo.routing import ReachEngine, node_times, reached_points
from gridgeo.settings import CRS

__all__ = [
    "CELLS_PER_BUFFER",
    "DEFAULT_BANDS_S",
    "DEFAULT_ISOCHRONE_BUFFER_M",
    "TOLERANCE_PER_BUFFER",
    "isochrone_bounds_m",
    "isochrones",
]

logger = logging.getLogger(__name__)

CELLS_PER_BUFFER = 6  # grid cells across the buffer radius (25 m cells for 150 m)
TOLERANCE_PER_BUFFER = 0.27  # default display tolerance, as a share of the buffer (40.5 m)
_SAMPLES_PER_CELL = 2  # reached points every half cell along the roads

_BITS = 64
_U64 = np.uint64
# the four directions of a ring's steps (+x, +y, -x, -y); the area lies on the left of a step
_STEP = np.array([(1, 0), (0, 1), (-1, 0), (0, -1)], dtype=np.int64)


def isochrone_bounds_m(buffer_m: float, *, tolerance_m: float | None = None) -> tuple[float, float]:
    """
    How closely an isochrone follows its reached roads (the guarantee of the module docstring).

    Parameters
    ----------
    buffer_m
        The buffer of :func:`isochrones`.
    tolerance_m
        The display tolerance (default ``buffer_m * TOLERANCE_PER_BUFFER``).

    Returns
    -------
    inner_m, outer_m
        Every point within ``inner_m`` of the reached road parts is inside the band's polygon;
        every point farther than ``outer_m`` from all of them is outside.
    """
    buffer_m = check_positive(buffer_m, "buffer_m")
    tol = _tolerance(buffer_m, tolerance_m)
    h = buffer_m / CELLS_PER_BUFFER
    inner = buffer_m - math.sqrt(2.0) * h - h / _SAMPLES_PER_CELL - tol
    return inner, buffer_m + math.sqrt(2.0) * h + tol


def _tolerance(buffer_m: float, tolerance_m: float | None) -> float:
    if tolerance_m is None:
        return buffer_m * TOLERANCE_PER_BUFFER
    if isinstance(tolerance_m, bool) or not isinstance(tolerance_m, int | float | np.number):
        msg = f"`tolerance_m` must be a number of metres (or None), got {tolerance_m!r}"
        raise InputError(msg)
    tol = float(tolerance_m)
    if not math.isfinite(tol) or tol < 0:
        msg = f"`tolerance_m` must be a finite number of metres >= 0, got {tolerance_m!r}"
        raise InputError(msg)
    return tol


def isochrones(
    engine: ReachEngine,
    stations: gpd.GeoDataFrame,
    *,
    bands_s: Sequence[float] = DEFAULT_BANDS_S,
    per_station: bool = True,
    buffer_m: float = DEFAULT_ISOCHRONE_BUFFER_M,
    tolerance_m: float | None = None,
    id_column: str = "station_id",
    reverse: bool = False,
) -> gpd.GeoDataFrame:
    """
    Areas reached within each time band, per station and for all stations together.

    The area of a band is every road part reached within the band (edges reached in part cut
    at the reached fraction; the stations' own edges and off-road legs included), widened by
    ``buffer_m`` in the metric CRS, then simplified for display; see the module docstring for
    how closely it follows the roads (:func:`isochrone_bounds_m`: for the defaults, every point
    within 61.6 m of a reached road part is inside and every point farther than 225.9 m from
    all of them is outside) and for how it is built.

    Parameters
    ----------
    engine
        The engine of the drive graph (of the payment mode's graph with ``reverse``).
    stations
        Repair stations (or any sources) with an id column.
    bands_s
        Upper bounds of the bands, seconds (default 10, 20, 30 minutes).
    per_station
        Also return each station's own areas (each as if it were alone).
    buffer_m
        How far the area reaches beyond the reached roads, metres.
    tolerance_m
        Largest move of the outline by the display simplification, metres (default
        ``buffer_m * TOLERANCE_PER_BUFFER`` = 40.5 m; 0 keeps the traced outline of the cells).
    id_column
        Station id column.
    reverse
        Times towards the stations instead of from them (payment points).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per (station, band): ``station_id`` (``"all"`` for all stations
        together), ``band_s``, ``area_km2`` (of the polygon, in the metric CRS) and the
        MultiPolygon ``geometry`` (empty where nothing is reached); the ``"all"`` rows first,
        then by station order and band.

    Raises
    ------
    InputError
        If ``bands_s`` is empty or not positive, ``buffer_m`` is not positive, ``tolerance_m``
        is negative, or no station is near a road.
    """
    bands = np.asarray(list(bands_s), dtype=float)
    if bands.size == 0 or not np.all(np.isfinite(bands)) or np.any(bands <= 0):
        msg = f"`bands_s` must be positive seconds, got {bands_s!r}"
        raise InputError(msg)
    bands = np.unique(bands)
    buffer_m = check_positive(buffer_m, "buffer_m")
    tol = _tolerance(buffer_m, tolerance_m)
    ids = check_ids(stations, id_column, "stations")
    src = engine.snap_points(stations, "stations")
    if not (src.seg >= 0).any():
        msg = f"no row of `stations` lies within `max_snap_m`={engine.max_snap_m!r} m of a road"
        raise InputError(msg)
    limit = float(bands.max())
    h = buffer_m / CELLS_PER_BUFFER
    # the sources of each search: every station alone (the union is "all"), or all at once
    if per_station:
        each, usable = node_times(engine, src, reverse=reverse, limit_s=limit, each=True)
        runs = [(each[pos], np.array([jj])) for pos, jj in enumerate(usable)]
        names: list[Any] = [ALL_STATIONS, *ids[usable]]
    else:
        dist, usable = node_times(engine, src, reverse=reverse, limit_s=limit)
        runs = [(dist, usable)]
        names = [ALL_STATIONS]
    n_bands = len(bands)

    def cells_of(run: tuple[np.ndarray, np.ndarray]) -> list[_Grid | None]:
        dist, cols = run
        xy, time_s = reached_points(
            engine, dist, src, cols, limit_s=limit, spacing_m=h / _SAMPLES_PER_CELL, reverse=reverse
        )
        cell = np.floor(xy / h).astype(np.int64)
        band = np.searchsorted(bands, time_s)
        # reached within a band: also within every later band
        return [_band_cells(cell[band <= k]) for k in range(n_bands)]

    # one grid per source and band (each in its own window), in the order of the rows
    grids = [g for run in runs for g in cells_of(run)]
    if per_station:
        grids[:0] = [_union(grids[k::n_bands]) for k in range(n_bands)]
    geoms = _outlines(grids, h, tol)
    areas = shapely.area(geoms) / 1e6
    return gpd.GeoDataFrame(
        {
            "station_id": [name for name in names for _ in range(n_bands)],
            "band_s": np.tile(bands, len(names)),
            "area_km2": areas,
        },
        geometry=engine.to_lonlat(geoms),
        crs=CRS,
    )


# --------------------------------------------------------------------------- cells as bits


class _Grid:
    """The cells of one source's band: bits of ``(ny, nw)`` words, cell ``(row, col)`` of the
    window at bit ``col % 64`` of word ``col // 64``; cell ``(row, col)`` is the square
    ``[(col0 + col) h, (col0 + col + 1) h] x [(row0 + row) h, (row0 + row + 1) h]``."""

    def __init__(self, bits: np.ndarray, row0: int, col0: int) -> None:
        self.bits, self.row0, self.col0 = bits, row0, col0


# the disk of cells: offsets (dx, dy) with dx^2 + dy^2 <= CELLS_PER_BUFFER^2, as the union of
# the rectangles |dx| <= w, |dy| <= b at the disk's corners
_HALF_WIDTHS = [math.isqrt(CELLS_PER_BUFFER**2 - b * b) for b in range(CELLS_PER_BUFFER + 1)]
_RECTANGLES = [
    (w, b) for b, w in enumerate(_HALF_WIDTHS) if b == CELLS_PER_BUFFER or w > _HALF_WIDTHS[b + 1]
]
# empty cells around a window's samples: the runs of a spread start at a cell and are then
# shifted back by up to CELLS_PER_BUFFER, and no area touches the window's edge
_PAD = 2 * CELLS_PER_BUFFER + 2


def _band_cells(cell: np.ndarray) -> _Grid | None:
    """The cells within the disk of a cell holding a point (None: no point)."""
    if len(cell) == 0:
        return None
    lo = cell.min(axis=0) - _PAD
    hi = cell.max(axis=0) + _PAD + 1
    col0 = int(lo[0]) // _BITS * _BITS
    nw = -(-(int(hi[0]) - col0) // _BITS)
    row0, ny = int(lo[1]), int(hi[1] - lo[1])
    bits = np.zeros((ny, nw), dtype=_U64)
    col = cell[:, 0] - col0
    flat = (cell[:, 1] - row0) * nw + col // _BITS
    np.bitwise_or.at(bits.reshape(-1), flat, _U64(1) << (col % _BITS).astype(_U64))
    return _Grid(_disk(bits), row0, col0)


def _cols_from(bits: np.ndarray, s: int) -> np.ndarray:
    """``out[col] = bits[col + s]`` along the last axis (0 < s < 64), zeros shifted in."""
    out = bits >> _U64(s)
    out[..., :-1] |= bits[..., 1:] << _U64(_BITS - s)
    return out


def _cols_to(bits: np.ndarray, s: int) -> np.ndarray:
    """``out[col] = bits[col - s]`` along the last axis (0 < s < 64), zeros shifted in."""
    out = bits << _U64(s)
    out[..., 1:] |= bits[..., :-1] >> _U64(_BITS - s)
    return out


def _rows_from(bits: np.ndarray, s: int) -> np.ndarray:
    """``out[row] = bits[row + s]`` (s > 0), zeros shifted in."""
    out = np.zeros_like(bits)
    out[..., :-s, :] = bits[..., s:, :]
    return out


def _rows_to(bits: np.ndarray, s: int) -> np.ndarray:
    """``out[row] = bits[row - s]`` (s > 0), zeros shifted in."""
    out = np.zeros_like(bits)
    out[..., s:, :] = bits[..., :-s, :]
    return out


def _spread(bits: np.ndarray, halves: list[int], *, cols: bool) -> dict[int, np.ndarray]:
    """OR over ``[i - half, i + half]`` along the columns (or rows), for each half-width; the
    runs of 2, 4, 8 ... are shared between the widths."""
    shift_from, shift_to = (_cols_from, _cols_to) if cols else (_rows_from, _rows_to)
    runs = {1: bits}  # runs[n][i] = OR of bits[i .. i + n - 1]
    n = 1
    while 2 * n <= 2 * max(halves) + 1:
        runs[2 * n] = runs[n] | shift_from(runs[n], n)
        n *= 2
    out = {}
    for half in halves:
        width = 2 * half + 1
        p = 1 << (width.bit_length() - 1)
        run = runs[p] if p == width else runs[p] | shift_from(runs[p], width - p)
        out[half] = shift_to(run, half) if half else run
    return out


def _disk(bits: np.ndarray) -> np.ndarray:
    """Every cell whose centre is within CELLS_PER_BUFFER cells of a set cell's centre."""
    wide = _spread(bits, sorted({w for w, _ in _RECTANGLES}), cols=True)
    out = np.zeros_like(bits)
    for w, b in _RECTANGLES:
        out |= _spread(wide[w], [b], cols=False)[b] if b else wide[w]
    return out


def _union(grids: list[_Grid | None]) -> _Grid | None:
    """The cells of all the grids together (their windows are word-aligned)."""
    present = [g for g in grids if g is not None]
    if not present:
        return None
    row0 = min(g.row0 for g in present)
    col0 = min(g.col0 for g in present)
    row1 = max(g.row0 + g.bits.shape[0] for g in present)
    col1 = max(g.col0 + _BITS * g.bits.shape[1] for g in present)
    bits = np.zeros((row1 - row0, (col1 - col0) // _BITS), dtype=_U64)
    for g in present:
        r, w = g.row0 - row0, (g.col0 - col0) // _BITS
        bits[r : r + g.bits.shape[0], w : w + g.bits.shape[1]] |= g.bits
    return _Grid(bits, row0, col0)


# the set bits of each byte value: how many, and where (little-endian bit order)
_BYTE_COUNT = np.array([bin(v).count("1") for v in range(256)], dtype=np.int64)
_BYTE_BITS = np.array(
    [[i for i in range(8) if v >> i & 1] + [0] * (8 - bin(v).count("1")) for v in range(256)],
    dtype=np.int64,
)


def _set_bits(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Word number (in ``bits.reshape(-1)``) and bit (0-63) of every set bit, in order."""
    flat = np.ascontiguousarray(bits, dtype="<u8").reshape(-1)
    words = np.flatnonzero(flat)
    as_bytes = flat[words].view(np.uint8)
    nz = np.flatnonzero(as_bytes)
    values = as_bytes[nz]
    count = _BYTE_COUNT[values]
    rep = np.repeat(np.arange(len(nz)), count)
    k = np.arange(len(rep)) - (np.cumsum(count) - count)[rep]
    word, byte = np.divmod(nz[rep], 8)
    return words[word], byte * 8 + _BYTE_BITS[values[rep], k]


# --------------------------------------------------------------------------- outlines


class _Steps:
    """The unit steps of the outline of every grid, by direction ``d`` (0 +x, 1 +y, 2 -x,
    3 -y), with the area on the left of each step: ``blocks[d] = (p, x, y)``, the grid
    (polygon) ``p`` and the start corner ``(x, y)`` (in cells from the CRS origin), the steps
    of +-x sorted by ``(p, y, x)``, those of +-y by ``(p, x, y)``; :meth:`find` looks a step
    up by its start."""

    def __init__(self, grids: list[_Grid | None]) -> None:
        n = len(grids)
        found: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[], [], [], []]
        words: list[list[np.ndarray]] = [[], [], [], []]
        self._offset = np.zeros((4, n), dtype=np.int64)
        self._row0 = np.zeros((4, n), dtype=np.int64)
        self._col0 = np.zeros((4, n), dtype=np.int64)
        self._nw = np.ones(n, dtype=np.int64)
        at = [0, 0, 0, 0]
        for gi, g in enumerate(grids):
            if g is None:
                continue
            q = g.bits
            left = _cols_to(q, 1)  # left[c] = q[c - 1]
            # at the corner row between cell rows r - 1 and r: +x under the area, -x over it;
            # at the corner column between cell columns c - 1 and c: +y east of the area, -y
            # west of it; (dx, dy): the start corner from the cell of the bit
            for d, arr, dx, dy in (
                (0, q[1:] & ~q[:-1], 0, 1),
                (1, left & ~q, 0, 0),
                (2, q[:-1] & ~q[1:], 1, 1),
                (3, q & ~left, 0, 1),
            ):
                word, bit = _set_bits(arr)
                row, wcol = np.divmod(word, arr.shape[1])
                found[d].append(
                    (np.full(len(row), gi), g.col0 + wcol * _BITS + bit + dx, g.row0 + row + dy)
                )
                words[d].append(arr.reshape(-1))
                self._offset[d, gi] = at[d]
                self._row0[d, gi], self._col0[d, gi] = g.row0 + dy, g.col0 + dx
                at[d] += arr.size
            self._nw[gi] = q.shape[1]
        self.blocks = []
        self._words, self._before, self._position = [], [], []
        for d in range(4):
            if found[d]:
                p, x, y = (np.concatenate([f[i] for f in found[d]]) for i in range(3))
                flat = np.concatenate(words[d])
            else:
                p = x = y = np.zeros(0, dtype=np.int64)
                flat = np.zeros(0, dtype=_U64)
            # the steps before each word, in the order of the bits (by p, y, x)
            count = np.bitwise_count(flat)
            self._words.append(flat)
            self._before.append(np.cumsum(count, dtype=np.int64) - count)
            position = np.arange(len(p))
            if d % 2 and len(p):  # +-y: by (p, x, y), and where each step in bit order went
                x0, y0 = x.min(), y.min()
                nx, ny = x.max() - x0 + 1, y.max() - y0 + 1
                o = np.argsort((p * nx + (x - x0)) * ny + (y - y0), kind="stable")
                p, x, y = p[o], x[o], y[o]
                position = np.empty(len(o), dtype=np.int64)
                position[o] = np.arange(len(o))
            self._position.append(position)
            self.blocks.append((p, x, y))

    def find(
        self, d: int, p: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Whether a step of direction ``d`` starts at ``(x, y)`` in polygon ``p`` (a corner
        of an outline of that polygon), and its position in ``blocks[d]`` where it does."""
        c = x - self._col0[d, p]
        word = self._offset[d, p] + (y - self._row0[d, p]) * self._nw[p] + c // _BITS
        bit = (c % _BITS).astype(_U64)
        w = self._words[d][word]
        hit = ((w >> bit) & _U64(1)).astype(bool)
        rank = self._before[d][word] + np.bitwise_count(w & ((_U64(1) << bit) - _U64(1)))
        return hit, self._position[d][np.where(hit, rank, 0)]


class _Runs:
    """The straight runs of the outline steps (one per corner of the outlines), each with its
    direction ``d``, polygon ``poly``, start corner ``(x, y)``, the next run ``nxt`` round its
    ring (turning left where it can, around the cell it came along, so that cells of the area
    meeting only at a corner belong to different rings or passes) and ``touch`` where it starts
    at such a corner; ``hz_*``: the horizontal steps with their run (to find holes' shells)."""

    def __init__(self, steps: _Steps) -> None:
        blocks = steps.blocks
        allx = np.concatenate([b[1] for b in blocks])
        ally = np.concatenate([b[2] for b in blocks])
        self.x0, self.y0 = int(allx.min()) - 1, int(ally.min()) - 1
        self.nx, self.ny = int(allx.max()) - self.x0 + 2, int(ally.max()) - self.y0 + 2
        heads, ends, run_at = [], [], []
        offset = 0
        for d in range(4):
            k = self._key(d, *blocks[d])
            on = k[1:] == k[:-1] + 1  # step i + 1 continues step i in the key's order
            if d < 2:  # forwards: a run goes up the order
                head, end = np.r_[True, ~on], np.r_[~on, True]
            else:  # backwards: a run goes down it
                head, end = np.r_[~on, True], np.r_[True, ~on]
            h_idx = np.flatnonzero(head)
            heads.append(h_idx)
            ends.append(np.flatnonzero(end))
            at = np.full(len(k), -1, dtype=np.int64)
            at[h_idx] = offset + np.arange(len(h_idx))
            run_at.append(at)
            if d == 0:
                run0 = np.cumsum(head) - 1
            if d == 2:  # a backward run's head is its last step: count the heads from the end
                run2 = offset + len(h_idx) - np.cumsum(head[::-1])[::-1]
            offset += len(h_idx)
        self.d = np.concatenate([np.full(len(h), d, dtype=np.int64) for d, h in enumerate(heads)])
        self.poly = np.concatenate([blocks[d][0][heads[d]] for d in range(4)])
        self.x = np.concatenate([blocks[d][1][heads[d]] for d in range(4)])
        self.y = np.concatenate([blocks[d][2][heads[d]] for d in range(4)])
        # where each run ends: the end corner of its last step
        ex = np.concatenate([blocks[d][1][ends[d]] + _STEP[d, 0] for d in range(4)])
        ey = np.concatenate([blocks[d][2][ends[d]] + _STEP[d, 1] for d in range(4)])
        self.nxt = np.full(len(self.d), -1, dtype=np.int64)
        found_left = np.zeros(len(self.d), dtype=bool)
        found_right = np.zeros(len(self.d), dtype=bool)
        for d in range(4):
            m = np.flatnonzero(self.d == d)
            for turn, found in ((3, found_right), (1, found_left)):  # left last: it wins
                nd = (d + turn) % 4
                hit, pos = steps.find(nd, self.poly[m], ex[m], ey[m])
                found[m[hit]] = True
                self.nxt[m[hit]] = run_at[nd][pos[hit]]
        if (self.nxt < 0).any():  # every corner of an outline has as many steps in as out
            msg = "isochrone outline is not closed (internal error)"
            raise RuntimeError(msg)
        self.touch = np.zeros(len(self.d), dtype=bool)
        self.touch[self.nxt[found_left & found_right]] = True
        # the horizontal steps (+x and -x), with their run and the cell column they run along
        self.hz_run = np.concatenate([run0, run2])
        self.hz_poly = np.concatenate([blocks[0][0], blocks[2][0]])
        self.hz_col = np.concatenate([blocks[0][1], blocks[2][1] - 1])
        self.hz_y = np.concatenate([blocks[0][2], blocks[2][2]])

    def _key(self, d: int, p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if d % 2 == 0:
            return (p * self.ny + (y - self.y0)) * self.nx + (x - self.x0)
        return (p * self.nx + (x - self.x0)) * self.ny + (y - self.y0)

    def rings(self) -> tuple[np.ndarray, np.ndarray]:
        """The runs in ring order and where each ring starts: a depth-first walk from a root
        joined to every run, which enters each ring at its first run and follows it round."""
        n = len(self.d)
        rows = np.concatenate([np.arange(n), np.full(n, n)])
        cols = np.concatenate([self.nxt, np.arange(n)])
        walk = sparse.csr_matrix(
            (np.ones(2 * n, dtype=np.int8), (rows, cols)), shape=(n + 1, n + 1)
        )
        seq, pred = csgraph.depth_first_order(walk, n, directed=True, return_predecessors=True)
        seq = seq[1:]
        return seq, np.flatnonzero(pred[seq] == n)


def _outlines(grids: list[_Grid | None], h: float, tol: float) -> np.ndarray:
    """The MultiPolygon of the cells of every grid (metric CRS), simplified by ``tol``."""
    n_polys = len(grids)
    out = np.full(n_polys, shapely.MultiPolygon(), dtype=object)
    steps = _Steps(grids)
    if sum(len(b[0]) for b in steps.blocks) == 0:
        return out
    runs = _Runs(steps)
    seq, first = _split_at_touches(runs, *runs.rings())
    n_rings = len(first)
    ring_of = np.repeat(np.arange(n_rings), np.diff(np.r_[first, len(seq)]))
    cx, cy = runs.x[seq], runs.y[seq]
    # orientation from the exact integer corners: the area is on the left (shells turn left)
    nxt = np.r_[np.arange(1, len(seq)), 0]
    nxt[np.r_[first[1:], len(seq)] - 1] = first
    ox, oy = int(cx.min()), int(cy.min())
    cross = (cx - ox) * (cy[nxt] - oy) - (cx[nxt] - ox) * (cy - oy)
    shell = np.add.reduceat(cross, first) > 0
    ring_poly = runs.poly[seq[first]]
    run_ring = np.empty(len(seq), dtype=np.int64)
    run_ring[seq] = ring_of
    owner = _owners(runs, run_ring, shell)
    xy = np.column_stack([cx * h, cy * h])
    ring_first = np.r_[first, len(seq)]

    def traced(which: np.ndarray) -> np.ndarray:
        """The rings ``which`` as traced (every corner of the cells' outline)."""
        rings = np.empty(len(which), dtype=object)
        if len(which):
            count = ring_first[which + 1] - ring_first[which]
            pos = np.repeat(ring_first[which] - np.cumsum(count) + count, count)
            pos += np.arange(len(pos))
            rings[:] = shapely.linearrings(xy[pos], indices=np.repeat(np.arange(len(which)), count))
        return rings

    if tol == 0:
        _assemble(out, traced(np.arange(n_rings)), shell, owner, ring_poly)
        return out
    # a ring keeps its corners where it touches another ring (or itself, split): it is
    # simplified piece by piece between them
    fixed = runs.touch[seq].copy()
    fixed[first] = True
    simple = _simplify_pieces(xy, ring_of, fixed, first, tol)
    ring = ~shapely.is_missing(simple)
    # a hole that collapsed lies within tol of its first corner: every point of it is within
    # tol of the outline, so filling it keeps the guarantee (a shell is wider than 2 * tol)
    keep = ring | shell
    lost = np.flatnonzero(~ring & shell)
    simple[lost] = traced(lost)
    ok = ring.copy()
    ok[ring] = shapely.is_simple(simple[ring])
    # a ring that Douglas-Peucker crossed over itself: simplified keeping it a ring
    redo = np.flatnonzero(~ok & keep)
    if len(redo):
        simple[redo] = shapely.simplify(traced(redo), tol, preserve_topology=True)
    _assemble(out, simple, shell, owner, ring_poly, only=np.flatnonzero(keep))
    bad = np.flatnonzero(~shapely.is_valid(out))
    if len(bad):
        # rings simplified one by one crossed each other: simplify these polygons as wholes
        logger.debug("isochrone polygons %s re-simplified as wholes", bad.tolist())
        whole = np.full(n_polys, shapely.MultiPolygon(), dtype=object)
        mine = np.flatnonzero(np.isin(ring_poly, bad) & keep)
        rings = np.empty(n_rings, dtype=object)
        rings[mine] = traced(mine)
        _assemble(whole, rings, shell, owner, ring_poly, only=mine)
        out[bad] = shapely.simplify(whole[bad], tol, preserve_topology=True)
    return out


def _split_at_touches(
    runs: _Runs, seq: np.ndarray, first: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rings that pass a corner twice (two cells of the area meeting there only), split there
    into two rings that touch at that corner, as valid polygons have them: the runs in the new
    ring order and where each ring starts."""
    at = np.flatnonzero(runs.touch[seq])
    r = seq[at]
    key = (runs.poly[r] * runs.ny + (runs.y[r] - runs.y0)) * runs.nx + (runs.x[r] - runs.x0)
    o = np.argsort(key, kind="stable")
    key, at = key[o], at[o]
    pair = np.flatnonzero(key[1:] == key[:-1])  # the two passes of each touching corner
    ring_of = np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(seq)]))
    pa, pb = at[pair], at[pair + 1]
    same = ring_of[pa] == ring_of[pb]
    if not same.any():
        return seq, first
    # a pass between the two passes of a corner is a ring of its own (the passes of the
    # corners of a ring do not interleave: the outline is flat); the innermost wins
    lo, hi = np.minimum(pa, pb)[same], np.maximum(pa, pb)[same]
    label = np.full(len(seq), -1, dtype=np.int64)
    for k in np.argsort(lo - hi, kind="stable").tolist():  # the longest first
        label[lo[k] : hi[k]] = k
    key = ring_of * (len(lo) + 1) + label + 1
    order = np.argsort(key, kind="stable")
    key = key[order]
    return seq[order], np.flatnonzero(np.r_[True, key[1:] != key[:-1]])


def _simplify_pieces(
    xy: np.ndarray, ring_of: np.ndarray, fixed: np.ndarray, first: np.ndarray, tol: float
) -> np.ndarray:
    """Douglas-Peucker on every ring's pieces between its fixed corners (each ring starts at
    one); None where a ring collapses to fewer than three corners."""
    starts = np.flatnonzero(fixed)
    piece = np.cumsum(fixed) - 1
    n_pieces = len(starts)
    piece_ring = ring_of[starts]
    # each piece runs on to the first corner of the next piece of its ring
    last_of_ring = np.r_[piece_ring[1:] != piece_ring[:-1], True]
    end = np.where(last_of_ring, first[piece_ring], np.r_[starts[1:], 0])
    # piece k: its corners, then that first corner of the next piece
    line_xy = np.empty((len(xy) + n_pieces, 2))
    line_of = np.empty(len(xy) + n_pieces, dtype=np.int64)
    at = np.arange(len(xy)) + piece
    line_xy[at], line_of[at] = xy, piece
    at = np.r_[starts[1:], len(xy)] + np.arange(n_pieces)
    line_xy[at], line_of[at] = xy[end], np.arange(n_pieces)
    lines = shapely.linestrings(line_xy, indices=line_of)
    coords, which = shapely.get_coordinates(
        shapely.simplify(lines, tol, preserve_topology=False), return_index=True
    )
    keep = np.r_[which[1:] == which[:-1], False]  # not a piece's last point: the next's first
    coords, ring = coords[keep], piece_ring[which[keep]]
    count = np.bincount(ring, minlength=len(first))
    out = np.full(len(first), None, dtype=object)
    ok = count >= 3
    m = ok[ring]
    out[ok] = shapely.linearrings(coords[m], indices=np.cumsum(ok)[ring[m]] - 1)
    return out


def _owners(runs: _Runs, run_ring: np.ndarray, shell: np.ndarray) -> np.ndarray:
    """The shell of each ring (a shell's own number).

    Up from a hole's highest step, the first outline crossed in the same cell column bounds
    the same piece of area as the hole: its outer ring, or another hole of it, higher up.
    """
    owner = np.arange(len(shell))
    if shell.all():
        return owner
    ring = run_ring[runs.hz_run]
    p, col, y = runs.hz_poly, runs.hz_col, runs.hz_y
    c0, y0 = int(col.min()), int(y.min())
    nc, nh = int(col.max()) - c0 + 1, int(y.max()) - y0 + 1
    key = (p * nc + (col - c0)) * nh + (y - y0)
    order = np.argsort(key, kind="stable")
    key = key[order]
    # each hole's highest +x run (the leftmost of the highest): its first step's column
    top = np.flatnonzero((runs.d == 0) & ~shell[run_ring])
    o = np.lexsort((runs.x[top], -runs.y[top], run_ring[top]))
    top = top[o]
    top = top[np.r_[True, run_ring[top][1:] != run_ring[top][:-1]]]
    probe = (runs.poly[top] * nc + (runs.x[top] - c0)) * nh + (runs.y[top] - y0)
    pos = np.searchsorted(key, probe, side="right")
    # a hole is enclosed: an outline of its polygon crosses its column higher up
    if (pos >= len(key)).any() or (key[np.minimum(pos, len(key) - 1)] // nh != probe // nh).any():
        msg = "isochrone hole without an outline above it (internal error)"
        raise RuntimeError(msg)
    owner[run_ring[top]] = ring[order[pos]]
    while True:  # holes point up to holes of the same area, and on to its shell
        nxt = owner[owner]
        if np.array_equal(nxt, owner):
            return owner
        owner = nxt


def _assemble(
    out: np.ndarray,
    rings: np.ndarray,
    shell: np.ndarray,
    owner: np.ndarray,
    ring_poly: np.ndarray,
    *,
    only: np.ndarray | None = None,
) -> None:
    """Fill ``out[p]`` with the MultiPolygon of the rings of polygon ``p`` (of the rings
    ``only``, if given): each shell with its holes."""
    idx = np.arange(len(rings)) if only is None else only
    if len(idx) == 0:
        return
    o = np.lexsort((~shell[idx], owner[idx], ring_poly[idx]))
    idx = idx[o]
    poly_of = np.cumsum(np.r_[True, owner[idx][1:] != owner[idx][:-1]]) - 1
    polygons = shapely.polygons(rings[idx], indices=poly_of)
    which = ring_poly[idx[shell[idx]]]  # one shell per polygon, in the polygons' order
    present, part_of = np.unique(which, return_inverse=True)
    out[present] = shapely.multipolygons(polygons, indices=part_of)
