"""Static maps for print and slides, rendered on the server (no browser).

:func:`render_map` draws the current view of the Carte page (choropleth of
départements or EPCI with the app's own classes and legend, PTCE coloured by
main filière, département outlines, scale bar, sources and date) as PNG, SVG
or PDF; :func:`render_fiche_territoire` lays out the one-page A4 fiche of an
EPCI, a département or a région. Both use matplotlib's object API
(:class:`matplotlib.figure.Figure` on the Agg canvas), never pyplot's global
state, so they can run in Streamlit's threads. Maps are drawn in Lambert-93
(EPSG:2154) so that distances, and the scale bar, are metric.

Every string is drawn as plain text: mathtext is off for all of them, so a PTCE
named ``"Café $x$"`` reads literally. PDF and SVG keep the text as text
(TrueType fonts in PDF, ``<text>`` elements in SVG), so it can be searched,
copied and extracted.
"""

# size: the drawing kit (Lambert-93 projection, measured text, legend column,
# footer, save) and its two users, the Carte map and the A4 fiche territoire;
# moving the fiche out would import a dozen private helpers. 62 functions.

from __future__ import annotations

import contextlib
import functools
import io
import math
import threading
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
import shapely
import shapely.affinity
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from geo.boundaries import ATTRIBUTION, in_region, load_boundaries
from lib import fr
from lib.analysis.choropleth import EMPTY_COLOR, METHODS, OUTSIDE_COLOR, OUTSIDE_HATCH
from lib.domain.model import slugify
from lib.domain.selection import Frames
from lib.rendering.framing import INSETS, display_geometry, inset_of, to_display
from lib.rendering.palette import (
    CLUSTER_FILL,
    CLUSTER_INK,
    FILIERE_COLORS,
    HALO_DARK,
    HALO_LIGHT,
    LEVEL_COLORS,
    LEVEL_DASH,
    LEVEL_WEIGHT,
    LINE_CASING,
)
from lib.rendering.vue import ACTION_INK, HIGHLIGHT, OUTLINE_INK, Key, MapSpec, describe
from lib.worker import offloadable

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

#: Output formats of the exports.
FORMATS = ("png", "svg", "pdf")
#: Lambert-93, the metric projection of metropolitan France.
LAMBERT93 = 2154
#: Default figure size in inches: a 16:9 slide.
SLIDE = (13.33, 7.5)
#: A4 portrait in inches.
A4 = (210 / 25.4, 297 / 25.4)
#: Sources line printed under every export.
SOURCE = (
    "Sources : base Atlas des PTCE (CRESS, collectivités, sources publiques "
    "citées par fiche) ; " + ATTRIBUTION
)
#: Labels of the map grids (mailles).
MAILLE_LABELS = {"departement": "département", "epci": "EPCI"}

_FONT = "DejaVu Sans"
_INK = "#222222"
_GREY = "#666666"
_CONTEXT = "#f3f3f3"
#: Hatch of the territories outside the selection (as on the Carte).
_HATCH = "////"
__all__ = [
    "A4",
    "FORMATS",
    "LAMBERT93",
    "MAILLE_LABELS",
    "SLIDE",
    "SOURCE",
    "MapKeys",
    "PdfDocument",
    "describe_view",
    "draw_map",
    "export_filename",
    "filters_subtitle",
    "format_date",
    "format_km",
    "map_figure",
    "new_figure",
    "plain_text",
    "point_marks",
    "render_fiche_territoire",
    "render_map",
    "save_figure",
    "scale_length_km",
    "text_width",
    "wrap_text",
]

# rc_context changes matplotlib's global parameters: savefig calls hold this
# lock so that two sessions exporting at once do not see each other's values.
_RC_LOCK = threading.RLock()  # re-entered: PNG pages saved inside a PdfDocument


# --------------------------------------------------------------------------
# Small helpers (public: tested and reused by pages)
# --------------------------------------------------------------------------


def format_date(when: date) -> str:
    """Return a date the French way: ``"27 novembre 2026"``, ``"1er mai 2026"``.

    Parameters
    ----------
    when : datetime.date
        The date.

    Returns
    -------
    str
        Day (``1er`` for the first), month name and year (:func:`lib.fr.date`).
    """
    return fr.date(when)


def export_filename(title: str, fmt: str, when: date | None = None) -> str:
    """Return a safe ASCII file name for an export.

    Parameters
    ----------
    title : str
        Title of the export, e.g. ``"Pays de la Loire"``.
    fmt : str
        The extension, one of :data:`FORMATS`.
    when : datetime.date, optional
        Date of the export (today by default).

    Returns
    -------
    str
        ``"atlas-ptce-pays-de-la-loire-2026-11-27.png"``: lower-case ASCII
        letters, digits and dashes only, the title cut to 60 characters.
    """
    when = when or date.today()
    ext = "".join(ch for ch in fmt.lower() if ch.isascii() and ch.isalnum()) or "bin"
    slug = slugify(title or "")
    if slug == "ptce":  # slugify's fallback for an empty name
        slug = ""
    slug = slug.removeprefix("atlas-des-ptce").removeprefix("atlas-ptce").strip("-")
    slug = slug[:60].rstrip("-")
    stem = "-".join(part for part in ("atlas-ptce", slug, when.isoformat()) if part)
    return f"{stem}.{ext}"


def scale_length_km(width_m: float, fraction: float = 0.2) -> float:
    """Return a round scale-bar length close to a fraction of the map width.

    Parameters
    ----------
    width_m : float
        Width of the map in metres (Lambert-93 units).
    fraction : float
        Wanted share of the width, 1/5 by default.

    Returns
    -------
    float
        The length in km among 1, 2, 5 × 10^k (… 0.5, 1, 2, 5, 10, 20, 50,
        100, 200 …) nearest, on a log scale, to ``width_m * fraction``.
    """
    if not width_m > 0 or not fraction > 0:
        raise ValueError("la largeur de la carte doit être positive")
    target = width_m * fraction / 1000
    exponent = math.floor(math.log10(target))
    candidates = [m * 10.0**e for e in (exponent, exponent + 1) for m in (1, 2, 5)]
    best = min(candidates, key=lambda v: abs(math.log(v / target)))
    return float(f"{best:.6g}")


def format_km(km: float) -> str:
    """Format a scale-bar length: ``"50 km"``, ``"0,5 km"``."""
    text = f"{km:g}".replace(".", ",")
    return f"{text} km"


def filters_subtitle(filters, ref=None) -> str:
    """Return the active filters of the explorer as one subtitle line.

    Parameters
    ----------
    filters : lib.domain.selection.Filters
        The current filters.
    ref : geo.reference.Reference, optional
        The COG reference.

    Returns
    -------
    str
        ``"Région : Pays de la Loire · Filières : culture"``.
    """
    return " · ".join(filters.active(ref))


# --------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _projected(level: str, detail: str, region: str | None) -> gpd.GeoDataFrame:
    """Boundaries of one level in Lambert-93, for France or one région."""
    gdf = load_boundaries(level, detail)
    if region:
        gdf = in_region(gdf, level, region)
    wanted = ("code", "nom", "population", "epci", "departements")
    keep = [c for c in wanted if c in gdf.columns]
    out = gdf[[*keep, "geometry"]].to_crs(LAMBERT93)
    return out.reset_index(drop=True)


@functools.lru_cache(maxsize=8)
def _composite(level: str) -> gpd.GeoDataFrame:
    """Boundaries of France entière in Lambert-93, overseas moved into insets.

    The same insets as the interactive map (:mod:`lib.rendering.framing`): what is
    exported is what was shown.
    """
    gdf = load_boundaries(level, "national")
    wanted = ("code", "nom", "population", "epci", "departements")
    keep = [c for c in wanted if c in gdf.columns]
    moved = gpd.GeoSeries(
        [display_geometry(g) for g in gdf.geometry], index=gdf.index, crs=gdf.crs
    )
    out = gpd.GeoDataFrame(gdf[keep], geometry=moved).to_crs(LAMBERT93)
    insets = [inset_of(p.y, p.x) for p in gdf.geometry.representative_point()]
    out["geometry"] = [
        _upright(g, inset) for g, inset in zip(out.geometry, insets, strict=True)
    ]
    return out.reset_index(drop=True)


