"""The customers' snaps stored in a workspace: made once, reused, made again when the roads or
the customers' positions change, and never a risk to the workspace's data.

The access computed on stored snaps is compared with ``gridgeo.reach.customer_access`` on
engines built here from the roads, which snaps the customers itself (its snapping and times
are checked against brute force and NetworkX in test_snap.py and test_routing_oracle.py).
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from gridgeo import network, reach, sample, workspace
from gridgeo.errors import InputError, NotFoundError
from gridgeo.routing import ReachEngine
from gridgeo.store import GeoPackageStore


@pytest.fixture(scope="module")
def county():
    return sample.load_sample()


@pytest.fixture
def store(tmp_path, county) -> GeoPackageStore:
    layers = {
        name: getattr(county, name)
        for name in ("county", "villages", "substations", "repair_stations", "payment_points")
    }
    roads = network.roads_from_graph(network.graph_from_roads(county.roads))
    store = workspace.create_workspace(
        tmp_path / "ws.gpkg", layers, roads=roads, author="test", reason="new workspace"
    )
    columns = ["customer_id", "village_code", "voltage_class", "vulnerable", "geometry"]
    customers = county.customers.sample(3000, random_state=4)[columns].reset_index(drop=True)
    store.add_layer("customers", customers, key="customer_id", author="test", reason="import")
    return store


@pytest.fixture
def snapped(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How many times the customers were snapped, per engine mode."""
    calls: Counter = Counter()
    snap_points = ReachEngine.snap_points

    def counting(self: ReachEngine, points, name: str = "points"):
        if name == "customers":
            calls[self.mode] += 1
        return snap_points(self, points, name)

    monkeypatch.setattr(ReachEngine, "snap_points", counting)
    return calls


def _fresh_access(store: GeoPackageStore) -> pd.DataFrame:
    """customer_access on new engines, snapping the customers itself."""
    customers = store.read("customers")
    roads = workspace.read_roads(store, mode="two_wheeler")
    return reach.customer_access(
        ReachEngine.from_roads(roads, mode="drive"),
        ReachEngine.from_roads(roads, mode="two_wheeler"),
        customers,
        store.read("repair_stations"),
        store.read("payment_points"),
    )


def _stored_rows(store: GeoPackageStore) -> pd.DataFrame:
    with sqlite3.connect(store.path) as con:
        return pd.read_sql_query(
            "SELECT mode, engine_fingerprint, customers_version, n_rows "
            f"FROM {workspace.SNAPS_TABLE} ORDER BY mode",
            con,
        )


def test_second_compute_access_does_not_snap_again(store, snapped: Counter) -> None:
    customers, first = workspace.compute_access(store)
    assert snapped == {"drive": 1, "two_wheeler": 1}
    _, second = workspace.compute_access(store)
    assert snapped == {"drive": 1, "two_wheeler": 1}  # read back, not snapped
    pd.testing.assert_frame_equal(second, first)
    pd.testing.assert_frame_equal(first, _fresh_access(store))
    rows = _stored_rows(store)
    assert rows["mode"].tolist() == ["drive", "two_wheeler"]
    assert (rows["n_rows"] == len(customers)).all()
    assert (rows["customers_version"] == 1).all()
    # a table of the GeoPackage that GDAL lists, beside the layers it did not change
    assert workspace.SNAPS_TABLE in pyogrio.list_layers(store.path)[:, 0]
    assert store.current_version("customers") == 1


def test_snaps_are_made_again_when_a_customer_moves(store, snapped: Counter) -> None:
    workspace.compute_access(store)
    customers = store.read("customers").drop(columns="version")
    moved = customers.copy()
    far = shapely.Point(moved.geometry.iloc[0].x + 0.5, moved.geometry.iloc[0].y)  # ~50 km
    moved.loc[0, "geometry"] = far
    store.save("customers", moved, author="test", reason="moved", expected_version=1)
    _, access = workspace.compute_access(store)
    assert snapped == {"drive": 2, "two_wheeler": 2}
    assert (_stored_rows(store)["customers_version"] == 2).all()
    # a new version that moves no one (a flag changed) keeps the stored snaps
    flagged = store.read("customers").drop(columns="version")
    flagged.loc[1, "vulnerable"] = not bool(flagged.loc[1, "vulnerable"])
    store.save("customers", flagged, author="test", reason="flag", expected_version=2)
    _, again = workspace.compute_access(store)
    assert snapped == {"drive": 2, "two_wheeler": 2}
    pd.testing.assert_frame_equal(again, access)
    assert access.loc[0, "reason"] == "too_far_from_road"
    pd.testing.assert_frame_equal(access, _fresh_access(store))  # (snaps, not counted above)


