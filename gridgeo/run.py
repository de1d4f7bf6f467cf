"""The main job on a workspace: service levels, KPIs, bands, summaries, archive and map.

:func:`run_workspace` is what ``gridgeo run --workspace W --out DIR`` (and ``gridgeo demo``,
after it has made the sample workspace) runs on any workspace that holds a county, its
substations, villages, built grids, imported customers, repair stations, payment points and
roads:

- ``roads``: the road graph of every travel mode, its key figures (into ``summary.json``);
- ``access``: 30-minute repair and 10-minute payment access per customer
  (:func:`gridgeo.workspace.compute_access`, on the stored snaps), stored as the
  ``customer_access`` layer;
- KPIs per tier (:func:`gridgeo.reach.reach_kpis`), printed;
- ``isochrones``: the repair bands (:func:`gridgeo.isochrones.isochrones`), stored as the
  ``repair_isochrones`` layer;
- the Chinese summary (``reach_summary_zh.md``, :func:`gridgeo.reach.summary_zh`) and the key
  figures (``summary.json``);
- ``archive``: the customer archive per grid (``archive/``,
  :func:`gridgeo.archive.export_archive`);
- ``map``: the offline county map (``county_map.html``; its builder is passed in, see below);
- ``records``: when the workspace holds work orders, the service from records
  (:func:`report_records`): last month's evaluation 月度考核 (XLSX per tier and a one-page
  summary), last week's 服务之星 and the watch list 重点巡查, in ``service/``.

Re-running. Each costly step records what it was computed from: the versions (and content
checksums) of the layers it reads, a fingerprint of the roads and the service settings. The
steps whose results live in the workspace (access, isochrones) record it in the workspace's
table :data:`MANIFEST_TABLE`, the others in :data:`MANIFEST_FILE` in the output folder. A step
whose inputs did not change is reused and says so ("复用 / reused: customer access (customers
v3, ... unchanged)"); after a customer import, a grid edit or new stations the steps that read
them are computed again. The KPIs, the summary text and ``summary.json`` are cheap and always
made from the stored access.

Stale outputs. :func:`outputs_status` (``gridgeo status``) compares what each output of a
folder was made from (the same records and fingerprints) with the workspace as it is now:
after a grid save the archive, map, summary and service reports say "已过期 stale (网格 grids
v3 → v5)" until the next run; the grid saves of the CLI and the API say so too.

The map. gridgeo does not draw maps (it never imports folium or the ``maps`` package), so the
map builder is passed in as ``write_map`` (:class:`MapWriter`): ``maps.__main__.build_map``
has that signature, and the ``gridgeo`` command passes it.

Every file is written beside its final name and then moved into place: an interrupted run
leaves the previous outputs whole.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import pandas as pd

from gridgeo import archive as _archive
from gridgeo import evaluation as _evaluation
from gridgeo import io as _io
from gridgeo import network as _network
from gridgeo import orders as _orders
from gridgeo import reach as _reach
from gridgeo import stars as _stars
from gridgeo import watch as _watch
from gridgeo import workspace as _workspace
from gridgeo.cliutil import display_width, pad
from gridgeo.errors import GraphError, InputError, NotFoundError
from gridgeo.fonts import cjk_font_path
from gridgeo.isochrones import isochrones as _isochrones
from gridgeo.settings import DEFAULT_SETTINGS, MODES, ServiceSettings
from gridgeo.store import GeoPackageStore

__all__ = [
    "ISOCHRONES_LAYER",
    "MANIFEST_FILE",
    "MANIFEST_TABLE",
    "OUTPUT_STATES",
    "RECORDS_DIR",
    "MapWriter",
    "OutputStatus",
    "OutputsStatus",
    "PictureWriter",
    "RecordsReport",
    "RunResult",
    "outputs_status",
    "report_records",
    "run_workspace",
]

logger = logging.getLogger(__name__)

ISOCHRONES_LAYER = "repair_isochrones"
MANIFEST_TABLE = "run_manifest"  # in the workspace: the steps whose results are stored there
MANIFEST_FILE = "run_manifest.json"  # in the output folder: the steps that write files there
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "reach_summary_zh.md"
ARCHIVE_DIR = "archive"
MAP_FILE = "county_map.html"
PICTURE_PNG = "county_map.png"  # the map as a picture for phones (WeChat) and A4 paper
PICTURE_PDF = "county_map.pdf"
RECORDS_DIR = "service"  # the service-from-records reports in the output folder
DEFAULT_SUGGEST_STATIONS = 0
DEFAULT_AUTHOR = "gridgeo run"
N_WORST_GRIDS = 5
# the layers a run reads, in the order a county sets them up
_VERSIONED_INPUTS = (
    "county",
    "villages",
    "substations",
    "repair_stations",
    "payment_points",
    "grids",
    "customers",
)
_LABELS = {
    "county": "county",
    "villages": "villages",
    "substations": "substations",
    "repair_stations": "repair stations",
    "payment_points": "payment points",
    "grids": "grids",
    "customers": "customers",
    "roads": "roads",
    "customer_access": "customer access",
    "repair_isochrones": "repair bands",
    "settings": "service settings",
    "suggest_stations": "suggested stations",
    "summary": "key figures",
    "mask_phones": "phones masked",
    "excel_csv": "CSV copies for Excel",
}
_STEP_NAMES = {
    "roads": "道路网 / road graphs",
    "access": "客户可达性 / customer access",
    "isochrones": "抢修到达圈 / repair bands",
    "archive": "客户档案导出 / archive export",
    "map": "县域地图 / county map",
    "picture": "地图图片 / map picture (PNG, PDF)",
    "records": "工单考核 / service from records",
}


class MapWriter(Protocol):
    """Writes the offline county map of a workspace (``maps.__main__.build_map``)."""

    def __call__(
        self,
        workspace: Path,
        out: Path,
        *,
        summary: Mapping[str, Any] | None = ...,
        suggest_stations: int = ...,
    ) -> Path: ...


class PictureWriter(Protocol):
    """Draws the county map of a workspace as a PNG and a PDF (``maps.picture.county_picture``)."""

    def __call__(
        self,
        workspace: Path,
        out_png: Path,
        out_pdf: Path,
        *,
        summary: Mapping[str, Any] | None = ...,
        suggest_stations: int = ...,
    ) -> Any: ...


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_workspace` made.

    Attributes
    ----------
    workspace
        The workspace GeoPackage.
    out_dir
        The output folder.
    summary
        The key figures (as written to ``summary.json``).
    kpis
        :func:`gridgeo.reach.reach_kpis` of the stored access.
    outputs
        Output name (``summary_json``, ``summary_md``, ``archive``, ``map``, ``picture_png``,
        ``picture_pdf``) → path.
    reused, computed
        The steps reused from an earlier run and those computed by this one.
    """

    workspace: Path
    out_dir: Path
    summary: dict[str, Any]
    kpis: dict[str, pd.DataFrame]
    outputs: dict[str, Path]
    reused: tuple[str, ...]
    computed: tuple[str, ...]


