"""Benchmark: offline geocoding of 10^6 customer addresses, against a naive per-row loop.

Run ``python benchmarks/bench_geocode.py`` (``--n`` to change the size). The county is the
shipped Nanfeng sample (``sample_data/nanfeng``): its gazetteer (14 township-level units, 187
villages with points) and county polygon.

Workload: ``--n`` customers (default 10^6) drawn uniformly over the 187 villages, groups 1-15
and house numbers 1-150, their archive addresses written by the project's generator
(:func:`gridgeo._sample_addresses.make_addresses`, default variant weights: every messy form);
30 % carry phone/Amap coordinates in GCJ-02 near their village (1 % of them swapped lon/lat,
1 % 5-15 km off). Generating the workload is not timed.

Timed:

- ``geocode_addresses``: :func:`gridgeo.geocode.geocode_addresses` on all addresses;
- ``geocode_customers``: :func:`gridgeo.geocode.geocode_customers`, the whole step (addresses,
  datum conversion, coordinate checks, conflict distances, GeoDataFrame);
- ``gazetteer_build``: building the :class:`gridgeo.geocode.Gazetteer` (once per county);
- ``naive``: the plain baseline, a Python loop that per row picks the best of all 187
  ``township+village`` names with ``rapidfuzz.process.extractOne`` (``fuzz.partial_ratio``)
  on the raw address; it runs on a 10^4 subsample and is extrapolated linearly.

Accuracy of both on the labelled set of :func:`gridgeo._sample_addresses.make_labelled_addresses`
(3,000 rows, seed ``ACCURACY_SEED``) is reported beside the times. Results go to stdout and to
``benchmarks/results/bench_geocode.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from gridgeo._sample_addresses import make_addresses, make_labelled_addresses
from gridgeo.crs import wgs84_to_gcj02
from gridgeo.geocode import Gazetteer, geocode_addresses, geocode_customers
from gridgeo.sample import load_sample

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SAMPLE = REPO / "sample_data" / "nanfeng"
GAZETTEER_CSV = SAMPLE / "source" / "nanfeng_gazetteer_towns_villages.csv"
RESULTS = HERE / "results" / "bench_geocode.json"
SEED = 20240611
ACCURACY_SEED = 7
NAIVE_ROWS = 10_000
GPS_SHARE = 0.3
M_PER_DEG = 111_320.0


def customer_workload(sample: Any, n: int, rng: np.random.Generator) -> pd.DataFrame:
    villages = sample.villages.reset_index(drop=True)
    pick = rng.integers(0, len(villages), size=n)
    rows = pd.DataFrame(
        {
            "town": villages["town"].to_numpy()[pick],
            "village": villages["village"].to_numpy()[pick],
            "group_no": rng.integers(1, 16, size=n),
            "house_no": rng.integers(1, 151, size=n),
        }
    )
    written = make_addresses(rows, rng)
    vx = villages.geometry.x.to_numpy()[pick]
    vy = villages.geometry.y.to_numpy()[pick]
    # within ~1 km of the village point
    x = vx + rng.normal(0, 400, n) / (M_PER_DEG * np.cos(np.radians(vy)))
    y = vy + rng.normal(0, 400, n) / M_PER_DEG
    off = rng.random(n) < 0.01
    dist = rng.uniform(5_000, 15_000, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.where(off, x + dist * np.cos(angle) / (M_PER_DEG * np.cos(np.radians(y))), x)
    y = np.where(off, y + dist * np.sin(angle) / M_PER_DEG, y)
    gx, gy = wgs84_to_gcj02(x, y)
    swap = rng.random(n) < 0.01
    gx, gy = np.where(swap, gy, gx), np.where(swap, gx, gy)
    has = rng.random(n) < GPS_SHARE
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "address": written["address"].to_numpy(),
            "gps_lon": np.where(has, gx, np.nan),
            "gps_lat": np.where(has, gy, np.nan),
            "gps_datum": np.where(has, "gcj02", ""),
            "true_village": rows["village"].to_numpy(),
            "true_town": rows["town"].to_numpy(),
        }
    )


def _naive(addresses: list[str], choices: list[str], pairs: list[tuple[str, str]]) -> list[Any]:
    """Per row: the best of all township+village names, no parsing."""
    out: list[Any] = []
    for a in addresses:
        best = process.extractOne(a, choices, scorer=fuzz.partial_ratio)
        out.append(pairs[best[2]] if best is not None and best[1] >= 60 else (None, None))
    return out


def _accuracy(labelled: pd.DataFrame, town: pd.Series, village: pd.Series) -> float:
    v = (labelled["expected_status"] == "village").to_numpy()
    good = (town.to_numpy() == labelled["expected_town"].to_numpy()) & (
        village.to_numpy() == labelled["expected_village"].to_numpy()
    )
    return float(good[v].mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**6, help="customers (default 10^6)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(SEED)
    sample = load_sample(SAMPLE)

    t0 = time.perf_counter()
    gaz = Gazetteer.from_sample(sample)
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    work = customer_workload(sample, args.n, rng)
    gen_s = time.perf_counter() - t0
    print(f"workload: {args.n:,} rows in {gen_s:.1f} s (not timed)", flush=True)
    n_distinct = int(work["address"].nunique())

    t0 = time.perf_counter()
    geo = geocode_addresses(work["address"], gaz)
    addr_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cust = geocode_customers(work, gaz)
    cust_s = time.perf_counter() - t0

    right = (geo["village"].to_numpy() == work["true_village"].to_numpy()) & (
        geo["town"].to_numpy() == work["true_town"].to_numpy()
    )
    wrong = (geo["match_level"] == "village").to_numpy() & ~right
    has_gps = work["gps_lon"].notna().to_numpy()

    villages = sample.villages
    pairs = list(zip(villages["town"], villages["village"], strict=True))
    choices = [t + v for t, v in pairs]
    sub = work["address"].iloc[:NAIVE_ROWS].fillna("").tolist()
    t0 = time.perf_counter()
    _naive(sub, choices, pairs)
    naive_s = (time.perf_counter() - t0) * args.n / len(sub)

    gazetteer = pd.read_csv(GAZETTEER_CSV, dtype=str)
    labelled = make_labelled_addresses(gazetteer, np.random.default_rng(ACCURACY_SEED), n=3000)
    lab = geocode_addresses(labelled["address"], gaz)
    lab_acc = _accuracy(
        labelled, lab["town"], lab["village"].where(lab["match_level"] == "village")
    )
    naive_lab = _naive(labelled["address"].fillna("").tolist(), choices, pairs)
    naive_acc = _accuracy(
        labelled,
        pd.Series([p[0] for p in naive_lab]),
        pd.Series([p[1] for p in naive_lab]),
    )

    result = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "seed": SEED,
        "n_customers": args.n,
        "distinct_addresses": n_distinct,
        "gps_share": GPS_SHARE,
        "gazetteer_build_s": round(build_s, 3),
        "geocode_addresses_s": round(addr_s, 2),
        "geocode_customers_s": round(cust_s, 2),
        "naive_extrapolated_s": round(naive_s, 1),
        "naive_rows_timed": len(sub),
        "speedup_vs_naive": round(naive_s / cust_s, 1),
        "workload": {
            "right_village_share": round(float(right.mean()), 4),
            "wrong_village_share": round(float(wrong.mean()), 5),
            "wrong_village_conf_ge_0_9": int((wrong & (geo["confidence"] >= 0.9).to_numpy()).sum()),
            "located_share": round(float((cust["reason"] == "ok").mean()), 4),
            "by_gps_share": round(float((cust["location_source"] == "gps").mean()), 4),
            "gps_rows": int(has_gps.sum()),
            "coords_conflict_address": int(cust["coords_conflict_address"].sum()),
            "swapped_lonlat": int(cust["swapped_lonlat"].sum()),
            "coords_outside_county": int(cust["coords_outside_county"].sum()),
        },
        "labelled_set": {
            "seed": ACCURACY_SEED,
            "rows": len(labelled),
            "village_rows": int((labelled["expected_status"] == "village").sum()),
            "gridgeo_village_accuracy": round(lab_acc, 4),
            "naive_village_accuracy": round(naive_acc, 4),
        },
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
