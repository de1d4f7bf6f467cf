"""What the planner's map editor needs from /grids: previews on a kept edit base, villages by
name or code, the grids a village may join, restore.

Expected values come from the workspace GeoPackage read with geopandas and plain shapely
(unions and shared boundaries of the village cells), not from the routes under test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter

import geopandas as gpd
import numpy as np
import pytest
import shapely

import gridgeo
import gridgeo.grids as grids_module
import gridgeo.workspace as workspace_module

SEP = "，"
METRIC = "EPSG:32650"  # UTM 50N: Nanfeng lies at 116.5°E


@pytest.fixture(scope="module")
def grids(workspace) -> gpd.GeoDataFrame:
    return gpd.read_file(workspace, layer="grids")


@pytest.fixture(scope="module")
def villages(workspace) -> gpd.GeoDataFrame:
    return gpd.read_file(workspace, layer="villages")


@pytest.fixture(scope="module")
def cells_m(workspace) -> gpd.GeoSeries:
    """The village cells by code, in metres."""
    county = gpd.read_file(workspace, layer="county")
    villages = gpd.read_file(workspace, layer="villages")
    cells = gridgeo.village_cells(county, villages).set_index("village_code")
    return cells.geometry.to_crs(METRIC)


def _village_grid(grids: gpd.GeoDataFrame) -> dict[str, str]:
    t3 = grids.loc[grids["tier"] == 3]
    return {code: gid for gid, vs in zip(t3["grid_id"], t3["villages"], strict=True)
            for code in str(vs).split(SEP) if code}  # fmt: skip


def _parts(geom) -> int:
    """Pieces of a (multi)polygon larger than 1 m² (0 for an empty one)."""
    if geom is None or geom.is_empty:
        return 0
    return sum(1 for g in shapely.get_parts(geom) if g.area > 1.0)


def _expected_options(code: str, grids, cells_m) -> dict[str, bool]:
    """By hand with shapely: the tier-3 grids whose cells share ≥ 1 m of boundary with the
    village's cell; a move is ok when the grid left behind (and its supply grid, if another
    one takes the village) stays one non-empty piece and the receiving grid is one piece."""
    vg = _village_grid(grids)
    parent = dict(zip(grids["grid_id"], grids["parent_id"], strict=True))
    own = vg[code]
    cell = cells_m[code]
    shared = {
        other: cells_m[other].intersection(cell).length
        for other in cells_m.index
        if other != code and cells_m[other].intersects(cell)
    }
    near = sorted({vg[o] for o, length in shared.items() if length >= 1.0} - {own})

    def union(codes):
        return shapely.union_all([cells_m[c] for c in codes]) if codes else None

    rest = [c for c, g in vg.items() if g == own and c != code]
    out = {}
    for gid in near:
        ok = _parts(union(rest)) == 1
        ok &= _parts(union([c for c, g in vg.items() if g == gid] + [code])) == 1
        if parent[gid] != parent[own]:  # the supply grid left behind
            t2_rest = [c for c, g in vg.items() if parent[g] == parent[own] and c != code]
            ok &= _parts(union(t2_rest)) == 1
        out[gid] = bool(ok)
    return out


@pytest.fixture
def counted(monkeypatch) -> Counter:
    """Counts the expensive steps of an edit base: cutting the village cells and finding
    every customer's cell."""
    calls: Counter = Counter()
    cells = grids_module.village_cells
    customer_cells = workspace_module._customer_cells

    def count_cells(*args, **kwargs):
        calls["village_cells"] += 1
        return cells(*args, **kwargs)

    def count_customer_cells(*args, **kwargs):
        calls["customer_cells"] += 1
        return customer_cells(*args, **kwargs)

    monkeypatch.setattr(grids_module, "village_cells", count_cells)
    monkeypatch.setattr(workspace_module, "_customer_cells", count_customer_cells)
    return calls


