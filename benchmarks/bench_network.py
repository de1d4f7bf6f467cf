"""Benchmark: road import with gridgeo.network against OSMnx's ``graph_from_xml``.

Run ``python benchmarks/bench_network.py``. For the Heidelberg extract (PBF) and the North
Bayreuth extract (gzipped XML) it measures, each case in a fresh Python process:

- ``gridgeo drive`` / ``gridgeo walk``: ``graph_from_osm(path, mode=..., simplify=True)`` on the
  original file;
- ``osmnx same file``: ``osmnx.graph_from_xml(xml, simplify=True, retain_all=True)`` on the same
  data as plain XML (OSMnx reads XML only, so the PBF is converted and the .gz decompressed once,
  before timing). OSMnx turns every way of the file into edges (buildings, land use, ...), since
  it has no tag filter for local files;
- ``osmnx highways``: the same on an XML pre-filtered to ``highway`` ways and their nodes (the
  filtering is not timed), the fairest graph-building comparison.

``retain_all=True`` keeps every component, as gridgeo does. Wall time is the call alone (imports
excluded); peak RSS is the child's high-water mark (``VmHWM``, else ``ru_maxrss``; interpreter
and imports included) and ``peak - base`` subtracts the peak reached by the imports. Results go
to stdout as a table and to ``benchmarks/results/bench_network.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROADS = HERE.parent.parent / "shared" / "data" / "roads"
RESULTS = HERE / "results" / "bench_network.json"
FILES = ("heidelberg_ors_test.osm.pbf", "north-bayreuth_graphhopper.osm.gz")


def _rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    # VmHWM belongs to the address space, which exec replaces; ru_maxrss would carry over the
    # peak of the parent that forked this process
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(impl: str, path: str, mode: str) -> None:
    """Run one case and print a JSON line (in a fresh process)."""
    if impl == "gridgeo":
        from gridgeo.network import graph_from_osm

        base = _rss_mib()
        start = time.perf_counter()
        G = graph_from_osm(path, mode=mode, simplify=True)
    else:
        import osmnx

        base = _rss_mib()
        start = time.perf_counter()
        G = osmnx.graph_from_xml(path, simplify=True, retain_all=True)
    wall = time.perf_counter() - start
    peak = _rss_mib()
    print(
        json.dumps(
            {
                "wall_s": wall,
                "peak_rss_mib": peak,
                "base_rss_mib": base,
                "nodes": len(G),
                "edges": G.number_of_edges(),
            }
        )
    )


def _run(impl: str, path: Path, mode: str = "drive") -> dict:
    cmd = [sys.executable, __file__, "--child", impl, str(path), mode]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _prepare(name: str, tmp: Path) -> tuple[Path, Path]:
    """Plain XML of the file and a highway-only XML, for OSMnx."""
    import osmium
    from osmium.filter import KeyFilter

    src = ROADS / name
    xml = tmp / (name.split(".")[0] + ".osm")
    if name.endswith(".gz"):
        with gzip.open(src, "rb") as fin, xml.open("wb") as fout:
            shutil.copyfileobj(fin, fout)
    elif name.endswith(".pbf"):
        with osmium.SimpleWriter(str(xml)) as writer:
            for obj in osmium.FileProcessor(str(src)):
                writer.add(obj)
    else:
        shutil.copy(src, xml)
    highways = tmp / (name.split(".")[0] + "_highways.osm")
    with osmium.BackReferenceWriter(str(highways), ref_src=str(xml), overwrite=True) as writer:
        for obj in osmium.FileProcessor(str(xml), osmium.osm.WAY).with_filter(KeyFilter("highway")):
            writer.add(obj)
    return xml, highways


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for name in FILES:
            xml, highways = _prepare(name, tmp)
            cases = [
                ("gridgeo drive", "gridgeo", ROADS / name, "drive"),
                ("gridgeo walk", "gridgeo", ROADS / name, "walk"),
                ("osmnx same file", "osmnx", xml, "-"),
                ("osmnx highways", "osmnx", highways, "-"),
            ]
            for label, impl, path, mode in cases:
                res = _run(impl, path, mode)
                rows.append({"file": name, "case": label, **res})
                print(f"{name:36s} {label:16s} {res['wall_s']:7.2f} s", file=sys.stderr)
    table = [
        f"{'file':36s} {'case':16s} {'wall s':>8s} {'peak MiB':>9s} {'peak-base':>9s} "
        f"{'nodes':>8s} {'edges':>8s}"
    ]
    for r in rows:
        table.append(
            f"{r['file']:36s} {r['case']:16s} {r['wall_s']:8.2f} {r['peak_rss_mib']:9.0f} "
            f"{r['peak_rss_mib'] - r['base_rss_mib']:9.0f} {r['nodes']:8d} {r['edges']:8d}"
        )
    ratios = {}
    for name in FILES:
        pairs = [
            ("gridgeo drive", "osmnx same file"),
            ("gridgeo drive", "osmnx highways"),
            ("gridgeo walk", "osmnx highways"),  # both keep (nearly) all highway ways
        ]
        for our_case, case in pairs:
            ours = next(r for r in rows if r["file"] == name and r["case"] == our_case)
            other = next(r for r in rows if r["file"] == name and r["case"] == case)
            ratio = {
                "wall": ours["wall_s"] / other["wall_s"],
                "peak_rss": ours["peak_rss_mib"] / other["peak_rss_mib"],
                "peak_minus_base": (ours["peak_rss_mib"] - ours["base_rss_mib"])
                / max(other["peak_rss_mib"] - other["base_rss_mib"], 1e-9),
            }
            ratios[f"{name} {our_case} / {case}"] = ratio
            table.append(
                f"ratio {name} {our_case} / {case}: time {ratio['wall']:.3f}, peak RSS "
                f"{ratio['peak_rss']:.2f}, peak-base {ratio['peak_minus_base']:.2f}"
            )
    print("\n".join(table))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
    }
    RESULTS.write_text(json.dumps({"env": info, "rows": rows, "ratios": ratios}, indent=2) + "\n")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("IMPL", "PATH", "MODE"))
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
    else:
        main()
