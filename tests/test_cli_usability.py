"""Issue 15: a command line people can use.

Help in Chinese and English with an example for every command (the argparse tree walked),
no Python warning or traceback at the command line (commands run under ``python -W
error``), tables aligned by display width, history in China time, one-line errors that name
the flag and the fix, ``--lang``, a quiet ``-v`` and a demo that geocodes once and writes the
map. The workspace is the bundled sample county with 300 of its customers (every 100th),
set up as a county company does it. Expected widths are counted here with
``unicodedata.east_asian_width``, expected times converted here with ``zoneinfo``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import sqlite3
import subprocess
import sys
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import pytest

from gridgeo import archive, sample, workspace
from gridgeo.cli import build_parser, main
from gridgeo.cliutil import StepProgress, format_table, localize, set_language

N_EVERY = 100  # every 100th customer of the sample's archive: 300 customers
CJK = re.compile("[\u4e00-\u9fff]")
RAW_WARNING = re.compile(r"\w+Warning: |\.py:\d+: ")  # Python's own warning format
MAKE = ("--workspace", "gridgeo workspace init", "gridgeo demo --out")


def width(text: str) -> int:
    """Terminal columns, counted independently of gridgeo.cliutil."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``gridgeo`` in a subprocess with every Python warning an error."""
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "gridgeo.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_clean(proc: subprocess.CompletedProcess[str]) -> None:
    """Exit 0, no traceback, no raw Python warning; whatever is on stderr is gridgeo's."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert not RAW_WARNING.search(proc.stderr), proc.stderr
    for line in proc.stderr.splitlines():
        assert line.startswith("gridgeo: warning: "), line


@pytest.fixture(autouse=True)
def _both_languages():
    """main() sets the language of the thread; every test starts and ends with the default."""
    set_language("both")
    yield
    set_language("both")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample county with 300 customers imported, then grids built on them."""
    county = sample.load_sample()
    folder = tmp_path_factory.mktemp("usability")
    lines = (sample.SAMPLE_DIR / sample.OUTPUT_CUSTOMERS).read_text(encoding="utf-8").splitlines()
    csv = folder / "customers.csv"
    csv.write_text("\n".join([lines[0], *lines[1::N_EVERY]]) + "\n", encoding="utf-8")
    path = folder / "workspace.gpkg"
    layers = {name: getattr(county, name) for name in workspace.WORKSPACE_KEYS if name != "grids"}
    store = workspace.create_workspace(path, layers, roads=county.roads, author="t", reason="t")
    gazetteer = workspace.read_gazetteer(store)
    archive.import_customers(
        store, csv, gazetteer, author="测试员", reason="客户档案导入", county_area=county.county
    )
    with pytest.warns(UserWarning, match="SUB14"):  # the sample's substation off the roads
        build = workspace.build_grids(store, None, seed=1)
    workspace.save_grids(store, build.service.grids, author="测试员", reason="三级网格初建")
    return path


