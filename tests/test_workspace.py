"""The county workspace: layers in a versioned store, grids built and saved in it."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse

from gridgeo import io, network, reach, sample, workspace
from gridgeo.errors import (
    ConflictError,
    DuplicateIdError,
    InputError,
    MissingColumnError,
    NotFoundError,
)
from gridgeo.store import GeoPackageStore


@pytest.fixture(scope="module")
def county():
    return sample.load_sample()


@pytest.fixture(scope="module")
def workload(county):
    # The generator's truth stands in for geocoded customers here: the grid
    # builder takes the workload as input, whoever counted it.
    return workspace.village_workload(county.customers)


@pytest.fixture
def store(tmp_path, county):
    layers = {
        name: getattr(county, name)
        for name in (
            "county",
            "towns",
            "villages",
            "substations",
            "repair_stations",
            "payment_points",
        )
    }
    roads = network.roads_from_graph(network.graph_from_roads(county.roads))
    return workspace.create_workspace(
        tmp_path / "ws.gpkg", layers, roads=roads, author="test", reason="new workspace"
    )


def test_village_workload_counts_by_hand():
    customers = pd.DataFrame(
        {
            "village_code": ["A", "A", "B", None, "A"],
            "voltage_class": ["LV", "HV", "lv", "LV", "LV"],
            "vulnerable": [True, False, False, True, True],
        }
    )
    out = workspace.village_workload(customers).set_index("village_code")
    assert out.loc["A"].to_dict() == {
        "customers": 3,
        "hv_customers": 1,
        "lv_customers": 2,
        "vulnerable": 2,
    }
    assert out.loc["B"].to_dict() == {
        "customers": 1,
        "hv_customers": 0,
        "lv_customers": 1,
        "vulnerable": 0,
    }
    assert len(out) == 2  # the customer with no village is not counted anywhere
    with pytest.raises(MissingColumnError, match="voltage_class"):
        workspace.village_workload(customers.drop(columns="voltage_class"))


def test_workspace_layers_round_trip(store, county):
    assert store.current_version("villages") == 1
    villages = store.read("villages")
    assert len(villages) == len(county.villages) == 187
    assert sorted(villages["village_code"]) == sorted(county.villages["village_code"])
    graph = workspace.read_road_graph(store)
    # the stored roads make the same graph as the sample's roads layer
    direct = network.graph_from_roads(county.roads)
    assert graph.number_of_nodes() == direct.number_of_nodes()
    assert graph.number_of_edges() == direct.number_of_edges()


def test_create_workspace_refuses_bad_layers(tmp_path, county):
    with pytest.raises(InputError, match=r"unknown layer\(s\) \['rivers'\]"):
        workspace.create_workspace(
            tmp_path / "a.gpkg",
            {"county": county.county, "rivers": county.county},
            author="a",
            reason="b",
        )
    with pytest.raises(MissingColumnError, match="substations"):
        workspace.create_workspace(
            tmp_path / "b.gpkg",
            {"county": county.county, "villages": county.villages},
            author="a",
            reason="b",
        )


@pytest.mark.slow
def test_build_save_conflict_and_restore(store, workload):
    build = workspace.build_grids(store, workload, seed=1)
    grids = build.service.grids
    v1 = workspace.save_grids(store, grids, author="规划 张三", reason="first build")
    assert v1 == 1
    # every customer counted once per tier (independent recount from the workload table)
    for tier in (1, 2, 3):
        assert grids.loc[grids["tier"] == tier, "customers"].sum() == workload["customers"].sum()

    # a second planner loaded version 1 and saves a renamed grid: version 2
    edited = grids.copy()
    edited.loc[edited["grid_id"] == grids["grid_id"].iloc[-1], "name"] = "改名网格"
    v2 = workspace.save_grids(
        store, edited, author="规划 李四", reason="rename", expected_version=v1
    )
    assert v2 == 2
    # the first planner, still on version 1, is refused and nothing changes
    with pytest.raises(ConflictError):
        workspace.save_grids(store, grids, author="规划 张三", reason="stale", expected_version=v1)
    assert store.current_version("grids") == 2

    # an edit that breaks topology is refused and leaves version 2
    broken = edited.copy()
    idx = broken.index[broken["tier"] == 3][0]
    broken.loc[idx, "geometry"] = shapely.affinity.translate(broken.loc[idx, "geometry"], 0.05)
    moved = broken.loc[idx, "grid_id"]
    with pytest.raises(InputError, match=rf"refused.*not_nested at grid '{moved}'"):
        workspace.save_grids(store, broken, author="x", reason="bad edit", expected_version=2)
    assert store.current_version("grids") == 2

    store.restore("grids", 1, author="规划 张三", reason="undo rename", expected_version=2)
    restored = store.read("grids")
    assert store.current_version("grids") == 3
    original = grids.set_index("grid_id").sort_index()
    restored = restored.set_index("grid_id").sort_index()
    assert list(restored["name"]) == list(original["name"])


@pytest.mark.slow
def test_grids_cli_build_validate_history(tmp_path, store, workload):
    workload_csv = tmp_path / "workload.csv"
    workload.to_csv(workload_csv, index=False)

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "gridgeo.cli", *args],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    ws = str(store.path)
    built = cli(
        "grids", "build", "--workspace", ws, "--workload", str(workload_csv),
        "--author", "demo", "--reason", "first build",
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    saved = gpd.read_file(ws, layer="grids")
    tier2 = saved[saved["tier"] == 2]
    # one printed line per supply grid
    for grid_id in tier2["grid_id"]:
        assert f"  {grid_id} " in built.stdout
    ok = cli("grids", "validate", "--workspace", ws)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "no topology problems" in ok.stdout
    history = cli("grids", "history", "--workspace", ws)
    assert history.returncode == 0
    assert "first build" in history.stdout
    missing = cli("grids", "history", "--workspace", str(tmp_path / "nope.gpkg"))
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "nope.gpkg" in missing.stderr


def test_road_graph_needs_a_roads_layer(tmp_path, county):
    bare = workspace.create_workspace(
        tmp_path / "bare.gpkg",
        {"county": county.county, "villages": county.villages, "substations": county.substations},
        author="a",
        reason="b",
    )
    with pytest.raises(NotFoundError, match="no `roads` layer"):
        workspace.read_road_graph(bare)
    assert isinstance(GeoPackageStore.open(bare.path), GeoPackageStore)


@pytest.mark.slow
def test_redraw_preview_save_and_restore_keep_the_roster(store, workload):
    from gridgeo import grids as grids_mod
    from gridgeo import roster

    build = workspace.build_grids(store, workload, seed=1)
    people = roster.generate_roster(build.service.grids, seed=5)
    grids = roster.apply_roster(build.service.grids, people)
    v1 = workspace.save_grids(store, grids, author="a", reason="build")

    service, version = workspace.load_service_grids(store)
    assert version == v1
    # split the tier-3 grid with the most villages
    t3 = service.grids[service.grids["tier"] == 3]
    target = t3.sort_values(["n_villages", "grid_id"]).iloc[-1]["grid_id"]
    preview = grids_mod.preview_split_grid(service, target, k=2, seed=0)
    assert preview.problems == []
    assert store.current_version("grids") == v1  # a preview saves nothing
    new_ids = set(preview.grids["grid_id"]) - set(grids["grid_id"])
    assert len(new_ids) == 1
    v2 = workspace.save_grids(
        store, preview.grids, author="b", reason="split", expected_version=version
    )
    saved = store.read("grids").set_index("grid_id")
    # the people of every grid that existed before are still there; the new grid has none
    before = grids.set_index("grid_id")
    for grid_id in before.index:
        assert saved.loc[grid_id, "manager"] == before.loc[grid_id, "manager"]
    new_manager = saved.loc[next(iter(new_ids)), "manager"]
    assert pd.isna(new_manager) or new_manager == ""
    changes = store.compare("grids", v1, v2)
    assert set(changes.loc[changes["change"] == "added", "grid_id"]) == new_ids
    store.restore("grids", v1, author="c", reason="undo split", expected_version=v2)
    assert set(store.read("grids")["grid_id"]) == set(grids["grid_id"])


@pytest.mark.slow
def test_grids_edit_cli_previews_then_saves(tmp_path, store, workload):
    build = workspace.build_grids(store, workload, seed=1)
    workspace.save_grids(store, build.service.grids, author="a", reason="build")
    t3 = build.service.grids[build.service.grids["tier"] == 3].sort_values("grid_id")
    # two tier-3 grids of one supply grid that share a border (in metres, independently)
    metric = t3.to_crs(4548).set_index("grid_id")
    pair = next(
        [a, b]
        for a in metric.index
        for b in metric.index
        if a < b
        and t3.set_index("grid_id").loc[a, "parent_id"]
        == t3.set_index("grid_id").loc[b, "parent_id"]
        and metric.loc[a, "geometry"].intersection(metric.loc[b, "geometry"]).length > 100
    )

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "gridgeo.cli", "grids", "edit", *args],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    ws = str(store.path)
    preview = cli("merge", "--workspace", ws, "--grids", ",".join(pair))
    assert preview.returncode == 0, preview.stderr
    assert "nothing saved yet" in preview.stdout
    assert store.current_version("grids") == 1
    saved = cli("merge", "--workspace", ws, "--grids", ",".join(pair), "--save",
                "--author", "张", "--reason", "合并")  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    assert store.current_version("grids") == 2
    assert pair[1] not in set(store.read("grids")["grid_id"])
    unknown = cli("move", "--workspace", ws, "--villages", "nope", "--to", pair[0])
    assert unknown.returncode == 2
    assert "nope" in unknown.stderr and "Traceback" not in unknown.stderr
    no_author = cli("split", "--workspace", ws, "--grid", pair[0], "--save")
    assert no_author.returncode == 2 and "--author" in no_author.stderr


def test_reach_kpi_function_follows_positions_into_new_grids(store, workload):
    from gridgeo import grids as grids_mod

    service = workspace.build_grids(store, workload, seed=1).service
    t3 = service.grids[service.grids["tier"] == 3].set_index("grid_id")
    # two villages of two different tier-3 grids
    codes = service.cells["village_code"].astype(str)
    grid_of = pd.Series(service.village_grid.to_numpy(), index=codes)
    a = codes.iloc[0]
    b = next(c for c in codes if grid_of[c] != grid_of[a])
    cell = service.cells.set_index(codes).geometry
    inside_a, inside_b = cell[a].representative_point(), cell[b].representative_point()
    # four customers in a's cell, one in b's, one with no position (in no grid); the village
    # code says nothing: the position decides (the fourth customer names village b)
    customers = gpd.GeoDataFrame(
        {"village_code": [a, a, a, b, b, None]},
        geometry=[inside_a, inside_a, inside_a, inside_a, inside_b, None],
        crs="EPSG:4326",
    )
    access = pd.DataFrame(
        {
            "repair_ok": [True, True, True, False, False, True],
            "payment_ok": [True, False, None, False, True, True],  # None: not within
        }
    )
    kpis = workspace.reach_kpi_function(customers, access)
    before = kpis(service)
    assert before.loc[grid_of[a], "repair_ok_pct"] == pytest.approx(75.0)  # 3 of 4
    assert before.loc[grid_of[a], "payment_ok_pct"] == pytest.approx(25.0)  # 1 of 4
    assert before.loc[grid_of[b], "repair_ok_pct"] == pytest.approx(0.0)
    county_id = service.grids.loc[service.grids["tier"] == 1, "grid_id"].iloc[0]
    assert before.loc[county_id, "repair_ok_pct"] == pytest.approx(60.0)  # 3 of 5 in grids
    # moving village b into a's grid: that grid now answers for the five customers in grids
    preview = grids_mod.preview_move_villages(service, [b], grid_of[a], kpis=kpis)
    row = preview.kpi_diff.loc[grid_of[a]]
    assert row["repair_ok_pct_after"] == pytest.approx(60.0)
    assert row["payment_ok_pct_after"] == pytest.approx(40.0)
    assert t3.loc[grid_of[a], "tier"] == 3
    with pytest.raises(InputError, match="share their index"):
        workspace.reach_kpi_function(customers, access.iloc[::-1])


def test_access_for_customers_counts_missing_rows_as_not_within():
    customers = gpd.GeoDataFrame(
        {"customer_id": ["c1", "c2", "c3"]},
        geometry=[shapely.Point(116.5, 27.2), shapely.Point(116.6, 27.2), None],
        index=[10, 11, 12],
        crs="EPSG:4326",
    )
    access = pd.DataFrame(
        {
            "customer_id": ["c3", "c1", "gone"],  # c2 has no row; "gone" left the archive
            "repair_eta_s": [2000.0, 600.0, 100.0],
            "repair_ok": [False, True, True],
            "payment_ok": [True, True, True],
            "reason": ["over_limit", "ok", "ok"],
        }
    )
    out = workspace.access_for_customers(customers, access)
    assert out.index.tolist() == [10, 11, 12]
    assert out["customer_id"].tolist() == ["c1", "c2", "c3"]
    assert out["repair_ok"].tolist() == [True, False, False]
    assert out["payment_ok"].tolist() == [True, False, True]
    assert out["reason"].tolist() == ["ok", "not_computed", "over_limit"]
    assert np.isnan(out.loc[11, "repair_eta_s"])
    assert out.geometry.iloc[1] == shapely.Point(116.6, 27.2)
    # by hand: 1 of 3 customers within the repair promise, 2 of 3 within payment
    assert out["repair_ok"].mean() == pytest.approx(1 / 3)
    with pytest.raises(DuplicateIdError, match="c1"):
        workspace.access_for_customers(customers, pd.concat([access, access.iloc[[1]]]))
    with pytest.raises(MissingColumnError, match="payment_ok"):
        workspace.access_for_customers(customers, access.drop(columns="payment_ok"))


def test_read_access_needs_both_layers(store):
    with pytest.raises(NotFoundError, match="no `customers` layer"):
        workspace.read_access(store)


@pytest.mark.slow
def test_workspace_init_cli_from_the_countys_own_files(tmp_path, county):
    from gridgeo import crs

    # the county polygon as Amap publishes it (GCJ-02), villages as a CSV with lon/lat,
    # substations as GeoJSON, roads as a GeoPackage layer
    gcj = county.county.copy()
    gcj["geometry"] = gcj.geometry.apply(
        lambda g: shapely.transform(g, lambda xy: np.column_stack(crs.wgs84_to_gcj02(*xy.T)))
    )
    gcj.to_file(tmp_path / "county_gcj02.geojson")
    villages = county.villages.drop(columns="geometry").assign(
        lon=county.villages.geometry.x, lat=county.villages.geometry.y
    )
    villages.to_csv(tmp_path / "villages.csv", index=False)
    county.substations.to_file(tmp_path / "substations.geojson")
    county.roads.to_file(tmp_path / "roads.gpkg", layer="roads")

    out = tmp_path / "ws.gpkg"
    proc = subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "workspace", "init", str(out),
         "--county", str(tmp_path / "county_gcj02.geojson"), "--county-datum", "gcj02",
         "--villages", str(tmp_path / "villages.csv"),
         "--substations", str(tmp_path / "substations.geojson"),
         "--roads", str(tmp_path / "roads.gpkg"),
         "--author", "规划 张三", "--reason", "新建工作区"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    store = GeoPackageStore.open(out)
    assert len(store.read("villages")) == 187
    # the GCJ-02 polygon came back to WGS84 within centimetres of the original
    back = store.read("county").to_crs(4548).geometry.iloc[0]
    orig = county.county.to_crs(4548).geometry.iloc[0]
    assert back.hausdorff_distance(orig) < 0.05
    assert workspace.read_road_graph(store).number_of_nodes() > 1000

    missing = subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "workspace", "init", str(tmp_path / "b.gpkg"),
         "--county", str(tmp_path / "county_gcj02.geojson"),
         "--villages", str(tmp_path / "substations.geojson"),
         "--substations", str(tmp_path / "substations.geojson"),
         "--author", "a", "--reason", "b"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "village_code" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "b.gpkg").exists()


def _containing_t3(points: gpd.GeoSeries, grids: gpd.GeoDataFrame) -> list:
    """The tier-3 grid whose polygon covers each point, by brute force (None if none)."""
    t3 = grids[grids["tier"] == 3].sort_values("grid_id")
    out = []
    for p in points:
        hits = [g for g, poly in zip(t3["grid_id"], t3.geometry, strict=True) if poly.covers(p)]
        out.append(hits[0] if hits else None)
    return out


def test_grid_edits_move_the_customers_with_them(store, workload, county):
    from gridgeo import grids as grids_mod

    v1 = workspace.save_grids(
        store, workspace.build_grids(store, workload, seed=1).service.grids, author="a", reason="b"
    )
    columns = ["customer_id", "village_code", "voltage_class", "vulnerable", "geometry"]
    people = county.customers.sample(3000, random_state=3)[columns]
    assigned = grids_mod.assign_to_grids(people.geometry, store.read("grids"))
    customers = people.join(assigned).reset_index(drop=True)
    store.add_layer("customers", customers, key="customer_id", author="a", reason="import")
    service, version = workspace.load_service_grids(store)
    # the editable grids count the customers their polygons hold, by the customers' points
    # (brute force below), not by the customers' village codes
    by_point = pd.Series(_containing_t3(customers.geometry, store.read("grids"))).value_counts()
    t3_counts = service.grids.loc[service.grids["tier"] == 3].set_index("grid_id")["customers"]
    assert t3_counts.to_dict() == {g: by_point.get(g, 0) for g in t3_counts.index}
    t3 = service.grids[service.grids["tier"] == 3]
    target = t3.sort_values(["n_villages", "grid_id"]).iloc[-1]["grid_id"]
    split = grids_mod.preview_split_grid(service, target, k=2, seed=0).grids
    (new_id,) = set(split["grid_id"]) - set(service.grids["grid_id"])

    # a stale split is refused and neither layer moves
    with pytest.raises(ConflictError):
        workspace.save_grids(store, split, author="b", reason="split", expected_version=v1 - 1)
    assert store.current_version("customers") == 1

    v2 = workspace.save_grids(store, split, author="b", reason="split", expected_version=version)
    assert store.current_version("customers") == 2
    after = store.read("customers").set_index("customer_id").loc[customers["customer_id"]]
    grids_v2 = store.read("grids")
    assert after["grid_t3"].tolist() == _containing_t3(after.geometry, grids_v2)
    assert (after["grid_t3"] == new_id).sum() > 0
    parent = dict(zip(grids_v2["grid_id"], grids_v2["parent_id"], strict=True))
    placed = after["grid_t3"].notna()
    assert (after.loc[placed, "grid_t2"] == after.loc[placed, "grid_t3"].map(parent)).all()
    last = store.list_versions("customers").iloc[-1]
    assert (last["author"], last["reason"]) == ("b", "split")

    # restoring the grids brings the customers back into the old grids, in one step
    workspace.restore_grids(store, v1, expected_version=v2, author="c", reason="undo")
    back = store.read("customers").set_index("customer_id").loc[customers["customer_id"]]
    assert back["grid_t3"].tolist() == customers["grid_t3"].tolist()
    assert store.current_version("customers") == 3
    assert store.list_versions("grids").iloc[-1]["restored_from"] == v1


# --------------------------------------------------------------------------- roads stored by mode

OSM_EXTRACTS = [
    "andorra_graphhopper.osm.pbf",
    pytest.param("heidelberg_ors_test.osm.pbf", marks=pytest.mark.slow),  # 46k nodes: ~1 min
    "north-bayreuth_graphhopper.osm.gz",
    "osm_shanghai_huangpu_drive.osm",
]


def osm_workspace(path, bounds, roads=None) -> GeoPackageStore:
    """A workspace around an OSM extract: a county box a little larger than ``bounds``, one
    village and one substation in the middle."""
    minx, miny, maxx, maxy = bounds
    middle = shapely.Point((minx + maxx) / 2, (miny + maxy) / 2)
    crs = "EPSG:4326"
    layers = {
        "county": gpd.GeoDataFrame(
            {"adcode": ["000000"], "name": ["test"]},
            geometry=[shapely.box(minx - 0.01, miny - 0.01, maxx + 0.01, maxy + 0.01)],
            crs=crs,
        ),
        "villages": gpd.GeoDataFrame(
            {"village_code": ["V1"], "village": ["v"]}, geometry=[middle], crs=crs
        ),
        "substations": gpd.GeoDataFrame(
            {"substation_id": ["S1"], "name": ["s"]}, geometry=[middle], crs=crs
        ),
    }
    return workspace.create_workspace(path, layers, roads=roads, author="test", reason="roads")


def pairs_and_times(G) -> tuple[list[tuple], np.ndarray]:
    """The edges' node pairs, sorted, and their travel times in the same order."""
    edges = sorted((u, v, d["travel_time"]) for u, v, d in G.edges(data=True))
    return [e[:2] for e in edges], np.array([e[2] for e in edges])


