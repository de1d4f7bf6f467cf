"""Benchmark: the customer archive export (客户资料档案), XlsxWriter against openpyxl.

Run ``python benchmarks/bench_archive.py`` (``--workspace`` to reuse a workspace, ``--repeat``
to change N). The workload is the sample county as ``gridgeo demo`` makes it: 30,000
customers with their access, 67 files (a CSV and an XLSX per tier-3 grid, a workbook per
tier-2 grid, the not-located list), ~37 filled columns per row, each located customer's row
written into two XLSX files. Without ``--workspace`` the demo is made first in a temporary
folder (about a minute; not timed).

Timed, alternately in the same run, best of ``--repeat``:

- ``xlsxwriter``: :func:`gridgeo.archive.export_archive` as it is;
- ``openpyxl``: the same export with the XLSX writer of the previous version (openpyxl
  write-only mode, kept here as :func:`_openpyxl_write_xlsx`) and its per-row column widths
  (:func:`_openpyxl_display_widths`); everything else is shared.

The two exports are checked to write the same files with the same cells (every sheet of
every workbook, read back with openpyxl). Results go to stdout, and to ``--out`` as JSON
when given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from gridgeo import archive, cli, workspace
from gridgeo.store import GeoPackageStore


def _openpyxl_display_widths(frame: pd.DataFrame) -> pd.DataFrame:
    """The previous version's widths: every cell measured, row by row."""
    widths = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind == "f":
            text = values.map(lambda v: "" if v != v else f"{v:g}")
        else:
            text = values.astype(object).where(values.notna(), "").astype(str)
        widths[column] = text.str.len() + text.str.count(r"[^\x00-\x7f]")
    return pd.DataFrame(widths, index=frame.index).astype(int)


def _openpyxl_write_xlsx(
    path: Path,
    sheets: Mapping[str, pd.DataFrame],
    *,
    widths: pd.DataFrame | None = None,
    **_: Any,
) -> None:
    """The previous version's writer (openpyxl write-only mode), as it was."""
    book = openpyxl.Workbook(write_only=True)
    bold = Font(bold=True)
    for name, frame in sheets.items():
        sheet = book.create_sheet(title=name)
        n_columns = len(frame.columns)
        if n_columns:
            last = get_column_letter(n_columns)
            sheet.freeze_panes = "A2"
            sheet.auto_filter.ref = f"A1:{last}{len(frame) + 1}"
            cells = (
                widths.loc[frame.index]
                if widths is not None and set(frame.columns) <= set(widths.columns)
                else _openpyxl_display_widths(frame)
            )
            most = cells.max() if len(cells) else pd.Series(0, index=frame.columns)
            for i, column in enumerate(frame.columns, start=1):
                wide = max(archive.header_width(str(column)), int(most.get(column, 0)))
                width = min(wide, archive.MAX_COLUMN_WIDTH) + 2
                sheet.column_dimensions[get_column_letter(i)].width = width
        header = []
        for column in frame.columns:
            cell = WriteOnlyCell(sheet, value=str(column))
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        values = frame.astype(object).where(frame.notna() & frame.ne(""), None)
        for column in values.columns:
            if column in archive.TEXT_HEADERS:
                text = values[column]
                values[column] = text.where(text.isna(), text.astype(str))
        rows = values.to_numpy(dtype=object)
        formulas = np.zeros(rows.shape, dtype=bool)
        for j, column in enumerate(frame.columns):
            if frame[column].dtype.kind not in "fiub":
                text = pd.Series(rows[:, j], dtype=object)
                formulas[:, j] = text.str.startswith("=", na=False).to_numpy(dtype=bool)
        if formulas.any():
            for i, j in zip(*np.nonzero(formulas), strict=True):
                cell = WriteOnlyCell(sheet, value=rows[i, j])
                cell.data_type = "s"
                rows[i, j] = cell
        for row in rows:
            sheet.append(list(row))
    book.save(path)


@contextmanager
def _openpyxl_export() -> Any:
    """``export_archive`` with the previous version's XLSX writer and widths."""
    saved = archive.write_xlsx, archive.display_widths
    archive.write_xlsx = _openpyxl_write_xlsx
    archive.display_widths = _openpyxl_display_widths
    try:
        yield
    finally:
        archive.write_xlsx, archive.display_widths = saved


def _xlsx_cells(folder: Path) -> dict[str, Any]:
    """Every cell value and type of every sheet of every XLSX file, by file name."""
    out = {}
    for path in sorted(folder.glob("*.xlsx")):
        book = openpyxl.load_workbook(path, read_only=True)
        out[path.name] = {
            sheet.title: [
                [(c.value, c.data_type) for c in row if c.value is not None]
                for row in sheet.iter_rows()
            ]
            for sheet in book.worksheets
        }
        book.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="a workspace after `gridgeo run`")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (best is kept)")
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_archive_"))
    try:
        ws = args.workspace
        if ws is None:
            print("making the demo workspace (not timed) …", flush=True)
            cli.main(["demo", "--out", str(tmp / "demo")])
            ws = tmp / "demo" / "workspace.gpkg"
        store = GeoPackageStore.open(str(ws))
        customers, access = workspace.read_access(store)
        job: dict[str, Any] = {
            "customers": customers,
            "grids": store.read("grids"),
            "access": access,
            "repair_stations": store.read("repair_stations"),
            "payment_points": store.read("payment_points"),
        }

        def export(folder: Path) -> int:
            shutil.rmtree(folder, ignore_errors=True)
            return len(archive.export_archive(out_dir=folder, **job))

        runs: dict[str, list[float]] = {"xlsxwriter": [], "openpyxl": []}
        files = {}
        ways: dict[str, Callable[[], Any]] = {
            "xlsxwriter": nullcontext,
            "openpyxl": _openpyxl_export,
        }
        for i in range(args.repeat):
            for name, way in ways.items():
                with way():
                    t0 = time.perf_counter()
                    files[name] = export(tmp / name)
                    runs[name].append(time.perf_counter() - t0)
                print(f"  run {i + 1} {name:<10} {runs[name][-1]:6.2f} s", flush=True)
        same = _xlsx_cells(tmp / "xlsxwriter") == _xlsx_cells(tmp / "openpyxl")
        best = {name: min(times) for name, times in runs.items()}
        result = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "customers": len(customers),
            "files": files["xlsxwriter"],
            "repeat": args.repeat,
            "best_s": {k: round(v, 3) for k, v in best.items()},
            "runs_s": {k: [round(t, 3) for t in v] for k, v in runs.items()},
            "ratio_new_old": round(best["xlsxwriter"] / best["openpyxl"], 3),
            "same_cells": same,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"archive export, {result['customers']:,} customers, {result['files']} files "
        f"(best of {args.repeat}):\n"
        f"  xlsxwriter {best['xlsxwriter']:6.2f} s\n"
        f"  openpyxl   {best['openpyxl']:6.2f} s\n"
        f"  ratio new/old {result['ratio_new_old']:.2f}; same cells in every XLSX: {same}"
    )
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if same and files["xlsxwriter"] == files["openpyxl"] else 1


if __name__ == "__main__":
    sys.exit(main())
