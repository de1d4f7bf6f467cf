"""The Chinese font that static pictures and PDFs are drawn with.

Pictures for phones (the county map as PNG/PDF) and the monthly report are drawn offline by
matplotlib, which needs a font with the Chinese glyphs. None is shipped in the package (a CJK
font is 16-25 MB); the machine's own is found instead, in this order:

1. the file named by the environment variable ``GRIDGEO_CJK_FONT`` (a ``.ttf``, ``.otf`` or
   ``.ttc``), for a company machine that keeps its fonts elsewhere;
2. Noto Sans CJK (Debian/Ubuntu ``fonts-noto-cjk``), WenQuanYi, Source Han Sans, or the
   Windows fonts SimHei / Microsoft YaHei at their usual places;
3. whatever fontconfig's ``fc-match :lang=zh-cn`` names.

When none is found, :func:`cjk_font` raises :class:`gridgeo.errors.NotFoundError` with the fix
(``apt-get install fonts-noto-cjk`` or ``GRIDGEO_CJK_FONT=...``), never drawing boxes instead of
characters.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from gridgeo.errors import NotFoundError

__all__ = ["CJK_FONT_ENV", "cjk_font", "cjk_font_path", "use_cjk_font"]

CJK_FONT_ENV = "GRIDGEO_CJK_FONT"

_KNOWN = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/adobe-source-han-sans/SourceHanSansSC-Regular.otf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
    "/System/Library/Fonts/PingFang.ttc",
)

_HOW = (
    "没有中文字体 / no Chinese (CJK) font found: install one (Debian/Ubuntu: "
    "`apt-get install fonts-noto-cjk`) or set {env}=/path/to/font.ttc"
)


def _fc_match() -> str | None:
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "-f", "%{file}", ":lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    # fontconfig answers its default font when nothing matches the language; keep only CJK ones
    if out and any(k in out.lower() for k in ("cjk", "wqy", "han", "hei", "song", "kai", "ming")):
        return out
    return None


def cjk_font_path() -> Path:
    """Path of the Chinese font to draw with (see the module's order).

    ``GRIDGEO_CJK_FONT`` is read at each call (a change takes effect at once); the search
    for a known font is done once per value.

    Raises
    ------
    NotFoundError
        No Chinese font on this machine, or ``GRIDGEO_CJK_FONT`` names a missing file.
    """
    return _find_font(os.environ.get(CJK_FONT_ENV, "").strip())


@functools.cache
def _find_font(named: str) -> Path:
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise NotFoundError(
                f"{CJK_FONT_ENV}={named}: 字体文件不存在 / no such font file; "
                f"name an existing .ttf/.otf/.ttc or unset {CJK_FONT_ENV} "
                "(Debian/Ubuntu: `apt-get install fonts-noto-cjk`)"
            )
        return path
    for known in _KNOWN:
        if Path(known).is_file():
            return Path(known)
    found = _fc_match()
    if found and Path(found).is_file():
        return Path(found)
    raise NotFoundError(_HOW.format(env=CJK_FONT_ENV))


def cjk_font() -> str:
    """Register the Chinese font with matplotlib and answer its family name.

    Raises
    ------
    NotFoundError
        As :func:`cjk_font_path`.
    """
    return _register_font(cjk_font_path())


@functools.cache
def _register_font(path: Path) -> str:
    from matplotlib import font_manager

    before = {f.name for f in font_manager.fontManager.ttflist}
    font_manager.fontManager.addfont(str(path))
    added = [
        f.name
        for f in font_manager.fontManager.ttflist
        if f.fname == str(path) and f.name not in before
    ] or [f.name for f in font_manager.fontManager.ttflist if f.fname == str(path)]
    # a .ttc holds several faces (JP, KR, SC, TC, HK): prefer simplified Chinese
    for name in added:
        if name.endswith(" SC") or "SC" in name.split():
            return name
    return added[0] if added else font_manager.FontProperties(fname=str(path)).get_name()


def use_cjk_font() -> str:
    """Set matplotlib's default font to the Chinese font; answer its family name.

    Also keeps the minus sign drawable (``axes.unicode_minus``), which CJK fonts often lack.
    """
    import matplotlib as mpl

    name = cjk_font()
    mpl.rcParams["font.family"] = [name, "DejaVu Sans"]
    mpl.rcParams["axes.unicode_minus"] = False
    return name
