"""``python -m maps WORKSPACE``: the county map of a workspace (maps/__main__.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gridgeo
from gridgeo import network, sample, workspace
from maps.__main__ import build_map, main
from maps.overview import LAYER_NAMES


def _escaped(text: str) -> str:
    """``text`` as it appears inside Folium's embedded JSON (non-ASCII as \\uXXXX)."""
    return json.dumps(text)[1:-1]


def _has(page: str, text: str) -> bool:
    return text in page or _escaped(text) in page


def _figure(page: str, label_zh: str) -> str | None:
    """The value shown beside ``label_zh`` in the key-figures box."""
    found = re.search(
        re.escape(label_zh) + r'<br><span class="gg-en">[^<]*</span></th><td>([^<]*)</td>', page
    )
    return found.group(1) if found else None


def _one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("maps: error:"), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A workspace of the bundled sample county: its layers, roads, grids and customers."""
    county = sample.load_sample()
    path = tmp_path_factory.mktemp("maps_ws") / "workspace.gpkg"
    layers = {name: getattr(county, name) for name in workspace.WORKSPACE_KEYS if name != "grids"}
    roads = network.roads_from_graph(network.graph_from_roads(county.roads))
    store = workspace.create_workspace(path, layers, roads=roads, author="test", reason="maps")
    build = workspace.build_grids(
        store, workspace.village_workload(county.customers), seed=county.seed
    )
    workspace.save_grids(store, build.service.grids, author="test", reason="maps")
    store.add_layer("customers", county.customers, key="customer_id", author="test", reason="m")
    return path


@pytest.fixture(scope="module")
def siting(ws) -> tuple[gridgeo.SitingResult, list[str]]:
    """The planner's 3 picks on the workspace, and their village names (from gridgeo.plan,
    tested in tests/test_plan.py: here they only say what the map must show)."""
    store = gridgeo.GeoPackageStore.open(ws)
    villages = store.read("villages")
    result = gridgeo.site_facilities(
        gridgeo.read_reach_engine(store, mode="drive"),
        store.read("customers"),
        villages,
        service="repair",
        existing=store.read("repair_stations"),
        k=3,
        id_column="village_code",
    )
    names = villages.loc[result.picks["candidate"], "village"].tolist()
    return result, names


@pytest.fixture(scope="module")
def suggested_page(ws, tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("maps_out") / "county_map.html"
    assert main([str(ws), "--suggest-stations", "3", "--out", str(out)]) == 0
    return out.read_bytes()


def test_suggest_stations_draws_the_planners_picks(suggested_page, siting):
    result, names = siting
    page = suggested_page.decode("utf-8")
    assert _has(page, LAYER_NAMES["suggested_stations"])
    gains = result.picks["gain_customers"].tolist()
    assert len(names) == len(gains) == 3
    for rank, (name, gain) in enumerate(zip(names, gains, strict=True), start=1):
        tip = f"建议新增抢修站 #{rank} {name}：新增30分钟可达 {gain:,d} 户 / +{gain:,d} customers"
        assert _has(page, tip), tip
    assert not _has(page, "建议新增抢修站 #4")
    assert "选址建议：新增抢修站（编号为建议顺序）" in page  # the legend entry
    before, after = 100 * result.share_before, 100 * result.share_after
    assert after > before
    assert _figure(page, "新增3处抢修站：30分钟抢修可达") == f"{before:.1f}% → {after:.1f}%"


def test_the_same_workspace_and_options_give_the_same_bytes(ws, suggested_page, tmp_path):
    again = build_map(ws, tmp_path / "again.html", suggest_stations=3).read_bytes()
    assert again == suggested_page


def test_no_suggestion_by_default(ws, tmp_path, capsys):
    out = tmp_path / "plain.html"
    assert main([str(ws), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert _has(page, LAYER_NAMES["repair_stations"])
    assert not _has(page, LAYER_NAMES["suggested_stations"])
    assert "选址建议" not in page and "建议新增抢修站" not in page


@pytest.mark.parametrize("value", ["-1", "abc", "1.5"])
def test_bad_suggest_stations_is_one_line_and_exit_2(ws, tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_info:
        main([str(ws), "--suggest-stations", value, "--out", str(tmp_path / "x.html")])
    assert exit_info.value.code == 2
    _one_line_error(capsys.readouterr().err, "--suggest-stations", repr(value))
    assert not (tmp_path / "x.html").exists()


def test_more_stations_than_villages_is_one_line_and_exit_2(ws, tmp_path, capsys):
    # the sample county has 187 villages (DESIGN.md, "The sample county")
    assert main([str(ws), "--suggest-stations", "188", "--out", str(tmp_path / "x.html")]) == 2
    _one_line_error(capsys.readouterr().err, "`--suggest-stations` 188", "187 villages")
    assert not (tmp_path / "x.html").exists()


def test_suggest_stations_needs_customers(tmp_path, capsys):
    county = sample.load_sample()
    layers = {
        name: getattr(county, name)
        for name in ("county", "villages", "substations", "repair_stations")
    }
    bare = tmp_path / "bare.gpkg"
    workspace.create_workspace(bare, layers, author="test", reason="no customers")
    assert main([str(bare), "--suggest-stations", "2", "--out", str(tmp_path / "x.html")]) == 2
    _one_line_error(capsys.readouterr().err, "no `customers` layer", "--suggest-stations")


def test_build_map_checks_suggest_stations(ws, tmp_path):
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(gridgeo.InputError, match="`--suggest-stations` must be a whole"):
            build_map(ws, tmp_path / "x.html", suggest_stations=bad)


def test_bad_option_in_a_subprocess_as_a_user_sees_it(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "maps", str(tmp_path / "w.gpkg"), "--suggest-stations", "x"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    _one_line_error(proc.stderr, "--suggest-stations", "'x'")


def test_summary_as_a_mapping_or_a_file_gives_the_same_figures(ws, tmp_path, capsys):
    figures = {"customers": 12345, "reach": {"repair_share_ok": 0.5, "payment_share_ok": 0.25}}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(figures), encoding="utf-8")
    from_file = build_map(ws, tmp_path / "a.html", summary=path).read_text(encoding="utf-8")
    from_dict = build_map(ws, tmp_path / "b.html", summary=figures).read_text(encoding="utf-8")
    assert from_file == from_dict
    assert _figure(from_dict, "30分钟抢修到达率") == "50.0%"
    assert _figure(from_dict, "10分钟缴费可达率") == "25.0%"
    path.write_text("{not json", encoding="utf-8")
    assert main([str(ws), "--summary", str(path), "--out", str(tmp_path / "c.html")]) == 2
    _one_line_error(capsys.readouterr().err, "`--summary`", "summary.json")
    assert not (tmp_path / "c.html").exists()
