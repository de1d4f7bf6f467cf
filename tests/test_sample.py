"""Tests of gridgeo.sample: the generated Nanfeng sample county and the shipped files."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from gridgeo import sample
from gridgeo.crs import to_wgs84_geometry
from gridgeo.errors import CorruptFileError, InputError, NotFoundError
from gridgeo.network import graph_from_roads

GEOD = pyproj.Geod(ellps="WGS84")
NANFENG_AREA_KM2 = 1920.7  # official area, also Amap's polygon (sample_data/jiangxi/README.md)
# sha256 of the published gazetteer (jionlp + AreaCity + GeoNames join, see
# sample_data/nanfeng/LICENSE-DATA.md): the source copy must stay byte-identical to it
GAZETTEER_SHA256 = "8c98e38a2bea7ccd80608664d7f865a42bf8d59e7469498bd3bb9dab4b169232"
SMALL = {"n_customers": 3000, "road_detail": 0.5}
SHIPPED_FILES = ("nanfeng.gpkg", "customers.csv", "customers_truth.csv", "meta.json")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def to_metric(geom: shapely.Geometry) -> shapely.Geometry:
    tr = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)  # CGCS2000 GK CM 117E
    return shapely.transform(geom, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


@pytest.fixture(scope="module")
def county() -> sample.SampleCounty:
    """The default sample, generated afresh (the same as the shipped one)."""
    return sample.generate_county()


@pytest.fixture(scope="module")
def small_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same small county generated and written twice."""
    a = tmp_path_factory.mktemp("a")
    b = tmp_path_factory.mktemp("b")
    sample.write_sample(sample.generate_county(**SMALL), a)
    sample.write_sample(sample.generate_county(**SMALL), b)
    return a, b


@pytest.fixture(scope="module")
def graph(county: sample.SampleCounty) -> nx.MultiDiGraph:
    return graph_from_roads(county.roads)


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files(small_dirs: tuple[Path, Path]) -> None:
    a, b = small_dirs
    assert sorted(p.name for p in a.iterdir()) == sorted(SHIPPED_FILES)
    for name in SHIPPED_FILES:
        assert sha256(a / name) == sha256(b / name), name


def test_other_seed_gives_other_customers(small_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    sample.write_sample(sample.generate_county(seed=7, **SMALL), tmp_path)
    a = pd.read_csv(small_dirs[0] / "customers_truth.csv")
    b = pd.read_csv(tmp_path / "customers_truth.csv")
    assert len(a) == len(b) == SMALL["n_customers"]
    assert not np.allclose(a["true_lon"], b["true_lon"])
    assert sha256(small_dirs[0] / "customers.csv") != sha256(tmp_path / "customers.csv")


def test_customer_count_leaves_roads_unchanged() -> None:
    a = sample.generate_county(n_customers=500, road_detail=0.5)
    b = sample.generate_county(n_customers=800, road_detail=0.5)
    assert a.roads.geometry.equals(b.roads.geometry)
    assert len(b.customers) == 800


def test_road_detail_scales_only_lanes() -> None:
    lo = sample.generate_county(n_customers=500, road_detail=0.5)
    hi = sample.generate_county(n_customers=500, road_detail=4.0)
    major = ["国道", "省道", "县道", "高速"]
    a = lo.roads[lo.roads["road_class"].isin(major)].geometry.reset_index(drop=True)
    b = hi.roads[hi.roads["road_class"].isin(major)].geometry.reset_index(drop=True)
    assert a.equals(b)
    lanes_lo = (lo.roads["highway"] == "residential").sum()
    lanes_hi = (hi.roads["highway"] == "residential").sum()
    assert lanes_hi > 3 * lanes_lo


def test_shipped_sample_equals_fresh_generation(
    county: sample.SampleCounty, tmp_path: Path
) -> None:
    sample.write_sample(county, tmp_path)
    for name in SHIPPED_FILES:
        assert sha256(tmp_path / name) == sha256(sample.SAMPLE_DIR / name), (
            f"{name} differs: regenerate the shipped sample with "
            "`gridgeo sample generate --out sample_data/nanfeng`"
        )


def test_source_copies_equal_jiangxi_data(jiangxi_dir: Path, tmp_path: Path) -> None:
    # refresh_sources reads a folder laid out as admin/ and power/: lay the repository copies
    # (sample_data/jiangxi and the shipped gazetteer) out that way
    shipped_dir = sample.SAMPLE_DIR / "source"
    gazetteer = shipped_dir / sample.SOURCE_FILES["gazetteer"]
    counties_path = jiangxi_dir / "amap_jiangxi_counties_gcj02.gpkg"
    power_path = jiangxi_dir / "osm_power_polygons_jiangxi.gpkg"
    data = tmp_path / "data"
    for sub, path in (("admin", gazetteer), ("admin", counties_path), ("power", power_path)):
        (data / sub).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, data / sub / path.name)
    paths = sample.refresh_sources(data, tmp_path / "out")
    assert set(paths) == set(sample.SOURCE_FILES)
    for key, path in paths.items():
        shipped = shipped_dir / sample.SOURCE_FILES[key]
        assert path.read_bytes() == shipped.read_bytes(), key
    # the gazetteer is copied as is: the shipped copy is the published file
    assert sha256(gazetteer) == GAZETTEER_SHA256
    # the GeoJSON copies keep the coordinates exactly
    counties = gpd.read_file(counties_path)
    boundary = counties[counties["adcode"].astype(str) == "361023"]
    original = boundary.geometry.iloc[0]
    copied = gpd.read_file(paths["boundary"]).geometry.iloc[0]
    assert shapely.equals_exact(original, copied, tolerance=0.0)
    # and the gazetteer agrees with the Jiangxi boundary copy: same county, codes under its
    # adcode, every real township seat (WGS84) inside the boundary converted from GCJ-02
    gaz = pd.read_csv(gazetteer, dtype={"county_adcode": str, "town_code": str})
    assert set(gaz["county"]) == {boundary["name"].iat[0]} == {"南丰县"}
    assert set(gaz["county_adcode"]) == {boundary["adcode"].astype(str).iat[0]}
    codes = gaz["town_code"].dropna()  # the farm and the park have none (generated)
    assert codes.str.fullmatch(r"361023\d{3}").all()
    assert codes.nunique() == 12
    seats = gaz[gaz["village"].isna() & gaz["town_seat_lon_wgs84"].notna()]
    assert len(seats) == 11
    wgs84 = to_wgs84_geometry(original, "gcj02")
    lon, lat = seats["town_seat_lon_wgs84"], seats["town_seat_lat_wgs84"]
    assert shapely.contains_xy(wgs84, lon, lat).all()


