"""Service grids of a county in several pieces, and substations in their own supply grid.

Hand cases live in EPSG:4548 (CGCS2000 Gauss-Krüger CM 117E, the metric CRS gridgeo picks
for a county at 117 E), in metres from an origin on the central meridian; a 10 km square
county piece holds 16 villages on a 4 x 4 lattice (2.5 km apart), so its Voronoi cells are
the 2.5 km squares around them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import affinity

from gridgeo import grids as gg
from gridgeo import io
from gridgeo.errors import CoordinateError, GridTopologyError

CRS_M = "EPSG:4548"
X0, Y0 = 500_000.0, 2_950_000.0
REPO = Path(__file__).resolve().parents[1]
JIANGXI = REPO / "sample_data" / "jiangxi"


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _pt(x: float, y: float) -> shapely.Point:
    return shapely.Point(X0 + x, Y0 + y)


def _frame(geoms, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=CRS_M).to_crs(4326)


def _lattice(dx: float = 0.0, prefix: str = "A") -> dict[str, tuple[float, float]]:
    """The 16 villages of a 10 km square whose west edge is at ``dx``."""
    return {
        f"{prefix}{i}{j}": (dx + 1250.0 + 2500.0 * i, 1250.0 + 2500.0 * j)
        for j in range(4)
        for i in range(4)
    }


def _villages(xy: dict[str, tuple[float, float]]) -> gpd.GeoDataFrame:
    return _frame([_pt(*p) for p in xy.values()], village_code=list(xy))


def _workload(xy: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame({"village_code": list(xy), "customers": 100})


def _substations(xy: dict[str, tuple[float, float]]) -> gpd.GeoDataFrame:
    return _frame(
        [_pt(*p) for p in xy.values()],
        substation_id=list(xy),
        name=[f"{s}变" for s in xy],
        voltage_kv=35.0,
    )


def _county(*boxes: shapely.Polygon) -> gpd.GeoDataFrame:
    return _frame([shapely.MultiPolygon(list(boxes))], adcode=["999999"], name=["块县"])


def _metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gdf.to_crs(CRS_M)


def _box_of(geom, boxes: list[shapely.Polygon]) -> int:
    """The box holding (nearly all of) a metric geometry, by area: independent of gridgeo."""
    shares = [shapely.area(shapely.intersection(geom, b)) / shapely.area(geom) for b in boxes]
    best = int(np.argmax(shares))
    assert shares[best] > 0.999999
    return best


def _parts_by_box(geom, boxes: list[shapely.Polygon]) -> list[int]:
    parts = [g for g in shapely.get_parts(geom) if shapely.area(g) > 1.0]
    return sorted(_box_of(g, boxes) for g in parts)


# --------------------------------------------------------------------------- #
# two separate squares, two substations


SQ_A = _box(0, 0, 10_000, 10_000)
SQ_B = _box(12_000, 0, 22_000, 10_000)  # 2 km east of A


def test_two_squares_each_square_gridded():
    # S1 stands at A's east edge, S2 at B's east edge: in straight line B's west column
    # (x = 13,250) is nearer S1 (3,350 m) than S2 (8,650 m), yet B has its own substation,
    # so all of B is S2's and all of A is S1's.
    villages = {**_lattice(0, "A"), **_lattice(12_000, "B")}
    subs = {"S1": (9_900.0, 5_000.0), "S2": (21_900.0, 5_000.0)}
    sg = gg.build_service_grids(
        _county(SQ_A, SQ_B),
        _villages(villages),
        _substations(subs),
        _workload(villages),
        method="voronoi",
        n_grids=2,
    )
    g = _metric(sg.grids).set_index("grid_id")
    # by hand: 1 county grid, 2 supply grids, 2 x 2 village grids
    assert (g["tier"].value_counts().sort_index().tolist()) == [1, 2, 4]
    boxes = [SQ_A, SQ_B]
    assert _parts_by_box(g.geometry["T2-S1"], boxes) == [0]
    assert _parts_by_box(g.geometry["T2-S2"], boxes) == [1]
    assert g.geometry["T2-S1"].symmetric_difference(SQ_A).area < 1.0
    assert g.geometry["T2-S2"].symmetric_difference(SQ_B).area < 1.0
    for gid, row in g[g["tier"] == 3].iterrows():
        assert _parts_by_box(row.geometry, boxes) == [0 if gid.startswith("T3-S1") else 1]
        assert row["n_villages"] == 8  # 16 villages of 100 customers in two equal halves
    assert set(sg.village_grid[sg.cells["village_code"].str.startswith("A")]) <= {
        "T3-S1-01",
        "T3-S1-02",
    }
    pieces = sg.pieces
    assert list(pieces.columns) == list(gg.PIECE_COLUMNS)
    assert pieces["how"].tolist() == ["own", "own"]
    assert pieces["area_km2"].tolist() == pytest.approx([100.0, 100.0], abs=1e-3)
    assert sorted(pieces["grid_id"]) == ["T2-S1", "T2-S2"]
    assert sorted(pieces["n_villages"]) == [16, 16]
    assert gg.validate_grids(sg.grids, county=_county(SQ_A, SQ_B)) == []


def test_two_squares_one_without_substation_joins_the_nearest_grid():
    # both substations in A (west and east halves); B has no substation and no roads are
    # given: it joins the grid nearest to it in straight line, S2's east half of A
    villages = {**_lattice(0, "A"), **_lattice(12_000, "B")}
    subs = {"S1": (1_000.0, 3_750.0), "S2": (9_000.0, 3_750.0)}
    sg = gg.build_service_grids(
        _county(SQ_A, SQ_B),
        _villages(villages),
        _substations(subs),
        _workload(villages),
        method="voronoi",
        n_grids=2,
    )
    g = _metric(sg.grids).set_index("grid_id")
    west, east = _box(0, 0, 5_000, 10_000), _box(5_000, 0, 10_000, 10_000)
    assert g.geometry["T2-S1"].symmetric_difference(west).area < 1.0
    assert g.geometry["T2-S2"].symmetric_difference(shapely.union(east, SQ_B)).area < 1.0
    assert _parts_by_box(g.geometry["T2-S2"], [SQ_A, SQ_B]) == [0, 1]
    b = sg.pieces.set_index("piece").loc[2]
    assert (b["how"], b["grid_id"], b["n_villages"], b["substations"]) == (
        "nearest",
        "T2-S2",
        16,
        "",
    )
    lon, lat = _frame([SQ_B.centroid]).get_coordinates().iloc[0]
    assert (b["lon"], b["lat"]) == pytest.approx((lon, lat), abs=1e-6)
    # S2's 24 villages cut in two: every tier-3 grid has at most one part per square
    for _, row in g[g["tier"] == 3].iterrows():
        parts = _parts_by_box(row.geometry, [SQ_A, SQ_B])
        assert len(parts) == len(set(parts))


def test_split_preview_of_a_grid_in_two_pieces():
    # S2's single village grid holds A's east half and all of B: a split into 3 keeps
    # every part within one piece or as one part per piece, with no problems
    villages = {**_lattice(0, "A"), **_lattice(12_000, "B")}
    subs = {"S1": (1_000.0, 3_750.0), "S2": (9_000.0, 3_750.0)}
    sg = gg.build_service_grids(
        _county(SQ_A, SQ_B), _villages(villages), _substations(subs), _workload(villages),
        method="voronoi", n_grids=1,
    )  # fmt: skip
    pv = gg.preview_split_grid(sg, "T3-S2-01", k=3)
    assert pv.problems == []
    t3 = _metric(pv.grids[pv.grids["parent_id"] == "T2-S2"])
    assert len(t3) == 3 and t3["n_villages"].sum() == 24
    for geom in t3.geometry:
        parts = _parts_by_box(geom, [SQ_A, SQ_B])
        assert len(parts) == len(set(parts))


# --------------------------------------------------------------------------- #
# a main square with small pieces: joined by road, or by the nearest grid

# The main piece A (0-10 km) has substations S1 (west of A01) and S2 (east of A31) and
# 20 km/h tracks between lattice neighbours. East of A lie three 1 km² pieces:
#   P  (11-12 km, 3.25-4.25 km) with village VP at its centre (11.5, 3.75),
#   P2 (11-12 km, 6-7 km) without villages, a road node C2 at its centre (11.5, 6.5),
#   P3 (11-12 km, 0.5-1.5 km) with village VP3, 2.75 km from every road.
# A fast 100 km/h road runs S1 -> Q (1, 10.5) -> R (11.5, 10.5) -> C2 -> VP; a 5 km/h
# track joins A31 (8.75, 3.75) to VP. Nearest in straight line, P and P2 are S2's (1 km
# from A's east half); by road S1 reaches VP after (6750 + 10500 + 4000 + 2750) m at
# 100 km/h = 864 s, S2 after 45 s + 2750 m at 5 km/h = 2025 s; C2 after 765 s from S1.

PIECE_P = _box(11_000, 3_250, 12_000, 4_250)
PIECE_P2 = _box(11_000, 6_000, 12_000, 7_000)
PIECE_P3 = _box(11_000, 500, 12_000, 1_500)
SMALL = {"VP": (11_500.0, 3_750.0), "VP3": (11_500.0, 1_000.0)}
HUBS = {"S1": (1_000.0, 3_750.0), "S2": (9_000.0, 3_750.0)}


def _road_graph() -> nx.MultiDiGraph:
    pts = {**_lattice(0, "A"), **SMALL, **HUBS}
    pts.update({"Q": (1_000.0, 10_500.0), "R": (11_500.0, 10_500.0), "C2": (11_500.0, 6_500.0)})
    names = list(pts)
    ll = gpd.GeoSeries([_pt(*pts[n]) for n in names], crs=CRS_M).to_crs(4326).get_coordinates()
    G = nx.MultiDiGraph(crs="EPSG:4326")
    for n, (lon, lat) in zip(names, ll.to_numpy(), strict=True):
        G.add_node(n, x=float(lon), y=float(lat))

    def road(a: str, b: str, kph: float) -> None:
        length = float(np.hypot(*np.subtract(pts[a], pts[b])))
        for u, v in ((a, b), (b, a)):
            G.add_edge(u, v, length=length, travel_time=length / (kph / 3.6))

    for j in range(4):
        for i in range(4):
            if i < 3:
                road(f"A{i}{j}", f"A{i + 1}{j}", 20.0)
            if j < 3:
                road(f"A{i}{j}", f"A{i}{j + 1}", 20.0)
    road("S1", "A01", 20.0)
    road("S2", "A31", 20.0)
    for a, b in (("S1", "Q"), ("Q", "R"), ("R", "C2"), ("C2", "VP")):
        road(a, b, 100.0)
    road("A31", "VP", 5.0)
    return G


def _small_county() -> gpd.GeoDataFrame:
    return _county(SQ_A, PIECE_P, PIECE_P2, PIECE_P3)


def _small_build(method: str) -> gg.ServiceGrids:
    villages = {**_lattice(0, "A"), **SMALL}
    return gg.build_service_grids(
        _small_county(),
        _villages(villages),
        _substations(HUBS),
        _workload(villages),
        graph=_road_graph() if method == "network" else None,
        method=method,
        n_grids=2,
    )


def _piece_row(sg: gg.ServiceGrids, box: shapely.Polygon) -> pd.Series:
    lon, lat = _frame([box.centroid]).get_coordinates().iloc[0]
    at = np.hypot(sg.pieces["lon"] - lon, sg.pieces["lat"] - lat) < 1e-6
    assert at.sum() == 1
    return sg.pieces.loc[at].iloc[0]


def test_small_pieces_join_by_road_and_by_nearest():
    G = _road_graph()
    # independent: which substation reaches VP / C2 / VP3 first (NetworkX, both directions)
    times = {s: nx.single_source_dijkstra_path_length(G, s, weight="travel_time") for s in HUBS}
    first = {t: min(HUBS, key=lambda s: times[s].get(t, np.inf)) for t in ("VP", "C2")}
    assert first == {"VP": "S1", "C2": "S1"}
    assert times["S1"]["VP"] == pytest.approx(24_000 / (100 / 3.6))  # 864 s
    assert times["S2"]["VP"] == pytest.approx(250 / (20 / 3.6) + 2_750 / (5 / 3.6))
    assert "VP3" not in times["S1"] and "VP3" not in times["S2"]

    sg = _small_build("network")
    assert len(sg.pieces) == 4
    main = _piece_row(sg, SQ_A)
    assert (main["how"], main["grid_id"], main["substations"]) == ("own", "T2-S1，T2-S2", "S1，S2")
    for box, grid, how in (
        (PIECE_P, f"T2-{first['VP']}", "road"),
        (PIECE_P2, f"T2-{first['C2']}", "road"),
        (PIECE_P3, "T2-S2", "nearest"),  # 1 km from S2's half of A, 6 km from S1's
    ):
        row = _piece_row(sg, box)
        assert (row["grid_id"], row["how"]) == (grid, how)
        assert row["area_km2"] == pytest.approx(1.0, abs=1e-4)
    g = _metric(sg.grids).set_index("grid_id")
    boxes = [SQ_A, PIECE_P, PIECE_P2, PIECE_P3]
    assert _parts_by_box(g.geometry["T2-S1"], boxes) == [0, 1, 2]
    assert _parts_by_box(g.geometry["T2-S2"], boxes) == [0, 3]
    # the village-less P2 went with the cell of S1's grid nearest to it: VP's (1.75 km)
    vp = _metric(sg.cells).set_index("village_code").geometry["VP"]
    assert vp.area == pytest.approx(2e6, rel=1e-6)
    assert vp.symmetric_difference(shapely.union(PIECE_P, PIECE_P2)).area < 1.0
    for _, row in g[g["tier"] > 1].iterrows():
        parts = _parts_by_box(row.geometry, boxes)
        assert len(parts) == len(set(parts))  # at most one part in each piece
    assert gg.validate_grids(sg.grids, county=_small_county()) == []


def test_small_pieces_without_roads_join_the_nearest_grid():
    sg = _small_build("voronoi")
    for box in (PIECE_P, PIECE_P2, PIECE_P3):  # each 1 km from S2's half, 6+ km from S1's
        row = _piece_row(sg, box)
        assert (row["grid_id"], row["how"]) == ("T2-S2", "nearest")
    g = _metric(sg.grids).set_index("grid_id")
    west = _box(0, 0, 5_000, 10_000)
    assert g.geometry["T2-S1"].symmetric_difference(west).area < 1.0


def test_village_cells_give_a_piece_without_villages_to_the_nearest_cell():
    cells = _metric(gg.village_cells(_small_county(), _villages({**_lattice(0, "A"), **SMALL})))
    cells = cells.set_index("village_code").geometry
    # P2 (6-7 km north, 11-12 km east) is 1.75 km from VP's cell (P) and 1 km from A32's
    assert cells["A32"].symmetric_difference(shapely.union(_box(7_500, 5_000, 10_000, 7_500),
                                                           PIECE_P2)).area < 1.0  # fmt: skip
    total = sum(shapely.area(c) for c in cells)
    assert total == pytest.approx(103e6, rel=1e-9)


# --------------------------------------------------------------------------- #
# contiguity is checked per piece, at tiers 2 and 3


def _quad(county_split: bool = False) -> gpd.GeoDataFrame:
    """A square in quarters; W and E are each two quarters that meet only at a corner."""
    b = _box
    ws, wn = b(0, 0, 5e3, 5e3), b(0, 5e3, 5e3, 1e4)
    es, en = b(5e3, 0, 1e4, 5e3), b(5e3, 5e3, 1e4, 1e4)
    rows = [
        ("T1", 1, None, None, shapely.union_all([ws, wn, es, en])),
        ("W", 2, "T1", "S1", shapely.union(ws, en)),
        ("E", 2, "T1", "S2", shapely.union(wn, es)),
        ("WS", 3, "W", "S1", ws),
        ("EN", 3, "W", "S1", en),
        ("WN", 3, "E", "S2", wn),
        ("ES", 3, "E", "S2", es),
    ]
    df = pd.DataFrame(rows, columns=["grid_id", "tier", "parent_id", "substation_id", "geometry"])
    return gpd.GeoDataFrame(df, geometry="geometry", crs=CRS_M)


def test_validate_finds_a_split_supply_grid():
    # every tier-3 grid is one square, so only the tier-2 check can see W and E split
    problems = gg.validate_grids(_quad(), county=_county(_box(0, 0, 1e4, 1e4)))
    split = sorted(
        (p["grid_id"], p["area_m2"]) for p in problems if p["problem"] == "not_contiguous"
    )
    assert split == [("E", pytest.approx(25e6)), ("W", pytest.approx(25e6))]
    assert [p["problem"] for p in problems] == ["not_contiguous", "not_contiguous"]
    assert all("main part at" in p["detail"] for p in problems)


def _to_m(lon: float, lat: float) -> shapely.Point:
    xy = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(CRS_M).get_coordinates()
    return shapely.Point(xy.iloc[0].to_numpy())


def test_validate_accepts_one_part_per_county_piece_only():
    # move the east half of the quad 15 km further east: the county is now in two pieces,
    # and W (WS + EN) and E (WN + ES) have one part in each piece -> no problem
    g = _quad()
    left, right = _box(0, 0, 5e3, 1e4), _box(5e3, 0, 1e4, 1e4)
    g["geometry"] = [
        shapely.union(
            shapely.intersection(geom, left),
            affinity.translate(shapely.intersection(geom, right), xoff=15_000.0),
        )
        for geom in g.geometry
    ]
    county = _county(left, _box(20_000, 0, 25_000, 1e4))
    assert gg.validate_grids(g, county=county) == []
    # a 1 km² square of WN goes to WS: WS (and W) now have two parts in the west piece
    extra = _box(1_000, 6_000, 2_000, 7_000)
    for gid, op in (("WN", shapely.difference), ("E", shapely.difference),
                    ("WS", shapely.union), ("W", shapely.union)):  # fmt: skip
        at = g["grid_id"] == gid
        g.loc[at, "geometry"] = op(g.geometry[at].iloc[0], extra)
    problems = gg.validate_grids(g, county=county)
    assert sorted((p["problem"], p["grid_id"]) for p in problems) == [
        ("not_contiguous", "W"),
        ("not_contiguous", "WS"),
    ]
    for p in problems:
        assert p["area_m2"] == pytest.approx(1e6)
        assert extra.contains(_to_m(*p["location"]))
        assert "county piece 1 of 2" in p["detail"]


# --------------------------------------------------------------------------- #
# substations outside the county, and in their own supply grid


def test_substations_far_outside_the_county_are_refused_with_a_table():
    villages = _lattice(0, "A")
    # about 150 km east of the county, as in the tester's case
    subs = {"FAR1": (160_000.0, 5_000.0), "FAR2": (159_000.0, 2_000.0)}
    with pytest.raises(CoordinateError, match="substations outside the county") as info:
        gg.build_service_grids(
            _county(SQ_A), _villages(villages), _substations(subs), _workload(villages),
            method="voronoi",
        )  # fmt: skip
    msg = str(info.value)
    # distances by hand: 150 km and 149 km from the east edge at x = 10 km
    assert "FAR1" in msg and "FAR1变" in msg and "150.0" in msg
    assert "FAR2" in msg and "FAR2变" in msg and "149.0" in msg
    assert "`" not in msg.split("\n")[0] and ".problems" not in msg
    # one near substation does not make the far one acceptable
    mixed = {"IN": (5_000.0, 5_000.0), "FAR1": (160_000.0, 5_000.0)}
    with pytest.raises(CoordinateError, match="FAR1"):
        gg.build_service_grids(
            _county(SQ_A), _villages(villages), _substations(mixed), _workload(villages),
            method="voronoi",
        )  # fmt: skip


def test_substation_just_outside_heads_the_grid_next_to_it():
    # S9 stands 300 m east of the county (within the default 500 m): it heads the grid of
    # the villages nearest to it, which touches the county edge 300 m from it
    villages = _lattice(0, "A")
    subs = {"S1": (1_000.0, 3_750.0), "S9": (10_300.0, 8_750.0)}
    args = (_county(SQ_A), _villages(villages), _substations(subs), _workload(villages))
    sg = gg.build_service_grids(*args, method="voronoi", n_grids=1)
    g = _metric(sg.grids).set_index("grid_id")
    d = shapely.distance(g.geometry["T2-S9"], _pt(10_300.0, 8_750.0))
    assert d == pytest.approx(300.0, abs=1e-3)
    with pytest.raises(CoordinateError, match=r"S9 .*0\.3"):
        gg.build_service_grids(*args, method="voronoi", n_grids=1, max_outside_m=100.0)


def test_substation_lies_in_its_own_supply_grid():
    # 20 km/h tracks (450 s) between lattice neighbours; S1 (west of A01) joins A01 in 1 s;
    # S2 stands in A21's cell and joins it in 5000 s but has a 10 s road to A33. By time
    # S2 wins the north-east villages but not A21 (901 s from S1): it would stand outside
    # its own grid. It takes A21, which touches A22, so its grid stays one piece.
    villages = _lattice(0, "A")
    pts = {**villages, "S1": (1_000.0, 3_750.0), "S2": (6_000.0, 3_700.0)}
    names = list(pts)
    ll = gpd.GeoSeries([_pt(*pts[n]) for n in names], crs=CRS_M).to_crs(4326).get_coordinates()
    G = nx.MultiDiGraph(crs="EPSG:4326")
    for n, (lon, lat) in zip(names, ll.to_numpy(), strict=True):
        G.add_node(n, x=float(lon), y=float(lat))

    def road(a: str, b: str, seconds: float) -> None:
        length = float(np.hypot(*np.subtract(pts[a], pts[b])))
        for u, v in ((a, b), (b, a)):
            G.add_edge(u, v, length=length, travel_time=seconds)

    for j in range(4):
        for i in range(4):
            if i < 3:
                road(f"A{i}{j}", f"A{i + 1}{j}", 450.0)
            if j < 3:
                road(f"A{i}{j}", f"A{i}{j + 1}", 450.0)
    road("S1", "A01", 1.0)
    road("S2", "A21", 5000.0)
    road("S2", "A33", 10.0)
    times = {
        s: nx.single_source_dijkstra_path_length(G, s, weight="travel_time") for s in ["S1", "S2"]
    }
    by_time = {v: min(("S1", "S2"), key=lambda s: times[s][v]) for v in villages}
    assert by_time["A21"] == "S1" and by_time["A33"] == "S2"
    subs = {"S1": pts["S1"], "S2": pts["S2"]}
    raw = gg.assign_villages_to_substations(_villages(villages), _substations(subs), graph=G)
    assert dict(zip(_villages(villages)["village_code"], raw, strict=True)) == by_time
    sg = gg.build_service_grids(
        _county(SQ_A), _villages(villages), _substations(subs), _workload(villages),
        graph=G, n_grids=1,
    )  # fmt: skip
    g = _metric(sg.grids).set_index("grid_id")
    s2 = [*sorted(v for v, s in by_time.items() if s == "S2"), "A21"]
    assert g.loc["T2-S2", "villages"] == "，".join(sorted(s2))
    for sid, xy in subs.items():
        assert g.geometry[f"T2-{sid}"].covers(_pt(*xy))
    assert shapely.get_num_geometries(g.geometry["T2-S2"]) == 1


def test_substation_in_the_village_another_keeps_hands_its_villages_over():
    # S1 and S2 both stand in A21's cell (5-7.5 km, 2.5-5 km); A21 (6250, 3750) is nearer
    # S1 (1150 m) than S2 (1552 m), so S1 keeps it. S2 is nearest to other villages but
    # cannot stand in their grid: they go to S1's grid. S3 stands in A03.
    villages = _lattice(0, "A")
    subs = {"S1": (5_100.0, 3_800.0), "S2": (7_400.0, 2_600.0), "S3": (1_250.0, 8_750.0)}
    with pytest.warns(UserWarning, match=r"\['S2'\] stand in the village of another.*S2 → S1"):
        sg = gg.build_service_grids(
            _county(SQ_A), _villages(villages), _substations(subs), _workload(villages),
            method="voronoi", n_grids=1,
        )  # fmt: skip
    # brute force: the villages nearest to S1 or S2 in straight line form S1's grid
    sxy = np.array(list(subs.values()))
    nearest = {
        v: list(subs)[int(np.argmin(np.hypot(*(sxy - np.array(xy)).T)))]
        for v, xy in villages.items()
    }
    assert nearest["A21"] == "S1" and "S2" in nearest.values()
    g = _metric(sg.grids).set_index("grid_id")
    assert "T2-S2" not in g.index
    want = sorted(v for v, s in nearest.items() if s in ("S1", "S2"))
    assert g.loc["T2-S1", "villages"] == "，".join(want)
    assert g.geometry["T2-S1"].covers(_pt(*subs["S1"])) and g.geometry["T2-S1"].covers(
        _pt(*subs["S2"])
    )


def test_validate_reports_a_substation_outside_its_grid():
    g = _quad()
    g.loc[g["grid_id"] == "W", "geometry"] = _box(0, 0, 5e3, 1e4)
    g.loc[g["grid_id"] == "E", "geometry"] = _box(5e3, 0, 1e4, 1e4)
    g.loc[g["grid_id"] == "EN", "parent_id"] = "E"
    g.loc[g["grid_id"] == "WN", "parent_id"] = "W"
    subs = _substations({"S1": (1_000.0, 1_000.0), "S2": (1_000.0, 9_000.0)})
    problems = gg.validate_grids(g, county=_county(_box(0, 0, 1e4, 1e4)), substations=subs)
    assert [(p["problem"], p["grid_id"]) for p in problems] == [("substation_outside", "E")]
    assert "S2" in problems[0]["detail"] and "4.00 km" in problems[0]["detail"]
    assert gg.validate_grids(g, county=_county(_box(0, 0, 1e4, 1e4))) == []


def test_topology_error_names_grids_and_places(monkeypatch):
    fake = [
        {"problem": "not_contiguous", "grid_id": "T2-S08", "other_id": None,
         "area_m2": 520_000.0, "location": (116.61234, 29.89012),
         "detail": "a part detached from the grid's main part in county piece 1 of 3"},
    ]  # fmt: skip
    monkeypatch.setattr(gg, "validate_grids", lambda *a, **k: fake)
    villages = _lattice(0, "A")
    with pytest.raises(GridTopologyError) as info:
        gg.build_service_grids(
            _county(SQ_A), _villages(villages), _substations({"S1": (1_000.0, 3_750.0)}),
            _workload(villages), method="voronoi", n_grids=1,
        )  # fmt: skip
    msg = str(info.value)
    assert info.value.problems == fake
    assert "T2-S08" in msg and "116.61234,29.89012" in msg and "0.520 km²" in msg
    assert "county piece 1 of 3" in msg
    assert "`" not in msg and ".problems" not in msg


# --------------------------------------------------------------------------- #
# the real 彭泽县 (Pengze, adcode 360430): three pieces


@pytest.fixture(scope="module")
def pengze():
    county = io.read_layer(JIANGXI / "amap_jiangxi_counties_gcj02.gpkg", datum="gcj02")
    county = county.loc[county["adcode"].astype(str) == "360430"].reset_index(drop=True)
    osm = gpd.read_file(JIANGXI / "osm_substations_jiangxi_points.gpkg").to_crs(4326)
    boundary = county.geometry.iloc[0]
    subs = osm.loc[osm.within(boundary)].reset_index(drop=True)
    subs = gpd.GeoDataFrame(
        {"substation_id": [f"S{i + 1:02d}" for i in range(len(subs))]},
        geometry=subs.geometry.to_numpy(),
        crs=4326,
    )
    # synthetic villages: a 4 km lattice of points inside the county
    metric = county.to_crs(CRS_M)
    x0, y0, x1, y1 = metric.total_bounds
    xs, ys = np.meshgrid(np.arange(x0 + 2000, x1, 4000), np.arange(y0 + 2000, y1, 4000))
    pts = shapely.points(xs.ravel(), ys.ravel())
    pts = pts[shapely.contains(metric.geometry.iloc[0], pts)]
    villages = gpd.GeoDataFrame(
        {"village_code": [f"V{i:04d}" for i in range(len(pts))]}, geometry=pts, crs=CRS_M
    ).to_crs(4326)
    workload = pd.DataFrame({"village_code": villages["village_code"], "customers": 100})
    return county, villages, subs, workload


def test_pengze_three_pieces_gridded_clean(pengze):
    county, villages, subs, workload = pengze
    parts = sorted(shapely.get_parts(county.to_crs(CRS_M).geometry.iloc[0]), key=shapely.area)
    assert len(parts) == 3 and len(subs) >= 2
    # two OSM substations 1.4 km apart stand in one village cell of the 4 km lattice: the
    # build says so and the one not keeping that village heads no grid of its own
    with pytest.warns(UserWarning, match="stand in the village of another substation"):
        sg = gg.build_service_grids(county, villages, subs, workload, method="voronoi", n_grids=2)
    assert gg.validate_grids(sg.grids, county=county, substations=subs) == []
    assert len(sg.pieces) == 3
    assert sg.pieces["area_km2"].sum() == pytest.approx(
        sum(shapely.area(p) for p in parts) / 1e6, rel=1e-6
    )
    g = sg.grids.to_crs(CRS_M).set_index("grid_id")
    t2 = g[g["tier"] == 2]
    # every county piece lies in exactly one supply grid or is cut among several in the
    # largest piece; each small piece (no villages of the 4 km lattice) joins the supply
    # grid nearest to it in straight line, checked here with shapely on the other pieces
    for small in parts[:2]:
        holder = [gid for gid, geom in t2.geometry.items() if geom.covers(small.buffer(-1.0))]
        assert len(holder) == 1
        others = {gid: shapely.distance(shapely.difference(geom, small), small)
                  for gid, geom in t2.geometry.items()}  # fmt: skip
        assert holder[0] == min(others, key=others.get)
        row = _nearest_piece_row(sg, small)
        assert (row["grid_id"], row["how"]) == (holder[0], "nearest")
    # every substation lies in its own supply grid
    subs_m = subs.to_crs(CRS_M).set_index("substation_id").geometry
    for _gid, row in t2.iterrows():
        assert row.geometry.distance(subs_m[row["substation_id"]]) < 1e-6
    # every grid has at most one part per county piece
    for _, row in g[g["tier"] > 1].iterrows():
        pieces = [
            int(np.argmax([shapely.area(shapely.intersection(part, p)) for p in parts]))
            for part in shapely.get_parts(row.geometry)
            if shapely.area(part) > 1.0
        ]
        assert len(pieces) == len(set(pieces))


def _nearest_piece_row(sg: gg.ServiceGrids, piece_m) -> pd.Series:
    lon, lat = gpd.GeoSeries([piece_m.centroid], crs=CRS_M).to_crs(4326).get_coordinates().iloc[0]
    d = np.hypot(sg.pieces["lon"] - lon, sg.pieces["lat"] - lat)
    return sg.pieces.loc[d.idxmin()]


# --------------------------------------------------------------------------- #
# the command line


def _workspace(tmp_path: Path, subs: dict[str, tuple[float, float]]) -> Path:
    from gridgeo import workspace

    villages = {**_lattice(0, "A"), **_lattice(12_000, "B")}
    v = _villages(villages)
    v["village"] = [f"{c}村" for c in v["village_code"]]
    path = tmp_path / "ws.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # substations kept outside the county are named
        workspace.create_workspace(
            path,
            {"county": _county(SQ_A, SQ_B), "villages": v, "substations": _substations(subs)},
            author="a",
            reason="b",
            allow_outside=True,
        )
    return path


def test_cli_grids_build_prints_the_pieces(tmp_path, capsys):
    from gridgeo.cli import main

    ws = _workspace(tmp_path, {"S1": (1_000.0, 3_750.0), "S2": (9_000.0, 3_750.0)})
    rc = main(["grids", "build", "--workspace", str(ws), "--method", "voronoi",
               "--author", "a", "--reason", "b"])  # fmt: skip
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "the county is in 2 pieces" in out.out
    rows = [line.split() for line in out.out.splitlines() if line.strip()[:1] in ("1", "2")]
    piece2 = next(r for r in rows if r[0] == "2")
    assert piece2[1] == "100.000" and piece2[3] == "16" and piece2[4] == "T2-S2,"
    assert "nearest grid in straight line" in " ".join(piece2)
    rc = main(["grids", "validate", "--workspace", str(ws)])
    assert rc == 0 and "no topology problems" in capsys.readouterr().out


def test_cli_grids_build_refuses_substations_far_outside(tmp_path, capsys):
    from gridgeo.cli import main

    ws = _workspace(tmp_path, {"S1": (1_000.0, 3_750.0), "FAR": (160_000.0, 5_000.0)})
    rc = main(["grids", "build", "--workspace", str(ws), "--method", "voronoi",
               "--author", "a", "--reason", "b"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2
    assert "县界外的变电站 / substations outside the county" in err
    assert "FAR" in err and "138.0" in err  # 160 km - the east edge of B at 22 km
    assert "Traceback" not in err and ".problems" not in err and "max_outside_m" not in err


def test_workspace_build_with_a_roster_keeps_the_pieces(tmp_path):
    from gridgeo import workspace
    from gridgeo.store import GeoPackageStore

    ws = _workspace(tmp_path, {"S1": (1_000.0, 3_750.0), "S2": (9_000.0, 3_750.0)})
    roster = pd.DataFrame(
        {"grid_id": ["T1-999999"], "manager": ["张三"], "members": [""], "liaison": [""],
         "manager_phone": [""], "liaison_phone": [""]}
    )  # fmt: skip
    with pytest.warns(UserWarning, match="no roster row"):
        build = workspace.build_grids(GeoPackageStore.open(ws), method="voronoi", roster=roster)
    assert build.service.pieces["how"].tolist() == ["own", "nearest"]
    assert build.service.grids.set_index("grid_id").loc["T1-999999", "manager"] == "张三"