def assert_same_edges(G, want) -> None:
    pairs, times = pairs_and_times(G)
    want_pairs, want_times = pairs_and_times(want)
    assert len(pairs) == want.number_of_edges()
    assert pairs == want_pairs
    assert np.abs(times - want_times).max() < 1e-6


@pytest.mark.parametrize("name", OSM_EXTRACTS)
def test_each_mode_of_an_osm_workspace_has_exactly_the_edges_of_graph_from_osm(
    tmp_path, roads_dir, name
):
    osm = roads_dir / name
    roads = network.roads_from_osm(osm)
    store = osm_workspace(tmp_path / "ws.gpkg", roads.total_bounds, roads)
    for mode in network.MODES:
        want = network.graph_from_osm(osm, mode=mode)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a workspace of this version: no upgrade message
            graph = workspace.read_road_graph(store, mode=mode)
            engine = workspace.read_reach_engine(store, mode=mode)
        assert_same_edges(graph, want)
        # the engine: node i is node i of the graph of the same roads (ReachEngine.from_roads
        # answers as ReachEngine(graph_from_roads(...))); its matrix holds the least time of
        # the parallel edges of graph_from_osm
        index = pd.Index(list(graph.nodes))
        n = len(index)
        assert engine.n_nodes == n == len(want)
        assert engine.n_edges == want.number_of_edges()
        least = (
            pd.DataFrame(
                [(u, v, t) for u, v, t in want.edges(data="travel_time")], columns=["u", "v", "t"]
            )
            .groupby(["u", "v"])["t"]
            .min()
        )
        rows = index.get_indexer(least.index.get_level_values("u"))
        cols = index.get_indexer(least.index.get_level_values("v"))
        assert (rows >= 0).all() and (cols >= 0).all()
        expected = sparse.csr_matrix((least.to_numpy(), (rows, cols)), shape=(n, n))
        expected.sort_indices()
        got = engine.matrix().copy()
        got.sort_indices()
        assert np.array_equal(got.indptr, expected.indptr)
        assert np.array_equal(got.indices, expected.indices)
        assert np.abs(got.data - expected.data).max() < 1e-6