@functools.lru_cache(maxsize=1)
def _frames_l93() -> dict[str, tuple]:
    """Per inset code: its frame in Lambert-93, the frame's tilt and centre.

    A Mercator frame west of France is tilted in Lambert-93 (meridians
    converge): turned back upright, with its content, the printed insets are
    square with the page.
    """
    frames = gpd.GeoSeries(
        [shapely.box(*inset.frame) for inset in INSETS], crs=3857
    ).to_crs(LAMBERT93)
    out = {}
    for inset, frame in zip(INSETS, frames, strict=True):
        (x0, y0), (x1, y1) = frame.exterior.coords[2], frame.exterior.coords[1]
        # shapely.box runs counter-clockwise from (maxx, miny): 1 is (maxx,
        # maxy), 2 is (minx, maxy): the top edge, west to east.
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        out[inset.code] = (frame, angle, frame.centroid)
    return out


def _upright(geometry, inset):
    """Turn a geometry drawn in an inset (Lambert-93) upright with its frame."""
    if inset is None:
        return geometry
    _, angle, centre = _frames_l93()[inset.code]
    return shapely.affinity.rotate(geometry, -angle, origin=centre)


def _view_box(territories, spec: MapSpec):
    """Bounds (Lambert-93) the map frames, as the Carte does (lib.rendering.web.carte).

    A clicked territory, else the EPCI chosen, else the départements chosen,
    else every territory drawn (the région, or metropolitan France and the
    insets) — the rules of :func:`lib.rendering.vue.view_bounds`.
    """
    if spec.territoire:
        (south, west), (north, east) = spec.bounds
        box = gpd.GeoSeries([shapely.box(west, south, east, north)], crs=4326)
        return box.to_crs(LAMBERT93).total_bounds
    for level, codes in (("epci", spec.epci), ("departement", spec.departements)):
        if not codes:
            continue
        gdf = (
            _composite(level)
            if spec.region is None
            else _projected(level, "national", None)
        )
        rows = gdf[gdf["code"].isin(codes)]
        if len(rows):
            return rows.total_bounds
    return territories.total_bounds


def _inset_frames(ax, k: float) -> None:
    """Draw the overseas insets' frames and names (France entière)."""
    frames = gpd.GeoSeries(
        [_upright(_frames_l93()[i.code][0], i) for i in INSETS], crs=LAMBERT93
    )
    frames.boundary.plot(ax=ax, color="#6b7b88", linewidth=0.5 * k, zorder=1)
    for inset, frame in zip(INSETS, frames, strict=True):
        minx, _, _, maxy = frame.bounds
        plain_text(ax, minx, maxy + 8000, inset.nom, fontsize=7 * k, fontweight="bold",
              color="#333333", va="bottom")  # fmt: skip


def _project_points(ptce: pd.DataFrame, insets: bool = False) -> pd.DataFrame:
    """``x``, ``y`` in Lambert-93 and ``filiere`` of the placed PTCE.

    With ``insets`` (France entière), overseas PTCE are moved into their inset.
    """
    placed = ptce[ptce["lon"].notna() & ptce["lat"].notna()]
    if placed.empty:
        return pd.DataFrame({"x": [], "y": [], "filiere": [], "id": [],
                             "placement": []})  # fmt: skip
    lat, lon = placed["lat"].to_numpy(), placed["lon"].to_numpy()
    where = [inset_of(a, b) for a, b in zip(lat, lon, strict=True)] if insets else []
    if insets:
        drawn = [to_display(a, b) for a, b in zip(lat, lon, strict=True)]
        lat = np.array([d[0] for d in drawn])
        lon = np.array([d[1] for d in drawn])
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(LAMBERT93)
    if any(where):
        points = gpd.GeoSeries(
            [_upright(p, i) for p, i in zip(points, where, strict=True)],
            crs=LAMBERT93,
        )
    return pd.DataFrame(
        {
            "x": points.x.to_numpy(),
            "y": points.y.to_numpy(),
            "filiere": placed["filiere"].fillna("non renseignée").to_numpy(),
            "id": (placed["id"] if "id" in placed else placed.index).to_numpy(),
            "placement": (
                placed["placement"] if "placement" in placed else pd.Series(
                    None, index=placed.index, dtype=object)
            ).to_numpy(),
        }
    )  # fmt: skip


def _fit(bounds, width_in: float, height_in: float, margin: float = 0.03):
    """Expand ``bounds`` to the aspect ratio of an axes box (equal scales)."""
    minx, miny, maxx, maxy = bounds
    dx, dy = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    minx, maxx = minx - dx * margin, maxx + dx * margin
    miny, maxy = miny - dy * margin, maxy + dy * margin
    dx, dy = maxx - minx, maxy - miny
    box = height_in / width_in
    if dy / dx > box:
        grow = (dy / box - dx) / 2
        minx, maxx = minx - grow, maxx + grow
    else:
        grow = (dx * box - dy) / 2
        miny, maxy = miny - grow, maxy + grow
    return minx, miny, maxx, maxy


# --------------------------------------------------------------------------
# Drawing helpers
# --------------------------------------------------------------------------


def plain_text(target, x, y, s, **kwargs):
    """Draw a plain string: mathtext and TeX off, the app's font.

    Parameters
    ----------
    target : matplotlib.figure.Figure or matplotlib.axes.Axes
        Where to draw.
    x, y : float
        Position, in ``target``'s coordinates (or ``transform=``).
    s : object
        The text, drawn literally (``$`` and ``<b>`` included).
    **kwargs
        Passed to ``target.text``.

    Returns
    -------
    matplotlib.text.Text
    """
    kwargs.setdefault("fontfamily", _FONT)
    kwargs.setdefault("color", _INK)
    return target.text(x, y, str(s), parse_math=False, usetex=False, **kwargs)


def wrap_text(
    text: str, width_in: float, size: float, weight: str = "normal"
) -> list[str]:
    """Cut text into lines that fit ``width_in`` inches at ``size`` points.

    Widths are measured with the font the exports draw with (not estimated
    from a number of characters), so no line is wider than ``width_in``
    unless one word alone is (at 144 dpi and more). Nothing is left out.

    Parameters
    ----------
    text : str
        Any text; runs of white space count as one space.
    width_in : float
        Width available, in inches.
    size : float
        Font size in points.
    weight : str
        ``"normal"`` or ``"bold"``.

    Returns
    -------
    list of str
        At least one line (``[""]`` for an empty text).
    """
    words = " ".join(str(text).split()).split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}" if current else word
        # 2 % spare: Agg's hinting draws a little wider than the outlines.
        if not current or text_width(trial, size, weight) * 1.02 <= width_in:
            current = trial
        else:
            lines.append(current)
            current = word
    lines.append(current)
    return lines


def text_width(text: str, size: float, weight: str = "normal") -> float:
    """Return the width in inches of one line drawn by :func:`plain_text`.

    Parameters
    ----------
    text : str
        One line.
    size : float
        Font size in points.
    weight : str
        ``"normal"`` or ``"bold"``.

    Returns
    -------
    float
    """
    return _measure(text, round(size * 4) / 4, weight)


@functools.lru_cache(maxsize=65536)
def _measure(text: str, size: float, weight: str) -> float:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(family=_FONT, size=size, weight=weight)
    width, _, _ = TextToPath().get_text_width_height_descent(text, prop, ismath=False)
    return width / 72


def _number(value: float | None, unit: str = "") -> str:
    """French number: narrow no-break space for thousands, comma for decimals."""
    if value is None or fr.is_missing(value):
        return fr.MISSING
    text = fr.number(value, 0 if float(value).is_integer() else 2)
    return f"{text}\u00a0{unit}" if unit else text


def _scale_bar(ax, xlim, ylim, size: float) -> None:
    """Draw a two-segment scale bar in km at the bottom left of a map."""
    width = xlim[1] - xlim[0]
    height = ylim[1] - ylim[0]
    km = scale_length_km(width)
    length = km * 1000
    x0 = xlim[0] + 0.03 * width
    y0 = ylim[0] + 0.035 * height
    bar = 0.009 * height
    for i, face in enumerate((_INK, "white")):
        ax.add_patch(
            Rectangle(
                (x0 + i * length / 2, y0),
                length / 2,
                bar,
                facecolor=face,
                edgecolor=_INK,
                linewidth=0.6,
                zorder=10,
            )
        )
    plain_text(ax, x0, y0 + bar * 1.8, "0", fontsize=size, ha="center", va="bottom",
          zorder=10)  # fmt: skip
    plain_text(ax, x0 + length, y0 + bar * 1.8, format_km(km), fontsize=size,
          ha="center", va="bottom", zorder=10)  # fmt: skip