# --------------------------------------------------------------------------- what is needed


def _missing_message(store: GeoPackageStore, missing: list[str]) -> str:
    w = str(store.path)
    fixes = {
        "roads": f"先导入道路 / import the roads first: gridgeo roads import FILE --workspace {w}",
        "repair_stations": (
            "先加入抢修站 / add the repair stations: make the workspace with them, "
            f"gridgeo workspace init {w} ... --repair-stations FILE"
        ),
        "payment_points": (
            "先加入缴费点 / add the payment points: make the workspace with them, "
            f"gridgeo workspace init {w} ... --payment-points FILE"
        ),
        "grids": (
            f"先建网格 / build the grids first: gridgeo grids build --workspace {w} "
            "--workload FILE --author NAME --reason TEXT"
        ),
        "customers": (
            f"先导入客户 / import customers first: gridgeo customers import FILE --workspace {w} "
            "--author NAME --reason TEXT"
        ),
    }
    what = ", ".join(_LABELS.get(m, m) for m in missing)
    steps = "; ".join(
        fixes.get(m, f"make the workspace with its {_LABELS.get(m, m)}: gridgeo workspace init")
        for m in missing
    )
    return f"工作区缺少 / workspace {w!r} has no {what}: {steps}"


def _check_workspace(store: GeoPackageStore) -> None:
    layers = set(store.layers())
    missing = [name for name in _VERSIONED_INPUTS if name not in layers]
    if _workspace.ROADS_LAYER not in _io.list_layers(store.path):
        missing.insert(missing.index("grids") if "grids" in missing else len(missing), "roads")
    if missing:
        raise NotFoundError(_missing_message(store, missing))


def _check_suggest_stations(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        msg = (
            f"`--suggest-stations` must be a whole number >= 0 (new repair stations to suggest "
            f"on the map; 0 for none), got {k!r}"
        )
        raise InputError(msg)
    return k


# --------------------------------------------------------------------------- fingerprints


def _layer_state(store: GeoPackageStore, layer: str) -> dict[str, Any]:
    """The current version of a versioned layer and the start of its content checksum (a
    workspace made again from other files starts at version 1 too)."""
    version = store.current_version(layer)
    versions = store.list_versions(layer)
    rows = versions[versions["version"] == version]
    if not len(rows):
        return {"version": int(version), "checksum": "", "rows": None}
    row = rows.iloc[0]
    return {
        "version": int(version),
        "checksum": str(row["checksum"])[:16],
        "rows": int(row["n_rows"]),
    }


def _table_digest(path: Path, table: str) -> str:
    """A short hash of every row of a plain GeoPackage table (the unversioned ``roads``)."""
    h = hashlib.sha256()
    con = sqlite3.connect(path)
    try:
        cursor = con.execute(f'SELECT * FROM "{table}" ORDER BY 1')
        h.update(repr([d[0] for d in cursor.description]).encode())
        for row in cursor:
            h.update(repr(row).encode())
    finally:
        con.close()
    return h.hexdigest()[:16]


def _settings_record(settings: ServiceSettings) -> dict[str, Any]:
    return {
        "repair_limit_s": settings.repair_limit_s,
        "payment_limit_s": settings.payment_limit_s,
        "payment_mode": settings.payment_mode,
        "bands_s": list(settings.bands_s),
    }


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples as lists, numpy scalars as numbers)."""
    return json.loads(json.dumps(value, default=_json_default, sort_keys=True))


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    msg = f"cannot write {type(value).__name__} to JSON"
    raise TypeError(msg)


def _describe(inputs: Mapping[str, Any]) -> str:
    """ "customers v3, roads 3fa2c1d0…" for the reuse line."""
    parts = []
    for name, value in inputs.items():
        label = _LABELS.get(name, name)
        if isinstance(value, Mapping) and "version" in value:
            parts.append(f"{label} v{value['version']}")
        elif name in ("roads", "repair_isochrones"):
            parts.append(f"{label} {str(value)[:8]}")
        elif name == "bands_s":
            parts.append("bands " + "/".join(f"{float(b) / 60:g}" for b in value) + " min")
        elif name in ("settings", "summary"):
            parts.append(label)
        else:
            parts.append(f"{label} {value}")
    return ", ".join(parts)


# --------------------------------------------------------------------------- manifests


def _read_table_manifest(store: GeoPackageStore) -> dict[str, Any]:
    try:
        con = sqlite3.connect(store.path, timeout=store.timeout_s)
        try:
            rows = con.execute(f'SELECT step, record FROM "{MANIFEST_TABLE}"').fetchall()
        finally:
            con.close()
    except sqlite3.Error:  # no table yet: nothing recorded
        return {}
    out = {}
    for step, record in rows:
        try:
            out[step] = json.loads(record)
        except (TypeError, ValueError):
            continue
    return out


def _write_table_manifest(store: GeoPackageStore, step: str, record: Mapping[str, Any]) -> None:
    """Record a step in the workspace (one transaction). A failure is logged: the record is
    what lets a re-run reuse the step, nothing else depends on it."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        con = sqlite3.connect(store.path, timeout=store.timeout_s)
        try:
            with con:
                con.execute(
                    f'CREATE TABLE IF NOT EXISTS "{MANIFEST_TABLE}" ("step" TEXT PRIMARY KEY '
                    'NOT NULL, "record" TEXT NOT NULL, "written_at" TEXT NOT NULL)'
                )
                con.execute(
                    f'INSERT OR REPLACE INTO "{MANIFEST_TABLE}" VALUES (?, ?, ?)',
                    (step, json.dumps(_plain(record), sort_keys=True), now),
                )
        finally:
            con.close()
    except sqlite3.Error as exc:
        logger.warning("could not record step %s in %s: %s", step, store.path, exc)


