"""Tests of gridgeo.plan: the bounded travel-time matrix and the siting of new sites.

Expected values come from hand arithmetic on small graphs and, on the sample county, from an
independent code path: :func:`gridgeo.reach.repair_reach` / :func:`~gridgeo.reach.payment_access`
(validated against NetworkX in tests/test_reach.py) run per candidate, and a brute force over
every k-subset of the candidates with one ``repair_reach`` call per subset.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from handgraphs import RING_EDGES, RING_NODES, TOL_S, WALK_MPS, frame, hand_graph, pts

from gridgeo import plan, workspace
from gridgeo.errors import (
    CRSError,
    DuplicateIdError,
    EmptyDataError,
    InputError,
    MissingColumnError,
)
from gridgeo.plan import (
    DEFAULT_SITE_ID_COLUMN,
    DEFAULT_SITING_METHOD,
    SITING_METHODS,
    SitingResult,
    site_facilities,
)
from gridgeo.reach import (
    DEFAULT_PAYMENT_LIMIT_S,
    DEFAULT_PAYMENT_MODE,
    DEFAULT_REPAIR_LIMIT_S,
    ReachEngine,
    payment_access,
    repair_reach,
)
from gridgeo.routing import search as routing_search
from gridgeo.routing import travel_matrix
from gridgeo.sample import load_sample


def dense(M) -> np.ndarray:
    """A sparse time matrix as dense, NaN where there is no entry (explicit zeros kept)."""
    out = np.full(M.shape, np.nan)
    coo = M.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


# A(0,0) - B(1000,0) - C(2000,0) two-way, 100 s each; C -> D(2000,1000) one-way 50 s;
# D -> E(1000,1000) one-way 60 s; E -> B one-way 70 s.
NODES, EDGES = RING_NODES, RING_EDGES  # see tests/handgraphs.py


@pytest.fixture(scope="module")
def hand() -> ReachEngine:
    return ReachEngine(hand_graph(NODES, EDGES))


# sources: S1 at A; S2 halfway along the one-way D->E; S3 20 m south of B (16 s walk)
HAND_SOURCES = [(0.0, 0.0), (1500.0, 1000.0), (1000.0, -20.0)]
# targets: T1 halfway B-C; T2 10 m off D->E (8 s walk), 0.6 of the way from D; T3 on D->E,
# 0.8 of the way; T4 far from every road
HAND_TARGETS = [(1500.0, 0.0), (1400.0, 1010.0), (1200.0, 1000.0), (9000.0, 9000.0)]
LEG2, LEG3 = 10 / WALK_MPS, 20 / WALK_MPS
NAN = np.nan
# source -> target (repair): S1 via A-B-C-D then along D->E; S2 downstream along D->E or
# round E-B-C-D; S3 from B
HAND_FORWARD = [
    [100 + 50, 100 + 100 + 50 + 0.6 * 60 + LEG2, 250 + 0.8 * 60, NAN],
    [30 + 70 + 50, 0.1 * 60 + LEG2, 0.3 * 60, NAN],
    [LEG3 + 50, LEG3 + 100 + 50 + 36 + LEG2, LEG3 + 100 + 50 + 48, NAN],
]
# target -> source (payment): T1 -> A back along B-C, T2/T3 -> E -> B -> A; T2 and T3 -> S2
# must go round E-B-C-D
HAND_REVERSE = [
    [50 + 100, LEG2 + 24 + 70 + 100, 12 + 70 + 100, NAN],
    [50 + 50 + 30, LEG2 + 24 + 70 + 100 + 50 + 30, 12 + 70 + 100 + 50 + 30, NAN],
    [50 + LEG3, LEG2 + 24 + 70 + LEG3, 12 + 70 + LEG3, NAN],
]


@pytest.mark.parametrize(
    ("reverse", "expected", "limit_s", "n_cut"),
    [(False, HAND_FORWARD, 295.0, 1), (True, HAND_REVERSE, 200.0, 3)],
)
def test_matrix_hand_graph(hand, reverse, expected, limit_s, n_cut) -> None:
    M = travel_matrix(
        hand, pts(*HAND_SOURCES), pts(*HAND_TARGETS), limit_s=limit_s, reverse=reverse
    )
    exp = np.asarray(expected, dtype=float)
    # the limit cuts something in both directions (294 <= 295 < 298; 182 <= 200 < 202)
    assert (exp[:, :3] > limit_s).sum() == n_cut
    exp[exp > limit_s] = np.nan
    assert M.shape == (3, 4)
    got = dense(M)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(exp))
    np.testing.assert_allclose(got[~np.isnan(exp)], exp[~np.isnan(exp)], rtol=0, atol=TOL_S)


def test_matrix_same_point_on_a_one_way_edge_and_unusable_sources(hand) -> None:
    # a site and a customer at the same point of the one-way D->E: no time in either
    # direction (not the way round E-B-C-D); sources without a position or far from every
    # road have no entries
    for reverse in (False, True):
        M = travel_matrix(
            hand,
            pts((1500.0, 1000.0), None, (9000.0, 0.0)),
            pts((1500.0, 1000.0)),
            limit_s=10.0,
            reverse=reverse,
        )
        assert M.shape == (3, 1)
        assert M.indptr.tolist() == [0, 1, 1, 1]
        assert M.data[0] == pytest.approx(0.0, abs=TOL_S)


# --------------------------------------------------------------------------- sample county


@pytest.fixture(scope="module")
def county():
    return load_sample()


@pytest.fixture(scope="module")
def drive(county) -> ReachEngine:
    return ReachEngine.from_roads(county.roads, mode="drive")


@pytest.fixture(scope="module")
def two_wheeler(county) -> ReachEngine:
    return ReachEngine.from_roads(county.roads, mode=DEFAULT_PAYMENT_MODE)


@pytest.fixture(scope="module")
def customers(county) -> gpd.GeoDataFrame:
    c = county.customers.sample(2000, random_state=11)
    return c.set_index("customer_id", drop=False)  # a non-default index, kept by the results


@pytest.fixture(scope="module")
def candidates(county) -> gpd.GeoDataFrame:
    v = county.villages.iloc[::13][["village_code", "village", "geometry"]]
    return v.rename(columns={"village_code": "site_id"})


def _one(candidates: gpd.GeoDataFrame, i: int, column: str) -> gpd.GeoDataFrame:
    return candidates.iloc[[i]].rename(columns={"site_id": column})


@pytest.mark.parametrize("service", ["repair", "payment"])
def test_matrix_matches_reach_per_candidate(
    service, drive, two_wheeler, customers, candidates, monkeypatch
) -> None:
    engine = drive if service == "repair" else two_wheeler
    limit_s = 1200.0 if service == "repair" else DEFAULT_PAYMENT_LIMIT_S
    assert len(candidates) >= 14
    M = dense(
        travel_matrix(engine, candidates, customers, limit_s=limit_s, reverse=service == "payment")
    )
    n_in = 0
    for i in range(len(candidates)):
        if service == "repair":
            r = repair_reach(engine, customers, _one(candidates, i, "station_id"), limit_s=limit_s)
        else:
            r = payment_access(engine, customers, _one(candidates, i, "point_id"), limit_s=limit_s)
        eta = r[f"{service}_eta_s"].to_numpy()
        inside = np.isfinite(eta) & (eta <= limit_s)
        np.testing.assert_array_equal(np.isfinite(M[i]), inside)
        np.testing.assert_allclose(M[i, inside], eta[inside], rtol=0, atol=TOL_S)
        n_in += int(inside.sum())
    # not trivial: entries exist, and the limit leaves some reached customers out
    assert 0 < n_in < np.isfinite(M).size
    # small chunks (a few candidates per Dijkstra call) give the same matrix
    monkeypatch.setattr(
        routing_search, "_CHUNK_BYTES", 8 * (engine.n_nodes + 4 * len(customers)) * 4
    )
    again = dense(
        travel_matrix(engine, candidates, customers, limit_s=limit_s, reverse=service == "payment")
    )
    np.testing.assert_array_equal(again, M)


# --------------------------------------------------------------------------- exact vs brute force

BRUTE_LIMIT_S = 900.0
BRUTE_KS = (1, 2, 3)
N_BRUTE = 9


@pytest.fixture(scope="module")
def brute(county, drive):
    """repair_ok of every k-subset of 9 candidates, with and without an existing station.

    The candidates, the limit and the station are chosen so that greedy misses the optimum
    for some k (checked in the test).
    """
    cust = county.customers.sample(1500, random_state=7)
    cand = county.villages.iloc[::23][["village_code", "geometry"]].rename(
        columns={"village_code": "site_id"}
    )
    assert len(cand) == N_BRUTE
    existing = county.repair_stations.iloc[[4]][["station_id", "geometry"]]
    as_stations = cand.rename(columns={"site_id": "station_id"})
    ok: dict[tuple[bool, tuple[int, ...]], np.ndarray] = {}
    for with_existing in (False, True):
        for k in BRUTE_KS:
            for subset in itertools.combinations(range(len(cand)), k):
                parts = [as_stations.iloc[list(subset)]]
                if with_existing:
                    parts.insert(0, existing)
                stations = pd.concat(parts)
                r = repair_reach(drive, cust, stations, limit_s=BRUTE_LIMIT_S)
                ok[with_existing, subset] = r["repair_ok"].to_numpy()
    return cust, cand, existing, ok


def _weights(cust: gpd.GeoDataFrame, kind: str) -> np.ndarray | None:
    if kind == "none":
        return None
    if kind == "kpi":  # HV x5, vulnerable x3, as reach_kpis' default weights
        hv = (cust["voltage_class"] == "HV").to_numpy()
        vuln = cust["vulnerable"].astype(bool).to_numpy()
        return np.where(hv, 5.0, 1.0) * np.where(vuln, 3.0, 1.0)
    return np.random.default_rng(3).uniform(0.1, 2.0, len(cust))


@pytest.mark.parametrize("weighting", ["none", "kpi", "float"])
@pytest.mark.parametrize("with_existing", [False, True])
def test_exact_equals_brute_force_and_greedy_is_not_better(brute, drive, with_existing, weighting):
    cust, cand, existing, ok = brute
    w = _weights(cust, weighting)
    wv = np.ones(len(cust)) if w is None else w
    ids = cand["site_id"].to_numpy()
    gaps = []
    for k in BRUTE_KS:
        values = {
            s: float(wv[ok[with_existing, s]].sum())
            for s in itertools.combinations(range(N_BRUTE), k)
        }
        best = max(values.values())
        results = {}
        for method in SITING_METHODS:
            res = site_facilities(
                drive,
                cust,
                cand,
                existing=existing if with_existing else None,
                k=k,
                limit_s=BRUTE_LIMIT_S,
                weights=w,
                method=method,
            )
            subset = tuple(sorted(int(np.flatnonzero(ids == i)[0]) for i in res.chosen))
            assert len(subset) == k
            # the reported coverage is the brute force's value of the chosen subset
            assert res.weight_after == pytest.approx(values[subset], rel=1e-12)
            assert res.covered_after == int(ok[with_existing, subset].sum())
            results[method] = (res, values[subset])
        exact, exact_value = results["exact"]
        greedy, greedy_value = results["greedy"]
        assert exact.optimal and not greedy.optimal
        assert exact_value == pytest.approx(best, rel=1e-12)
        assert greedy_value <= best + 1e-9 * best
        gaps.append(best - greedy_value)
        # ties among optimal subsets: no pick can be swapped for an earlier candidate and
        # stay optimal
        tied = {s for s, v in values.items() if v >= best - 1e-9 * best}
        chosen = tuple(sorted(int(np.flatnonzero(ids == i)[0]) for i in exact.chosen))
        assert chosen in tied
        for j in chosen:
            for e in set(range(j)) - set(chosen):
                assert tuple(sorted((set(chosen) - {j}) | {e})) not in tied
        # before: the existing stations alone (an independent repair_reach)
        if with_existing:
            alone = repair_reach(drive, cust, existing, limit_s=BRUTE_LIMIT_S)["repair_ok"]
            assert exact.covered_before == int(alone.sum())
            np.testing.assert_array_equal(exact.customers["covered_before"], alone.to_numpy())
        else:
            assert exact.covered_before == 0 and exact.weight_before == 0.0
    if weighting == "none":  # the instance is not one where greedy is optimal anyway
        assert max(gaps) >= 1


def test_per_candidate_table_and_gains_match_reach(brute, drive) -> None:
    cust, cand, existing, ok = brute
    res = site_facilities(drive, cust, cand, existing=existing, k=3, limit_s=BRUTE_LIMIT_S)
    before = repair_reach(drive, cust, existing, limit_s=BRUTE_LIMIT_S)["repair_ok"].to_numpy()
    for i in range(N_BRUTE):
        alone = repair_reach(
            drive,
            cust,
            cand.iloc[[i]].rename(columns={"site_id": "station_id"}),
            limit_s=BRUTE_LIMIT_S,
        )["repair_ok"].to_numpy()
        row = res.candidates.iloc[i]
        assert row["covers_customers"] == alone.sum()
        assert row["new_customers"] == (alone & ~before).sum()
    # the gains of the picks add up step by step (brute-force values of the prefixes)
    ids = list(cand["site_id"])
    prefix: list[int] = []
    covered = int(before.sum())
    for rank, pick in res.picks.iterrows():
        prefix.append(ids.index(pick["site_id"]))
        now = int(ok[True, tuple(sorted(prefix))].sum())
        assert pick["gain_customers"] == now - covered
        assert pick["covered_customers"] == now
        assert pick["covered_share"] == pytest.approx(now / len(cust))
        covered = now
        assert res.candidates.loc[pick["candidate"], "rank"] == rank
    # per customer, on the customers' index
    assert res.customers.index.equals(cust.index)
    subset = tuple(sorted(prefix))
    np.testing.assert_array_equal(res.customers["covered_after"], ok[True, subset])
    newly = res.customers["covered_after"] & ~res.customers["covered_before"]
    assert res.customers.loc[newly, "site_id"].isin(res.chosen).all()
    assert res.customers.loc[~newly, "site_id"].isna().all()
    assert (res.customers.loc[newly, "eta_s"] <= BRUTE_LIMIT_S).all()
    assert res.share_after == pytest.approx(res.covered_after / len(cust))


# --------------------------------------------------------------------------- hand instances

# One two-way road along y = 0 from x = -2000 to 5000 m, 10 m/s. Customers on the road at
# x = 0, 1000, 2000, 3000 (2, 3, 3 and 2 of them); candidates A at 500, C at 1500, B at 2500;
# with a 60 s limit (600 m) each candidate covers its two neighbouring points.
LINE = hand_graph({"W": (-2000.0, 0.0), "E": (5000.0, 0.0)}, [("W", "E", 700.0, True)])
POINTS_X = [0.0, 1000.0, 2000.0, 3000.0]
COUNTS = [2, 3, 3, 2]


@pytest.fixture(scope="module")
def line() -> ReachEngine:
    return ReachEngine(LINE)


@pytest.fixture(scope="module")
def line_sites() -> gpd.GeoDataFrame:
    return frame(["A", "C", "B"], (500.0, 0.0), (1500.0, 0.0), (2500.0, 0.0), column="site_id")


def test_greedy_trap_counts(line, line_sites) -> None:
    xs = [x for x, n in zip(POINTS_X, COUNTS, strict=True) for _ in range(n)]
    cust = pts(*[(x, 0.0) for x in xs])
    greedy = site_facilities(line, cust, line_sites, k=2, limit_s=60.0, method="greedy")
    exact = site_facilities(line, cust, line_sites, k=2, limit_s=60.0, method="exact")
    # greedy: C covers 3 + 3 = 6 first, then A and B add 2 each (tie: A, the earlier)
    assert greedy.chosen == ("C", "A")
    assert greedy.picks["gain_customers"].tolist() == [6, 2]
    assert greedy.covered_after == 8
    # exact: A + B cover 2 + 3 + 3 + 2 = 10 (gains tie at 5: A, the earlier, first)
    assert exact.chosen == ("A", "B")
    assert exact.picks["gain_customers"].tolist() == [5, 5]
    assert exact.covered_after == 10 and exact.share_after == 1.0
    assert exact.optimal and not greedy.optimal


def test_greedy_trap_weights_existing_and_tie_break(line, line_sites) -> None:
    cust = pts(*[(x, 0.0) for x in POINTS_X])
    w = np.asarray(COUNTS, dtype=float)
    greedy = site_facilities(line, cust, line_sites, k=2, limit_s=60.0, weights=w, method="greedy")
    exact = site_facilities(line, cust, line_sites, k=2, limit_s=60.0, weights=w)
    assert (greedy.weight_after, exact.weight_after) == (8.0, 10.0)
    assert (greedy.covered_after, exact.covered_after) == (3, 4)
    assert exact.weighted_share_after == 1.0 and greedy.weighted_share_after == 0.8
    # an existing site at x = 0 covers the first point (weight 2): A adds 3, C 6, B 5; the
    # best pairs are {A, B} and {C, B} (8 each): the smaller position sum wins, {A, B}, and B
    # (gain 5) is picked first
    existing = frame(["X"], (0.0, 0.0), column="station_id")
    res = site_facilities(line, cust, line_sites, existing=existing, k=2, limit_s=60.0, weights=w)
    assert res.chosen == ("B", "A")
    assert res.picks["gain_weight"].tolist() == [5.0, 3.0]
    assert (res.weight_before, res.weight_after) == (2.0, 10.0)
    assert res.customers["covered_before"].tolist() == [True, False, False, False]
    site = res.customers["site_id"]
    assert site.isna().tolist() == [True, False, False, False]
    assert site.tolist()[1:] == ["A", "B", "B"]
    np.testing.assert_allclose(res.customers["eta_s"], [NAN, 50.0, 50.0, 50.0], atol=1e-6)
    assert res.candidates["new_weight"].tolist() == [3.0, 6.0, 5.0]
    # a weight column of the customers works the same
    named = gpd.GeoDataFrame({"w": w}, geometry=cust, crs=cust.crs)
    again = site_facilities(
        line, named, line_sites, existing=existing, k=2, limit_s=60.0, weights="w"
    )
    assert again.chosen == res.chosen


def test_repair_and_payment_follow_the_one_way(hand) -> None:
    # T3 on D->E 0.8 from D: S2 (halfway) reaches it in 18 s; T3 -> S2 takes 262 s
    cust = pts((1200.0, 1000.0))
    site = frame(["S2"], (1500.0, 1000.0), column="site_id")
    repair = site_facilities(hand, cust, site, service="repair", limit_s=30.0)
    payment = site_facilities(hand, cust, site, service="payment", limit_s=30.0)
    assert repair.covered_after == 1 and payment.covered_after == 0
    assert repair.customers["eta_s"].iloc[0] == pytest.approx(18.0, abs=TOL_S)
    assert not repair.reverse and payment.reverse
    assert payment.limit_s == 30.0


def test_service_defaults_and_payment_against_payment_access(
    county, two_wheeler, customers, candidates
) -> None:
    assert DEFAULT_SITING_METHOD == "exact" and DEFAULT_SITE_ID_COLUMN == "site_id"
    existing = county.payment_points.iloc[::10]
    res = site_facilities(
        two_wheeler, customers, candidates, service="payment", existing=existing, k=2
    )
    assert res.limit_s == DEFAULT_PAYMENT_LIMIT_S and res.reverse
    chosen = candidates[candidates["site_id"].isin(res.chosen)].rename(
        columns={"site_id": "point_id"}
    )
    both = pd.concat([existing[["point_id", "geometry"]], chosen[["point_id", "geometry"]]])
    ok = payment_access(two_wheeler, customers, both)["payment_ok"]
    assert res.covered_after == int(ok.sum())
    np.testing.assert_array_equal(res.customers["covered_after"], ok.to_numpy())
    before = payment_access(two_wheeler, customers, existing)["payment_ok"]
    assert res.covered_before == int(before.sum()) < res.covered_after


def test_same_inputs_same_result(drive, customers, candidates, county) -> None:
    kw = {"existing": county.repair_stations.iloc[:3], "k": 3, "limit_s": 900.0}
    a = site_facilities(drive, customers, candidates, **kw)
    b = site_facilities(drive, customers, candidates, **kw)
    assert isinstance(a, SitingResult)
    assert a.chosen == b.chosen and a.covered_after == b.covered_after
    for name in ("picks", "candidates", "customers"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.candidates.index.equals(candidates.index)
    # the inputs are not modified
    assert list(customers.columns) == list(county.customers.columns)


# --------------------------------------------------------------------------- errors


def test_errors(line, line_sites) -> None:
    cust = pts(*[(x, 0.0) for x in POINTS_X])
    with pytest.raises(InputError, match="`engine` must be a ReachEngine"):
        site_facilities(None, cust, line_sites)  # type: ignore[arg-type]
    for k in (0, -1, 1.5, True, "2"):
        with pytest.raises(InputError, match="`k` must be a whole number >= 1"):
            site_facilities(line, cust, line_sites, k=k)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"`k`=4 is more than the 3 usable candidate"):
        site_facilities(line, cust, line_sites, k=4)
    with pytest.raises(InputError, match="`method` must be one of"):
        site_facilities(line, cust, line_sites, method="lp")
    with pytest.raises(InputError, match="`limit_s` must be a positive number"):
        site_facilities(line, cust, line_sites, limit_s=-60.0)
    with pytest.raises(InputError, match=r"`service` must be one of \('repair', 'payment'\)"):
        site_facilities(line, cust, line_sites, service="bus")  # type: ignore[arg-type]
    with pytest.raises(EmptyDataError, match="`customers` has no rows"):
        site_facilities(line, cust.iloc[:0], line_sites)
    with pytest.raises(EmptyDataError, match="`candidates` has no rows"):
        site_facilities(line, cust, line_sites.iloc[:0])
    with pytest.raises(CRSError, match="`candidates` has no CRS"):
        site_facilities(line, cust, line_sites.set_crs(None, allow_override=True))
    with pytest.raises(MissingColumnError, match="`candidates` has no column 'code'"):
        site_facilities(line, cust, line_sites, id_column="code")
    dup = line_sites.assign(site_id=["A", "A", "B"])
    with pytest.raises(DuplicateIdError, match="repeats the id 'A'"):
        site_facilities(line, cust, dup)
    with pytest.raises(InputError, match="has missing ids"):
        site_facilities(line, cust, line_sites.assign(site_id=["A", None, "B"]))


@pytest.mark.parametrize(
    ("weights", "error", "match"),
    [
        ([1.0, 2.0], InputError, r"one number per customer \(4\)"),
        ([1.0, np.nan, 1.0, 1.0], InputError, "finite and >= 0, customer 1 has nan"),
        ([1.0, 1.0, -2.0, 1.0], InputError, "customer 2 has -2.0"),
        (pd.Series([1.0, None, 1.0, 1.0], dtype="Float64"), InputError, "customer 1 has nan"),
        ([0.0, 0.0, 0.0, 0.0], InputError, "are all 0"),
        (["a", "b", "c", "d"], InputError, "must be numbers"),
        ("crews", MissingColumnError, "is not a column of `customers`"),
        (pd.Series([1.0] * 4, index=[5, 6, 7, 8]), InputError, "does not hold every customer"),
    ],
)
def test_weight_errors(line, line_sites, weights, error, match) -> None:
    cust = pts(*[(x, 0.0) for x in POINTS_X])
    with pytest.raises(error, match=match):
        site_facilities(line, cust, line_sites, weights=weights)


def test_weights_series_is_aligned_on_the_index(line, line_sites) -> None:
    cust = pts(*[(x, 0.0) for x in POINTS_X])
    w = pd.Series(COUNTS, index=cust.index, dtype=float).iloc[::-1]  # same labels, other order
    res = site_facilities(line, cust, line_sites, k=2, limit_s=60.0, weights=w)
    assert res.weight_after == 10.0 and res.total_weight == 10.0


def test_unusable_candidates_and_existing_sites(line, line_sites) -> None:
    cust = pts(*[(x, 0.0) for x in POINTS_X])
    far = pd.concat([line_sites, frame(["far", "none"], (500.0, 5000.0), None, column="site_id")])
    far.index = range(len(far))
    with pytest.warns(UserWarning, match=r"2 candidate\(s\) left out \(\['far', 'none'\]"):
        res = site_facilities(line, cust, far, k=3, limit_s=60.0)
    assert set(res.chosen) == {"A", "B", "C"}
    assert res.candidates["usable"].tolist() == [True, True, True, False, False]
    with pytest.warns(UserWarning), pytest.raises(InputError, match="is more than the 3 usable"):
        site_facilities(line, cust, far, k=4)
    with pytest.raises(InputError, match="no row of `candidates` lies within"):
        site_facilities(line, cust, far.iloc[3:])
    with pytest.raises(InputError, match="no row of `existing` lies within"):
        site_facilities(line, cust, line_sites, existing=pts((0.0, 9000.0)))
    with pytest.warns(UserWarning, match=r"1 row\(s\) of `existing` are not usable"):
        part = site_facilities(
            line, cust, line_sites, existing=pts((0.0, 0.0), (0.0, 9000.0)), limit_s=60.0
        )
    assert part.covered_before == 1
    # no existing rows is no existing site; nothing left to gain picks the earliest candidate
    none = site_facilities(line, cust, line_sites, existing=pts((0.0, 0.0)).iloc[:0])
    assert none.covered_before == 0
    all_sites = pts(*[(x, 0.0) for x in POINTS_X])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = site_facilities(line, cust, line_sites, existing=all_sites, k=2, limit_s=60.0)
    assert full.chosen == ("A", "C") and full.picks["gain_customers"].tolist() == [0, 0]
    assert full.covered_before == full.covered_after == 4


def test_solver_failure_falls_back_to_greedy(line, line_sites, monkeypatch) -> None:
    cust = pts(*[(x, 0.0) for x in POINTS_X for _ in range(2)])
    monkeypatch.setattr(plan, "_solve", lambda *a, **kw: None)
    with pytest.warns(UserWarning, match="falling back to the greedy picks"):
        res = site_facilities(line, cust, line_sites, k=2, limit_s=60.0)
    # A (4) first, then B (the customers at 2000 and 3000) rather than C (those at 2000)
    assert not res.optimal and res.chosen == ("A", "B")


def test_defaults() -> None:
    assert SITING_METHODS == ("exact", "greedy")
    assert DEFAULT_REPAIR_LIMIT_S == 1800.0 and DEFAULT_PAYMENT_LIMIT_S == 600.0
    assert set(plan.__all__) == {
        "DEFAULT_SITE_ID_COLUMN",
        "DEFAULT_SITING_METHOD",
        "SITING_METHODS",
        "SitingResult",
        "site_facilities",
    }


# --------------------------------------------------------------------------- CLI


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gridgeo: error:")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def ws(tmp_path_factory, county) -> Path:
    """A workspace like the demo's (the sample's layers, roads and customers), built directly."""
    path = tmp_path_factory.mktemp("plan") / "ws.gpkg"
    layers = {
        name: getattr(county, name)
        for name in ("county", "towns", "villages", "substations", "repair_stations")
    }
    store = workspace.create_workspace(
        path, layers, roads=county.roads, author="test", reason="plan tests"
    )
    store.add_layer(
        "customers",
        county.customers.iloc[::6][["customer_id", "voltage_class", "geometry"]],
        key="customer_id",
        author="test",
        reason="plan tests",
    )
    return path


def test_cli_plan_repair_on_villages(ws, county, drive) -> None:
    proc = run_cli("plan", "--workspace", str(ws), "--k", "2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    picks = [line.split() for line in lines if line.strip()[:1].isdigit()]
    assert [p[0] for p in picks] == ["1", "2"]
    villages = county.villages.set_index("village_code")
    ids = [p[1] for p in picks]
    assert all(i in villages.index for i in ids)
    assert [p[2] for p in picks] == villages.loc[ids, "village"].tolist()
    # before / after: an independent repair_reach of the stations, and with the picks added
    cust = county.customers.iloc[::6]
    before = repair_reach(drive, cust, county.repair_stations)["repair_ok"]
    added = villages.loc[ids].reset_index().rename(columns={"village_code": "station_id"})
    both = pd.concat([county.repair_stations[["station_id", "geometry"]], added])
    after = repair_reach(drive, cust, both[["station_id", "geometry"]])["repair_ok"]
    text = proc.stdout
    assert f"before 现状 {int(before.sum()):>9,d} of {len(cust):,}" in text
    assert f"({100 * before.mean():.1f}%)" in text
    assert f"after 选址后 {int(after.sum()):>8,d} of {len(cust):,}" in text
    assert "optimal 最优" in text


def test_cli_plan_payment_with_a_candidates_file(ws, tmp_path, county) -> None:
    sites = county.villages.iloc[::40][["village_code", "village", "geometry"]].rename(
        columns={"village_code": "code", "village": "title"}
    )
    path = tmp_path / "sites.geojson"
    sites.to_file(path)
    proc = run_cli(
        "plan",
        "--workspace",
        str(ws),
        "--k",
        "2",
        "--service",
        "payment",
        "--candidates",
        str(path),
        "--id-column",
        "code",
        "--name-column",
        "title",
        "--method",
        "greedy",
    )
    assert proc.returncode == 0, proc.stderr
    picks = [line.split() for line in proc.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert len(picks) == 2
    assert {p[1] for p in picks} <= set(sites["code"])
    assert "payment points" in proc.stdout and "greedy" in proc.stdout
    # no payment_points layer in this workspace: nobody is covered before
    assert "existing 现有 0 payment_points" in proc.stdout


def test_cli_plan_bad_arguments(ws, tmp_path) -> None:
    assert_one_line_error(run_cli("plan", "--workspace", str(ws), "--k", "0"), "--k")
    assert_one_line_error(run_cli("plan", "--workspace", str(ws), "--method", "lp"), "--method")
    assert_one_line_error(
        run_cli("plan", "--workspace", str(ws), "--k", "500"), "`k`=500 is more than the 187"
    )
    assert_one_line_error(
        run_cli("plan", "--workspace", str(ws), "--candidates", str(tmp_path / "no.gpkg")),
        "does not exist",
    )


def test_a_stored_customer_snap_gives_the_same_siting(drive, customers, candidates, county):
    # the snap made once (as the workspace stores it) instead of snapping the customers again
    snap = drive.snap_points(customers, "customers")
    kw = {"existing": county.repair_stations.iloc[:3], "k": 2, "limit_s": 900.0}
    fresh = site_facilities(drive, customers, candidates, **kw)
    stored = site_facilities(drive, customers, candidates, customer_snap=snap, **kw)
    assert stored.chosen == fresh.chosen
    assert (stored.covered_before, stored.covered_after) == (
        fresh.covered_before,
        fresh.covered_after,
    )
    with pytest.raises(InputError, match="customer_snap"):
        site_facilities(drive, customers, candidates, customer_snap=snap.take([0, 1]), **kw)