def test_read_customer_snaps_follows_the_engine(store, snapped: Counter) -> None:
    engine = workspace.read_reach_engine(store, mode="drive")
    customers = store.read("customers")
    snap = workspace.read_customer_snaps(store, engine)
    expected = ReachEngine.snap_points(engine, customers, "points")  # not counted
    for name in ("seg", "t", "snap_m", "leg_s", "reason", "xy"):
        np.testing.assert_array_equal(getattr(snap, name), getattr(expected, name))
    assert snap.fingerprint == engine.fingerprint
    again = workspace.read_customer_snaps(store, workspace.read_reach_engine(store, mode="drive"))
    np.testing.assert_array_equal(again.seg, snap.seg)
    assert snapped == {"drive": 1}
    # an engine with other snapping settings: snapped again, its snap replaces the stored one
    strict = ReachEngine.from_roads(workspace.read_roads(store), mode="drive", max_snap_m=50.0)
    snap50 = workspace.read_customer_snaps(store, strict)
    assert snapped == {"drive": 2}
    assert snap50.fingerprint == strict.fingerprint != engine.fingerprint
    assert (snap50.snap_m[snap50.seg >= 0] <= 50.0).all()
    assert _stored_rows(store)["engine_fingerprint"].tolist() == [strict.fingerprint]


def test_a_snap_that_cannot_be_stored_changes_nothing(
    store, snapped: Counter, caplog: pytest.LogCaptureFixture
) -> None:
    engine = workspace.read_reach_engine(store, mode="drive")
    workspace.read_customer_snaps(store, engine)  # stored
    before = store.list_versions("customers")
    # the replacing row cannot be written: the stored one stays (one transaction)
    with sqlite3.connect(store.path) as con:
        con.execute(
            f"CREATE TRIGGER refuse BEFORE INSERT ON {workspace.SNAPS_TABLE} "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    strict = ReachEngine.from_roads(workspace.read_roads(store), mode="drive", max_snap_m=50.0)
    with caplog.at_level(logging.WARNING, logger="gridgeo.workspace"):
        snap = workspace.read_customer_snaps(store, strict)
    assert "was not stored" in caplog.text and "refused" in caplog.text
    assert snap.fingerprint == strict.fingerprint  # answered all the same
    assert _stored_rows(store)["engine_fingerprint"].tolist() == [engine.fingerprint]
    # the file busy with another writer: answered, nothing stored, nothing else changed
    busy = GeoPackageStore(store.path, timeout_s=0.1)
    con = sqlite3.connect(store.path, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="gridgeo.workspace"):
            walk_engine = ReachEngine.from_roads(workspace.read_roads(store), mode="walk")
            walk = workspace.read_customer_snaps(busy, walk_engine)
        assert "was not stored" in caplog.text and "locked" in caplog.text
    finally:
        con.execute("ROLLBACK")
        con.close()
    assert len(walk) == len(store.read("customers"))
    assert _stored_rows(store)["mode"].tolist() == ["drive"]
    pd.testing.assert_frame_equal(store.list_versions("customers"), before)
    assert snapped == {"drive": 2, "walk": 1}


def test_read_customer_snaps_errors(tmp_path, county) -> None:
    layers = {n: getattr(county, n) for n in ("county", "villages", "substations")}
    store = workspace.create_workspace(
        tmp_path / "bare.gpkg", layers, roads=county.roads, author="t", reason="r"
    )
    engine = workspace.read_reach_engine(store)
    with pytest.raises(NotFoundError, match="no `customers` layer"):
        workspace.read_customer_snaps(store, engine)
    store.add_layer(
        "customers",
        county.customers[["customer_id", "geometry"]].head(10),
        key="customer_id",
        author="t",
        reason="r",
    )
    with pytest.raises(InputError, match="`engine` must be a ReachEngine"):
        workspace.read_customer_snaps(store, "drive")  # type: ignore[arg-type]
    G = network.graph_from_roads(county.roads.head(200))
    G.graph.pop("mode", None)
    with pytest.raises(InputError, match="`mode` must name the engine's travel mode"):
        workspace.read_customer_snaps(store, ReachEngine(G))
