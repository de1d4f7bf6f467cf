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

The read step, timed in the same run: the workload written (not timed) as the marketing
system exports it (GB18030 CSV, a title row and an export-date line above the Chinese header
户号/户名/用电地址/联系电话/用电类别/电压等级/经度/纬度/坐标系; phones mostly distinct mobiles,
some landlines, empty and malformed cells; coordinates as text with 高德 as their datum), then

- ``read_customer_file``: :func:`gridgeo.io.read_customer_file` (header found below the
  title rows by the csv module, the body read column-wise by pandas' C parser, every cell
  as text with its file line, ids checked);
- ``normalise_values``: :func:`gridgeo.io.normalise_customer_values` (phones, 用电类别,
  电压等级, 重点关怀, coordinates, datums);
- ``read_geocode``: read + normalise + :func:`gridgeo.geocode.geocode_customers` on what was
  read, the import end to end;
- ``naive_read``: the per-row baseline, a ``csv.reader`` loop that normalises each row's
  cells one by one (NFKC, :func:`gridgeo.io.normalise_phone`, the category and voltage
  tables, ``float``); it runs on the first ``NAIVE_READ_ROWS`` rows and is extrapolated;
- ``pandas_read_csv``: for scale, the floor of any reader, ``pandas.read_csv`` (C parser)
  of the body alone with every cell as text and nothing checked.

``read_customer_file``, ``normalise_values``, ``naive_read`` and ``pandas_read_csv`` run
alternately ``--repeat`` times (default 3) and the best of each is kept (the machine may be
shared); ``read_geocode`` adds one geocoding run to the best read and values.

Accuracy of both on the labelled set of :func:`gridgeo._sample_addresses.make_labelled_addresses`
(3,000 rows, seed ``ACCURACY_SEED``) is reported beside the times. Results go to stdout and to
``benchmarks/results/bench_geocode.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from gridgeo._sample_addresses import make_addresses, make_labelled_addresses
from gridgeo.crs import wgs84_to_gcj02
from gridgeo.geocode import Gazetteer, geocode_addresses, geocode_customers
from gridgeo.io import (
    CATEGORY_CODES,
    normalise_customer_values,
    normalise_phone,
    read_customer_file,
)
from gridgeo.sample import MARKETING_COLUMNS, load_sample

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SAMPLE = REPO / "sample_data" / "nanfeng"
GAZETTEER_CSV = SAMPLE / "source" / "nanfeng_gazetteer_towns_villages.csv"
RESULTS = HERE / "results" / "bench_geocode.json"
SEED = 20240611
ACCURACY_SEED = 7
NAIVE_ROWS = 10_000
NAIVE_READ_ROWS = 100_000
EXPORT_NAME = "customers_marketing_export.csv"  # written in a temporary folder, then removed
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


def write_export(work: pd.DataFrame, path: Path, rng: np.random.Generator) -> None:
    """The workload as the marketing system exports it (GB18030 CSV under two title lines)."""
    n = len(work)
    kind = rng.choice(["mobile", "landline", "empty", "bad"], size=n, p=[0.9, 0.05, 0.03, 0.02])
    mobile = (13_000_000_000 + rng.integers(0, 6_999_999_999, size=n)).astype(str)
    landline = np.char.add("0794-3", rng.integers(100_000, 999_999, size=n).astype(str))
    phone = np.where(kind == "mobile", mobile, np.where(kind == "landline", landline, ""))
    phone = np.where(kind == "bad", np.char.add("139", rng.integers(0, 9999, n).astype(str)), phone)
    has = work["gps_lon"].notna().to_numpy()
    table = pd.DataFrame(
        {
            "户号": (3_610_230_000_000 + work["customer_id"].to_numpy()).astype(str),
            "户名": rng.choice(["包生文", "揭伟伟", "胡强伟", "聂梅芳"], size=n),
            "用电地址": work["address"].to_numpy(),
            "联系电话": phone,
            "用电类别": rng.choice(
                ["居民生活用电", "一般工商业", "大工业用电", "农业排灌"],
                size=n,
                p=[0.9, 0.06, 0.01, 0.03],
            ),
            "电压等级": rng.choice(
                ["交流220V", "交流380V", "交流10kV"], size=n, p=[0.9, 0.08, 0.02]
            ),
            "经度": np.where(has, work["gps_lon"].map("{:.6f}".format), ""),
            "纬度": np.where(has, work["gps_lat"].map("{:.6f}".format), ""),
            "坐标系": np.where(has, "高德", ""),
        },
        columns=list(MARKETING_COLUMNS),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="gb18030", newline="") as f:
        f.write(
            "南丰县供电公司客户资料" + "," * 8 + "\r\n" + "导出日期：2025-01-01" + "," * 8 + "\r\n"
        )
        table.to_csv(f, index=False, lineterminator="\r\n")