class _Column:
    """Legend entries stacked downwards, positioned in inches on a figure."""

    def __init__(self, fig: Figure, x: float, y: float, step: float, size: float):
        self.fig, self.x, self.y, self.step, self.size = fig, x, y, step, size
        self.transform = fig.dpi_scale_trans
        self.width = 3.0

    def _label(self, x, s, gid=None, **kwargs) -> None:
        """Draw a label from ``x``, wrapped to the column; move down past it."""
        size = kwargs.pop("fontsize", self.size)
        lines = wrap_text(s, self.width - (x - self.x), size,
                          kwargs.get("fontweight", "normal"))  # fmt: skip
        plain_text(self.fig, x, self.y, "\n".join(lines), transform=self.transform,
                   va="top", fontsize=size, linespacing=1.15, gid=gid,
                   **kwargs)  # fmt: skip
        self.y -= self.step * (len(lines) - 1) * 0.8

    def header(self, s: str, note: str = "") -> None:
        self.y -= self.step * 0.4
        self._at_top(self.x, s, fontweight="bold")
        self.y -= self.step
        if note:
            self._at_top(self.x, note, color=_GREY, fontsize=self.size * 0.85)
            self.y -= self.step

    def _at_top(self, x, s, **kwargs) -> None:
        # Labels are centred on their key: the first line's top sits half a
        # line above the key's centre.
        size = kwargs.get("fontsize", self.size)
        self.y += size * 1.15 / 72 / 2
        self._label(x, s, **kwargs)
        self.y -= size * 1.15 / 72 / 2

    def remark(self, s: str) -> None:
        self._at_top(self.x, s, color=_GREY, fontsize=self.size * 0.85)
        self.y -= self.step

    def line(self, color: str, s: str, width: float) -> None:
        """Draw a line key ``width`` points wide."""
        self.key(Key("line", color, s, weight=width / 0.6), None, None, 1.0)

    def point(self, color: str, s: str) -> None:
        """Draw a PTCE key."""
        self.key(Key("disc", color, s), None, None, 1.0)

    def key(self, key: Key, gid: str | None, label_gid: str | None, k: float):
        """Draw one legend key (:class:`lib.rendering.vue.Key`) and its label."""
        x, y, step, t = self.x, self.y, self.step, self.transform
        text_x = x + step * 0.87 + 0.1
        if key.kind in ("patch", "hatch"):
            box = step * 0.62
            hatch: dict[str, Any] = (
                {"hatch": _HATCH, "hatchcolor": OUTSIDE_HATCH}
                if key.kind == "hatch"
                else {}
            )
            fill = OUTSIDE_COLOR if key.kind == "hatch" else key.color
            self.fig.add_artist(
                Rectangle((x, y - box / 2), box * 1.4, box, facecolor=fill,
                          edgecolor="#999999", linewidth=0.5, transform=t, gid=gid,
                          **hatch)
            )  # fmt: skip
            text_x = x + box * 1.4 + 0.1
        elif key.kind == "line":
            drawn = Line2D([x, x + step * 0.87], [y, y], color=key.color,
                           linewidth=max(key.weight, 1.0) * 0.6 * k, transform=t,
                           gid=gid)  # fmt: skip
            if key.dash:
                drawn.set_dashes(tuple(float(v) / 2 for v in key.dash.split()))
            self.fig.add_artist(drawn)
        elif key.kind == "outline":
            box = step * 0.62
            self.fig.add_artist(
                Rectangle((x, y - box / 2), step * 0.87, box, facecolor="none",
                          edgecolor=key.color, linewidth=1.0 * k, linestyle="--",
                          transform=t, gid=gid)
            )  # fmt: skip
        elif key.kind == "bubble":
            self.fig.add_artist(
                Line2D([x + step * 0.43], [y], marker="o", color=CLUSTER_INK,
                       markersize=self.size * 1.3, markerfacecolor=key.color,
                       markeredgecolor=CLUSTER_INK, markeredgewidth=0.8,
                       linestyle="", transform=t, gid=gid)
            )  # fmt: skip
            plain_text(self.fig, x + step * 0.43, y, "3", transform=t,
                       fontsize=self.size * 0.6, fontweight="bold", ha="center",
                       va="center", color=CLUSTER_INK)  # fmt: skip
        elif key.kind == "ring":
            self.fig.add_artist(
                Line2D([x + step * 0.43], [y], marker="o", color=key.color,
                       markersize=self.size * 1.1, markerfacecolor="none",
                       markeredgewidth=1.6, linestyle="", transform=t, gid=gid)
            )  # fmt: skip
        else:  # a PTCE ("disc")
            self.fig.add_artist(
                Line2D([x + step * 0.43], [y], marker="o", color=key.color,
                       markersize=self.size * 0.75, markeredgecolor="white",
                       markeredgewidth=0.6, linestyle="", transform=t, gid=gid)
            )  # fmt: skip
        self._at_top(text_x, key.label, gid=label_gid)
        self.y -= step


def new_figure(size: tuple[float, float], dpi: float) -> Figure:
    """Return an Agg figure whose pixel size is exactly ``round(size * dpi)``.

    Parameters
    ----------
    size : tuple of float
        Width and height in inches.
    dpi : float
        Resolution.

    Returns
    -------
    matplotlib.figure.Figure
        White, on its own Agg canvas (no pyplot state).
    """
    # Agg truncates width × dpi: 13.33 × 300 = 3998.9999… would give 3998 px.
    w, h = ((round(v * dpi) + 0.01) / dpi for v in size)
    fig = Figure(figsize=(w, h), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, fmt: str, dpi: float, title: str) -> bytes:
    """Write a figure to bytes, text kept as text in PDF and SVG.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        From :func:`new_figure`.
    fmt : {"png", "svg", "pdf"}
        Output format.
    dpi : float
        Resolution of the PNG (and of rasterised parts).
    title : str
        Title in the file's metadata.

    Returns
    -------
    bytes
        Same figure and arguments give the same bytes (no creation date).
    """
    buffer = io.BytesIO()
    metadata = {
        "png": {"Title": title, "Software": "Atlas des PTCE"},
        "pdf": {"Title": title, "Creator": "Atlas des PTCE", "CreationDate": None},
        "svg": {"Title": title, "Date": None},
    }[fmt]
    with _RC_LOCK, mpl.rc_context(_SAVE_RC):
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    return buffer.getvalue()


_SAVE_RC: dict[RcKeyType, Any] = {
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
    "svg.hashsalt": "atlas-ptce",
}


class PdfDocument:
    """A PDF of several figures, one page each, fonts embedded once.

    Saving each page apart and merging them subsets and embeds the fonts
    once per page (most of the time of a récit's PDF); here they are written
    once for the document. Text stays text (TrueType fonts), as in
    :func:`save_figure`. Use as a context manager; :attr:`data` holds the
    bytes after the block.

    Parameters
    ----------
    title : str
        Title in the document's metadata.
    """

    def __init__(self, title: str):
        self.title = title
        self.data = b""
        self._buffer = io.BytesIO()
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> PdfDocument:
        from matplotlib.backends.backend_pdf import PdfPages

        # The settings are read when the fonts are written, at the end.
        self._stack.enter_context(_RC_LOCK)
        self._stack.enter_context(mpl.rc_context(_SAVE_RC))
        metadata = {"Title": self.title, "Creator": "Atlas des PTCE",
                    "CreationDate": None}  # fmt: skip
        self._pages = self._stack.enter_context(
            PdfPages(self._buffer, metadata=metadata)
        )
        return self

    def add(self, fig: Figure) -> None:
        """Add a figure as the next page."""
        self._pages.savefig(fig)

    def __exit__(self, *exc) -> None:
        self._stack.close()
        self.data = self._buffer.getvalue()