# ----------------------------------------------------------------------------- real parts


def test_counts(county: sample.SampleCounty) -> None:
    assert len(county.towns) == 14
    assert sorted(county.towns["kind"].value_counts().items()) == [
        ("乡", 5),
        ("园区", 1),
        ("场", 1),
        ("镇", 7),
    ]
    assert len(county.villages) == 187
    assert county.villages["village_code"].is_unique
    codes = county.villages["village_code"]
    assert codes.str.fullmatch(r"\d{12}").all()
    assert (codes.str[:9] == county.villages["town_code"]).all()
    assert len(county.customers) == sample.DEFAULT_N_CUSTOMERS
    assert county.customers["customer_id"].is_unique
    assert county.customers["customer_id"].str.fullmatch(r"361023\d{7}").all()


def test_real_seats_kept(county: sample.SampleCounty, nanfeng_gazetteer: Path) -> None:
    gaz = pd.read_csv(nanfeng_gazetteer)
    heads = gaz[gaz["village"].isna() & gaz["town_seat_lon_wgs84"].notna()]
    towns = county.towns.set_index("town")
    assert len(heads) == 11
    for row in heads.itertuples():
        p = towns.loc[row.town, "geometry"]
        d = GEOD.inv(p.x, p.y, row.town_seat_lon_wgs84, row.town_seat_lat_wgs84)[2]
        assert d < 0.05, row.town
        assert towns.loc[row.town, "coords_source"] == "real"
    generated = set(towns.index[towns["coords_source"] == "generated"])
    assert generated == {"太源乡", "南丰县长红垦殖场", "南丰工业园区"}


def test_all_osm_substations_present(county: sample.SampleCounty, jiangxi_dir: Path) -> None:
    power = gpd.read_file(jiangxi_dir / "osm_power_polygons_jiangxi.gpkg")
    osm = power[(power["county_adcode"].astype(str) == "361023") & (power["power"] == "substation")]
    assert len(osm) == 5
    centroids = osm.to_crs(4548).centroid.to_crs(4326)
    ours = county.substations[county.substations["source"] == "OSM"]
    assert len(ours) == 5
    for c in centroids:
        d = GEOD.inv(
            np.full(len(ours), c.x), np.full(len(ours), c.y), ours.geometry.x, ours.geometry.y
        )[2]
        assert d.min() < 1.0
    assert county.substations["substation_id"].is_unique
    assert (county.substations["voltage_kv"] > 0).all()


