"""The county map as a picture for WeChat (PNG) and A4 paper (PDF): maps/picture.py.

The workspace is the bundled sample county with 1,200 customers of its archive (every 25th),
set up as a county company does it, and ``gridgeo run`` (:func:`gridgeo.run.run_workspace`)
draws the picture beside its outputs. Expected texts are made here from the stored layers read
with geopandas (the repair share and the village with most customers beyond the 30-minute
repair promise, counted with pandas); the PNG's title is found by normalised
cross-correlation with the title rendered alone in the test, and told apart from boxes (tofu).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pypdf
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread
from scipy.signal import fftconvolve

from gridgeo import archive, fonts, run, sample, workspace
from gridgeo.errors import InputError, NotFoundError
from maps.__main__ import main
from maps.picture import PICTURE_DPI, PICTURE_SIZE_IN, TITLE_SIZE_PT, county_picture

N_CUSTOMERS = 1200
TITLE = "南丰县供电服务网格图"


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """A workspace of 1,200 sample customers and its run with the picture (no HTML map)."""
    county = sample.load_sample()
    folder = tmp_path_factory.mktemp("picture")
    csv = folder / "customers.csv"
    text = (sample.SAMPLE_DIR / sample.OUTPUT_CUSTOMERS).read_text(encoding="utf-8").splitlines()
    csv.write_text("\n".join([text[0], *text[1::25][:N_CUSTOMERS]]) + "\n", encoding="utf-8")
    path = folder / "workspace.gpkg"
    layers = {name: getattr(county, name) for name in workspace.WORKSPACE_KEYS if name != "grids"}
    store = workspace.create_workspace(path, layers, roads=county.roads, author="t", reason="t")
    gazetteer = workspace.read_gazetteer(store)
    records = pd.read_csv(csv, dtype=str, keep_default_na=False)
    located = archive.locate_customers(records, gazetteer, county_area=county.county)
    with pytest.warns(UserWarning, match="SUB14"):  # the sample's substation off the roads
        build = workspace.build_grids(store, workspace.village_workload(located), seed=1)
    workspace.save_grids(store, build.service.grids, author="t", reason="grids")
    archive.import_customers(
        store, csv, gazetteer, author="t", reason="import", grids=store.read("grids")
    )
    lines: list[str] = []
    out = folder / "out"
    run.run_workspace(path, out, write_picture=county_picture, progress=lines.append)
    return path, out, lines


@pytest.fixture(scope="module")
def pdf_text(ran) -> str:
    _, out, _ = ran
    reader = pypdf.PdfReader(out / run.PICTURE_PDF)
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def _expected(ws: Path) -> dict[str, str]:
    """The figures and the worst village, counted from the stored layers with pandas."""
    customers = gpd.read_file(ws, layer="customers")
    access = gpd.read_file(ws, layer="customer_access")
    villages = gpd.read_file(ws, layer="villages")
    ok = customers[["customer_id", "village_code"]].merge(
        access[["customer_id", "repair_ok", "payment_ok"]], on="customer_id", how="left"
    )
    repair_ok = ok["repair_ok"].fillna(False).astype(bool)
    payment_ok = ok["payment_ok"].fillna(False).astype(bool)
    n = len(customers)
    beyond = pd.DataFrame(
        {"code": ok["village_code"], "repair": ~repair_ok, "payment": ~payment_ok}
    ).dropna(subset=["code"])
    per_village = beyond.groupby("code")[["repair", "payment"]].sum().reset_index()
    # most customers beyond the repair promise, then beyond the payment promise, then by code
    worst = per_village.sort_values(
        ["repair", "payment", "code"], ascending=[False, False, True]
    ).iloc[0]
    name = villages.set_index("village_code").at[worst["code"], "village"]
    return {
        "repair_share": f"{100 * repair_ok.sum() / n:.1f}%",
        "payment_share": f"{100 * payment_ok.sum() / n:.1f}%",
        "repair_beyond": f"{n - int(repair_ok.sum()):,d} 户",
        "worst_village": str(name),
    }


def test_the_run_writes_the_png_and_the_a4_pdf(ran):
    _, out, lines = ran
    png, pdf = out / run.PICTURE_PNG, out / run.PICTURE_PDF
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    height, width = imread(png).shape[:2]
    assert (width, height) == (1600, 1131)
    page = pypdf.PdfReader(pdf).pages[0]
    w_mm, h_mm = (float(v) / 72 * 25.4 for v in (page.mediabox.width, page.mediabox.height))
    assert (round(w_mm), round(h_mm)) == (297, 210)  # A4 landscape
    assert pdf.stat().st_size < 1_000_000
    # readable by whoever may read the HTML map beside them (not private to the writer)
    mode = (out / run.SUMMARY_JSON).stat().st_mode & 0o777
    assert png.stat().st_mode & 0o777 == mode and pdf.stat().st_mode & 0o777 == mode
    # the text is set in the Chinese font, embedded (a text layer alone would also hold
    # characters drawn as boxes by a font without them)
    family = fonts.cjk_font().replace(" ", "").lower()
    embedded = [f.get_object()["/BaseFont"] for f in page["/Resources"]["/Font"].values()]
    assert embedded and all(family in str(name).lower() for name in embedded), embedded
    assert any(line.startswith("地图图片 / map picture (PNG, PDF): 完成 / done") for line in lines)
    assert not list(out.glob(".*tmp*"))


def test_the_pdf_text_layer_holds_the_names_and_figures(ran, pdf_text):
    ws, _, _ = ran
    expected = _expected(ws)
    assert TITLE in pdf_text
    assert "南丰县" in pdf_text
    towns = gpd.read_file(ws, layer="towns")["town"]
    for town in ("琴城镇", "白舍镇", "三溪乡"):
        assert town in set(towns)
        assert town in pdf_text, town
    assert "30分钟抢修到达率" in pdf_text
    assert expected["repair_share"] in pdf_text
    assert expected["payment_share"] in pdf_text
    assert expected["repair_beyond"] in pdf_text
    assert expected["worst_village"] in pdf_text
    # the data date (China time) and the grids' version
    assert "网格版本 v1" in pdf_text
    assert "数据日期 20" in pdf_text


def test_no_english_codes_in_the_picture(pdf_text):
    for code in ("repair", "payment", "T2-", "T3-", "SUB", "RS0", "PP0", "ok", "over_limit"):
        assert code not in pdf_text, code
    assert "3610231" not in pdf_text  # no village codes


def _ink(gray: np.ndarray) -> np.ndarray:
    """Dark pixels as 1, paper as 0."""
    return (gray < 0.5).astype(float)


def _rendered(text: str) -> np.ndarray:
    """``text`` drawn alone as the title is (font, size, weight, dpi), tightly cropped ink."""
    fig = Figure(figsize=PICTURE_SIZE_IN, dpi=PICTURE_DPI)
    canvas = FigureCanvasAgg(fig)
    fig.text(
        0.5,
        0.5,
        text,
        fontsize=TITLE_SIZE_PT,
        fontweight="bold",
        family=[fonts.cjk_font()],
        ha="center",
        va="center",
    )
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba(), dtype=float)[..., :3] / 255
    ink = _ink(rgba.mean(axis=2))
    rows, cols = np.nonzero(ink)
    return ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _best_ncc(image: np.ndarray, template: np.ndarray) -> float:
    """The highest normalised cross-correlation of ``template`` over ``image``."""
    t = template - template.mean()
    t_norm = np.sqrt((t**2).sum())
    ones = np.ones_like(template)
    num = fftconvolve(image, t[::-1, ::-1], mode="valid")
    local_sum = fftconvolve(image, ones, mode="valid")
    local_sq = fftconvolve(image**2, ones, mode="valid")
    var = np.maximum(local_sq - local_sum**2 / template.size, 1e-9)
    return float((num / (np.sqrt(var) * t_norm)).max())


def test_the_png_shows_the_title_in_chinese_glyphs_not_boxes(ran):
    _, out, _ = ran
    rgb = imread(out / run.PICTURE_PNG)[..., :3]
    top = _ink(rgb.mean(axis=2))[: int(0.15 * rgb.shape[0])]
    title = _best_ncc(top, _rendered(TITLE))
    boxes = _best_ncc(top, _rendered("□" * len(TITLE)))
    other = _best_ncc(top, _rendered("北京市海淀区服务地图"))
    one_off = _best_ncc(top, _rendered(TITLE[:-1] + "区"))  # the last character differs
    assert title > 0.93, title
    assert boxes < 0.6, boxes
    assert other < title - 0.3, (other, title)
    assert one_off < title - 0.03, (one_off, title)


def test_python_m_maps_draws_the_picture_with_flags(ran, tmp_path, capsys):
    ws, out, _ = ran
    png, pdf = tmp_path / "p.png", tmp_path / "p.pdf"
    summary = out / run.SUMMARY_JSON
    argv = [str(ws), "--out", str(tmp_path / "m.html"), "--summary", str(summary)]
    assert main([*argv, "--png", str(png), "--pdf", str(pdf)]) == 0
    printed = capsys.readouterr().out
    assert str(png) in printed and str(pdf) in printed
    text = pypdf.PdfReader(pdf).pages[0].extract_text()
    share = json.loads(summary.read_text(encoding="utf-8"))["reach"]["repair_share_ok"]
    assert f"{100 * share:.1f}%" in text
    assert _expected(ws)["repair_share"] in text
    assert imread(png).shape[:2] == (1131, 1600)


def test_a_missing_font_is_one_clear_error_and_writes_nothing(ran, tmp_path, monkeypatch):
    ws, _, _ = ran
    missing = tmp_path / "no-such-font.ttc"
    monkeypatch.setenv(fonts.CJK_FONT_ENV, str(missing))
    png, pdf = tmp_path / "p.png", tmp_path / "p.pdf"
    with pytest.raises(NotFoundError, match="GRIDGEO_CJK_FONT") as info:
        county_picture(ws, png, pdf)
    message = str(info.value)
    assert "fonts-noto-cjk" in message
    assert str(missing) in message
    assert "\n" not in message
    assert not png.exists() and not pdf.exists()


def test_a_run_without_a_font_says_the_picture_was_skipped_and_succeeds(ran, tmp_path, monkeypatch):
    ws, _, _ = ran
    monkeypatch.setenv(fonts.CJK_FONT_ENV, str(tmp_path / "no-such-font.ttc"))
    lines: list[str] = []
    result = run.run_workspace(
        ws, tmp_path / "out", write_picture=county_picture, progress=lines.append
    )
    skipped = [line for line in lines if "已跳过 / skipped" in line]
    assert len(skipped) == 1, lines
    assert "地图图片" in skipped[0]
    assert "fonts-noto-cjk" in skipped[0] and "GRIDGEO_CJK_FONT" in skipped[0]
    assert "picture_png" not in result.outputs
    assert not (tmp_path / "out" / run.PICTURE_PNG).exists()
    assert (tmp_path / "out" / run.SUMMARY_JSON).is_file()


def test_no_file_asked_for_and_bad_suggestions_are_input_errors(ran, tmp_path):
    ws, _, _ = ran
    with pytest.raises(InputError, match="--png"):
        county_picture(ws, None, None)
    with pytest.raises(InputError, match="--suggest-stations"):
        county_picture(ws, tmp_path / "p.png", suggest_stations=-1)
    assert not (tmp_path / "p.png").exists()