_VOLTS = re.compile(r"(?:交流)?([0-9.]+)(kv|千伏|v|伏)")


def _naive_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _naive_read(path: Path, rows: int) -> int:
    """The per-row baseline: each row's cells normalised one by one in a Python loop."""
    out: list[tuple[Any, ...]] = []
    with path.open(encoding="gb18030", newline="") as f:
        reader = csv.reader(f)
        for _ in range(3):  # title, export date, header
            next(reader)
        for row in reader:
            cid, name, address, phone, category, voltage, lon, lat, datum = (
                unicodedata.normalize("NFKC", cell).strip() for cell in row
            )
            found = _VOLTS.fullmatch(voltage.lower())
            volts = (
                float(found.group(1)) * (1000 if found.group(2) in ("kv", "千伏") else 1)
                if found
                else None
            )
            out.append(
                (
                    cid,
                    name,
                    address,
                    normalise_phone(phone),
                    CATEGORY_CODES.get(re.sub(r"\s+", "", category).lower()),
                    None if volts is None else ("HV" if volts >= 1000 else "LV"),
                    _naive_float(lon),
                    _naive_float(lat),
                    {"高德": "gcj02", "": ""}.get(datum),
                )
            )
            if len(out) == rows:
                break
    return len(out)


def _pandas_read(path: Path) -> int:
    """The floor of any reader: pandas' C parser on the body, every cell as text, no checks."""
    body = pd.read_csv(
        path,
        encoding="gb18030",
        header=None,
        skiprows=3,  # title, export date, header
        dtype=object,
        keep_default_na=False,
        na_filter=False,
    )
    return len(body)


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
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each read-step timing (best is kept)"
    )
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

    with tempfile.TemporaryDirectory() as folder:
        export_csv = Path(folder) / EXPORT_NAME
        write_export(work, export_csv, np.random.default_rng(SEED + 1))
        naive_read_rows = min(NAIVE_READ_ROWS, args.n)
        runs: dict[str, list[float]] = {"read": [], "values": [], "naive": [], "pandas": []}
        for _ in range(args.repeat):  # alternately, the best of each is kept
            t0 = time.perf_counter()
            table = read_customer_file(export_csv)
            runs["read"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            values, problems = normalise_customer_values(table, path=export_csv)
            runs["values"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            naive_read_rows = _naive_read(export_csv, naive_read_rows)
            runs["naive"].append((time.perf_counter() - t0) * args.n / naive_read_rows)
            t0 = time.perf_counter()
            _pandas_read(export_csv)
            runs["pandas"].append(time.perf_counter() - t0)
        read_s, values_s = min(runs["read"]), min(runs["values"])
        naive_read_s, pandas_read_s = min(runs["naive"]), min(runs["pandas"])
        t0 = time.perf_counter()
        read_cust = geocode_customers(values, gaz)
        read_geo_s = read_s + values_s + time.perf_counter() - t0
    same_read = all(
        bool((read_cust[c].fillna("").to_numpy() == cust[c].fillna("").to_numpy()).all())
        for c in ("reason", "location_source", "town", "village")
    )

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
        "read": {
            "read_customer_file_s": round(read_s, 2),
            "normalise_values_s": round(values_s, 2),
            "read_and_normalise_s": round(read_s + values_s, 2),
            "repeat": args.repeat,
            "runs_s": {k: [round(t, 2) for t in v] for k, v in runs.items()},
            "pandas_read_csv_s": round(pandas_read_s, 2),
            "naive_read_extrapolated_s": round(naive_read_s, 1),
            "naive_read_rows_timed": naive_read_rows,
            "read_speedup_vs_naive": round(naive_read_s / (read_s + values_s), 1),
            "row_problems": len(problems),
            "read_geocode_customers_s": round(read_geo_s, 2),
            "same_result_as_in_memory": same_read,
        },
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
