"""What the command line needs to show text well: widths, language, local time, progress.

- :func:`display_width`, :func:`pad` and :func:`format_table` align columns by the width a
  terminal gives each character (a Chinese character takes two columns, a combining mark
  none; :func:`unicodedata.east_asian_width`), so tables with Chinese names line up.
- :func:`localize` keeps one side of the bilingual ``中文 / English`` texts of the command
  line for ``gridgeo --lang zh|en`` (:func:`set_language`); ``both`` (the default) keeps both.
- :func:`local_time` writes a stored UTC time in China time (``+08:00``).
- :class:`StepProgress` prints the progress lines of long jobs and, on a terminal, shows a
  live spinner (or a bar when the job says how far it is) on stderr while a step runs.

Only the command line and the lines the library prints for it (``gridgeo.run``) use it.
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = [
    "LANGUAGES",
    "StepProgress",
    "choose",
    "display_width",
    "format_table",
    "has_cjk",
    "language",
    "local_time",
    "localize",
    "pad",
    "set_language",
]

LANGUAGES = ("both", "zh", "en")
DEFAULT_LANGUAGE = "both"
DEFAULT_TIMEZONE = "Asia/Shanghai"

_LANGUAGE: ContextVar[str] = ContextVar("gridgeo_cli_language", default=DEFAULT_LANGUAGE)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_PUNCT = "\u3000-\u303f\uff01-\uff60"
_HAS_CJK = re.compile(f"[{_CJK}]")
# one bilingual pair inside a longer text: a Chinese run (digits, spaces, Chinese
# punctuation and 'quoted' names inside it), " / ", then an English phrase up to a colon,
# a semicolon or the next Chinese character; the text around the pair is kept
_PAIR = re.compile(
    rf"(?P<zh>(?:\b[0-9][0-9,.]* )?[{_CJK}](?:[{_CJK}{_CJK_PUNCT}0-9 .%]|'[^'\n]*')*?)\s?/ "
    rf"(?P<en>[^{_CJK}{_CJK_PUNCT}:;\n]+)"
)


def display_width(text: Any) -> int:
    """The number of terminal columns ``text`` takes.

    Wide and full-width characters (Chinese, full-width punctuation) take two columns,
    combining marks none, every other character one.

    Parameters
    ----------
    text
        Any value; it is converted with ``str``.

    Returns
    -------
    int
    """
    width = 0
    for ch in str(text):
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: Any, width: int, align: str = "<") -> str:
    """``text`` padded with spaces to ``width`` terminal columns.

    Parameters
    ----------
    text
        Any value; it is converted with ``str``.
    width
        The columns to fill; a longer text is returned as it is.
    align
        ``"<"`` (left, pad on the right) or ``">"`` (right).

    Returns
    -------
    str
    """
    text = str(text)
    fill = " " * max(width - display_width(text), 0)
    return fill + text if align == ">" else text + fill


def format_table(
    header: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    *,
    align: str | None = None,
    indent: str = "  ",
    gap: str = "  ",
) -> list[str]:
    """The lines of a table whose columns line up in a terminal.

    Every column is as wide as its widest cell (header included) by
    :func:`display_width`, so Chinese names and English ones line up.

    Parameters
    ----------
    header
        The column titles.
    rows
        The rows, each with as many cells as ``header``; ``None`` prints as ``-``.
    align
        One character per column, ``<`` (left) or ``>`` (right); default: all left.
    indent, gap
        Put before each line and between the columns.

    Returns
    -------
    list of str
        The header line, then one line per row (trailing spaces removed).
    """
    n = len(header)
    align = align or "<" * n
    if len(align) != n:
        msg = f"`align` {align!r} must have one character per column ({n})"
        raise ValueError(msg)
    cells = [[str(c) for c in header]]
    for row in rows:
        if len(row) != n:
            msg = f"a table row has {len(row)} cells, the header {n}: {list(row)!r}"
            raise ValueError(msg)
        cells.append(["-" if c is None else str(c) for c in row])
    widths = [max(display_width(line[j]) for line in cells) for j in range(n)]
    return [
        (
            indent + gap.join(pad(c, w, a) for c, w, a in zip(line, widths, align, strict=True))
        ).rstrip()
        for line in cells
    ]


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a Chinese character."""
    return _HAS_CJK.search(text) is not None


def set_language(lang: str) -> None:
    """Set the language of the command line's texts: ``both``, ``zh`` or ``en``."""
    if lang not in LANGUAGES:
        msg = f"--lang {lang!r}: use one of {', '.join(LANGUAGES)}"
        raise ValueError(msg)
    _LANGUAGE.set(lang)


def language() -> str:
    """The language set by :func:`set_language` (``both`` by default)."""
    return _LANGUAGE.get()


def choose(zh: str, en: str, *, sep: str = " / ") -> str:
    """``zh``, ``en`` or both joined by ``sep``, by the language of :func:`language`."""
    lang = language()
    if lang == "zh":
        return zh
    return en if lang == "en" else f"{zh}{sep}{en}"


