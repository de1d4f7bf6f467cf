"""Customer files as the marketing system (营销系统) and 95598 export them.

Every file is made here by hand (CSV in UTF-8 and GBK, XLSX with openpyxl) and every
expected record is written out by hand.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from gridgeo import archive, io, sample, workspace
from gridgeo.cli import main
from gridgeo.errors import (
    CRSError,
    DuplicateIdError,
    EmptyDataError,
    InputError,
    MissingColumnError,
    NotFoundError,
)
from gridgeo.store import GeoPackageStore

FIELDS = ["customer_id", "name", "address", "phone", "category", "voltage_class", "vulnerable"]


def fullwidth(text: str) -> str:
    """Digits and the point as a Chinese input method types them (１１６．５)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() or c == "." else c for c in text)


def records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    return frame[columns].to_dict("records")


# --------------------------------------------------------------------------- #
# phones


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("13907941234", "13907941234"),
        ("139 0794 1234", "13907941234"),
        ("+86 139-0794-1234", "13907941234"),
        ("008613907941234", "13907941234"),
        ("１３９０７９４１２３４", "13907941234"),  # full-width digits
        ("13907941234.0", "13907941234"),  # an Excel number read as text
        ("0794-3221234", "0794-3221234"),
        ("07943221234", "0794-3221234"),
        ("(0794)3221234", "0794-3221234"),
        ("010-12345678", "010-12345678"),
        ("3221234", "3221234"),  # local number, no area code
        ("13907941234/0794-3221234", "13907941234/0794-3221234"),
        ("13907941234，13807941234", "13907941234/13807941234"),
        ("", ""),
        ("12345", None),
        ("12907941234", None),  # no mobile network starts 12
        ("139****1234", None),  # masked
        ("1390794123", None),  # 10 digits
        ("无", None),
    ],
)
def test_phone_numbers_by_hand(given, expected):
    assert io.normalise_phone(given) == expected


# --------------------------------------------------------------------------- #
# reading: CSV with title rows, GBK, Chinese headers


MARKETING_CSV = [
    "南丰县供电公司客户资料,,,,,,,,,",
    "导出日期：2026-11-30,,,,,,,,,",
    "户号,户名,用电地址,手机号码,用电类别,电压等级,经度,纬度,坐标系,重点关怀",
    "3610230000001,张三,南丰县三溪乡三溪村5组12号,+86 139-0794-1234,居民,220V,,,,",
    "0012345,李四,南丰县琴城镇人民路114号,0794-3221234,非居民,380V,116.53,27.21,高德,否",
    "3610230000003,南丰蜜桔冷库,南丰县市山镇,12345,大工业,10kV,１１６．５２,２７．２０,GPS,",
    "3610230000004,王五,南丰县洽湾镇,,农业排灌,0.4kV,116.5x,27.2,,低保户",
    ",,,,,,,,,",
    "3610230000005,赵六,南丰县太和镇,13807941234,路灯,1kV,116.5,,wgs84,是",
]


