"""One description of a map vue, drawn by every renderer.

What a map shows — what it frames, its layers, its legend, its title, its
sources and its date — is computed here once, from the selection alone, as a
:class:`MapSpec`. The Carte and the récit vues (folium, :mod:`lib.rendering.web.carte`),
the static PNG/SVG/PDF and the slides (matplotlib,
:mod:`lib.rendering.print.static_map`,
:mod:`lib.rendering.print.slides`) and the offline HTML
(:mod:`lib.rendering.web.offline`) only draw
it, so an export shows what the screen showed: same extent, same layers,
same colours, same legend text.
"""

# size: MapSpec and describe(), the one description every renderer draws, with the
# sources line and the framing bounds it carries; 23 functions, 4 dataclasses.

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo.boundaries import ATTRIBUTION, in_region, load_boundaries
from geo.build import cache_dir
from geo.reference import load_reference
from lib import fr
from lib.analysis import layers
from lib.analysis.choropleth import (
    INDICATORS,
    Legend,
    classify,
    indicator,
    outside_selection,
    uncounted,
)
from lib.domain.model import NIVEAU_LABELS, NIVEAUX, Fait, fold
from lib.domain.recits import Vue, figures_of
from lib.domain.selection import Frames
from lib.rendering.framing import COMPOSITE_BOUNDS, display_bounds
from lib.rendering.palette import (
    CLUSTER_FILL,
    FILIERE_COLORS,
    LEVEL_COLORS,
    LEVEL_DASH,
    LEVEL_WEIGHT,
)

__all__ = [
    "ACTION_INK",
    "HIGHLIGHT",
    "MARKERS_LIMIT",
    "OUTLINE_INK",
    "UNSOURCED",
    "Choropleth",
    "Key",
    "MapSpec",
    "Section",
    "describe",
    "filiere_of",
    "source_names",
    "sources_line",
]

#: Above this many placed PTCE, the maps show one bubble per EPCI instead of
#: one marker per PTCE: the browser stays responsive, and the user narrows
#: the filters to see each PTCE.
MARKERS_LIMIT = 5000
#: Ring of the PTCE a vue is about.
HIGHLIGHT = "#d62728"
#: Outline of the territories of action.
ACTION_INK = "#333333"
#: Département borders.
OUTLINE_INK = "#3a3a3a"

#: Named for PTCE entered in the atlas without a source.
UNSOURCED = "fiches de l'atlas sans source citée"
#: Attribution of the boundaries, last of every sources line.
_GEO_SOURCE = ATTRIBUTION

_ARTICLES = {"region": "une", "departement": "un", "epci": "un", "commune": "une"}


@dataclass(frozen=True)
class Key:
    """One entry of a legend: a colour key and its label.

    Attributes
    ----------
    kind : {"patch", "hatch", "disc", "bubble", "ring", "line", "outline"}
        How the key is drawn: a filled box (a choropleth class), a hatched
        box (outside the selection), a PTCE marker, a cluster bubble, a ring
        around a PTCE, a support line, a territory's outline.
    color : str
        Hex colour (``#rrggbb``).
    label : str
        Plain text, escaped by whoever draws it as HTML.
    dash : str or None
        SVG ``stroke-dasharray`` of a line, in pixels.
    weight : float
        Width of a line, in pixels.
    """

    kind: str
    color: str
    label: str
    dash: str | None = None
    weight: float = 0.0


@dataclass(frozen=True)
class Section:
    """The legend of one layer.

    Attributes
    ----------
    layer : str
        ``"choro"``, ``"ptce"``, ``"surligner"``, ``"territoires"``,
        ``"soutiens"`` or ``"contours"``.
    title : str
    keys : tuple of Key
    note : str
        Under the title (e.g. « par département, classes : quantiles »).
    footnote : str
        After the keys (e.g. PTCE not counted).
    """

    layer: str
    title: str
    keys: tuple[Key, ...]
    note: str = ""
    footnote: str = ""


