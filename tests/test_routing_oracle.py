"""gridgeo's routing against an independent oracle on real roads, for every kind of input.

The expected values come from :mod:`oracle` (tests/oracle.py): brute-force shapely snapping to
the nearest edge, the partial-edge arithmetic written there and NetworkX's Dijkstra on the
NetworkX graph gridgeo builds (``graph_from_osm`` / ``graph_from_roads``). gridgeo's answers
come from its public calls: ``repair_reach`` and ``routing.travel_times`` (station → point on
the drive graph), ``payment_access`` and ``travel_times(reverse=True)`` (point → payment point
on the two-wheeler graph) and ``dispatch`` (per query and from station labels).

Inputs, on the four real OSM extracts of tests/data/roads and on the sample county: seeded
random points (some beyond the snapping distance); every junction (graph node) given in lon/lat,
in EPSG:3857, in the engine's metric CRS (UTM, or CGCS2000 Gauss-Krüger in China) and in a
national CRS (ETRS89 / UTM in Europe, WGS 84 / UTM in China); points at the start, middle and
end of one-way edges; points near small isolated road pieces (one source on such a piece). A
junction is the node whatever the CRS it came in: the junction cases compare every CRS with
the oracle of the node positions themselves.

Times agree to 1e-6 s; the best station where the oracle's is unique by more than 1e-6 s.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from handgraphs import TOL_S, frame, hand_graph, pts
from oracle import Dispatch, Oracle, Times

from gridgeo import (
    DEFAULT_DISPATCH_LIMIT_S,
    dispatch,
    load_sample,
    payment_access,
    repair_reach,
)
from gridgeo.network import graph_from_osm, graph_from_roads
from gridgeo.routing import ReachEngine, StationLabels, travel_times

N_SOURCES = 6
N_RANDOM = 1000
N_FAULTS = 200

# name: (extract in tests/data/roads, or None for the sample county; a national CRS)
PLACES = {
    "andorra": ("andorra_graphhopper.osm.pbf", "EPSG:25831"),
    "heidelberg": ("heidelberg_ors_test.osm.pbf", "EPSG:25832"),
    "bayreuth": ("north-bayreuth_graphhopper.osm.gz", "EPSG:25832"),
    "shanghai": ("osm_shanghai_huangpu_drive.osm", "EPSG:32651"),
    "nanfeng": (None, "EPSG:32650"),
}
# metric CRS the engine must pick (crs.metric_crs: UTM abroad, CGCS2000 Gauss-Krüger in China)
ENGINE_CRS = {
    "andorra": 32631,
    "heidelberg": 32632,
    "bayreuth": 32632,
    "shanghai": 4549,
    "nanfeng": 4548,
}
# Heidelberg is ten times the others: a seeded share of its junctions, the whole file < 90 s
MAX_JUNCTIONS = 4000


def _places(*, slow: tuple[str, ...] = ("heidelberg",)) -> list:
    return [pytest.param(name, marks=pytest.mark.slow) if name in slow else name for name in PLACES]


@dataclass
class Mode:
    """One travel mode of a place: its NetworkX graph, gridgeo's engine and the oracle."""

    G: nx.MultiDiGraph
    engine: ReachEngine
    oracle: Oracle


@dataclass
class Place:
    name: str
    repair: Mode  # drive
    payment: Mode  # two_wheeler
    national_crs: str
    seed: int
    memo: dict = field(default_factory=dict)

    def sources(self, xy_m: np.ndarray, column: str) -> gpd.GeoDataFrame:
        """Metric points of the repair oracle as a table of sources in lon/lat."""
        return gpd.GeoDataFrame(
            {column: [f"S{i}" for i in range(len(xy_m))]},
            geometry=self.repair.oracle.to_points(xy_m),
            crs="EPSG:4326",
        )


def _mode(G: nx.MultiDiGraph) -> Mode:
    engine = ReachEngine(G)
    return Mode(G, engine, Oracle.of_engine(G, engine))


