"""Customers into grids and the customer archive (客户资料档案)."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from gridgeo import archive, geocode, network, sample, workspace
from gridgeo.errors import DuplicateIdError, EmptyDataError, InputError, MissingColumnError
from gridgeo.grids import assign_to_grids


def values(series):
    """A column as a list, missing values as None (pandas 3 reads them back as NaN)."""
    return [None if pd.isna(v) else v for v in series]


def tiny_grids():
    # tier 1 = box(0,0,2,1) in degrees near Nanfeng; two tier-3 halves under one tier-2
    x0, y0 = 116.5, 27.2
    left = box(x0, y0, x0 + 0.01, y0 + 0.01)
    right = box(x0 + 0.01, y0, x0 + 0.02, y0 + 0.01)
    whole = box(x0, y0, x0 + 0.02, y0 + 0.01)
    return gpd.GeoDataFrame(
        {
            "grid_id": ["T1", "T2-A", "T3-A-02", "T3-A-01"],
            "tier": [1, 2, 3, 3],
            "parent_id": [None, "T1", "T2-A", "T2-A"],
        },
        geometry=[whole, whole, right, left],
        crs="EPSG:4326",
    )


def test_assign_to_grids_by_hand():
    x0, y0 = 116.5, 27.2
    points = gpd.GeoSeries(
        [
            Point(x0 + 0.005, y0 + 0.005),  # left half
            Point(x0 + 0.015, y0 + 0.005),  # right half
            Point(x0 + 0.01, y0 + 0.005),  # on the shared edge: smaller id T3-A-01 wins
            Point(x0 + 0.05, y0 + 0.005),  # outside
            None,  # not located
        ],
        index=[10, 11, 12, 13, 14],
        crs="EPSG:4326",
    )
    out = assign_to_grids(points, tiny_grids())
    assert list(out.index) == [10, 11, 12, 13, 14]
    assert values(out["grid_t3"]) == ["T3-A-01", "T3-A-02", "T3-A-01", None, None]
    assert values(out["grid_t2"]) == ["T2-A", "T2-A", "T2-A", None, None]
    assert values(out["grid_t1"]) == ["T1", "T1", "T1", None, None]
    assert list(out["grid_reason"]) == ["ok", "ok", "ok", "outside_grids", "not_geocoded"]


def test_assign_to_grids_matches_a_brute_force_loop():
    grids = tiny_grids()
    rng = np.random.default_rng(3)
    xy = rng.uniform([116.495, 27.195], [116.525, 27.215], size=(500, 2))
    points = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:4326")
    # the containment rule alone (near_boundary_m=0); the near-boundary rule has its own
    # brute force in tests/test_near_boundary.py
    out = assign_to_grids(points, grids, near_boundary_m=0)
    t3 = grids[grids["tier"] == 3].sort_values("grid_id")
    expected = []
    for p in points:  # independent: plain shapely predicates, one point at a time
        hits = [g for g, geom in zip(t3["grid_id"], t3.geometry, strict=True) if geom.intersects(p)]
        expected.append(hits[0] if hits else None)
    assert values(out["grid_t3"]) == expected


@pytest.fixture(scope="module")
def county():
    return sample.load_sample()


@pytest.fixture(scope="module")
def gazetteer(county):
    return geocode.Gazetteer.from_sample(
        SimpleNamespace(county=county.county, towns=county.towns, villages=county.villages)
    )


@pytest.fixture(scope="module")
def customers_csv(tmp_path_factory):
    # 2,000 customers of the shipped archive: enough for every case, quick to geocode
    frame = pd.read_csv(sample.SAMPLE_DIR / "customers.csv", dtype=str).iloc[:2000]
    path = tmp_path_factory.mktemp("cust") / "customers.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, county):
    layers = {n: getattr(county, n) for n in workspace.WORKSPACE_KEYS if n != "grids"}
    store = workspace.create_workspace(
        tmp_path_factory.mktemp("ws") / "ws.gpkg",
        layers,
        roads=network.roads_from_graph(network.graph_from_roads(county.roads)),
        author="t",
        reason="t",
    )
    workload = workspace.village_workload(county.customers)
    grids = workspace.build_grids(store, workload, seed=1).service.grids
    workspace.save_grids(store, grids, author="t", reason="t")
    return SimpleNamespace(store=store, grids=grids)


def test_import_then_reimport_updates_without_duplicates(
    tmp_path, built, gazetteer, county, customers_csv
):
    store = built.store
    first = archive.import_customers(
        store, customers_csv, gazetteer, author="营销 王", reason="首次导入",
        grids=built.grids, county_area=county.county,
    )  # fmt: skip
    assert len(first.added) == 2000
    stored = store.read("customers")
    assert len(stored) == 2000 and stored["customer_id"].is_unique
    v1 = store.current_version("customers")

    # an updated export: one address corrected, one customer gone, one new customer
    frame = pd.read_csv(customers_csv, dtype=str)
    changed_id = frame.loc[5, "customer_id"]
    gone_id = frame.loc[7, "customer_id"]
    frame.loc[5, "address"] = "江西省抚州市南丰县三溪乡三溪村委会5组12号"
    frame = frame.drop(index=7)
    frame = pd.concat(
        [frame, pd.DataFrame({"customer_id": ["N0001"], "address": ["南丰县太和镇太和村3组"]})]
    )
    update = tmp_path / "update.csv"
    frame.to_csv(update, index=False)
    second = archive.import_customers(
        store, update, gazetteer, author="营销 王", reason="更新", grids=built.grids,
        county_area=county.county,
    )  # fmt: skip
    assert second.added == ["N0001"]
    assert second.updated == {changed_id: ["address"]}
    assert second.unchanged == 2000 - 2
    assert second.not_in_file == [gone_id] and second.removed == []
    assert second.version == v1 + 1
    stored = store.read("customers").set_index("customer_id")
    assert len(stored) == 2001  # the absent customer is kept, nobody is duplicated
    assert stored.loc[changed_id, "village"] == "三溪村"
    assert stored.loc["N0001", "town"] == "太和镇"

    # the same file again changes nothing but still records the import
    third = archive.import_customers(
        store, update, gazetteer, author="营销 王", reason="再次导入", grids=built.grids
    )
    assert third.added == [] and third.updated == {}


@pytest.mark.filterwarnings("ignore:.*dropped fully empty:UserWarning")
@pytest.mark.parametrize(
    ("text", "error", "pattern"),
    [
        ("customer_id,addr\n1,南丰县\n", MissingColumnError, r"lacks column\(s\) \['address'\]"),
        ("customer_id,address\n1,三溪乡\n1,太和镇\n", DuplicateIdError, r"repeats.*'1'"),
        ("customer_id,address\n\n\n", EmptyDataError, "no data rows"),
    ],
)
def test_bad_files_leave_the_archive_untouched(tmp_path, built, gazetteer, text, error, pattern):
    store = built.store
    before = store.current_version("customers") if "customers" in store.layers() else None
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(error, match=pattern):
        archive.import_customers(store, path, gazetteer, author="a", reason="b")
    after = store.current_version("customers") if "customers" in store.layers() else None
    assert after == before


def test_gbk_file_is_read(tmp_path, gazetteer):
    path = tmp_path / "gbk.csv"
    path.write_text("customer_id,address\nA1,南丰县三溪乡三溪村5组\n", encoding="gbk")
    located = archive.locate_customers(pd.read_csv(path, encoding="gbk", dtype=str), gazetteer)
    assert located.loc[0, "village"] == "三溪村"
    assert located.loc[0, "grid_reason"] == "no_grids"


def test_archive_summary_and_export_by_hand(tmp_path):
    x0, y0 = 116.5, 27.2
    customers = gpd.GeoDataFrame(
        {
            "customer_id": ["1", "2", "3", "4"],
            "name": ["甲", "乙", "丙", "丁"],
            "address": ["a", "b", "c", "d"],
            "category": ["residential", "industrial", "residential", "agricultural"],
            "voltage_class": ["LV", "HV", "LV", "LV"],
            "vulnerable": [True, False, False, False],
            "town": "三溪乡",
            "village": "三溪村",
            "location_source": ["village", "gps", "town", None],
            "match_level": "village",
            "address_reason": "ok",
            "grid_t1": ["T1", "T1", "T1", None],
            "grid_t2": ["T2-A", "T2-A", "T2-A", None],
            "grid_t3": ["T3-A-01", "T3-A-01", "T3-A-02", None],
        },
        geometry=[Point(x0 + 0.001, y0 + 0.001)] * 3 + [None],
        crs="EPSG:4326",
    )
    summary = archive.archive_summary(customers, tier=3).set_index("grid_id")
    assert summary.loc["T3-A-01", ["customers", "hv", "lv", "vulnerable"]].tolist() == [2, 1, 1, 1]
    assert summary.loc["T3-A-01", "industrial"] == 1
    assert summary.loc["T3-A-02", "not_village_level"] == 1
    assert summary.loc["未定位", "customers"] == 1
    assert summary["customers"].sum() == 4  # the county total: 3 in grids + 1 not located
    grids = tiny_grids().assign(name=["县", "供电网格", "网格2", "网格1"])
    calls: list[tuple[int, int]] = []
    files = archive.export_archive(
        customers, grids, tmp_path / "out", progress=lambda d, t: calls.append((d, t))
    )
    # by hand: village grids T3-A-01 and T3-A-02, then supply grid T2-A: three grids, in turn
    assert calls == [(1, 3), (2, 3), (3, 3)]
    names = sorted(p.name for p in files)
    assert "T3-A-01_网格1.csv" in names and "T3-A-01_网格1.xlsx" in names
    assert "T2-A_供电网格_workbook.xlsx" in names and "未定位客户_not_located.csv" in names
    one = pd.read_csv(tmp_path / "out" / "T3-A-01_网格1.csv", dtype=str)
    assert one["户号"].tolist() == ["1", "2"]
    book_path = tmp_path / "out" / "T2-A_供电网格_workbook.xlsx"
    book = pd.read_excel(book_path, sheet_name=None)
    assert set(book) == {"汇总", "网格1", "网格2"}  # the village grids by name
    # every XLSX holds what its CSV holds, cell by cell (missing values empty in both)
    for xlsx in (p for p in files if p.suffix == ".xlsx" and "workbook" not in p.name):
        got = pd.read_excel(xlsx, dtype=str).fillna("")
        want = pd.read_csv(xlsx.with_suffix(".csv"), dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(got, want)
        sheet = pd.read_excel(book_path, sheet_name=xlsx.stem.split("_")[1], dtype=str)
        pd.testing.assert_frame_equal(sheet.fillna(""), want)
    summary_sheet = book["汇总"].set_index("网格编号")
    assert summary_sheet.loc["T3-A-01", "客户数"] == 2
    assert summary_sheet.loc["T2-A", "客户数"] == 3  # the supply grid's own row first
    assert summary_sheet.index[0] == "T2-A"
    lost = pd.read_csv(tmp_path / "out" / "未定位客户_not_located.csv", dtype=str)
    assert lost["户号"].tolist() == ["4"]
    with pytest.raises(MissingColumnError, match="grid_t3"):
        archive.archive_summary(customers.drop(columns="grid_t3"))


def test_customers_per_grid_by_hand():
    customers = pd.DataFrame(
        {
            "grid_t1": ["T1", "T1", "T1", None, "T1", ""],
            "grid_t2": ["T2-A", "T2-A", "T2-A", None, "T2-A", ""],
            "grid_t3": ["T3-A-01", "T3-A-01", "T3-A-02", None, "T3-A-02", ""],
            "voltage_class": ["LV", "HV", "lv", "LV", "hv", "LV"],
            "vulnerable": [True, False, None, True, False, False],
        },
        index=[7, 3, 5, 1, 9, 2],
    )
    grids = tiny_grids()
    t3 = archive.customers_per_grid(customers, grids, tier=3)
    # by hand: T3-A-01 = customers 7 (LV, vulnerable) and 3 (HV); T3-A-02 = 5 (LV) and 9 (HV);
    # 1 (no grid id) and 2 (empty grid id) are not located
    assert t3.index.tolist() == ["T3-A-01", "T3-A-02", "未定位"]
    assert t3.loc["T3-A-01"].tolist() == [2, 1, 1, 1]  # customers, hv, lv, vulnerable
    assert t3.loc["T3-A-02"].tolist() == [2, 1, 1, 0]  # a missing `vulnerable` is no
    assert t3.loc["未定位"].tolist() == [2, 0, 2, 1]
    assert archive.customers_per_grid(customers, tier=1)["customers"].to_dict() == {
        "T1": 4,
        "未定位": 2,
    }
    assert archive.grid_of_customers(customers, tier=2).tolist() == [
        "T2-A", "T2-A", "T2-A", "未定位", "T2-A", "未定位",
    ]  # fmt: skip
    # a grid with no customer is listed with zeros; the not located row is always there
    empty = tiny_grids().assign(tier=[1, 2, 3, 3])
    placed = customers.iloc[[0, 1]]
    t3 = archive.customers_per_grid(placed, empty, tier=3)
    assert t3["customers"].to_dict() == {"T3-A-01": 2, "T3-A-02": 0, "未定位": 0}
    with_counts = archive.with_customer_counts(grids, {3: t3})
    assert with_counts.set_index("grid_id").loc[["T3-A-01", "T3-A-02"], "customers"].tolist() == [
        2,
        0,
    ]
    with pytest.raises(InputError, match="`tier` must be 1, 2 or 3"):
        archive.customers_per_grid(customers, tier=4)
    with pytest.raises(MissingColumnError, match="grid_t2"):
        archive.customers_per_grid(customers.drop(columns="grid_t2"), tier=2)
    with pytest.raises(MissingColumnError, match="voltage_class"):
        archive.customers_per_grid(customers.drop(columns="voltage_class"))