@dataclass(eq=False)
class Choropleth:
    """The choropleth of a map: values, colours and classes per territory.

    Attributes
    ----------
    values : pandas.Series
        Indicator per territory code.
    colors : pandas.Series
        Fill colour per territory code.
    legend : Legend
        The classes (:mod:`lib.analysis.choropleth`).
    outside : tuple of str
        Codes of the territories outside the selection (hatched).
    """

    values: pd.Series
    colors: pd.Series
    legend: Legend
    outside: tuple[str, ...] = ()


@dataclass(eq=False)
class MapSpec:
    """What a map vue shows, for every renderer.

    Attributes
    ----------
    title, subtitle : str
        Title, and the active filters in French.
    region : str or None
        Région shown; None for France entière (overseas in insets).
    maille, methode : str
        Choropleth grid and classes.
    indicateur : str or None
        Choropleth indicator; None when no choropleth is drawn.
    couches : tuple of str
        Layers drawn (keys of :data:`lib.rendering.vue.LAYERS`).
    departements, epci : tuple of str
        Territorial filters: what the map frames.
    territoire : str or None
        A clicked territory framed instead (``"niveau:code"``).
    highlight : tuple of str
        Ids of PTCE ringed.
    frame_key : str
        Names what is framed (the web map is refitted when it changes).
    bounds : tuple
        ``((south, west), (north, east))`` as drawn (overseas in insets).
    choropleth : Choropleth or None
    supports : geopandas.GeoDataFrame or None
        Outlines of the supporting collectivités, when drawn.
    links : list of dict
        One line per support of a placed PTCE (:func:`lib.analysis.layers.supports`).
    territories : geopandas.GeoDataFrame or None
        Territories of action, when drawn.
    placed : int
        PTCE of the selection with a place on the map.
    unplaced : int
        PTCE of the selection without a known place.
    aggregated : bool
        Too many PTCE for markers: one bubble per EPCI on the web map.
    sections : tuple of Section
        The legend, in drawing order.
    sources : tuple of str
        Every source of what is drawn (PTCE, supports, boundaries).
    placement : str
        How the PTCE are placed, in French.
    when : datetime.date
        Date printed on exports.
    """

    title: str
    subtitle: str
    region: str | None
    maille: str
    indicateur: str | None
    methode: str
    couches: tuple[str, ...]
    departements: tuple[str, ...]
    epci: tuple[str, ...]
    territoire: str | None
    highlight: tuple[str, ...]
    frame_key: str
    bounds: tuple[tuple[float, float], tuple[float, float]]
    choropleth: Choropleth | None
    supports: gpd.GeoDataFrame | None
    links: list[dict]
    territories: gpd.GeoDataFrame | None
    placed: int
    unplaced: int
    aggregated: bool
    sections: tuple[Section, ...]
    when: dt.date = field(default_factory=dt.date.today)
    #: What the sources line is computed from, when asked for (exports,
    #: Présentation): not on every rerun of the Carte.
    drawn: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    supports_sources: pd.Series = field(default_factory=pd.Series, repr=False)
    text_sources: tuple[str, ...] = ()

    @functools.cached_property
    def sources(self) -> tuple[str, ...]:
        """Every source of what is drawn: the text's, PTCE, supports, boundaries."""
        libelles = self.drawn["sources"].explode() if len(self.drawn) else []
        found = source_names(
            pd.concat([pd.Series(libelles, dtype=object), self.supports_sources]),
            self.text_sources,
        )
        named = [*self.text_sources, *found]
        if len(self.drawn) and (self.drawn["sources"].str.len() == 0).any():
            named.append(UNSOURCED)
        named.append(_GEO_SOURCE)
        return tuple(named)

    @functools.cached_property
    def placement(self) -> str:
        """How the PTCE drawn are placed, in French (``""``: none drawn)."""
        return _placement(self.drawn) if len(self.drawn) else ""

    @property
    def insets(self) -> bool:
        """Whether overseas territories are drawn in insets (France entière)."""
        return self.region is None

    @property
    def points(self) -> bool:
        """Whether PTCE are drawn."""
        return "ptce" in self.couches

    def legend_entries(self) -> list[tuple[str, str, str]]:
        """Return the legend flat: ``(section title, label, colour)`` per key.

        What every renderer's legend lists, in order (tests compare them).
        """
        return [(s.title, k.label, k.color) for s in self.sections for k in s.keys]

    def source_line(self) -> str:
        """Return « Sources : … » naming every source, then how PTCE are placed."""
        return sources_line(self.sources, self.placement)


