"""The export-table reader on long CSV files: the body read column-wise (issue 11, speed).

Above a few dozen rows, :func:`gridgeo.io.read_export_table` reads a CSV's body with
pandas' C parser instead of the csv module. What it gives must be what the csv module
gives: every cell's text (stripped, ids with their leading zeros), each row's file line,
short rows padded and long rows cut at the header, blank rows left out. The expected rows
are computed here from the bytes with the csv module (:func:`csv_rows`), or written out by
hand; the files are made by the tests.
"""

from __future__ import annotations

import csv
import io as io_module
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridgeo import io
from gridgeo.errors import CorruptFileError

HEADER = ["户号", "户名", "地址", "联系电话", "手机号码"]
TITLE = ["南丰县供电公司客户资料,,,,", "导出日期：2025-01-01,,,,"]
FIELDS = ["customer_id", "name", "address", "phone"]


def read(path: Path, **kw: object) -> list[tuple[int, list[str]]]:
    """(file line, [customer_id, name, address, phone]) per row read by gridgeo."""
    out = io.read_customer_file(path, **kw)  # type: ignore[arg-type]
    return [
        (int(line), [out[f].iloc[i] for f in FIELDS])
        for i, line in enumerate(out["file_line"].tolist())
    ]


def csv_rows(data: bytes, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """Every row of a CSV as the csv module splits it, with the line it starts on."""
    text = data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.reader(io_module.StringIO(text, newline=""))
    start = 1
    for row in reader:
        yield start, [c.strip() for c in row]
        start = reader.line_num + 1


def expected(data: bytes, encoding: str, header_line: int) -> list[tuple[int, list[str]]]:
    """The rows under the header of :data:`HEADER` (mobile before landline, joined)."""
    out = []
    for line, cells in csv_rows(data, encoding):
        if line <= header_line:
            continue
        cells = (cells + [""] * len(HEADER))[: len(HEADER)]
        phones = [p for p in (cells[4], cells[3]) if p]
        values = [cells[0], cells[1], cells[2], "/".join(dict.fromkeys(phones))]
        if any(values):
            out.append((line, values))
    return out


# Cells as exporters and people write them: spaces around, full-width spaces, leading
# zeros, quotes inside, quoted commas, text after a closing quote, Chinese and tabs.
PLAIN = [
    "",
    "",
    "0012",
    "3610230000001",
    "张三",
    " 琴城镇 ",
    "\u3000全角\u3000",
    "a b",
    'a"b',
    "\t",
]
QUOTED = ['"含,逗号"', '"x""y"', '""', '"ab"cd', '" 空格 "', '"0007"']


def random_file(rng: random.Random, n_rows: int, *, eol: str, multiline: bool) -> str:
    """A title, the header and ``n_rows`` ragged rows, some blank or blank-looking."""
    lines = [*TITLE, ",".join(HEADER)]
    for i in range(n_rows):
        kind = rng.random()
        if kind < 0.05:
            lines.append("")
        elif kind < 0.08:
            lines.append(" ,  ,")
        else:
            width = rng.choice([1, 3, 5, 5, 5, 5, 7])
            cells = [rng.choice(PLAIN if rng.random() < 0.8 else QUOTED) for _ in range(width)]
            cells[0] = rng.choice([f"{i:07d}", f" {i:07d}\t", f'"{i:07d}"', f'"0{i:06d}" '])
            if multiline and width > 1 and rng.random() < 0.1:
                cells[1] = '"两\n行"'
            lines.append(",".join(cells))
    return eol.join(lines) + (eol if rng.random() < 0.5 else "")


@pytest.mark.parametrize("seed", range(24))
def test_random_files_read_as_the_csv_module_splits_them(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    encoding = ["utf-8-sig", "gb18030"][seed % 2]
    eol = ["\n", "\r\n", "\r\n", "\r"][seed % 4]
    text = random_file(rng, 80, eol=eol, multiline=seed % 3 == 0)
    data = text.encode(encoding)
    path = tmp_path / "customers.csv"
    path.write_bytes(data)
    want = expected(data, encoding, header_line=3)
    assert len(want) > 60
    assert read(path) == want


def unique_rows(n: int, start: int = 0) -> list[str]:
    return [
        f"00{i:05d},户{i},南丰县琴城镇水南村{i}号, 0794-3{i:06d} ,1390794{i:04d}"
        for i in range(start, start + n)
    ]


def test_quoted_newline_and_ragged_rows_keep_their_lines(tmp_path: Path) -> None:
    # 40 plain rows, then (line 44) a quoted cell over two lines, a short row, a long row,
    # a blank line and a row of empty cells; GBK with CRLF as Excel saves it
    rows = unique_rows(40)
    rows += [
        '0100000,"王\r\n五",南丰县白舍镇,,',  # lines 44-45
        "0100001,,南丰县太和镇",  # line 46: 3 cells of 5
        "0100002,李四,南丰县市山镇,0794-3123456,13907941234,多余,还有",  # line 47: 7 cells
        "",  # line 48
        ",,,,",  # line 49
        "0100003,赵六,南丰县傅坊乡,,",  # line 50
    ]
    path = tmp_path / "customers.csv"
    path.write_bytes(("\r\n".join([*TITLE, ",".join(HEADER), *rows]) + "\r\n").encode("gbk"))
    got = read(path)
    assert len(got) == 44
    assert got[0] == (4, ["0000000", "户0", "南丰县琴城镇水南村0号", "13907940000/0794-3000000"])
    assert got[39][0] == 43
    assert got[40:] == [
        (44, ["0100000", "王\n五", "南丰县白舍镇", ""]),
        (46, ["0100001", "", "南丰县太和镇", ""]),
        (47, ["0100002", "李四", "南丰县市山镇", "13907941234/0794-3123456"]),
        (50, ["0100003", "赵六", "南丰县傅坊乡", ""]),
    ]


def test_the_same_without_the_quoted_newline(tmp_path: Path) -> None:
    rows = [
        *unique_rows(40),
        "0100001,,南丰县太和镇",  # line 44
        "0100002,李四,南丰县市山镇,0794-3123456,13907941234,多余,还有",  # line 45
        "   ",  # line 46
        "",  # line 47
        ",,,,",  # line 48
        '"0100003"," 赵六 ","南丰县傅坊乡,水南村",,"13907941234"',  # line 49
    ]
    path = tmp_path / "customers.csv"
    path.write_bytes(("\n".join([*TITLE, ",".join(HEADER), *rows])).encode("utf-8-sig"))
    got = read(path)
    assert [line for line, _ in got] == [*range(4, 44), 44, 45, 49]
    assert got[-3:] == [
        (44, ["0100001", "", "南丰县太和镇", ""]),
        (45, ["0100002", "李四", "南丰县市山镇", "13907941234/0794-3123456"]),
        (49, ["0100003", "赵六", "南丰县傅坊乡,水南村", "13907941234"]),
    ]


def test_header_far_down_and_merged_header(tmp_path: Path) -> None:
    # header_row beyond the rows searched, and a two-row merged header (联系方式 over
    # 手机/固定电话) above a long body
    notes = [f"说明第{i}行,,,," for i in range(40)]
    path = tmp_path / "far.csv"
    path.write_text("\n".join([*notes, ",".join(HEADER), *unique_rows(50)]), encoding="utf-8")
    got = read(path, header_row=41)
    assert [line for line, _ in got] == list(range(42, 92))
    assert got[49] == (
        91,
        ["0000049", "户49", "南丰县琴城镇水南村49号", "13907940049/0794-3000049"],
    )

    merged = tmp_path / "merged.csv"
    body = [f"{i:07d},户{i},南丰县三溪乡三溪村,1390794{i:04d},0794-3{i:06d}" for i in range(60)]
    merged.write_text(
        "\n".join(["客户资料,,,,", "户号,户名,地址,联系方式,", ",,,手机,固定电话", *body]),
        encoding="gb18030",
    )
    out = io.read_customer_file(merged)
    assert out.attrs["header_row"] == {"": 3}
    assert out["file_line"].tolist() == list(range(4, 64))
    assert out["phone"].iloc[7] == "13907940007/0794-3000007"


def test_tab_separated_txt(tmp_path: Path) -> None:
    path = tmp_path / "customers.txt"
    rows = [f"{i:07d}\t户{i}\t南丰县紫霄镇\t\t" for i in range(50)]
    path.write_text("\n".join(["户号\t户名\t地址\t联系电话\t手机号码", *rows]), encoding="utf-8")
    got = read(path)
    assert got[0] == (2, ["0000000", "户0", "南丰县紫霄镇", ""])
    assert [line for line, _ in got] == list(range(2, 52))


def test_a_cell_over_the_csv_field_limit_is_refused_with_its_line(tmp_path: Path) -> None:
    limit = csv.field_size_limit()
    rows = unique_rows(40)
    rows[30] = "0200000,长," + "水" * 600 + ",,"  # line 34
    path = tmp_path / "customers.csv"
    path.write_text("\n".join([*TITLE, ",".join(HEADER), *rows]), encoding="utf-8")
    csv.field_size_limit(500)
    try:
        with pytest.raises(CorruptFileError, match=r"not a readable CSV table \(line 34:"):
            io.read_customer_file(path)
    finally:
        csv.field_size_limit(limit)


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_the_body_is_read_column_wise_unless_an_unread_cell_spans_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, eol: str
) -> None:
    # the csv module reads only the head of a long file; the whole file only when a quoted
    # cell that is not read (past the header) spans lines: the rows' lines are unknown then
    parsed: list[int | None] = []
    real = io._csv_rows

    def spy(path: Path, lines: object, delimiter: str, limit: int | None = None) -> object:
        parsed.append(limit)
        return real(path, lines, delimiter, limit)  # type: ignore[arg-type]

    monkeypatch.setattr(io, "_csv_rows", spy)
    plain = tmp_path / "plain.csv"
    rows = [*unique_rows(100), "", "  ", ",,", "0300000", '"0300001",,,,,,,', *unique_rows(9, 200)]
    plain.write_bytes(eol.join([*TITLE, ",".join(HEADER), *rows]).encode("gbk"))
    assert read(plain)[98:103] == [
        (102, ["0000098", "户98", "南丰县琴城镇水南村98号", "13907940098/0794-3000098"]),
        (103, ["0000099", "户99", "南丰县琴城镇水南村99号", "13907940099/0794-3000099"]),
        (107, ["0300000", "", "", ""]),
        (108, ["0300001", "", "", ""]),
        (109, ["0000200", "户200", "南丰县琴城镇水南村200号", "13907940200/0794-3000200"]),
    ]
    assert None not in parsed

    spans = tmp_path / "spans.csv"
    two = '"两' + eol + '行"'
    rows = [*unique_rows(100), f"0300000,{two},南丰县,,", f'0300001,"三{eol}{eol}行",,,', "0300002"]
    spans.write_bytes(eol.join([*TITLE, ",".join(HEADER), *rows]).encode("gbk"))
    assert read(spans)[-3:] == [
        (104, ["0300000", "两\n行", "南丰县", ""]),
        (106, ["0300001", "三\n\n行", "", ""]),
        (109, ["0300002", "", "", ""]),
    ]
    assert None not in parsed

    unread = tmp_path / "unread.csv"
    rows = [*unique_rows(100), f"0300000,王五,南丰县,,,{two}", "0300001,赵六,南丰县"]
    unread.write_bytes(eol.join([*TITLE, ",".join(HEADER), *rows]).encode("gbk"))
    assert read(unread)[-2:] == [
        (104, ["0300000", "王五", "南丰县", ""]),
        (106, ["0300001", "赵六", "南丰县", ""]),
    ]
    assert None in parsed