def localize(text: str, lang: str | None = None, *, whole: bool = False) -> str:
    """Keep the Chinese (``zh``) or the English (``en``) side of a bilingual text.

    The command line writes its texts as ``中文 / English``. Each pair ``中文 / English
    phrase`` (the phrase ending at a colon, a semicolon or the next Chinese text) becomes
    one side and the rest of the text (paths, numbers, flags) is kept; with ``whole`` (help
    texts) a text that is one pair, its English side holding no Chinese, becomes one side.
    Texts in one language are returned as they are, so ``zh`` shows Chinese wherever both
    exist. ``both`` returns ``text`` unchanged.

    Parameters
    ----------
    text
        The text.
    lang
        ``both``, ``zh`` or ``en``; default: :func:`language`.
    whole
        Split a text that is one pair as a whole (for help texts, whose English side
        explains more after a colon).

    Returns
    -------
    str
    """
    lang = lang or language()
    if lang == "both" or not has_cjk(text):
        return text
    head, sep, tail = text.partition(" / ")
    if whole and sep and has_cjk(head) and not has_cjk(tail):
        return (head + (":" if tail.endswith(":") else "")) if lang == "zh" else tail

    def side(m: re.Match[str]) -> str:
        en = m["en"].rstrip()
        rest = m["en"][len(en) :]
        return (m["zh"].rstrip() if lang == "zh" else en) + rest

    return _PAIR.sub(side, text)


def local_time(value: Any, tz: str = DEFAULT_TIMEZONE) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS+08:00`` in ``tz`` (China time by default).

    Parameters
    ----------
    value
        A timezone-aware time (a naive one is taken as UTC, as the store keeps times).
    tz
        An IANA time zone.

    Returns
    -------
    str
        ``""`` for a missing time.
    """
    import pandas as pd

    if value is None or value is pd.NaT:
        return ""
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        return ""
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    local = stamp.tz_convert(tz)
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M:%S") + f"{offset[:3]}:{offset[3:]}"


# --------------------------------------------------------------------------- progress

# the lines of gridgeo.run's progress: "<step>: 计算中 / computing … " starts a step,
# "  <step>: 12/40 … 7 s" says how far it is
_START = re.compile(r"…\s*$")
_TICK = re.compile(r"^\s+(?P<step>.+?): (?P<done>\d+)/(?P<total>\d+) … \d+ s$")


class StepProgress:
    """The ``progress`` callback of the long jobs, with live progress on a terminal.

    Called with progress lines (:func:`gridgeo.run.run_workspace` and the other jobs
    say a step's start with a line ending in ``…``, how far it is with ``  step: 12/40 …``,
    its end with its time). Every line is printed with ``emit``, except the how-far lines
    when a live display shows them. On a terminal (``stderr`` a TTY) a step that has started
    shows a spinner with the time spent, or a bar once the step says how far it is, on
    stderr, removed when the next line comes; elsewhere (a pipe, a log file, tests) only the
    lines are written.

    Parameters
    ----------
    emit
        Prints one line (the command line's ``print``).
    live
        Show the live display; default: when stderr is a terminal.
    console
        The :class:`rich.console.Console` to draw on (default: one on stderr).
    """

    def __init__(
        self,
        emit: Callable[[str], None],
        *,
        live: bool | None = None,
        console: Any = None,
    ) -> None:
        self._emit = emit
        if live is None:
            live = sys.stderr.isatty()
        self._live = bool(live)
        self._console = console
        self._bar: Any = None
        self._task: Any = None

    @property
    def live(self) -> bool:
        """Whether a live display is drawn."""
        return self._live

    def __call__(self, *lines: str) -> None:
        for line in lines:
            self._line(line)

    def _line(self, line: str) -> None:
        tick = _TICK.match(line)
        if tick is not None and self._bar is not None:
            self._bar.update(self._task, completed=int(tick["done"]), total=int(tick["total"]))
            return
        self._stop()
        self._emit(line)
        if _START.search(line):
            self._start(line.rstrip(" …"))

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Say a step of the command line's own as the jobs do: a start line, a live
        spinner on a terminal, and a line with its time when it is done."""
        t0 = time.perf_counter()
        self(f"{label}: 计算中 / computing …")
        try:
            yield
        finally:
            self._stop()
        self(f"{label}: 完成 / done in {time.perf_counter() - t0:.1f} s")

    @contextmanager
    def spinner(self, label: str) -> Iterator[None]:
        """A live spinner with the time spent while the block runs, on a terminal only:
        nothing is printed (for commands whose output is a report of their own)."""
        self._stop()
        self._start(label)
        try:
            yield
        finally:
            self._stop()

    def close(self) -> None:
        """Remove the live display, if one is shown."""
        self._stop()

    def _start(self, label: str) -> None:
        if not self._live:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        console = self._console or Console(stderr=True)
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._bar.add_task(label, total=None)
        self._bar.start()

    def _stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._task = None