def filiere_of(names: pd.Series) -> pd.Series:
    """Return the filière each PTCE is drawn with: its own, or « autre ».

    Parameters
    ----------
    names : pandas.Series
        Main filière per PTCE (missing allowed).

    Returns
    -------
    pandas.Series
        Keys of :data:`lib.rendering.palette.FILIERE_COLORS`.
    """
    names = names.fillna("non renseignée")
    return names.where(names.isin(list(FILIERE_COLORS)), "autre")


def source_names(libelles, named: Sequence[str] = ()) -> list[str]:
    """Return the distinct sources of libellés, by document or site.

    A libellé names a page of a source after « — » (« CRESS Pays de la Loire
    (cress-pdl.org) — Grains de création »): the source is what comes
    before. Two spellings of one source (« RTES/CRESS PdL » and « RTES /
    CRESS Pays de la Loire ») count once. Order: most cited first, then
    alphabetical.

    Parameters
    ----------
    libelles : iterable of str or None
        Counted with pandas: 100,000 PTCE take milliseconds.
    named : sequence of str
        Sources already named (left out).

    Returns
    -------
    list of str
    """
    series = pd.Series(list(libelles), dtype=object).dropna().astype(str)
    names = series.str.split(" — ").str[0].str.strip()
    counts = names[names != ""].value_counts(sort=False)
    seen = {_source_key(n) for n in named}
    total: dict[str, int] = {}
    first: dict[str, str] = {}
    for name, n in counts.items():  # one row per distinct spelling: a few
        key = _source_key(str(name))
        if key in seen:
            continue
        first.setdefault(key, str(name))
        total[key] = total.get(key, 0) + int(n)
    keys = sorted(total, key=lambda k: (-total[k], fr.sort_key(first[k])))
    return [first[k] for k in keys]


def _source_key(name: str) -> str:
    """Compare sources' names without spaces, accents, case, « PdL »."""
    key = fold(name).replace(" ", "")
    return key.replace("paysdelaloire", "pdl")


def sources_line(sources: Sequence[str], placement: str = "") -> str:
    """Return the sources line of a map or a vue.

    Parameters
    ----------
    sources : sequence of str
        From :attr:`MapSpec.sources` (the boundaries' attribution last).
    placement : str
        How PTCE are placed (:attr:`MapSpec.placement`), or ``""``.

    Returns
    -------
    str
        « Sources : A ; B ; C. PTCE placés : … »
    """
    line = "Sources : " + " ; ".join(sources) + "." if sources else ""
    return f"{line} {placement}".strip()