def test_the_payment_engine_of_an_osm_workspace_has_the_paths_a_truck_cannot_use(
    tmp_path, roads_dir
):
    osm = roads_dir / "andorra_graphhopper.osm.pbf"
    roads = network.roads_from_osm(osm)
    store = osm_workspace(tmp_path / "ws.gpkg", roads.total_bounds, roads)
    truck = {frozenset(e) for e in workspace.read_road_graph(store, mode="drive").edges()}
    bike = network.graph_from_osm(osm, mode=reach.DEFAULT_PAYMENT_MODE)
    main = {n for n, c in bike.nodes(data="component") if c == 0}
    paths = [
        (d["length"], u, v, d["geometry"])
        for u, v, d in bike.edges(data=True)
        if d["highway"] in ("path", "track", "footway", "cycleway")
        and u != v
        and {u, v} <= main
        and frozenset((u, v)) not in truck
    ]
    assert len(paths) > 10
    _, u, v, line = max(paths)  # the longest: a point in its middle is on it alone
    point = gpd.GeoSeries([line.interpolate(0.5, normalized=True)], crs="EPSG:4326")
    engines = reach.engines_from_roads(workspace.read_roads(store))
    on_payment = engines["payment"].snap(point).iloc[0]
    assert {on_payment["u"], on_payment["v"]} == {u, v}
    assert on_payment["snap_m"] < 0.1
    on_repair = engines["repair"].snap(point).iloc[0]
    assert {on_repair["u"], on_repair["v"]} != {u, v}
    assert not on_repair["snap_m"] <= 1  # no truck road within 1 m (NaN: none within reach)


