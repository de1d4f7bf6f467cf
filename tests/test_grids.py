"""Tests of gridgeo.grids on hand-checkable cases and the sample county.

The hand cases live in EPSG:4548 (CGCS2000 Gauss-Krüger CM 117E, the metric CRS
gridgeo picks for a county at 117.05 E): a 10 km square county whose 16 villages
sit on a 4 x 4 lattice, so their Voronoi cells are the 2.5 km squares around them.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from handgraphs import TOL_S, WALK_MPS, frame, hand_graph
from scipy import sparse

from gridgeo import grids as gg
from gridgeo.crs import metric_crs
from gridgeo.errors import (
    CRSError,
    DuplicateIdError,
    EmptyDataError,
    GraphError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
    NotFoundError,
)
from gridgeo.reach import repair_reach
from gridgeo.routing import ReachEngine

CRS_M = "EPSG:4548"
X0, Y0 = 500_000.0, 2_950_000.0  # on the central meridian, ~26.65 N
SIDE_M = 10_000.0
STEP_M = 2_500.0
REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "sample_data" / "nanfeng"

# workload (customers) of village V(i, j), i = column (west -> east), j = row (south -> north)
CUSTOMERS = np.array(
    [
        [120, 80, 95, 60],
        [70, 150, 40, 110],
        [90, 65, 130, 55],
        [100, 45, 75, 85],
    ]
)  # CUSTOMERS[i, j]


def _m(geoms, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=CRS_M)


def _code(i: int, j: int) -> str:
    return f"V{i}{j}"


def _lattice_xy(i: int, j: int) -> tuple[float, float]:
    return X0 + 1250.0 + STEP_M * i, Y0 + 1250.0 + STEP_M * j


LATTICE = [(i, j) for j in range(4) for i in range(4)]  # row order of the villages frame


def _county() -> gpd.GeoDataFrame:
    return _m([shapely.box(X0, Y0, X0 + SIDE_M, Y0 + SIDE_M)], adcode=["999999"], name=["方县"])


def _villages() -> gpd.GeoDataFrame:
    pts = [shapely.Point(_lattice_xy(i, j)) for i, j in LATTICE]
    return _m(pts, village_code=[_code(i, j) for i, j in LATTICE]).to_crs(4326)


def _workload() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "village_code": [_code(i, j) for i, j in LATTICE],
            "customers": [int(CUSTOMERS[i, j]) for i, j in LATTICE],
            "hv_customers": [1 if i == j else 0 for i, j in LATTICE],
            "vulnerable": [j for _, j in LATTICE],
        }
    )


# Substations have their own road nodes, each joined to one lattice village.
SUBSTATIONS = {
    "A": (X0 + 1000.0, Y0 + 8750.0, (0, 3)),  # west of V03
    "B": (X0 + 8750.0, Y0 + 9000.0, (3, 3)),  # north of V33
    "C": (X0 + 9000.0, Y0 + 1250.0, (3, 0)),  # east of V30
}
SLOW_KPH = 20.0
FAST_KPH = 100.0


def _substations() -> gpd.GeoDataFrame:
    return _m(
        [shapely.Point(x, y) for x, y, _ in SUBSTATIONS.values()],
        substation_id=list(SUBSTATIONS),
        name=["甲变", "乙变", "丙变"],
        voltage_kv=[110.0, 35.0, 35.0],
    ).to_crs(4326)


def _graph() -> nx.MultiDiGraph:
    """Slow 20 km/h tracks between lattice neighbours; a 100 km/h road from C to V00."""
    pts = {_code(i, j): _lattice_xy(i, j) for i, j in LATTICE}
    pts.update({s: (x, y) for s, (x, y, _) in SUBSTATIONS.items()})
    names = list(pts)
    lon, lat = (
        gpd.GeoSeries([shapely.Point(pts[n]) for n in names], crs=CRS_M)
        .to_crs(4326)
        .get_coordinates()
        .T.to_numpy()
    )
    G = nx.MultiDiGraph(crs="EPSG:4326")
    for n, x, y in zip(names, lon, lat, strict=True):
        G.add_node(n, x=x, y=y)

    def road(a: str, b: str, kph: float) -> None:
        length = float(np.hypot(*np.subtract(pts[a], pts[b])))
        for u, v in ((a, b), (b, a)):
            G.add_edge(u, v, length=length, travel_time=length / (kph / 3.6))

    for i, j in LATTICE:
        if i < 3:
            road(_code(i, j), _code(i + 1, j), SLOW_KPH)
        if j < 3:
            road(_code(i, j), _code(i, j + 1), SLOW_KPH)
    for s, (_, _, (i, j)) in SUBSTATIONS.items():
        road(s, _code(i, j), SLOW_KPH)
    road("C", "V00", FAST_KPH)
    return G


def _rook(n_cols: int, n_rows: int) -> sparse.csr_matrix:
    """Rook adjacency of a lattice whose node id is i + n_cols * j."""
    g = nx.grid_2d_graph(n_cols, n_rows)
    order = [(i, j) for j in range(n_rows) for i in range(n_cols)]
    return nx.to_scipy_sparse_array(g, nodelist=order, format="csr")


# --------------------------------------------------------------------------- #
# cells and adjacency


def test_village_cells_are_the_lattice_squares():
    cells = gg.village_cells(_county(), _villages())
    assert list(cells.index) == list(_villages().index)
    cm = cells.to_crs(CRS_M)
    for (i, j), geom in zip(LATTICE, cm.geometry, strict=True):
        x, y = _lattice_xy(i, j)
        square = shapely.box(x - 1250, y - 1250, x + 1250, y + 1250)
        assert shapely.area(shapely.symmetric_difference(geom, square)) < 0.01
    assert cm.area.sum() == pytest.approx(SIDE_M**2, abs=1.0)


def test_village_polygon_used_where_given():
    # V00 owns its square and the west half of V10's: 3750 m x 2500 m
    poly = _m([shapely.box(X0, Y0, X0 + 3750, Y0 + 2500)], village_code=["V00"])
    cells = gg.village_cells(_county(), _villages(), village_polygons=poly).to_crs(CRS_M)
    by_code = dict(zip(cells["village_code"], cells.geometry, strict=True))
    assert by_code["V00"].area == pytest.approx(3750 * 2500, abs=1)
    assert by_code["V10"].area == pytest.approx(1250 * 2500, abs=1)
    assert cells.area.sum() == pytest.approx(SIDE_M**2, abs=1.0)
    # a polygon that swallows another village's whole cell leaves it nothing
    poly = _m([shapely.box(X0, Y0, X0 + 5000, Y0 + 2500)], village_code=["V00"])
    with pytest.raises(InputError, match="V10"):
        gg.village_cells(_county(), _villages(), village_polygons=poly)
    with pytest.raises(NotFoundError, match="'V77'"):
        gg.village_cells(_county(), _villages(), village_polygons=poly.assign(village_code="V77"))


def test_village_polygon_with_cell_left_elsewhere():
    # V00 gets a 1 km square in its corner; the rest of its square goes to its Voronoi
    # cell (V00 keeps the part of its Voronoi cell no polygon takes)
    poly = _m([shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)], village_code=["V00"])
    cells = gg.village_cells(_county(), _villages(), village_polygons=poly).to_crs(CRS_M)
    assert cells.area.sum() == pytest.approx(SIDE_M**2, abs=1.0)
    assert cells.geometry.iloc[0].area == pytest.approx(STEP_M**2, abs=1.0)


def test_village_adjacency_is_rook_with_shared_lengths():
    cells = gg.village_cells(_county(), _villages())
    adj = gg.village_adjacency(cells)
    expected = _rook(4, 4)
    assert (adj != 0).toarray().tolist() == (expected != 0).toarray().tolist()
    assert np.allclose(adj.data, STEP_M, atol=0.01)


def test_village_cells_refuse_shared_points():
    v = _villages()
    v.loc[1, "geometry"] = v.geometry.iloc[0]
    with pytest.raises(InputError, match="share a point"):
        gg.village_cells(_county(), v)


def test_village_cells_refuse_no_crs_and_duplicates():
    with pytest.raises(CRSError, match="no CRS"):
        gg.village_cells(_county().set_crs(None, allow_override=True), _villages())
    v = _villages()
    v.loc[1, "village_code"] = "V00"
    with pytest.raises(DuplicateIdError, match="V00"):
        gg.village_cells(_county(), v)
    with pytest.raises(MissingColumnError, match="village_code"):
        gg.village_cells(_county(), _villages().rename(columns={"village_code": "code"}))
    with pytest.raises(EmptyDataError, match="no rows"):
        gg.village_cells(_county(), _villages().iloc[:0])


def test_concave_county_fragment_goes_to_neighbour():
    # An L-shaped county: the Voronoi cell of the village in the lower arm also reaches
    # across the notch into the upper arm; that detached piece must join a neighbour.
    county = _m([shapely.Polygon([(X0, Y0), (X0 + 10000, Y0), (X0 + 10000, Y0 + 2000),
                                  (X0 + 2000, Y0 + 2000), (X0 + 2000, Y0 + 10000),
                                  (X0, Y0 + 10000)])])  # fmt: skip
    pts = [(X0 + 1000, Y0 + 9000), (X0 + 1000, Y0 + 1000), (X0 + 9000, Y0 + 1000),
           (X0 + 4000, Y0 + 2500)]  # fmt: skip
    # the last point is outside the L, above the arm; its Voronoi cell covers parts of
    # both arms only by crossing the notch
    villages = _m([shapely.Point(p) for p in pts], village_code=["N", "SW", "E", "X"])
    cells = gg.village_cells(county, villages).to_crs(CRS_M)
    assert cells.area.sum() == pytest.approx(county.area.iloc[0], abs=1.0)
    for g in cells.geometry:
        assert shapely.get_num_geometries(g) == 1


# --------------------------------------------------------------------------- #
# tier 2


def _nx_nearest() -> dict[str, str]:
    """Independent answer: NetworkX Dijkstra from each substation node."""
    G = _graph()
    times = {
        s: nx.single_source_dijkstra_path_length(G, s, weight="travel_time") for s in SUBSTATIONS
    }
    out = {}
    for i, j in LATTICE:
        c = _code(i, j)
        ranked = sorted((times[s][c], s) for s in SUBSTATIONS)
        assert ranked[0][0] < ranked[1][0] - 1  # no ties in this hand case
        out[c] = ranked[0][1]
    return out


def test_network_assignment_matches_networkx_and_hand():
    got = gg.assign_villages_to_substations(_villages(), _substations(), graph=_graph())
    assert list(got.index) == list(_villages().index)
    assert dict(zip(_villages()["village_code"], got, strict=True)) == _nx_nearest()
    by_code = dict(zip(_villages()["village_code"], got, strict=True))
    # V00 at (1250, 1250): to A by track 45 s + 3 x 450 s = 1395 s, to C by the fast
    # road 7750 m at 100 km/h = 279 s -> C, although A is nearer in a straight line
    # (7504 m vs 7750 m).
    assert by_code["V00"] == "C"
    # V03 sits next to A: 45 s
    assert by_code["V03"] == "A"
    assert by_code["V33"] == "B"


def test_voronoi_assignment_is_straight_line_nearest():
    got = gg.assign_villages_to_substations(_villages(), _substations(), method="voronoi")
    subs = np.array([(x, y) for x, y, _ in SUBSTATIONS.values()])
    expected = {}
    for i, j in LATTICE:
        d = np.hypot(*(subs - np.array(_lattice_xy(i, j))).T)
        expected[_code(i, j)] = list(SUBSTATIONS)[int(np.argmin(d))]
    assert dict(zip(_villages()["village_code"], got, strict=True)) == expected
    assert expected["V00"] == "A"  # the other answer than by road


def test_network_parallel_edges_take_the_fastest():
    G = _graph()
    # a second, slow parallel edge C -> V00 must not hide the fast one
    G.add_edge("C", "V00", length=7750.0, travel_time=99_999.0)
    got = gg.assign_villages_to_substations(_villages(), _substations(), graph=G)
    assert got.iloc[0] == "C"


def test_unreachable_village_falls_back_with_warning():
    G = _graph()
    # cut V00 off entirely
    G.remove_edges_from([e for e in list(G.edges(keys=True)) if "V00" in e[:2]])
    with pytest.warns(UserWarning, match="1 village"):
        got = gg.assign_villages_to_substations(_villages(), _substations(), graph=G)
    assert got.iloc[0] == "A"  # straight-line nearest


def test_assignment_errors():
    with pytest.raises(InputError, match="method"):
        gg.assign_villages_to_substations(_villages(), _substations(), method="rail")
    with pytest.raises(InputError, match="needs the road `graph`"):
        gg.assign_villages_to_substations(_villages(), _substations())
    G = _graph()
    for _, _, d in G.edges(data=True):
        del d["travel_time"]
    with pytest.raises(GraphError, match="travel_time"):
        gg.assign_villages_to_substations(_villages(), _substations(), graph=G)
    G = _graph()
    G.graph.pop("crs")
    # the routing engine refuses a graph with no CRS (data with no CRS is a CRSError)
    with pytest.raises(CRSError, match="crs"):
        gg.assign_villages_to_substations(_villages(), _substations(), graph=G)
    with pytest.raises(GraphError, match="ReachEngine or a NetworkX road graph"):
        gg.assign_villages_to_substations(_villages(), _substations(), graph="roads.gpkg")
    subs = _substations()
    subs.loc[1, "substation_id"] = "A"
    with pytest.raises(DuplicateIdError, match="substation_id"):
        gg.assign_villages_to_substations(_villages(), subs, method="voronoi")


# A village beside the middle of a long road whose nearest NODE is the end of a branch of
# another substation (metres in GK, 60 km/h = 60 s per km, hand_graph of tests/handgraphs.py):
#
#   D (5000, 3000) = substation S2 ---- 5000 m, 300 s ---- E (10000, 3000)
#   |  2750 m, 165 s                                        |  3000 m, 180 s
#   C (5000, 250)     village V (5000, 100)                 |
#   A (0, 0) = substation S1 ----- M (5000, 0) ---- 10000 m, 600 s ---- B (10000, 0)
#
# Nearest node of V: C, 150 m (A and B are 5001 m away, D 2900 m); nearest edge: A-B at M,
# 100 m (C-D is 150 m away at C). Through the nearest node (the old rule) S2 reaches C in 165 s
# and S1 only in 600 + 180 + 300 + 165 = 1245 s: S2. Through the nearest edge (reach's rule)
# S1 reaches M in 300 s and S2 in 300 + 180 + 300 = 780 s, each plus V's walk of 100 m at
# 1.25 m/s = 80 s: S1 in 380 s, S2 in 860 s. In straight line S2 (3150 m) beats S1 (5001 m).
BRANCH_NODES = {
    "A": (0.0, 0.0),
    "B": (10_000.0, 0.0),
    "C": (5000.0, 250.0),
    "D": (5000.0, 3000.0),
    "E": (10_000.0, 3000.0),
}
BRANCH_EDGES = [
    ("A", "B", 600.0, True),
    ("C", "D", 165.0, True),
    ("D", "E", 300.0, True),
    ("E", "B", 180.0, True),
]


def _branch_case() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, nx.MultiDiGraph]:
    villages = frame(["V"], (5000.0, 100.0), column="village_code")
    subs = frame(["S1", "S2"], BRANCH_NODES["A"], BRANCH_NODES["D"], column="substation_id")
    return villages, subs, hand_graph(BRANCH_NODES, BRANCH_EDGES)


def test_branch_case_nearest_node_and_edge_disagree():
    # the case does what its comment says, checked without gridgeo: NetworkX Dijkstra from the
    # substations' nodes to V's nearest node, and shapely distances in GK
    villages, subs, G = _branch_case()
    v = shapely.Point(5000.0, 100.0)
    node_d = {n: v.distance(shapely.Point(xy)) for n, xy in BRANCH_NODES.items()}
    assert min(node_d, key=node_d.get) == "C" and node_d["C"] == pytest.approx(150.0)
    line = {
        (u, w): shapely.LineString([BRANCH_NODES[u], BRANCH_NODES[w]]) for u, w, *_ in BRANCH_EDGES
    }
    edge_d = {k: v.distance(g) for k, g in line.items()}
    assert min(edge_d, key=edge_d.get) == ("A", "B") and edge_d[("A", "B")] == pytest.approx(100.0)
    to_c = {s: nx.shortest_path_length(G, n, "C", weight="travel_time") for s, n in
            (("S1", "A"), ("S2", "D"))}  # fmt: skip
    assert to_c == {"S1": pytest.approx(1245.0), "S2": pytest.approx(165.0)}
    straight = gg.assign_villages_to_substations(villages, subs, method="voronoi")
    assert straight.tolist() == ["S2"]


def test_network_assignment_snaps_to_the_nearest_edge_as_reach_does():
    villages, subs, G = _branch_case()
    got = gg.assign_villages_to_substations(villages, subs, graph=G)
    assert got.tolist() == ["S1"]  # by hand above: 380 s against 860 s
    # reach with the substations as repair stations picks the same, at the hand time
    engine = ReachEngine(G)
    reach = repair_reach(engine, villages, subs, id_column="substation_id")
    assert reach["repair_station_id"].tolist() == ["S1"]
    assert reach["repair_eta_s"].iloc[0] == pytest.approx(300.0 + 100.0 / WALK_MPS, abs=TOL_S)
    # an engine is accepted where the graph is, with the same answer
    assert gg.assign_villages_to_substations(villages, subs, graph=engine).tolist() == ["S1"]


def test_network_assignment_substation_far_from_road_warns():
    # S3 stands 2 km north of E, farther than max_snap_m (500 m) from every road: it reaches
    # no village by road; V still goes to S1
    villages, subs, G = _branch_case()
    far = frame(["S3"], (10_000.0, 5000.0), column="substation_id")
    subs = pd.concat([subs, far], ignore_index=True)
    with pytest.warns(UserWarning, match=r"\['S3'\] are farther than 500 m"):
        got = gg.assign_villages_to_substations(villages, subs, graph=G)
    assert got.tolist() == ["S1"]


def test_villages_without_road_time_go_to_straight_line_nearest():
    # W at (7500, 1500) is 1500 m from A-B and D-E and 2500 m from C-D and E-B, all beyond
    # max_snap_m (500 m); in straight line S2 at (5000, 3000) is hypot(2500, 1500) = 2915 m
    # away, S1 hypot(7500, 1500) = 7649 m -> S2.
    # X at (2500, -1990) is 10 m from a separate two-node road F (2000, -2000) - G (3000,
    # -2000), a small isolated piece no substation is on, and 1990 m from A-B: it stays on
    # the piece, unreached; in straight line S1 is hypot(2500, 1990) = 3195 m away, S2
    # hypot(2500, 4990) = 5581 m -> S1. One warning names both reasons.
    _, subs, _ = _branch_case()
    G = hand_graph(
        {**BRANCH_NODES, "F": (2000.0, -2000.0), "G": (3000.0, -2000.0)},
        [*BRANCH_EDGES, ("F", "G", 60.0, True)],
    )
    villages = frame(
        ["V", "W", "X"], (5000.0, 100.0), (7500.0, 1500.0), (2500.0, -1990.0), column="village_code"
    )
    match = r"2 village\(s\) .*too_far_from_road: 1, isolated_road_piece: 1.*'W', 'X'"
    with pytest.warns(UserWarning, match=match):
        got = gg.assign_villages_to_substations(villages, subs, graph=G)
    assert got.tolist() == ["S1", "S2", "S1"]


# --------------------------------------------------------------------------- #
# tier 3 balancing


def _brute_force_best(adj: sparse.csr_matrix, w: np.ndarray, k: int) -> float:
    """Smallest max deviation over every contiguous k-partition (labels by enumeration)."""
    n = len(w)
    g = nx.from_scipy_sparse_array(adj)
    best = np.inf
    for labels in itertools.product(range(k), repeat=n - 1):
        labels = (0, *labels)  # village 0 is in region 0: removes relabelings
        if len(set(labels)) < k:
            continue
        ok = all(
            nx.is_connected(g.subgraph([v for v in range(n) if labels[v] == r])) for r in range(k)
        )
        if ok:
            loads = np.bincount(labels, weights=w, minlength=k)
            best = min(best, gg.grid_imbalance(loads))
    return best


def test_balance_two_regions_on_4x4_reaches_brute_force_optimum():
    w = np.array([CUSTOMERS[i, j] for i, j in LATTICE], dtype=float)
    adj = _rook(4, 4)
    # enumerate all 2^15 2-colourings with village 0 fixed in region 0
    g = nx.from_scipy_sparse_array(adj)
    best = np.inf
    for bits in range(1, 2**15):
        side = np.array([0] + [(bits >> b) & 1 for b in range(15)])
        a = [v for v in range(16) if side[v] == 0]
        b = [v for v in range(16) if side[v] == 1]
        if nx.is_connected(g.subgraph(a)) and nx.is_connected(g.subgraph(b)):
            best = min(best, gg.grid_imbalance([w[a].sum(), w[b].sum()]))
    labels = gg.balance_village_grids(adj, w, 2, seed=0)
    ours = gg.grid_imbalance(np.bincount(labels, weights=w))
    assert ours == pytest.approx(best)
    for r in range(2):
        assert nx.is_connected(g.subgraph(np.flatnonzero(labels == r).tolist()))


def test_balance_three_regions_on_3x3_reaches_brute_force_optimum():
    w = np.array([9, 1, 7, 3, 8, 2, 6, 4, 5], dtype=float)
    adj = _rook(3, 3)
    best = _brute_force_best(adj, w, 3)
    labels = gg.balance_village_grids(adj, w, 3, seed=1)
    assert sorted(set(labels)) == [0, 1, 2]
    assert gg.grid_imbalance(np.bincount(labels, weights=w)) == pytest.approx(best)


def test_balance_labels_numbered_by_first_village_and_deterministic():
    w = np.arange(16, dtype=float) + 1
    a = gg.balance_village_grids(_rook(4, 4), w, 4, seed=7)
    b = gg.balance_village_grids(_rook(4, 4), w, 4, seed=7)
    assert a.tolist() == b.tolist()
    _, first = np.unique(a, return_index=True)
    assert list(np.argsort(first)) == [0, 1, 2, 3]


def test_balance_edge_cases_and_errors():
    adj = _rook(2, 2)
    assert gg.balance_village_grids(adj, [1, 2, 3, 4], 1).tolist() == [0, 0, 0, 0]
    assert gg.balance_village_grids(adj, [1, 2, 3, 4], 4).tolist() == [0, 1, 2, 3]
    with pytest.raises(InputError, match="`k`"):
        gg.balance_village_grids(adj, [1, 2, 3, 4], 5)
    with pytest.raises(InputError, match="`k`"):
        gg.balance_village_grids(adj, [1, 2, 3, 4], 0)
    with pytest.raises(InputError, match="non-negative"):
        gg.balance_village_grids(adj, [1, -2, 3, 4], 2)
    with pytest.raises(InputError, match="must match"):
        gg.balance_village_grids(adj, [1, 2, 3], 2)
    split = sparse.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]))
    with pytest.raises(InputError, match="2 separate pieces"):
        gg.balance_village_grids(split, [1, 2, 3, 4], 2)


def test_grid_imbalance_by_hand():
    # mean 100, largest deviation 30 -> 30 %
    assert gg.grid_imbalance([70, 100, 130]) == pytest.approx(30.0)
    assert gg.grid_imbalance([0, 0]) == 0.0
    with pytest.raises(EmptyDataError, match="empty"):
        gg.grid_imbalance([])


# --------------------------------------------------------------------------- #
# the whole build on the hand case


@pytest.fixture(scope="module")
def built() -> gg.ServiceGrids:
    return gg.build_service_grids(
        _county(),
        _villages(),
        _substations(),
        _workload(),
        graph=_graph(),
        n_grids={"A": 1, "B": 2, "C": 2},
        seed=3,
    )


def test_build_tiers_ids_names_and_counts(built):
    g = built.grids
    assert list(g.columns) == list(gg.GRID_COLUMNS)
    assert g.crs.to_epsg() == 4326
    nearest = _nx_nearest()
    t2 = g[g["tier"] == 2].set_index("grid_id")
    assert list(t2.index) == ["T2-A", "T2-B", "T2-C"]
    assert t2.loc["T2-A", "name"] == "甲变供电网格"
    assert t2.loc["T2-A", "voltage_kv"] == 110.0
    assert g.loc[g["tier"] == 1, "grid_id"].tolist() == ["T1-999999"]
    assert g.loc[g["tier"] == 1, "name"].tolist() == ["方县供电公司"]
    cust = dict(zip(_workload()["village_code"], _workload()["customers"], strict=True))
    for s in SUBSTATIONS:
        expected = sum(c for v, c in cust.items() if nearest[v] == s)
        assert t2.loc[f"T2-{s}", "customers"] == expected
        n_vil = sum(1 for v in nearest if nearest[v] == s)
        assert t2.loc[f"T2-{s}", "area_km2"] == pytest.approx(n_vil * 6.25, abs=1e-6)
    t3 = g[g["tier"] == 3]
    assert t3["grid_id"].tolist() == ["T3-A-01", "T3-B-01", "T3-B-02", "T3-C-01", "T3-C-02"]
    assert t3["name"].iloc[1] == "乙变网格1"
    assert g.loc[g["tier"] == 1, "customers"].iloc[0] == CUSTOMERS.sum()
    # hv_customers were 1 on the diagonal; lv = customers - hv
    assert g.loc[g["tier"] == 1, "hv_customers"].iloc[0] == 4
    assert g.loc[g["tier"] == 1, "lv_customers"].iloc[0] == CUSTOMERS.sum() - 4
    assert g.loc[g["tier"] == 1, "vulnerable"].iloc[0] == 4 * (0 + 1 + 2 + 3)


def test_build_tier3_balanced_as_brute_force(built):
    g = built.grids
    vg = built.village_grid
    codes = _villages()["village_code"]
    for s in ("B", "C"):
        members = np.flatnonzero(vg.str.startswith(f"T3-{s}-").to_numpy())
        sub = _rook(4, 4)[members][:, members]
        w = np.array([CUSTOMERS[int(c[1]), int(c[2])] for c in codes.iloc[members]], dtype=float)
        best = _brute_force_best(sub, w, 2)
        imb = g.loc[g["grid_id"] == f"T2-{s}", "imbalance_pct"].iloc[0]
        assert imb == pytest.approx(best)


def test_build_has_no_topology_problems_and_areas_add_up(built):
    assert gg.validate_grids(built.grids, county=_county()) == []
    m = built.grids.to_crs(CRS_M)
    for t in (1, 2, 3):
        assert m.loc[m["tier"] == t].area.sum() == pytest.approx(SIDE_M**2, abs=1.0)


def test_build_village_grid_and_cells(built):
    assert list(built.village_grid.index) == list(_villages().index)
    t3 = built.grids[built.grids["tier"] == 3].set_index("grid_id")
    for gid, row in t3.iterrows():
        mine = sorted(_villages()["village_code"][built.village_grid == gid])
        assert row["villages"] == "，".join(mine)
        assert row["n_villages"] == len(mine)


def test_build_is_deterministic_and_leaves_inputs_alone():
    inputs = (_county(), _villages(), _substations(), _workload())
    before = [x.copy() for x in inputs]
    a = gg.build_service_grids(*inputs, graph=_graph(), n_grids=2, seed=5)
    b = gg.build_service_grids(*inputs, graph=_graph(), n_grids=2, seed=5)
    assert a.grids.to_json() == b.grids.to_json()
    for x, y in zip(inputs, before, strict=True):
        pd.testing.assert_frame_equal(x, y)


def test_build_voronoi_method_and_target_workload():
    sg = gg.build_service_grids(
        _county(), _villages(), _substations(), _workload(), method="voronoi", target_workload=200
    )
    t2 = sg.grids[sg.grids["tier"] == 2].set_index("grid_id")
    # V00 goes to A by straight line
    assert sg.village_grid.iloc[0].startswith("T3-A-")
    # k = round(workload / 200) per supply grid
    for gid, row in t2.iterrows():
        n_children = int((sg.grids["parent_id"] == gid).sum())
        assert n_children == max(1, round(row["customers"] / 200))
    assert gg.validate_grids(sg.grids, county=_county()) == []


def test_build_weights_area():
    # every cell is 6.25 km²; weight 10 per km² adds 62.5 to every village
    sg = gg.build_service_grids(
        _county(),
        _villages(),
        _substations(),
        _workload(),
        method="voronoi",
        n_grids=1,
        weights={"customers": 1.0, "area_km2": 10.0},
    )
    t1 = sg.grids[sg.grids["tier"] == 1].iloc[0]
    assert t1["workload"] == pytest.approx(CUSTOMERS.sum() + 16 * 62.5)


def test_build_weights_road_km():
    sg = gg.build_service_grids(
        _county(),
        _villages(),
        _substations(),
        _workload(),
        graph=_graph(),
        n_grids=1,
        weights={"road_km": 1.0},
    )
    t1 = sg.grids[sg.grids["tier"] == 1].iloc[0]
    # every road has its middle in the county: 24 tracks x 2.5 km + 3 links x 0.25 km
    # + the 7.75 km fast road (each two-way road counted once)
    assert t1["workload"] == pytest.approx(24 * 2.5 + 3 * 0.25 + 7.75)


def test_build_errors():
    args = (_county(), _villages(), _substations(), _workload())
    with pytest.raises(InputError, match="not both"):
        gg.build_service_grids(*args, method="voronoi", n_grids=2, target_workload=100)
    with pytest.raises(NotFoundError, match="'Z'"):
        gg.build_service_grids(*args, method="voronoi", n_grids={"Z": 2})
    with pytest.raises(InputError, match="Unknown `weights`"):
        gg.build_service_grids(*args, method="voronoi", weights={"cows": 1.0})
    with pytest.raises(InputError, match="road_km"):
        gg.build_service_grids(*args, method="voronoi", weights={"road_km": 1.0})
    bad = _workload()
    bad.loc[0, "customers"] = -5
    with pytest.raises(InputError, match="negative"):
        gg.build_service_grids(*args[:3], bad, method="voronoi")
    with pytest.raises(MissingColumnError, match="customers"):
        gg.build_service_grids(*args[:3], _workload().drop(columns="customers"), method="voronoi")
    with pytest.warns(UserWarning, match="fewer than"):
        gg.build_service_grids(*args, method="voronoi", n_grids=50)
    extra = pd.concat([_workload(), pd.DataFrame({"village_code": ["ZZ"], "customers": [5]})])
    with pytest.warns(UserWarning, match="not in `villages`"):
        gg.build_service_grids(*args[:3], extra, method="voronoi")


def test_enclave_joins_neighbour():
    # Substation D sits 10 m east of V12 with its own road node and roads of 800 s to
    # V12 and V21. V12's best other substation is A at 45 + 2 x 450 = 945 s, V21's is C
    # at 945 s, so D wins both; their neighbours stay away (V11: 800 + 450 = 1250 s
    # > 1179 s by C's fast road; V22: 1250 s > 945 s by B). V21 touches V12 only at a
    # corner, so it is an enclave of D and joins a neighbouring grid.
    G = _graph()
    x, y = _lattice_xy(1, 2)
    pt = gpd.GeoSeries([shapely.Point(x + 10, y)], crs=CRS_M).to_crs(4326)
    lon, lat = pt.get_coordinates().iloc[0]
    G.add_node("D", x=lon, y=lat)
    for a, b in (("D", "V12"), ("D", "V21")):
        G.add_edge(a, b, length=2000.0, travel_time=800.0)
    subs = pd.concat(
        [
            _substations(),
            gpd.GeoDataFrame(
                {"substation_id": ["D"], "name": ["丁变"], "voltage_kv": [10.0]},
                geometry=[shapely.Point(lon, lat)],
                crs=4326,
            ),
        ],
        ignore_index=True,
    )
    raw = gg.assign_villages_to_substations(_villages(), subs, graph=G)
    code = _villages()["village_code"]
    assert set(code[raw == "D"]) == {"V12", "V21"}
    sg = gg.build_service_grids(_county(), _villages(), subs, _workload(), graph=G, n_grids=1)
    t2d = sg.grids.set_index("grid_id").loc["T2-D"]
    assert t2d["villages"] == "V12"
    assert gg.validate_grids(sg.grids, county=_county()) == []


def _with_substation(G, sid, x, y, link_to, link_s, voltage=10.0):
    pt = gpd.GeoSeries([shapely.Point(x, y)], crs=CRS_M).to_crs(4326)
    lon, lat = pt.get_coordinates().iloc[0]
    G.add_node(sid, x=lon, y=lat)
    G.add_edge(sid, link_to, length=100.0, travel_time=link_s)
    extra = gpd.GeoDataFrame(
        {"substation_id": [sid], "name": [f"{sid}变"], "voltage_kv": [voltage]},
        geometry=[shapely.Point(lon, lat)],
        crs=4326,
    )
    return G, extra


def test_substation_nearest_to_no_village_takes_its_home_village():
    # E stands in V22's cell but reaches it only after 5000 s; by time V22 goes to B
    # (945 s). E then claims V22, its home village (V22 is not B's home: B is in V33's).
    x, y = _lattice_xy(2, 2)
    G, extra = _with_substation(_graph(), "E", x + 100, y + 100, "V22", 5000.0)
    subs = pd.concat([_substations(), extra], ignore_index=True)
    raw = gg.assign_villages_to_substations(_villages(), subs, graph=G)
    assert "E" not in set(raw)
    sg = gg.build_service_grids(_county(), _villages(), subs, _workload(), graph=G, n_grids=1)
    assert sg.grids.set_index("grid_id").loc["T2-E", "villages"] == "V22"
    assert gg.validate_grids(sg.grids, county=_county()) == []


def test_substation_in_another_substations_village_heads_no_grid():
    # F stands in V33's cell, which holds B: B keeps V33 and F heads no grid
    x, y = _lattice_xy(3, 3)
    G, extra = _with_substation(_graph(), "F", x - 100, y - 100, "V33", 5000.0)
    subs = pd.concat([_substations(), extra], ignore_index=True)
    with pytest.warns(UserWarning, match=r"\['F'\] are nearest to no village"):
        sg = gg.build_service_grids(_county(), _villages(), subs, _workload(), graph=G, n_grids=1)
    assert "T2-F" not in set(sg.grids["grid_id"])


# --------------------------------------------------------------------------- #
# validate_grids on purpose-broken grids


def _quad_grids() -> gpd.GeoDataFrame:
    """Tier 1 = the square, tier 2 = west / east halves, tier 3 = quarters."""
    b = shapely.box
    rows = [
        ("T1", 1, None, "S0", b(X0, Y0, X0 + 1e4, Y0 + 1e4)),
        ("W", 2, "T1", "S1", b(X0, Y0, X0 + 5e3, Y0 + 1e4)),
        ("E", 2, "T1", "S2", b(X0 + 5e3, Y0, X0 + 1e4, Y0 + 1e4)),
        ("WS", 3, "W", "S1", b(X0, Y0, X0 + 5e3, Y0 + 5e3)),
        ("WN", 3, "W", "S1", b(X0, Y0 + 5e3, X0 + 5e3, Y0 + 1e4)),
        ("ES", 3, "E", "S2", b(X0 + 5e3, Y0, X0 + 1e4, Y0 + 5e3)),
        ("EN", 3, "E", "S2", b(X0 + 5e3, Y0 + 5e3, X0 + 1e4, Y0 + 1e4)),
    ]
    df = pd.DataFrame(rows, columns=["grid_id", "tier", "parent_id", "substation_id", "geometry"])
    return gpd.GeoDataFrame(df, geometry="geometry", crs=CRS_M)


def _kinds(problems):
    return sorted((p["problem"], p["grid_id"], p["other_id"]) for p in problems)


def test_validate_quad_grids_is_clean():
    assert gg.validate_grids(_quad_grids(), county=_county()) == []
    assert gg.validate_grids(_quad_grids()) == []


def test_validate_finds_gap():
    g = _quad_grids()
    # WS loses its south-west 100 m x 100 m corner: 10,000 m² gap at tiers 3 (and W
    # is no longer the union of its children)
    g.loc[g["grid_id"] == "WS", "geometry"] = shapely.box(X0 + 100, Y0, X0 + 5e3, Y0 + 5e3).union(
        shapely.box(X0, Y0 + 100, X0 + 5e3, Y0 + 5e3)
    )
    p = gg.validate_grids(g, county=_county())
    assert _kinds(p) == [("gap", None, None), ("parent_not_union", "W", None)]
    gap = next(x for x in p if x["problem"] == "gap")
    assert gap["area_m2"] == pytest.approx(10_000.0, rel=1e-6)
    lon, lat = gap["location"]
    x, y = (
        gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(CRS_M).get_coordinates().iloc[0]
    )
    assert X0 <= x <= X0 + 100 and Y0 <= y <= Y0 + 100


def test_validate_finds_overlap_and_not_nested():
    g = _quad_grids()
    # WS grows 200 m east into ES
    g.loc[g["grid_id"] == "WS", "geometry"] = shapely.box(X0, Y0, X0 + 5200, Y0 + 5e3)
    p = gg.validate_grids(g, county=_county())
    kinds = _kinds(p)
    assert ("overlap", "ES", "WS") in kinds or ("overlap", "WS", "ES") in kinds
    assert ("not_nested", "WS", "W") in kinds
    assert ("parent_not_union", "W", None) in kinds
    overlap = next(x for x in p if x["problem"] == "overlap")
    assert overlap["area_m2"] == pytest.approx(200 * 5000, rel=1e-6)


def test_validate_finds_wrong_parent():
    g = _quad_grids()
    g.loc[g["grid_id"] == "ES", "parent_id"] = "W"
    kinds = _kinds(gg.validate_grids(g, county=_county()))
    assert ("not_nested", "ES", "W") in kinds
    assert ("parent_not_union", "E", None) in kinds
    assert ("parent_not_union", "W", None) in kinds


def test_validate_finds_outside_county():
    g = _quad_grids()
    county = _m([shapely.box(X0, Y0, X0 + 1e4, Y0 + 9e3)])  # the county ends 1 km lower
    p = gg.validate_grids(g, county=county)
    outside = {x["grid_id"] for x in p if x["problem"] == "outside_county"}
    assert outside == {"T1", "W", "E", "WN", "EN"}
    assert all(
        x["area_m2"] == pytest.approx(5e6, rel=1e-6)
        for x in p
        if x["problem"] == "outside_county" and x["grid_id"] in {"WN", "EN"}
    )


def test_validate_finds_id_tier_orphan_empty_invalid_and_shared_substation():
    g = _quad_grids()
    g.loc[g["grid_id"] == "EN", "parent_id"] = "NOPE"
    g.loc[g["grid_id"] == "E", "substation_id"] = "S1"
    kinds = _kinds(gg.validate_grids(g))
    assert ("orphan", "EN", "NOPE") in kinds
    assert ("shared_substation", "E", "W") in kinds
    g = _quad_grids()
    g.loc[g["grid_id"] == "WN", "grid_id"] = "WS"
    assert ("duplicate_id", "WS", None) in _kinds(gg.validate_grids(g))
    g = _quad_grids()
    g.loc[g["grid_id"] == "WN", "tier"] = 7
    assert ("bad_tier", "WN", None) in _kinds(gg.validate_grids(g))
    g = _quad_grids()
    g.loc[g["grid_id"] == "WN", "geometry"] = shapely.Polygon()
    assert ("empty", "WN", None) in _kinds(gg.validate_grids(g))
    g = _quad_grids()
    bowtie = shapely.Polygon(
        [(X0, Y0 + 5e3), (X0 + 5e3, Y0 + 1e4), (X0 + 5e3, Y0 + 5e3), (X0, Y0 + 1e4)]
    )
    g.loc[g["grid_id"] == "WN", "geometry"] = bowtie
    p = gg.validate_grids(g)
    bad = [x for x in p if x["problem"] == "invalid_geometry"]
    assert [x["grid_id"] for x in bad] == ["WN"]
    assert "Self-intersection" in bad[0]["detail"]


def test_validate_finds_split_grid():
    g = _quad_grids()
    # WS and EN become one grid in two pieces; tier 3 then has a gap where EN was
    g.loc[g["grid_id"] == "WS", "geometry"] = shapely.union(
        g.geometry[g["grid_id"] == "WS"].iloc[0], g.geometry[g["grid_id"] == "EN"].iloc[0]
    )
    g = g[g["grid_id"] != "EN"]
    kinds = _kinds(gg.validate_grids(g))
    assert ("not_contiguous", "WS", None) in kinds
    assert ("not_nested", "WS", "W") in kinds


def test_validate_ignores_slivers_under_tolerance():
    g = _quad_grids()
    # a 0.5 m² sliver gap between WS and WN
    g.loc[g["grid_id"] == "WS", "geometry"] = shapely.box(X0, Y0, X0 + 5e3, Y0 + 5e3 - 1e-4)
    assert gg.validate_grids(g) == []
    assert gg.validate_grids(g, tolerance_m2=0.1) != []


# --------------------------------------------------------------------------- #
# redraw previews


def _loads(grids) -> dict[str, float]:
    return dict(zip(grids["grid_id"], grids["customers"], strict=True))


def _frozen(built):
    return built.grids.to_json(), built.village_grid.copy(), built.cells.to_json()


def _unchanged(built, frozen):
    assert built.grids.to_json() == frozen[0]
    pd.testing.assert_series_equal(built.village_grid, frozen[1])
    assert built.cells.to_json() == frozen[2]


def test_preview_move_villages(built):
    frozen = _frozen(built)
    before = _loads(built.grids)
    code = _villages()["village_code"]
    src = built.village_grid[code == "V33"].iloc[0]
    dst = next(
        g
        for g in built.grids["grid_id"]
        if g.startswith("T3-") and g != src and not g.startswith("T3-B")
    )
    pv = gg.preview_move_villages(built, ["V33"], dst)
    after = _loads(pv.grids)
    c = CUSTOMERS[3, 3]
    assert after[src] == before[src] - c
    assert after[dst] == before[dst] + c
    assert after["T2-B"] == before["T2-B"] - c
    assert pv.kpi_diff.loc[src, "customers_change"] == -c
    assert pv.kpi_diff.loc[dst, "customers_change"] == c
    assert pv.kpi_diff.loc["T1-999999", "customers_change"] == 0
    assert bool(pv.kpi_diff.loc[src, "changed"])
    # V33 lies in the far corner from the other supply grid: it is cut off
    assert any(p["problem"] == "not_contiguous" for p in pv.problems)
    _unchanged(built, frozen)


def test_preview_move_keeps_topology_when_adjacent(built):
    # move V33 to T2-A's only grid only if adjacent; instead move within B's two grids
    b1, b2 = "T3-B-01", "T3-B-02"
    code = _villages()["village_code"]
    in_b1 = list(code[built.village_grid == b1])
    adj = gg.village_adjacency(built.cells)
    # a village of b1 that touches b2 and whose leaving keeps b1 connected
    for v in in_b1:
        i = int(np.flatnonzero(code == v)[0])
        touches = any(built.village_grid.iloc[j] == b2 for j in adj[i].indices)
        rest = [c for c in in_b1 if c != v]
        idx = [int(np.flatnonzero(code == c)[0]) for c in rest]
        if touches and rest and nx.is_connected(nx.from_scipy_sparse_array(adj[idx][:, idx])):
            break
    pv = gg.preview_move_villages(built, [v], b2)
    assert pv.problems == []
    assert pv.grids.loc[pv.grids["grid_id"] == b2, "n_villages"].iloc[0] == (
        built.grids.loc[built.grids["grid_id"] == b2, "n_villages"].iloc[0] + 1
    )


def test_preview_redraw_boundary(built):
    frozen = _frozen(built)
    # a polygon over 60 % of V00's cell and 40 % of V10's
    x, y = _lattice_xy(0, 0)
    poly_m = shapely.box(x - 1250, y - 1250, x + 1250 + 0.4 * STEP_M, y + 1250)
    poly = gpd.GeoSeries([poly_m], crs=CRS_M)
    target = next(g for g in built.grids["grid_id"] if g.startswith("T3-A"))
    pv = gg.preview_redraw_boundary(built, poly, target)
    code = _villages()["village_code"]
    moved = set(code[(pv.service.village_grid != built.village_grid).to_numpy()])
    was_in_target = built.village_grid[code == "V00"].iloc[0] == target
    assert moved == (set() if was_in_target else {"V00"})
    assert pv.service.village_grid[code == "V00"].iloc[0] == target
    assert (
        pv.service.village_grid[code == "V10"].iloc[0] == built.village_grid[code == "V10"].iloc[0]
    )
    _unchanged(built, frozen)
    with pytest.raises(InputError, match="no village cell"):
        gg.preview_redraw_boundary(
            built, gpd.GeoSeries([shapely.box(x, y, x + 10, y + 10)], crs=CRS_M), target
        )
    with pytest.raises(InvalidGeometryError, match="polygon"):
        gg.preview_redraw_boundary(built, shapely.Point(116, 26), target)


def test_preview_split_grid(built):
    frozen = _frozen(built)
    code = _villages()["village_code"]
    members = np.flatnonzero((built.village_grid == "T3-A-01").to_numpy())
    w = np.array([CUSTOMERS[int(c[1]), int(c[2])] for c in code.iloc[members]], dtype=float)
    best = _brute_force_best(_rook(4, 4)[members][:, members], w, 2)
    pv = gg.preview_split_grid(built, "T3-A-01", k=2, seed=0)
    t3 = pv.grids[pv.grids["parent_id"] == "T2-A"]
    assert t3["grid_id"].tolist() == ["T3-A-01", "T3-A-02"]
    assert t3["customers"].sum() == w.sum()
    assert gg.grid_imbalance(t3["customers"]) == pytest.approx(best)
    assert pv.kpi_diff.loc["T3-A-02", "customers_before"] == 0
    assert pv.grids.loc[pv.grids["grid_id"] == "T2-A", "imbalance_pct"].iloc[0] == pytest.approx(
        best
    )
    assert pv.problems == []
    assert t3["name"].tolist() == ["甲变网格1", "甲变网格2"]
    _unchanged(built, frozen)
    with pytest.raises(InputError, match="tier-3"):
        gg.preview_split_grid(built, "T2-A")
    with pytest.raises(InputError, match="`k`"):
        gg.preview_split_grid(built, "T3-A-01", k=99)


def test_preview_merge_grids(built):
    frozen = _frozen(built)
    before = _loads(built.grids)
    pv = gg.preview_merge_grids(built, ["T3-B-02", "T3-B-01"])
    after = _loads(pv.grids)
    assert "T3-B-02" not in after
    assert after["T3-B-01"] == before["T3-B-01"] + before["T3-B-02"]
    assert pv.kpi_diff.loc["T3-B-02", "customers_after"] == 0
    assert pv.problems == []
    _unchanged(built, frozen)
    with pytest.raises(InputError, match="at least two"):
        gg.preview_merge_grids(built, ["T3-B-01", "T3-B-01"])


def test_preview_reassign_substation(built):
    frozen = _frozen(built)
    subs = pd.concat(
        [
            _substations(),
            gpd.GeoDataFrame(
                {"substation_id": ["N"], "name": ["新变"], "voltage_kv": [220.0]},
                geometry=[shapely.Point(117.05, 26.7)],
                crs=4326,
            ),
        ],
        ignore_index=True,
    )
    pv = gg.preview_reassign_substation(built, "T2-B", "N", subs)
    g = pv.grids.set_index("grid_id")
    assert g.loc["T2-B", "substation_id"] == "N"
    assert g.loc["T2-B", "voltage_kv"] == 220.0
    assert g.loc["T2-B", "name"] == "新变供电网格"
    assert g.loc["T3-B-01", "name"] == "新变网格1"
    assert (pv.kpi_diff["customers_change"] == 0).all()
    assert pv.problems == []
    pv = gg.preview_reassign_substation(built, "T2-B", "A", subs)
    assert ("shared_substation", "T2-A", "T2-B") in _kinds(pv.problems)
    _unchanged(built, frozen)
    with pytest.raises(NotFoundError, match="'Q'"):
        gg.preview_reassign_substation(built, "T2-B", "Q", subs)


def test_preview_extra_kpis(built):
    # a stand-in for the reach KPIs: twice the number of villages of each grid
    def double(sg):
        return pd.DataFrame(
            {"double": 2 * sg.grids["n_villages"].to_numpy()}, index=sg.grids["grid_id"]
        )

    pv = gg.preview_merge_grids(built, ["T3-B-01", "T3-B-02"], kpis=double)
    n1, n2 = (
        int(built.grids.loc[built.grids["grid_id"] == g, "n_villages"].iloc[0])
        for g in ("T3-B-01", "T3-B-02")
    )
    assert pv.kpi_diff.loc["T3-B-01", "double_before"] == 2 * n1
    assert pv.kpi_diff.loc["T3-B-01", "double_after"] == 2 * (n1 + n2)
    assert pv.kpi_diff.loc["T3-B-01", "double_change"] == 2 * n2
    with pytest.raises(InputError, match="already reports"):
        gg.preview_merge_grids(
            built,
            ["T3-B-01", "T3-B-02"],
            kpis=lambda sg: sg.grids.set_index("grid_id")[["customers"]],
        )


def test_service_grids_from_layers_round_trip(built):
    sg = gg.service_grids_from_layers(built.grids, built.cells, built.county)
    pd.testing.assert_series_equal(sg.village_grid, built.village_grid)
    a = gg.preview_merge_grids(sg, ["T3-B-01", "T3-B-02"])
    b = gg.preview_merge_grids(built, ["T3-B-01", "T3-B-02"])
    assert a.grids.to_json() == b.grids.to_json()
    broken = built.grids.copy()
    row = broken["grid_id"] == "T3-A-01"
    broken.loc[row, "villages"] = broken.loc[row, "villages"].iloc[0].split("，", 1)[1]
    with pytest.raises(InputError, match="in no tier-3 grid"):
        gg.service_grids_from_layers(broken, built.cells, built.county)
    broken = built.grids.copy()
    broken.loc[row, "villages"] = broken.loc[row, "villages"] + "，V33"
    with pytest.raises(InputError, match="more than one"):
        gg.service_grids_from_layers(broken, built.cells, built.county)


def test_preview_unknown_ids(built):
    with pytest.raises(NotFoundError, match="'T3-X-09'"):
        gg.preview_move_villages(built, ["V00"], "T3-X-09")
    with pytest.raises(NotFoundError, match="'V99'"):
        gg.preview_move_villages(built, ["V00", "V99"], "T3-A-01")
    with pytest.raises(NotFoundError, match="'T3-Z-01'"):
        gg.preview_merge_grids(built, ["T3-A-01", "T3-Z-01"])
    with pytest.raises(NotFoundError, match="'T9'"):
        gg.preview_split_grid(built, "T9")
    with pytest.raises(InputError, match="tier-2"):
        gg.preview_reassign_substation(built, "T3-A-01", "A", _substations())
    with pytest.raises(InputError, match="ServiceGrids"):
        gg.preview_merge_grids(built.grids, ["T3-A-01", "T3-B-01"])


def test_build_refuses_broken_topology(monkeypatch):
    # a validator that finds a problem must make the build refuse with the list
    fake = [{"problem": "gap", "grid_id": None, "other_id": None, "area_m2": 5.0,
             "location": (117.0, 26.7), "detail": "tier 3"}]  # fmt: skip
    monkeypatch.setattr(gg, "validate_grids", lambda *a, **k: fake)
    with pytest.raises(gg.GridTopologyError, match="1 topology rule") as info:
        gg.build_service_grids(
            _county(), _villages(), _substations(), _workload(), method="voronoi", n_grids=1
        )
    assert info.value.problems == fake


# --------------------------------------------------------------------------- #
# the sample county


@pytest.fixture(scope="module")
def sample():
    gpkg = SAMPLE_DIR / "nanfeng.gpkg"
    if not gpkg.exists():
        pytest.skip("sample_data/nanfeng/nanfeng.gpkg not generated yet")
    from gridgeo.network import graph_from_roads

    layers = {
        n: gpd.read_file(gpkg, layer=n) for n in ("county", "villages", "substations", "roads")
    }
    # customers_truth.csv is the generator's own village of each customer; it stands in
    # for the workload until the geocoder lands
    truth = pd.read_csv(SAMPLE_DIR / "customers_truth.csv", dtype=str)
    counts = truth.groupby("village_code").size().rename("customers").reset_index()
    G = graph_from_roads(layers["roads"], mode="drive")
    return layers, counts, G


@pytest.mark.slow
def test_sample_county_builds_clean(sample):
    layers, counts, G = sample
    sg = gg.build_service_grids(
        layers["county"], layers["villages"], layers["substations"], counts, graph=G, seed=0
    )
    assert gg.validate_grids(sg.grids, county=layers["county"]) == []
    metric = sg.grids.to_crs(metric_crs(layers["county"]))
    county_area = layers["county"].to_crs(metric.crs).area.sum()
    n2 = int((metric["tier"] == 2).sum())
    assert metric.loc[metric["tier"] == 2].area.sum() == pytest.approx(county_area, abs=n2 * 1.0)
    assert sg.grids.loc[sg.grids["tier"] == 1, "customers"].iloc[0] == counts["customers"].sum()


@pytest.mark.slow
def test_sample_tier2_is_the_substation_reach_picks(sample):
    # an independent path through the public reach API: the engine built from the roads layer
    # (not from G), repair reach with the substations as the stations; every village it
    # reaches gets that substation, the others the nearest one in straight line
    layers, _, G = sample
    villages, subs = layers["villages"], layers["substations"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a substation far from the roads, said in both
        got = gg.assign_villages_to_substations(villages, subs, graph=G)
        engine = ReachEngine.from_roads(layers["roads"], mode="drive")
        reach = repair_reach(engine, villages, subs, id_column="substation_id")
    reached = reach["repair_station_id"].notna().to_numpy()
    assert reached.sum() >= 0.9 * len(villages)
    assert got[reached].tolist() == reach.loc[reached, "repair_station_id"].tolist()
    xy = villages.to_crs(CRS_M).get_coordinates().to_numpy()
    sxy = subs.to_crs(CRS_M).get_coordinates().to_numpy()
    d = np.hypot(xy[:, None, 0] - sxy[None, :, 0], xy[:, None, 1] - sxy[None, :, 1])
    straight = subs["substation_id"].to_numpy()[np.argmin(d, axis=1)]
    assert got[~reached].tolist() == straight[~reached].tolist()
