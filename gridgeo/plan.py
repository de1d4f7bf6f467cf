"""Siting (选址): where k new repair stations or payment points serve the most customers.

The planner's question: where should ``k`` new repair stations (or payment points) go so that
the most customers get 30-minute repair (10-minute payment)? Each candidate site *covers* the
customers it reaches within the promise; the customers the existing sites already cover are
counted first, and the ``k`` candidates that together cover the most of the others solve a
**maximum coverage** problem.

Travel times
------------
The time between a candidate and a customer is exactly the one of :mod:`gridgeo.reach`:
candidates and customers are snapped by the engine (nearest point of the nearest edge, off-road
legs walked), each candidate is a virtual node joined to both ends of its snapped edge with the
partial-edge times, and a customer's time is the least over the two ends of its own edge, plus
the direct way when candidate and customer share an edge. Repair runs candidate → customer on
the directed graph (``service="repair"``), payment runs customer → candidate on the transposed
graph (``service="payment"``), as in :func:`~gridgeo.reach.repair_reach` and
:func:`~gridgeo.reach.payment_access`. The searches are ``scipy.sparse.csgraph.dijkstra`` calls
bounded by the limit, one per chunk of candidates (each chunk's table of node times is kept
under about 200 MB), and only the pairs within the limit are kept. Since the least time from a
set of sites is the least of the sites' own times, a set covers exactly the customers
:func:`~gridgeo.reach.repair_reach` (or :func:`~gridgeo.reach.payment_access`) marks ``ok``
for the existing sites plus that set.

Methods
-------
``"exact"``
    The maximum coverage integer programme, solved by ``scipy.optimize.milp`` (HiGHS, relative
    gap 0): maximise ``sum_i w_i y_i`` subject to ``y_i <= sum_{j covers i} x_j``,
    ``sum_j x_j = k``, ``x_j`` binary, ``0 <= y_i <= 1``. Customers already covered, and
    customers no candidate reaches, are left out first, and customers covered by the same set
    of candidates are one row weighted by their total weight, so the programme stays small.
    **Ties**: the optimum HiGHS finds (deterministic: the same inputs give the same set) is
    then moved towards earlier candidates (the row order of ``candidates``): a pick is swapped
    for an earlier unpicked candidate whenever the coverage stays optimal, latest pick and
    earliest candidate first, until no such swap is left. (A second programme for the optimal
    set with the smallest sum of positions was tried: on a 10^5-customer county it took up
    to 11 s at the root node, for a tie-break.)
    The coverage of the set is then recounted from the travel times (the solver's tolerances
    never reach the reported figures).
``"greedy"``
    Each step takes the candidate with the largest marginal gain (ties: the earlier candidate).
    It is fast and at least ``1 - 1/e`` (about 63 %) of the optimum, often equal, but it can be
    strictly worse: a central site that covers much can lock out two sites on either side that
    cover more together.

The picks are reported in order of marginal gain: for ``"greedy"`` the order it chose them in;
for ``"exact"`` the chosen set ordered the same greedy way (largest gain given the earlier
picks first, ties: the earlier candidate), so the first ``j`` picks show what building them one
at a time gives.

Weights
-------
By default every customer counts once; ``weights`` (a column of ``customers`` or an array)
makes the objective a weighted coverage, e.g. HV or vulnerable customers counting more (see
:data:`~gridgeo.reach.DEFAULT_KPI_WEIGHTS`). Counts and shares are reported both plain and
weighted; shares are over all customers, the ones without a position or far from every road
included (as :func:`~gridgeo.reach.reach_kpis` counts them).
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from gridgeo._validate import as_geoseries, check_ids, check_positive
from gridgeo.errors import EmptyDataError, InputError, MissingColumnError
from gridgeo.routing import ReachEngine, Snap, best_times, pair_times
from gridgeo.settings import (
    DEFAULT_SETTINGS,
    SERVICES,
    SITING_METHODS,
    Service,
    ServiceSettings,
    SitingMethod,
    check_choice,
)

__all__ = [
    "DEFAULT_SITE_ID_COLUMN",
    "DEFAULT_SITING_METHOD",
    "SITING_METHODS",
    "SitingResult",
    "site_facilities",
]

logger = logging.getLogger(__name__)

DEFAULT_SITING_METHOD: SitingMethod = "exact"
DEFAULT_SITE_ID_COLUMN = "site_id"

_TIE_TOL = 1e-9  # relative: coverages this close are equal (float weights)


# --------------------------------------------------------------------------- checks


def _check_engine(engine: Any) -> None:
    if not isinstance(engine, ReachEngine):
        msg = f"`engine` must be a ReachEngine, got {type(engine).__name__}; build one from G"
        raise InputError(msg)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        msg = f"`k` must be a whole number >= 1 (how many new sites), got {k!r}"
        raise InputError(msg)
    return int(k)


def _weights(weights: Any, customers: Any, index: pd.Index) -> np.ndarray:
    n = len(index)
    if weights is None:
        return np.ones(n)
    if isinstance(weights, str):
        if not isinstance(customers, pd.DataFrame) or weights not in customers.columns:
            cols = list(customers.columns) if isinstance(customers, pd.DataFrame) else []
            msg = (
                f"`weights`={weights!r} is not a column of `customers` (columns: {cols!r}); "
                "pass a column name, an array of one weight per customer, or None"
            )
            raise MissingColumnError(msg)
        values: Any = customers[weights]
    elif isinstance(weights, pd.Series):
        if not weights.index.equals(index):
            if weights.index.has_duplicates or not index.isin(weights.index).all():
                msg = (
                    "`weights` is a Series whose index does not hold every customer once; "
                    "give it the index of `customers` (or pass an array in their order)"
                )
                raise InputError(msg)
            weights = weights.reindex(index)
        values = weights
    else:
        values = weights
    try:
        if isinstance(values, pd.Series):  # nullable columns: <NA> is NaN (refused below)
            w = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            w = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        msg = "`weights` must be numbers (one per customer); convert the column to numbers"
        raise InputError(msg) from exc
    if w.ndim != 1 or len(w) != n:
        msg = (
            f"`weights` must hold one number per customer ({n}), got shape {w.shape!r}; "
            "pass a column of `customers` or an array in their order"
        )
        raise InputError(msg)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = (
            f"`weights` must be finite and >= 0, customer {index[i]!r} has {float(w[i])!r} "
            f"({int(bad.sum())} such value(s)); fill or fix them"
        )
        raise InputError(msg)
    if not w.sum() > 0:
        msg = "`weights` are all 0; give the customers to be covered a positive weight"
        raise InputError(msg)
    return w


def _existing_cover(
    engine: ReachEngine,
    existing: Any,
    dst: Snap,
    *,
    limit_s: float,
    reverse: bool,
    name: str,
    stacklevel: int,
) -> np.ndarray:
    """Which customers the existing sites already serve within the limit."""
    n = len(dst.seg)
    if existing is None or len(as_geoseries(existing, name)) == 0:
        return np.zeros(n, dtype=bool)
    ex = engine.snap_points(existing, name)
    bad = ex.seg < 0
    if bad.all():
        msg = (
            f"no row of `{name}` lies within `max_snap_m`={engine.max_snap_m!r} m of a road "
            "(or has a position); check their CRS and positions, or pass None for none"
        )
        raise InputError(msg)
    if bad.any():
        labels = as_geoseries(existing, name).index[bad][:5].tolist()
        warnings.warn(
            f"{int(bad.sum())} row(s) of `{name}` are not usable ({labels!r}: no position or "
            f"farther than {engine.max_snap_m} m from a road); they cover nobody",
            stacklevel=stacklevel,
        )
    eta, _, _ = best_times(engine, ex, dst, reverse=reverse)
    with np.errstate(invalid="ignore"):  # NaN: no travel time
        return np.isfinite(eta) & (eta <= limit_s)


# --------------------------------------------------------------------------- solvers


def _patterns(
    var: np.ndarray, cust: np.ndarray, weight: np.ndarray, n_var: int
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """One row per distinct set of covering candidates, weighted by its customers' weight.

    ``var``/``cust`` are the (candidate variable, customer) pairs of the customers still to
    cover. Returns the 0/1 pattern x candidate matrix and the weight of each pattern.
    """
    if len(var) == 0:
        return sparse.csr_matrix((0, n_var)), np.zeros(0)
    n = len(weight)
    # each customer's candidate set as a bit string, so that equal sets are equal rows
    nbytes = (n_var + 7) // 8
    bits = np.left_shift(1, 7 - var % 8).astype(float)
    sums = np.bincount(cust * nbytes + var // 8, weights=bits, minlength=n * nbytes)
    packed = sums.astype(np.uint8).reshape(n, nbytes)
    custs = np.flatnonzero(packed.any(axis=1))
    # one opaque item per row: np.unique on them is much faster than with axis=0
    keys = np.ascontiguousarray(packed[custs]).view(np.dtype((np.void, nbytes))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    weights = np.bincount(np.ravel(inverse), weights=weight[custs], minlength=len(first))
    cover = sparse.csr_matrix((np.ones(len(var)), (cust, var)), shape=(n, n_var))
    return cover[custs[first]], weights


def _greedy(P: sparse.csr_matrix, wp: np.ndarray, k: int, allowed: np.ndarray) -> list[int]:
    """Largest marginal gain first (ties: the earlier candidate), among ``allowed``."""
    Pc = P.tocsc()
    Pt = Pc.T.tocsr()
    open_w = wp.copy()
    avail = allowed.copy()
    chosen: list[int] = []
    for _ in range(k):
        gains = np.where(avail, Pt @ open_w, -np.inf)
        j = int(np.argmax(gains))  # the first of equal gains: the earlier candidate
        chosen.append(j)
        avail[j] = False
        open_w[Pc.indices[Pc.indptr[j] : Pc.indptr[j + 1]]] = 0.0
    return chosen


def _coverage(P: sparse.csr_matrix, wp: np.ndarray, x: np.ndarray) -> float:
    return float(wp[(P @ x.astype(float)) > 0.5].sum())


def _solve(
    c: np.ndarray, constraints: list[LinearConstraint], n_var: int, m: int
) -> np.ndarray | None:
    res = milp(
        c,
        constraints=constraints,
        integrality=np.r_[np.ones(n_var), np.zeros(m)],
        bounds=Bounds(0.0, 1.0),
        # HiGHS's presolve takes most of the time on these programmes (0.7 of 0.9 s on the
        # sample county) and removes almost nothing: their LP relaxations are nearly integral
        options={"mip_rel_gap": 0.0, "presolve": False},
    )
    if not res.success or res.x is None:
        logger.warning("milp stopped without an optimum: %s", res.message)
        return None
    return np.asarray(res.x[:n_var]) > 0.5


def _exact(P: sparse.csr_matrix, wp: np.ndarray, k: int) -> np.ndarray | None:
    """The optimal set as a boolean mask over the candidates (None if HiGHS failed)."""
    m, n_var = P.shape
    cover = LinearConstraint(
        sparse.hstack([-P, sparse.identity(m, format="csr")], format="csr"), -np.inf, 0.0
    )
    count = LinearConstraint(sparse.csr_matrix(np.r_[np.ones(n_var), np.zeros(m)]), k, k)
    x = _solve(np.r_[np.zeros(n_var), -wp], [cover, count], n_var, m)
    if x is None or int(x.sum()) != k:
        return None
    best = _coverage(P, wp, x)
    return _earliest_optimum(P, wp, x, best - _TIE_TOL * max(1.0, best))


def _earliest_optimum(
    P: sparse.csr_matrix, wp: np.ndarray, x: np.ndarray, floor: float
) -> np.ndarray:
    """Swap picks for earlier candidates while the coverage stays at least ``floor``.

    The latest pick is tried first, against the earliest unpicked candidate first; every swap
    lowers the sum of the picks' positions, so it ends, and where it ends no single swap for an
    earlier candidate keeps the optimum.
    """
    x = x.copy()
    swapped = True
    while swapped:
        swapped = False
        for j in np.flatnonzero(x)[::-1]:
            for earlier in np.flatnonzero(~x[:j]):
                y = x.copy()
                y[j], y[earlier] = False, True
                if _coverage(P, wp, y) >= floor:
                    x, swapped = y, True
                    break
            if swapped:
                break
    return x


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class SitingResult:
    """
    The answer of :func:`site_facilities`.

    Attributes
    ----------
    chosen
        Ids of the chosen candidates, in pick order (see the module docstring).
    picks
        One row per pick (index ``rank`` 1..k): ``site_id``, ``candidate`` (the index label in
        ``candidates``), ``gain_customers`` and ``gain_weight`` (customers newly covered by this
        pick given the existing sites and the earlier picks), ``covered_customers``,
        ``covered_share``, ``covered_weight``, ``covered_weighted_share`` (after this pick).
    candidates
        On the index of ``candidates``: ``site_id``, ``usable`` (snapped to a road),
        ``snap_m``, ``covers_customers`` (customers it alone reaches within the limit),
        ``new_customers`` and ``new_weight`` (those of them not covered by the existing
        sites), ``chosen`` and ``rank`` (pick rank, 0 if not chosen).
    customers
        On the index of ``customers``: ``covered_before`` (by the existing sites),
        ``covered_after`` (by them and the chosen sites), ``site_id`` and ``eta_s`` (for the
        newly covered: the quickest chosen site and its time; None/NaN otherwise).
    n_customers, total_weight
        All customers, and their total weight.
    covered_before, covered_after
        Customers covered before and after (counts).
    weight_before, weight_after
        The same, weighted.
    k, method, limit_s
        The query.
    reverse
        True for payment (customer → site), False for repair (site → customer).
    optimal
        True if the set is a proven optimum (``method="exact"`` and HiGHS finished).
    """

    chosen: tuple[Any, ...]
    picks: pd.DataFrame
    candidates: pd.DataFrame
    customers: pd.DataFrame
    n_customers: int
    total_weight: float
    covered_before: int
    covered_after: int
    weight_before: float
    weight_after: float
    k: int
    method: str
    limit_s: float
    reverse: bool
    optimal: bool

    @property
    def share_before(self) -> float:
        """Share of the customers covered by the existing sites."""
        return self.covered_before / self.n_customers

    @property
    def share_after(self) -> float:
        """Share of the customers covered with the chosen sites."""
        return self.covered_after / self.n_customers

    @property
    def weighted_share_before(self) -> float:
        """Weighted share covered by the existing sites."""
        return self.weight_before / self.total_weight

    @property
    def weighted_share_after(self) -> float:
        """Weighted share covered with the chosen sites."""
        return self.weight_after / self.total_weight


# --------------------------------------------------------------------------- siting


def _site(
    engine: Any,
    customers: Any,
    candidates: Any,
    *,
    existing: Any,
    k: Any,
    limit_s: Any,
    reverse: Any,
    weights: Any,
    id_column: str,
    method: Any,
    existing_name: str,
    stacklevel: int,
    customer_snap: Snap | None = None,
) -> SitingResult:
    _check_engine(engine)
    limit_s = check_positive(limit_s, "limit_s")
    if method not in SITING_METHODS:
        msg = f"`method` must be one of {SITING_METHODS!r}, got {method!r}"
        raise InputError(msg)
    k = _check_k(k)
    cust_index = as_geoseries(customers, "customers").index
    if len(cust_index) == 0:
        msg = "`customers` has no rows; siting needs customers to cover"
        raise EmptyDataError(msg)
    cand_geo = as_geoseries(candidates, "candidates")
    if len(cand_geo) == 0:
        msg = "`candidates` has no rows; pass at least one candidate site"
        raise EmptyDataError(msg)
    ids = check_ids(candidates, id_column, "candidates")
    w = _weights(weights, customers, cust_index)
    n_cust, n_cand = len(cust_index), len(ids)

    src = engine.snap_points(candidates, "candidates")
    usable = src.seg >= 0
    n_usable = int(usable.sum())
    if n_usable == 0:
        msg = (
            f"no row of `candidates` lies within `max_snap_m`={engine.max_snap_m!r} m of a road "
            "(or has a position); check their CRS and positions"
        )
        raise InputError(msg)
    if n_usable < n_cand:
        warnings.warn(
            f"{n_cand - n_usable} candidate(s) left out ({ids[~usable][:5].tolist()!r}: no "
            f"position or farther than {engine.max_snap_m} m from a road)",
            stacklevel=stacklevel,
        )
    if k > n_usable:
        msg = (
            f"`k`={k} is more than the {n_usable} usable candidate(s); pass a smaller `k` or "
            "more candidates"
        )
        raise InputError(msg)

    if customer_snap is None:
        dst = engine.snap_points(customers, "customers")
    else:  # stored once per roads and customers (gridgeo.workspace.read_customer_snaps)
        dst = engine.check_snap(customer_snap, n_cust, name="customer_snap")
    before = _existing_cover(
        engine,
        existing,
        dst,
        limit_s=limit_s,
        reverse=bool(reverse),
        name=existing_name,
        stacklevel=stacklevel + 1,
    )
    t0 = time.perf_counter()
    s, c, eta = pair_times(engine, src, dst, limit_s=limit_s, reverse=bool(reverse))
    t_matrix = time.perf_counter() - t0

    # the programme: usable candidates only, customers still to cover with a positive weight
    var_of = np.cumsum(usable) - 1
    var_cand = np.flatnonzero(usable)
    todo = ~before[c] & (w[c] > 0)
    P, wp = _patterns(var_of[s[todo]], c[todo], w, n_usable)
    t0 = time.perf_counter()
    optimal = False
    if method == "exact":
        if P.shape[0] == 0:  # nothing left to gain: the earliest candidates
            x = np.arange(n_usable) < k
        else:
            found = _exact(P, wp, k)
            if found is None:
                warnings.warn(
                    "the integer programme did not finish; falling back to the greedy picks",
                    stacklevel=stacklevel,
                )
                x = np.zeros(n_usable, dtype=bool)
                x[_greedy(P, wp, k, np.ones(n_usable, dtype=bool))] = True
            else:
                x, optimal = found, True
        order = _greedy(P, wp, k, x)
    else:
        order = _greedy(P, wp, k, np.ones(n_usable, dtype=bool))
    t_solve = time.perf_counter() - t0
    logger.info(
        "siting: %d candidates x %d customers, %d pairs within %.0f s (%.2f s), "
        "%d coverage rows, %s solved in %.2f s",
        n_cand,
        n_cust,
        len(s),
        limit_s,
        t_matrix,
        P.shape[0],
        method,
        t_solve,
    )
    picked = var_cand[np.asarray(order, dtype=np.int64)]  # candidate positions, pick order
    return _result(
        ids,
        candidates_index=cand_geo.index,
        customers_index=cust_index,
        src=src,
        pairs=(s, c, eta),
        picked=picked,
        before=before,
        w=w,
        k=k,
        method=str(method),
        limit_s=limit_s,
        reverse=bool(reverse),
        optimal=optimal,
    )


def _result(
    ids: np.ndarray,
    *,
    candidates_index: pd.Index,
    customers_index: pd.Index,
    src: Snap,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    picked: np.ndarray,
    before: np.ndarray,
    w: np.ndarray,
    k: int,
    method: str,
    limit_s: float,
    reverse: bool,
    optimal: bool,
) -> SitingResult:
    s, c, eta = pairs
    n_cust, n_cand = len(customers_index), len(ids)
    rank = np.zeros(n_cand, dtype=np.int64)
    rank[picked] = np.arange(1, len(picked) + 1)

    # customers newly covered: the pick that covers each first, and the quickest chosen site
    new = (rank[s] > 0) & ~before[c]
    ns, nc, ne = s[new], c[new], eta[new]
    after = before.copy()
    after[nc] = True
    first_rank = np.full(n_cust, k + 1, dtype=np.int64)
    np.minimum.at(first_rank, nc, rank[ns])
    gained = first_rank <= k
    gain_n = np.bincount(first_rank[gained] - 1, minlength=k)
    gain_w = np.bincount(first_rank[gained] - 1, weights=w[gained], minlength=k)
    quickest = np.lexsort((rank[ns], ne, nc))
    quickest = quickest[np.r_[True, nc[quickest][1:] != nc[quickest][:-1]]] if len(nc) else nc
    site = np.full(n_cust, None, dtype=object)
    site_eta = np.full(n_cust, np.nan)
    site[nc[quickest]] = ids[ns[quickest]]
    site_eta[nc[quickest]] = ne[quickest]

    total_w = float(w.sum())
    n_before, w_before = int(before.sum()), float(w[before].sum())
    covered_n = n_before + np.cumsum(gain_n)
    covered_w = w_before + np.cumsum(gain_w)
    picks = pd.DataFrame(
        {
            "site_id": ids[picked],
            "candidate": candidates_index[picked],
            "gain_customers": gain_n,
            "gain_weight": gain_w,
            "covered_customers": covered_n,
            "covered_share": covered_n / n_cust,
            "covered_weight": covered_w,
            "covered_weighted_share": covered_w / total_w,
        },
        index=pd.RangeIndex(1, k + 1, name="rank"),
    )
    fresh = ~before[c]
    cand = pd.DataFrame(
        {
            "site_id": ids,
            "usable": src.seg >= 0,
            "snap_m": src.snap_m,
            "covers_customers": np.bincount(s, minlength=n_cand),
            "new_customers": np.bincount(s[fresh], minlength=n_cand),
            "new_weight": np.bincount(s[fresh], weights=w[c[fresh]], minlength=n_cand),
            "chosen": rank > 0,
            "rank": rank,
        },
        index=candidates_index,
    )
    cust = pd.DataFrame(
        {
            "covered_before": before,
            "covered_after": after,
            "site_id": site,
            "eta_s": site_eta,
        },
        index=customers_index,
    )
    return SitingResult(
        chosen=tuple(ids[picked].tolist()),
        picks=picks,
        candidates=cand,
        customers=cust,
        n_customers=n_cust,
        total_weight=total_w,
        covered_before=n_before,
        covered_after=int(after.sum()),
        weight_before=w_before,
        weight_after=float(w[after].sum()),
        k=k,
        method=method,
        limit_s=limit_s,
        reverse=reverse,
        optimal=optimal,
    )


def site_facilities(
    engine: ReachEngine,
    customers: gpd.GeoDataFrame | gpd.GeoSeries,
    candidates: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    service: Service = "repair",
    existing: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    k: int = 1,
    limit_s: float | None = None,
    weights: str | np.ndarray | pd.Series | None = None,
    id_column: str = DEFAULT_SITE_ID_COLUMN,
    method: SitingMethod = DEFAULT_SITING_METHOD,
    settings: ServiceSettings = DEFAULT_SETTINGS,
    customer_snap: Snap | None = None,
) -> SitingResult:
    """
    Choose ``k`` new sites among ``candidates`` that cover the most customers within a promise.

    ``service="repair"``: where new repair stations bring the most customers within 30-minute
    repair (station → customer on the drive engine, as :func:`~gridgeo.reach.repair_reach`).
    ``service="payment"``: where new payment points bring the most customers within 10 minutes
    of one (customer → point on the engine of the payment travel mode, as
    :func:`~gridgeo.reach.payment_access`). See the module docstring for the travel times, the
    methods and the tie-breaking.

    Parameters
    ----------
    engine
        A :class:`~gridgeo.routing.ReachEngine` of the service's travel mode
        (``settings.mode(service)``: drive for repair, the payment mode for payment).
    customers
        Customer points in any CRS; those without a position or far from every road count in
        the shares but can never be covered.
    candidates
        Candidate sites (points, any CRS) with an id column; candidates farther than the
        engine's ``max_snap_m`` from every road (or without a position) are left out with a
        warning.
    service
        ``"repair"`` or ``"payment"``: the direction of travel and the default promise.
    existing
        Sites of the service already in service (points; None or no rows for none). Their
        customers are covered before any pick.
    k
        How many new sites to choose.
    limit_s
        The promise: a customer is covered by a site within this travel time (default: the
        service's promise of ``settings``, 1,800 s for repair, 600 s for payment).
    weights
        None (every customer counts 1), a column of ``customers``, or one number >= 0 per
        customer (an array, or a Series on the customers' index).
    id_column
        Id column of ``candidates`` (with a GeoSeries, its index is the id).
    method
        ``"exact"`` (integer programme, the optimum) or ``"greedy"``.
    settings
        The promises (:class:`~gridgeo.settings.ServiceSettings`).
    customer_snap
        The customers' snap on ``engine`` made before (e.g. stored in the workspace:
        :func:`gridgeo.workspace.read_customer_snaps`), so they are not snapped again.

    Returns
    -------
    SitingResult
        The chosen ids in pick order, the coverage before and after, the gain of each pick,
        and per-candidate and per-customer tables on the inputs' indexes.

    Raises
    ------
    InputError
        If ``engine``, ``service``, ``k``, ``limit_s``, ``method`` or ``weights`` is invalid,
        ``k`` is more than the usable candidates, or no candidate (or existing site) is near a
        road.
    EmptyDataError
        If ``customers`` or ``candidates`` has no rows.
    MissingColumnError
        If ``id_column`` or a ``weights`` column is missing.
    DuplicateIdError
        If a candidate id repeats.
    CRSError
        If an input has no CRS.
    """
    check_choice(service, SERVICES, "service")
    return _site(
        engine,
        customers,
        candidates,
        existing=existing,
        k=k,
        limit_s=settings.limit_s(service) if limit_s is None else limit_s,
        reverse=service == "payment",
        weights=weights,
        id_column=id_column,
        method=method,
        existing_name="existing",
        stacklevel=3,
        customer_snap=customer_snap,
    )
