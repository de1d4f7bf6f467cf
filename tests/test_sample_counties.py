"""The sample generator for any county: 黎川县, 彭泽县 (3 pieces) and 柴桑区 (2 pieces).

Every expectation is computed here independently of the generator: the boundary is read
from the Amap file and converted from GCJ-02 with ``gridgeo.crs``; pieces, OSM substations
and names are counted with shapely / pandas; expected names above the county are written
by hand.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from gridgeo import sample
from gridgeo.cli import main
from gridgeo.crs import gcj02_to_wgs84, to_wgs84_geometry, wgs84_to_gcj02
from gridgeo.errors import InputError, NotFoundError

N_CUSTOMERS = 2500
SEED = 7
# adcode -> (name, province+city+county written by hand, pieces of >= 50 km2)
COUNTIES = {
    "361022": ("黎川县", "江西省抚州市黎川县", 1),
    "360430": ("彭泽县", "江西省九江市彭泽县", 1),
    "360404": ("柴桑区", "江西省九江市柴桑区", 2),
}
GEOD = pyproj.Geod(ellps="WGS84")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """Each county generated once and written twice (sample files + company files)."""
    out = {}
    for adcode in COUNTIES:
        county = sample.generate_county(adcode=adcode, n_customers=N_CUSTOMERS, seed=SEED)
        folder = tmp_path_factory.mktemp(f"c{adcode}")
        sample.write_sample(county, folder)
        sample.write_company_files(county, folder / "company")
        out[adcode] = (county, folder)
    return out


@pytest.fixture(scope="module")
def boundaries(jiangxi_dir: Path) -> dict[str, shapely.Geometry]:
    """The WGS84 boundaries, converted here from the Amap GCJ-02 file."""
    gdf = gpd.read_file(jiangxi_dir / "amap_jiangxi_counties_gcj02.gpkg", engine="pyogrio")
    out = {}
    for adcode in COUNTIES:
        rows = gdf[gdf["adcode"].astype(str) == adcode]
        assert len(rows) == 1
        out[adcode] = to_wgs84_geometry(rows.geometry, "gcj02").union_all()
    return out


def _xy(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return shapely.get_coordinates(gdf.geometry.to_numpy())


@pytest.mark.parametrize("adcode", list(COUNTIES))
def test_everything_inside_the_county(generated: dict, boundaries: dict, adcode: str) -> None:
    county, _ = generated[adcode]
    b = boundaries[adcode]
    for layer in ("villages", "towns", "repair_stations", "payment_points", "substations"):
        xy = _xy(getattr(county, layer))
        inside = shapely.contains_xy(b, xy[:, 0], xy[:, 1])
        assert inside.all(), f"{layer}: {int((~inside).sum())} points outside {adcode}"
    xy = _xy(county.customers)
    assert shapely.contains_xy(b, xy[:, 0], xy[:, 1]).all()


@pytest.mark.parametrize("adcode", list(COUNTIES))
def test_every_big_piece_holds_villages_and_roads(
    generated: dict, boundaries: dict, adcode: str
) -> None:
    county, _ = generated[adcode]
    pieces = [p for p in shapely.get_parts(boundaries[adcode])]
    area_km2 = [abs(GEOD.geometry_area_perimeter(p)[0]) / 1e6 for p in pieces]
    big = [p for p, a in zip(pieces, area_km2, strict=True) if a >= 50.0]
    assert len(big) == COUNTIES[adcode][2]
    if adcode == "360430":
        assert len(pieces) == 3
    vxy = _xy(county.villages)
    road_xy = shapely.get_coordinates(county.roads.geometry.to_numpy())
    for p in big:
        assert shapely.contains_xy(p, vxy[:, 0], vxy[:, 1]).sum() >= 3
        assert shapely.contains_xy(p, road_xy[:, 0], road_xy[:, 1]).sum() >= 50


@pytest.mark.parametrize("adcode", list(COUNTIES))
def test_names_are_the_countys_rows(generated: dict, jiangxi_dir: Path, adcode: str) -> None:
    county, _ = generated[adcode]
    table = pd.read_csv(jiangxi_dir / "jiangxi_towns_villages.csv", dtype=str).fillna("")
    rows = table[table["county_adcode"] == adcode]
    towns = set(rows["town"])
    pairs = {(t, v) for t, v in zip(rows["town"], rows["village"], strict=True) if v}
    assert set(county.towns["town"]) == towns
    assert len(county.towns) == len(towns)
    got = set(zip(county.villages["town"], county.villages["village"], strict=True))
    assert got == pairs
    assert len(county.villages) == len(pairs)
    assert (county.towns["coords_source"] == "generated").all()
    assert county.villages["generated"].all()
    assert (county.villages["name_source"] == "real").all()


@pytest.mark.parametrize("adcode", list(COUNTIES))
def test_codes(generated: dict, adcode: str) -> None:
    county, _ = generated[adcode]
    t, v = county.towns, county.villages
    assert t["town_code"].str.fullmatch(adcode + r"\d{3}").all()
    assert t["town_code"].is_unique and v["village_code"].is_unique
    assert v["village_code"].str.fullmatch(r"\d{12}").all()
    assert (v["village_code"].str[:9] == v["town_code"]).all()
    # statistics ranges: 街道 001-099, 镇 100-199, 乡 200-399
    num = t["town_code"].str[6:].astype(int)
    assert ((num < 100) == t["town"].str.endswith("街道")).all()
    assert ((num >= 100) & (num < 200) == t["town"].str.endswith("镇")).all()
    assert ((num >= 200) & (num < 400) == t["town"].str.endswith("乡")).all()
    # 社区 001.., 村 201..
    tail = v["village_code"].str[9:].astype(int)
    assert (tail[v["village"].str.endswith("社区")] < 200).all()
    assert (tail[v["village"].str.endswith("村")] > 200).all()


def test_county_seat(generated: dict, jiangxi_dir: Path) -> None:
    # by hand from the names table: the 街道 (else 镇) with the most 社区
    table = pd.read_csv(jiangxi_dir / "jiangxi_towns_villages.csv", dtype=str).fillna("")
    for adcode, real_seat in (("361022", "日峰镇"), ("360430", "龙城镇"), ("360404", "沙河街道")):
        rows = table[(table["county_adcode"] == adcode) & table["village"].str.endswith("社区")]
        kind = "街道" if rows["town"].str.endswith("街道").any() else "镇"
        counts = rows[rows["town"].str.endswith(kind)].groupby("town").size()
        assert counts.idxmax() == real_seat
        county, _ = generated[adcode]
        assert county.meta["county_seat"] == real_seat
        code = county.towns.loc[county.towns["town"] == real_seat, "town_code"].iat[0]
        assert code == adcode + ("001" if kind == "街道" else "100")


@pytest.mark.parametrize("adcode", list(COUNTIES))
def test_osm_substations_included(
    generated: dict, boundaries: dict, jiangxi_dir: Path, adcode: str
) -> None:
    county, _ = generated[adcode]
    osm = gpd.read_file(jiangxi_dir / "osm_substations_jiangxi_points.gpkg", engine="pyogrio")
    xy = _xy(osm)
    inside = xy[shapely.contains_xy(boundaries[adcode], xy[:, 0], xy[:, 1])]
    assert len(inside) >= 5  # these three counties all have OSM substations
    subs = county.substations
    got = _xy(subs[subs["source"] == "OSM"])
    assert len(got) == len(inside)
    for p in inside:
        assert np.min(np.hypot(*(got - p).T)) < 1e-6
    assert set(subs["source"]) <= {"OSM", "generated"}


@pytest.mark.parametrize("adcode", list(COUNTIES))
def test_same_seed_byte_identical(generated: dict, tmp_path: Path, adcode: str) -> None:
    _, folder = generated[adcode]
    again = sample.generate_county(adcode=adcode, n_customers=N_CUSTOMERS, seed=SEED)
    sample.write_sample(again, tmp_path)
    sample.write_company_files(again, tmp_path / "company")
    files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    assert len(files) == 4 + len(sample.COMPANY_FILES)
    for rel in files:
        assert sha256(folder / rel) == sha256(tmp_path / rel), rel


def test_other_seed_other_county() -> None:
    a = sample.generate_county(adcode="361022", n_customers=300, seed=1, road_detail=0.3)
    b = sample.generate_county(adcode="361022", n_customers=300, seed=2, road_detail=0.3)
    assert not np.allclose(_xy(a.villages), _xy(b.villages))


@pytest.mark.parametrize("adcode", list(COUNTIES))
def test_addresses_carry_real_names(generated: dict, adcode: str) -> None:
    county, _ = generated[adcode]
    name, chain, _ = COUNTIES[adcode]
    addr = county.customers["address"].astype(str)
    n = len(addr)
    with_chain = int(addr.str.startswith(chain).sum())
    with_county = int(addr.str.contains(name, regex=False).sum())
    # the default variant weights give full chains to a few percent, the county to a third
    assert 0.02 * n < with_chain < 0.3 * n
    assert 0.15 * n < with_county < 0.8 * n
    assert with_county > with_chain
    assert not addr.str.contains("南丰|琴城|抚州市南丰", regex=True).any()
    assert county.customers["address_variant"].nunique() >= 12
    assert county.customers["customer_id"].str.fullmatch(adcode + r"\d{7}").all()


@pytest.mark.parametrize("adcode", list(COUNTIES))
def test_load_sample_finds_the_geopackage(generated: dict, adcode: str) -> None:
    county, folder = generated[adcode]
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["adcode"] == adcode and meta["name"] == COUNTIES[adcode][0]
    assert (folder / meta["gpkg"]).is_file() and not (folder / "nanfeng.gpkg").exists()
    back = sample.load_sample(folder)
    assert back.county["adcode"].iat[0] == adcode
    assert len(back.villages) == len(county.villages)
    assert len(back.customers) == N_CUSTOMERS
    assert meta["generated"]


def _readme_datum(readme: str, filename: str) -> str:
    line = next(x for x in readme.splitlines() if x.strip().startswith(filename))
    if "GCJ-02" in line:
        return "gcj02"
    assert "WGS84" in line, line
    return "wgs84"


@pytest.mark.parametrize("adcode", ["360404"])
def test_company_files_in_the_datum_the_readme_says(
    generated: dict, boundaries: dict, jiangxi_dir: Path, adcode: str
) -> None:
    county, folder = generated[adcode]
    company = folder / "company"
    readme = (company / "README.txt").read_text(encoding="utf-8")
    assert "GENERATED" in readme and "OpenStreetMap" in readme
    assert sorted(p.name for p in company.iterdir()) == sorted(sample.COMPANY_FILES.values())

    # boundary: GCJ-02, i.e. on the Amap polygon, 300-600 m off the WGS84 one
    assert _readme_datum(readme, "boundary_gcj02.geojson") == "gcj02"
    gcj = gpd.read_file(company / "boundary_gcj02.geojson", engine="pyogrio").geometry.iat[0]
    amap = gpd.read_file(jiangxi_dir / "amap_jiangxi_counties_gcj02.gpkg", engine="pyogrio")
    amap_geom = amap[amap["adcode"].astype(str) == adcode].geometry.iat[0]
    v = shapely.get_coordinates(gcj)[::50]
    assert shapely.distance(amap_geom.boundary, shapely.points(v)).max() < 1e-5
    lon, lat = gcj02_to_wgs84(v[:, 0], v[:, 1])
    d_wgs = shapely.distance(boundaries[adcode].boundary, shapely.points(lon, lat))
    assert d_wgs.max() < 1e-5

    # village, town, station and point CSVs: GCJ-02 lon/lat, back to the WGS84 layer
    for filename, layer, key in (
        ("villages.csv", "villages", "village_code"),
        ("towns.csv", "towns", "town_code"),
        ("repair_stations_gcj02.csv", "repair_stations", "station_id"),
        ("payment_points_gcj02.csv", "payment_points", "point_id"),
    ):
        assert _readme_datum(readme, filename) == "gcj02"
        df = pd.read_csv(company / filename, dtype={key: str})
        assert (df["coord_datum"] == "gcj02").all()
        truth = getattr(county, layer)
        assert list(df[key]) == list(truth[key])
        lon, lat = gcj02_to_wgs84(df["lon"].to_numpy(), df["lat"].to_numpy())
        t = _xy(truth)
        assert np.abs(lon - t[:, 0]).max() < 2e-7 and np.abs(lat - t[:, 1]).max() < 2e-7
        # and not WGS84 written as is: GCJ-02 is hundreds of metres off here
        glon, _ = wgs84_to_gcj02(t[:, 0], t[:, 1])
        assert np.abs(df["lon"].to_numpy() - t[:, 0]).min() > 1e-3
        assert np.abs(df["lon"].to_numpy() - glon).max() < 2e-7

    # GeoPackages: WGS84 as is
    for filename, layer in (("substations_wgs84.gpkg", "substations"), ("roads.gpkg", "roads")):
        assert _readme_datum(readme, filename) == "wgs84"
        gdf = gpd.read_file(company / filename, engine="pyogrio")
        assert gdf.crs.to_epsg() == 4326
        got = shapely.get_coordinates(gdf.geometry.to_numpy())
        want = shapely.get_coordinates(getattr(county, layer).geometry.to_numpy())
        assert got.shape == want.shape and np.abs(got - want).max() < 1e-9

    archive = pd.read_csv(company / "customers.csv", dtype=str)
    assert list(archive["customer_id"]) == list(county.customers["customer_id"])


def test_nanfeng_by_adcode_is_the_default_path() -> None:
    a = sample.generate_county(n_customers=200, road_detail=0.3)
    b = sample.generate_county(adcode="361023", n_customers=200, road_detail=0.3)
    assert "gpkg" not in a.meta and "gpkg" not in b.meta
    pd.testing.assert_frame_equal(a.customers, b.customers)
    assert a.villages.geometry.equals(b.villages.geometry)


# ----------------------------------------------------------------------------- errors


def test_unknown_county_suggests_close_names() -> None:
    with pytest.raises(NotFoundError, match="黎川县 361022"):
        sample.find_sample_county("黎州县")
    with pytest.raises(NotFoundError, match=r"no county '369999'.*--boundary"):
        sample.find_sample_county("369999")
    with pytest.raises(InputError, match="`--boundary-datum`"):
        sample.find_sample_county("361022", boundary_datum="wgs85")
    with pytest.raises(NotFoundError, match="`--boundary FILE`"):
        sample.find_sample_county("361022", boundary="/no/such/file.gpkg")


def test_find_by_short_name_and_adcode() -> None:
    assert sample.find_sample_county("黎川").adcode == "361022"
    assert sample.find_sample_county(360404).name == "柴桑区"


def test_cli_unknown_county_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sample", "generate", "--county", "黎州县", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "黎川县 361022" in lines[0]
    assert not (tmp_path / "x").exists()


def test_cli_generates_county_with_company_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "sample",
            "generate",
            "--county",
            "黎川县",
            "--customers",
            "300",
            "--road-detail",
            "0.3",
            "--company-files",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "黎川县 361022" in out
    assert (tmp_path / "361022.gpkg").is_file()
    assert (tmp_path / "company_files" / "README.txt").is_file()
    assert re.search(r"customers\.csv", out)


def test_county_missing_from_names_table_gets_labelled_generated_names(tmp_path: Path) -> None:
    # a made-up county (adcode in no table), boundary in WGS84: 24 x 22 km near 南丰
    box = shapely.box(116.40, 27.10, 116.64, 27.30)
    path = tmp_path / "mine.geojson"
    gpd.GeoDataFrame({"name": ["测试县"], "adcode": ["369901"]}, geometry=[box], crs=4326).to_file(
        path, driver="GeoJSON", engine="pyogrio"
    )
    county = sample.generate_county(
        adcode="测试县", boundary=path, boundary_datum="wgs84", n_customers=300, road_detail=0.3
    )
    assert county.meta["adcode"] == "369901"
    assert county.meta["sources"]["names"].startswith("generated")
    assert (county.villages["name_source"] == "generated").all()
    assert (county.towns["name_source"] == "generated").all()
    assert county.towns["town"].str.startswith("生成").all()
    xy = _xy(county.villages)
    # WGS84 boundary used as is: every village inside the box itself
    assert shapely.contains_xy(box, xy[:, 0], xy[:, 1]).all()
    assert county.customers["address"].str.contains("测试县", regex=False).any()


def test_boundary_adcode_must_be_six_digits(tmp_path: Path) -> None:
    path = tmp_path / "bad.geojson"
    gpd.GeoDataFrame(
        {"name": ["测试县"], "adcode": ["12x"]},
        geometry=[shapely.box(116, 27, 116.2, 27.2)],
        crs=4326,
    ).to_file(path, driver="GeoJSON", engine="pyogrio")
    with pytest.raises(InputError, match="6-digit adcode"):
        sample.find_sample_county("测试县", boundary=path, boundary_datum="wgs84")