def _check_format(fmt: str, allowed=FORMATS) -> None:
    if fmt not in allowed:
        raise ValueError(f"format inconnu : {fmt!r} (attendu : {', '.join(allowed)})")


def _footer(
    fig: Figure, width: float, size: float, when: date, margin: float, source: str
):
    """Draw the sources (wrapped) at the bottom left, the date at the right."""
    dated = f"Atlas des PTCE — export du {format_date(when)}"
    room = width - 2 * margin - text_width(dated, size) - 0.3
    lines = wrap_text(source, room, size)
    plain_text(fig, margin, margin * 0.6, "\n".join(lines), fontsize=size, color=_GREY,
          transform=fig.dpi_scale_trans, va="bottom", linespacing=1.35)  # fmt: skip
    plain_text(fig, width - margin, margin * 0.6, dated, fontsize=size, color=_GREY,
          transform=fig.dpi_scale_trans, va="bottom", ha="right")  # fmt: skip
    return margin * 0.6 + len(lines) * size * 1.35 / 72


# --------------------------------------------------------------------------
# Map of the Carte view
# --------------------------------------------------------------------------


# size: 50-line numpy docstring for its 16 keyword parameters (the
# Carte's view); the body is one call to map_figure and save_figure.
@offloadable
def render_map(
    selection: Frames,
    *,
    maille: str = "departement",
    indicateur: str | None = "nombre",
    methode: str = "quantiles",
    region: str | None = "52",
    title: str,
    subtitle: str = "",
    points: bool = True,
    fmt: str = "png",
    size: tuple[float, float] = SLIDE,
    dpi: int = 300,
    when: date | None = None,
    departements: tuple[str, ...] = (),
    epci: tuple[str, ...] = (),
    supports: bool = False,
    highlight: tuple[str, ...] = (),
) -> bytes:
    """Render the current Carte view as a static map.

    Parameters
    ----------
    selection : Frames
        The filtered PTCE (as shown on the Carte page).
    maille : {"departement", "epci"}
        Territories of the choropleth.
    indicateur : str or None
        A key of :data:`lib.analysis.choropleth.INDICATORS`; None draws no choropleth.
    methode : str
        How classes are chosen: a key of :data:`lib.analysis.choropleth.METHODS`.
    region : str or None
        A région code (regional detail), or None for France entière (national
        detail, metropolitan France framed).
    title : str
        Title printed at the top (wrapped, never cut).
    subtitle : str
        Next lines, e.g. the active filters (:func:`filters_subtitle`).
    points : bool
        Draw the PTCE, coloured by main filière; PTCE at the same place are
        all drawn, side by side around it (see :func:`point_marks`).
    fmt : {"png", "svg", "pdf"}
        Output format.
    size : tuple of float
        Width and height in inches (16:9 slide by default).
    dpi : int
        Resolution of the PNG (and of the rasterised parts of other formats).
    when : datetime.date, optional
        Date printed on the map (today by default).
    departements, epci : tuple of str
        The territorial filters: territories they leave out are hatched and
        counted apart (« hors sélection »), as on the Carte.
    supports : bool
        Draw « qui soutient qui »: the outline of each supporting
        collectivité and a line to each PTCE it supports, in the ink of its
        level (:data:`lib.rendering.palette.LEVEL_COLORS`).
    highlight : tuple of str
        Ids of PTCE ringed in red, as in the Présentation.

    Returns
    -------
    bytes
        The file's content.

    Raises
    ------
    ValueError
        For an unknown format, grid, indicator or classification method.
    """
    fig = map_figure(
        selection,
        maille=maille,
        indicateur=indicateur,
        methode=methode,
        region=region,
        title=title,
        subtitle=subtitle,
        points=points,
        fmt=fmt,
        size=size,
        dpi=dpi,
        when=when,
        departements=departements,
        epci=epci,
        supports=supports,
        highlight=highlight,
    )
    return save_figure(fig, fmt, dpi, title)


def map_figure(
    selection: Frames,
    *,
    title: str,
    subtitle: str = "",
    fmt: str = "png",
    size: tuple[float, float] = SLIDE,
    dpi: int = 300,
    when: date | None = None,
    spec: MapSpec | None = None,
    **view,
) -> Figure:
    """Return the figure :func:`render_map` saves (same parameters).

    Tests and callers that need the drawn artists (the points, the map's
    extent) read them here; ``view`` holds the parameters of
    :func:`describe_view`, used when no ``spec`` is given.
    """  # fmt: skip
    _check_format(fmt)
    if spec is None:
        spec = describe_view(selection, title=title, subtitle=subtitle, when=when,
                             **view)  # fmt: skip
    when = spec.when
    width, height = size
    k = max(0.6, min(width / SLIDE[0], height / SLIDE[1]))
    margin = 0.35 * k
    fig = new_figure(size, dpi)
    # Title block: wrapped, never cut.
    top = height - margin
    inner = width - 2 * margin
    lines = wrap_text(spec.title, inner, 20 * k, "bold")
    plain_text(fig, margin, top, "\n".join(lines), fontsize=20 * k,
               fontweight="bold", va="top", linespacing=1.2,
               transform=fig.dpi_scale_trans)  # fmt: skip
    top -= 20 * k * 1.2 * len(lines) / 72 + 0.08 * k
    if spec.subtitle:
        lines = wrap_text(spec.subtitle, inner, 11 * k)
        plain_text(fig, margin, top - 0.04, "\n".join(lines), fontsize=11 * k,
                   va="top", color=_GREY, linespacing=1.3,
                   transform=fig.dpi_scale_trans)  # fmt: skip
        top -= 11 * k * 1.3 / 72 * len(lines) + 0.04
    bottom = _footer(fig, width, 7 * k, when, margin, spec.source_line()) + 0.1 * k
    draw_map(fig, (margin, bottom, inner, top - 0.15 - bottom), selection, spec)
    return fig


def describe_view(
    selection: Frames,
    *,
    maille: str = "departement",
    indicateur: str | None = "nombre",
    methode: str = "quantiles",
    region: str | None = "52",
    points: bool = True,
    departements: tuple[str, ...] = (),
    epci: tuple[str, ...] = (),
    supports: bool = False,
    highlight: tuple[str, ...] = (),
    **more,
) -> MapSpec:
    """Describe a view given as :func:`render_map`'s parameters.

    Parameters
    ----------
    selection : Frames
    maille, indicateur, methode, region, points, departements, epci, supports,
    highlight
        As for :func:`render_map`.
    **more
        ``title``, ``subtitle``, ``when``, ``territoire``, ``sources``: as for
        :func:`lib.rendering.vue.describe`.

    Returns
    -------
    MapSpec
    """
    if maille not in MAILLE_LABELS:
        raise ValueError(f"maille inconnue : {maille!r}")
    if methode not in METHODS:
        raise ValueError(f"méthode inconnue : {methode!r}")
    couches = [
        name
        for name, drawn in (
            ("ptce", points),
            ("choro", indicateur is not None),
            ("soutiens", supports),
        )
        if drawn
    ]
    return describe(
        selection,
        region=region,
        maille=maille,
        indicateur=indicateur,
        methode=methode,
        couches=couches,
        departements=departements,
        epci=epci,
        highlight=highlight,
        **more,
    )


@dataclass
class MapKeys:
    """What :func:`draw_map` drew, for tests.

    Attributes
    ----------
    axes : matplotlib.axes.Axes
        The map (``gid`` ``"atlas-map"``), in Lambert-93 metres.
    spec : MapSpec
        The description drawn.
    marks : pandas.DataFrame
        The PTCE marks drawn (see :func:`point_marks`).
    """

    axes: object
    spec: MapSpec
    marks: pd.DataFrame | None = None