def _read_file_manifest(out_dir: Path, workspace: Path) -> dict[str, Any]:
    path = out_dir / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("workspace") != str(workspace):
        return {}  # made from another workspace: nothing in it applies
    steps = data.get("steps")
    return steps if isinstance(steps, dict) else {}


def _write_text(path: Path, text: str) -> None:
    """Write beside ``path``, then move into place: never a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _write_file_manifest(out_dir: Path, workspace: Path, steps: Mapping[str, Any]) -> None:
    data = {"workspace": str(workspace), "steps": _plain(dict(steps))}
    _write_text(out_dir / MANIFEST_FILE, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


# --------------------------------------------------------------------------- the run


class _Steps:
    """Progress lines and the reused / computed bookkeeping of one run."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self._emit = progress
        self.reused: list[str] = []
        self.computed: list[str] = []

    def say(self, *lines: str) -> None:
        for line in lines:
            if self._emit is None:
                logger.info("%s", line)
            else:
                self._emit(line)

    def start(self, step: str, detail: str = "") -> float:
        self.say(f"{_STEP_NAMES[step]}: 计算中 / computing{detail} …")
        return time.perf_counter()

    def done(self, step: str, t0: float, detail: str = "") -> None:
        self.computed.append(step)
        self.say(f"{_STEP_NAMES[step]}: 完成 / done in {time.perf_counter() - t0:.1f} s{detail}")

    def ticker(self, step: str, t0: float, every_s: float = 3.0) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callback that says how far a long step is, at most
        once every ``every_s`` seconds."""
        last = [t0]

        def tick(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= every_s and done < total:
                last[0] = now
                self.say(f"  {_STEP_NAMES[step]}: {done}/{total} … {now - t0:.0f} s")

        return tick

    def reuse(self, step: str, inputs: Mapping[str, Any]) -> None:
        self.reused.append(step)
        what = _STEP_NAMES[step].split(" / ", 1)[1]
        self.say(f"复用 / reused: {what} ({_describe(inputs)} unchanged)")


def _same(record: Any, inputs: Mapping[str, Any]) -> bool:
    return isinstance(record, Mapping) and record.get("inputs") == _plain(inputs)


def _road_graphs(store: GeoPackageStore, steps: _Steps) -> dict[str, Any]:
    roads = _workspace.read_roads(store)
    out: dict[str, Any] = {}
    for mode in MODES:
        t0 = time.perf_counter()
        try:
            s = _network.graph_summary(_network.graph_from_roads(roads, mode=mode))
        except GraphError:
            steps.say(f"  road graph {mode:<11s} no {mode} roads")
            out[mode] = None
            continue
        out[mode] = s
        steps.say(
            f"  road graph {mode:<11s} {s['nodes']:,} nodes, {s['edges']:,} edges, "
            f"{s['road_km']:,.1f} km, {s['components']} components "
            f"(largest holds {100 * s['largest_component_share']:.1f}% of nodes), "
            f"built in {time.perf_counter() - t0:.1f} s"
        )
    return out


def _store_access(store: GeoPackageStore, layer: gpd.GeoDataFrame, author: str) -> int:
    reason = "服务可达性计算 / service-level reach"
    if _workspace.ACCESS_LAYER not in store.layers():
        return store.add_layer(
            _workspace.ACCESS_LAYER, layer, key="customer_id", author=author, reason=reason
        )
    return store.save(
        _workspace.ACCESS_LAYER,
        layer,
        expected_version=store.current_version(_workspace.ACCESS_LAYER),
        author=author,
        reason=reason,
    )


def _service_lines(kpis: Mapping[str, pd.DataFrame], access: pd.DataFrame, mode: str) -> list[str]:
    c = kpis["county"].iloc[0]
    lines = [f"service levels (payment by {mode}):"]
    for service, label, width in (
        ("repair", "30-min repair reach", 21),
        ("payment", "10-min payment access", 21),
    ):
        lines.append(
            f"  {label:<{width}s} {100 * c[f'{service}_share_ok']:.1f}% of customers "
            f"(HV {100 * c[f'{service}_share_ok_hv']:.1f}%, vulnerable "
            f"{100 * c[f'{service}_share_ok_vulnerable']:.1f}%), median "
            f"{c[f'{service}_median_eta_s'] / 60:.1f} min, "
            f"p95 {c[f'{service}_p95_eta_s'] / 60:.1f} min"
        )
    reasons = access["reason"].value_counts()
    lines.append("  reasons               " + ", ".join(f"{r} {n:,}" for r, n in reasons.items()))
    return lines


def _worst_lines(kpis: Mapping[str, pd.DataFrame], grids: pd.DataFrame) -> list[str]:
    # the one ranking of the worst grids, shared with the Chinese summary and the report
    worst = _reach.rank_grids(kpis["tier3"])
    names = dict(zip(grids["grid_id"], grids["name"], strict=True))
    lines = [
        f"  服务最差的 {N_WORST_GRIDS} 个村级网格 / {N_WORST_GRIDS} worst village grids "
        "(lowest share within both promises):"
    ]
    head = worst.head(N_WORST_GRIDS)
    # names padded by display width (a Chinese character takes two columns)
    width = max((display_width(names.get(g, "")) for g in head.index), default=0)
    for grid_id, row in head.iterrows():
        lines.append(
            f"    {grid_id!s:<12s} {pad(names.get(grid_id, ''), max(width, 16))} "
            f"{int(row['customers']):>6,d} customers, repair "
            f"{100 * row['repair_share_ok']:5.1f}%, payment {100 * row['payment_share_ok']:5.1f}%"
        )
    return lines


def _swap_dir(tmp: Path, final: Path) -> None:
    """Put the folder ``tmp`` in place of ``final`` (the old one is removed after)."""
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.replace(old)
    tmp.replace(final)
    if old.exists():
        shutil.rmtree(old)


def _write_picture(
    write_picture: PictureWriter,
    ws_path: Path,
    out: Path,
    inputs: Mapping[str, Any],
    files: dict[str, Any],
    steps: _Steps,
    summary: Mapping[str, Any],
    k: int,
) -> dict[str, Path]:
    """The map's picture step of :func:`run_workspace`: reused when its inputs did not change,
    skipped with one line when the machine has no Chinese font."""
    png, pdf = out / PICTURE_PNG, out / PICTURE_PDF
    try:
        cjk_font_path()
    except NotFoundError as exc:
        steps.say(f"{_STEP_NAMES['picture']}: 已跳过 / skipped — {exc}")
        return {}
    if _same(files.get("picture"), inputs) and png.is_file() and pdf.is_file():
        steps.reuse("picture", inputs)
    else:
        t0 = steps.start("picture")
        tmp_png, tmp_pdf = out / f".{PICTURE_PNG}.tmp.png", out / f".{PICTURE_PDF}.tmp.pdf"
        try:
            write_picture(ws_path, tmp_png, tmp_pdf, summary=summary, suggest_stations=k)
            tmp_png.replace(png)
            tmp_pdf.replace(pdf)
        finally:  # a failed drawing leaves the previous pictures, and no half-written file
            tmp_png.unlink(missing_ok=True)
            tmp_pdf.unlink(missing_ok=True)
        sizes = f"{png.stat().st_size / 1e6:.1f} + {pdf.stat().st_size / 1e6:.1f} MB"
        steps.done("picture", t0, f" (PNG + PDF, {sizes})")
        files["picture"] = {"inputs": _plain(inputs)}
        _write_file_manifest(out, ws_path, files)
    return {"picture_png": png, "picture_pdf": pdf}


def run_workspace(
    workspace: str | Path | GeoPackageStore,
    out_dir: str | Path,
    *,
    suggest_stations: int = DEFAULT_SUGGEST_STATIONS,
    write_map: MapWriter | None = None,
    write_picture: PictureWriter | None = None,
    settings: ServiceSettings = DEFAULT_SETTINGS,
    summary_extra: Mapping[str, Any] | None = None,
    author: str = DEFAULT_AUTHOR,
    progress: Callable[[str], None] | None = None,
    mask_phones: bool = False,
    excel_csv: bool = False,
) -> RunResult:
    """Run the main job on a workspace (see the module for the steps and re-running).

    Parameters
    ----------
    workspace
        The workspace GeoPackage (a path or an open store).
    out_dir
        The output folder (created): ``summary.json``, ``reach_summary_zh.md``, ``archive/``,
        ``county_map.html`` and :data:`MANIFEST_FILE`.
    suggest_stations
        New repair stations the map suggests (0: none); part of what the map depends on.
    write_map
        The map builder (``maps.__main__.build_map``); None writes no map.
    write_picture
        The map's picture (``maps.picture.county_picture``): :data:`PICTURE_PNG` and
        :data:`PICTURE_PDF` beside the map; None draws none. Without a Chinese font on the
        machine the picture is skipped with one line saying how to install one.
    settings
        The promises, payment mode and isochrone bands (the snapping rules are the engines'
        defaults).
    summary_extra
        More key figures for ``summary.json`` (the demo adds its seed and match rates).
    author
        Recorded with the new versions of ``customer_access``.
    progress
        Called with each progress line (a start line before each long step, a line with its
        elapsed time after it); default: logged at INFO.
    mask_phones
        Mask the phone numbers in the archive (``139****1234``) for files that leave the
        company (:func:`gridgeo.archive.export_archive`).
    excel_csv
        Also write each archive CSV as ``<name>_excel.csv`` for Excel (ids and phones as
        ``="…"``, :func:`gridgeo.archive.export_archive`).

    Returns
    -------
    RunResult

    Raises
    ------
    NotFoundError
        If the workspace lacks a layer the run needs; the message names the command to run
        first (``gridgeo grids build ...``, ``gridgeo customers import ...``).
    InputError
        If ``suggest_stations`` is not a whole number >= 0.
    """
    started = time.perf_counter()
    k = _check_suggest_stations(suggest_stations)
    if not isinstance(settings, ServiceSettings):
        msg = f"`settings` must be a ServiceSettings, got {type(settings).__name__}"
        raise InputError(msg)
    store = workspace if isinstance(workspace, GeoPackageStore) else GeoPackageStore.open(workspace)
    _check_workspace(store)
    ws_path = Path(store.path).resolve()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    steps = _Steps(progress)

    # what the outputs are computed from, read before anything is computed: a save landing
    # during the run shows as a change next time
    state = {name: _layer_state(store, name) for name in _VERSIONED_INPUTS}
    roads_fp = _table_digest(store.path, _workspace.ROADS_LAYER)
    service = _settings_record(settings)
    table = _read_table_manifest(store)
    files = _read_file_manifest(out, ws_path)

    # roads: the graph of every mode
    inputs: dict[str, Any] = {"roads": roads_fp}
    record: dict[str, Any] = files.get("roads") or {}
    if _same(record, inputs) and isinstance(record.get("result"), dict):
        road_graphs = record["result"]
        steps.reuse("roads", inputs)
    else:
        t0 = steps.start("roads")
        road_graphs = _road_graphs(store, steps)
        steps.done("roads", t0)
        files["roads"] = {"inputs": _plain(inputs), "result": _plain(road_graphs)}
        _write_file_manifest(out, ws_path, files)

    # customer access (stored in the workspace)
    inputs = {
        "customers": state["customers"],
        "repair_stations": state["repair_stations"],
        "payment_points": state["payment_points"],
        "roads": roads_fp,
        "settings": service,
    }
    record = table.get("access") or {}
    layers = store.layers()
    if (
        _same(record, inputs)
        and _workspace.ACCESS_LAYER in layers
        and record.get("access_version") == store.current_version(_workspace.ACCESS_LAYER)
    ):
        steps.reuse("access", inputs)
    else:
        n = state["customers"]["rows"]
        t0 = steps.start("access", "" if n is None else f" for {n:,} customers")
        customers, access = _workspace.compute_access(
            store,
            payment_mode=settings.payment_mode,
            repair_limit_s=settings.repair_limit_s,
            payment_limit_s=settings.payment_limit_s,
        )
        layer = gpd.GeoDataFrame(access, geometry=customers.geometry, crs=customers.crs)
        version = _store_access(store, layer, author)
        steps.done("access", t0, f" (customer_access v{version})")
        _write_table_manifest(store, "access", {"inputs": inputs, "access_version": version})
    customers, access = _workspace.read_access(store)
    access_state = _layer_state(store, _workspace.ACCESS_LAYER)

    # KPIs per tier
    t0 = time.perf_counter()
    kpis = _reach.reach_kpis(access, customers)
    grids = store.read("grids", version=state["grids"]["version"])
    steps.say(
        *_service_lines(kpis, access, settings.payment_mode),
        *_worst_lines(kpis, grids),
        f"服务水平 / KPIs per tier: done in {time.perf_counter() - t0:.1f} s",
    )

    # repair bands (stored in the workspace)
    inputs = {
        "repair_stations": state["repair_stations"],
        "roads": roads_fp,
        "bands_s": list(settings.bands_s),
    }
    record = table.get("isochrones") or {}
    if _same(record, inputs) and ISOCHRONES_LAYER in _io.list_layers(store.path):
        steps.reuse("isochrones", inputs)
    else:
        t0 = steps.start("isochrones")
        engine = _workspace.read_reach_engine(store, mode="drive")
        bands = _isochrones(
            engine, store.read("repair_stations"), bands_s=settings.bands_s, per_station=False
        )
        _io.write_layer(bands, store.path, ISOCHRONES_LAYER)
        steps.done("isochrones", t0, f" ({len(bands)} bands)")
        _write_table_manifest(store, "isochrones", {"inputs": inputs})
    isochrones_fp = _table_digest(store.path, ISOCHRONES_LAYER)

    # the Chinese summary and the key figures
    t0 = time.perf_counter()
    county = store.read("county", version=state["county"]["version"])
    villages = store.read("villages", version=state["villages"]["version"])
    county_name = str(county["name"].iloc[0]) if "name" in county.columns else ""
    adcode = str(county["adcode"].iloc[0]) if "adcode" in county.columns else ""
    village_names = (
        dict(zip(villages["village_code"].astype(str), villages["village"], strict=True))
        if "village" in villages.columns
        else None
    )
    summary_md = out / SUMMARY_MD
    _write_text(
        summary_md,
        _reach.summary_zh(
            kpis,
            title=f"{county_name}供电服务可达性摘要 / service-level summary",
            repair_limit_s=settings.repair_limit_s,
            payment_limit_s=settings.payment_limit_s,
            village_names=village_names,
            grids=grids,
            villages=villages,
        ),
    )
    c = kpis["county"].iloc[0]
    tiers = grids["tier"].value_counts().sort_index()
    summary: dict[str, Any] = {
        "county": county_name,
        "adcode": adcode,
        "customers": len(customers),
        "villages": len(villages),
        "substations": len(store.read("substations", version=state["substations"]["version"])),
        "repair_stations": len(store.read("repair_stations")),
        "payment_points": len(store.read("payment_points")),
        "road_graphs": road_graphs,
        "grids": {f"tier{t}": int(n) for t, n in tiers.items()},
        "grids_version": state["grids"]["version"],
        "reach": {
            key: c[key]
            for key in kpis["county"].columns
            if key.startswith(("repair_", "payment_")) or key == "customers"
        },
        **dict(summary_extra or {}),
    }
    summary = _plain(summary)
    summary_text = json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    summary_path = out / SUMMARY_JSON
    _write_text(summary_path, summary_text)
    # what the summary was made from, for `gridgeo status` (it is always written again)
    files["summary"] = {
        "inputs": _plain(
            {**state, "customer_access": access_state, "roads": roads_fp, "settings": service}
        )
    }
    _write_file_manifest(out, ws_path, files)
    steps.say(
        f"摘要 / summary: {summary_md.name}, {summary_path.name} "
        f"in {time.perf_counter() - t0:.1f} s"
    )

    # the customer archive per grid
    archive_dir = out / ARCHIVE_DIR
    # the service levels per customer and the station / payment point names are in it too
    inputs = {
        "customers": state["customers"],
        "grids": state["grids"],
        "customer_access": access_state,
        "repair_stations": state["repair_stations"],
        "payment_points": state["payment_points"],
        "mask_phones": bool(mask_phones),
        # only when asked for: the archives of earlier runs (without the key) stay reusable
        **({"excel_csv": True} if excel_csv else {}),
    }
    if _same(files.get("archive"), inputs) and archive_dir.is_dir():
        steps.reuse("archive", inputs)
    else:
        t0 = steps.start("archive", f" ({len(customers):,} customers)")
        tmp = out / f".{ARCHIVE_DIR}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        written = _archive.export_archive(
            customers,
            grids,
            tmp,
            progress=steps.ticker("archive", t0),
            access=access,
            repair_stations=store.read("repair_stations"),
            payment_points=store.read("payment_points"),
            mask_phones=bool(mask_phones),
            excel_csv=bool(excel_csv),
        )
        _swap_dir(tmp, archive_dir)
        steps.done("archive", t0, f": exported {len(written)} archive files")
        files["archive"] = {"inputs": _plain(inputs)}
        _write_file_manifest(out, ws_path, files)

    # the offline map
    outputs = {"summary_json": summary_path, "summary_md": summary_md, "archive": archive_dir}
    # the map and its picture are drawn from the same inputs
    map_inputs = {
        **state,
        "customer_access": access_state,
        "roads": roads_fp,
        "repair_isochrones": isochrones_fp,
        "suggest_stations": k,
        "summary": hashlib.sha256(summary_text.encode()).hexdigest()[:16],
    }
    if write_map is None:
        steps.say("县域地图 / county map: not written (no map builder given)")
    else:
        map_path = out / MAP_FILE
        inputs = map_inputs
        if _same(files.get("map"), inputs) and map_path.is_file():
            steps.reuse("map", inputs)
        else:
            detail = f" ({k} suggested stations)" if k else ""
            t0 = steps.start("map", detail)
            tmp_map = out / f".{MAP_FILE}.tmp.html"
            write_map(ws_path, tmp_map, summary=summary, suggest_stations=k)
            tmp_map.replace(map_path)
            size_mb = map_path.stat().st_size / 1e6
            steps.done("map", t0, f" (offline HTML, {size_mb:.1f} MB)")
            files["map"] = {"inputs": _plain(inputs)}
            _write_file_manifest(out, ws_path, files)
        outputs["map"] = map_path
    if write_picture is not None:
        outputs.update(
            _write_picture(write_picture, ws_path, out, map_inputs, files, steps, summary, k)
        )

    records = None
    if _orders.ORDER_LAYER in store.layers():
        records = report_records(store, out, settings=settings, progress=progress)
        outputs.update(records.outputs)

    steps.say(
        f"outputs ({time.perf_counter() - started:.1f} s):",
        f"  workspace GeoPackage  {store.path}",
        f"                        (layers: {', '.join(store.layers())}, roads, {ISOCHRONES_LAYER})",
        f"  customer archive      {archive_dir}/  (CSV + XLSX per village grid, "
        "a workbook per supply grid)",
        f"  reach summary (中文)  {summary_md}",
        f"  summary               {summary_path}",
        *([f"  county map (offline)  {outputs['map']}"] if "map" in outputs else []),
        *(
            [f"  county map picture    {outputs['picture_png']}, {PICTURE_PDF}"]
            if "picture_png" in outputs
            else []
        ),
    )
    return RunResult(
        workspace=ws_path,
        out_dir=out,
        summary=summary,
        kpis=kpis,
        outputs=outputs,
        reused=tuple(steps.reused),
        computed=tuple(steps.computed),
    )


@dataclass(frozen=True)
class RecordsReport:
    """What :func:`report_records` made from the work orders.

    Attributes
    ----------
    month, week
        The month evaluated (``2026-11``) and the week of the 服务之星 (``2026-W48``).
    evaluation
        The :class:`gridgeo.evaluation.MonthlyEvaluation` of ``month``.
    stars
        The :class:`gridgeo.stars.StarsResult` of ``week``.
    watch
        The :class:`gridgeo.watch.WatchResult` of ``month``.
    outputs
        ``evaluation_xlsx``, ``evaluation_html``, ``stars``, ``watch`` → the files written.
    """

    month: str
    week: str
    evaluation: Any
    stars: Any
    watch: Any
    outputs: dict[str, Path]


def report_records(
    workspace: str | Path | GeoPackageStore,
    out_dir: str | Path,
    *,
    month: str | None = None,
    week: str | None = None,
    settings: ServiceSettings = DEFAULT_SETTINGS,
    progress: Callable[[str], None] | None = None,
    now: Any = None,
) -> RecordsReport:
    """The service from records: last month's 月度考核, last week's 服务之星, the watch list.

    Written to ``out_dir/service/``: ``月度考核_<month>.xlsx`` and ``.html``
    (:func:`gridgeo.evaluation.write_evaluation`), ``服务之星_<week>.txt`` and
    ``重点巡查_<month>.txt``; the headline figures and the star are printed.

    Parameters
    ----------
    workspace
        A workspace with a ``work_orders`` layer (``gridgeo orders import``).
    out_dir
        The output folder.
    month, week
        Default: the last month and ISO week that have ended both by the clock and in the
        records (:func:`gridgeo.evaluation.last_full_month` and
        :func:`gridgeo.stars.last_full_week` of ``now`` and of the latest reported order,
        the earlier of the two): records that end on Tuesday 1 December are reported on
        November and on the week that ended on Sunday 29 November.
    settings
        The repair promise the on-time figures keep.
    progress
        Called with each line printed; default: logged at INFO.
    now
        The clock (a time; default the current time), for the default month and week.

    Raises
    ------
    NotFoundError
        If the workspace has no work orders (the message names ``gridgeo orders import``).
    """
    store = workspace if isinstance(workspace, GeoPackageStore) else GeoPackageStore.open(workspace)
    steps = _Steps(progress)
    t0 = steps.start("records")
    inputs = _records_inputs(store)  # read first: a save landing meanwhile shows next time
    latest = _orders.read_orders(store, required=True)["reported_at"].max()
    if month is None or week is None:
        # the last month and week that have ended, by the clock and in the records
        now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
        month = month or min(_evaluation.last_full_month(now), _evaluation.last_full_month(latest))
        week = week or min(_stars.last_full_week(now), _stars.last_full_week(latest))
    evaluation = _evaluation.evaluate_workspace(store, month, settings=settings)
    stars = _stars.workspace_stars(store, week=week, settings=settings)
    watch = _watch.workspace_watch(store, month=month, settings=settings)
    folder = Path(out_dir) / RECORDS_DIR
    written = _evaluation.write_evaluation(evaluation, folder)
    stars_path = folder / f"服务之星_{week}.txt"
    watch_path = folder / f"重点巡查_{month}.txt"
    _write_text(stars_path, "\n".join(stars.lines(top=0)) + "\n")
    _write_text(watch_path, "\n".join(watch.lines(max_rows=10**9)) + "\n")
    star = stars.star
    star_line = (
        "本周无人得分为正 / no positive score: no star"
        if star is None
        else f"{star['member']} ({star['grid_name']}), {float(star['score']):g} 分"
    )
    text = _evaluation.evaluation_summary_text(evaluation).split("\n\n")
    # the headline section of the one-page summary: its title line, then one line per figure
    figures = next((part.splitlines()[1:] for part in text if "headline figures" in part), [])
    steps.say(
        f"上月考核 / last month's evaluation {month} (工单 / orders {evaluation.orders:,}):",
        *figures,
        f"服务之星 / service star {week}: {star_line}",
        f"重点巡查 / watch list {month}: {len(watch.watch)} 处 / places",
    )
    steps.done("records", t0)
    steps.say(
        f"  月度考核 / evaluation  {written['xlsx']}",
        f"                        {written['html']}",
        f"  服务之星 / stars       {stars_path}",
        f"  重点巡查 / watch list  {watch_path}",
    )
    # what the reports were made from, for `gridgeo status`
    ws_path = Path(store.path).resolve()
    files = _read_file_manifest(Path(out_dir), ws_path)
    files["records"] = {"inputs": _plain(inputs)}
    _write_file_manifest(Path(out_dir), ws_path, files)
    outputs = {
        "evaluation_xlsx": written["xlsx"],
        "evaluation_html": written["html"],
        "stars": stars_path,
        "watch": watch_path,
    }
    return RecordsReport(
        month=month, week=week, evaluation=evaluation, stars=stars, watch=watch, outputs=outputs
    )


# --------------------------------------------------------------------------- outputs status

OUTPUT_STATES = ("current", "stale", "missing")
# the outputs of a folder, in the order they are listed: name -> (label, folder-relative
# files, the manifest step that records what they were made from)
_OUTPUTS = {
    "archive": ("档案 archive", (f"{ARCHIVE_DIR}/",), "archive"),
    "map": ("地图 map", (MAP_FILE,), "map"),
    "picture": ("地图图片 map picture", (PICTURE_PNG, PICTURE_PDF), "picture"),
    "summary": ("摘要 summary", (SUMMARY_JSON, SUMMARY_MD), "summary"),
    "records": ("工单考核 service reports", (f"{RECORDS_DIR}/",), "records"),
}
_LABELS_ZH = {
    "county": "县界",
    "villages": "村",
    "substations": "变电站",
    "repair_stations": "抢修站",
    "payment_points": "缴费点",
    "grids": "网格",
    "customers": "客户",
    "roads": "道路",
    "customer_access": "可达性",
    "repair_isochrones": "抢修到达圈",
    "work_orders": "工单",
    "visits": "走访",
    "summary": "摘要",
}
# the recorded inputs that are run options, not workspace state: the status cannot know the
# options of the next run, so they never make an output stale
_RUN_OPTIONS = frozenset({"settings", "bands_s", "suggest_stations", "mask_phones", "excel_csv"})
# the inputs of the service-from-records reports (what evaluation, stars and watch read)
_RECORDS_INPUTS = (
    "work_orders",
    "grids",
    "customers",
    "customer_access",
    "repair_stations",
    "visits",
)


@dataclass(frozen=True)
class OutputStatus:
    """Whether one output of a run's folder is as current as its workspace.

    Attributes
    ----------
    output
        ``archive``, ``map``, ``summary`` or ``records``.
    label
        Its name in Chinese and English (``档案 archive``).
    files
        Its files, relative to the output folder (``archive/``, ``summary.json``).
    state
        ``current``, ``stale`` (an input changed since it was written) or ``missing``.
    changes
        What changed, one item per input (``网格 grids v3 → v5``); empty unless stale.
    """

    output: str
    label: str
    files: tuple[str, ...]
    state: str
    changes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The status as JSON-ready values (names relative to the output folder only)."""
        return {
            "output": self.output,
            "label": self.label,
            "files": list(self.files),
            "state": self.state,
            "changes": list(self.changes),
        }


