"""Slides of a récit: one 16:9 image per vue, and the whole récit as ZIP + PDF.

:func:`slide` draws one vue of a récit (see :mod:`lib.domain.recits`) the way the
Présentation page shows it: a map (through
:func:`lib.rendering.print.static_map.draw_map`:
the screen's extent, PTCE in their filière's colour, the vue's PTCE ringed,
supports in the ink of their level, a legend with colour keys),
the sourced figures with their divergences, the level × kind matrix of
supports, or the ways a collectivité can support a PTCE. Every slide carries
the number of PTCE of the vue, its source line and the date.
:func:`recit_zip` bundles a whole récit as numbered PNG slides plus one PDF
(one vector page per vue, in order) for a presenter without network access.

Like :mod:`lib.rendering.print.static_map`, drawing uses matplotlib's object API only
(:class:`~matplotlib.figure.Figure` on the Agg canvas, never pyplot) and every
string is drawn as plain text (no mathtext), so a title holding ``$`` or
``<b>`` reads literally.
"""

# size: one slide body per genre of vue (map, figures, matrix, ways) on a shared
# page layout (header, footer, sized text), and the ZIP + PDF of a récit;
# 29 functions, the longest 60 lines.

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from datetime import date

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from lib import fr
from lib.analysis.territoires import matrice
from lib.domain.model import NIVEAU_LABELS, NIVEAUX, TYPES_SOUTIEN, Fait, fold, slugify
from lib.domain.recits import (
    WAYS_TO_SUPPORT,
    Recit,
    Vue,
    divergences,
    figure_rows,
    figures_of,
    support_counts,
)
from lib.domain.selection import Frames
from lib.domain.soutiens import libelle
from lib.rendering.print.static_map import (
    SLIDE,
    PdfDocument,
    draw_map,
    format_date,
    new_figure,
    plain_text,
    save_figure,
    text_width,
    wrap_text,
)
from lib.rendering.vue import describe_vue, vue_source_line
from lib.worker import offloadable

__all__ = [
    "SLIDE_FORMATS",
    "pdf_name",
    "recit_zip",
    "slide",
    "slide_figure",
    "slide_names",
]

#: Formats of a single slide.
SLIDE_FORMATS = ("png", "pdf")

_INK = "#222222"
_GREY = "#666666"
_ACCENT = "#253494"
_RULE = "#cccccc"
_HEAD_BG = "#eef2f7"
_NOTE_BG = "#fff4e0"
_NOTE_EDGE = "#e0a040"
_BAR = "#4a7ab5"
_ZERO = "#f3f3f3"
_LINE = 1.25  # line spacing, in font sizes


# --------------------------------------------------------------------------
# Page: a figure measured in inches, origin at the bottom left
# --------------------------------------------------------------------------


class _Page:
    """A slide figure with helpers to draw in inches."""

    def __init__(self, size: tuple[float, float], dpi: float):
        self.fig = new_figure(size, dpi)
        self.width, self.height = size
        self.k = max(0.6, min(self.width / SLIDE[0], self.height / SLIDE[1]))
        self.margin = 0.45 * self.k

    def put(self, x: float, y: float, s: str, *, fit: float | None = None, **kw):
        """Draw plain text at ``(x, y)`` inches, smaller if wider than ``fit``.

        Text is never cut: a line wider than ``fit`` inches is drawn in the
        type size that makes it fit.
        """
        kw.setdefault("va", "top")
        if fit is not None and "fontsize" in kw:
            weight = kw.get("fontweight", "normal")
            wide = text_width(str(s), kw["fontsize"], weight)
            if wide > fit > 0:
                kw["fontsize"] = kw["fontsize"] * fit / wide
        return plain_text(self.fig, x, y, s, transform=self.fig.dpi_scale_trans, **kw)

    def box(self, x, y, w, h, **kw) -> None:
        """Draw a rectangle given in inches (``y`` is its bottom)."""
        kw.setdefault("linewidth", 0)
        self.fig.add_artist(
            Rectangle((x, y), w, h, transform=self.fig.dpi_scale_trans, **kw)
        )

    def rule(self, x: float, y: float, w: float, color: str = _RULE) -> None:
        """Draw a thin horizontal line."""
        self.box(x, y, w, 0.012 * self.k, facecolor=color)