# size: 31-line docstring for 14 parameters, then the legend sections in
# drawing order and the 24-field MapSpec: one place, so renderers agree.
def describe(
    selection: Frames,
    *,
    region: str | None = "52",
    maille: str = "departement",
    indicateur: str | None = "nombre",
    methode: str = "quantiles",
    couches: Sequence[str] = ("ptce", "choro"),
    departements: Sequence[str] = (),
    epci: Sequence[str] = (),
    territoire: str | None = None,
    highlight: Sequence[str] = (),
    title: str = "",
    subtitle: str = "",
    sources: Sequence[str] = (),
    when: dt.date | None = None,
) -> MapSpec:
    """Describe the map of a selection: what every renderer draws.

    Parameters
    ----------
    selection : Frames
        The filtered PTCE.
    region : str or None
        Région shown, None for France entière.
    maille, indicateur, methode : str
        Choropleth grid, indicator and classes; no choropleth unless
        ``"choro"`` is in ``couches`` (and ``indicateur`` is set).
    couches : sequence of str
        Layers: ``"ptce"``, ``"choro"``, ``"territoires"``, ``"soutiens"``.
    departements, epci : sequence of str
        Territorial filters (framing, territories « hors sélection »).
    territoire : str, optional
        A clicked territory, ``"niveau:code"``, framed instead.
    highlight : sequence of str
        Ids of PTCE ringed (presentation).
    title, subtitle : str
        Title (by default « Les PTCE — <région> ») and active filters.
    sources : sequence of str
        Sources of the text that goes with the map (a récit vue's), named
        first.
    when : datetime.date, optional
        Date of an export (today by default).

    Returns
    -------
    MapSpec
    """
    couches = tuple(couches)
    departements, epci = tuple(departements), tuple(epci)
    if indicateur is not None and indicateur not in INDICATORS:
        raise ValueError(f"indicateur inconnu : {indicateur!r}")
    if "choro" not in couches:
        indicateur = None
    frame_key, bounds = view_bounds(region, departements, epci)
    if territoire:
        found = territory_bounds(territoire, region)
        if found is not None:
            frame_key, bounds = f"{frame_key}|{territoire}", found

    choro = (
        _choropleth(selection, region, maille, indicateur, methode, departements, epci)
        if indicateur is not None
        else None
    )
    supports = None
    links: list[dict] = []
    if "soutiens" in couches:
        supports, links = layers.supports(selection)
    territories = None
    if "territoires" in couches:
        territories = layers.action_territories(selection)
        if not len(territories):
            territories = None

    ptce = selection.ptce
    placed = ptce[ptce["lat"].notna()]
    aggregated = "ptce" in couches and len(placed) > MARKERS_LIMIT
    highlight = tuple(highlight)

    sections: list[Section] = []
    if choro is not None:
        sections.append(_choro_section(choro.legend))
    if "ptce" in couches and len(placed):
        sections.append(_ptce_section(placed, aggregated))
    ringed = placed[placed["id"].isin(highlight)] if highlight else placed[:0]
    if len(ringed):
        sections.append(
            Section(
                "surligner",
                "Mis en évidence",
                tuple(Key("ring", HIGHLIGHT, str(name)) for name in ringed["nom"]),
            )
        )
    if territories is not None:
        sections.append(
            Section(
                "territoires",
                "Territoires d'action",
                (Key("outline", ACTION_INK, "territoire d'action d'un PTCE", "6 4"),),
            )
        )
    if links or (supports is not None and len(supports)):
        drawn = {link["niveau"] for link in links}
        if supports is not None:
            drawn |= set(supports["niveau"])
        sections.append(
            Section(
                "soutiens",
                "Qui soutient qui",
                tuple(
                    Key(
                        "line",
                        LEVEL_COLORS[n],
                        f"soutien d'{_ARTICLES[n]} {NIVEAU_LABELS[n]}",
                        LEVEL_DASH[n],
                        LEVEL_WEIGHT[n],
                    )
                    for n in NIVEAUX
                    if n in drawn
                ),
                note="contour de la collectivité, ligne vers chaque PTCE soutenu",
            )
        )
    sections.append(
        Section(
            "contours",
            "Limites",
            (Key("line", OUTLINE_INK, "Limite de département", None, 1.5),),
        )
    )

    drawn_ptce = ptce if ("ptce" in couches or choro is not None) else ptce[:0]
    supports_sources = (
        selection.soutiens["source"]
        if "soutiens" in couches
        else pd.Series(dtype=object)
    )

    return MapSpec(
        title=title or view_title(region),
        subtitle=subtitle,
        region=region,
        maille=maille,
        indicateur=indicateur,
        methode=methode,
        couches=couches,
        departements=departements,
        epci=epci,
        territoire=territoire,
        highlight=highlight,
        frame_key=frame_key,
        bounds=bounds,
        choropleth=choro,
        supports=supports,
        links=links,
        territories=territories,
        placed=len(placed),
        unplaced=len(ptce) - len(placed),
        aggregated=aggregated,
        sections=tuple(sections),
        drawn=drawn_ptce[["sources", "placement"]],
        supports_sources=supports_sources,
        text_sources=tuple(sources),
        when=when or dt.date.today(),
    )


def _choropleth(selection, region, maille, indicateur, methode, departements, epci):
    """Values, colours and classes of the choropleth (geometry from the cache)."""
    territories = load_boundaries(maille, "regional" if region else "national")
    if region:
        territories = in_region(territories, maille, region)
    population = territories.set_index("code")["population"].astype(float)
    values = indicator(selection, maille, indicateur, population)
    outside = outside_selection(territories, maille, selection, departements, epci)
    colors, legend = classify(
        values,
        methode,
        indicateur=indicateur,
        maille=maille,
        outside=outside,
        uncounted=uncounted(selection, maille),
    )
    return Choropleth(values, colors, legend, tuple(outside))


