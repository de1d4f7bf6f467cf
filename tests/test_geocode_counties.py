"""Tests of gridgeo.geocode on the addresses of every Jiangxi county, not only 南丰县.

The townships and villages are the real names of ``sample_data/jiangxi/
jiangxi_towns_villages.csv`` (every county of Jiangxi); the gazetteer of each county is
built the way a workspace builds it (:func:`gridgeo.workspace.read_gazetteer`: the county
layer's adcode, townships and villages with codes and points; the codes and points are
made up here). The province and city come from :func:`gridgeo.admin.admin_names`.

The truth is the CSV row an address was written from, never the geocoder. Run
``pytest -s tests/test_geocode_counties.py`` to see the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridgeo.admin import AdminNames, admin_names
from gridgeo.geocode import Gazetteer, geocode_addresses

# The prefixes an archive writes before the township: full, without province, the county
# alone, and the short forms (江西抚州黎川县…, 黎川…, 江西抚州黎川…).
PREFIXES: dict[str, Callable[[AdminNames], str]] = {
    "full": lambda n: n.province + n.city + n.county,
    "without_province": lambda n: n.city + n.county,
    "county_only": lambda n: n.county,
    "short_province_city": lambda n: n.province_short + n.city_short + n.county,
    "short_county": lambda n: n.county_short,
    "all_short": lambda n: n.province_short + n.city_short + n.county_short,
}
# Counted by hand from the CSV (grep / sort | uniq -d): 12 names listed twice in their
# township, 24 rows (毛村 of 华坛山镇, 厚村 of 厚村乡, 铁路三村 of 南站街道, ...).
SAME_NAME_ROWS = 24


@dataclass(frozen=True)
class County:
    names: AdminNames
    villages: pd.DataFrame  # village, town, village_code, lon, lat (the CSV rows, in order)
    gazetteer: Gazetteer


def _county(adcode: str, rows: pd.DataFrame, k: int) -> County:
    """The gazetteer of one county as a workspace makes it, codes and points made up."""
    towns = rows[rows["village"].isna()].reset_index(drop=True)
    villages = rows[rows["village"].notna()].reset_index(drop=True)
    town_no = {t: i for i, t in enumerate(towns["town"])}
    town_codes = [f"{adcode}{i:03d}" for i in range(len(towns))]
    # a village's code: its township's code and its rank in the township
    rank = villages.groupby("town").cumcount().to_numpy()
    t_idx = villages["town"].map(town_no).to_numpy()
    village_codes = [f"{town_codes[t]}{r:03d}" for t, r in zip(t_idx, rank, strict=True)]
    base_x, base_y = 114.0 + (k % 10) * 0.3, 25.0 + (k // 10) * 0.3
    tx = base_x + np.arange(len(towns)) * 0.01
    vx = tx[t_idx] + rank * 0.0005
    vy = np.full(len(villages), base_y + 0.05)
    layers = SimpleNamespace(
        county=gpd.GeoDataFrame(
            {"adcode": [adcode]},
            geometry=[shapely.box(base_x - 0.1, base_y - 0.1, base_x + 0.3, base_y + 0.3)],
            crs=4326,
        ),
        towns=gpd.GeoDataFrame(
            {"town_code": town_codes, "town": towns["town"]},
            geometry=shapely.points(tx, np.full(len(towns), base_y)),
            crs=4326,
        ),
        villages=gpd.GeoDataFrame(
            {
                "village_code": village_codes,
                "village": villages["village"],
                "town": villages["town"],
            },
            geometry=shapely.points(vx, vy),
            crs=4326,
        ),
    )
    frame = pd.DataFrame(
        {
            "village": villages["village"],
            "town": villages["town"],
            "village_code": village_codes,
            "lon": vx,
            "lat": vy,
        }
    )
    return County(admin_names(adcode), frame, Gazetteer.from_sample(layers))


@pytest.fixture(scope="module")
def table(jiangxi_dir: Path) -> pd.DataFrame:
    return pd.read_csv(jiangxi_dir / "jiangxi_towns_villages.csv", dtype=str)


@pytest.fixture(scope="module")
def counties(table: pd.DataFrame) -> dict[str, County]:
    """One gazetteer per county, built once."""
    groups = table.groupby("county_adcode", sort=True)
    return {a: _county(str(a), rows, k) for k, (a, rows) in enumerate(groups)}


def _addresses(head: str, villages: pd.DataFrame) -> pd.Series:
    """``{head}{township}{village}3组`` for every village."""
    pairs = zip(villages["town"], villages["village"], strict=True)
    return pd.Series([f"{head}{t}{name}3组" for t, name in pairs])


def _one(county: County, address: str) -> pd.Series:
    return geocode_addresses(pd.Series([address]), county.gazetteer).iloc[0]


# --------------------------------------------------------------------------- every village


def test_every_village_of_every_county_with_every_prefix(table, counties):
    villages = table[table["village"].notna()]
    same = villages.duplicated(["county_adcode", "town", "village"], keep=False)
    assert int(same.sum()) == SAME_NAME_ROWS  # the hand count of the CSV
    assert len(counties) == table["county_adcode"].nunique() == 101

    total = right = ambiguous = 0
    wrong: list[str] = []
    for county in counties.values():
        v = county.villages
        dup = v.duplicated(["town", "village"], keep=False).to_numpy()
        expected_cands = (v["village"] + "(" + v["town"] + ")").to_numpy(dtype=object)
        for label, prefix in PREFIXES.items():
            head = prefix(county.names)
            addresses = _addresses(head, v)
            r = geocode_addresses(addresses, county.gazetteer)
            found = (
                (r["reason"].to_numpy() == "ok")
                & (r["village_code"].to_numpy() == v["village_code"].to_numpy())
                & (r["town"].to_numpy() == v["town"].to_numpy())
                & (r["point_level"].to_numpy() == "village")
                & np.isclose(r["lon"].to_numpy(dtype=float), v["lon"].to_numpy())
                & (r["group_no"].to_numpy() == 3)
            )
            told_ambiguous = (
                (r["reason"].to_numpy() == "ambiguous")
                & (r["town"].to_numpy() == v["town"].to_numpy())
                & (r["candidates"].to_numpy() == expected_cands + "|" + expected_cands)
                & r["village"].isna().to_numpy()
            )
            ok = np.where(dup, told_ambiguous, found)
            total += len(ok)
            right += int(ok.sum())
            ambiguous += int((dup & told_ambiguous).sum())
            for i in np.flatnonzero(~ok)[:3]:
                wrong.append(f"{label}: {addresses[i]} -> {r.iloc[i].to_dict()}")
    print(
        f"\n{total} addresses ({len(villages)} villages x {len(PREFIXES)} prefixes): "
        f"{right} right, of which {ambiguous} reported ambiguous (same name twice in a township)"
    )
    assert total == len(villages) * len(PREFIXES)
    assert not wrong, f"{total - right} wrong, e.g.\n" + "\n".join(wrong[:20])
    assert right == total
    assert ambiguous == SAME_NAME_ROWS * len(PREFIXES)


def test_every_county_reads_its_neighbours_addresses_as_other_county(counties):
    """The villages of the next county (adcode order), with its full chain or its name."""
    codes = list(counties)
    total = 0
    wrong: list[str] = []
    for k, adcode in enumerate(codes):
        other = counties[codes[(k + 1) % len(codes)]]
        v = other.villages
        for head in (PREFIXES["full"](other.names), other.names.county):
            addresses = _addresses(head, v)
            r = geocode_addresses(addresses, counties[adcode].gazetteer)
            bad = np.flatnonzero(r["reason"].to_numpy() != "other_county")
            total += len(addresses)
            wrong += [f"{adcode}: {addresses[i]} -> {r['reason'].iloc[i]}" for i in bad[:3]]
    print(f"\n{total} addresses of a neighbouring county, all other_county")
    assert not wrong, "\n".join(wrong[:20])


# --------------------------------------------------------------------------- hand cases


@pytest.mark.parametrize(
    ("adcode", "address", "town", "village"),
    [
        # 市 inside a village or community name
        ("361030", "江西省抚州市广昌县长桥乡株市村3组", "长桥乡", "株市村"),
        ("361030", "广昌县株市村5组", "长桥乡", "株市村"),  # no township: unique in the county
        ("360424", "修水县漫江乡杜市村", "漫江乡", "杜市村"),
        ("360424", "修水县杜市村", "漫江乡", "杜市村"),
        ("361102", "信州区东市街道市府大院社区", "东市街道", "市府大院社区"),
        ("360103", "南昌市西湖区南浦街道市中行", "南浦街道", "市中行"),  # no 村/社区 at all
        # 区
        ("361030", "广昌旴江镇河东新区社区", "旴江镇", "河东新区社区"),
        ("361030", "广昌县河东新区社区2组", "旴江镇", "河东新区社区"),
        ("361030", "驿前镇河东村", "驿前镇", "河东村"),
        # 县
        ("361123", "玉山县冰溪街道县后山村3组", "冰溪街道", "县后山村"),
        ("361123", "玉山县县后山村", "冰溪街道", "县后山村"),
        ("360825", "永丰县古县镇古县村", "古县镇", "古县村"),  # 县 in township and village
        ("360825", "江西永丰古县镇古县镇社区1组", "古县镇", "古县镇社区"),
        ("361002", "临川区青云街道县学岭社区", "青云街道", "县学岭社区"),
        ("361126", "弋阳县三县岭镇前坂村", "三县岭镇", "前坂村"),
        # 镇
        ("361129", "万年县石镇镇石镇村3组", "石镇镇", "石镇村"),
        ("361129", "石镇村", "石镇镇", "石镇村"),
        ("361130", "婺源县镇头镇镇头村", "镇头镇", "镇头村"),
        ("361128", "鄱阳县谢家滩镇三潼镇村", "谢家滩镇", "三潼镇村"),
        ("361127", "余干县古埠镇镇尾村", "古埠镇", "镇尾村"),
        # 乡 (东乡 is also 抚州市东乡区)
        ("360112", "新建区九龙湖管理处富乡村", "九龙湖管理处", "富乡村"),
        ("361002", "抚州市临川区东乡仓社区", "文昌街道", "东乡仓社区"),
        ("361002", "临川区文昌街道东乡仓社区", "文昌街道", "东乡仓社区"),
        ("360828", "万安县涧田乡涧田乡社区", "涧田乡", "涧田乡社区"),
        # 村 inside a township name
        ("360222", "浮梁县江村乡严台村", "江村乡", "严台村"),
        ("360203", "珠山区新村街道中路社区", "新村街道", "中路社区"),
        # 省/区 inside a township name
        ("360121", "南昌县江西省良种繁殖场农科所社区", "江西省良种繁殖场", "农科所社区"),
        (
            "360121",
            "江西省南昌市南昌县江西省良种繁殖场红旗分场生活区",
            "江西省良种繁殖场",
            "红旗分场生活区",
        ),
        ("360902", "宜春市袁州区工业园区医药园社区", "袁州区工业园区", "医药园社区"),
        ("360902", "袁州区袁州区工业园区机电园社区", "袁州区工业园区", "机电园社区"),
        # the county named like its city: 南昌县 of 南昌市
        ("360121", "南昌县三江镇三江村3组", "三江镇", "三江村"),
        ("360121", "南昌三江镇三江村", "三江镇", "三江村"),
    ],
)
def test_admin_characters_inside_names(table, counties, adcode, address, town, village):
    rows = table[table["county_adcode"] == adcode]
    assert ((rows["town"] == town) & (rows["village"] == village)).sum() == 1  # a real name
    r = _one(counties[adcode], address)
    assert (r["reason"], r["town"], r["village"]) == ("ok", town, village), r.to_dict()
    assert r["confidence"] >= 0.9  # an exact reading of the names


@pytest.mark.parametrize(
    ("adcode", "address", "town", "village", "group_no", "house_no"),
    [
        ("360404", "柴桑区江洲镇九号村3组12号", "江洲镇", "九号村", 3, "12"),
        ("360404", "江洲镇六号村", "江洲镇", "六号村", None, None),
        ("360602", "月湖区梅园街道二六一队社区3组", "梅园街道", "二六一队社区", 3, None),
        ("360402", "濂溪区十里街道七０七所社区", "十里街道", "七０七所社区", None, None),
        ("360402", "濂溪区十里街道七0七所社区5组", "十里街道", "七０七所社区", 5, None),
    ],
)
def test_names_with_numbers_are_not_read_as_group_or_house(
    counties, adcode, address, town, village, group_no, house_no
):
    """九号村 is not house 9, 二六一队社区 not group 261 (队 is written for 组)."""
    r = _one(counties[adcode], address)
    assert (r["reason"], r["town"], r["village"]) == ("ok", town, village), r.to_dict()
    assert (None if pd.isna(r["group_no"]) else int(r["group_no"])) == group_no
    assert r["house_no"] == house_no


@pytest.mark.parametrize(
    ("adcode", "address"),
    [
        ("361030", "江西省抚州市南丰县琴城镇水南村3组"),  # another county of the same city
        ("361030", "南丰县株市村"),  # 株市村 of 广昌县 written after 南丰县
        ("361030", "湖南省长沙市岳麓区橘子洲街道"),
        ("360112", "南昌县三江镇三江村3组"),  # 南昌县 read from 新建区 of 南昌市
        ("360112", "江西省南昌市南昌县三江镇三江村"),
        ("361102", "上饶市广信区华坛山镇毛村"),
        ("360302", "月湖区梅园街道二六一队社区3组"),  # 鹰潭's 月湖区 from 萍乡's 安源区
    ],
)
def test_other_counties(counties, adcode, address):
    r = _one(counties[adcode], address)
    assert r["reason"] == "other_county", r.to_dict()
    assert r["match_level"] == "none"


def test_same_name_twice_in_a_township(counties):
    """黎川县 lists 厚村 twice in 厚村乡: which one is meant cannot be told."""
    county = counties["361022"]
    v = county.villages
    codes = v.loc[(v["town"] == "厚村乡") & (v["village"] == "厚村"), "village_code"]
    assert codes.nunique() == 2
    with_town = _one(county, "黎川县厚村乡厚村3组")
    assert (with_town["reason"], with_town["match_level"]) == ("ambiguous", "town")
    assert with_town["town"] == "厚村乡"
    assert with_town["candidates"] == "厚村(厚村乡)|厚村(厚村乡)"
    alone = _one(county, "黎川县厚村3组")
    assert (alone["reason"], alone["match_level"]) == ("ambiguous", "county")
    # the township's other villages are unaffected
    other = v[(v["town"] == "厚村乡") & (v["village"] != "厚村")].iloc[0]
    r = _one(county, f"黎川县厚村乡{other['village']}")
    assert (r["reason"], r["village_code"]) == ("ok", other["village_code"])