def _height(lines: int, size: float) -> float:
    """Height in inches of ``lines`` lines of text at ``size`` points."""
    return lines * size * _LINE / 72


def _lines(text: str, width: float, size: float, most: int = 0, weight="normal"):
    """Wrap ``text`` to ``width`` inches; every word is kept (never cut).

    ``most`` is the number of lines the layout hopes for; callers try
    smaller type when the text needs more (see :func:`_sized`).
    """
    del most
    return wrap_text(" ".join(str(text).split()), width, size, weight)


def _sized(text: str, width: float, sizes, most: int, weight: str = "normal"):
    """Return the largest type of ``sizes`` holding ``text`` in ``most`` lines.

    Returns ``(size, lines)``; with the smallest size the text takes the
    lines it needs, all of them drawn.
    """
    for size in sizes:
        lines = wrap_text(" ".join(str(text).split()), width, size, weight)
        if len(lines) <= most:
            break
    return size, lines


def _block(page: _Page, x, y, text, width, size, most, **kw) -> float:
    """Draw wrapped text line by line from ``y`` down; return the new ``y``."""
    lines = _lines(text, width, size, most, kw.get("fontweight", "normal"))
    for line in lines:
        page.put(x, y, line, fontsize=size, fit=width, **kw)
        y -= _height(1, size)
    return y


def _count(n: int) -> str:
    return f"{fr.integer(n)} PTCE"


def _header(page: _Page, vue: Vue, n_ptce: int) -> float:
    """Draw title, text and PTCE count; return the top of the body (inches)."""
    k, m = page.k, page.margin
    inner = page.width - 2 * m
    y = page.height - m
    # The largest type that holds the title on one line, else on two; a
    # longer title takes the lines it needs (measured, never cut).
    titre = vue.titre or "Sans titre"
    size, _ = _sized(titre, inner, [s * k for s in (26, 24, 22)], 1, "bold")
    y = _block(page, m, y, titre, inner, size, 2, fontweight="bold")
    page.rule(m, y - 0.08 * k, inner, _ACCENT)
    y -= 0.2 * k
    if vue.texte.strip():
        size, _ = _sized(vue.texte, inner, [s * k for s in (15, 14, 13, 12)], 3)
        y = _block(page, m, y, vue.texte, inner, size, 3)
    y -= 0.06 * k
    page.put(m, y, f"{_count(n_ptce)} dans cette vue", fontsize=15 * k,
             fontweight="bold", color=_ACCENT)  # fmt: skip
    return y - _height(1, 15 * k) - 0.15 * k


def _footer(page: _Page, source: str, when: date) -> float:
    """Draw the source (wrapped) and the date; return the bottom of the body."""
    k, m = page.k, page.margin
    size = 9 * k
    dated = f"Atlas des PTCE — export du {format_date(when)}"
    dated_w = len(dated) * size * 0.56 / 72
    inner = page.width - 2 * m - dated_w - 0.3 * k
    lines = _lines(source, inner, size, 2)
    y0 = m * 0.6
    for i, line in enumerate(reversed(lines)):
        page.put(m, y0 + _height(i, size), line, fontsize=size, color=_GREY,
                 va="bottom", fit=inner)  # fmt: skip
    page.put(page.width - m, y0, dated, fontsize=size, color=_GREY, va="bottom",
             ha="right")  # fmt: skip
    page.rule(m, y0 + _height(len(lines), size) + 0.06 * k, page.width - 2 * m)
    return y0 + _height(len(lines), size) + 0.2 * k


# --------------------------------------------------------------------------
# Bodies of the genres
# --------------------------------------------------------------------------


def _notes_height(notes: Sequence[str], width: float, size: float, k: float):
    """Height in inches of the boxed notes drawn by :func:`_figures_body`."""
    return sum(_height(len(_lines(n, width, size, 3)), size) + 0.18 * k for n in notes)