def _choro_section(legend: Legend) -> Section:
    keys = tuple(
        Key("hatch" if e.hatched else "patch", e.color, e.text)
        for e in legend.entries()
    )
    return Section("choro", legend.title, keys, legend.note(), legend.footnote())


def _ptce_section(placed: pd.DataFrame, aggregated: bool) -> Section:
    if aggregated:
        keys: tuple[Key, ...] = (
            Key("bubble", CLUSTER_FILL, "PTCE regroupés par EPCI (leur nombre)"),
        )
        return Section("ptce", "PTCE", keys)
    present = set(filiere_of(placed["filiere"]))
    keys = tuple(
        Key("disc", color, filiere)
        for filiere, color in FILIERE_COLORS.items()
        if filiere in present
    )
    if len(placed) > 1:
        keys += (
            Key(
                "bubble",
                CLUSTER_FILL,
                "PTCE au même endroit ou proches : regroupés (leur nombre)",
            ),
        )
    approximate = placed["placement"].isin(("département", "région"))
    note = "cercle pointillé : position approximative" if approximate.any() else ""
    return Section("ptce", "PTCE par filière principale", keys, note)


def _placement(ptce: pd.DataFrame) -> str:
    """Say how the PTCE are placed: own coordinates, commune, chef-lieu."""
    placement = ptce["placement"].fillna("aucun")
    one = len(ptce) == 1
    their = "son" if one else "leur"
    counts = (
        (placement == "coordonnées", f"à l'adresse de {their} siège"),
        (placement == "commune", f"dans la commune de {their} siège"),
        (
            placement.isin(("département", "région")),
            f"au chef-lieu de {their} département ou région (siège non connu)",
        ),
        (placement == "aucun", "sans position"),
    )
    parts = [(int(rows.sum()), words) for rows, words in counts if int(rows.sum())]
    if one:
        return f"PTCE placé {parts[0][1]}."
    text = [f"{fr.integer(n)} {words}" for n, words in parts]
    body = text[0] if len(text) == 1 else ", ".join(text[:-1]) + " et " + text[-1]
    return f"PTCE placés : {body}."


def describe_vue(vue: Vue, selection, when: dt.date | None = None):
    """Describe the map of a « carte » vue, as every renderer draws it.

    Parameters
    ----------
    vue : Vue
    selection : lib.domain.selection.Frames
        The PTCE of the vue's filters.
    when : datetime.date, optional
        Date of an export.

    Returns
    -------
    lib.rendering.vue.MapSpec
        Framed as the vue's filters, its layers, its PTCE ringed; its
        sources: the vue's text's, then every source of what it draws.
    """
    from lib.analysis.choropleth import INDICATORS

    filters = vue.filters()
    return describe(
        selection,
        region=filters.region,
        maille=vue.maille,
        indicateur=vue.indicateur if vue.indicateur in INDICATORS else "nombre",
        couches=vue.couches,
        departements=filters.departements,
        epci=filters.epci,
        highlight=vue.surligner,
        title=vue.titre,
        sources=_text_sources(vue),
        when=when,
    )


def vue_source_line(vue: Vue, selection, faits: Sequence[Fait] = ()) -> str:
    """Return the source line of a vue: every source of what it shows.

    A map names the sources of its PTCE and supports and says how the PTCE
    are placed (:meth:`lib.rendering.vue.MapSpec.source_line`); the figures name
    theirs; the matrix and the ways to support name the sources of the
    supports they count.

    Parameters
    ----------
    vue : Vue
    selection : lib.domain.selection.Frames
        The PTCE of the vue's filters.
    faits : sequence of Fait
        Every sourced figure (those of the vue are picked).

    Returns
    -------
    str
    """
    if vue.genre == "carte":
        return describe_vue(vue, selection).source_line()
    named = list(_text_sources(vue))
    if vue.genre == "chiffres":
        shown = figures_of(faits, vue.sujets)
        found = source_names((f.source.libelle for f in shown), named)
    else:
        found = source_names(selection.soutiens["source"], named)
    return sources_line([*named, *found])