def test_county_area(county: sample.SampleCounty) -> None:
    area_km2 = abs(GEOD.geometry_area_perimeter(county.county.geometry.iloc[0])[0]) / 1e6
    assert area_km2 == pytest.approx(NANFENG_AREA_KM2, rel=0.01)
    assert county.county["area_km2"].iat[0] == pytest.approx(area_km2, rel=1e-4)


def test_county_converted_from_gcj02(county: sample.SampleCounty, jiangxi_dir: Path) -> None:
    counties = gpd.read_file(jiangxi_dir / "amap_jiangxi_counties_gcj02.gpkg")
    gcj = counties[counties["adcode"].astype(str) == "361023"].geometry.iloc[0]
    ours = county.county.geometry.iloc[0]
    # GCJ-02 is 300-600 m off WGS84 around Nanfeng: the converted centroid has moved that far
    a, b = gcj.centroid, ours.centroid
    assert 300.0 < GEOD.inv(a.x, a.y, b.x, b.y)[2] < 700.0


# ----------------------------------------------------------------------------- geography


def test_everything_inside_county(county: sample.SampleCounty) -> None:
    poly = county.county.geometry.iloc[0]
    for layer in ("towns", "villages", "substations", "repair_stations", "payment_points"):
        gdf = getattr(county, layer)
        assert gdf.within(poly).all(), layer
    cust = county.customers
    assert shapely.contains_xy(poly, cust["true_lon"], cust["true_lat"]).all()
    # roads end at the boundary (5 m inside): nothing sticks out by more than 1 cm
    poly_m = to_metric(poly)
    outside = shapely.length(shapely.difference(to_metric(county.roads.geometry.values), poly_m))
    assert outside.max() < 0.01


def test_villages_reach_main_network(county: sample.SampleCounty, graph: nx.MultiDiGraph) -> None:
    comps = sorted(nx.weakly_connected_components(graph), key=len, reverse=True)
    main = comps[0]
    assert all(n in main for n in county.villages["road_node"])
    # the isolated pieces of meta are the only other components, each tiny
    pieces = county.meta["isolated_road_pieces"]
    assert len(comps) == 1 + len(pieces)
    assert sorted(len(c) for c in comps[1:]) == sorted(p["n_nodes"] for p in pieces)
    # repair crews can drive both ways: the main network is strongly connected
    assert max(len(c) for c in nx.strongly_connected_components(graph)) == len(main)


def test_road_network_shape(county: sample.SampleCounty, graph: nx.MultiDiGraph) -> None:
    roads = county.roads
    assert 3000 <= graph.number_of_nodes() <= 15000
    km = roads["length_m"].sum() / 1000.0
    assert 1000 < km < 4000
    # lengths are geodesic
    line = roads.geometry.iloc[0]
    xy = np.asarray(line.coords)
    expected = GEOD.inv(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])[2].sum()
    assert roads["length_m"].iloc[0] == pytest.approx(expected, abs=0.01)
    classes = set(roads["road_class"])
    assert {"国道", "高速", "省道", "县道", "乡道", "村道", "机耕道", "城区道路"} <= classes
    assert set(roads.loc[roads["road_class"] == "国道", "name"]) == {"G206国道"}
    # end points of lines with the same node id are the same coordinate, and vice versa
    first = shapely.get_point(roads.geometry.values, 0)
    last = shapely.get_point(roads.geometry.values, -1)
    ends = pd.DataFrame(
        {
            "node": np.concatenate([roads["u"], roads["v"]]),
            "x": np.concatenate([shapely.get_x(first), shapely.get_x(last)]),
            "y": np.concatenate([shapely.get_y(first), shapely.get_y(last)]),
        }
    ).drop_duplicates()
    assert ends["node"].is_unique
    assert not ends.duplicated(["x", "y"]).any()
    # dead ends exist (tracks into the hills)
    degree = pd.Series(np.concatenate([roads["u"], roads["v"]])).value_counts()
    assert (degree == 1).sum() > 100


def test_one_way_streets(county: sample.SampleCounty, graph: nx.MultiDiGraph) -> None:
    roads = county.roads
    city = roads[(roads["road_class"] == "城区道路") & roads["oneway"]]
    assert len(city) >= 4
    assert county.meta["oneway_city_edges"] == len(city)
    motorway = roads[roads["highway"] == "motorway"]
    assert motorway["oneway"].all()
    # in the graph, every one-way row gives one edge u -> v and none back
    by_row = {}
    for a, b, d in graph.edges(data=True):
        by_row.setdefault(d["road_index"], []).append((a, b))
    for idx, row in city.iterrows():
        assert by_row[idx] == [(row["u"], row["v"])]
    two_way = roads[~roads["oneway"]].index[0]
    assert len(by_row[two_way]) == 2