def draw_map(
    fig: Figure,
    box: tuple[float, float, float, float],
    selection: Frames,
    spec: MapSpec | None = None,
    *,
    legend_share: float = 0.27,
    **view,
) -> MapKeys:
    """Draw a map vue and its legend in a box of a figure.

    The map takes the left of the box, the legend its right: the sections
    of ``spec`` (:mod:`lib.rendering.vue`), key for key as on the screen. The map
    frames what the Carte frames (:attr:`lib.rendering.vue.MapSpec.bounds`).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        From :func:`new_figure`.
    box : tuple of float
        ``(left, bottom, width, height)`` in inches.
    selection : Frames
        The filtered PTCE.
    spec : MapSpec, optional
        What to draw; else described from ``view`` (:func:`describe_view`).
    legend_share : float
        Share of the box's width given to the legend.
    **view
        As for :func:`describe_view`, when ``spec`` is not given.

    Returns
    -------
    MapKeys
        The axes and what was drawn.
    """
    if spec is None:
        spec = describe_view(selection, **view)
    region, maille = spec.region, spec.maille
    detail = "regional" if region else "national"
    width, height = fig.get_size_inches()
    k = max(0.6, min(width / SLIDE[0], height / SLIDE[1]))
    left, bottom, box_w, box_h = box

    territories = _projected(maille, detail, region) if region else _composite(maille)
    legend_width = max(2.6 * k, box_w * legend_share)
    map_box = (left, bottom, box_w - legend_width, box_h)
    ax = fig.add_axes(
        (map_box[0] / width, map_box[1] / height, map_box[2] / width,
         map_box[3] / height)
    )  # fmt: skip
    ax.set_gid("atlas-map")
    ax.set_axis_off()
    # A small margin: the extent stays within a few percent of the screen's.
    minx, miny, maxx, maxy = _fit(_view_box(territories, spec), map_box[2],
                                  map_box[3], margin=0.02)  # fmt: skip

    _draw_territories(ax, spec, territories, (minx, miny, maxx, maxy), k)
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    per_inch = (maxx - minx) / map_box[2]  # metres per inch of paper

    keys = MapKeys(axes=ax, spec=spec)
    if spec.territories is not None:
        _draw_outlines(ax, spec.territories, ACTION_INK, 1.0 * k, spec.insets,
                       dashes=(3, 2), zorder=3.4)  # fmt: skip
    if spec.supports is not None or spec.links:
        _draw_supports(ax, spec, k)
    if spec.points:
        keys.marks = _draw_ptce(ax, selection, spec, (minx, miny, maxx, maxy),
                                per_inch, k)  # fmt: skip
    _scale_bar(ax, (minx, maxx), (miny, maxy), 8 * k)
    if spec.insets:
        _inset_frames(ax, k)
        plain_text(ax, maxx - 0.01 * (maxx - minx), miny + 0.02 * (maxy - miny),
                   "Outre-mer en encarts, à d'autres échelles", fontsize=7 * k,
                   color=_GREY, ha="right", va="bottom")  # fmt: skip
    _draw_legend(fig, spec, (left + box_w - legend_width, bottom, legend_width, box_h),
                 map_box[3], k)  # fmt: skip
    return keys


def _draw_territories(ax, spec: MapSpec, territories, bounds, k: float) -> None:
    """Draw the context, the territories (choropleth or plain) and the outlines."""
    region, maille = spec.region, spec.maille
    detail = "regional" if region else "national"
    minx, miny, maxx, maxy = bounds
    choro = spec.choropleth
    outlines = (
        _projected("departement", detail, region)
        if region
        else _composite("departement")
    )
    if region:
        # Neighbouring départements in light grey, for context.
        context = _projected("departement", "regional", None).cx[minx:maxx, miny:maxy]
        context.plot(ax=ax, color=_CONTEXT, edgecolor="#d4d4d4", linewidth=0.4 * k,
                     zorder=1)  # fmt: skip
    edge = 0.25 if maille == "epci" else 0.4
    if choro is not None:
        hatched = territories["code"].isin(choro.outside)
        inside = territories[~hatched]
        if len(inside):
            inside.plot(
                ax=ax,
                color=choro.colors.reindex(inside["code"]).fillna(EMPTY_COLOR).tolist(),
                edgecolor="white",
                linewidth=edge * k,
                zorder=2,
            )
        if hatched.any():
            # Outside the selection: hatched as on the Carte, grey borders.
            territories[hatched].plot(
                ax=ax,
                facecolor=OUTSIDE_COLOR,
                edgecolor="#c8c8c8",
                hatch=_HATCH,
                hatchcolor=OUTSIDE_HATCH,
                linewidth=edge * k,
                zorder=2,
            )
    else:
        territories.plot(ax=ax, color=EMPTY_COLOR, edgecolor="white",
                         linewidth=edge * k, zorder=2)  # fmt: skip
    outlines.boundary.plot(ax=ax, color=OUTLINE_INK, linewidth=0.8 * k, zorder=3)


def _draw_ptce(
    ax, selection: Frames, spec: MapSpec, bounds, per_inch: float, k: float
) -> pd.DataFrame:
    """Draw the PTCE (points or bubbles) and their rings; return the marks."""
    minx, miny, maxx, maxy = bounds
    placed = _project_points(selection.ptce, insets=spec.insets)
    inside = placed[placed["x"].between(minx, maxx) & placed["y"].between(miny, maxy)]
    if spec.aggregated:
        marks = _draw_bubbles(ax, selection, spec.insets, per_inch, k)
    else:
        marks = _draw_points(ax, inside, per_inch, k)
        # Placed at a chef-lieu, the seat unknown: a dotted circle, as on
        # the Carte.
        rough = inside[inside["placement"].isin(("département", "région"))]
        rough = rough.drop_duplicates(["x", "y"])
        ax.scatter(rough["x"], rough["y"], s=(17 * k) ** 2, facecolors="none",
                   edgecolors=HALO_DARK, linewidths=0.9 * k, linestyles=":",
                   zorder=4.5, gid="ptce-approximate")  # fmt: skip
    if spec.highlight:
        rings = inside[inside["id"].isin(spec.highlight)]
        ax.scatter(rings["x"], rings["y"], s=(22 * k) ** 2, facecolors="none",
                   edgecolors=HIGHLIGHT, linewidths=2.2 * k, zorder=7,
                   gid="ptce-highlight")  # fmt: skip
    return marks


def _draw_legend(fig: Figure, spec: MapSpec, box, map_height: float, k: float):
    """Draw the legend of ``spec`` in a column; every key has a ``gid``.

    Key ``i`` (in :meth:`lib.rendering.vue.MapSpec.legend_entries` order) is drawn
    with ``gid`` ``legend-key-<i>`` and its label ``legend-label-<i>``, so
    that the SVG export can be read back.
    """
    left, bottom, legend_width, box_h = box
    inner = legend_width - 0.2 * k
    # Lines the legend takes: titles, notes, keys (long labels wrap).
    base = min(10 * k, 0.27 * k * 72 / 1.55)
    lines = 0.0
    for section in spec.sections:
        lines += 1.4 + (1 if section.note else 0) + (1 if section.footnote else 0)
        for key in section.keys:
            lines += len(wrap_text(key.label, inner - 0.45 * k, base))
    step = min(0.27 * k, (map_height - 0.1) / max(lines, 1))
    size_pt = min(10 * k, step * 72 / 1.55)
    column = _Column(fig, left + 0.15 * k, bottom + box_h, step, size_pt)
    column.width = inner
    index = 0
    for section in spec.sections:
        column.header(section.title, section.note)
        for key in section.keys:
            column.key(key, f"legend-key-{index}", f"legend-label-{index}", k)
            index += 1
        if section.footnote:
            column.remark(section.footnote)


#: Most PTCE drawn side by side around their place; more make one bubble.
_RING_MOST = 8