def _text_sources(vue: Vue) -> tuple[str, ...]:
    return tuple(p.strip() for p in vue.source.split(";") if p.strip())


Bounds = tuple[tuple[float, float], tuple[float, float]]


#: Levels a clicked territory may be of, and the detail holding them.
_DETAILS = {
    "region": "national",
    "departement": "national",
    "epci": "national",
    "commune": "regional",
}


def _fit_bounds_of(gdf) -> Bounds:
    """Return ``((south, west), (north, east))`` of a GeoDataFrame."""
    minx, miny, maxx, maxy = gdf.total_bounds
    return ((float(miny), float(minx)), (float(maxy), float(maxx)))


def _bounds_of(level: str, codes: tuple[str, ...], insets: bool) -> Bounds | None:
    gdf = load_boundaries(level, _DETAILS[level])
    rows = gdf[gdf["code"].isin(codes)]
    if rows.empty:
        return None
    if not insets:
        return _fit_bounds_of(rows)
    # Each territory where it is drawn (an overseas one in its inset).
    drawn = [
        display_bounds(((miny, minx), (maxy, maxx)))
        for minx, miny, maxx, maxy in rows.bounds.itertuples(index=False)
    ]
    return (
        (min(b[0][0] for b in drawn), min(b[0][1] for b in drawn)),
        (max(b[1][0] for b in drawn), max(b[1][1] for b in drawn)),
    )


def view_bounds(
    region: str | None,
    departements: tuple[str, ...] = (),
    epci: tuple[str, ...] = (),
) -> tuple[str, Bounds]:
    """Return what a selection's map fits: a key and bounds, as drawn.

    The most precise territories chosen are framed: the EPCI, else the
    départements, else the région, else metropolitan France with the
    overseas insets.

    Parameters
    ----------
    region : str or None
        Région code, None for France entière (insets).
    departements, epci : tuple of str
        Codes chosen in the filters.

    Returns
    -------
    tuple
        ``(key, ((south, west), (north, east)))``; the key names what is
        framed, so the map is fitted again only when it changes.
    """
    return _view_bounds(region, tuple(departements), tuple(epci), cache_dir())


# Cached per boundary cache folder: a rebuilt or other cache is read afresh.
@functools.lru_cache(maxsize=256)
def _view_bounds(
    region: str | None,
    departements: tuple[str, ...],
    epci: tuple[str, ...],
    folder: Path,
) -> tuple[str, Bounds]:
    del folder  # only part of the cache key: load_boundaries reads cache_dir()
    insets = region is None
    for level, codes in (("epci", epci), ("departement", departements)):
        bounds = _bounds_of(level, tuple(sorted(codes)), insets) if codes else None
        if bounds is not None:
            return f"{region or 'france'}|{level}:{','.join(sorted(codes))}", bounds
    if region:
        bounds = _bounds_of("region", (region,), False)
        if bounds is not None:
            return f"{region}|region", bounds
    return "france|france", COMPOSITE_BOUNDS


def territory_bounds(territoire: str, region: str | None) -> Bounds | None:
    """Return the bounds (as drawn) of a clicked territory ``"niveau:code"``.

    Parameters
    ----------
    territoire : str
        E.g. ``"departement:44"`` (the Carte's ``territoire`` parameter).
    region : str or None
        Région of the view (None: France entière, with insets).

    Returns
    -------
    tuple or None
        None when the territory is unknown.
    """
    return _territory_bounds(territoire, region is None, cache_dir())


@functools.lru_cache(maxsize=256)
def _territory_bounds(territoire: str, insets: bool, folder: Path) -> Bounds | None:
    del folder  # only part of the cache key
    level, _, code = territoire.partition(":")
    if level not in _DETAILS or not code:
        return None
    return _bounds_of(level, (code,), insets)


def view_title(region: str | None) -> str:
    """Return the title of a Carte view: ``"Les PTCE — Pays de la Loire"``.

    Parameters
    ----------
    region : str or None
        Région code, None for France entière.

    Returns
    -------
    str
    """
    if not region:
        return "Les PTCE — France entière"
    regions = load_reference().regions
    name = regions[region].nom if region in regions else region
    return f"Les PTCE — {name}"