def _figures_body(page: _Page, top: float, bottom: float, faits: list[Fait]):
    """Draw the sourced figures as a table, then the notes on divergences."""
    k, m = page.k, page.margin
    inner = page.width - 2 * m
    notes = divergences(faits)
    note_size = 10.5 * k
    note_w = inner - 0.5 * k
    notes_h = _notes_height(notes, note_w, note_size, k)
    table_top, table_bottom = top, bottom + notes_h + (0.15 * k if notes else 0)
    rows = figure_rows(faits)
    if not rows:
        page.put(m, top, "Aucun chiffre sourcé pour ces sujets.", fontsize=14 * k,
                 color=_GREY)  # fmt: skip
    else:
        _table(page, table_top, table_bottom, rows)
    y = bottom + notes_h
    for note in notes:
        lines = _lines(note, note_w, note_size, 3)
        h = _height(len(lines), note_size) + 0.08 * k
        page.box(m, y - h, inner, h, facecolor=_NOTE_BG, edgecolor=_NOTE_EDGE,
                 linewidth=0.8)  # fmt: skip
        page.box(m, y - h, 0.06 * k, h, facecolor=_NOTE_EDGE)
        _block(page, m + 0.2 * k, y - 0.04 * k, note, note_w, note_size, 3)
        y -= h + 0.1 * k  # 0.08 k + 0.1 k: see _notes_height


_COLUMNS = (("Chiffre", 0.46, 4), ("Valeur", 0.15, 1), ("Année", 0.07, 1),
            ("Source", 0.32, 2))  # fmt: skip
#: Layouts tried in turn for the table: (lines per cell at most, type sizes).
_TRIES = ((4, (15, 14, 13, 12, 11)), (2, (12, 11, 10)), (1, (11, 10, 9, 8)))
_KEYS = ("Chiffre", "Valeur", "Année", "Source")