def point_marks(placed: pd.DataFrame, radius: float) -> pd.DataFrame:
    """Return where each PTCE mark is drawn, PTCE at one place not hidden.

    PTCE closer than a mark's diameter share a place (most are placed at the
    chef-lieu of their commune). Up to eight are drawn side by side on a
    small circle around it, each in its filière's colour; more become one
    white bubble holding their number, as the Carte's clusters.

    Parameters
    ----------
    placed : pandas.DataFrame
        ``x``, ``y`` (metres) and ``filiere`` of the PTCE.
    radius : float
        Radius of one mark, in the same units as ``x`` and ``y``.

    Returns
    -------
    pandas.DataFrame
        One row per mark: ``x``, ``y``, ``color`` (None for a bubble),
        ``count`` (1 for a PTCE, N for a bubble), ``cx``, ``cy`` (the place).
        ``count`` sums to the number of rows of ``placed``.
    """
    columns = ["x", "y", "color", "count", "cx", "cy"]
    if placed.empty:
        return pd.DataFrame(columns=columns)
    cell = max(radius * 2, 1e-9)
    place = (
        (placed["x"] / cell).round().astype("int64").astype(str)
        + ":"
        + (placed["y"] / cell).round().astype("int64").astype(str)
    )
    known = placed["filiere"].where(placed["filiere"].isin(list(FILIERE_COLORS)),
                                    "autre")  # fmt: skip
    rows = []
    for _, group in placed.assign(_place=place, _color=known.map(FILIERE_COLORS)
                                  ).groupby("_place", sort=True):  # fmt: skip
        cx, cy = float(group["x"].mean()), float(group["y"].mean())
        n = len(group)
        if n == 1:
            rows.append((cx, cy, group["_color"].iloc[0], 1, cx, cy))
        elif n <= _RING_MOST:
            # Marks just touching each other on a circle around the place.
            ring = max(radius * 1.15 / math.sin(math.pi / n), radius * 1.3)
            order = group.sort_values("filiere", key=lambda s: s.map(fr.sort_key))
            for i, color in enumerate(order["_color"]):
                angle = math.pi / 2 - 2 * math.pi * i / n
                rows.append((cx + ring * math.cos(angle), cy + ring * math.sin(angle),
                             color, 1, cx, cy))  # fmt: skip
        else:
            rows.append((cx, cy, None, n, cx, cy))
    return pd.DataFrame(rows, columns=columns)


def _draw_points(ax, placed: pd.DataFrame, per_inch: float, k: float):
    """Draw the PTCE marks (see :func:`point_marks`); return them."""
    n = len(placed)
    marker = 34 if n <= 150 else 14 if n <= 1500 else 5  # area, points²
    area = marker * k * k
    radius = math.sqrt(area) / 2 / 72 * per_inch
    marks = point_marks(placed, radius)
    if marks.empty:
        return marks
    dots = marks[marks["count"] == 1]
    moved = dots[(dots["x"] != dots["cx"]) | (dots["y"] != dots["cy"])]
    for row in moved.itertuples():
        ax.plot([row.cx, row.x], [row.cy, row.y], color=HALO_DARK,
                linewidth=0.4 * k, zorder=4)  # fmt: skip
    if len(moved):
        centres = moved.drop_duplicates(["cx", "cy"])
        ax.scatter(centres["cx"], centres["cy"], s=area * 0.12, c=HALO_DARK,
                   linewidths=0, zorder=4)  # fmt: skip
    ax.scatter(dots["x"], dots["y"], s=area, c=dots["color"].tolist(),
               edgecolors=HALO_LIGHT, linewidths=0.5 * k, zorder=5,
               gid="ptce")  # fmt: skip
    for row in marks[marks["count"] > 1].itertuples():
        label = fr.integer(row.count)
        ax.scatter([row.x], [row.y], s=area * (2.2 + 0.5 * len(label)),
                   c=CLUSTER_FILL, edgecolors=CLUSTER_INK, linewidths=0.8 * k,
                   zorder=6)  # fmt: skip
        plain_text(ax, row.x, row.y, label, fontsize=7 * k, fontweight="bold",
                   ha="center", va="center", color=CLUSTER_INK, zorder=6,
                   gid="ptce-count")  # fmt: skip
    return marks


def _dashes(niveau: str) -> tuple[float, ...] | None:
    """Dash pattern of a level, from the palette's SVG ``stroke-dasharray``."""
    pattern = LEVEL_DASH.get(niveau)
    if not pattern:
        return None
    return tuple(float(v) / 2 for v in pattern.split())


def _draw_outlines(ax, polys, color, width, insets, dashes=None, zorder=3.5):
    """Draw the outlines of territories (lat/lon polygons) in Lambert-93."""
    if insets:
        polys = gpd.GeoDataFrame(
            polys.drop(columns="geometry"),
            geometry=[display_geometry(g) for g in polys.geometry],
            crs=polys.crs,
        )
    shapes = polys.to_crs(LAMBERT93) if polys.crs is not None else polys
    drawn = shapes.boundary.plot(ax=ax, color=color, linewidth=width, zorder=zorder)
    if dashes:
        for line in drawn.collections[-1:]:
            line.set_linestyle((0, dashes))


def _draw_supports(ax, spec: MapSpec, k: float) -> None:
    """Draw « qui soutient qui »: outlines and lines per level, as on the Carte."""
    polys, links = spec.supports, spec.links
    if polys is not None and len(polys):
        for niveau, group in polys.groupby("niveau"):
            _draw_outlines(ax, group, LEVEL_COLORS.get(niveau, _INK), 1.2 * k,
                           spec.insets)  # fmt: skip
    if links:
        ends = pd.DataFrame(
            {
                "lat": [p for link in links for p in (link["from"][0], link["to"][0])],
                "lon": [p for link in links for p in (link["from"][1], link["to"][1])],
            }
        )
        xy = _project_points(ends.assign(filiere=None, id=None), insets=spec.insets)
        for i, link in enumerate(links):
            (x0, y0), (x1, y1) = (
                xy.iloc[2 * i][["x", "y"]],
                xy.iloc[2 * i + 1][["x", "y"]],
            )
            niveau = link["niveau"]
            width = LEVEL_WEIGHT.get(niveau, 2.5) * 0.6 * k
            ax.plot([x0, x1], [y0, y1], color=LINE_CASING, linewidth=width + 1.2 * k,
                    solid_capstyle="round", zorder=3.6)  # fmt: skip
            line = ax.plot([x0, x1], [y0, y1], color=LEVEL_COLORS.get(niveau, _INK),
                           linewidth=width, zorder=3.7, gid="support")[0]  # fmt: skip
            if _dashes(niveau):
                line.set_dashes(_dashes(niveau))


def _draw_bubbles(ax, selection: Frames, insets: bool, per_inch: float, k: float):
    """Draw one bubble per EPCI with its number of PTCE (as the web map)."""
    from lib.analysis.layers import anchors
    from lib.rendering.web.maps import aggregate_rows

    rows = aggregate_rows(selection.ptce, anchors("epci"))
    if not rows:
        return pd.DataFrame(columns=["x", "y", "color", "count", "cx", "cy"])
    table = pd.DataFrame(rows, columns=["lat", "lon", "count", "filiere", "code"])
    xy = _project_points(table.assign(id=None), insets=insets)
    area = 34 * k * k
    for x, y, n in zip(xy["x"], xy["y"], table["count"], strict=True):
        label = fr.integer(int(n))
        ax.scatter([x], [y], s=area * (2.2 + 0.5 * len(label)), c=CLUSTER_FILL,
                   edgecolors=CLUSTER_INK, linewidths=0.8 * k, zorder=6)  # fmt: skip
        plain_text(ax, x, y, label, fontsize=7 * k, fontweight="bold", ha="center",
                   va="center", color=CLUSTER_INK, zorder=6,
                   gid="ptce-count")  # fmt: skip
    x, y = xy["x"].to_numpy(), xy["y"].to_numpy()
    return pd.DataFrame(
        {"x": x, "y": y, "color": None, "count": table["count"].to_numpy(),
         "cx": x, "cy": y}
    )  # fmt: skip


# --------------------------------------------------------------------------
# Fiche territoire (A4)
# --------------------------------------------------------------------------


def _fiche_geometries(niveau: str, code: str):
    """Return the territory, its subdivisions and neighbours in Lambert-93."""
    own = _projected(niveau, "regional", None)
    shape = own[own["code"] == code]
    minx, miny, maxx, maxy = shape.total_bounds
    neighbours = own.cx[minx:maxx, miny:maxy]
    neighbours = neighbours[neighbours["code"] != code]
    if niveau == "epci":
        inner = _projected("commune", "regional", None)
        inner = inner[inner["epci"] == code]
    else:
        inner_level = "departement" if niveau == "region" else "epci"
        inner = _projected(inner_level, "regional", None).cx[minx:maxx, miny:maxy]
        inner = inner[inner.representative_point().within(shape.union_all())]
    return shape, inner, neighbours


_INNER_NAMES = {"epci": "Limite de commune", "departement": "Limite d'EPCI",
                "region": "Limite de département"}  # fmt: skip