@pytest.fixture(scope="module")
def ran(ws: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`gridgeo run` on the workspace under -W error; its output folder."""
    out = tmp_path_factory.mktemp("run") / "out"
    proc = run_cli("run", "--workspace", str(ws), "--out", str(out))
    assert_clean(proc)
    assert (out / "summary.json").is_file() and (out / "county_map.html").is_file()
    return out


# ----------------------------------------------------------------------------- help


def _parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _parsers(sub, (*path, name))
    return found


def test_every_command_has_chinese_help_and_an_example():
    parsers = _parsers(build_parser())
    assert len(parsers) > 40  # the whole tree, not the top only
    paths = {path for path, _ in parsers}
    assert {("map",), ("grids", "history"), ("grids", "edit", "move"), ("demo",)} <= paths
    for path, parser in parsers:
        text = parser.format_help()
        where = " ".join(("gridgeo", *path))
        assert CJK.search(text), f"`{where} --help` has no Chinese"
        lines = text.splitlines()
        assert "例 / example:" in lines, f"`{where} --help` has no example"
        example = lines[lines.index("例 / example:") + 1]
        assert example.startswith("  gridgeo "), f"{where}: {example!r}"
        # the example names the command it is the example of
        assert example.split()[1 : 1 + len(path)] == list(path) or not path, (where, example)
        # Chinese first in the description (the Chinese line or the Chinese side of a pair)
        if parser.description:
            desc = parser.description.replace("gridgeo", "")
            english = re.search(r"[a-z]{3,}", desc)  # a word, not an acronym (API 令牌)
            chinese = CJK.search(desc)
            assert chinese is not None, (where, desc)
            assert english is None or chinese.start() < english.start(), (where, desc)


def test_gridgeo_help_in_a_subprocess_is_bilingual():
    proc = run_cli("--help")
    assert_clean(proc)
    assert "县供电公司" in proc.stdout and "county power-supply company" in proc.stdout
    assert "例 / example:" in proc.stdout and "  gridgeo demo --out" in proc.stdout


@pytest.mark.parametrize(
    ("lang", "present", "absent"),
    [
        ("zh", ["县供电公司", "例:"], ["county power-supply company", "example:"]),
        ("en", ["county power-supply company", "example:"], ["县供电公司", "例"]),
    ],
)
def test_help_in_one_language(lang, present, absent, capsys):
    with pytest.raises(SystemExit) as done:
        main(["--lang", lang, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for text in present:
        assert text in out
    for text in absent:
        assert text not in out
    # a subcommand's help and an option's help
    with pytest.raises(SystemExit):
        main(["--lang", lang, "grids", "history", "--help"])
    out = capsys.readouterr().out
    if lang == "en":
        assert "workspace GeoPackage" in out and "工作区" not in out
    else:
        assert "工作区" in out and "workspace GeoPackage" not in out


# ----------------------------------------------------------------------------- no warnings


@pytest.mark.parametrize(
    "argv",
    [
        ("status",),
        ("grids", "history"),
        ("customers", "export", "--out", "{tmp}/archive"),
        ("map", "--out", "{tmp}/county_map.html", "--summary", "{ran}/summary.json"),
    ],
    ids=["status", "grids history", "customers export", "map"],
)
def test_main_commands_print_no_python_warning(ws, ran, tmp_path, argv):
    args = [a.format(tmp=tmp_path, ran=ran) for a in argv]
    proc = run_cli(*args, "--workspace", str(ws))
    assert_clean(proc)
    assert proc.stdout.strip()
    if argv[0] == "map":
        page = (tmp_path / "county_map.html").read_text(encoding="utf-8")
        assert "南丰县" in page
        assert not list(tmp_path.glob(".*tmp*"))  # no half-written map left beside it


def test_a_warning_of_gridgeo_is_one_line_and_v_is_quiet(ws, tmp_path):
    copy = tmp_path / "ws.gpkg"
    shutil.copy(ws, copy)
    proc = run_cli(
        "-v", "grids", "build", "--workspace", str(copy), "--author", "测试员", "--reason", "重建"
    )
    assert_clean_but_info(proc)
    warned = [line for line in proc.stderr.splitlines() if line.startswith("gridgeo: warning:")]
    assert len(warned) == 1 and "SUB14" in warned[0]
    assert "pyogrio" not in proc.stderr  # its INFO line per layer written is not shown
    assert "INFO gridgeo.store: saved grids version 2" in proc.stderr  # -v still says things


# ----------------------------------------------------------------------------- tables


def test_format_table_lines_up_chinese_and_latin_cells():
    header = ("网格 grid", "名称 name", "客户 customers")
    rows = [
        ("T2-SUB02", "琴城110kV变电站供电网格", "16,080"),
        ("T2-SUB14", "长红垦殖场35kV变电站供电网格", "136"),
        ("未定位 not located", "", "15"),
    ]
    lines = format_table(header, rows, align="<<>")
    assert len(lines) == 4
    # left-aligned columns start at the same display column on every line ...
    for j in (0, 1):
        starts = {
            width(line[: line.index(cells[j])])
            for line, cells in zip(lines, [header, *rows], strict=True)
            if cells[j]
        }
        assert len(starts) == 1, (j, lines)
    # ... and the right-aligned last column ends at the same one
    assert len({width(line) for line in lines}) == 1, lines
    # the widest name decides: two columns per Chinese character
    assert width(lines[2]) == 2 + width("未定位 not located") + 2 + width(rows[1][1]) + 2 + width(
        header[2]
    )


def test_stations_table_is_aligned_by_display_width(ws, capsys):
    stations = gpd.read_file(ws, layer="repair_stations")
    assert stations["name"].map(lambda s: bool(CJK.search(s))).all()
    assert len({len(n) for n in stations["name"]}) > 1  # names of several lengths
    assert main(["stations", "status", "--workspace", str(ws)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {}
    for line in lines:
        parts = line.split()
        if parts and parts[0] in set(stations["station_id"]):
            rows[parts[0]] = line
    assert set(rows) == set(stations["station_id"])
    header = lines[0]
    for column in ("名称 name", "状态 status"):
        start = width(header[: header.index(column)])
        for row in stations.itertuples():
            line = rows[row.station_id]
            cell = row.name if column == "名称 name" else "在岗 on_duty"
            assert width(line[: line.index(cell)]) == start, (column, line)


# ----------------------------------------------------------------------------- local time


def test_grids_history_is_in_china_time(ws, capsys):
    with sqlite3.connect(ws) as con:
        stored = con.execute(
            "SELECT version, created_at, reason FROM gridgeo_versions WHERE layer = 'grids' "
            "ORDER BY version"
        ).fetchall()
    assert stored
    assert main(["grids", "history", "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "Asia/Shanghai" in out.splitlines()[0]
    for version, created_at, reason in stored:
        utc = dt.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
        local = utc.astimezone(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
        expected = local.isoformat(sep=" ")  # 2026-12-06 22:21:54+08:00
        assert expected.endswith("+08:00")
        line = next(x for x in out.splitlines() if x.split()[:1] == [str(version)])
        assert expected in line and reason in line


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "argv",
    [
        ("status",),
        ("grids", "history"),
        ("customers", "export", "--out", "x"),
        ("run", "--out", "x"),
        ("map",),
    ],
    ids=["status", "grids history", "customers export", "run", "map"],
)
def test_a_missing_workspace_is_one_line_naming_the_flag_and_the_fix(tmp_path, capsys, argv):
    missing = tmp_path / "nope.gpkg"
    assert main([*argv, "--workspace", str(missing)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("gridgeo: error: 工作区")
    assert str(missing) in lines[0]
    for fragment in MAKE:
        assert fragment in lines[0]
    assert "GeoPackageStore" not in lines[0] and "Traceback" not in captured.err
    assert not (tmp_path / "x").exists()


def test_a_missing_workspace_in_a_subprocess(tmp_path):
    proc = run_cli("grids", "history", "--workspace", str(tmp_path / "nope.gpkg"))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr and "GeoPackageStore" not in proc.stderr


def test_a_file_that_is_not_a_workspace_names_the_flag(tmp_path, capsys):
    bogus = tmp_path / "notes.gpkg"
    bogus.write_text("not a GeoPackage", encoding="utf-8")
    assert main(["status", "--workspace", str(bogus)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--workspace" in err and "gridgeo workspace init" in err
    assert "GeoPackageStore" not in err


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_messages_in_one_language(tmp_path, capsys, lang):
    missing = tmp_path / "nope.gpkg"
    assert main(["--lang", lang, "status", "--workspace", str(missing)]) == 2
    err = capsys.readouterr().err
    if lang == "en":
        assert not CJK.search(err) and "does not exist" in err
    else:
        assert "不存在" in err and "does not exist" not in err
    assert str(missing) in err and "--workspace" in err


# ----------------------------------------------------------------------------- the demo


@pytest.mark.slow
def test_demo_geocodes_once_and_writes_the_map(tmp_path):
    small = tmp_path / "small"
    gen = run_cli("sample", "generate", "--customers", "300", "--road-detail", "0.3",
                  "--out", str(small))  # fmt: skip
    assert_clean(gen)
    out = tmp_path / "demo"
    proc = run_cli("-v", "demo", "--sample", str(small), "--out", str(out))
    assert_clean_but_info(proc)
    # the archive is geocoded once: at the import (the grids are built on the imported
    # customers), not a second time for the workload
    assert proc.stderr.count("INFO gridgeo.geocode: located") == 1
    assert "pyogrio" not in proc.stderr
    assert (out / "county_map.html").is_file()
    assert "南丰县" in (out / "county_map.html").read_text(encoding="utf-8")
    # every customer in the archive and in a grid, as the import without grids left them
    customers = gpd.read_file(out / "workspace.gpkg", layer="customers")
    assert len(customers) == 300
    assert customers["grid_t3"].notna().sum() == (customers["grid_reason"] != "not_geocoded").sum()
    assert "客户档案导入 / customer archive import (300 customers): 完成 / done in" in proc.stdout


def assert_clean_but_info(proc: subprocess.CompletedProcess[str]) -> None:
    """As :func:`assert_clean`, with ``-v``'s INFO lines allowed on stderr."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert not RAW_WARNING.search(proc.stderr), proc.stderr
    for line in proc.stderr.splitlines():
        assert line.startswith(("gridgeo: warning: ", "INFO ")), line


# ----------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("工作区 / workspace GeoPackage", "工作区", "workspace GeoPackage"),
        ("输出目录 / output folder: out/demo", "输出目录: out/demo", "output folder: out/demo"),
        (
            "道路网 / road graphs: 计算中 / computing …",
            "道路网: 计算中",
            "road graphs: computing …",
        ),
        (
            "工作区 'a.gpkg' 不存在 / workspace 'a.gpkg' does not exist: check --workspace",
            "工作区 'a.gpkg' 不存在: check --workspace",
            "workspace 'a.gpkg' does not exist: check --workspace",
        ),
        # one language only, or no pair: as it is
        ("grids version 3 restored", "grids version 3 restored", "grids version 3 restored"),
        (
            "best station 最近抢修站 RS01",
            "best station 最近抢修站 RS01",
            "best station 最近抢修站 RS01",
        ),
    ],
)
def test_localize_keeps_one_side_and_the_details(text, zh, en):
    assert localize(text, "zh") == zh
    assert localize(text, "en") == en
    assert localize(text, "both") == text


def test_progress_prints_the_lines_and_draws_how_far_on_a_terminal():
    from io import StringIO

    from rich.console import Console

    start = "客户档案导出 / archive export: 计算中 / computing (300 customers) …"
    tick = "  客户档案导出 / archive export: 2/40 … 4 s"
    done = "客户档案导出 / archive export: 完成 / done in 1.0 s"
    # in a pipe or a log: every line as it is
    printed: list[str] = []
    plain = StepProgress(printed.append, live=False)
    plain(start, tick)
    plain(done)
    assert printed == [start, tick, done]
    # on a terminal: the how-far line moves the bar (on stderr) instead of a printed line
    printed.clear()
    screen = StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    live = StepProgress(printed.append, live=True, console=console)
    live(start)
    live(tick)
    live(done)
    live.close()
    assert printed == [start, done]
    with live.spinner("三级网格 / building the grids"):
        pass
    assert printed == [start, done]  # a spinner prints nothing of its own
