"""Tests of gridgeo.store: versioned workspace GeoPackage, conflicts, restore, crash safety."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

import gridgeo
from gridgeo import store as st
from gridgeo.errors import (
    ConflictError,
    CorruptFileError,
    CRSError,
    DuplicateIdError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
    NotFoundError,
)
from gridgeo.store import GeoPackageStore, Store, compare_frames

GRID_COLUMNS = [
    "grid_id",
    "tier",
    "parent_id",
    "name",
    "substation_id",
    "manager",
    "members",
    "liaison",
    "phone",
]
# Three grids near the Nanfeng county seat: one tier-2 supply grid cut into two tier-3 grids.
A = box(116.50, 27.20, 116.60, 27.30)
B = box(116.50, 27.20, 116.55, 27.30)
C = box(116.55, 27.20, 116.60, 27.30)


def grids_v1() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "grid_id": ["NF-A", "NF-B", "NF-C"],
            "tier": [2, 3, 3],
            "parent_id": [None, "NF-A", "NF-A"],
            "name": ["琴城供电网", "琴城一网格", "琴城二网格"],
            "substation_id": ["SS-1", "SS-1", "SS-1"],
            "manager": ["张伟", "李娜", "王芳"],
            "members": ["张伟;刘洋", "李娜", "王芳;陈静"],
            "liaison": ["赵强", "赵强", "孙丽"],
            "phone": ["0794-3221001", "0794-3221002", "0794-3221003"],
        },
        geometry=[A, B, C],
        crs="EPSG:4326",
    )


def grids_v2() -> gpd.GeoDataFrame:
    """Hand-made redraw of v1: B renamed with a new manager, C moved 0.01° east, D added."""
    g = grids_v1()
    g.loc[1, ["name", "manager"]] = ["琴城东网格", "周杰"]
    g.loc[2, "geometry"] = box(116.56, 27.20, 116.61, 27.30)
    d = gpd.GeoDataFrame(
        {
            "grid_id": ["NF-D"],
            "tier": [3],
            "parent_id": ["NF-A"],
            "name": ["琴城三网格"],
            "substation_id": ["SS-1"],
            "manager": ["吴敏"],
            "members": ["吴敏"],
            "liaison": ["孙丽"],
            "phone": ["0794-3221004"],
        },
        geometry=[box(116.50, 27.30, 116.55, 27.35)],
        crs="EPSG:4326",
    )
    return pd.concat([g, d], ignore_index=True)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_same_content(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame, key: str = "grid_id"):
    """Attributes equal and geometries exactly equal, rows matched after sorting by key."""
    want = want.sort_values(key, ignore_index=True)
    got = got.sort_values(key, ignore_index=True)
    assert list(got[key]) == list(want[key])
    cols = [c for c in want.columns if c not in (want.geometry.name, "version")]
    for c in cols:
        a, b = got[c].to_numpy(dtype=object), want[c].to_numpy(dtype=object)
        same = [(pd.isna(x) and pd.isna(y)) or x == y for x, y in zip(a, b, strict=True)]
        assert all(same), (c, a, b)
    ga, gb = got.geometry.to_numpy(), want.geometry.to_numpy()
    both_missing = shapely.is_missing(ga) & shapely.is_missing(gb)
    assert (both_missing | shapely.equals_exact(ga, gb, tolerance=0)).all()


def assert_gdal_reads(path: Path, layer: str, want: gpd.GeoDataFrame, key: str = "grid_id"):
    """GDAL (geopandas/pyogrio) reads the current layer as ``want``, geometry byte-exact."""
    got = gpd.read_file(path, layer=layer)
    assert got.crs.equals(pyproj.CRS.from_epsg(4326))
    assert_same_content(got, want, key)
    got = got.sort_values(key, ignore_index=True)
    want = want.sort_values(key, ignore_index=True)
    assert list(shapely.to_wkb(got.geometry.to_numpy())) == list(
        shapely.to_wkb(want.geometry.to_numpy())
    )


@pytest.fixture
def ws(tmp_path: Path) -> GeoPackageStore:
    return GeoPackageStore.create(
        tmp_path / "nanfeng.gpkg", {"grids": grids_v1()}, author="李工", reason="初始网格"
    )


# --------------------------------------------------------------------------- #
# GeoPackage geometry blobs


def test_gpkg_blob_bytes_follow_the_spec():
    poly = box(116.5, 27.2, 116.6, 27.3)
    blob = st.geometry_to_gpkg([poly])[0]
    # "GP", version 0, flags 0b011 (envelope [minx, maxx, miny, maxy], little-endian), srs 4326
    want = b"GP\x00\x03" + struct.pack("<i", 4326) + struct.pack("<4d", 116.5, 116.6, 27.2, 27.3)
    assert blob == want + shapely.to_wkb(poly, byte_order=1)
    empty, missing = st.geometry_to_gpkg([Polygon(), None])
    assert empty == b"GP\x00\x11" + struct.pack("<i", 4326) + shapely.to_wkb(
        Polygon(), byte_order=1
    )
    assert missing is None


def test_gpkg_blobs_written_by_gdal_decode(tmp_path: Path):
    geoms = [Point(116.5, 27.2), A, shapely.MultiPolygon([B, box(117, 27, 117.1, 27.1)]), None]
    path = tmp_path / "gdal.gpkg"
    gpd.GeoDataFrame({"i": [0, 1, 2, 3]}, geometry=geoms, crs=4326).to_file(path, layer="x")
    with sqlite3.connect(path) as con:
        blobs = [r[0] for r in con.execute("SELECT geom FROM x ORDER BY i")]
    got = st.geometry_from_gpkg(blobs)
    assert got[3] is None
    assert shapely.equals_exact(got[:3], np.array(geoms[:3], dtype=object), tolerance=0).all()


def test_corrupt_geometry_blob_is_reported():
    with pytest.raises(CorruptFileError, match="not a GeoPackage binary blob"):
        st.geometry_from_gpkg([b"XX\x00\x01"])


# --------------------------------------------------------------------------- #
# create / open / read


def test_create_read_round_trip(ws: GeoPackageStore):
    got = ws.read("grids")
    assert_same_content(got, grids_v1())
    assert list(got.columns) == [*GRID_COLUMNS, "version", "geometry"]
    assert list(got["version"]) == [1, 1, 1]
    assert got["tier"].dtype == np.int64
    assert got.crs.equals(pyproj.CRS.from_epsg(4326))
    assert ws.current_version("grids") == 1
    assert ws.layers() == {"grids": "grid_id"}
    assert_gdal_reads(ws.path, "grids", grids_v1())
    with sqlite3.connect(ws.path) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # 'GPKG'
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ext = con.execute(
            "SELECT min_x, min_y, max_x, max_y, srs_id FROM gpkg_contents WHERE table_name='grids'"
        ).fetchone()
    assert ext == (116.5, 27.2, 116.6, 27.3, 4326)
    assert not list(ws.path.parent.glob(".*creating*"))


def test_round_trip_of_nulls_types_and_empty_geometries(tmp_path: Path):
    customers = gpd.GeoDataFrame(
        {
            "customer_id": [30, 10, 20, 40],
            "meters": pd.array([2, None, 1, 1], dtype="Int64"),
            "load_kw": [1.5, np.nan, 3.0, 0.5],
            "vulnerable": [True, False, True, False],
            "address": ["琴城镇1号", None, "白舍镇", "市山镇"],
        },
        geometry=[Point(116.53, 27.21), None, Point(116.60, 27.10), Point()],
        crs=4326,
    )
    ws = GeoPackageStore.create(
        tmp_path / "c.gpkg", {"customers": customers}, author="a", reason="r"
    )
    got = ws.read("customers")
    assert list(got["customer_id"]) == [10, 20, 30, 40]  # sorted by key
    assert_same_content(got, customers, key="customer_id")
    assert got["vulnerable"].dtype == bool
    assert got["load_kw"].dtype == np.float64
    assert got["meters"].tolist()[:2] == [pytest.approx(np.nan, nan_ok=True), 1]
    assert got.geometry.isna().tolist() == [True, False, False, False]
    assert got.geometry.is_empty.tolist() == [False, False, False, True]
    gdal = gpd.read_file(ws.path, layer="customers").sort_values("customer_id")
    assert_same_content(gdal, customers, key="customer_id")
    assert gdal["vulnerable"].dtype == bool
    assert gdal.geometry.is_empty.tolist() == [False, False, False, True]


def test_create_refuses_existing_file_unless_overwrite(ws: GeoPackageStore):
    before = sha(ws.path)
    with pytest.raises(InputError, match=r"already exists.*overwrite=True"):
        GeoPackageStore.create(ws.path, {"grids": grids_v2()}, author="a", reason="r")
    assert sha(ws.path) == before
    new = GeoPackageStore.create(
        ws.path, {"grids": grids_v2()}, author="a", reason="r", overwrite=True
    )
    assert new.current_version("grids") == 1
    assert_same_content(new.read("grids"), grids_v2())


def test_create_errors(tmp_path: Path):
    with pytest.raises(InputError, match="`layers` is empty"):
        GeoPackageStore.create(tmp_path / "x.gpkg", {}, author="a", reason="r")
    with pytest.raises(InputError, match=r"no key column known for layer 'roads'.*keys="):
        GeoPackageStore.create(tmp_path / "x.gpkg", {"roads": grids_v1()}, author="a", reason="r")
    with pytest.raises(CRSError, match="no CRS"):
        GeoPackageStore.create(
            tmp_path / "x.gpkg",
            {"grids": grids_v1().set_crs(None, allow_override=True)},
            author="a",
            reason="r",
        )
    bad = grids_v1().rename(columns={"grid_id": "id"})
    with pytest.raises(MissingColumnError, match="no key column 'grid_id'"):
        GeoPackageStore.create(tmp_path / "x.gpkg", {"grids": bad}, author="a", reason="r")
    with pytest.raises(InputError, match=r"may not have columns \['fid'\]"):
        GeoPackageStore.create(
            tmp_path / "x.gpkg", {"grids": grids_v1().assign(fid=1)}, author="a", reason="r"
        )
    with pytest.raises(InputError, match="`layer` 'bad name' must be a plain name"):
        GeoPackageStore.create(
            tmp_path / "x.gpkg",
            {"bad name": grids_v1()},
            author="a",
            reason="r",
            keys={"bad name": "grid_id"},
        )
    with pytest.raises(InputError, match="must hold integers or text"):
        GeoPackageStore.create(
            tmp_path / "x.gpkg",
            {"grids": grids_v1().assign(grid_id=[1.5, 2, 3])},
            author="a",
            reason="r",
        )
    assert not list(tmp_path.iterdir())  # nothing left behind by failed creates


def test_open_errors(tmp_path: Path, ws: GeoPackageStore):
    with pytest.raises(
        NotFoundError, match="does not exist: check the path, or create a workspace"
    ):
        GeoPackageStore.open(tmp_path / "missing.gpkg")
    text = tmp_path / "notes.gpkg"
    text.write_text("not a database")
    with pytest.raises(CorruptFileError, match="is not a GeoPackage"):
        GeoPackageStore.open(text)
    plain = tmp_path / "plain.gpkg"
    grids_v1().to_file(plain, layer="grids")
    with pytest.raises(CorruptFileError, match=r"not a gridgeo workspace.*GeoPackageStore.create"):
        GeoPackageStore.open(plain)
    assert GeoPackageStore.open(ws.path).current_version("grids") == 1


def test_unknown_layer_and_version(ws: GeoPackageStore):
    with pytest.raises(NotFoundError, match=r"`layer` 'roads' is not in this workspace.*'grids'"):
        ws.read("roads")
    with pytest.raises(NotFoundError, match="`layer` 'roads'"):
        ws.save("roads", grids_v1(), expected_version=1, author="a", reason="r")
    with pytest.raises(NotFoundError, match="`layer` 'roads'"):
        ws.list_versions("roads")
    with pytest.raises(NotFoundError, match=r"no `version` 7; available versions: \[1\]"):
        ws.read("grids", version=7)


# --------------------------------------------------------------------------- #
# saving, versions, compare, restore


def test_versions_count_up_and_are_listed(ws: GeoPackageStore):
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert ws.save("grids", grids_v2(), expected_version=1, author="王工", reason="重划东片") == 2
    v3 = grids_v2().iloc[:3]  # NF-D removed again
    assert ws.save("grids", v3, expected_version=2, author="李工", reason="撤销新增") == 3
    t1 = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert ws.current_version("grids") == 3
    log = ws.list_versions("grids")
    assert log["version"].tolist() == [1, 2, 3]
    assert log["parent_version"].tolist() == [pd.NA, 1, 2]
    assert log["author"].tolist() == ["李工", "王工", "李工"]
    assert log["reason"].tolist() == ["初始网格", "重划东片", "撤销新增"]
    assert ((log["created_at"] >= t0) & (log["created_at"] <= t1)).all()
    assert log["created_at"].is_monotonic_increasing
    assert log["n_rows"].tolist() == [3, 4, 3]
    assert log["n_added"].tolist() == [3, 1, 0]
    assert log["n_removed"].tolist() == [0, 0, 1]
    assert log["n_changed"].tolist() == [0, 2, 0]  # v2: B attributes, C geometry
    # each row's `version` is the version in which it last changed
    assert ws.read("grids")["version"].tolist() == [1, 2, 2]  # NF-A, NF-B, NF-C
    assert_same_content(ws.read("grids"), v3)
    assert_same_content(ws.read("grids", version=2), grids_v2())
    assert_same_content(ws.read("grids", version=1), grids_v1())
    assert_gdal_reads(ws.path, "grids", v3)
    # history holds 3 (v1) + 3 (v2: B, C, D) rows, never rewritten
    assert len(gpd.read_file(ws.path, layer="grids_history")) == 6
    with sqlite3.connect(ws.path) as con:
        meta = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT c.table_name, min_x, min_y, max_x, max_y, last_change, feature_count "
                "FROM gpkg_contents c JOIN gpkg_ogr_contents o USING (table_name)"
            )
        }
    # current: A, B, moved C -> up to 116.61 east; history also keeps D's 27.35 north
    assert meta["grids"][:4] == (116.5, 27.2, 116.61, 27.3)
    assert meta["grids_history"][:4] == (116.5, 27.2, 116.61, 27.35)
    assert meta["grids"][5] == 3 and meta["grids_history"][5] == 6
    last = log["created_at"].iloc[-1].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert meta["grids"][4] == meta["grids_history"][4] == last


def test_compare_reports_the_hand_made_changes(ws: GeoPackageStore):
    ws.save("grids", grids_v2(), expected_version=1, author="a", reason="r")
    diff = ws.compare("grids", 1, 2)
    assert diff["grid_id"].tolist() == ["NF-B", "NF-C", "NF-D"]
    assert diff["change"].tolist() == ["modified", "modified", "added"]
    assert diff["geometry_changed"].tolist() == [False, True, False]
    assert diff["attributes_changed"].tolist() == [True, False, False]
    assert diff["changed_columns"].tolist() == ["name,manager", "", ""]
    back = ws.compare("grids", 2, 1)
    assert back.set_index("grid_id")["change"].to_dict() == {
        "NF-B": "modified",
        "NF-C": "modified",
        "NF-D": "removed",
    }
    assert ws.compare("grids", 2, 2).empty


def test_preview_shows_changes_and_writes_nothing(ws: GeoPackageStore):
    before = sha(ws.path)
    diff = ws.preview("grids", grids_v2())
    assert diff["grid_id"].tolist() == ["NF-B", "NF-C", "NF-D"]
    assert diff["changed_columns"].tolist() == ["name,manager", "", ""]
    assert sha(ws.path) == before
    with pytest.raises(DuplicateIdError, match=r"repeats ids \['NF-A'\]"):
        ws.preview("grids", pd.concat([grids_v1(), grids_v1().iloc[:1]]))


def test_compare_frames_errors():
    with pytest.raises(MissingColumnError, match="`new` has no key column 'grid_id'"):
        compare_frames(grids_v1(), grids_v1().drop(columns="grid_id"), key="grid_id")


def test_restore_writes_a_new_version_equal_to_the_old(ws: GeoPackageStore):
    ws.save("grids", grids_v2(), expected_version=1, author="a", reason="redraw")
    assert ws.restore("grids", 1, expected_version=2, author="李工", reason="回退") == 3
    assert_same_content(ws.read("grids"), grids_v1())
    assert_same_content(ws.read("grids", version=2), grids_v2())  # history kept
    assert_gdal_reads(ws.path, "grids", grids_v1())
    log = ws.list_versions("grids")
    assert log["restored_from"].tolist() == [pd.NA, pd.NA, 1]
    assert log["checksum"][2] == log["checksum"][0] != log["checksum"][1]
    assert ws.compare("grids", 1, 3).empty
    with pytest.raises(ConflictError, match="at version 3"):
        ws.restore("grids", 2, expected_version=2, author="a", reason="r")
    with pytest.raises(NotFoundError, match="no `version` 9"):
        ws.restore("grids", 9, expected_version=3, author="a", reason="r")


def test_stale_save_is_refused_and_store_unchanged(ws: GeoPackageStore):
    planner1 = GeoPackageStore.open(ws.path)
    planner2 = GeoPackageStore.open(ws.path)
    loaded = planner2.current_version("grids")
    assert planner1.save("grids", grids_v2(), expected_version=1, author="王", reason="r") == 2
    before, log = sha(ws.path), planner1.list_versions("grids")
    with pytest.raises(ConflictError, match=r"at version 2.*based on version 1.*[Rr]eload"):
        planner2.save(
            "grids", grids_v1().iloc[:2], expected_version=loaded, author="李", reason="r"
        )
    assert sha(ws.path) == before
    pd.testing.assert_frame_equal(planner1.list_versions("grids"), log)
    assert_same_content(planner1.read("grids"), grids_v2())
    assert_gdal_reads(ws.path, "grids", grids_v2())


def _points(values: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"customer_id": ["c1", "c2"], "grid_t3": values},
        geometry=[Point(116.51, 27.21), Point(116.55, 27.25)],
        crs="EPSG:4326",
    )


def test_save_many_writes_all_layers_in_one_version_step(ws: GeoPackageStore):
    ws.add_layer("customers", _points(["NF-A", "NF-A"]), key="customer_id", author="a", reason="r")
    got = ws.save_many(
        {"grids": (grids_v2(), 1), "customers": (_points(["NF-A", "NF-C"]), 1)},
        author="王",
        reason="拆分 split",
    )
    assert got == {"grids": 2, "customers": 2}
    assert_same_content(ws.read("grids"), grids_v2())
    assert ws.read("customers")["grid_t3"].tolist() == ["NF-A", "NF-C"]
    for layer in ("grids", "customers"):
        last = ws.list_versions(layer).iloc[-1]
        assert (last["author"], last["reason"]) == ("王", "拆分 split")


@pytest.mark.parametrize("failure", ["stale", "invalid", "missing_column"])
def test_save_many_all_or_nothing(ws: GeoPackageStore, failure: str):
    ws.add_layer("customers", _points(["NF-A", "NF-A"]), key="customer_id", author="a", reason="r")
    before = sha(ws.path)
    customers, expected = _points(["NF-A", "NF-C"]), 1
    validate = None
    if failure == "stale":
        expected = 7
    elif failure == "invalid":
        validate = {"customers": lambda gdf: ["grid NF-C is not a tier-3 grid"]}
    else:
        customers = customers.drop(columns="grid_t3")
    error = ConflictError if failure == "stale" else InputError
    with pytest.raises(error):
        ws.save_many(
            {"grids": (grids_v2(), 1), "customers": (customers, expected)},
            author="王",
            reason="r",
            validate=validate,
        )
    # the grids, listed first and valid, were not written either
    assert sha(ws.path) == before
    assert ws.current_version("grids") == 1 and ws.current_version("customers") == 1
    assert_same_content(ws.read("grids"), grids_v1())


def test_waiting_writer_gets_the_lock_or_a_conflict(ws: GeoPackageStore):
    blocker = sqlite3.connect(ws.path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    impatient = GeoPackageStore.open(ws.path, timeout_s=0.2)
    with pytest.raises(ConflictError, match=r"busy with another save.*try again"):
        impatient.save("grids", grids_v2(), expected_version=1, author="a", reason="r")
    threading.Timer(0.5, blocker.rollback).start()
    patient = GeoPackageStore.open(ws.path, timeout_s=20)
    assert patient.save("grids", grids_v2(), expected_version=1, author="a", reason="r") == 2
    blocker.close()


@pytest.mark.parametrize(
    ("author", "reason", "bad"),
    [("", "r", "author"), ("  ", "r", "author"), (None, "r", "author"), ("a", "", "reason")],
)
def test_author_and_reason_are_required(ws: GeoPackageStore, author, reason, bad):
    before = sha(ws.path)
    with pytest.raises(InputError, match=f"`{bad}` must be a non-empty string"):
        ws.save("grids", grids_v2(), expected_version=1, author=author, reason=reason)
    with pytest.raises(InputError, match=f"`{bad}` must be a non-empty string"):
        ws.restore("grids", 1, expected_version=1, author=author, reason=reason)
    assert sha(ws.path) == before


def test_invalid_edit_is_refused_and_store_unchanged(ws: GeoPackageStore):
    before = sha(ws.path)
    seen = []

    def validate(gdf: gpd.GeoDataFrame) -> list[str]:
        seen.append(len(gdf))
        return [
            f"grid {g!r} has tier {t}"
            for g, t in zip(gdf["grid_id"], gdf["tier"], strict=True)
            if t > 2
        ]

    with pytest.raises(
        InputError, match=r"refused by `validate` with 3 problem.*'NF-B' has tier 3"
    ):
        ws.save("grids", grids_v2(), expected_version=1, author="a", reason="r", validate=validate)
    assert seen == [4]
    bowtie = Polygon([(116.5, 27.2), (116.6, 27.3), (116.6, 27.2), (116.5, 27.3)])
    g = grids_v2()
    g.loc[3, "geometry"] = bowtie
    with pytest.raises(
        InvalidGeometryError, match=r"1 invalid geometries.*'NF-D': Self-intersection"
    ):
        ws.save("grids", g, expected_version=1, author="a", reason="r")
    with pytest.raises(DuplicateIdError, match=r"repeats ids \['NF-C'\]"):
        ws.save(
            "grids",
            grids_v2().assign(grid_id=["NF-A", "NF-B", "NF-C", "NF-C"]),
            expected_version=1,
            author="a",
            reason="r",
        )
    with pytest.raises(InputError, match=r"is empty in rows \[3\]"):
        ws.save(
            "grids",
            grids_v2().assign(grid_id=["NF-A", "NF-B", "NF-C", None]),
            expected_version=1,
            author="a",
            reason="r",
        )
    with pytest.raises(MissingColumnError, match=r"lacks columns \['phone'\]"):
        ws.save(
            "grids", grids_v2().drop(columns="phone"), expected_version=1, author="a", reason="r"
        )
    with pytest.raises(InputError, match=r"has columns \['area_km2'\] the layer does not have"):
        ws.save(
            "grids", grids_v2().assign(area_km2=1.0), expected_version=1, author="a", reason="r"
        )
    with pytest.raises(InputError, match=r"column 'tier' of layer 'grids' holds int values.*'二'"):
        ws.save(
            "grids",
            grids_v2().assign(tier=[2, 3, "二", 3]),
            expected_version=1,
            author="a",
            reason="r",
        )
    with pytest.raises(InputError, match="`expected_version` must be"):
        ws.save("grids", grids_v2(), expected_version="1", author="a", reason="r")
    with pytest.raises(InputError, match="must be a GeoDataFrame"):
        ws.save("grids", pd.DataFrame(grids_v2()), expected_version=1, author="a", reason="r")
    assert sha(ws.path) == before
    assert ws.current_version("grids") == 1
    assert_gdal_reads(ws.path, "grids", grids_v1())


def test_crs_missing_is_refused_and_projected_data_is_converted(ws: GeoPackageStore):
    with pytest.raises(CRSError, match="no CRS"):
        ws.save(
            "grids",
            grids_v2().set_crs(None, allow_override=True),
            expected_version=1,
            author="a",
            reason="r",
        )
    utm = grids_v2().to_crs(32650)  # UTM 50N, as a planner's CAD export might be
    ws.save("grids", utm, expected_version=1, author="a", reason="from UTM")
    lon, lat = shapely.get_coordinates(ws.read("grids").geometry).T
    tx = pyproj.Transformer.from_crs(32650, 4326, always_xy=True)
    x, y = shapely.get_coordinates(utm.sort_values("grid_id").geometry).T
    want_lon, want_lat = tx.transform(x, y)
    np.testing.assert_allclose(lon, want_lon, atol=1e-9)
    np.testing.assert_allclose(lat, want_lat, atol=1e-9)


def test_input_frame_is_not_mutated(ws: GeoPackageStore):
    g = grids_v2()
    copy = g.copy()
    ws.save("grids", g, expected_version=1, author="a", reason="r")
    pd.testing.assert_frame_equal(g, copy)


def test_add_layer_keeps_layers_apart(ws: GeoPackageStore):
    pts = gpd.GeoDataFrame(
        {"customer_id": ["C1", "C2"], "category": ["居民", "商业"]},
        geometry=[Point(116.52, 27.21), Point(116.57, 27.25)],
        crs=4326,
    )
    assert ws.add_layer("customers", pts, key="customer_id", author="a", reason="archive") == 1
    assert ws.layers() == {"customers": "customer_id", "grids": "grid_id"}
    ws.save("grids", grids_v2(), expected_version=1, author="a", reason="r")
    assert ws.current_version("customers") == 1
    assert ws.current_version("grids") == 2
    assert_gdal_reads(ws.path, "customers", pts, key="customer_id")
    with pytest.raises(InputError, match="`layer` 'customers' already exists"):
        ws.add_layer("customers", pts, key="customer_id", author="a", reason="again")


def test_add_layer_refuses_a_plain_layer_but_reuses_an_interrupted_one(ws: GeoPackageStore):
    roads = gpd.GeoDataFrame(
        {"road_id": [1]}, geometry=[shapely.LineString([(116.5, 27.2), (116.6, 27.3)])], crs=4326
    )
    roads.to_file(ws.path, layer="roads")  # a plain, unversioned layer a user added in QGIS
    with pytest.raises(InputError, match=r"`layer` 'roads' already exists.*\['roads'\]"):
        ws.add_layer("roads", roads, key="road_id", author="a", reason="r")
    assert len(gpd.read_file(ws.path, layer="roads")) == 1  # left alone
    # an add_layer killed after GDAL made its two empty tables: the next one reuses them
    for table in ("poles", "poles_history"):
        roads.iloc[:0].to_file(ws.path, layer=table, SPATIAL_INDEX="NO")
    poles = gpd.GeoDataFrame({"pole_id": ["P1"]}, geometry=[Point(116.5, 27.2)], crs=4326)
    assert ws.add_layer("poles", poles, key="pole_id", author="a", reason="r") == 1
    assert_gdal_reads(ws.path, "poles", poles, key="pole_id")


def test_all_rows_removed_then_restored(ws: GeoPackageStore):
    assert ws.save("grids", grids_v1().iloc[:0], expected_version=1, author="a", reason="清空") == 2
    assert ws.read("grids").empty
    assert gpd.read_file(ws.path, layer="grids").empty
    assert ws.compare("grids", 1, 2)["change"].tolist() == ["removed"] * 3
    assert ws.restore("grids", 1, expected_version=2, author="a", reason="恢复") == 3
    assert_same_content(ws.read("grids"), grids_v1())
    assert ws.read("grids")["version"].tolist() == [3, 3, 3]  # re-added in version 3
    assert_gdal_reads(ws.path, "grids", grids_v1())


class MemoryStore(Store):
    """A dict-backed Store: shows that save/restore/compare need only five methods."""

    def __init__(self, key: str):
        self.key, self.versions = key, [gpd.GeoDataFrame()]

    def layers(self):
        return {"grids": self.key}

    def current_version(self, layer):
        return len(self.versions) - 1

    def read(self, layer, *, version=None):
        return self.versions[-1 if version is None else version].copy()

    def list_versions(self, layer):
        return pd.DataFrame({"version": range(1, len(self.versions))})

    def _write_many(self, items, *, author, reason):
        if any(expected != self.current_version(layer) for layer, _, expected, _ in items):
            raise ConflictError("stale")
        for _, data, _, _ in items:
            self.versions.append(data.copy())
        return [self.current_version("grids")]


def test_store_interface_gives_save_compare_restore():
    mem = MemoryStore("grid_id")
    mem.save("grids", grids_v1(), expected_version=0, author="a", reason="r")
    mem.save("grids", grids_v2(), expected_version=1, author="a", reason="r")
    assert mem.compare("grids", 1, 2)["grid_id"].tolist() == ["NF-B", "NF-C", "NF-D"]
    assert mem.restore("grids", 1, expected_version=2, author="a", reason="r") == 3
    assert_same_content(mem.read("grids"), grids_v1())
    with pytest.raises(ConflictError, match="stale"):
        mem.save("grids", grids_v2(), expected_version=1, author="a", reason="r")


# --------------------------------------------------------------------------- #
# crash safety: a writer killed with SIGKILL in the middle of a save

_CHILD = r"""
import sys, time
from pathlib import Path
import geopandas as gpd, numpy as np, shapely
import gridgeo.store as st

