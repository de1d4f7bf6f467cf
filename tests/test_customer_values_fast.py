"""The vectorised customer-value normalisation (gridgeo.io) on every form, values by hand.

:func:`gridgeo.io.normalise_customer_values` and the ids of :func:`read_customer_file` work
per distinct value with fast paths for the usual forms (a plain mobile number, decimal
coordinates, cells with nothing to strip); each case below mixes a usual form with the
forms that must leave the fast path, in the same column, so a fast path that answered for
the others would fail here. Expected values are written out by hand.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridgeo.errors import InputError
from gridgeo.io import normalise_customer_values, read_customer_file

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _table(**columns: list[object]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"customer_id": [f"36102300000{i:02d}" for i in range(n)], "address": ["x"] * n}
    return pd.DataFrame({**base, **columns})


def test_phones_usual_and_unusual_forms_in_one_column():
    phones = [
        "13907941234",  # plain mobile (fast path)
        "１３９０７９４１２３４",  # full-width: NFKC first
        " 13907941234 ",  # spaces around
        "+86 139 0794 1234",
        "07943221234",  # landline without dash
        "0794-3221234, 13907941234",
        "12907941234",  # 11 digits, not a mobile (12x)
        "1390794123",  # 10 digits
        "13907941234.0",  # an Excel number read as text
        "",
        "13907941234",  # repeated: the same answer
    ]
    out, problems = normalise_customer_values(_table(phone=phones))
    assert out["phone"].tolist() == [
        "13907941234",
        "13907941234",
        "13907941234",
        "13907941234",
        "0794-3221234",
        "0794-3221234/13907941234",
        "",
        "",
        "13907941234",
        "",
        "13907941234",
    ]
    bad = problems.loc[problems["field"] == "phone", "value"].tolist()
    assert bad == ["12907941234", "1390794123"]


def test_coordinates_decimal_and_written_forms():
    lon = ["116.5", "１１６．５", "116.5°", " 116.25 ", "inf", "abc", "", "1e2", "116.5"]
    lat = ["27.1", "27.1", "27.1", "27.0", "27.1", "27.1", "27.1", "27.1", ""]
    out, problems = normalise_customer_values(
        _table(gps_lon=lon, gps_lat=lat, gps_datum=["gps"] * len(lon))
    )
    got = out["gps_lon"].tolist()
    want = [116.5, 116.5, 116.5, 116.25, None, None, None, 100.0, 116.5]
    for g, w in zip(got, want, strict=True):
        assert (math.isnan(g) and w is None) or g == w
    fields = problems.set_index("customer_id")["field"]
    assert fields[_table(a=lon)["customer_id"][4]] == "gps_lon"  # inf is no coordinate
    assert fields[_table(a=lon)["customer_id"][5]] == "gps_lon"
    # only one of the pair given (rows 6 and 8): reported
    pair = problems[problems["field"] == "gps_lon/gps_lat"]
    assert pair["customer_id"].tolist() == [_table(a=lon)["customer_id"][i] for i in (6, 8)]


def test_coordinates_all_plain_take_the_fast_path_and_equal_float():
    rng = np.random.default_rng(1)
    values = rng.uniform(116.0, 117.0, 500)
    texts = [repr(float(v)) for v in values]
    out, problems = normalise_customer_values(
        _table(gps_lon=texts, gps_lat=["27.1"] * 500, gps_datum=["wgs84"] * 500)
    )
    assert out["gps_lon"].tolist() == [float(t) for t in texts]  # bit for bit
    assert problems.empty


def test_text_columns_missing_values_and_non_text():
    table = pd.DataFrame(
        {
            "customer_id": ["  " + "3610230000001".translate(FULL_WIDTH) + " ", "3610230000002"],
            "name": [" 张三 ", None],
            "address": ["南丰县琴城镇\u3000", np.nan],
            "category": [" 居民 生活 ", 7],
            "voltage_class": ["10kV", None],
            "vulnerable": ["否", "低保户"],
        }
    )
    out, problems = normalise_customer_values(table)
    assert out["customer_id"].tolist() == ["3610230000001", "3610230000002"]
    assert out["name"].tolist() == ["张三", ""]
    assert out["address"].tolist() == ["南丰县琴城镇", ""]
    assert out["category"].tolist() == ["residential", "7"]
    assert out["voltage_class"].tolist() == ["HV", "LV"]
    assert out["vulnerable"].tolist() == [False, True]
    assert problems["field"].tolist() == ["category"]


def test_ids_read_from_a_file_excel_forms(tmp_path: Path):
    path = tmp_path / "c.csv"
    path.write_text(
        "户号,地址\n3610230000001.0,a\n"
        + "03610230000002".translate(FULL_WIDTH)
        + ",b\n 3610230000003 ,c\nA-1.5,d\n",
        encoding="utf-8",
    )
    table = read_customer_file(path)
    assert table["customer_id"].tolist() == [
        "3610230000001",
        "03610230000002",
        "3610230000003",
        "A-1.5",
    ]
    path.write_text("户号,地址\n3.61023E+12,a\n3610230000002,b\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"科学计数法.*3\.61023E\+12.*file lines \[2\]"):
        read_customer_file(path)
