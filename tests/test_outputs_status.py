"""``gridgeo status`` and :func:`gridgeo.outputs_status`: the outputs of a run (archive, map,
summary, service reports) marked current, stale (with the input that changed) or missing
after grid saves (issue 13, planner map editor).

The workspace is the bundled sample county with 1,200 customers of its archive (every 25th),
its grids saved once (grids version 1) and customers imported once (customers version 1),
a year of generated work orders, and one run into the workspace's own folder (where
``gridgeo demo`` writes its outputs). The map builder is a stand-in that writes a small HTML
file: what is checked is the bookkeeping, not the map. Expected states and versions follow by
hand from what each test saves.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import gridgeo
from gridgeo import _sample_orders, archive, run, sample, workspace
from gridgeo.cli import main
from gridgeo.store import GeoPackageStore

N_CUSTOMERS = 1200
OUTPUTS = ["archive", "map", "summary", "records"]  # the order of the status list
GRIDS_1_TO_2 = "网格 grids v1 → v2"


def _fake_map(
    workspace: Path, out: Path, *, summary: object = None, suggest_stations: int = 0
) -> Path:
    out.write_text("<html><body>map</body></html>", encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> Path:
    """The folder of a workspace (grids v1, customers v1, work orders) and its first run."""
    county = sample.load_sample()
    folder = tmp_path_factory.mktemp("status_run")
    csv = folder / "customers.csv"
    text = (sample.SAMPLE_DIR / sample.OUTPUT_CUSTOMERS).read_text(encoding="utf-8").splitlines()
    csv.write_text("\n".join([text[0], *text[1::25][:N_CUSTOMERS]]) + "\n", encoding="utf-8")
    path = folder / "workspace.gpkg"
    layers = {name: getattr(county, name) for name in workspace.WORKSPACE_KEYS if name != "grids"}
    store = workspace.create_workspace(path, layers, roads=county.roads, author="t", reason="t")
    gazetteer = workspace.read_gazetteer(store)
    records = pd.read_csv(csv, dtype=str, keep_default_na=False)
    located = archive.locate_customers(records, gazetteer, county_area=county.county)
    with pytest.warns(UserWarning, match="SUB14"):  # the sample's substation off the roads
        build = workspace.build_grids(store, workspace.village_workload(located), seed=1)
    workspace.save_grids(store, build.service.grids, author="t", reason="grids")
    archive.import_customers(
        store, csv, gazetteer, author="t", reason="import", grids=store.read("grids")
    )
    csv.unlink()
    # the access first (the orders are drawn from it), then the orders, then the whole run
    run.run_workspace(store, folder, write_map=_fake_map, progress=lambda _: None)
    _sample_orders.add_sample_orders(store, author="t")
    run.run_workspace(store, folder, write_map=_fake_map, progress=lambda _: None)
    return folder


def _copy(ran: Path, dest: Path) -> Path:
    """A copy of the run's folder; its manifest names the copy's workspace (a run names its
    workspace by absolute path: a copied folder belongs to the copy)."""
    shutil.copytree(ran, dest)
    manifest = dest / run.MANIFEST_FILE
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["workspace"] = str((dest / "workspace.gpkg").resolve())
    manifest.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return dest / "workspace.gpkg"


def _states(status: gridgeo.OutputsStatus) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {o.output: (o.state, o.changes) for o in status.outputs}


def _save_manager(path: Path, name: str) -> int:
    """Rename the manager of the first village grid: a new grids version, no customer moves."""
    store = GeoPackageStore.open(path)
    grids = store.read("grids")
    first = grids.loc[grids["tier"] == 3, "grid_id"].min()
    grids.loc[grids["grid_id"] == first, "manager"] = name
    return workspace.save_grids(store, grids, author="t", reason="新网格长 / new manager")


def test_after_a_run_every_output_is_current(ran):
    status = gridgeo.outputs_status(ran / "workspace.gpkg")  # default: the workspace's folder
    assert status.out_dir == ran.resolve()
    assert _states(status) == {name: ("current", ()) for name in OUTPUTS}
    assert status.has_outputs and not status.stale
    assert status.stale_line() is None
    assert status.lines() == [
        "档案 archive: 最新 current",
        "地图 map: 最新 current",
        "摘要 summary: 最新 current",
        "工单考核 service reports: 最新 current",
    ]


def test_an_empty_folder_lists_every_output_missing(ran, tmp_path):
    ws = ran / "workspace.gpkg"
    status = gridgeo.outputs_status(ws, tmp_path / "nothing")
    assert _states(status) == {name: ("missing", ()) for name in OUTPUTS}
    assert not status.has_outputs and not status.stale
    command = f"gridgeo run --workspace {ws.resolve()} --out {tmp_path / 'nothing'}"
    assert status.lines()[0] == f"档案 archive: 缺失 missing — 运行 / run: {command}"


def test_a_grid_save_makes_the_outputs_stale_until_the_next_run(ran, tmp_path):
    ws = _copy(ran, tmp_path / "county")
    assert _save_manager(ws, "张新") == 2
    status = gridgeo.outputs_status(ws)
    # every output reads the grids; nothing else changed (no customer changed grid)
    assert _states(status) == {name: ("stale", (GRIDS_1_TO_2,)) for name in OUTPUTS}
    assert status.stale
    command = f"gridgeo run --workspace {ws.resolve()} --out {ws.parent.resolve()}"
    assert status.lines()[0] == (
        f"档案 archive: 已过期 stale ({GRIDS_1_TO_2}) — 运行 / run: {command}"
    )
    # the API's list: names relative to the folder, no filesystem path
    listed = status.to_list()
    assert listed[0] == {
        "output": "archive",
        "label": "档案 archive",
        "files": ["archive/"],
        "state": "stale",
        "changes": [GRIDS_1_TO_2],
    }
    assert str(tmp_path) not in json.dumps(listed, ensure_ascii=False)

    # the run agrees: it remakes the archive and the map (the access did not change), then
    # every output is current again
    result = run.run_workspace(ws, ws.parent, write_map=_fake_map, progress=lambda _: None)
    assert {"archive", "map"} <= set(result.computed)
    assert "access" in result.reused
    assert _states(gridgeo.outputs_status(ws)) == {name: ("current", ()) for name in OUTPUTS}


def test_a_customer_save_names_the_customers(ran, tmp_path):
    ws = _copy(ran, tmp_path / "county")
    store = GeoPackageStore.open(ws)
    customers = store.read("customers")
    customers.loc[customers.index[0], "address"] = "琴城镇新地址1号"
    store.save("customers", customers, expected_version=1, author="t", reason="地址更正")
    states = _states(gridgeo.outputs_status(ws))
    changed = ("客户 customers v1 → v2",)
    assert states == {name: ("stale", changed) for name in OUTPUTS}


def test_a_folder_from_another_workspace_is_stale(ran, tmp_path):
    """A folder copied elsewhere names the workspace it was made from: the next run of the
    copy would make every output again."""
    other = tmp_path / "other"
    shutil.copytree(ran, other)
    status = gridgeo.outputs_status(ws := other / "workspace.gpkg")
    why = ("由另一个工作区生成或目录已移动 / made from another workspace, or the folder was moved",)
    assert _states(status) == {name: ("stale", why) for name in OUTPUTS}
    assert f"--workspace {ws.resolve()} --out {other.resolve()}" in status.lines()[0]


def test_the_status_reads_no_layer(ran, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("outputs_status read a layer")

    monkeypatch.setattr(GeoPackageStore, "read", refuse)
    status = gridgeo.outputs_status(ran / "workspace.gpkg")
    assert [o.state for o in status.outputs] == ["current"] * 4


def test_cli_status_and_the_line_a_grid_save_prints(ran, tmp_path, capsys):
    ws = _copy(ran, tmp_path / "county")
    folder = ws.parent.resolve()
    command = f"gridgeo run --workspace {ws.resolve()} --out {folder}"
    assert main(["status", "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "档案 archive: 最新 current" in out and "已过期" not in out

    # a restore is a save: the grids go from version 1 to 2
    argv = ["grids", "restore", "--workspace", str(ws), "--version", "1"]
    assert main([*argv, "--author", "t", "--reason", "撤回 / back"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "grids version 1 restored as version 2",
        f"输出已过期 / outputs now stale in {folder}: 档案 archive, 地图 map, 摘要 summary, "
        f"工单考核 service reports — 刷新 / refresh: {command}",
    ]
    assert main(["status", "--workspace", str(ws), "--out", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"输出目录 / output folder: {folder}"
    assert out[1] == f"档案 archive: 已过期 stale ({GRIDS_1_TO_2}) — 运行 / run: {command}"
    assert len(out) == 5


def test_a_save_with_no_outputs_in_the_folder_prints_no_stale_line(ran, tmp_path, capsys):
    (tmp_path / "bare").mkdir()
    ws = Path(shutil.copy(ran / "workspace.gpkg", tmp_path / "bare" / "workspace.gpkg"))
    argv = ["grids", "restore", "--workspace", str(ws), "--version", "1"]
    assert main([*argv, "--author", "t", "--reason", "r"]) == 0
    assert capsys.readouterr().out.splitlines() == ["grids version 1 restored as version 2"]