def write_csv(path: Path, lines: list[str], encoding: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_marketing_csv_with_title_rows_reads_with_no_options(tmp_path, encoding):
    path = write_csv(tmp_path / "客户资料.csv", MARKETING_CSV, encoding)
    table = io.read_customer_file(path)
    assert table.attrs["header_row"] == {"": 3}
    assert table.attrs["source_columns"]["customer_id"] == "户号"
    assert table.attrs["source_columns"]["phone"] == "手机号码"
    # line 8 is the empty row; every other data line is a customer, ids as text
    assert list(table["file_line"]) == [4, 5, 6, 7, 9]
    assert list(table["customer_id"]) == [
        "3610230000001",
        "0012345",
        "3610230000003",
        "3610230000004",
        "3610230000005",
    ]

    values, problems = io.normalise_customer_values(table)
    assert records(values, FIELDS) == [
        {
            "customer_id": "3610230000001",
            "name": "张三",
            "address": "南丰县三溪乡三溪村5组12号",
            "phone": "13907941234",
            "category": "residential",
            "voltage_class": "LV",
            "vulnerable": False,
        },
        {
            "customer_id": "0012345",
            "name": "李四",
            "address": "南丰县琴城镇人民路114号",
            "phone": "0794-3221234",
            "category": "commercial",
            "voltage_class": "LV",
            "vulnerable": False,
        },
        {
            "customer_id": "3610230000003",
            "name": "南丰蜜桔冷库",
            "address": "南丰县市山镇",
            "phone": "",
            "category": "industrial",
            "voltage_class": "HV",
            "vulnerable": False,
        },
        {
            "customer_id": "3610230000004",
            "name": "王五",
            "address": "南丰县洽湾镇",
            "phone": "",
            "category": "agricultural",
            "voltage_class": "LV",
            "vulnerable": True,  # 低保户 in the 重点关怀 column
        },
        {
            "customer_id": "3610230000005",
            "name": "赵六",
            "address": "南丰县太和镇",
            "phone": "13807941234",
            "category": "路灯",  # unknown: kept as written, reported
            "voltage_class": "HV",
            "vulnerable": True,
        },
    ]
    np.testing.assert_array_equal(values["gps_lon"], [np.nan, 116.53, 116.52, np.nan, 116.5])
    np.testing.assert_array_equal(values["gps_lat"], [np.nan, 27.21, 27.20, 27.2, np.nan])
    assert list(values["gps_datum"]) == ["", "gcj02", "wgs84", "", "wgs84"]
    assert records(problems, ["file_line", "customer_id", "field", "value"]) == [
        {"file_line": 6, "customer_id": "3610230000003", "field": "phone", "value": "12345"},
        {"file_line": 7, "customer_id": "3610230000004", "field": "gps_lon", "value": "116.5x"},
        {"file_line": 9, "customer_id": "3610230000005", "field": "category", "value": "路灯"},
        {
            "file_line": 9,
            "customer_id": "3610230000005",
            "field": "gps_lon/gps_lat",
            "value": "116.5",
        },
    ]


def test_english_headers_and_columns_override(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        ["cust_id,customer_name,Address,Mobile,LNG,Latitude", "A1,X,南丰县,13907941234,116.5,27.2"],
        "utf-8",
    )
    table = io.read_customer_file(path)
    assert records(table, ["customer_id", "name", "address", "phone", "gps_lon", "gps_lat"]) == [
        {
            "customer_id": "A1",
            "name": "X",
            "address": "南丰县",
            "phone": "13907941234",
            "gps_lon": "116.5",
            "gps_lat": "27.2",
        }
    ]

    own = write_csv(tmp_path / "own.csv", ["编号,住址,备注", "007,南丰县,x"], "utf-8")
    with pytest.raises(MissingColumnError, match=r"lacks column\(s\) \['customer_id', 'address'\]"):
        io.read_customer_file(own)
    with pytest.raises(MissingColumnError, match=r"--columns customer_id=<name>,address=<name>"):
        io.read_customer_file(own, option_names={"columns": "--columns "})
    for columns in (
        {"编号": "customer_id", "住址": "address"},
        {"customer_id": "编号", "address": "住址"},
    ):
        table = io.read_customer_file(own, columns=columns)
        assert records(table, ["customer_id", "address"]) == [
            {"customer_id": "007", "address": "南丰县"}
        ]
        assert table.attrs["ignored_columns"] == ["备注"]
    with pytest.raises(InputError, match="neither side is a customer field"):
        io.read_customer_file(own, columns={"编号": "户主"})


def test_header_row_option_and_two_address_columns(tmp_path):
    # a header that names neither field by an accepted name, on row 2: --header-row 2 with
    # --columns
    path = write_csv(tmp_path / "c.csv", ["客户清单", "编号,住址", "9,南丰县"], "utf-8")
    table = io.read_customer_file(
        path, header_row=2, columns={"编号": "customer_id", "住址": "address"}
    )
    assert list(table["customer_id"]) == ["9"] and list(table["file_line"]) == [3]
    with pytest.raises(MissingColumnError, match=r"--header-row N"):
        io.read_customer_file(path, header_row=1, option_names={"header_row": "--header-row"})
    both = write_csv(tmp_path / "two.csv", ["户号,地址,用电地址", "1,a,b"], "utf-8")
    with pytest.raises(MissingColumnError, match=r"several columns may be `address`"):
        io.read_customer_file(both)
    # two phone columns are not a conflict: every number is kept, 手机号码 first
    phones = write_csv(
        tmp_path / "p.csv",
        [
            "户号,地址,联系电话,手机号码",
            "1,a,3221234,13907941234",
            "2,a,12345,13907941234",
            "3,a,12345,",
            "4,a,13907941234,13907941234",
        ],
        "utf-8",
    )
    table = io.read_customer_file(phones)
    assert table.attrs["source_columns"]["phone"] == "手机号码/联系电话"
    assert table.attrs["ignored_columns"] == []
    values, problems = io.normalise_customer_values(table)
    assert list(values["phone"]) == ["13907941234/3221234", "13907941234", "", "13907941234"]
    assert records(problems, ["file_line", "value", "problem"]) == [
        {
            "file_line": 3,
            "value": "13907941234/12345",
            "problem": "部分电话号码无效，只保存有效的 / some numbers are not mobile or landline "
            "numbers, only the valid ones stored",
        },
        {
            "file_line": 4,
            "value": "12345",
            "problem": "电话号码无效，未保存 / not a mainland mobile or landline number, "
            "stored empty",
        },
    ]


def test_ids_in_scientific_notation_are_refused_by_file_line(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        ["户号,地址", "3610230000001.0,南丰县", "3.61023E+12,南丰县", "0007,南丰县"],
        "utf-8",
    )
    with pytest.raises(InputError, match=r"3\.61023E\+12.*file lines \[3\].*文本"):
        io.read_customer_file(path)
    path.write_text("户号,地址\n3610230000001.0,南丰县\n0007,南丰县\n", encoding="utf-8")
    assert list(io.read_customer_file(path)["customer_id"]) == ["3610230000001", "0007"]
    path.write_text("户号,地址\n１２,南丰县\n12,南丰县\n", encoding="utf-8")
    with pytest.raises(DuplicateIdError, match=r"'12'.*file lines \[2, 3\]"):
        io.read_customer_file(path)


def test_bad_datum_is_reported_by_file_line(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        [
            "标题",
            "户号,地址,经度,纬度,坐标系",
            "1,南丰县,116.5,27.2,gcj02",
            "2,南丰县,116.5,27.2,火星2",
        ],
        "utf-8",
    )
    table = io.read_customer_file(path)
    with pytest.raises(CRSError, match=r"'火星2'.*file lines \[4\].*gcj02 \(高德"):
        io.normalise_customer_values(table, path=path)


# --------------------------------------------------------------------------- #
# reading: XLSX with a title row, a merged two-row header, data on sheet 2


def marketing_workbook(path: Path) -> Path:
    """Sheet 1: notes; sheet 2: title row, group row over the header, the customers."""
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "说明"
    notes["A1"] = "本表由营销系统导出"
    notes["A2"] = "导出人：王"
    ws = book.create_sheet("客户资料")
    ws["A1"] = "南丰县供电公司客户资料"
    ws.merge_cells("A1:G1")
    ws["A2"] = "客户信息"
    ws.merge_cells("A2:C2")
    ws["D2"] = "联系方式"
    ws.merge_cells("D2:D2")
    ws["E2"] = "位置"
    ws.merge_cells("E2:G2")
    ws.append(["户号", "户名", "用电地址", "联系电话", "经度", "纬度", "坐标系"])
    ws.append([3610230000001, "张三", "南丰县三溪乡三溪村5组12号", 13907941234, None, None, None])
    ws.append(
        [3610230000002.0, "李四", "南丰县琴城镇", "0794 3221234", "１１６．５", "２７．２", "高德"]
    )
    ws.append(["0036", "王五", "南丰县洽湾镇", "139", 116.5, 27.2, "百度"])
    book.save(path)
    return path


def test_xlsx_title_group_header_and_data_on_sheet_2(tmp_path):
    path = marketing_workbook(tmp_path / "客户资料.xlsx")
    table = io.read_customer_file(path)
    assert table.attrs["header_row"] == {"客户资料": 3}
    assert table.attrs["skipped_sheets"] == ["说明"]
    assert records(table, ["customer_id", "phone", "file_line", "sheet"]) == [
        {
            "customer_id": "3610230000001",
            "phone": "13907941234",
            "file_line": 4,
            "sheet": "客户资料",
        },
        {
            "customer_id": "3610230000002",
            "phone": "0794 3221234",
            "file_line": 5,
            "sheet": "客户资料",
        },
        {"customer_id": "0036", "phone": "139", "file_line": 6, "sheet": "客户资料"},
    ]
    values, problems = io.normalise_customer_values(table)
    assert list(values["phone"]) == ["13907941234", "0794-3221234", ""]
    np.testing.assert_array_equal(values["gps_lon"], [np.nan, 116.5, 116.5])
    np.testing.assert_array_equal(values["gps_lat"], [np.nan, 27.2, 27.2])
    assert list(values["gps_datum"]) == ["", "gcj02", "bd09"]
    assert records(problems, ["file_line", "field", "value"]) == [
        {"file_line": 6, "field": "phone", "value": "139"}
    ]
    # the notes sheet asked for by name has no header; an empty sheet names the one with data
    with pytest.raises(MissingColumnError, match=r"sheet '说明' lacks column\(s\)"):
        io.read_customer_file(path, sheet="说明")
    with pytest.raises(
        NotFoundError, match=r"no sheet 'Sheet9'; sheets there: \['说明', '客户资料'\]"
    ):
        io.read_customer_file(path, sheet="Sheet9")
    book = openpyxl.load_workbook(path)
    book["说明"].append(["户号", "地址"])  # a header and no rows on sheet 1
    book.save(path)
    with pytest.raises(EmptyDataError, match=r"sheet '说明' has a header but no data rows: the "
                       r"customers are on sheet '客户资料'"):  # fmt: skip
        io.read_customer_file(path, sheet="说明")
    assert len(io.read_customer_file(path)) == 3  # with no option, the sheet with the data


def test_xlsx_vertically_merged_header_cells_are_joined(tmp_path):
    # 户号/户名/地址 merged over two rows, 联系方式 over 手机号码 and 固定电话
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["户号", "户名", "地址", "联系方式", None])
    ws.append([None, None, None, "手机号码", "固定电话"])
    for col in "ABC":
        ws.merge_cells(f"{col}1:{col}2")
    ws.merge_cells("D1:E1")
    ws.append(["A1", "张三", "南丰县", "13907941234", "0794-3221234"])
    path = tmp_path / "two_rows.xlsx"
    book.save(path)
    table = io.read_customer_file(path)
    assert table.attrs["header_row"] == {"Sheet": 2}
    assert records(table, ["customer_id", "name", "address", "phone", "file_line"]) == [
        {"customer_id": "A1", "name": "张三", "address": "南丰县",
         "phone": "13907941234/0794-3221234", "file_line": 3}
    ]  # fmt: skip
    assert table.attrs["ignored_columns"] == []