path, marker, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
n = 200_000
i = np.arange(n)
x, y = 116.3 + (i % 500) * 0.001, 26.9 + (i // 500) * 0.001
big = gpd.GeoDataFrame(
    {"grid_id": [f"G{k:06d}" for k in i], "tier": 3, "parent_id": "NF-A", "name": "网格",
     "substation_id": "SS-1", "manager": "张伟", "members": "张伟", "liaison": "赵强",
     "phone": "0794-3221001"},
    geometry=shapely.box(x, y, x + 0.001, y + 0.001), crs=4326)
if mode == "hook":
    def hook(stage):
        marker.write_text(stage)
        time.sleep(600)
    st._TEST_HOOK = hook
st.GeoPackageStore.open(path).save("grids", big, expected_version=1, author="x", reason="big")
"""


_JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")  # header of a valid (hot) rollback journal


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hook", "writing"])
def test_writer_killed_mid_save_leaves_last_good_version(ws: GeoPackageStore, tmp_path, mode):
    """``hook``: killed inside the transaction just before COMMIT (all rows written);
    ``writing``: killed as soon as the database file starts growing (rows being written)."""
    before, size = sha(ws.path), ws.path.stat().st_size
    journal = Path(f"{ws.path}-journal")
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(Path(gridgeo.__file__).parents[1])}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(ws.path), str(marker), mode], env=env
    )
    try:
        deadline = time.monotonic() + 120

        def killable() -> bool:
            assert child.poll() is None, "writer ended before it could be killed"
            assert time.monotonic() < deadline
            if mode == "hook":
                return marker.exists() and marker.read_text() == "before_commit"
            return ws.path.stat().st_size != size

        while not killable():
            time.sleep(0.002)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    # killed mid-transaction: the file itself was written to and a hot journal is left
    assert sha(ws.path) != before
    assert journal.read_bytes()[:8] == _JOURNAL_MAGIC
    store = GeoPackageStore.open(ws.path)  # SQLite rolls the hot journal back here
    assert not journal.exists()
    assert sha(ws.path) == before
    assert store.current_version("grids") == 1
    assert_same_content(store.read("grids"), grids_v1())
    with sqlite3.connect(ws.path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM grids_history").fetchone()[0] == 3
    assert_gdal_reads(ws.path, "grids", grids_v1())
    assert store.save("grids", grids_v2(), expected_version=1, author="a", reason="after") == 2
    assert_gdal_reads(ws.path, "grids", grids_v2())


# --------------------------------------------------------------------------- #
# partial writes: save_rows / read_rows


def test_save_rows_writes_only_the_given_rows_as_a_full_save_would(tmp_path: Path):
    def pts(rows: list[tuple]) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(
            {
                "pid": [r[0] for r in rows],
                "name": [r[1] for r in rows],
                "n": [r[2] for r in rows],
                "eta_s": [r[3] for r in rows],
                "when": pd.to_datetime([r[4] for r in rows], utc=True),
            },
            geometry=[Point(r[5], r[6]) for r in rows],
            crs="EPSG:4326",
        )

    p1 = ("P1", "甲", 1, 60.5, "2026-11-01T01:00:00Z", 116.50, 27.20)
    p2 = ("P2", "乙", 2, np.nan, "2026-11-01T02:00:00Z", 116.51, 27.21)
    p3 = ("P3", "丙", 3, 120.0, None, 116.52, 27.22)
    p2b = ("P2", "乙改", 2, 90.0, "2026-11-01T02:00:00Z", 116.51, 27.21)  # name, eta changed
    p4 = ("P4", "丁", 4, 30.0, "2026-11-02T03:00:00Z", 116.60, 27.30)  # new, beyond the extent
    v1 = pts([p1, p2, p3])
    store = GeoPackageStore.create(
        tmp_path / "a.gpkg", {"pts": v1}, keys={"pts": "pid"}, author="甲", reason="v1"
    )
    copy = tmp_path / "copy.gpkg"
    copy.write_bytes(store.path.read_bytes())

    # P1 given unchanged, P2 changed, P4 new; P3 not given: it stays
    v = store.save_rows("pts", pts([p1, p2b, p4]), expected_version=1, author="乙", reason="r")
    assert v == 2
    got = store.read("pts")
    assert_same_content(got, pts([p1, p2b, p3, p4]), key="pid")
    assert got["version"].tolist() == [1, 2, 1, 2]  # the version each row last changed in
    assert_same_content(store.read("pts", version=1), v1, key="pid")
    versions = store.list_versions("pts").set_index("version")
    assert versions.loc[2, ["n_rows", "n_added", "n_changed", "n_removed"]].tolist() == [4, 1, 1, 0]
    assert versions.loc[2, "parent_version"] == 1 and versions.loc[2, "author"] == "乙"
    history = store.row_history("pts", "P2")
    assert history["version"].tolist() == [1, 2]
    assert history["superseded_in"].tolist() == [2, pd.NA]
    assert history["name"].tolist() == ["乙", "乙改"]
    assert len(store.row_history("pts", "P1")) == 1  # unchanged: no new history row
    assert_gdal_reads(store.path, "pts", pts([p1, p2b, p3, p4]), key="pid")
    con = sqlite3.connect(store.path)
    sql = "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = 'pts'"
    extent = con.execute(sql).fetchone()
    con.close()
    assert extent == (116.50, 27.20, 116.60, 27.30)  # grown to hold P4

    # the same content saved whole on a copy records the same counts and checksum
    full = GeoPackageStore.open(copy)
    full.save("pts", pts([p1, p2b, p3, p4]), expected_version=1, author="乙", reason="r")
    cols = ["n_rows", "n_added", "n_changed", "n_removed", "checksum"]
    assert full.list_versions("pts")[cols].iloc[1].tolist() == versions.loc[2, cols].tolist()

    # read_rows: by key or by another column, sorted by key
    assert store.read_rows("pts", ["P4", "P1", "P9"])["pid"].tolist() == ["P1", "P4"]
    assert store.read_rows("pts", ["丁", "乙改"], column="name")["pid"].tolist() == ["P2", "P4"]
    assert len(store.read_rows("pts", [])) == 0
    with pytest.raises(MissingColumnError, match="`column` 'nope'"):
        store.read_rows("pts", ["x"], column="nope")

    # a stale version or a bad row stores nothing, not even the good rows beside it
    before = sha(store.path)
    p5 = ("P5", "戊", 5, 1.0, None, 116.55, 27.25)
    with pytest.raises(ConflictError, match="at version 2"):
        store.save_rows("pts", pts([p5]), expected_version=1, author="a", reason="r")
    bowtie = pts([p5, (*p5[:1], "己", *p5[2:])])
    bowtie.loc[1, "pid"] = "P6"
    bowtie.loc[1, "geometry"] = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    with pytest.raises(InvalidGeometryError, match="'P6'"):
        store.save_rows("pts", bowtie, expected_version=2, author="a", reason="r")
    with pytest.raises(DuplicateIdError):
        store.save_rows("pts", pts([p5, p5]), expected_version=2, author="a", reason="r")
    with pytest.raises(MissingColumnError, match="lacks columns \\['n'\\]"):
        store.save_rows(
            "pts", pts([p5]).drop(columns="n"), expected_version=2, author="a", reason="r"
        )
    bad_int = pts([p5, ("P7", "庚", 7, 1.0, None, 116.5, 27.2)])
    bad_int["n"] = pd.Series([5, "七"], dtype=object)
    with pytest.raises(InputError, match="column 'n'"):
        store.save_rows("pts", bad_int, expected_version=2, author="a", reason="r")
    with pytest.raises(InputError, match="`author`"):
        store.save_rows("pts", pts([p5]), expected_version=2, author=" ", reason="r")
    assert sha(store.path) == before
    assert store.current_version("pts") == 2
