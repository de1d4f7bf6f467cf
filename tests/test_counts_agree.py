"""Issue #9 (4): every output gives the same customers per grid and the same county total.

A customer belongs to the grid that contains its located position; customers with no
position, or outside every grid, are counted on their own (未定位) and are part of the county
total. The expected counts are computed here from the workspace's customer points and grid
polygons with plain shapely predicates, not by gridgeo; then the CLI tables (the demo's supply
grid table and worst grids, the grid edit preview), the Chinese summary, the archive files,
the API (``/kpis``, ``/grids``, ``/grids/{id}``) and the county map are read back and compared.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

import gridgeo
from api.main import create_app
from api.settings import Settings
from maps.__main__ import build_map

NOT_LOCATED = "未定位"  # the label of the customers in no grid, as the users read it

pytestmark = pytest.mark.slow


def _int(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``gridgeo demo`` on the bundled sample county: its output folder and what it printed."""
    out = tmp_path_factory.mktemp("counts_demo")
    proc = subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


@pytest.fixture(scope="module")
def ws(demo: tuple[Path, str]) -> Path:
    return demo[0] / "workspace.gpkg"


@pytest.fixture(scope="module")
def grids(ws: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(ws, layer="grids")


@pytest.fixture(scope="module")
def expected(ws: Path, grids: gpd.GeoDataFrame) -> dict[str, dict[str, int]]:
    """Customers per grid id (all tiers), ``NOT_LOCATED`` and ``"county"``, by point in polygon.

    Each customer's point is tested against every tier-3 polygon (a point on a shared border
    goes to the grid id that sorts first); its tier-2 and tier-1 grids are the parents.
    """
    customers = gpd.read_file(ws, layer="customers")
    points = customers.geometry.to_numpy()
    t3 = grids.loc[grids["tier"] == 3].sort_values("grid_id")
    grid3 = np.full(len(points), None, dtype=object)
    placed = np.zeros(len(points), dtype=bool)
    for grid_id, polygon in zip(t3["grid_id"], t3.geometry, strict=True):
        hit = shapely.intersects(polygon, points) & ~placed  # a missing point hits nothing
        grid3[hit] = grid_id
        placed |= hit
    # just outside every grid (at most 500 m, in a UTM CRS chosen by geopandas): the grid
    # listing the customer's village when it is placed at its village's point, else the
    # nearest grid (the first id on a tie)
    listed = {
        code: grid_id
        for grid_id, codes in zip(t3["grid_id"], t3["villages"].fillna(""), strict=True)
        for code in str(codes).split("，")
        if code
    }
    utm = customers.estimate_utm_crs()
    t3_m = t3.to_crs(utm).geometry.to_numpy()
    points_m = customers.geometry.to_crs(utm).to_numpy()
    for i in np.flatnonzero(~placed & ~shapely.is_missing(points) & ~shapely.is_empty(points)):
        dist = shapely.distance(t3_m, points_m[i])
        if dist.min() <= 500.0:
            grid3[i] = t3["grid_id"].to_numpy()[int(np.argmin(dist))]
            if customers.loc[i, "location_source"] == "village":
                grid3[i] = listed.get(str(customers.loc[i, "village_code"]), grid3[i])
    parent = dict(zip(grids["grid_id"], grids["parent_id"], strict=True))
    grid2 = [parent[g] if g is not None else None for g in grid3]
    grid1 = [parent[g] if g is not None else None for g in grid2]
    counts: dict[str, int] = Counter()
    for column in (grid3, grid2, grid1):
        counts.update(g for g in column if g is not None)
    # every grid is listed, an empty one with 0
    per_grid = {g: int(counts.get(g, 0)) for g in grids["grid_id"]}
    not_located = int(sum(g is None for g in grid3))
    # the stored grid columns say the same (they are set from the points)
    assert customers["grid_t3"].value_counts().to_dict() == {
        g: n for g, n in per_grid.items() if g in set(t3["grid_id"]) and n
    }
    assert not_located == int(customers["grid_t3"].isna().sum())
    return {
        "grids": per_grid,
        "tiers": {t: list(grids.loc[grids["tier"] == t, "grid_id"]) for t in (1, 2, 3)},
        "not_located": not_located,
        "county": len(customers),
    }


def test_the_sample_has_customers_in_no_grid(expected):
    # otherwise the not-located row would be checked on zeros only
    assert expected["not_located"] > 0
    in_grids = sum(expected["grids"][g] for g in expected["tiers"][1])
    assert in_grids + expected["not_located"] == expected["county"]


def test_cli_demo_tables(demo, expected):
    stdout = demo[1]
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in expected["tiers"][2] and len(parts) >= 5:
            rows[parts[0]] = _int(parts[4])  # grid, name, kV, villages, customers
    assert rows == {g: expected["grids"][g] for g in expected["tiers"][2]}
    lost = re.search(rf"^\s+{NOT_LOCATED} not located\s+([\d,]+)", stdout, flags=re.M)
    assert lost is not None and _int(lost.group(1)) == expected["not_located"]
    total = re.search(r"^\s+全县 county total\s+([\d,]+)", stdout, flags=re.M)
    assert total is not None and _int(total.group(1)) == expected["county"]
    # the five worst village grids
    worst = re.findall(r"^\s+(T3-\S+)\s+\S+\s+([\d,]+) customers, repair", stdout, flags=re.M)
    assert len(worst) == 5
    for grid_id, n in worst:
        assert _int(n) == expected["grids"][grid_id]


def test_cli_edit_preview(ws, grids, expected):
    t3 = grids.loc[grids["tier"] == 3]
    grid_id = t3.sort_values(["n_villages", "grid_id"])["grid_id"].iloc[-1]
    proc = subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "grids", "edit", "split", "--workspace", str(ws),
         "--grid", grid_id, "--parts", "2"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    before = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in expected["grids"]:
            before[parts[0]] = _int(parts[2])  # grid, tier, customers before
    assert grid_id in before
    assert before == {g: expected["grids"][g] for g in before}
    county = re.search(
        rf"county total 全县 ([\d,]+) customers: ([\d,]+) in the grids, ([\d,]+) {NOT_LOCATED}",
        proc.stdout,
    )
    assert county is not None
    total, in_grids, lost = (_int(x) for x in county.groups())
    assert (total, lost) == (expected["county"], expected["not_located"])
    assert in_grids == sum(expected["grids"][g] for g in expected["tiers"][1])


def _summary_rows(
    text: str, names: dict[str, str] | None = None
) -> tuple[dict[str, int], int, int, int]:
    """The grids' rows of the summary's tables (grid → customers, the cell before the first
    share), keyed by grid id through ``names`` (name → id) when the tables show names."""
    names = names or {}
    rows = {}
    for line in text.splitlines():
        cells = line.strip("| ").split(" | ")
        if not line.startswith("| ") or not any(c.endswith("%") for c in cells):
            continue
        first_share = next(i for i, c in enumerate(cells) if c.endswith("%"))
        key = NOT_LOCATED if cells[0].startswith(NOT_LOCATED) else names.get(cells[0], cells[0])
        rows[key] = _int(cells[first_share - 1])
    county = re.search(r"客户数：([\d,]+) 户（网格内 ([\d,]+) 户，未定位 ([\d,]+) 户）", text)
    assert county is not None, text[:400]
    total, in_grids, lost = (_int(x) for x in county.groups())
    return rows, total, in_grids, lost


def test_chinese_summary(demo, ws, grids, expected):
    # the demo's summary file (the lowest five grids of each tier by name, then 未定位)
    text = (demo[0] / "reach_summary_zh.md").read_text(encoding="utf-8")
    names = dict(zip(grids["name"], grids["grid_id"], strict=True))
    assert len(names) == len(grids)  # names tell the grids apart
    rows, total, in_grids, lost = _summary_rows(text, names)
    assert (total, in_grids, lost) == (
        expected["county"],
        expected["county"] - expected["not_located"],
        expected["not_located"],
    )
    assert rows.pop(NOT_LOCATED) == expected["not_located"]
    assert len(rows) == 10
    assert rows == {g: expected["grids"][g] for g in rows}
    # every grid of tiers 2 and 3, as the summary lists them when asked for all
    store = gridgeo.GeoPackageStore.open(ws)
    customers, access = gridgeo.read_access(store)
    kpis = gridgeo.reach_kpis(access, customers)
    rows, total, _, lost = _summary_rows(gridgeo.summary_zh(kpis, n_grids=1000))
    assert rows.pop(NOT_LOCATED) == expected["not_located"]
    wanted = {
        g: n for g in expected["tiers"][2] + expected["tiers"][3] if (n := expected["grids"][g])
    }
    assert rows == wanted
    assert total == expected["county"]


def test_archive(demo, grids, expected):
    folder = demo[0] / "archive"
    per_t3 = {
        path.name.split("_")[0]: len(pd.read_csv(path, dtype=str))
        for path in folder.glob("T3-*.csv")
    }
    assert per_t3 == {g: n for g in expected["tiers"][3] if (n := expected["grids"][g])}
    lost = len(pd.read_csv(folder / "未定位客户_not_located.csv", dtype=str))
    assert lost == expected["not_located"]
    assert sum(per_t3.values()) + lost == expected["county"]
    for path in folder.glob("T2-*_workbook.xlsx"):
        grid2 = path.name.split("_")[0]
        book = openpyxl.load_workbook(path, read_only=True)
        summary = [row for row in book["汇总"].iter_rows(values_only=True)]
        header = list(summary[0])
        first = dict(zip(header, summary[1], strict=True))
        assert first["网格编号"] == grid2
        assert first["客户数"] == expected["grids"][grid2]
        # the sheets of its village grids hold as many customers
        in_sheets = sum(sum(1 for _ in book[name].iter_rows()) - 1 for name in book.sheetnames[1:])
        book.close()
        assert in_sheets == expected["grids"][grid2]


@pytest.fixture(scope="module")
def client(ws: Path) -> TestClient:
    store = gridgeo.GeoPackageStore.open(ws)  # every route but /health needs a login
    gridgeo.add_user(store, "counts_admin", role="admin")
    token = gridgeo.start_session(store, "counts_admin", kind="token").token
    app = create_app(Settings(workspace=ws))
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def test_api_kpis(client, expected):
    body = client.get("/kpis").json()
    assert body["county"]["customers"] == expected["county"]
    for tier in (1, 2, 3):
        rows = {r["grid_id"]: r["customers"] for r in body[f"tier{tier}"]}
        assert rows.pop(NOT_LOCATED) == expected["not_located"]
        assert rows == {g: n for g in expected["tiers"][tier] if (n := expected["grids"][g])}


def test_api_grids(client, expected):
    body = client.get("/grids").json()
    got = {f["properties"]["grid_id"]: f["properties"]["customers"] for f in body["features"]}
    assert got == expected["grids"]
    assert body["customers"] == expected["county"]
    assert body["not_located"] == expected["not_located"]
    tier2 = client.get("/grids", params={"tier": 2}).json()
    assert {f["properties"]["grid_id"] for f in tier2["features"]} == set(expected["tiers"][2])
    one = expected["tiers"][2][0]
    assert client.get(f"/grids/{one}").json()["properties"]["customers"] == expected["grids"][one]
    for grid_id in (one, expected["tiers"][3][0]):
        listed = client.get(f"/grids/{grid_id}/customers", params={"limit": 1}).json()
        assert listed["total"] == expected["grids"][grid_id]


def test_map(ws, grids, expected, tmp_path):
    page = build_map(ws, tmp_path / "map.html").read_text(encoding="utf-8")
    figure = {
        label: re.search(
            re.escape(label) + r'[^<]*<br><span class="gg-en">[^<]*</span></th><td>([^<]*)</td>',
            page,
        )
        for label in ("客户数", f"其中{NOT_LOCATED}")
    }
    assert figure["客户数"] is not None and _int(figure["客户数"].group(1)) == expected["county"]
    lost = figure[f"其中{NOT_LOCATED}"]
    assert lost is not None and _int(lost.group(1)) == expected["not_located"]
    # the popups of the supply grids and of their village grids (by name)
    ids_by_name = dict(zip(grids["name"], grids["grid_id"], strict=True))
    assert len(ids_by_name) == len(grids)
    seen = {}
    for literal in re.findall(r'"popup_html": ("(?:[^"\\]|\\.)*")', page):
        popup = json.loads(literal)
        grid_id = re.search(r"Grid id</th><td>([^<]+)</td>", popup).group(1)
        seen[grid_id] = _int(re.search(r"Customers</th><td>([\d,]+)</td>", popup).group(1))
        for name, n in re.findall(
            r"<tr><td>([^<]+)</td><td>[^<]*</td><td>[^<]*</td><td>([\d,]+)</td>", popup
        ):
            seen[ids_by_name[name]] = _int(n)
    wanted = expected["tiers"][2] + expected["tiers"][3]
    assert seen == {g: expected["grids"][g] for g in wanted}