def test_villages_prefer_low_ground(county: sample.SampleCounty) -> None:
    elev = county.villages["elevation_m"]
    assert elev.min() > 50
    # the county seat's communities are on the valley floor
    seat = county.villages[county.villages["town"] == "琴城镇"]
    assert seat["elevation_m"].median() < 200


# ----------------------------------------------------------------------------- customers


def test_customer_mix(county: sample.SampleCounty) -> None:
    c = county.customers
    share = c["category"].value_counts(normalize=True)
    assert set(share.index) == set(sample.CATEGORIES)
    assert share["residential"] > 0.75
    assert 0.01 < share["agricultural"] < 0.15
    zh = dict(zip(sample.CATEGORIES, sample.CATEGORIES_ZH, strict=True))
    assert (c["category"].map(zh) == c["category_zh"]).all()
    assert set(c["voltage_class"]) == {"HV", "LV"}
    hv = c[c["voltage_class"] == "HV"]
    assert (hv["category"] != "residential").all()
    assert (hv["category"] == "industrial").mean() > 0.4
    vulnerable = c.loc[c["category"] == "residential", "vulnerable"].mean()
    assert 0.02 < vulnerable < 0.045
    assert c.loc[c["category"] != "residential", "vulnerable"].sum() == 0
    # industrial customers mostly in the park
    park = county.villages.loc[county.villages["town"] == "南丰工业园区", "village_code"]
    assert (c.loc[c["category"] == "industrial", "village_code"].isin(park)).mean() > 0.5


def test_customers_dense_at_county_seat(county: sample.SampleCounty) -> None:
    c = county.customers
    seat = county.towns.set_index("town").loc["琴城镇", "geometry"]
    d = GEOD.inv(np.full(len(c), seat.x), np.full(len(c), seat.y), c["true_lon"], c["true_lat"])[2]
    # the county seat (radius 2.5 km, ~1% of the area) holds far more than 1% of customers
    assert (d < 2500).mean() > 0.15
    # customers sit near their village
    vil = county.villages.set_index("village_code").geometry
    v = vil.loc[c["village_code"]].values
    dv = GEOD.inv(shapely.get_x(v), shapely.get_y(v), c["true_lon"], c["true_lat"])[2]
    assert np.median(dv) < 800


def test_phone_gps(county: sample.SampleCounty) -> None:
    from gridgeo.crs import gcj02_to_wgs84

    c = county.customers
    has = c["gps_lon"].notna()
    assert (has == (c["gps_datum"] == "gcj02")).all()
    assert (c.loc[~has, "gps_datum"] == "").all()
    assert 0.32 < has.mean() < 0.38
    ok = has & (c["gps_error"] == "")
    lon, lat = gcj02_to_wgs84(c.loc[ok, "gps_lon"], c.loc[ok, "gps_lat"])
    d = GEOD.inv(lon, lat, c.loc[ok, "true_lon"], c.loc[ok, "true_lat"])[2]
    assert np.percentile(d, 99) < 25.0
    # without the datum conversion the phone points are hundreds of metres off
    raw = GEOD.inv(
        c.loc[ok, "gps_lon"], c.loc[ok, "gps_lat"], c.loc[ok, "true_lon"], c.loc[ok, "true_lat"]
    )[2]
    assert np.median(raw) > 300
    swapped = c[c["gps_error"] == "swapped_lonlat"]
    assert len(swapped) > 0 and (swapped["gps_lon"] < 30).all() and (swapped["gps_lat"] > 100).all()
    far = c[c["gps_error"] == "far_off"]
    lon, lat = gcj02_to_wgs84(far["gps_lon"], far["gps_lat"])
    assert (GEOD.inv(lon, lat, far["true_lon"], far["true_lat"])[2] > 2500).all()
    assert (c.loc[~has, "gps_error"] == "").all()


def test_addresses_messy_and_labelled(county: sample.SampleCounty) -> None:
    c = county.customers
    assert c["address"].str.len().gt(0).mean() > 0.99
    assert c["address_variant"].nunique() >= 10
    # a typical full form names a real township of the gazetteer
    towns = set(county.towns["town"])
    full = c.loc[c["address_variant"] == "county_chain", "address"]
    assert full.str.startswith("南丰县").all()
    assert full.apply(lambda a: any(t in a for t in towns)).mean() > 0.9