def _fiche_map(fig: Figure, box, fiche, k: float) -> list[str]:
    """Map of the territory with its PTCE; return the filières drawn."""
    x, y, w, h = box
    fw, fh = fig.get_size_inches()
    ax = fig.add_axes((x / fw, y / fh, w / fw, h / fh))
    ax.set_gid("atlas-map")
    ax.set_axis_off()
    shape, inner, neighbours = _fiche_geometries(fiche.niveau, fiche.code)
    minx, miny, maxx, maxy = _fit(shape.total_bounds, w, h, margin=0.06)
    neighbours.plot(ax=ax, color=_CONTEXT, edgecolor="#cfcfcf", linewidth=0.4,
                    zorder=1)  # fmt: skip
    shape.plot(ax=ax, color="#e8f1f8", edgecolor="none", zorder=2)
    if len(inner):
        inner.boundary.plot(ax=ax, color="#9fb4c7", linewidth=0.35, zorder=3)
    shape.boundary.plot(ax=ax, color="#253494", linewidth=1.2, zorder=4)
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    placed = _project_points(fiche.ptce)
    _draw_points(ax, placed, (maxx - minx) / w, k)
    _scale_bar(ax, (minx, maxx), (miny, maxy), 7)
    present = set(placed["filiere"])
    return [f for f in FILIERE_COLORS if f in present]


def _fiche_legend(
    fig: Figure, x: float, top: float, width: float, fiche, filieres: list[str]
) -> float:
    """Legend under the fiche's map; return its bottom (inches)."""  # fmt: skip
    step, size = 0.19, 7.5
    column = _Column(fig, x, top - 0.05, step, size)
    column.width = width
    column.line("#253494", f"Limite : {fiche.nom}", 1.2)
    column.line("#9fb4c7", _INNER_NAMES[fiche.niveau], 0.6)
    if filieres:
        column.header("PTCE (filière principale)")
        per_row = 2 if width > 3 else 1
        col_w = width / per_row
        for i in range(0, len(filieres), per_row):
            y = column.y
            for j, filiere in enumerate(filieres[i : i + per_row]):
                column.x = x + j * col_w
                column.y = y
                column.width = col_w
                column.point(FILIERE_COLORS[filiere], filiere)
            column.x, column.width = x, width
        column.remark("Au même lieu : côte à côte autour du point.")
    return column.y


def _cell(text, width: float, size: float, most: int = 2) -> list[str]:
    """Wrap a table cell in at most ``most`` lines, the last ended by « … »."""
    lines = wrap_text(fr.text(text), width, size)
    wide = [text_width(line, size) > width for line in lines[:most]]
    if any(wide):  # a word wider than the column: cut there
        most = wide.index(True) + 1
    elif len(lines) <= most:
        return lines
    kept, rest = lines[: most - 1], " ".join(lines[most - 1 :])
    words = rest.split(" ")
    while len(words) > 1 and text_width(" ".join(words) + "…", size) > width:
        words.pop()
    last = " ".join(words)
    while len(last) > 1 and text_width(last + "…", size) > width:
        last = last[:-1]
    return [*kept, last.rstrip(" ,;:.") + "…"]


def _bullets(put, x: float, y: float, width: float, floor: float, items) -> float:
    """Draw a bulleted list down to ``floor``, then « … et N autres »."""
    size, line_h = 8.5, 8.5 * 1.25 / 72
    for i, item in enumerate(items):
        lines = _cell(item, width - 0.15, size)
        needed = len(lines) * line_h + 0.05
        if y - needed - line_h < floor and i < len(items) - 1:
            more = fr.count(len(items) - i, "autre soutien", "autres soutiens")
            put(x, y, f"… et {more}", fontsize=size, color=_GREY, va="top",
                fontstyle="italic")  # fmt: skip
            return y - line_h
        put(x, y, "•", fontsize=size, va="top", color="#253494")
        put(x + 0.15, y, "\n".join(lines), fontsize=size, va="top",
            linespacing=1.25)  # fmt: skip
        y -= needed
    return y


def _support_text(row) -> str:
    """« PTCE — type, montant, années » of one support given."""
    parts = [fr.text(row.type, "type non renseigné")]
    if not fr.is_missing(row.montant):
        parts.append(fr.euros(row.montant))
    start, end = fr.year(row.annee_debut, ""), fr.year(row.annee_fin, "")
    if start and end and start != end:
        parts.append(f"{start}–{end}")
    elif start or end:
        parts.append(start or end)
    return f"{fr.text(row.ptce_nom)} — {', '.join(parts)}"


#: Type size and line height (inches) of the fiche's PTCE list.
_ROW_SIZE = 8.5
_ROW_LINE = _ROW_SIZE * 1.25 / 72


@offloadable
def render_fiche_territoire(
    frames: Frames,
    niveau: str,
    code: str,
    fmt: str = "pdf",
    when: date | None = None,
    dpi: int = 300,
) -> bytes:
    """Render the one-page A4 fiche of an EPCI, a département or a région.

    Parameters
    ----------
    frames : Frames
        The PTCE to consider (see :func:`lib.analysis.territoires.fiche_territoire`).
    niveau : {"epci", "departement", "region"}
        The level of the territory.
    code : str
        Its code (SIREN for an EPCI).
    fmt : {"pdf", "png"}
        Output format.
    when : datetime.date, optional
        Date printed on the sheet (today by default).
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    bytes
        An A4 portrait page: name and type, key figures, comparison with the
        reference average, map with the PTCE, supports received per level,
        list of the PTCE (cut with "… et N autres"), sources and date.

    Raises
    ------
    ValueError
        For an unknown format, level or code.
    """
    from lib.analysis.territoires import fiche_territoire

    _check_format(fmt, ("pdf", "png"))
    when = when or date.today()
    fiche = fiche_territoire(frames, niveau, code)
    width, height = A4
    margin, k = 0.6, 1.0
    inner_w = width - 2 * margin
    fig = new_figure(A4, dpi)
    inch = fig.dpi_scale_trans

    def put(x, y, s, **kwargs):
        return plain_text(fig, x, y, s, transform=inch, **kwargs)

    y = _fiche_title(put, fiche, (niveau, code), margin, height - margin, inner_w)
    y = _fiche_figures(fig, put, fiche, margin, y, inner_w)

    # The list of PTCE at the bottom: measured first, so that the map takes
    # the room it leaves (a territory with few PTCE gets a larger map).
    footer_top = margin * 0.6 + 3 * 7 * 1.35 / 72 + 0.25
    cols = (0.0, inner_w * 0.33, inner_w * 0.52, inner_w * 0.7)
    table = _fiche_rows(fiche, cols, inner_w)
    head_h = 0.3 + 0.2
    wanted = head_h + sum(h for _, h in table[:40]) + 0.3
    present = fiche.ptce["filiere"].fillna("non renseignée").nunique()
    legend_h = 0.19 * (3.4 + math.ceil(present / 2) + 1) + 0.1
    map_h = min(max(y - footer_top - wanted - legend_h, 3.3), 5.2)

    # Map and its legend on the left, supports on the right.
    map_w = inner_w * 0.5
    filieres = _fiche_map(fig, (margin, y - map_h, map_w, map_h), fiche, k)
    legend_bottom = _fiche_legend(fig, margin, y - map_h, map_w, fiche, filieres)
    floor = min(legend_bottom, y - map_h) - 0.1
    x = margin + map_w + 0.3
    _fiche_supports(put, fiche, x, y, inner_w - map_w - 0.3, floor)
    y = min(y - map_h, legend_bottom) - 0.3

    # List of the PTCE present, with the kinds of support each receives.
    _fiche_list(fig, put, (margin, y, inner_w), cols, table, footer_top)

    _footer(fig, width, 7, when, margin, SOURCE)
    return save_figure(fig, fmt, dpi, f"Fiche territoire — {fiche.nom}")