@pytest.fixture(scope="module")
def place(roads_dir: Path) -> Callable[[str], Place]:
    """The places, built on first use and kept for the module."""
    cache: dict[str, Place] = {}

    def get(name: str) -> Place:
        if name not in cache:
            file, national = PLACES[name]
            if file is None:
                roads = load_sample().roads
                drive = graph_from_roads(roads, mode="drive")
                two = graph_from_roads(roads, mode="two_wheeler")
            else:
                drive = graph_from_osm(roads_dir / file, mode="drive")
                two = graph_from_osm(roads_dir / file, mode="two_wheeler")
            seed = 1000 * (list(PLACES).index(name) + 1)
            cache[name] = Place(name, _mode(drive), _mode(two), national, seed)
        return cache[name]

    return get


# --------------------------------------------------------------------------- comparing


def _engine_times(
    mode: Mode, sources: gpd.GeoDataFrame, targets: gpd.GeoSeries, *, reverse: bool
) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """gridgeo's (eta_s, best source id, reason) from the service call and travel_times."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sources on small pieces or far from the roads
        if reverse:
            points = sources.rename(columns={"station_id": "point_id"})
            s = payment_access(mode.engine, targets, points)
            service = (
                "payment_access",
                s["payment_eta_s"].to_numpy(),
                s["payment_point_id"].to_numpy(),
                s["payment_reason"].to_numpy(),
            )
        else:
            s = repair_reach(mode.engine, targets, sources)
            service = (
                "repair_reach",
                s["repair_eta_s"].to_numpy(),
                s["repair_station_id"].to_numpy(),
                s["repair_reason"].to_numpy(),
            )
        t = travel_times(mode.engine, sources.set_index("station_id"), targets, reverse=reverse)
    direct = ("travel_times", t["eta_s"].to_numpy(), t["source"].to_numpy(), t["reason"].to_numpy())
    return [service, direct]


def _mismatches(
    expected: Times, eta: np.ndarray, source: np.ndarray, reason: np.ndarray
) -> list[str]:
    """What differs from the oracle, counted (empty when everything agrees)."""
    out = []
    exp = expected.eta_s
    reach = np.isnan(eta) != np.isnan(exp)
    if reach.any():
        out.append(f"{int(reach.sum())} reached/not reached (e.g. {np.flatnonzero(reach)[:5]})")
    both = np.isfinite(eta) & np.isfinite(exp)
    diff = np.abs(eta[both] - exp[both])
    wrong = diff > TOL_S
    if wrong.any():
        out.append(
            f"{int(wrong.sum())} of {int(both.sum())} ETAs differ, by up to {diff.max():.3f} s "
            f"(e.g. {np.flatnonzero(both)[wrong][:5]})"
        )
    known = expected.best >= 0
    ids = np.array([f"S{i}" for i in expected.best[known]])
    st = source[known] != ids
    if st.any():
        out.append(f"{int(st.sum())} of {int(known.sum())} unique best sources differ")
    # gridgeo's reasons with a time (ok / over_limit) are the oracle's ok
    got = np.where(np.isin(reason, ["ok", "over_limit"]), "ok", reason)
    rs = got != expected.reason
    if rs.any():
        out.append(f"{int(rs.sum())} reasons differ (e.g. {np.flatnonzero(rs)[:5]})")
    return out


def _check(
    mode: Mode,
    sources: gpd.GeoDataFrame,
    expected: Times,
    variants: dict[str, gpd.GeoSeries],
    *,
    reverse: bool,
    min_reached: float,
) -> list[str]:
    """What differs between the oracle and every gridgeo call on every variant of the targets."""
    assert np.isfinite(expected.eta_s).sum() >= min_reached * len(expected.eta_s)
    problems = []
    for label, targets in variants.items():
        for call, eta, source, reason in _engine_times(mode, sources, targets, reverse=reverse):
            found = _mismatches(expected, eta, source, reason)
            problems += [f"{call}, targets in {label}: {m}" for m in found]
    return problems


def _source_xy(place: Place, seed: int) -> np.ndarray:
    return place.repair.oracle.random_points(N_SOURCES, seed, far_share=0.0, near_m=100.0)


def _both_services(
    place: Place,
    targets_ll: Callable[[Mode], gpd.GeoSeries],
    *,
    crs_list: tuple[str, ...] = ("EPSG:4326",),
    sources_xy: np.ndarray | None = None,
    min_reached: float = 0.5,
) -> list[Times]:
    """Repair and payment reach of one kind of targets (given in each CRS of ``crs_list``)."""
    src_xy = _source_xy(place, place.seed + 1) if sources_xy is None else sources_xy
    sources = place.sources(src_xy, "station_id")
    out, problems = [], []
    for mode, reverse in ((place.repair, False), (place.payment, True)):
        targets = targets_ll(mode)
        o = mode.oracle
        expected = o.times(o.to_metric(sources.geometry), o.to_metric(targets), reverse=reverse)
        variants = {str(crs): targets.to_crs(crs) for crs in crs_list}
        problems += _check(
            mode, sources, expected, variants, reverse=reverse, min_reached=min_reached
        )
        out.append(expected)
    assert not problems, "\n".join(problems)
    return out


# --------------------------------------------------------------------------- the oracle itself


@pytest.mark.parametrize("name", ["andorra", "nanfeng"])
def test_oracle_searches_are_networkx_on_the_graph(place, name: str) -> None:
    # sources exactly at junctions: the oracle's node times (its own light graph, virtual
    # sources) are NetworkX's Dijkstra on gridgeo's graph itself, both directions
    p = place(name)
    for mode in (p.repair, p.payment):
        o = mode.oracle
        rng = np.random.default_rng(p.seed + 11)
        for k in rng.choice(len(o.nodes), 3, replace=False):
            xy = o.to_metric(o.node_points().iloc[[k]])
            for reverse in (False, True):
                dist, snapped = o.node_times(xy, reverse=reverse)
                assert (snapped.t[snapped.edge >= 0] % 1.0 == 0.0).all()  # at the node
                H = mode.G.reverse(copy=False) if reverse else mode.G
                d = nx.single_source_dijkstra_path_length(H, o.nodes[k], weight="travel_time")
                expect = np.array([d.get(n, np.inf) for n in o.nodes])
                np.testing.assert_allclose(dist, expect, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- repair and payment


@pytest.mark.parametrize("name", _places())
def test_random_points(place, name: str) -> None:
    p = place(name)

    def targets(mode: Mode) -> gpd.GeoSeries:
        return mode.oracle.to_points(mode.oracle.random_points(N_RANDOM, p.seed + 2))

    _both_services(p, targets)


@pytest.mark.parametrize("name", _places())
def test_every_junction_in_every_crs(place, name: str) -> None:
    p = place(name)
    assert p.repair.engine.crs.to_epsg() == ENGINE_CRS[name]
    crs_list = ("EPSG:4326", "EPSG:3857", p.repair.engine.crs.to_string(), p.national_crs)

    def targets(mode: Mode) -> gpd.GeoSeries:
        nodes = mode.oracle.node_points()
        if len(nodes) > MAX_JUNCTIONS:
            rng = np.random.default_rng(p.seed + 3)
            nodes = nodes.iloc[np.sort(rng.choice(len(nodes), MAX_JUNCTIONS, replace=False))]
        return nodes.reset_index(drop=True)

    _both_services(p, targets, crs_list=crs_list)


@pytest.mark.parametrize("name", _places())
def test_points_on_one_way_edges(place, name: str) -> None:
    p = place(name)

    def targets(mode: Mode) -> gpd.GeoSeries:
        o = mode.oracle
        one_way = np.flatnonzero(
            [not mode.G.has_edge(v, u) for u, v in zip(*_ends(mode), strict=True)]
        )
        assert len(one_way) > 10
        rng = np.random.default_rng(p.seed + 4)
        pick = rng.choice(one_way, min(300, len(one_way)), replace=False)
        at = np.repeat([0.0, 0.5, 1.0], len(pick))
        on = shapely.line_interpolate_point(o.lines[np.tile(pick, 3)], at, normalized=True)
        return o.to_points(shapely.get_coordinates(on))

    # the ends of one-way edges in lon/lat and after the trips through other CRSs
    _both_services(p, targets, crs_list=("EPSG:4326", "EPSG:3857", p.national_crs))


def _ends(mode: Mode) -> tuple[list, list]:
    o = mode.oracle
    return [o.nodes[i] for i in o.eu], [o.nodes[i] for i in o.ev]


@pytest.mark.parametrize("name", _places())
def test_points_near_isolated_pieces(place, name: str) -> None:
    p = place(name)
    o = p.repair.oracle
    small = np.flatnonzero(~o.main_edge)
    assert len(small) > 0
    # one source on a small piece: it serves that piece
    src_xy = np.vstack(
        [
            _source_xy(p, p.seed + 5)[:-1],
            o.random_points(1, p.seed + 6, far_share=0.0, near_m=0.0, edges=small),
        ]
    )

    def targets(mode: Mode) -> gpd.GeoSeries:
        m = mode.oracle
        near = m.random_points(
            400, p.seed + 7, far_share=0.0, near_m=800.0, edges=np.flatnonzero(~m.main_edge)
        )
        return m.to_points(near)

    repair, _ = _both_services(p, targets, sources_xy=src_xy, min_reached=0.0)
    # the case has points that stay on their piece and points that join the main network
    assert (repair.reason == "isolated_road_piece").any()
    assert (repair.reason == "ok").sum() > 100


# --------------------------------------------------------------------------- dispatch


def _faults(place: Place) -> gpd.GeoDataFrame:
    """200 faults in EPSG:3857: seeded random points and junctions (a third of them)."""
    o = place.repair.oracle
    n_j = N_FAULTS // 3
    rng = np.random.default_rng(place.seed + 8)
    nodes = o.node_points().iloc[rng.choice(len(o.nodes), n_j, replace=False)]
    random = o.to_points(o.random_points(N_FAULTS - n_j, place.seed + 9))
    geoms = pd.concat([random, nodes], ignore_index=True).to_crs("EPSG:3857")
    return gpd.GeoDataFrame(
        {"customer_id": [f"F{i}" for i in range(N_FAULTS)]}, geometry=geoms, crs="EPSG:3857"
    )


@pytest.mark.parametrize("with_labels", [False, True], ids=["per_query", "labels"])
@pytest.mark.parametrize("name", _places())
def test_dispatch(place, name: str, with_labels: bool) -> None:
    p = place(name)
    mode = p.repair
    o = mode.oracle
    stations = p.sources(_source_xy(p, p.seed + 10), "station_id")
    faults = _faults(p)
    if "dispatch" not in p.memo:  # the same oracle for both ways of dispatching
        p.memo["dispatch"] = o.dispatch(
            o.to_metric(stations.geometry), o.to_metric(faults.geometry)
        )
    expected: Dispatch = p.memo["dispatch"]
    labels = StationLabels(mode.engine, stations) if with_labels else None
    ids = stations["station_id"].to_numpy()
    problems = []
    routes = 0
    for k, fid in enumerate(faults["customer_id"]):
        r = dispatch(mode.engine, stations, customer_id=fid, customers=faults, labels=labels)
        exp = expected.eta_s[k]
        got = r.options.set_index("station_id").loc[ids, "eta_s"].to_numpy()
        reach = np.isnan(got) != ~np.isfinite(exp)
        fin = np.isfinite(exp) & ~reach
        if reach.any() or (np.abs(got[fin] - exp[fin]) > TOL_S).any():
            problems.append(f"{fid}: station times {got} != {exp}")
            continue
        if not np.isfinite(exp).any():
            assert r.station_id is None
            assert r.reason in ("too_far_from_road", "isolated_road_piece", "unreachable")
            continue
        assert r.eta_s == pytest.approx(exp.min(), abs=TOL_S)
        assert r.within_limit == (r.eta_s <= DEFAULT_DISPATCH_LIMIT_S)
        assert r.reason == ("ok" if r.within_limit else "over_limit")
        b = expected.best[k]
        if b >= 0 and r.station_id != ids[b]:
            problems.append(f"{fid}: station {r.station_id} != {ids[b]}")
        if b >= 0 and np.isfinite(expected.route_m[k]):
            routes += 1
            if abs(r.route_km * 1000.0 - expected.route_m[k]) > 1e-3:
                problems.append(
                    f"{fid}: route {r.route_km * 1000:.3f} m != {expected.route_m[k]:.3f} m"
                )
    assert not problems, f"{len(problems)} of {N_FAULTS} faults differ:\n" + "\n".join(problems)
    assert routes > 0.8 * N_FAULTS


# --------------------------------------------------------------------------- the at-node rule

# A(0,0) -> B(1000,0) -> C(1000,1000) -> A: a one-way ring, 100 s per edge (GK metres)
RING = {"A": (0.0, 0.0), "B": (1000.0, 0.0), "C": (1000.0, 1000.0)}
RING_EDGES = [("A", "B", 100.0, False), ("B", "C", 100.0, False), ("C", "A", 100.0, False)]


@pytest.fixture(scope="module")
def ring() -> ReachEngine:
    return ReachEngine(hand_graph(RING, RING_EDGES))


def test_a_point_within_a_micrometre_of_a_node_is_at_the_node(ring: ReachEngine) -> None:
    # a station 0.5 µm along A -> B is at A: 0 s to A, 100 s to B; one 2 µm along is not: it
    # must go round the ring (B, C, A) to reach A
    station = frame(["S"], (0.5e-6, 0.0), column="station_id")
    r = repair_reach(ring, pts((0.0, 0.0), (1000.0, 0.0)), station)
    np.testing.assert_allclose(r["repair_eta_s"], [0.0, 100.0], atol=TOL_S)
    far = frame(["S"], (2e-6, 0.0), column="station_id")
    r = repair_reach(ring, pts((0.0, 0.0)), far, limit_s=3600.0)
    assert r["repair_eta_s"].iloc[0] == pytest.approx(300.0 - 2e-7, abs=TOL_S)
    # the same 0.5 µm before the end of A -> B: at B
    customer = pts((1000.0 - 0.5e-6, 0.0))
    r = repair_reach(ring, customer, frame(["S"], (1000.0, 0.0), column="station_id"))
    assert r["repair_eta_s"].iloc[0] == pytest.approx(0.0, abs=TOL_S)


def test_a_node_given_in_another_crs_is_the_node(ring: ReachEngine) -> None:
    # every node and every source at a node, through EPSG:3857 and back: a station at a node
    # reaches its own node in 0 s on the one-way ring and the next node in 100 s
    nodes = pts(*RING.values())
    for crs in ("EPSG:3857", "EPSG:32650", "EPSG:4548"):
        moved = nodes.to_crs(crs)
        for i, sid in enumerate(RING):
            station = gpd.GeoDataFrame(
                {"station_id": [sid]}, geometry=moved.iloc[[i]].to_numpy(), crs=crs
            )
            r = repair_reach(ring, moved, station)
            expect = [((j - i) % 3) * 100.0 for j in range(3)]
            np.testing.assert_allclose(r["repair_eta_s"], expect, atol=TOL_S, err_msg=crs)
            back = payment_access(ring, moved, station.rename(columns={"station_id": "point_id"}))
            expect = [((i - j) % 3) * 100.0 for j in range(3)]
            np.testing.assert_allclose(back["payment_eta_s"], expect, atol=TOL_S, err_msg=crs)
