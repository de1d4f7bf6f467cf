"""Benchmark: tier-3 balancing of gridgeo.grids against PySAL's regionalisation (spopt).

Run ``python benchmarks/bench_grids.py`` (needs ``spopt``, the ``bench`` extra). Two counties:

- ``sample``: the shipped Nanfeng sample (``sample_data/nanfeng``), its 187 villages,
  substations and road graph. Its customers' village comes from ``customers_truth.csv``, the
  generator's own answer, used as the workload until the geocoder lands. Skipped (with a note)
  when the sample has not been generated.
- ``synthetic``: 2,000 villages at seeded random points in the real Nanfeng boundary, 10^5
  customers drawn from a seeded log-normal village size, 20 substations, and a Delaunay road
  graph over villages and substations with seeded road classes (20-80 km/h).

For each county it times :func:`gridgeo.grids.build_service_grids` (the whole build: cells,
network assignment, balancing, assembly, topology check) and the balancing alone. Then, on the
villages of every supply grid, with the same adjacency and the same ``k`` (the build's ``k``
when >= 2; on the sample also k = 3 where the grid has at least 3 villages per region), it
compares the achieved imbalance (max deviation from the mean workload, % of the mean):

- ``gridgeo``: :func:`gridgeo.grids.balance_village_grids`;
- ``skater``: ``spopt.region.Skater(n_clusters=k)`` on the workload attribute;
- ``maxp``: ``spopt.region.MaxPHeuristic`` with the floor ``threshold = total / k`` on the
  workload. It chooses its own number of regions (at most ``k``), so ``gridgeo`` is also run at
  MaxP's number (``gridgeo_at_maxp_k``). MaxP is slow (minutes for 40 villages), so it runs
  only on supply grids of at most ``--maxp-max-villages`` villages (default 60).

Results go to stdout as a table and to ``benchmarks/results/bench_grids.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import Delaunay

from gridgeo import grids as gg
from gridgeo.crs import metric_crs, to_wgs84_geometry

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SAMPLE = REPO / "sample_data" / "nanfeng"
BOUNDARY = SAMPLE / "source" / "nanfeng_boundary_gcj02.geojson"
RESULTS = HERE / "results" / "bench_grids.json"
SEED = 20240601
# customers per grid member; the sample's supply grids are also compared at k = 3
TARGET_WORKLOAD = {"sample": 1500.0, "synthetic": 1500.0}
# spopt's MaxPHeuristic took 130 s on 39 villages here: it runs on the sample's supply grids
# only, not on the synthetic county's (45-450 villages each)
MAXP_MAX_VILLAGES = 60
SPEEDS_KPH = np.array([20.0, 40.0, 60.0, 80.0])
SPEED_P = np.array([0.4, 0.3, 0.2, 0.1])


def _boundary() -> gpd.GeoDataFrame:
    raw = gpd.read_file(BOUNDARY)
    county = to_wgs84_geometry(raw.set_crs(4326, allow_override=True), "gcj02")
    return county.assign(adcode="361023", name="南丰县")[["adcode", "name", "geometry"]]


def synthetic_county(
    n_villages: int = 2000, n_customers: int = 100_000, n_substations: int = 20, seed: int = SEED
) -> dict[str, Any]:
    """Villages, substations, workload and a Delaunay road graph in the Nanfeng boundary."""
    rng = np.random.default_rng(seed)
    county = _boundary()
    crs = metric_crs(county)
    cm = county.to_crs(crs).geometry.union_all()
    minx, miny, maxx, maxy = cm.bounds
    pts: list[Any] = []
    while len(pts) < n_villages + n_substations:
        p = shapely.points(rng.uniform(minx, maxx, 4096), rng.uniform(miny, maxy, 4096))
        pts.extend(p[shapely.contains(cm, p)])
    pts_a = np.array(pts[: n_villages + n_substations], dtype=object)
    size = rng.lognormal(0.0, 0.8, n_villages)
    customers = rng.multinomial(n_customers, size / size.sum())
    villages = gpd.GeoDataFrame(
        {"village_code": [f"V{i:05d}" for i in range(n_villages)]},
        geometry=pts_a[:n_villages],
        crs=crs,
    ).to_crs(4326)
    subs = gpd.GeoDataFrame(
        {
            "substation_id": [f"S{i:02d}" for i in range(n_substations)],
            "name": [f"合成{i:02d}变" for i in range(n_substations)],
            "voltage_kv": 35.0,
        },
        geometry=pts_a[n_villages:],
        crs=crs,
    ).to_crs(4326)
    workload = pd.DataFrame(
        {
            "village_code": villages["village_code"],
            "customers": customers,
            "hv_customers": rng.binomial(customers, 0.01),
            "vulnerable": rng.binomial(customers, 0.03),
        }
    )
    xy = shapely.get_coordinates(pts_a)
    tri = Delaunay(xy)
    pairs = np.sort(tri.simplices[:, [0, 1, 1, 2, 0, 2]].reshape(-1, 2), axis=1)
    pairs = np.unique(pairs, axis=0)
    length = np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T)
    keep = length < 8000.0  # no long hull edges across the county's outside
    pairs, length = pairs[keep], length[keep]
    kph = rng.choice(SPEEDS_KPH, size=len(pairs), p=SPEED_P)
    lonlat = gpd.GeoSeries(pts_a, crs=crs).to_crs(4326).get_coordinates().to_numpy()
    G = nx.MultiDiGraph(crs="EPSG:4326")
    G.add_nodes_from((i, {"x": lonlat[i, 0], "y": lonlat[i, 1]}) for i in range(len(xy)))
    for (u, v), m, s in zip(pairs, length, kph, strict=True):
        t = float(m / (s / 3.6))
        G.add_edge(int(u), int(v), length=float(m), travel_time=t)
        G.add_edge(int(v), int(u), length=float(m), travel_time=t)
    return {
        "county": county,
        "villages": villages,
        "substations": subs,
        "workload": workload,
        "graph": G,
    }


def sample_county() -> dict[str, Any] | None:
    """The shipped sample county, or None when it has not been generated."""
    gpkg = SAMPLE / "nanfeng.gpkg"
    truth = SAMPLE / "customers_truth.csv"
    if not gpkg.exists() or not truth.exists():
        return None
    from gridgeo.network import graph_from_roads

    layers = {
        n: gpd.read_file(gpkg, layer=n) for n in ("county", "villages", "substations", "roads")
    }
    # customers_truth.csv is the generator's truth, a stand-in workload until the geocoder lands
    counts = pd.read_csv(truth, dtype=str).groupby("village_code").size()
    workload = counts.rename("customers").reset_index()
    G = graph_from_roads(layers["roads"], mode="drive")
    return {
        "county": layers["county"],
        "villages": layers["villages"],
        "substations": layers["substations"],
        "workload": workload,
        "graph": G,
    }


def _w_from(adj: Any) -> Any:
    from libpysal.weights import W

    adj = adj.tocsr()
    neighbors = {
        i: adj.indices[adj.indptr[i] : adj.indptr[i + 1]].tolist() for i in range(adj.shape[0])
    }
    return W(neighbors, silence_warnings=True)


def _spopt_labels(kind: str, adj: Any, w: np.ndarray, k: int, seed: int) -> np.ndarray:
    import spopt.region as region

    frame = gpd.GeoDataFrame({"workload": w}, geometry=[shapely.Point(i, 0) for i in range(len(w))])
    weights = _w_from(adj)
    np.random.seed(seed)  # noqa: NPY002 - spopt draws from numpy's global generator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "skater":
            model = region.Skater(frame, weights, ["workload"], n_clusters=k)
        else:
            model = region.MaxPHeuristic(
                frame, weights, ["workload"], "workload", float(w.sum() / k), top_n=2
            )
        model.solve()
    return np.asarray(model.labels_)


def _row(
    gid: str, adj: Any, w: np.ndarray, k: int, *, seed: int, spopt: bool, maxp: bool
) -> dict[str, Any]:
    row: dict[str, Any] = {"grid_id": gid, "villages": len(w), "k": k}
    t = time.perf_counter()
    ours = gg.balance_village_grids(adj, w, k, seed=seed)
    row["gridgeo_s"] = time.perf_counter() - t
    row["gridgeo_pct"] = gg.grid_imbalance(np.bincount(ours, weights=w, minlength=k))
    kinds = ("skater", "maxp") if maxp else ("skater",)
    for kind in kinds if spopt else ():
        t = time.perf_counter()
        try:
            labels = _spopt_labels(kind, adj, w, k, seed)
        except Exception as exc:  # report, keep going
            row[f"{kind}_error"] = f"{type(exc).__name__}: {exc}"[:200]
            continue
        row[f"{kind}_s"] = time.perf_counter() - t
        _, lab = np.unique(labels, return_inverse=True)
        row[f"{kind}_k"] = int(lab.max() + 1)
        row[f"{kind}_pct"] = gg.grid_imbalance(np.bincount(lab, weights=w))
    if "maxp_k" in row and row["maxp_k"] >= 2:
        # MaxP picks its own number of regions (at most k): ours at that k, like for like
        at = gg.balance_village_grids(adj, w, row["maxp_k"], seed=seed)
        row["gridgeo_at_maxp_k_pct"] = gg.grid_imbalance(np.bincount(at, weights=w))
    print(
        f"  {gid}: {len(w)} villages, k={k}: "
        + ", ".join(
            f"{m} {row[m + '_pct']:.2f} %"
            for m in ("gridgeo", "skater", "maxp", "gridgeo_at_maxp_k")
            if m + "_pct" in row
        )
        + (f" (maxp k={row['maxp_k']})" if "maxp_k" in row else ""),
        flush=True,
    )
    return row


def compare(
    data: dict[str, Any],
    *,
    target: float,
    extra_ks: tuple[int, ...] = (),
    maxp_max_villages: int = 0,
    seed: int = 0,
    spopt: bool = True,
) -> dict[str, Any]:
    t = time.perf_counter()
    sg = gg.build_service_grids(
        data["county"],
        data["villages"],
        data["substations"],
        data["workload"],
        graph=data["graph"],
        target_workload=target,
        seed=seed,
    )
    build_s = time.perf_counter() - t
    problems = gg.validate_grids(sg.grids, county=data["county"])
    t2 = sg.grids[sg.grids["tier"] == gg.TIER_SUPPLY]
    parent = dict(zip(sg.grids["grid_id"], sg.grids["parent_id"], strict=True))
    of_t2 = sg.village_grid.map(parent).to_numpy()
    rows = []
    balance_s = 0.0
    for gid in t2["grid_id"]:
        members = np.flatnonzero(of_t2 == gid)
        k_build = int((sg.grids["parent_id"] == gid).sum())
        cells = sg.cells.iloc[members]
        adj = gg.village_adjacency(cells)
        w = cells["workload"].to_numpy(dtype=float)
        ks = sorted(
            {k for k in (k_build, *extra_ks) if 2 <= k <= len(members) // 3 or k == k_build}
        )
        for k in ks:
            if k < 2:
                continue
            row = _row(
                gid, adj, w, k, seed=seed, spopt=spopt, maxp=len(members) <= maxp_max_villages
            )
            row["k_of_build"] = k == k_build
            if row["k_of_build"]:
                balance_s += row["gridgeo_s"]
            rows.append(row)
    return {
        "villages": len(data["villages"]),
        "customers": int(data["workload"]["customers"].sum()),
        "substations": len(data["substations"]),
        "road_nodes": data["graph"].number_of_nodes(),
        "supply_grids": len(t2),
        "village_grids": int((sg.grids["tier"] == gg.TIER_VILLAGE).sum()),
        "target_workload": target,
        "build_s": build_s,
        "balance_s": balance_s,
        "topology_problems": len(problems),
        "county_imbalance_pct": float(sg.grids.loc[sg.grids["tier"] == 1, "imbalance_pct"].iloc[0]),
        "grids": rows,
    }


def _summary(rows: list[dict[str, Any]], key: str) -> str:
    vals = [r[key] for r in rows if key in r]
    if not vals:
        return "-"
    return f"{np.mean(vals):6.1f} / {np.max(vals):6.1f}"


def _print(name: str, res: dict[str, Any]) -> None:
    print(
        f"\n== {name}: {res['villages']} villages, {res['customers']:,} customers, "
        f"{res['supply_grids']} supply grids -> {res['village_grids']} village grids"
    )
    print(
        f"target workload {res['target_workload']:.0f}; build_service_grids "
        f"{res['build_s']:.2f} s (balancing {res['balance_s']:.2f} s), "
        f"topology problems {res['topology_problems']}"
    )
    head = f"{'grid':<12}{'vil':>5}{'k':>4} {'gridgeo %':>10}{'skater %':>10}{'maxp % (k)':>14}"
    print(head + f"{'ours@k %':>9}{'ours s':>8}{'skater s':>9}{'maxp s':>8}")
    for r in res["grids"]:
        maxp = f"{r['maxp_pct']:.1f} ({r['maxp_k']})" if "maxp_pct" in r else "-"
        at = f"{r['gridgeo_at_maxp_k_pct']:.2f}" if "gridgeo_at_maxp_k_pct" in r else "-"
        print(
            f"{r['grid_id']:<12}{r['villages']:>5}{r['k']:>4} {r['gridgeo_pct']:>10.2f}"
            f"{r.get('skater_pct', float('nan')):>10.1f}{maxp:>14}{at:>9}"
            f"{r['gridgeo_s']:>8.2f}{r.get('skater_s', float('nan')):>9.2f}"
            f"{r.get('maxp_s', float('nan')):>8.2f}"
        )
    rows = res["grids"]
    print(
        f"mean / max imbalance %: gridgeo {_summary(rows, 'gridgeo_pct')}, "
        f"skater {_summary(rows, 'skater_pct')}, maxp {_summary(rows, 'maxp_pct')}, "
        f"gridgeo at maxp's k {_summary(rows, 'gridgeo_at_maxp_k_pct')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-spopt", action="store_true", help="time gridgeo only")
    parser.add_argument("--villages", type=int, default=2000)
    parser.add_argument(
        "--maxp-max-villages",
        type=int,
        default=MAXP_MAX_VILLAGES,
        help="run MaxP only on supply grids with at most this many villages (it is slow)",
    )
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "target_workload": TARGET_WORKLOAD,
    }
    sample = sample_county()
    if sample is None:
        print("sample county not generated yet (sample_data/nanfeng/nanfeng.gpkg): skipped")
        out["sample"] = None
    else:
        out["sample"] = compare(
            sample,
            target=TARGET_WORKLOAD["sample"],
            extra_ks=(3,),
            maxp_max_villages=args.maxp_max_villages,
            spopt=not args.no_spopt,
        )
        _print("sample county", out["sample"])
    t = time.perf_counter()
    synth = synthetic_county(args.villages, args.customers)
    gen_s = time.perf_counter() - t
    out["synthetic"] = compare(synth, target=TARGET_WORKLOAD["synthetic"], spopt=not args.no_spopt)
    out["synthetic"]["generate_s"] = gen_s
    _print("synthetic county", out["synthetic"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