def test_a_workspace_with_the_drive_roads_of_an_older_gridgeo_warns_and_is_upgraded(
    tmp_path, roads_dir
):
    osm = roads_dir / "andorra_graphhopper.osm.pbf"
    drive = network.graph_from_osm(osm, mode="drive")
    bike = network.graph_from_osm(osm, mode="two_wheeler")
    # what the older gridgeo stored: the drive graph as a plain roads layer; the county holds
    # every drive and two-wheeler road, so that clipping to it keeps them all
    old = network.roads_from_graph(drive)
    bounds = pd.concat([old, network.roads_from_graph(bike)]).total_bounds
    store = osm_workspace(tmp_path / "old.gpkg", bounds)
    io.write_layer(old, store.path, workspace.ROADS_LAYER)
    assert not network.has_mode_columns(workspace.read_roads(store))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # drive roads are what it holds: read as before
        assert_same_edges(workspace.read_road_graph(store, mode="drive"), drive)
    upgrade = re.escape(f"`gridgeo roads import FILE --workspace {store.path}`")
    with pytest.warns(UserWarning, match=r"older gridgeo, drive roads only.*" + upgrade):
        engine = workspace.read_reach_engine(store, mode="two_wheeler")
    assert engine.n_edges < bike.number_of_edges()
    with pytest.warns(UserWarning, match=upgrade):
        workspace.read_road_graph(store, mode="walk")

    # the command the message names puts every mode's roads in, clipped to the county
    proc = subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "roads", "import", str(osm),
         "--workspace", str(store.path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"roads of workspace {store.path} replaced" in proc.stdout
    assert network.has_mode_columns(workspace.read_roads(store))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same_edges(workspace.read_road_graph(store, mode="two_wheeler"), bike)
        assert_same_edges(workspace.read_road_graph(store, mode="drive"), drive)


def test_a_plain_roads_layer_is_stored_by_mode(tmp_path, county):
    # the sample's generated roads have no OSM tags: the highway-class rules make every mode's
    # roads, and each mode's graph is the one the plain layer makes
    store = osm_workspace(tmp_path / "ws.gpkg", county.roads.total_bounds, county.roads)
    stored = workspace.read_roads(store)
    assert network.has_mode_columns(stored) and len(stored) == len(county.roads)
    for mode in network.MODES:
        assert_same_edges(
            workspace.read_road_graph(store, mode=mode),
            network.graph_from_roads(county.roads, mode=mode),
        )
    with pytest.raises(NotFoundError, match="gridgeo roads import FILE --workspace"):
        workspace.read_roads(osm_workspace(tmp_path / "bare.gpkg", county.roads.total_bounds))
