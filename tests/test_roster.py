"""The grid roster: import, validation, filling the grids."""

from __future__ import annotations

import pandas as pd
import pytest

from gridgeo.errors import DuplicateIdError, InputError, MissingColumnError
from gridgeo.roster import (
    ROSTER_COLUMNS,
    apply_roster,
    generate_roster,
    read_roster,
    validate_roster,
)

GRID_IDS = ["T1-361023", "T2-S1", "T3-S1-01", "T3-S1-02"]

GOOD_CSV = """grid_id,manager,manager_phone,members,liaison,liaison_phone
T2-S1,王建国,138 0000 1234,李华，张明,曾红,0794-7123456
T3-S1-01,刘秀英,13900001111,赵平、周芳 / 吴强,,
T3-S1-02,黄春生,(0794)7654321,饶兰,谢金,13700002222
"""


def write(tmp_path, text, name="roster.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_read_roster_normalises_members_and_phones(tmp_path):
    roster = read_roster(write(tmp_path, GOOD_CSV), GRID_IDS)
    assert list(roster["grid_id"]) == ["T2-S1", "T3-S1-01", "T3-S1-02"]
    assert list(roster["members"]) == ["李华、张明", "赵平、周芳、吴强", "饶兰"]
    assert list(roster["manager_phone"]) == ["13800001234", "13900001111", "07947654321"]
    assert list(roster["liaison_phone"]) == ["0794-7123456", "", "13700002222"]


def test_read_roster_from_gbk_csv_and_xlsx(tmp_path):
    gbk = read_roster(write(tmp_path, GOOD_CSV, encoding="gbk"), GRID_IDS)
    assert gbk.loc[0, "manager"] == "王建国"
    # Excel stores phone numbers as numbers; they must come back as the same digits
    frame = pd.read_csv(write(tmp_path, GOOD_CSV, name="x.csv"), dtype=str)
    frame["manager_phone"] = [13800001234, 13900001111, 13900002222]
    xlsx = tmp_path / "roster.xlsx"
    frame.to_excel(xlsx, index=False)
    roster = read_roster(xlsx, GRID_IDS)
    assert list(roster["manager_phone"]) == ["13800001234", "13900001111", "13900002222"]


def test_unknown_grid_id_is_refused_with_the_line(tmp_path):
    text = GOOD_CSV.replace("T3-S1-02,", "T3-S9-07,")
    with pytest.raises(InputError, match=r"unknown `grid_id`.*'T3-S9-07'.*file line\(s\) \[4\]"):
        read_roster(write(tmp_path, text), GRID_IDS)


def test_duplicate_manager_is_refused(tmp_path):
    text = GOOD_CSV.replace("黄春生", "王建国")
    with pytest.raises(DuplicateIdError, match=r"same `manager`.*'王建国'.*\[2, 4\]"):
        read_roster(write(tmp_path, text), GRID_IDS)


def test_duplicate_grid_is_refused(tmp_path):
    text = GOOD_CSV + "T2-S1,陈勇,13800009999,,,\n"
    with pytest.raises(DuplicateIdError, match=r"`grid_id` repeats value\(s\) \['T2-S1'\]"):
        read_roster(write(tmp_path, text), GRID_IDS)


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        ("138 0000 1234", "12345", r"`manager_phone` has malformed.*'12345'"),
        ("13700002222", "phone?", r"`liaison_phone` has malformed.*'phone\?'"),
        ("王建国", "", r"no `manager` \(网格长\) for grid\(s\) \['T2-S1'\]"),
        ("138 0000 1234", "", r"no `manager_phone` for grid\(s\) \['T2-S1'\]"),
    ],
)
def test_bad_values_are_refused(tmp_path, old, new, pattern):
    with pytest.raises(InputError, match=pattern):
        read_roster(write(tmp_path, GOOD_CSV.replace(old, new, 1)), GRID_IDS)


def test_missing_column_is_named(tmp_path):
    text = GOOD_CSV.replace("liaison_phone", "phone2")
    with pytest.raises(MissingColumnError, match=r"\['liaison_phone'\]"):
        read_roster(write(tmp_path, text), GRID_IDS)
    with pytest.raises(MissingColumnError, match="roster lacks column"):
        validate_roster(pd.DataFrame({"grid_id": ["T2-S1"]}), GRID_IDS)


def test_apply_roster_fills_the_grid_columns_and_counts_the_uncovered(tmp_path):
    grids = pd.DataFrame({"grid_id": GRID_IDS, "tier": [1, 2, 3, 3]})
    roster = read_roster(write(tmp_path, GOOD_CSV), GRID_IDS)
    with pytest.warns(UserWarning, match=r"1 grid\(s\) have no roster row.*'T1-361023'"):
        filled = apply_roster(grids, roster)
    assert list(filled["manager"]) == ["", "王建国", "刘秀英", "黄春生"]
    assert list(filled["phone"]) == ["", "13800001234", "13900001111", "07947654321"]
    assert "manager" not in grids.columns  # input untouched


def test_generated_roster_is_valid_deterministic_and_unique():
    grids = pd.DataFrame({"grid_id": [f"T3-S{i // 10}-{i % 10:02d}" for i in range(400)]})
    a = generate_roster(grids, seed=7)
    b = generate_roster(grids, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == list(ROSTER_COLUMNS)
    assert a["manager"].is_unique
    assert (a["members"].str.count("、") == 1).all()
    validated = validate_roster(a, grids["grid_id"])  # passes every rule
    assert len(validated) == 400
    assert not generate_roster(grids, seed=8)["manager"].equals(a["manager"])