def test_stations_and_points(county: sample.SampleCounty) -> None:
    rs = county.repair_stations
    assert rs["station_id"].is_unique and (rs["crews"] >= 1).all()
    assert "琴城镇" in set(rs["town"]) and "南丰工业园区" in set(rs["town"])
    pp = county.payment_points
    assert set(pp["kind"]) == {"service_hall", "bank", "shop_agent", "self_service"}
    assert pp["point_id"].is_unique
    generated = county.substations[county.substations["source"] == "generated"]
    assert len(generated) > 0 and (generated["voltage_kv"] == 35.0).all()


# ----------------------------------------------------------------------------- files


def test_load_sample_round_trip(county: sample.SampleCounty) -> None:
    loaded = sample.load_sample()
    assert loaded.seed == sample.DEFAULT_SEED
    assert loaded.meta == json.loads((sample.SAMPLE_DIR / "meta.json").read_text("utf-8"))
    for layer in sample.LAYERS:
        a, b = getattr(loaded, layer), getattr(county, layer)
        assert list(a.columns) == list(b.columns), layer
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=1e-9).all(), layer
        assert a.crs.to_epsg() == 4326
    pd.testing.assert_series_equal(loaded.roads["u"], county.roads["u"], check_dtype=False)
    assert loaded.roads["oneway"].dtype == bool
    lc, cc = loaded.customers, county.customers
    assert list(lc["customer_id"]) == list(cc["customer_id"])
    assert (lc["address"] == cc["address"]).all()
    assert lc["vulnerable"].dtype == bool and (lc["vulnerable"] == cc["vulnerable"]).all()
    assert np.allclose(lc["gps_lon"], cc["gps_lon"], equal_nan=True)
    assert (lc.geometry.x == cc.geometry.x).all()


def test_customers_csv_is_the_archive_only() -> None:
    header = (sample.SAMPLE_DIR / "customers.csv").read_text("utf-8").splitlines()[0]
    assert "true_lon" not in header and "village_code" not in header
    assert header.split(",")[:3] == ["customer_id", "name", "address"]


def test_shipped_folder_small() -> None:
    total = sum(p.stat().st_size for p in sample.SAMPLE_DIR.rglob("*") if p.is_file())
    assert total < 8e6
    for name in ("README.md", "LICENSE-DATA.md"):
        assert (sample.SAMPLE_DIR / name).is_file()


def test_main_writes_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sample.main(["--customers", "300", "--road-detail", "0.3", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SHIPPED_FILES)
    assert "300 customers" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "customers.csv")) == 300


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_customers": 5}, "`n_customers` must be an integer >= 100"),
        ({"n_customers": 1000.5}, "`n_customers`"),
        ({"road_detail": 0}, r"`road_detail` must be a number in \(0, 500"),
        ({"road_detail": 1e4}, "`road_detail`"),
        ({"seed": -1}, "`seed` must be a non-negative integer"),
        ({"seed": "x"}, "`seed`"),
    ],
)
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        sample.generate_county(**kwargs)


def test_main_reports_bad_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert sample.main(["--customers", "5"]) == 1
    assert "n_customers" in capsys.readouterr().err


def test_missing_source_dir(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="refresh_sources"):
        sample.generate_county(source_dir=tmp_path)


def test_corrupt_source(tmp_path: Path) -> None:
    shutil.copytree(sample.SAMPLE_DIR / "source", tmp_path, dirs_exist_ok=True)
    (tmp_path / sample.SOURCE_FILES["gazetteer"]).write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(CorruptFileError, match="lacks columns"):
        sample.generate_county(source_dir=tmp_path, n_customers=100)
    (tmp_path / sample.SOURCE_FILES["boundary"]).write_text("{not json", encoding="utf-8")
    with pytest.raises(CorruptFileError, match="cannot read the sample sources"):
        sample.generate_county(source_dir=tmp_path, n_customers=100)


def test_refresh_sources_missing(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="shared_data_dir"):
        sample.refresh_sources(tmp_path / "nowhere", tmp_path / "out")


def test_load_sample_missing_and_corrupt(small_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"gridgeo sample generate --out DIR"):
        sample.load_sample(tmp_path)
    for name in SHIPPED_FILES:
        shutil.copy(small_dirs[0] / name, tmp_path / name)
    (tmp_path / "nanfeng.gpkg").write_bytes(b"not a geopackage")
    with pytest.raises(CorruptFileError, match="cannot read the sample"):
        sample.load_sample(tmp_path)
    shutil.copy(small_dirs[0] / "nanfeng.gpkg", tmp_path / "nanfeng.gpkg")
    truth = pd.read_csv(tmp_path / "customers_truth.csv", dtype=str)
    truth.iloc[::-1].to_csv(tmp_path / "customers_truth.csv", index=False)
    with pytest.raises(CorruptFileError, match="same customers in the same order"):
        sample.load_sample(tmp_path)
