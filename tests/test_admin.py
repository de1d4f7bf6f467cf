"""China's administrative names from an adcode (gridgeo.admin) and addresses of other counties."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridgeo import Gazetteer, geocode_addresses
from gridgeo.admin import admin_names, find_county
from gridgeo.errors import InputError, NotFoundError

REPO = Path(__file__).resolve().parents[1]


def test_names_of_a_county_by_hand() -> None:
    n = admin_names("361022")
    assert (n.county, n.county_short) == ("黎川县", "黎川")
    assert (n.city, n.city_short) == ("抚州市", "抚州")
    assert (n.province, n.province_short) == ("江西省", "江西")
    assert admin_names(361023).county == "南丰县"  # an int, as a spreadsheet gives it
    assert admin_names("361023.0").county == "南丰县"
    assert admin_names("360727").former == ("龙南县",)
    assert find_county("龙南县").county == "龙南市"
    gx = find_county("东兴市", province="广西")
    assert (gx.province, gx.province_short) == ("广西壮族自治区", "广西")


def test_every_jiangxi_county_matches_the_amap_boundaries(jiangxi_dir: Path) -> None:
    # an independent source: the Amap county polygons carry their own city and province names
    counties = gpd.read_file(jiangxi_dir / "amap_jiangxi_counties_gcj02.gpkg", engine="pyogrio")
    assert len(counties) == 100
    for row in counties.itertuples():
        n = admin_names(row.adcode)
        # 龙南县 became 龙南市 in 2020; the boundary file is older
        assert row.name in (n.county, *n.former), row.adcode
        assert n.city == row.ctname, row.adcode
        assert n.province == row.prname == "江西省"


@pytest.mark.parametrize(
    ("adcode", "error", "match"),
    [
        ("36102", InputError, "6-digit"),
        ("abcdef", InputError, "6-digit"),
        (None, InputError, "6-digit"),
        ("999999", NotFoundError, "no county with adcode '999999'"),
        ("360000", NotFoundError, "no county with adcode '360000'"),  # a province
    ],
)
def test_bad_adcodes(adcode: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        admin_names(adcode)


def test_find_county_by_name() -> None:
    assert find_county("黎川").adcode == "361022"
    with pytest.raises(InputError, match=r"several counties are called '鼓楼区'.*320106"):
        find_county("鼓楼区")
    assert find_county("鼓楼区", province="福建省").adcode == "350102"
    with pytest.raises(NotFoundError, match="no county called '火星县'"):
        find_county("火星县")


def _county_layers(adcode: str) -> SimpleNamespace:
    """A gazetteer's layers for a Jiangxi county from the shipped township/village names, with
    made-up positions (the parsing does not look at them)."""
    table = pd.read_csv(
        REPO / "sample_data" / "jiangxi" / "jiangxi_towns_villages.csv", dtype=str
    ).fillna("")
    rows = table[table["county_adcode"] == adcode]
    towns = rows[rows["village"] == ""]
    villages = rows[rows["village"] != ""]
    pt = shapely.Point(116.9, 27.3)
    return SimpleNamespace(
        county=gpd.GeoDataFrame({"adcode": [adcode]}, geometry=[pt.buffer(0.5)], crs=4326),
        towns=gpd.GeoDataFrame({"town": towns["town"]}, geometry=[pt] * len(towns), crs=4326),
        villages=gpd.GeoDataFrame(
            {"village": villages["village"], "town": villages["town"]},
            geometry=[pt] * len(villages),
            crs=4326,
        ),
    )


def test_province_and_city_prefixes_in_another_county() -> None:
    layers = _county_layers("361022")  # 黎川县: nothing about it is hard-coded
    gaz = Gazetteer.from_sample(layers)
    assert (gaz.province, gaz.city, gaz.county) == ("江西省", "抚州市", "黎川县")
    addresses = pd.Series(
        [
            "江西省抚州市黎川县日峰镇东门社区3组",
            "抚州市黎川县日峰镇东门社区",
            "江西省黎川县日峰镇东门社区",
            "江西黎川日峰镇东门社区",
            "黎川县日峰镇东门社区",
            "江西省抚州市南丰县琴城镇",  # another county of the same city
            "湖南省长沙市岳麓区",  # another province
        ]
    )
    out = geocode_addresses(addresses, gaz)
    assert out["village"].iloc[:5].tolist() == ["东门社区"] * 5
    assert out["town"].iloc[:5].tolist() == ["日峰镇"] * 5
    assert out["reason"].iloc[5:].tolist() == ["other_county", "other_county"]


def test_a_county_layer_without_adcode_or_name_is_refused() -> None:
    layers = _county_layers("361022")
    layers.county = layers.county.drop(columns="adcode")
    with pytest.raises(Exception, match="`adcode`"):
        Gazetteer.from_sample(layers)