def test_two_sheets_of_customers_need_all_sheets(tmp_path):
    book = openpyxl.Workbook()
    first = book.active
    first.title = "居民"
    first.append(["户号", "地址"])
    first.append(["1", "南丰县"])
    second = book.create_sheet("非居民")
    second.append(["客户资料（非居民）"])
    second.append(["户号", "地址"])
    second.append(["2", "南丰县"])
    path = tmp_path / "two.xlsx"
    book.save(path)
    with pytest.raises(
        InputError, match=r"\['居民', '非居民'\] all hold customer rows.*--all-sheets"
    ):
        io.read_customer_file(path, option_names={"all_sheets": "--all-sheets", "sheet": "--sheet"})
    table = io.read_customer_file(path, all_sheets=True)
    assert records(table, ["customer_id", "sheet", "file_line"]) == [
        {"customer_id": "1", "sheet": "居民", "file_line": 2},
        {"customer_id": "2", "sheet": "非居民", "file_line": 3},
    ]
    assert list(io.read_customer_file(path, sheet="非居民")["customer_id"]) == ["2"]
    assert list(io.read_customer_file(path, sheet=1)["customer_id"]) == ["2"]


# --------------------------------------------------------------------------- #
# importing: stored values, no version for an unchanged file, the CLI


@pytest.fixture(scope="module")
def county():
    return sample.load_sample()