def _fiche_title(
    put, fiche, key: tuple[str, str], x: float, y: float, width: float
) -> float:
    """Draw the fiche's heading, name and kind; return the next top (inches)."""
    niveau, code = key
    put(x, y, "Atlas des PTCE — fiche territoire", fontsize=9, color=_GREY,
        va="top")  # fmt: skip
    y -= 0.25
    # The whole name, wrapped by measured widths; smaller type when long.
    for title_size in (20, 17, 15):
        name_lines = wrap_text(fiche.nom, width, title_size, "bold")
        if len(name_lines) <= 2:
            break
    put(x, y, "\n".join(name_lines), fontsize=title_size, fontweight="bold",
        va="top", linespacing=1.15)  # fmt: skip
    y -= title_size * 1.3 / 72 * len(name_lines) + 0.05
    kind = fiche.type_label
    if niveau == "epci":
        kind = f"{kind} (EPCI) · SIREN {code}"
    else:
        kind = f"{kind} · code {code}"
    put(x, y, kind, fontsize=11, color=_GREY, va="top")
    return y - 0.45


def _fiche_figures(fig: Figure, put, fiche, x0: float, y: float, width: float) -> float:
    """Draw the key figures and the comparison; return the next top (inches)."""
    figures = [
        ("Habitants", _number(fiche.population)),
        ("PTCE présents", _number(len(fiche.ptce))),
        ("PTCE pour 100 000 hab.", _rate(fiche.pour_100k)),
        (fiche.reference.titre.split(" (")[0], _rate(fiche.reference.pour_100k)),
        ("Soutiens reçus", _number(len(fiche.soutiens_recus))),
    ]
    box_w, box_h, gap = (width - 0.4) / 5, 0.8, 0.1
    for i, (label, value) in enumerate(figures):
        x = x0 + i * (box_w + gap)
        fig.add_artist(
            Rectangle((x, y - box_h), box_w, box_h, facecolor="#f1f5f9",
                      edgecolor="none", transform=fig.dpi_scale_trans)
        )  # fmt: skip
        put(x + 0.1, y - 0.12, value, fontsize=15, fontweight="bold", va="top",
            color="#253494")  # fmt: skip
        put(x + 0.1, y - box_h + 0.1,
            "\n".join(wrap_text(label, box_w - 0.2, 7.5)), fontsize=7.5,
            color=_GREY, va="bottom")  # fmt: skip
    y -= box_h + 0.25

    lines = wrap_text(fiche.comparaison, width, 9.5)
    put(x0, y, "\n".join(lines), fontsize=9.5, va="top", linespacing=1.4)
    return y - (9.5 * 1.4 / 72 * len(lines) + 0.25)


def _fiche_rows(fiche, cols: tuple[float, ...], width: float) -> list:
    """Measure the rows of the PTCE list: ``(cell lines, row height)`` each."""
    ends = (*cols[1:], width + 0.15)
    rows = fiche.ptce.sort_values("nom", key=lambda s: s.map(fr.sort_key))
    received = (
        fiche.soutiens_recus.groupby("ptce_id")["type"]
        .agg(lambda kinds: ", ".join(dict.fromkeys(fr.text(t) for t in kinds)))
        .to_dict()
        if len(fiche.soutiens_recus)
        else {}
    )
    table = []
    for row in rows.itertuples(index=False):
        cells = (row.nom, row.lieu, row.filiere, received.get(row.id, "aucun connu"))
        wrapped = [
            _cell(cell, end - cx - 0.15, _ROW_SIZE)
            for cx, end, cell in zip(cols, ends, cells, strict=True)
        ]
        table.append((wrapped, max(map(len, wrapped)) * _ROW_LINE + 0.06))
    return table


def _fiche_supports(put, fiche, x: float, y: float, col_w: float, floor: float) -> None:
    """Draw the column of supports (per level, given, received) down to ``floor``."""
    from lib.analysis.territoires import soutiens_par_niveau

    put(x, y, "Soutiens reçus par niveau", fontsize=11, fontweight="bold", va="top")
    y -= 0.32
    by_level = soutiens_par_niveau(fiche.soutiens_recus)
    if by_level.empty:
        put(x, y, "Aucun soutien connu.", fontsize=9, va="top", color=_GREY)
        y -= 0.25
    else:
        level_cols = (0.0, 1.15, 1.85, col_w)
        heads = ("Niveau", "Soutiens", "PTCE", "Montant connu")
        for cx, head in zip(level_cols, heads, strict=True):
            put(x + cx, y, head, fontsize=8, color=_GREY, va="top",
                ha="right" if cx else "left")  # fmt: skip
        y -= 0.22
        for row in by_level.itertuples(index=False):
            cells = (row[0], _number(row[1]), _number(row[3]), _number(row[4], "€"))
            for cx, cell in zip(level_cols, cells, strict=True):
                put(x + cx, y, cell, fontsize=9, va="top",
                    ha="right" if cx else "left")  # fmt: skip
            y -= 0.2
    y -= 0.2
    put(x, y, "Soutiens donnés par la collectivité", fontsize=11,
        fontweight="bold", va="top")  # fmt: skip
    y -= 0.32
    donnes = fiche.soutiens_donnes
    if donnes.empty:
        put(x, y, "Aucun soutien enregistré.", fontsize=9, va="top", color=_GREY)
        y -= 0.25
    else:
        amount = donnes["montant"].sum(min_count=1)
        given = (
            f"{fr.count(len(donnes), 'soutien')} à "
            f"{fr.count(donnes['ptce_id'].nunique(), 'PTCE', 'PTCE')}"
            + (f", {fr.euros(amount)} connus" if pd.notna(amount) else "")
            + " :"
        )
        lines = wrap_text(given, col_w, 9)
        put(x, y, "\n".join(lines), fontsize=9, va="top", linespacing=1.25)
        y -= len(lines) * 9 * 1.25 / 72 + 0.06
        ordered = donnes.sort_values("ptce_nom", key=lambda s: s.map(fr.sort_key))
        y = _bullets(
            put,
            x,
            y,
            col_w,
            floor,
            [_support_text(r) for r in ordered.itertuples(index=False)],
        )
    recus = fiche.soutiens_recus
    if len(recus) and y - 0.9 > floor:
        # Who supports the PTCE present, and how: the room left in the column.
        y -= 0.2
        put(x, y, "Soutiens reçus en détail", fontsize=11, fontweight="bold",
            va="top")  # fmt: skip
        y -= 0.32
        ordered = recus.sort_values(
            ["ptce_nom", "collectivite"], key=lambda s: s.map(fr.sort_key)
        )
        items = [
            f"{fr.text(r.collectivite)} → {_support_text(r)}"
            for r in ordered.itertuples(index=False)
        ]
        _bullets(put, x, y, col_w, floor, items)


def _fiche_list(fig: Figure, put, box, cols, table, footer_top: float) -> None:
    """Draw the PTCE list (measured by :func:`_fiche_rows`) down to the footer."""
    margin, y, inner_w = box
    put(margin, y, f"PTCE présents ({len(table)})", fontsize=11,
        fontweight="bold", va="top")  # fmt: skip
    y -= 0.3
    heads = ("Nom", "Lieu", "Filière principale", "Soutiens reçus (types)")
    for cx, head in zip(cols, heads, strict=True):
        put(margin + cx, y, head, fontsize=8, color=_GREY, va="top")
    y -= 0.2
    if not table:
        put(margin, y, "Aucun PTCE connu dans ce territoire pour cette sélection.",
            fontsize=9, color=_GREY, va="top")  # fmt: skip
    for i, (wrapped, row_h) in enumerate(table):
        if y - row_h - _ROW_LINE < footer_top and i < len(table) - 1:
            rest = len(table) - i
            put(margin, y - 0.03, f"… et {rest} autres", fontsize=8.5, color=_GREY,
                va="top", fontstyle="italic")  # fmt: skip
            break
        if i % 2 == 0:
            fig.add_artist(
                Rectangle((margin - 0.05, y - row_h + 0.03), inner_w + 0.1, row_h,
                          facecolor="#f6f6f6", edgecolor="none",
                          transform=fig.dpi_scale_trans)
            )  # fmt: skip
        for cx, lines in zip(cols, wrapped, strict=True):
            put(margin + cx, y, "\n".join(lines), fontsize=_ROW_SIZE, va="top",
                linespacing=1.25)  # fmt: skip
        y -= row_h


def _rate(value: float | None) -> str:
    """Rate with two decimals, French style."""
    from lib.analysis.territoires import format_rate

    return format_rate(value)
