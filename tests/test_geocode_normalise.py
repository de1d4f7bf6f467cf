"""Tests of gridgeo.geocode: address normalisation before parsing, and no silent guesses.

Issue 11, points 3-7: traditional characters, full-width forms, phone and ID numbers,
labels and names inside addresses, 县城/城关/城区 for the county seat, house numbers in
their common forms, and the ambiguity rules of the matcher. The expected values are
written by hand from the gazetteers below (small, made here) or from the shipped Nanfeng
gazetteer; the labelled variants transform the generator's labelled addresses with an
independent tool (OpenCC's simplified-to-traditional converter, string insertion) and
keep the generator's truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opencc
import pandas as pd
import pytest

from gridgeo._sample_addresses import make_labelled_addresses
from gridgeo.errors import InputError
from gridgeo.geocode import Gazetteer, geocode_addresses, parse_addresses
from gridgeo.sample import load_sample

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "sample_data" / "nanfeng"
GAZETTEER_CSV = SAMPLE_DIR / "source" / "nanfeng_gazetteer_towns_villages.csv"
LABELLED_SEED = 7
LABELLED_N = 3000

# A small county written by hand. Every ambiguity branch has its pair:
# - 太和村 and 太和社区 share the stem 太和 in 太和镇 (same stem in one township);
# - 杨梅村 is in 琴城镇 only; 莱溪乡 has the look-alike 杨梅坑村;
# - 罗坊村 is in 白舍镇 and 紫霄镇 (duplicate name; 罗访村 is a typo of both);
# - 白舍镇 also has 罗芳村: 罗访村 in 白舍镇 is equally close to 罗坊村 and 罗芳村;
# - 解放路社区 is in 琴城镇 and 白舍镇 (street name shared by two villages);
# - 紫霄镇 lists 东村 twice (same name twice in one township);
# - 乾村 keeps 乾, which OpenCC would write 干.
# 琴城镇 has the most communities (3): the default county seat.
TOWNS = ["琴城镇", "太和镇", "莱溪乡", "白舍镇", "紫霄镇"]
VILLAGES = [
    ("琴城镇", "解放路社区"),
    ("琴城镇", "建设路社区"),
    ("琴城镇", "人民路社区"),
    ("琴城镇", "杨梅村"),
    ("琴城镇", "水南村"),
    ("太和镇", "太和村"),
    ("太和镇", "太和社区"),
    ("太和镇", "下洋村"),
    ("太和镇", "乾村"),
    ("莱溪乡", "杨梅坑村"),
    ("莱溪乡", "九联村"),
    ("白舍镇", "罗坊村"),
    ("白舍镇", "罗芳村"),
    ("白舍镇", "上店村"),
    ("白舍镇", "解放路社区"),
    ("紫霄镇", "罗坊村"),
    ("紫霄镇", "东村"),
    ("紫霄镇", "东村"),
]


def _tables(towns=TOWNS, villages=VILLAGES) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = pd.DataFrame(
        {
            "town": towns,
            "town_code": [f"36102310{i}" for i in range(len(towns))],
            "lon": [116.0 + 0.1 * i for i in range(len(towns))],
            "lat": [27.0] * len(towns),
        }
    )
    v = pd.DataFrame(villages, columns=["town", "village"])
    v["lon"] = 116.0 + 0.001 * np.arange(len(v))
    v["lat"] = 27.1
    return t, v


def _gaz(**kwargs) -> Gazetteer:
    towns, villages = _tables()
    return Gazetteer(towns, villages, county="南丰县", city="抚州市", province="江西省", **kwargs)


@pytest.fixture(scope="module")
def gaz():
    return _gaz()


@pytest.fixture(scope="module")
def nanfeng():
    return Gazetteer.from_sample(load_sample(SAMPLE_DIR))


def _one(g: Gazetteer, address: str) -> pd.Series:
    return geocode_addresses(pd.Series([address]), g).iloc[0]


def _cands(row: pd.Series) -> set[str]:
    return set(str(row["candidates"]).split("|"))


# --------------------------------------------------------------------------- no silent guesses


def test_same_stem_in_one_township_is_ambiguous(gaz):
    r = _one(gaz, "南丰县太和镇太和")
    assert (r["match_level"], r["town"], r["reason"]) == ("town", "太和镇", "ambiguous")
    assert pd.isna(r["village"])
    assert _cands(r) == {"太和村(太和镇)", "太和社区(太和镇)"}


def test_same_stem_with_group_number_is_the_village(gaz):
    # documented rule: numbered 村民小组 exist only in a 村
    r = _one(gaz, "太和镇太和12组")
    assert (r["match_level"], r["town"], r["village"], r["reason"]) == (
        "village",
        "太和镇",
        "太和村",
        "ok",
    )
    assert r["group_no"] == 12
    assert r["confidence"] < 0.9  # written without 村: never an exact reading


def test_same_stem_rows_with_and_without_group_in_one_call(gaz):
    s = pd.Series(
        ["太和镇太和12组", "太和镇太和", "太和镇太和3组5号", "太和镇下洋村"], index=[4, 3, 2, 1]
    )
    r = geocode_addresses(s, gaz)
    assert list(r.index) == [4, 3, 2, 1]
    assert list(r["village"].fillna("-")) == ["太和村", "-", "太和村", "下洋村"]
    assert list(r["reason"]) == ["ok", "ambiguous", "ok", "ok"]
    assert list(r["group_no"].fillna(0)) == [12, 0, 3, 0]


def test_look_alike_of_another_townships_village_is_town_level(gaz):
    r = _one(gaz, "南丰县莱溪乡杨梅村")
    assert (r["match_level"], r["town"], r["reason"]) == ("town", "莱溪乡", "village_in_other_town")
    assert pd.isna(r["village"])
    assert _cands(r) == {"杨梅村(琴城镇)", "杨梅坑村(莱溪乡)"}
    # the point is the township seat, not the look-alike village
    assert r["point_level"] == "town"
    assert (r["lon"], r["lat"]) == (116.2, 27.0)


def test_village_of_another_township_without_look_alike(gaz):
    r = _one(gaz, "南丰县太和镇九联村")
    assert (r["match_level"], r["town"], r["reason"]) == ("town", "太和镇", "village_in_other_town")
    assert r["candidates"] == "九联村(莱溪乡)"


def test_duplicate_name_without_township_is_ambiguous(gaz):
    r = _one(gaz, "南丰县罗坊村5组")
    assert (r["match_level"], r["reason"]) == ("county", "ambiguous")
    assert _cands(r) == {"罗坊村(白舍镇)", "罗坊村(紫霄镇)"}
    with_town = _one(gaz, "紫霄镇罗坊村5组")
    assert (with_town["town"], with_town["village"], with_town["reason"]) == (
        "紫霄镇",
        "罗坊村",
        "ok",
    )


def test_misspelling_matching_two_villages_equally_is_ambiguous(gaz):
    # 罗访村: one character off 罗坊村 (白舍镇) and 罗坊村 (紫霄镇), and off 罗芳村
    r = _one(gaz, "南丰县罗访村5组")
    assert (r["match_level"], r["reason"]) == ("county", "ambiguous")
    assert {"罗坊村(白舍镇)", "罗坊村(紫霄镇)"} <= _cands(r)
    assert pd.isna(r["village"])


def test_misspelling_matching_two_villages_of_the_township_is_ambiguous(gaz):
    # in 白舍镇, 罗访村 is one character off both 罗坊村 and 罗芳村 (same pinyin luo fang)
    r = _one(gaz, "白舍镇罗访村")
    assert (r["match_level"], r["town"], r["reason"]) == ("town", "白舍镇", "ambiguous")
    assert _cands(r) == {"罗坊村(白舍镇)", "罗芳村(白舍镇)"}


def test_street_shared_by_two_villages_is_ambiguous(gaz):
    r = _one(gaz, "南丰县解放路88号")
    assert (r["match_level"], r["reason"]) == ("county", "ambiguous")
    assert _cands(r) == {"解放路社区(琴城镇)", "解放路社区(白舍镇)"}
    # with the township written it is one community
    r = _one(gaz, "白舍镇解放路88号")
    assert (r["town"], r["village"], r["house_no"]) == ("白舍镇", "解放路社区", "88")


def test_same_name_twice_in_one_township_is_ambiguous(gaz):
    r = _one(gaz, "紫霄镇东村3组")
    assert (r["match_level"], r["town"], r["reason"]) == ("town", "紫霄镇", "ambiguous")
    assert r["candidates"] == "东村(紫霄镇)|东村(紫霄镇)"


# --------------------------------------------------------------------------- county seat


@pytest.mark.parametrize(
    ("address", "village", "house_no"),
    [
        ("南丰县城建设路25号", "建设路社区", "25"),
        ("县城解放路", "解放路社区", None),  # 解放路 of the seat, not of 白舍镇
        ("南丰县城区人民路3号", "人民路社区", "3"),
        ("城关水南村", "水南村", None),
        ("江西省抚州市南丰县城内建设路", "建设路社区", None),
    ],
)
def test_county_seat_words_mean_the_seat_township(gaz, address, village, house_no):
    r = _one(gaz, address)
    assert (r["match_level"], r["town"], r["village"]) == ("village", "琴城镇", village)
    assert r["house_no"] == house_no


@pytest.mark.parametrize("address", ["南丰县县城", "南丰县城关镇", "县城", "南丰县城关"])
def test_county_seat_alone_is_the_seat_township(gaz, address):
    r = _one(gaz, address)
    assert (r["match_level"], r["town"], r["reason"]) == ("town", "琴城镇", "no_village_name")
    assert (r["lon"], r["lat"]) == (116.0, 27.0)


def test_county_seat_given_and_disabled():
    assert _gaz().county_seat == "琴城镇"  # three communities, the most
    g = _gaz(county_seat="太和镇")
    r = _one(g, "南丰县城下洋村")
    assert (r["town"], r["village"]) == ("太和镇", "下洋村")
    assert _gaz(county_seat="").county_seat is None
    r = _one(_gaz(county_seat=""), "南丰县县城")
    assert (r["match_level"], r["reason"]) == ("county", "county_only")
    with pytest.raises(InputError, match="`county_seat` is '城东镇'"):
        _gaz(county_seat="城东镇")


def test_a_real_chengguan_town_is_read_as_written():
    towns, villages = _tables(
        ["城关镇", "城上乡"],
        [("城关镇", "东门社区"), ("城上乡", "城上村"), ("城上乡", "下村")],
    )
    g = Gazetteer(towns, villages, county="南丰县")
    assert g.county_seat == "城关镇"  # the name holds 城关
    r = _one(g, "南丰县城关镇东门社区")
    assert (r["town"], r["village"], r["reason"]) == ("城关镇", "东门社区", "ok")
    r = _one(g, "南丰县城上乡下村")  # 城 followed by a township: not the seat
    assert (r["town"], r["village"]) == ("城上乡", "下村")
    r = _one(g, "南丰县城上村")  # ... nor by a village
    assert (r["town"], r["village"]) == ("城上乡", "城上村")
    r = _one(g, "南丰县县城东门社区")
    assert (r["town"], r["village"]) == ("城关镇", "东门社区")


# --------------------------------------------------------------------------- normalisation


def test_traditional_characters_are_simplified(gaz):
    r = _one(gaz, "南豐縣琴城鎮水南村")
    assert (r["town"], r["village"], r["reason"]) == ("琴城镇", "水南村", "ok")
    p = parse_addresses(pd.Series(["江西省撫州市南豐縣三溪鄉三溪村5組12號"])).iloc[0]
    assert p["normalized"] == "江西省抚州市南丰县三溪乡三溪村5组12号"
    assert (p["town"], p["village"], p["group_no"], p["house_no"]) == ("三溪乡", "三溪村", 5, "12")


@pytest.mark.parametrize("address", ["南豐縣太和鎮乾村", "南丰县太和镇乾村", "太和鎮乾村3組"])
def test_gazetteer_names_survive_the_conversion(gaz, address):
    # OpenCC writes 乾 as 干; the gazetteer's 乾村 is put back
    r = _one(gaz, address)
    assert (r["town"], r["village"], r["reason"]) == ("太和镇", "乾村", "ok")


def test_full_width_forms(gaz):
    p = parse_addresses(pd.Series(["ＡＢＣ三溪乡，三溪村（老屋）５组１２－３号"])).iloc[0]
    assert p["normalized"] == "ABC三溪乡三溪村5组12-3号"
    assert (p["group_no"], p["house_no"]) == (5, "12-3")
    r = _one(gaz, "南丰县　太和镇：下洋村５组")
    assert (r["village"], r["group_no"]) == ("下洋村", 5)


@pytest.mark.parametrize(
    ("address", "village", "phone", "removed"),
    [
        ("13907941234白舍镇上店村", "上店村", "13907941234", "13907941234"),
        ("张三 13907941234 白舍镇上店村", "上店村", "13907941234", "13907941234|张三"),
        ("电话13907941234 莱溪乡九联村", "九联村", "13907941234", "13907941234|电话"),
        ("36252519800101123X莱溪乡九联村", "九联村", None, "36252519800101123X"),
        ("南丰县白舍镇13907941234上店村", "上店村", "13907941234", "13907941234"),
        ("南丰县白舍镇 张三 13907941234 上店村", "上店村", "13907941234", "13907941234|张三"),
        ("南丰县白舍镇上店村 李四 13907941234", "上店村", "13907941234", "13907941234|李四"),
        ("联系人：王五，南丰县白舍镇上店村", "上店村", None, "联系人:王五"),
        (
            "户主赵六 电话:0794-3221234 白舍镇上店村",
            "上店村",
            "0794-3221234",
            "0794-3221234|户主赵六|电话:",
        ),
        ("１３９０７９４１２３４莱溪乡九联村", "九联村", "13907941234", "13907941234"),
        ("莱溪乡九联村 tel:+86-13907941234", "九联村", "+86-13907941234", "+86-13907941234|tel:"),
    ],
)
def test_phones_ids_and_names_are_removed_and_kept(gaz, address, village, phone, removed):
    r = _one(gaz, address)
    assert (r["match_level"], r["village"], r["reason"]) == ("village", village, "ok")
    assert r["phone_in_address"] == phone
    assert r["removed"] == removed


def test_places_beside_a_phone_are_not_names(gaz):
    # 杨梅村 starts with a surname (杨) but ends in 村: it stays
    r = _one(gaz, "琴城镇 杨梅村 13907941234")
    assert (r["village"], r["removed"]) == ("杨梅村", "13907941234")
    # a house number is no phone number
    r = _one(gaz, "白舍镇上店村125号")
    assert (r["house_no"], r["phone_in_address"], r["removed"]) == ("125", None, None)


def test_an_address_that_is_only_a_phone_number(gaz):
    r = geocode_addresses(pd.Series(["13800138000", " ", None]), gaz)
    assert list(r["reason"]) == ["no_admin_name", "empty_address", "empty_address"]
    assert r["phone_in_address"].iloc[0] == "13800138000"


@pytest.mark.parametrize(
    ("address", "house", "building", "unit", "room"),
    [
        ("白舍镇上店村12-3号", "12-3", None, None, None),
        ("琴城镇建设路社区18弄3号", "18弄3", None, None, None),
        ("琴城镇建设路社区5栋2单元301室", None, "5", "2", "301"),
        ("琴城镇建设路社区3号楼二单元502室", None, "3", "2", "502"),
        ("琴城镇建设路社区12号5幢1单元", "12", "5", "1", None),
        ("白舍镇上店村3组12A号", "12A", None, None, None),
    ],
)
def test_house_numbers(gaz, address, house, building, unit, room):
    for r in (_one(gaz, address), parse_addresses(pd.Series([address])).iloc[0]):
        assert (r["house_no"], r["building_no"], r["unit_no"], r["room_no"]) == (
            house,
            building,
            unit,
            room,
        )
    assert _one(gaz, address)["reason"] == "ok"


def test_results_are_per_row_and_keep_the_index(gaz):
    s = pd.Series(
        ["南豐縣琴城鎮水南村", "13907941234白舍镇上店村", "南豐縣琴城鎮水南村"], index=[7, 3, 9]
    )
    r = geocode_addresses(s, gaz)
    assert list(r.index) == [7, 3, 9]
    assert list(r["village"]) == ["水南村", "上店村", "水南村"]
    assert list(r["phone_in_address"].fillna("-")) == ["-", "13907941234", "-"]


# --------------------------------------------------------------------------- the issue's examples


@pytest.mark.parametrize(
    ("address", "level", "town", "village", "reason"),
    [
        # point 3
        ("南豐縣琴城鎮水南村", "village", "琴城镇", "水南村", "ok"),
        ("江西省撫州市南豐縣三溪鄉三溪村5組12號", "village", "三溪乡", "三溪村", "ok"),
        # point 4
        ("13907941234南丰县洽湾镇上店村", "village", "洽湾镇", "上店村", "ok"),
        ("张三 13907941234 南丰县东坪乡王田村", "village", "东坪乡", "王田村", "ok"),
        ("电话13907941234 南丰县三溪乡三溪村", "village", "三溪乡", "三溪村", "ok"),
        ("36252519800101123X南丰县莱溪乡九联村", "village", "莱溪乡", "九联村", "ok"),
        ("南丰县洽湾镇13907941234上店村", "village", "洽湾镇", "上店村", "ok"),
        # point 5
        ("南丰县城建设路25号", "village", "琴城镇", "建设路社区", "ok"),
        ("南丰县县城", "town", "琴城镇", None, "no_village_name"),
        ("县城解放路", "village", "琴城镇", "解放路社区", "ok"),
        ("南丰县城关镇", "town", "琴城镇", None, "no_village_name"),
        # point 6
        ("太和镇太和12组", "village", "太和镇", "太和村", "ok"),
        ("太和镇太和", "town", "太和镇", None, "ambiguous"),
        ("南丰县莱溪乡杨梅村", "town", "莱溪乡", None, "village_in_other_town"),
        ("南丰县罗访村5组", "county", None, None, "ambiguous"),
        # point 7
        ("三溪乡三溪村12-3号", "village", "三溪乡", "三溪村", "ok"),
        ("琴城镇解放路社区5栋2单元301室", "village", "琴城镇", "解放路社区", "ok"),
    ],
)
def test_issue_examples_on_nanfeng(nanfeng, address, level, town, village, reason):
    r = _one(nanfeng, address)
    got = (r["match_level"], r["town"], r["village"], r["reason"])
    assert got == (level, town, village, reason), r.to_dict()


def test_issue_candidates_on_nanfeng(nanfeng):
    assert nanfeng.county_seat == "琴城镇"
    assert _cands(_one(nanfeng, "南丰县莱溪乡杨梅村")) == {"杨梅村(琴城镇)", "杨梅坑村(莱溪乡)"}
    assert _cands(_one(nanfeng, "南丰县罗访村5组")) == {"罗坊村(白舍镇)", "罗坊村(紫霄镇)"}
    assert _cands(_one(nanfeng, "太和镇太和")) == {"太和村(太和镇)", "太和社区(太和镇)"}
    r = _one(nanfeng, "三溪乡三溪村12-3号")
    assert r["house_no"] == "12-3"
    r = _one(nanfeng, "琴城镇解放路社区5栋2单元301室")
    assert (r["building_no"], r["unit_no"], r["room_no"]) == ("5", "2", "301")


# --------------------------------------------------------------------------- labelled variants


@pytest.fixture(scope="module")
def labelled():
    table = pd.read_csv(GAZETTEER_CSV, dtype=str)
    return make_labelled_addresses(table, np.random.default_rng(LABELLED_SEED), n=LABELLED_N)


def _variant_ok(d: pd.DataFrame, r: pd.DataFrame) -> pd.Series:
    """Whether each row got what its label asks (as tests/test_geocode.py reads labels)."""
    st = d["expected_status"]
    same = (r["town"] == d["expected_town"]) & (r["village"] == d["expected_village"])
    ok = pd.Series(False, index=d.index)
    ok[st == "village"] = (r["match_level"] == "village") & same
    ok[st == "town"] = r["match_level"].isin(["town", "village"]) & (
        r["town"] == d["expected_town"]
    )
    ok[st == "ambiguous"] = r["reason"] == "ambiguous"
    ok[st == "other_county"] = r["reason"] == "other_county"
    ok[st == "garbage"] = r["match_level"] == "none"
    return ok


def _traditional(s: pd.Series) -> pd.Series:
    s2t = opencc.OpenCC("s2t")
    return s.fillna("").map(s2t.convert)


def _phone_front(s: pd.Series) -> pd.Series:
    return "13907941234" + s.fillna("")


def _name_phone_front(s: pd.Series) -> pd.Series:
    return "张三 13907941234 " + s.fillna("")


def _id_front(s: pd.Series) -> pd.Series:
    return "36252519800101123X" + s.fillna("")


def _label_phone_end(s: pd.Series) -> pd.Series:
    return s.fillna("") + " 联系电话:0794-3221234"


def _house_forms(s: pd.Series) -> pd.Series:
    forms = np.array(["12-3号", "18弄3号", "5栋2单元301室"], dtype=object)
    return s.fillna("") + forms[np.arange(len(s)) % 3]


@pytest.mark.parametrize(
    "transform",
    [_traditional, _phone_front, _name_phone_front, _id_front, _label_phone_end, _house_forms],
)
def test_labelled_variants(nanfeng, labelled, transform):
    # garbage rows may legitimately become a phone-only address; the rest keep their label
    d = labelled[labelled["expected_status"] != "garbage"].reset_index(drop=True)
    r = geocode_addresses(transform(d["address"]), nanfeng)
    ok = _variant_ok(d, r)
    village = d["expected_status"] == "village"
    assert float(ok[village].mean()) >= 0.98, d.loc[village & ~ok, "address"].head(10).tolist()
    assert ok[d["expected_status"] == "ambiguous"].all()
    wrong = (r["match_level"] == "village") & (
        (r["village"] != d["expected_village"]) | (r["town"] != d["expected_town"])
    )
    assert not (wrong & (r["confidence"] >= 0.9)).any()


def test_labelled_county_seat_variant(nanfeng, labelled):
    # every 琴城镇 address with the county written, the township written 县城 instead
    d = labelled[
        (labelled["expected_status"] == "village")
        & (labelled["expected_town"] == "琴城镇")
        & labelled["address"].fillna("").str.contains("南丰县琴城镇", regex=False)
    ].reset_index(drop=True)
    assert len(d) >= 20
    seat = d["address"].str.replace("南丰县琴城镇", "南丰县城", regex=False)
    r = geocode_addresses(seat, nanfeng)
    assert (r["town"] == "琴城镇").all()
    assert float((r["village"] == d["expected_village"]).mean()) >= 0.98


def test_city_urban_area_is_not_the_county_seat(gaz):
    # 抚州市城区 is the city's urban district, not 南丰县's seat
    r = _one(gaz, "江西省抚州市城区建设路")
    assert r["town"] is None or pd.isna(r["town"])
    r = _one(gaz, "江西省抚州市南丰县城区建设路")
    assert (r["town"], r["village"]) == ("琴城镇", "建设路社区")


def test_label_words_inside_places_are_kept(gaz):
    # no phone number follows 电话 here, and 客户服务中心 is no name
    r = _one(gaz, "白舍镇上店村电话亭旁 客户服务中心")
    assert (r["village"], r["removed"]) == ("上店村", None)