def test_second_preview_reuses_the_edit_base_until_a_new_version(
    writer, writable, grids, cells_m, counted
):
    """Issue 13: a preview took 5-8 s because each one re-read the layers and re-cut the
    cells. The edit base is made once per grids version: a second preview cuts no cells,
    a save (by this app or by another process) makes it again."""
    vg = _village_grid(grids)
    code = next(c for c in sorted(vg) if any(_expected_options(c, grids, cells_m).values()))
    to = next(g for g, ok in _expected_options(code, grids, cells_m).items() if ok)
    body = {"op": "move", "village_codes": [code], "to_grid_id": to}
    first = writer.post("/grids/preview", json=body)
    assert first.status_code == 200, first.text
    assert counted["village_cells"] == 1
    once = counted["customer_cells"]
    assert once >= 1
    second = writer.post("/grids/preview", json=body)
    assert second.json() == first.json()
    assert counted == Counter({"village_cells": 1, "customer_cells": once})

    saved = writer.post(
        "/grids/save",
        json=body | {"author": "规划员", "reason": "边界调整 / border", "expected_version": 1},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2
    after = writer.post("/grids/preview", json={"op": "split", "grid_id": to, "k": 2})
    assert after.json()["base_version"] == 2
    assert counted["village_cells"] == 2  # a new version: made again

    # another process restores version 1: the next preview sees version 3
    script = (
        "import gridgeo, sys; s = gridgeo.GeoPackageStore.open(sys.argv[1]); "
        "gridgeo.restore_grids(s, 1, expected_version=2, author='other', reason='back')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(writable)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    again = writer.post("/grids/preview", json=body)
    assert again.json()["base_version"] == 3
    assert again.json()["kpi_diff"] == first.json()["kpi_diff"]  # the grids of version 1
    assert counted["village_cells"] == 3


def test_edit_base_is_shared_and_left_unchanged_by_previews(workspace):
    store = gridgeo.GeoPackageStore.open(workspace)
    base = gridgeo.load_edit_base(store)
    grids_before = base.service.grids.copy()
    vg_before = base.service.village_grid.copy()
    t3 = grids_before.loc[grids_before["tier"] == 3].sort_values("grid_id")
    splittable = t3.loc[t3["n_villages"] >= 2, "grid_id"].iloc[0]
    gridgeo.preview_split_grid(base.service, splittable, k=2, kpis=base.kpis)
    assert gridgeo.load_edit_base(store) is base
    assert base.service.grids.equals(grids_before)
    assert base.service.village_grid.equals(vg_before)


def test_villages_by_name_and_code(client, villages, grids):
    out = client.get("/grids/villages").json()
    rows = out["villages"]
    assert len(rows) == len(villages)
    vg = _village_grid(grids)
    assert {r["village_code"]: r["grid_id"] for r in rows} == vg
    first = villages.sort_values("village_code").iloc[0]
    row = next(r for r in rows if r["village_code"] == first["village_code"])
    assert (row["village"], row["town"]) == (first["village"], first["town"])
    assert row["lon"] == pytest.approx(first.geometry.x, abs=1e-6)


def test_move_by_name_is_the_move_by_code(client, villages, grids, cells_m):
    counts = villages["village"].value_counts()
    unique = villages.loc[villages["village"].map(counts) == 1].sort_values("village_code")
    row = next(
        r for _, r in unique.iterrows() if _expected_options(r["village_code"], grids, cells_m)
    )
    to = sorted(_expected_options(row["village_code"], grids, cells_m))[0]
    by_code = client.post(
        "/grids/preview",
        json={"op": "move", "village_codes": [row["village_code"]], "to_grid_id": to},
    )
    by_name = client.post(
        "/grids/preview", json={"op": "move", "village_codes": [row["village"]], "to_grid_id": to}
    )
    assert by_code.status_code == 200, by_code.text
    assert by_name.json() == by_code.json()


def test_a_name_in_two_towns_asks_for_the_code(client, villages, clean_error):
    counts = villages["village"].value_counts()
    name = sorted(counts[counts > 1].index)[0]
    codes = sorted(villages.loc[villages["village"] == name, "village_code"])
    body = clean_error(client.get("/grids/moves", params={"village": name}), 400, *codes)
    assert "村代码" in body["detail"]
    clean_error(client.get("/grids/moves", params={"village": "无此村"}), 404, "无此村")


def test_moves_are_the_contiguous_neighbours(client, grids, cells_m):
    vg = _village_grid(grids)
    expected = {code: _expected_options(code, grids, cells_m) for code in sorted(vg)}
    # a village whose grid cannot give it away (its only village, or its removal cuts the
    # grid in two) and one that may move
    stuck = next(c for c, opts in expected.items() if opts and not any(opts.values()))
    free = next(c for c, opts in expected.items() if opts and all(opts.values()))
    for code in (stuck, free):
        out = client.get("/grids/moves", params={"village": code}).json()
        assert out["village_code"] == code
        assert out["grid_id"] == vg[code]
        got = {o["grid_id"]: o["ok"] for o in out["options"]}
        assert got == expected[code], code
        for option in out["options"]:
            assert bool(option["problems"]) == (not option["ok"])


def test_restore_an_earlier_version(writer, writable, grids, clean_error):
    store = gridgeo.GeoPackageStore.open(writable)
    t3 = grids.loc[grids["tier"] == 3].sort_values("grid_id")
    target = t3.loc[t3["n_villages"] >= 2].iloc[0]["grid_id"]
    split = {"op": "split", "grid_id": target, "k": 2, "author": "a", "reason": "r"}
    saved = writer.post("/grids/save", json=split | {"expected_version": 1})
    assert saved.json()["version"] == 2
    assert len(store.read("grids")) == len(grids) + 1
    stale = writer.post("/grids/restore", json={"version": 1, "expected_version": 1, "reason": "x"})
    clean_error(stale, 409)
    clean_error(
        writer.post("/grids/restore", json={"version": 9, "expected_version": 2, "reason": "x"}),
        404,
        "GET /grids/versions",
    )
    body = {"version": 1, "expected_version": 2, "reason": "撤回拆分 / undo the split"}
    out = writer.post("/grids/restore", json=body)
    assert out.status_code == 200, out.text
    assert out.json()["version"] == 3
    # a folder with only the workspace: no outputs of `gridgeo run` to mark stale
    outputs = out.json()["outputs"]
    assert [(o["output"], o["state"]) for o in outputs] == [
        ("archive", "missing"),
        ("map", "missing"),
        ("summary", "missing"),
        ("records", "missing"),  # the demo has work orders: the service reports are due
    ]
    now = store.read("grids").sort_values("grid_id")
    assert list(now["grid_id"]) == list(grids.sort_values("grid_id")["grid_id"])
    assert list(now["villages"]) == list(grids.sort_values("grid_id")["villages"])
    versions = store.list_versions("grids")
    assert versions["restored_from"].iloc[-1] == 1
    assert versions["author"].iloc[-1] == "test_admin"  # the logged-in user, not a body field
    assert np.isfinite(versions["version"]).all()


def test_a_save_says_the_outputs_of_the_folder_are_now_stale(
    writer, writable, demo_workspace, grids
):
    """Issue 13: after a save the archive, map, summary and service reports in the workspace's
    folder are older than the grids; the answer says so, with folder-relative names only."""
    demo, folder = demo_workspace.parent, writable.parent
    names = ("summary.json", "reach_summary_zh.md", "county_map.html")
    for name in (*names, "county_map.png", "county_map.pdf"):
        shutil.copyfile(demo / name, folder / name)
    (folder / "archive").mkdir()
    (folder / "service").mkdir()
    manifest = json.loads((demo / "run_manifest.json").read_text(encoding="utf-8"))
    manifest["workspace"] = str(writable.resolve())  # the demo's run, as if made here
    (folder / "run_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    t3 = grids.loc[grids["tier"] == 3].sort_values("grid_id")
    target = t3.loc[t3["n_villages"] >= 2].iloc[0]["grid_id"]
    body = {"op": "split", "grid_id": target, "k": 2, "author": "a", "reason": "r"}
    saved = writer.post("/grids/save", json=body | {"expected_version": 1})
    assert saved.status_code == 200, saved.text
    outputs = saved.json()["outputs"]
    assert [(o["output"], o["state"]) for o in outputs] == [
        ("archive", "stale"),
        ("map", "stale"),
        ("picture", "stale"),
        ("summary", "stale"),
        ("records", "stale"),
    ]
    for o in outputs:
        assert "网格 grids v1 → v2" in o["changes"], o
    assert [o["files"] for o in outputs] == [
        ["archive/"],
        ["county_map.html"],
        ["county_map.png", "county_map.pdf"],
        ["summary.json", "reach_summary_zh.md"],
        ["service/"],
    ]
    assert str(folder) not in saved.text and "/tmp/" not in saved.text
