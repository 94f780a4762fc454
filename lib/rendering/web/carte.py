"""The layers of the Carte for one selection.

Shared by the explorer and the presentation mode, so that a vue of a récit
draws exactly what the Carte draws.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import folium
import pandas as pd

from geo.boundaries import (
    ATTRIBUTION,
    static_geojson,
    to_geojson,
)
from geo.reference import load_reference
from lib import fr
from lib.analysis import layers
from lib.analysis.choropleth import INDICATORS, Legend
from lib.domain.model import LAYERS
from lib.domain.selection import Frames
from lib.rendering.framing import COMPOSITE_BOUNDS
from lib.rendering.vue import (
    ACTION_INK,
    HIGHLIGHT,
    MapSpec,
    describe,
    territory_bounds,
    view_bounds,
)
from lib.rendering.web.maps import (
    FitView,
    TextTooltip,
    aggregate_layer,
    aggregate_rows,
    choropleth_layer,
    explorer_base,
    legend_layer,
    outline_layer,
    outlines,
    ptce_markers,
    support_layer,
)
from lib.worker import offloadable


@dataclass
class MapLayers:
    """Feature groups of a Carte view and what its legends need.

    Attributes
    ----------
    groups : list of folium.FeatureGroup
        In drawing order, the legend (:class:`lib.rendering.web.maps.MapLegend`) last.
    spec : MapSpec
        The description drawn (:func:`lib.rendering.vue.describe`).
    legend : Legend or None
        Classes of the choropleth, when drawn.
    values : pandas.Series or None
        Indicator per territory code, when the choropleth is drawn.
    links : list of dict
        "Qui soutient qui" lines, when drawn.
    aggregated : int
        Placed PTCE drawn as one bubble per EPCI (0: one marker each).
    outside : tuple of str
        Codes of the choropleth's territories outside the selection.
    """

    groups: list[folium.FeatureGroup] = field(default_factory=list)
    spec: MapSpec | None = None
    legend: Legend | None = None
    values: pd.Series | None = None
    links: list[dict] = field(default_factory=list)
    aggregated: int = 0
    outside: tuple[str, ...] = ()


# size: 11 parameters and their docstring; then one folium group per layer
# in drawing order (choropleth, outlines, territories, supports, PTCE, legend).
def map_layers(
    selection: Frames,
    spec: MapSpec | None = None,
    *,
    markers: tuple[list[list], str | None] | None = None,
    maille: str = "departement",
    indicateur: str = "nombre",
    methode: str = "quantiles",
    region: str | None = "52",
    couches: tuple[str, ...] | list[str] = ("ptce", "choro"),
    surligner: tuple[str, ...] = (),
    departements: tuple[str, ...] = (),
    epci: tuple[str, ...] = (),
) -> MapLayers:
    """Draw a map vue with folium: its feature groups (geometry from the caches).

    Parameters
    ----------
    selection : Frames
        The filtered PTCE.
    spec : MapSpec, optional
        What to draw; by default described from the other parameters
        (:func:`lib.rendering.vue.describe`).
    markers : tuple, optional
        Marker rows and their static file URL, as cached by the caller.
    maille, indicateur, methode, region, couches, departements, epci
        As for :func:`lib.rendering.vue.describe`, when ``spec`` is not given.
    surligner : tuple of str
        PTCE ids to ring (presentation mode), when ``spec`` is not given.

    Returns
    -------
    MapLayers
    """
    if spec is None:
        spec = describe(
            selection,
            region=region,
            maille=maille,
            indicateur=indicateur,
            methode=methode,
            couches=couches,
            departements=departements,
            epci=epci,
            highlight=surligner,
        )
    region, maille, couches = spec.region, spec.maille, spec.couches
    detail = "regional" if region else "national"
    result = MapLayers(spec=spec, links=spec.links)
    choro = spec.choropleth
    if choro is not None:
        assert spec.indicateur is not None  # a choropleth shows an indicator
        result.values, result.legend = choro.values, choro.legend
        result.outside = choro.outside
        result.groups.append(
            choropleth_layer(
                static_geojson(maille, detail, region),
                choro.colors.to_dict(),
                choro.values.to_dict(),
                INDICATORS[spec.indicateur][0],
                legend=choro.legend,
                outside=choro.outside,
            )
        )
    # Département outlines, unless the choropleth draws them already; not over
    # the national EPCI view either, whose EPCI borders are enough (weight).
    if choro is None or (maille == "epci" and region):
        result.groups.append(outlines(static_geojson("departement", detail, region)))
    if spec.territories is not None:
        result.groups.append(
            outline_layer(
                to_geojson(spec.territories), LAYERS["territoires"], ACTION_INK
            )
        )
    if spec.supports is not None and len(spec.supports):
        sources, rest = layers.outline_sources(spec.supports, region)
        result.groups.append(
            support_layer(
                to_geojson(rest, ("code", "nom", "niveau", "texte")),
                spec.links,
                sources=sources,
            )
        )
    if "ptce" in couches:
        if spec.aggregated:
            ref = load_reference()
            rows = aggregate_rows(selection.ptce, layers.anchors("epci"))
            names = {code: ref.epci[code].nom for code in ref.epci}
            result.groups.append(aggregate_layer(rows, names))
            result.aggregated = spec.placed
        else:
            marker_rows, url = markers if markers is not None else (None, None)
            result.groups.append(
                ptce_markers(selection.ptce, rows=marker_rows, url=url)
            )
    if spec.highlight:
        result.groups.append(highlight_layer(selection, spec.highlight))
    result.groups.append(legend_layer(spec.sections))
    return result


def highlight_layer(selection: Frames, ids: tuple[str, ...]) -> folium.FeatureGroup:
    """Rings around the PTCE ``ids`` that are placed, with their name.

    Parameters
    ----------
    selection : Frames
    ids : tuple of str

    Returns
    -------
    folium.FeatureGroup
        Named "En évidence"; one ``CircleMarker`` per placed PTCE.
    """
    group = folium.FeatureGroup(name="En évidence")
    rows = selection.ptce[selection.ptce["id"].isin(ids)]
    for row in rows[rows["lat"].notna()].itertuples():
        ring = folium.CircleMarker(
            location=(float(row.lat), float(row.lon)),
            radius=16,
            color=HIGHLIGHT,
            weight=4,
            fill=False,
            class_name="ptce-highlight",
        )
        TextTooltip(str(row.nom), sticky=False).add_to(ring)
        ring.add_to(group)
    return group


def base_for(
    region: str | None, tiles: bool = False, departements: tuple[str, ...] = ()
) -> folium.Map:
    """Return the explorer's base map fitted to a région (or France).

    Under France entière the overseas départements are drawn in insets
    (:mod:`lib.rendering.framing`) and the map fits metropolitan France and the insets.

    Parameters
    ----------
    region : str or None
    tiles : bool
        OpenStreetMap tiles (needs a network).
    departements : tuple of str
        Fit to these départements instead (presentation vues).

    Returns
    -------
    folium.Map
    """
    bounds = view_bounds(region, tuple(departements))[1]
    return explorer_base(
        static_geojson("region", "national"),
        tiles=tiles,
        attribution=ATTRIBUTION,
        bounds=bounds,
        insets=region is None,
    )


def framing_layer(
    region: str | None,
    departements: tuple[str, ...] = (),
    epci: tuple[str, ...] = (),
    territoire: str | None = None,
) -> folium.FeatureGroup:
    """Return the group that fits the map to the selection or a territory.

    Passed with the other feature groups: the map is fitted when what is
    framed changes (see :class:`lib.rendering.web.maps.FitView`), and otherwise left
    where
    the user moved it.

    Parameters
    ----------
    region, departements, epci
        As for :func:`view_bounds`.
    territoire : str, optional
        A clicked territory, ``"niveau:code"``, framed instead of the
        selection (when known).

    Returns
    -------
    folium.FeatureGroup
        Named "Cadrage", holding one :class:`lib.rendering.web.maps.FitView`.
    """
    key, bounds = view_bounds(region, tuple(departements), tuple(epci))
    if territoire:
        found = territory_bounds(territoire, region)
        if found is not None:
            key, bounds = f"{key}|{territoire}", found
    group = folium.FeatureGroup(name="Cadrage")
    # France entière: Corsica, in the bottom-right corner, kept clear of the
    # legend when that costs at most a quarter zoom level.
    FitView(key, bounds, corner=bounds == COMPOSITE_BOUNDS).add_to(group)
    return group


@offloadable
def offline_map(
    selection: Frames,
    *,
    maille: str,
    indicateur: str,
    methode: str,
    region: str | None,
    couches: tuple[str, ...] | list[str],
    title: str,
    departements: tuple[str, ...] = (),
    epci: tuple[str, ...] = (),
    territoire: str | None = None,
    subtitle: str = "",
    when: dt.date | None = None,
) -> bytes:
    """Return the Carte view as one self-contained HTML file (works offline).

    Parameters
    ----------
    selection : Frames
    maille, indicateur, methode, region, couches, departements, epci, territoire
        As for :func:`lib.rendering.vue.describe`.
    title : str
        Title of the page.
    subtitle : str
        The active filters, in French
        (:func:`lib.rendering.print.static_map.filters_subtitle`).
    when : datetime.date, optional
        Date of the export (today by default).

    Returns
    -------
    bytes
        UTF-8 HTML; see :func:`lib.rendering.web.offline.standalone_html`. The map
        draws the same description as the Carte (:mod:`lib.rendering.vue`), its
        legend in the map; a panel over it gives the title, the filters,
        the date and the sources (:func:`lib.rendering.web.offline.legend_panel`).
    """
    from lib.rendering.web.offline import legend_panel, standalone_bytes, standalone_map

    spec = describe(
        selection,
        region=region,
        maille=maille,
        indicateur=indicateur,
        methode=methode,
        couches=couches,
        departements=departements,
        epci=epci,
        territoire=territoire,
        title=title,
        subtitle=subtitle,
        when=when,
    )
    built = map_layers(selection, spec)
    framing = framing_layer(region, departements, epci, territoire)
    m = standalone_map([*built.groups, framing], base_for(region))
    panel = legend_panel(
        spec.title, spec.subtitle, fr.date(spec.when), spec.source_line()
    )
    return standalone_bytes(m, title, panel=panel)
