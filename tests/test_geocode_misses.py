"""Three addresses the geocoder missed (issue 11), each pinned with the rule that now decides.

1. A name and a phone in front of a village written without its township (``包根
   15159293270 下甘村3组``): 包 is a surname of gridgeo's name pool, so 包根 is removed as
   a name beside the phone, and 下甘村, unique in the county, is the village.
2. A street-lane address in 黎川县 (``磨市街9巷78号``): 磨市街 is the namesake street of
   磨市街社区 (日峰镇) in the gazetteer, read before the suffix rules that took its 市 for a
   city and answered ``other_county``.
3. A misspelt township named with 村 (``雄村镇上街村`` for 熊村镇): the village rule cut it at
   its 村 and the look-alike village 熊村 came out at 0.73; it is now read as a township,
   and the township-typo rule decides: the village only when it is written exactly and lies
   in the similar township, else the township alone.

The gazetteers are hand-made (towns and villages typed here, points made up), and 黎川县's
names are the rows of ``sample_data/jiangxi/jiangxi_towns_villages.csv``. The expected
confidences are the documented constants of :mod:`gridgeo.geocode` for the rule named.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridgeo.geocode import Gazetteer, geocode_addresses


def _gazetteer(adcode: str, pairs: list[tuple[str, str | None]]) -> Gazetteer:
    """A gazetteer from (township, village) rows; a row with village None is the township."""
    towns = list(dict.fromkeys(t for t, _ in pairs))
    villages = [(t, v) for t, v in pairs if v is not None]
    tx = 116.0 + np.arange(len(towns)) * 0.02
    town_no = {t: i for i, t in enumerate(towns)}
    vx = np.array([tx[town_no[t]] + 0.001 * (k + 1) for k, (t, _) in enumerate(villages)])
    layers = SimpleNamespace(
        county=gpd.GeoDataFrame(
            {"adcode": [adcode]}, geometry=[shapely.box(115.9, 26.9, 117.5, 27.5)], crs=4326
        ),
        towns=gpd.GeoDataFrame(
            {"town_code": [f"{adcode}{i:03d}" for i in range(len(towns))], "town": towns},
            geometry=shapely.points(tx, np.full(len(towns), 27.0)),
            crs=4326,
        ),
        villages=gpd.GeoDataFrame(
            {
                "village_code": [f"{adcode}{k:06d}" for k in range(len(villages))],
                "village": [v for _, v in villages],
                "town": [t for t, _ in villages],
            },
            geometry=shapely.points(vx, np.full(len(villages), 27.1)),
            crs=4326,
        ),
    )
    return Gazetteer.from_sample(layers)


def _one(gazetteer: Gazetteer, address: str) -> pd.Series:
    return geocode_addresses(pd.Series([address]), gazetteer).iloc[0]


@pytest.fixture(scope="module")
def nanfeng() -> Gazetteer:
    """Four townships of 南丰县 with a few of their villages (下甘村 only in 白舍镇)."""
    return _gazetteer(
        "361023",
        [
            ("琴城镇", None),
            ("琴城镇", "水南村"),
            ("琴城镇", "人民路社区"),
            ("白舍镇", None),
            ("白舍镇", "下甘村"),
            ("白舍镇", "上甘村"),
            ("三溪乡", None),
            ("三溪乡", "三溪村"),
            ("莱溪乡", None),
            ("莱溪乡", "九联村"),
        ],
    )


@pytest.fixture(scope="module")
def lichuan(jiangxi_dir: Path) -> Gazetteer:
    table = pd.read_csv(jiangxi_dir / "jiangxi_towns_villages.csv", dtype=str)
    rows = table[table["county_adcode"] == "361022"]
    assert (rows["county"] == "黎川县").all() and len(rows) == 158  # counted with grep -c
    pairs = [
        (t, None if pd.isna(v) else v) for t, v in zip(rows["town"], rows["village"], strict=True)
    ]
    return _gazetteer("361022", pairs)


# --------------------------------------------------------------------------- 1. name + phone


@pytest.mark.parametrize(
    "address",
    [
        "包根 15159293270 下甘村3组",
        "包根15159293270下甘村3组",
        "包生文 15159293270 南丰县下甘村3组",
        "下甘村3组 包根 15159293270",
    ],
)
def test_name_and_phone_before_a_village_without_township(nanfeng, address):
    r = _one(nanfeng, address)
    assert (r["match_level"], r["town"], r["village"], r["reason"]) == (
        "village",
        "白舍镇",
        "下甘村",
        "ok",
    )
    assert r["confidence"] == pytest.approx(0.93)  # _CONF_VILLAGE_ALONE: unique, no township
    assert r["phone_in_address"] == "15159293270"
    assert "包" in r["removed"]  # the name is kept aside with the phone
    assert int(r["group_no"]) == 3


def test_a_place_after_the_phone_is_no_name(nanfeng):
    # 三溪村 ends in 村: a place, never taken for a name even beside the phone
    r = _one(nanfeng, "15159293270 三溪村5组")
    assert (r["town"], r["village"], r["reason"]) == ("三溪乡", "三溪村", "ok")
    assert r["removed"] == "15159293270"


# --------------------------------------------------------------------------- 2. street-lane


@pytest.mark.parametrize(
    "address", ["磨市街9巷78号", "黎川县磨市街9巷78号", "江西省抚州市黎川县磨市街78号"]
)
def test_street_lane_address_is_the_streets_community(lichuan, address):
    r = _one(lichuan, address)
    assert (r["match_level"], r["town"], r["village"], r["reason"]) == (
        "village",
        "日峰镇",
        "磨市街社区",
        "ok",
    )
    assert r["confidence"] == pytest.approx(0.8)  # _CONF_STREET_ALONE


def test_a_street_of_two_communities_is_ambiguous_and_unknown_streets_stay_unlocated():
    gaz = _gazetteer(
        "361023",
        [("甲镇", None), ("甲镇", "磨市街社区"), ("乙镇", None), ("乙镇", "磨市街社区")],
    )
    r = _one(gaz, "磨市街9巷78号")
    assert (r["match_level"], r["reason"]) == ("county", "ambiguous")
    assert r["candidates"] == "磨市街社区(甲镇)|磨市街社区(乙镇)"
    # a street the gazetteer does not know: its 市 still reads as another city
    r = _one(gaz, "磨坊街9巷78号")
    assert r["match_level"] == "none" and pd.isna(r["village"])


def test_a_street_township_is_not_read_as_the_street():
    # 新华街道 is a township; 新华街社区 a community whose street is 新华街
    gaz = _gazetteer(
        "361023",
        [("新华街道", None), ("新华街道", "东门村"), ("乙镇", None), ("乙镇", "新华街社区")],
    )
    r = _one(gaz, "新华街道东门村2组")
    assert (r["town"], r["village"], r["reason"]) == ("新华街道", "东门村", "ok")
    r = _one(gaz, "新华街12号")
    assert (r["town"], r["village"], r["reason"]) == ("乙镇", "新华街社区", "ok")


# --------------------------------------------------------------------------- 3. township typo


@pytest.mark.parametrize("address", ["雄村镇上街村", "黎川县雄村镇上街村", "雄村镇上街村3组"])
def test_township_typo_with_its_exact_village(lichuan, address):
    r = _one(lichuan, address)
    # never the look-alike village 熊村 of the township's name
    assert r["village"] != "熊村"
    assert (r["match_level"], r["town"], r["village"], r["reason"]) == (
        "village",
        "熊村镇",
        "上街村",
        "ok",
    )
    assert r["confidence"] == pytest.approx(0.88)  # _CONF_TOWN_TYPO_CONFIRMED, below 0.9


def test_township_typo_alone_or_with_an_unknown_village_is_township_level(lichuan):
    r = _one(lichuan, "雄村镇")
    assert (r["match_level"], r["town"], r["reason"]) == ("town", "熊村镇", "no_village_name")
    assert pd.isna(r["village"])
    r = _one(lichuan, "雄村镇无名村")
    assert (r["match_level"], r["town"], r["reason"]) == ("town", "熊村镇", "unknown_village")
    assert pd.isna(r["village"])


def test_a_real_village_before_zhen_is_still_the_village():
    # 张村 is a village: "张村镇边" is not read as a township
    gaz = _gazetteer("361023", [("甲镇", None), ("甲镇", "张村"), ("乙乡", None), ("乙乡", "李村")])
    r = _one(gaz, "张村镇边5号")
    assert (r["match_level"], r["town"], r["village"]) == ("village", "甲镇", "张村")
