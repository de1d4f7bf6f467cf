"""Benchmark: the sample county's isochrones, today's union of buffers against gridgeo's cells.

Run ``python benchmarks/bench_isochrones.py`` (``--repeats N``, default 5). The bundled sample
county (``gridgeo.load_sample()``) is read once and its drive engine built with
``ReachEngine.from_roads(county.roads, mode="drive")``, as the CLI does; then, in the same
process, the isochrones of its 7 repair stations (each alone and all together, bands of 10,
20 and 30 minutes: 24 polygons, 150 m buffer) are made by

1. **union of buffers** (the implementation before issue #9, ``isochrones`` of
   ``gridgeo/reach.py`` at commit ae39fac, copied here on the routing's public names): the
   reached road parts of every band (``reached_lines``), each part simplified by 2 % of the
   buffer, buffered on its own (4 segments a quarter circle), and the parts of a band merged
   by ``shapely.union_all``;
2. **gridgeo** ``isochrones(engine, stations)``: the reached road parts sampled with their
   times, a grid of 25 m cells (a disk of cells around every sample), the cells' outline
   traced and simplified (tolerance 40.5 m; see :mod:`gridgeo.isochrones`).

Each runs ``--repeats`` times and its fastest run is kept (wall time by
``time.perf_counter``; the process's CPU time by ``time.process_time``, the fastest too: on a
shared machine the wall time of a run also counts the time other processes hold the cores).
For each: the number of polygons, their vertices (total and the largest polygon's), the size
of the GeoJSON of the result (``GeoDataFrame.to_json()``, UTF-8 bytes) and the total area;
and the new polygons' areas against the old ones' (smallest and largest ratio). Results go to
stdout and to ``benchmarks/results/bench_isochrones.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

import gridgeo
from gridgeo.isochrones import isochrones
from gridgeo.reach import ALL_STATIONS, DEFAULT_BANDS_S, DEFAULT_ISOCHRONE_BUFFER_M
from gridgeo.routing import ReachEngine, node_times, reached_lines

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "bench_isochrones.json"
REPEATS = 5
GOAL_S = 0.5
GOAL_VERTICES = 5_000


def union_of_buffers(
    engine: ReachEngine,
    stations: gpd.GeoDataFrame,
    *,
    bands_s: Sequence[float] = DEFAULT_BANDS_S,
    buffer_m: float = DEFAULT_ISOCHRONE_BUFFER_M,
    id_column: str = "station_id",
    reverse: bool = False,
) -> gpd.GeoDataFrame:
    """The isochrones as they were made before issue #9 (per station and all together)."""
    bands = np.unique(np.asarray(list(bands_s), dtype=float))
    ids = stations[id_column].to_numpy()
    src = engine.snap_points(stations, "stations")
    limit = float(bands.max())
    runs: list[tuple[Any, np.ndarray, np.ndarray]] = []
    dist, j = node_times(engine, src, reverse=reverse, limit_s=limit)
    runs.append((ALL_STATIONS, dist, j))
    each, _ = node_times(engine, src, reverse=reverse, limit_s=limit, each=True)
    for pos, jj in enumerate(j):
        runs.append((ids[jj], each[pos], np.array([jj])))
    rows = []
    for sid, dist, cols in runs:
        for band in bands:
            lines = reached_lines(engine, dist, src, cols, float(band), reverse=reverse)
            parts = shapely.buffer(shapely.simplify(lines, 0.02 * buffer_m), buffer_m, quad_segs=4)
            area = shapely.union_all(parts)
            rows.append((sid, float(band), float(shapely.area(area)) / 1e6, area))
    geoms = engine.to_lonlat(np.array([r[3] for r in rows], dtype=object))
    return gpd.GeoDataFrame(
        {
            "station_id": [r[0] for r in rows],
            "band_s": [r[1] for r in rows],
            "area_km2": [r[2] for r in rows],
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def _best(fn: Callable[[], gpd.GeoDataFrame], repeats: int) -> tuple[gpd.GeoDataFrame, dict]:
    walls, cpus = [], []
    result = None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    assert result is not None
    return result, {
        "best_s": min(walls),
        "best_cpu_s": min(cpus),
        "runs_s": [round(w, 4) for w in walls],
    }


def _figures(iso: gpd.GeoDataFrame) -> dict:
    n = shapely.get_num_coordinates(iso.geometry.to_numpy())
    return {
        "polygons": len(iso),
        "vertices_total": int(n.sum()),
        "vertices_max": int(n.max()),
        "geojson_bytes": len(iso.to_json().encode("utf-8")),
        "area_km2_total": round(float(iso["area_km2"].sum()), 3),
        "valid": bool(shapely.is_valid(iso.geometry.to_numpy()).all()),
    }


def main(repeats: int) -> None:
    county = gridgeo.load_sample()
    engine = ReachEngine.from_roads(county.roads, mode="drive")
    stations = county.repair_stations
    isochrones(engine, stations)  # warm up: transformers, the engine's cached geometries
    rows = {}
    old, rows["union of buffers"] = _best(lambda: union_of_buffers(engine, stations), repeats)
    new, rows["gridgeo"] = _best(lambda: isochrones(engine, stations), repeats)
    rows["union of buffers"].update(_figures(old))
    rows["gridgeo"].update(_figures(new))
    # the same rows in the same order; the new polygons' areas against the old ones'
    assert old["station_id"].tolist() == new["station_id"].tolist()
    assert old["band_s"].tolist() == new["band_s"].tolist()
    ratio = new["area_km2"].to_numpy() / old["area_km2"].to_numpy()
    speedup = rows["union of buffers"]["best_s"] / rows["gridgeo"]["best_s"]
    header = f"{'':18s} {'best s':>8s} {'cpu s':>8s} {'vertices':>9s} {'max':>7s} {'GeoJSON':>10s}"
    print(header)
    for name, r in rows.items():
        print(
            f"{name:18s} {r['best_s']:8.3f} {r['best_cpu_s']:8.3f} {r['vertices_total']:9,d} "
            f"{r['vertices_max']:7,d} {r['geojson_bytes']:10,d}"
        )
    print(f"speed-up {speedup:.1f}x; area new / old {ratio.min():.3f} to {ratio.max():.3f}")
    g = rows["gridgeo"]
    goal = g["best_s"] <= GOAL_S and g["vertices_max"] <= GOAL_VERTICES
    verdict = "met" if goal else "MISSED"
    print(f"goal (<= {GOAL_S} s, <= {GOAL_VERTICES:,} vertices a polygon): {verdict}")
    env = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "repeats": repeats,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    out = {
        "env": env,
        "rows": rows,
        "speedup": speedup,
        "area_ratio_new_to_old": [float(ratio.min()), float(ratio.max())],
        "goal_met": goal,
    }
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    main(parser.parse_args().repeats)
