"""Dispatch from station labels on real roads: the per-query search's answers, and NetworkX's.

On three real OSM extracts (tests/data/roads: a German city with one-way streets, a Shanghai
district, Andorra's mountain roads) and the sample county, 200 seeded random faults each (some
far beyond every road) and seven stations (one far from every road):

- labels against today's per-query search (one Dijkstra from the fault,
  ``times_to_point`` + ``route_line``, through ``dispatch`` without labels): the same station,
  every station's ETA to 1e-6 s, the same reasons and route length;
- labels against the independent oracle of tests/oracle.py (brute-force shapely nearest edge,
  NetworkX Dijkstra from each station's snapped position, partial edges written there): every
  station's ETA to 1e-6 s, the best station where it is unique, the route length where the
  quickest way is unique.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from oracle import Oracle

from gridgeo.dispatch import dispatch
from gridgeo.network import graph_from_osm, graph_from_roads
from gridgeo.routing import ReachEngine, StationLabels
from gridgeo.sample import load_sample

TOL_S = 1e-6
N_FAULTS = 200
EXTRACTS = (
    "heidelberg_ors_test.osm.pbf",
    "osm_shanghai_huangpu_drive.osm",
    "andorra_graphhopper.osm.pbf",
)


@dataclass
class Bed:
    """One road network with its engine, oracle, stations, faults and labels."""

    name: str
    engine: ReachEngine
    oracle: Oracle
    stations: gpd.GeoDataFrame
    stations_xy: np.ndarray
    faults: gpd.GeoDataFrame
    faults_xy: np.ndarray
    labels: StationLabels


def _bed(name: str, G: nx.MultiDiGraph, stations: gpd.GeoDataFrame | None, seed: int) -> Bed:
    engine = ReachEngine(G)
    oracle = Oracle.of_engine(G, engine)
    if stations is None:
        xy = oracle.random_points(6, seed + 1, far_share=0.0, near_m=200.0)
        far = oracle.lines[0].bounds[:2] + np.array([[-20_000.0, -20_000.0]])
        xy = np.vstack([xy, far])
        stations = gpd.GeoDataFrame(
            {"station_id": [f"S{i}" for i in range(len(xy))], "crews": 2},
            geometry=oracle.to_points(xy),
            crs="EPSG:4326",
        )
    stations_xy = oracle.to_metric(stations.geometry)
    faults_xy = oracle.random_points(N_FAULTS, seed)
    faults = gpd.GeoDataFrame(
        {"customer_id": [f"F{i:03d}" for i in range(N_FAULTS)]},
        geometry=oracle.to_points(faults_xy),
        crs="EPSG:4326",
    )
    # the oracle measures the faults as dispatch gets them: in lon/lat
    faults_xy = oracle.to_metric(faults.geometry)
    return Bed(
        name=name,
        engine=engine,
        oracle=oracle,
        stations=stations,
        stations_xy=stations_xy,
        faults=faults,
        faults_xy=faults_xy,
        labels=StationLabels(engine, stations),
    )


@pytest.fixture(scope="module", params=[*EXTRACTS, "sample county"])
def bed(request: pytest.FixtureRequest, roads_dir) -> Bed:
    name = request.param
    seed = 9 + [*EXTRACTS, "sample county"].index(name)
    if name == "sample county":
        county = load_sample()
        G = graph_from_roads(county.roads, mode="drive")
        return _bed(name, G, county.repair_stations, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        G = graph_from_osm(roads_dir / name, mode="drive")
    return _bed(name, G, None, seed)


def _dispatch(bed: Bed, fault_id: str, labels: StationLabels | None):
    return dispatch(
        bed.engine,
        bed.stations,
        customer_id=fault_id,
        customers=bed.faults,
        labels=labels,
        limit_s=600.0,
    )


def test_labels_give_the_per_query_answers(bed: Bed) -> None:
    ids = bed.stations["station_id"].to_numpy()
    routed = 0
    for fault_id in bed.faults["customer_id"]:
        by_labels = _dispatch(bed, fault_id, bed.labels)
        per_query = _dispatch(bed, fault_id, None)
        a = by_labels.options.set_index("station_id").reindex(ids)
        b = per_query.options.set_index("station_id").reindex(ids)
        np.testing.assert_array_equal(a["eta_s"].isna(), b["eta_s"].isna())
        np.testing.assert_allclose(a["eta_s"], b["eta_s"], rtol=0, atol=TOL_S)
        assert a["reason"].tolist() == b["reason"].tolist()
        assert by_labels.reason == per_query.reason
        if per_query.station_id is None:
            assert by_labels.station_id is None and by_labels.route is None
            continue
        assert by_labels.eta_s == pytest.approx(per_query.eta_s, abs=TOL_S)
        if by_labels.station_id != per_query.station_id:
            # only a tie can pick another station: both equally quick
            assert a.loc[per_query.station_id, "eta_s"] == pytest.approx(by_labels.eta_s, abs=TOL_S)
            continue
        routed += 1
        assert by_labels.route_km == pytest.approx(per_query.route_km, rel=0, abs=1e-9)
        assert by_labels.route is not None and per_query.route is not None
        ends = np.array(by_labels.route.geometry.iloc[0].coords)[[0, -1]]
        expected = np.array(per_query.route.geometry.iloc[0].coords)[[0, -1]]
        np.testing.assert_allclose(ends, expected, rtol=0, atol=1e-9)
    assert routed >= N_FAULTS // 2, bed.name


def test_labels_match_the_networkx_oracle(bed: Bed) -> None:
    truth = bed.oracle.dispatch(bed.stations_xy, bed.faults_xy)
    eta, _ = bed.labels.times_to(bed.engine.snap_points(bed.faults))
    np.testing.assert_array_equal(np.isinf(eta), np.isinf(truth.eta_s))
    fin = np.isfinite(truth.eta_s)
    np.testing.assert_allclose(eta[fin], truth.eta_s[fin], rtol=0, atol=TOL_S)
    assert fin.any(axis=1).sum() >= N_FAULTS // 2, bed.name
    # the dispatched station and its route, where the oracle says they are unique
    ids = bed.stations["station_id"].to_numpy()
    checked = 0
    for k, fault_id in enumerate(bed.faults["customer_id"]):
        r = _dispatch(bed, fault_id, bed.labels)
        if truth.best[k] < 0:
            if not fin[k].any():
                assert r.station_id is None
            continue
        assert r.station_id == ids[truth.best[k]]
        assert r.eta_s == pytest.approx(truth.eta_s[k, truth.best[k]], abs=TOL_S)
        if np.isfinite(truth.route_m[k]):
            checked += 1
            assert r.route_km * 1000 == pytest.approx(truth.route_m[k], rel=0, abs=1e-6)
    assert checked >= N_FAULTS // 2, bed.name