@dataclass(frozen=True)
class OutputsStatus:
    """What :func:`outputs_status` found in an output folder.

    Attributes
    ----------
    workspace
        The workspace GeoPackage.
    out_dir
        The output folder.
    outputs
        One :class:`OutputStatus` per output.
    """

    workspace: Path
    out_dir: Path
    outputs: tuple[OutputStatus, ...]

    @property
    def stale(self) -> bool:
        """True when any output is stale."""
        return any(o.state == "stale" for o in self.outputs)

    @property
    def has_outputs(self) -> bool:
        """True when the folder holds any output (current or stale)."""
        return any(o.state != "missing" for o in self.outputs)

    @property
    def command(self) -> str:
        """The command that refreshes the outputs."""
        return f"gridgeo run --workspace {self.workspace} --out {self.out_dir}"

    def to_list(self) -> list[dict[str, Any]]:
        """:meth:`OutputStatus.to_dict` of every output (no filesystem path in it)."""
        return [o.to_dict() for o in self.outputs]

    def lines(self) -> list[str]:
        """One line per output, Chinese with English, with the command to refresh it."""
        words = {"current": "最新 current", "stale": "已过期 stale", "missing": "缺失 missing"}
        out = []
        for o in self.outputs:
            line = f"{o.label}: {words[o.state]}"
            if o.changes:
                line += f" ({'; '.join(o.changes)})"
            if o.state != "current":
                line += f" — 运行 / run: {self.command}"
            out.append(line)
        return out

    def stale_line(self) -> str | None:
        """The one line a save prints when it made outputs of the folder stale, else None."""
        stale = [o.label for o in self.outputs if o.state == "stale"]
        if not stale:
            return None
        return (
            f"输出已过期 / outputs now stale in {self.out_dir}: {', '.join(stale)} — "
            f"刷新 / refresh: {self.command}"
        )