@pytest.fixture(scope="module")
def empty_workspace(tmp_path_factory, county):
    layers = {n: getattr(county, n) for n in workspace.WORKSPACE_KEYS if n != "grids"}
    path = tmp_path_factory.mktemp("ws") / "ws.gpkg"
    workspace.create_workspace(path, layers, author="t", reason="t")
    return path


@pytest.fixture
def ws(tmp_path, empty_workspace):
    path = tmp_path / "ws.gpkg"
    shutil.copy(empty_workspace, path)
    return path


def customer_versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as con:
        rows = con.execute(
            "SELECT version FROM gridgeo_versions WHERE layer = 'customers' ORDER BY version"
        ).fetchall()
    return [int(v) for (v,) in rows]


def village_point(county, village: str) -> tuple[float, float]:
    row = county.villages[county.villages["village"] == village].iloc[0]
    return round(float(row.geometry.x), 5), round(float(row.geometry.y), 5)


def import_file(store_path: Path, path: Path, county, **kwargs):
    store = GeoPackageStore.open(store_path)
    gazetteer = workspace.read_gazetteer(store)
    report = archive.import_customers(
        store, path, gazetteer, author="营销 王", reason="导入", county_area=county.county, **kwargs
    )
    return store, report


def test_import_stores_phones_and_fullwidth_gps_and_reimport_writes_nothing(tmp_path, ws, county):
    lon, lat = village_point(county, "三溪村")
    lines = [
        "南丰县供电公司客户资料",
        "户号,户名,用电地址,联系电话,用电类别,电压等级,经度,纬度,坐标系",
        "3610230000001,张三,南丰县三溪乡三溪村5组12号,13907941234,居民,220V,,,",
        f"3610230000002,李四,南丰县三溪乡三溪村6组,0794-3221234,商业,10kV,"
        f"{fullwidth(str(lon))},{fullwidth(str(lat))},GPS",
        "0000003,王五,南丰县三溪乡三溪村7组,1234,工业,0.4kV,,,",
    ]
    path = write_csv(tmp_path / "客户.csv", lines, "gbk")
    store, first = import_file(ws, path, county)
    assert first.written and len(first.added) == 3
    assert records(first.problems, ["file_line", "customer_id", "field", "value"]) == [
        {"file_line": 5, "customer_id": "0000003", "field": "phone", "value": "1234"}
    ]
    assert any("line 5 户号 0000003 phone '1234'" in line for line in first.lines())
    stored = store.read("customers").set_index("customer_id")
    assert list(stored.index) == ["0000003", "3610230000001", "3610230000002"]
    assert list(stored["phone"]) == ["", "13907941234", "0794-3221234"]
    assert list(stored["category"]) == ["industrial", "residential", "commercial"]
    assert list(stored["voltage_class"]) == ["LV", "LV", "HV"]
    assert stored.loc["3610230000002", "gps_lon"] == pytest.approx(lon, abs=1e-9)
    assert stored.loc["3610230000002", "gps_lat"] == pytest.approx(lat, abs=1e-9)
    assert stored.loc["3610230000002", "location_source"] == "gps"
    assert stored.loc["3610230000002", "geometry"].x == pytest.approx(lon, abs=1e-9)
    assert customer_versions(ws) == [1]

    # the same file again: unchanged 3, no new version
    _, again = import_file(ws, path, county)
    assert (again.written, again.version, again.unchanged) == (False, 1, 3)
    assert again.added == [] and again.updated == {}
    assert "未变 unchanged 3" in again.lines()[0] and "no new version" in again.lines()[0]
    assert customer_versions(ws) == [1]

    # one phone changed: one new version that says what changed
    lines[2] = lines[2].replace("13907941234", "13807941234")
    write_csv(path, lines, "gbk")
    _, changed = import_file(ws, path, county)
    assert changed.written and changed.updated == {"3610230000001": ["phone"]}
    assert changed.unchanged == 2
    assert customer_versions(ws) == [1, 2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_reads_the_marketing_workbook_with_no_options(tmp_path, ws, capsys):
    path = marketing_workbook(tmp_path / "客户资料.xlsx")
    args = ("customers", "import", str(path), "--workspace", str(ws), "--author", "王")
    code, out, err = run(capsys, *args, "--reason", "首次")
    assert code == 0, err
    assert "新增 added 3" in out
    assert "户号→customer_id" in out and "联系电话→phone" in out
    assert "line 6 户号 0036 phone '139'" in out
    assert "工作表 sheets read: 客户资料" in out
    assert err == ""
    code, out, err = run(capsys, *args, "--reason", "再次")
    assert code == 0, err
    assert "未变 unchanged 3" in out and "no new version" in out
    assert customer_versions(ws) == [1]

    # options: --sheet of a sheet without data, --all-sheets on a CSV, --columns
    code, _, err = run(capsys, *args, "--reason", "x", "--sheet", "说明")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "sheet '说明' lacks column(s)" in err and "--header-row N" in err
    assert "Traceback" not in err
    own = write_csv(tmp_path / "own.csv", ["编号,住址", "A9,南丰县三溪乡三溪村"], "utf-8")
    code, _, err = run(capsys, "customers", "import", str(own), "--workspace", str(ws),
                       "--author", "王", "--reason", "x")  # fmt: skip
    assert code == 2 and "--columns customer_id=<name>,address=<name>" in err
    code, out, err = run(capsys, "customers", "import", str(own), "--workspace", str(ws),
                         "--author", "王", "--reason", "x",
                         "--columns", "编号=customer_id,住址=address")  # fmt: skip
    assert code == 0, err
    assert "新增 added 1" in out and "编号→customer_id" in out
    assert customer_versions(ws) == [1, 2]
    code, _, err = run(capsys, "customers", "import", str(own), "--workspace", str(ws),
                       "--author", "王", "--reason", "x", "--all-sheets")  # fmt: skip
    assert code == 2 and "CSV table, which has no sheets" in err


def test_readme_table_lists_every_accepted_name():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Customer files", 1)[1].split("\n### ", 1)[0]
    documented: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        fields = [f.strip("` ") for f in cells[0].split("(")[0].split(",")]
        for field, names in zip(fields, cells[1].split(";"), strict=True):
            documented[field] = {n.strip() for n in names.split(",")}
    expected = {field: set(names) for field, names in io.CUSTOMER_COLUMN_ALIASES.items()}
    assert documented == expected


def test_a_layer_made_before_phones_keeps_its_columns(tmp_path, ws, county):
    path = write_csv(
        tmp_path / "c.csv", ["户号,地址,手机号码", "1,南丰县三溪乡三溪村5组,13907941234"], "utf-8"
    )
    store = GeoPackageStore.open(ws)
    gazetteer = workspace.read_gazetteer(store)
    old = archive.locate_customers(
        pd.DataFrame({"customer_id": ["0"], "address": ["南丰县"]}), gazetteer
    )
    store.add_layer(
        "customers", old.drop(columns="phone"), key="customer_id", author="a", reason="b"
    )
    _, report = import_file(ws, path, county)
    assert report.written and report.added == ["1"] and report.not_stored == ["phone"]
    assert any("未保存 not stored: phone" in line for line in report.lines())
    assert "phone" not in store.read("customers").columns
    assert customer_versions(ws) == [1, 2]


def test_locate_customers_normalises_and_warns_once(ws):
    gazetteer = workspace.read_gazetteer(GeoPackageStore.open(ws))
    table = pd.DataFrame(
        {
            "customer_id": ["1", "2"],
            "address": ["南丰县三溪乡三溪村5组", "南丰县三溪乡三溪村6组"],
            "phone": ["+86 13907941234", "12"],
            "voltage_class": ["10kV", ""],
        }
    )
    with pytest.warns(UserWarning, match=r"1 customer value\(s\).*户号 2 phone '12'"):
        located = archive.locate_customers(table, gazetteer)
    assert list(located["phone"]) == ["13907941234", ""]
    assert list(located["voltage_class"]) == ["HV", "LV"]


def test_category_as_the_marketing_system_writes_it():
    # the values the 营销系统 exports, by hand: 一般工商业用电 is commercial, 大工业用电 industrial
    table = pd.DataFrame(
        {
            "customer_id": ["1", "2", "3", "4"],
            "category": ["居民生活用电", "一般工商业用电", "大工业用电", "农业生产用电"],
            "file_line": [2, 3, 4, 5],
        }
    )
    values, problems = io.normalise_customer_values(table)
    assert list(values["category"]) == ["residential", "commercial", "industrial", "agricultural"]
    assert len(problems) == 0