def _table(page: _Page, top: float, bottom: float, rows: list[dict]) -> None:
    """Draw the figures as a table fitted between ``top`` and ``bottom``."""
    k, m = page.k, page.margin
    inner = page.width - 2 * m
    widths = [inner * share for _, share, _ in _COLUMNS]
    lefts = [m + sum(widths[:i]) for i in range(len(widths))]
    available = top - bottom

    def layout(size: float, most: int):
        pad = 0.25 * size / 72
        cells = [
            [
                _lines(row[key] or "", widths[i] - 2 * pad, size, min(most, limit))
                for i, (key, (_, _, limit)) in enumerate(
                    zip(_KEYS, _COLUMNS, strict=True)
                )
            ]
            for row in rows
        ]
        heights = [_height(max(map(len, c)), size) + 2 * pad for c in cells]
        return cells, heights

    tries = [(most, size * k) for most, sizes in _TRIES for size in sizes]
    hidden = 0
    for most, size in tries:
        cells, heights = layout(size, most)
        head_size = min(11 * k, size * 1.15)
        head_h = _height(1, head_size) + 0.5 * head_size / 72
        if head_h + sum(heights) <= available:
            break
    else:  # too many rows even on one line each: cut the list
        room = available - head_h - _height(1, size) - 0.3 * size / 72
        keep = max(1, int(room // heights[0]))
        hidden = len(rows) - keep
        cells, heights = cells[:keep], heights[:keep]
    pad = 0.25 * size / 72

    y = top
    page.box(m, y - head_h, inner, head_h, facecolor=_HEAD_BG)
    for (label, _, _), x, w in zip(_COLUMNS, lefts, widths, strict=True):
        page.put(x + pad, y - 0.25 * head_size / 72, label, fontsize=head_size,
                 fontweight="bold", color=_GREY, fit=w - 2 * pad)  # fmt: skip
    y -= head_h
    for row_cells, h in zip(cells, heights, strict=True):
        for i, (lines, x, w) in enumerate(zip(row_cells, lefts, widths, strict=True)):
            weight = "bold" if _KEYS[i] == "Valeur" else "normal"
            color = _GREY if _KEYS[i] == "Source" else _INK
            cell_size = size * (0.85 if _KEYS[i] == "Source" else 1)
            for j, line in enumerate(lines):
                page.put(x + pad, y - pad - _height(j, size), line, fontsize=cell_size,
                         fontweight=weight, color=color, fit=w - 2 * pad)  # fmt: skip
        y -= h
        page.rule(m, y, inner)
    if hidden:
        more = "autre chiffre" if hidden == 1 else "autres chiffres"
        page.put(m + pad, y - pad, f"… et {hidden} {more}", fontsize=size,
                 color=_GREY)  # fmt: skip


def _matrix_body(page: _Page, top: float, bottom: float, soutiens) -> None:
    """Draw the supports counted per kind (rows) and level (columns)."""
    k, m = page.k, page.margin
    table = matrice(soutiens).pivot_table(
        index="Type de soutien", columns="niveau", values="Soutiens", aggfunc="sum"
    )
    table = table.reindex(index=list(TYPES_SOUTIEN), columns=list(NIVEAUX))
    table = table.fillna(0).astype(int)
    size = 12.5 * k
    page.put(m, top, "Nombre de soutiens recensés dans l'atlas, par nature du "
             "soutien et niveau de collectivité", fontsize=size, color=_GREY,
             fit=page.width - 2 * m)  # fmt: skip
    top -= _height(1, size) + 0.12 * k
    label_w = 4.6 * k
    columns = [NIVEAU_LABELS[n] for n in NIVEAUX] + ["Total"]
    cell_w = min(1.7 * k, (page.width - 2 * m - label_w) / len(columns))
    n_rows = len(TYPES_SOUTIEN) + 2  # header, kinds, total
    cell_h = min(0.5 * k, (top - bottom) / n_rows)
    size = min(13 * k, cell_h * 72 / 1.9)
    top_value = max(int(table.to_numpy().max()), 1)
    cmap = mpl.colormaps["Blues"]
    gap = 0.03 * k

    def cell(x, y, text, face, *, bold=False, color=_INK):
        page.box(x + gap, y - cell_h + gap, cell_w - 2 * gap, cell_h - 2 * gap,
                 facecolor=face)  # fmt: skip
        page.put(x + cell_w / 2, y - cell_h / 2, text, fontsize=size, ha="center",
                 va="center", color=color,
                 fontweight="bold" if bold else "normal")  # fmt: skip

    y = top
    for j, name in enumerate(columns):
        page.put(m + label_w + (j + 0.5) * cell_w, y - cell_h / 2, name,
                 fontsize=size, fontweight="bold", ha="center", va="center",
                 fit=cell_w - 0.05)  # fmt: skip
    y -= cell_h
    for kind in TYPES_SOUTIEN:
        label = libelle(kind)
        label = label[:1].upper() + label[1:]
        page.put(m, y - cell_h / 2, label, fontsize=size, va="center",
                 fit=label_w - 0.15 * k)  # fmt: skip
        values = [int(table.at[kind, n]) for n in NIVEAUX]
        for j, value in enumerate(values):
            if value:
                share = value / top_value
                face = mpl.colors.to_hex(cmap(0.18 + 0.72 * share))
                color = "white" if share > 0.55 else _INK
                cell(m + label_w + j * cell_w, y, str(value), face, color=color)
            else:
                cell(m + label_w + j * cell_w, y, "0", _ZERO, color="#aaaaaa")
        cell(m + label_w + len(NIVEAUX) * cell_w, y, str(sum(values)), "white",
             bold=True)  # fmt: skip
        y -= cell_h
    page.put(m, y - cell_h / 2, "Total", fontsize=size, fontweight="bold",
             va="center")  # fmt: skip
    for j, n in enumerate(NIVEAUX):
        cell(m + label_w + j * cell_w, y, str(int(table[n].sum())), "white",
             bold=True)  # fmt: skip
    cell(m + label_w + len(NIVEAUX) * cell_w, y, str(int(table.to_numpy().sum())),
         "white", bold=True)  # fmt: skip


def _ways_body(page: _Page, top: float, bottom: float, soutiens) -> None:
    """Draw the ways to support a PTCE, and the supports counted per kind."""
    k, m = page.k, page.margin
    inner = page.width - 2 * m
    left_w, right_w = inner * 0.56, inner * 0.38
    available = top - bottom
    # Left column: numbered list, the largest type that fits.
    for size in (16, 15, 14, 13, 12, 11, 10, 9):
        fs = size * k
        blocks = [_lines(w, left_w - 0.45 * k, fs, 4) for w in WAYS_TO_SUPPORT]
        needed = sum(_height(len(b), fs) + 0.14 * k for b in blocks)
        if needed <= available:
            break
    y = top
    for i, lines in enumerate(blocks, start=1):
        page.put(m, y, f"{i}.", fontsize=fs, fontweight="bold", color=_ACCENT)
        for line in lines:
            page.put(m + 0.4 * k, y, line, fontsize=fs, fit=left_w - 0.45 * k)
            y -= _height(1, fs)
        y -= 0.14 * k
    # Right column: supports counted per kind, as bars.
    x = m + inner - right_w
    counts = support_counts(soutiens)
    title_size = 12.5 * k
    page.put(x, top, "Dans l'atlas, soutiens recensés par nature",
             fontsize=title_size, fontweight="bold", fit=right_w)  # fmt: skip
    y = top - _height(1, title_size) - 0.1 * k
    step = min(0.55 * k, (y - bottom) / max(len(counts), 1))
    label_size = min(11 * k, step * 72 / 2.9)
    bar_h = min(0.2 * k, step - _height(1, label_size) - 0.16 * k)
    most = max(max(counts.values()), 1)
    number_w = 0.6 * k
    for kind, count in counts.items():
        label = libelle(kind)
        label = label[:1].upper() + label[1:]
        page.put(x, y, label, fontsize=label_size, fit=right_w)
        bar_y = y - _height(1, label_size) - 0.03 * k - bar_h
        length = (right_w - number_w) * count / most
        page.box(x, bar_y, right_w - number_w, bar_h, facecolor=_ZERO)
        if count:
            page.box(x, bar_y, length, bar_h, facecolor=_BAR)
        page.put(x + right_w, bar_y + bar_h / 2, str(count), fontsize=label_size,
                 fontweight="bold", ha="right", va="center")  # fmt: skip
        y -= step


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def _figure(vue: Vue, selection: Frames, faits: Sequence[Fait], size, dpi, when):
    """Build the figure of a vue: header, body of its genre, footer."""
    page = _Page(size, dpi)
    top = _header(page, vue, len(selection.ptce))
    bottom = _footer(page, vue_source_line(vue, selection, faits), when)
    if vue.genre == "chiffres":
        _figures_body(page, top, bottom, figures_of(faits, vue.sujets))
    elif vue.genre == "matrice":
        _matrix_body(page, top, bottom, selection.soutiens)
    elif vue.genre == "soutenir":
        _ways_body(page, top, bottom, selection.soutiens)
    else:
        _map_body(page, top, bottom, vue, selection, when)
    return page.fig


def _map_body(page: _Page, top, bottom, vue: Vue, selection, when) -> None:
    """Draw the vue's map as the Présentation shows it: one description."""
    m = page.margin
    draw_map(
        page.fig,
        (m, bottom, page.width - 2 * m, top - bottom),
        selection,
        describe_vue(vue, selection, when),
    )


def slide_figure(
    vue: Vue,
    selection: Frames,
    faits: Sequence[Fait],
    *,
    size: tuple[float, float] = SLIDE,
    dpi: int = 144,
    when: date | None = None,
) -> Figure:
    """Return the figure :func:`slide` saves (same parameters).

    For tests and callers that read what was drawn: a map vue's axes have
    the ``gid`` ``"atlas-map"`` (extent in Lambert-93 metres).
    """
    return _figure(vue, selection, faits, size, dpi, when or date.today())


def _render(vue, selection, faits, fmts, size, dpi, when) -> dict[str, bytes]:
    """Render a vue once per format (the figure is built only once)."""
    fig: Figure = _figure(vue, selection, faits, size, dpi, when)
    return {fmt: save_figure(fig, fmt, dpi, vue.titre) for fmt in fmts}


@offloadable
def slide(
    vue: Vue,
    selection: Frames,
    faits: Sequence[Fait],
    *,
    fmt: str = "png",
    size: tuple[float, float] = SLIDE,
    dpi: int = 144,
    when: date | None = None,
) -> bytes:
    """Render one vue of a récit as a 16:9 slide.

    Parameters
    ----------
    vue : lib.domain.recits.Vue
        The vue; its ``genre`` says what the slide shows: a map
        (``"carte"``, drawn by :func:`lib.rendering.print.static_map.draw_map`), the
        sourced figures and the notes where sources disagree
        (``"chiffres"``), the level × kind matrix of supports
        (``"matrice"``), or the ways to support a PTCE with the supports
        counted per kind (``"soutenir"``).
    selection : Frames
        The PTCE of the vue, already filtered by the caller (with
        ``vue.filters()``).
    faits : sequence of Fait
        Every sourced figure (:meth:`lib.store.ptce.Store.faits`); the vue keeps
        those of its ``sujets``.
    fmt : {"png", "pdf"}
        Output format; PDF keeps text as text.
    size : tuple of float
        Width and height in inches (13.33 × 7.5, a 16:9 slide, by default).
    dpi : int
        Resolution: 144 dpi gives a 1920 × 1080 PNG at the default size.
    when : datetime.date, optional
        Date printed on the slide (today by default).

    Returns
    -------
    bytes
        The file's content. Every slide shows the vue's title and text, its
        number of PTCE ("N PTCE"), its source line (``vue.source``, else
        :data:`lib.rendering.print.static_map.SOURCE`) and the date.

    Raises
    ------
    ValueError
        For an unknown format.
    """
    if fmt not in SLIDE_FORMATS:
        raise ValueError(
            f"format inconnu : {fmt!r} (attendu : {', '.join(SLIDE_FORMATS)})"
        )
    when = when or date.today()
    return _render(vue, selection, faits, (fmt,), size, dpi, when)[fmt]


def _slug(text: str, fallback: str) -> str:
    """ASCII slug of ``text`` (60 characters at most), ``fallback`` if empty."""
    if not any(ch.isascii() and ch.isalnum() for ch in fold(text or "")):
        return fallback  # slugify would answer "ptce"
    return slugify(text)[:60].strip("-") or fallback


def slide_names(story: Recit) -> list[str]:
    """Return the file names of the PNG slides of a récit, in order.

    Parameters
    ----------
    story : lib.domain.recits.Recit
        The récit.

    Returns
    -------
    list of str
        ``"01-les-ptce-en-pays-de-la-loire.png"``…: the position (at least two
        digits) and the slug of the title, lower-case ASCII letters, digits
        and dashes only (never ``/`` nor ``..``).
    """
    digits = max(2, len(str(len(story.vues))))
    return [
        f"{i:0{digits}d}-{_slug(vue.titre, 'vue')}.png"
        for i, vue in enumerate(story.vues, start=1)
    ]


def pdf_name(story: Recit) -> str:
    """Return the safe file name of a récit's PDF: ``"<récit id>.pdf"``."""
    return f"{_slug(story.id, 'recit')}.pdf"


def recit_zip(
    story: Recit,
    selections: Callable[[Vue], Frames],
    faits: Sequence[Fait],
    *,
    when: date | None = None,
    dpi: int = 144,
) -> bytes:
    """Export a récit as a ZIP of PNG slides plus one PDF of all the vues.

    Parameters
    ----------
    story : lib.domain.recits.Recit
        The récit to export.
    selections : callable
        ``vue -> Frames``: the PTCE of a vue, filtered by the caller
        (typically ``lambda vue: frames.filtered(vue.filters())``).
    faits : sequence of Fait
        Every sourced figure (:meth:`lib.store.ptce.Store.faits`).
    when : datetime.date, optional
        Date printed on the slides and stamped on the ZIP entries (today by
        default).
    dpi : int
        Resolution of the PNG slides (144: 1920 × 1080).

    Returns
    -------
    bytes
        A ZIP holding ``01-<slug>.png``, ``02-<slug>.png``… (one per vue, see
        :func:`slide_names`) and ``<récit id>.pdf`` (:func:`pdf_name`), a
        PDF with one vector page per vue, in order. Same inputs and ``when``
        give the same bytes.
    """
    when = when or date.today()
    # The selections are made here (the callable may read the app's caches);
    # the drawing, in a worker inside lib.worker.offloading().
    return _recit_zip(story, [selections(vue) for vue in story.vues], faits,
                      when, dpi)  # fmt: skip


@offloadable
def _recit_zip(story: Recit, frames: Sequence[Frames], faits, when: date, dpi):
    """Build the ZIP of :func:`recit_zip` from the selections of the vues."""
    stamp = (max(when.year, 1980), when.month, when.day, 0, 0, 0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)

        names = slide_names(story)
        with PdfDocument(story.titre) as document:
            for vue, selection, name in zip(story.vues, frames, names, strict=True):
                fig = _figure(vue, selection, faits, SLIDE, dpi, when)
                add(name, save_figure(fig, "png", dpi, vue.titre))
                document.add(fig)
        add(pdf_name(story), document.data)
    return buffer.getvalue()