def _records_inputs(store: GeoPackageStore) -> dict[str, Any]:
    layers = store.layers()
    # a layer made later (the first visits) changes the reports too: absent ones are None
    return {name: _layer_state(store, name) if name in layers else None for name in _RECORDS_INPUTS}


def _change(name: str, before: Any, now: Any) -> str:
    """ "网格 grids v3 → v5" (a layer), "道路 roads changed" (a digest)."""
    label = f"{_LABELS_ZH.get(name, name)} {_LABELS.get(name, name)}"
    if isinstance(before, Mapping) and "version" in before:
        if now is None:
            return f"{label} v{before['version']} → 已删除 removed"
        text = f"{label} v{before['version']} → v{now['version']}"
        if before["version"] == now["version"]:  # the workspace was made again
            text += " (内容不同 / other content)"
        return text
    if now is None:
        return f"{label} 已删除 / removed"
    if before is None and isinstance(now, Mapping) and "version" in now:
        return f"{label} 无 none → v{now['version']}"
    return f"{label} 已变 / changed"


def _recorded_workspace(out_dir: Path) -> str | None:
    """The workspace the folder's manifest names (None: no readable manifest)."""
    try:
        data = json.loads((out_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(data.get("workspace")) if isinstance(data, dict) else None


def _summary_digest(out_dir: Path) -> str | None:
    try:
        return hashlib.sha256((out_dir / SUMMARY_JSON).read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def outputs_status(
    workspace: str | Path | GeoPackageStore, out_dir: str | Path | None = None
) -> OutputsStatus:
    """Whether the outputs of a run (archive, map, summary, service reports) are current.

    Each output is compared with what :func:`run_workspace` recorded it was made from (the
    :data:`MANIFEST_FILE` of the folder), input by input, against the workspace's current
    versions and digests, with the same fingerprints the run uses: an output that is
    ``current`` here is one the next run reuses. Run options (the service settings, map
    suggestions, masked phones) are not compared. Cheap: no layer is read, only versions and
    the digests of the roads and the repair bands.

    Parameters
    ----------
    workspace
        The workspace GeoPackage (a path or an open store).
    out_dir
        The output folder; default: the workspace's own folder (where ``gridgeo demo``
        writes its outputs).

    Returns
    -------
    OutputsStatus
        The service reports are listed only when the workspace has work orders or the
        folder holds them. An output whose inputs were not recorded (written by an older
        run, or by a run on another workspace) is stale.
    """
    store = workspace if isinstance(workspace, GeoPackageStore) else GeoPackageStore.open(workspace)
    ws_path = Path(store.path).resolve()
    out = ws_path.parent if out_dir is None else Path(out_dir)
    files = _read_file_manifest(out, ws_path)
    other = not files and _recorded_workspace(out) not in (None, str(ws_path))
    layers = store.layers()
    cache: dict[str, Any] = {}

    def current(name: str) -> Any:
        if name not in cache:
            if name in ("roads", ISOCHRONES_LAYER):
                table = _workspace.ROADS_LAYER if name == "roads" else name
                have = table in _io.list_layers(store.path)
                cache[name] = _table_digest(store.path, table) if have else None
            elif name == "summary":
                cache[name] = _summary_digest(out)
            else:
                cache[name] = _layer_state(store, name) if name in layers else None
        return cache[name]

    found = []
    for output, (label, names, step) in _OUTPUTS.items():
        present = all((out / n).is_dir() if n.endswith("/") else (out / n).is_file() for n in names)
        if output == "records" and not present and _orders.ORDER_LAYER not in layers:
            continue  # no work orders: no reports to make
        if output == "picture" and not present and "picture" not in files:
            continue  # the run drew no picture (no Chinese font, or no picture writer)
        if not present:
            found.append(OutputStatus(output, label, names, "missing"))
            continue
        record = files.get(step)
        inputs = record.get("inputs") if isinstance(record, Mapping) else None
        if inputs is None and output == "summary":
            # written by a run that did not record it: the map records the summary it drew
            mapped = files.get("map")
            mapped = mapped.get("inputs") if isinstance(mapped, Mapping) else None
            if isinstance(mapped, Mapping) and mapped.get("summary") == current("summary"):
                inputs = {k: v for k, v in mapped.items() if k != "summary"}
        if not isinstance(inputs, Mapping):
            why = (
                "由另一个工作区生成或目录已移动 / made from another workspace, or the folder "
                "was moved"
                if other
                else "未记录其输入 / not recorded what it was made from"
            )
            found.append(OutputStatus(output, label, names, "stale", (why,)))
            continue
        changes = tuple(
            _change(name, before, current(name))
            for name, before in inputs.items()
            if name not in _RUN_OPTIONS and _plain(current(name)) != before
        )
        found.append(OutputStatus(output, label, names, "stale" if changes else "current", changes))
    return OutputsStatus(workspace=ws_path, out_dir=out, outputs=tuple(found))
