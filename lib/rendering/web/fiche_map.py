"""The small map of a PTCE fiche: its seat and its territory of action (folium)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import folium
import geopandas as gpd
import pandas as pd

from geo.boundaries import load_boundaries
from geo.reference import Reference, load_reference
from lib.analysis.fiche import territoire
from lib.domain.model import Ptce
from lib.rendering.web.maps import (
    FRANCE_BOUNDS,
    LayerStyle,
    TextTooltip,
    base_map,
    territory_layer,
)

#: Territory of action on the fiche map (panes below Leaflet's overlay pane,
#: z-index 400, so that the seat marker stays on top and hoverable).
TERRITOIRE_STYLE = LayerStyle(
    "territoire", "Territoire d'action", "#a4462b", 1.6, "#e9a27f", 0.35, 390
)


#: The seat's commune, drawn when no territory of action is recorded.
SIEGE_STYLE = LayerStyle(
    "siege", "Commune du siège", "#4f7597", 1.4, "#cfe0ee", 0.5, 380
)


#: The département (or région) drawn when the seat commune is unknown.
CONTEXTE_STYLE = LayerStyle(
    "contexte", "Département", "#4a4a4a", 1.2, "#fbfaf7", 0.6, 370
)


SEAT_COLOR = "#b3261e"


def seat_point(
    record: Ptce, points: Mapping[str, tuple[float, float]] | None
) -> tuple[float, float] | None:
    """Return the seat as ``(lon, lat)``: own coordinates, else its commune's point."""
    if record.longitude is not None and record.latitude is not None:
        return (record.longitude, record.latitude)
    if record.commune and points and record.commune in points:
        lon, lat = points[record.commune]
        return (float(lon), float(lat))
    return None


def _regional(level: str) -> gpd.GeoDataFrame:
    return load_boundaries(level, "regional")


# size: 28-line numpy docstring; the body is the fallback chain territory
# of action → seat's commune → département → région, then the seat marker.
def fiche_map(
    record: Ptce,
    points: Mapping[str, tuple[float, float]] | None = None,
    *,
    boundaries: Callable[[str], gpd.GeoDataFrame] | None = None,
    tiles: bool = False,
    attribution: str | None = None,
    ref: Reference | None = None,
) -> folium.Map:
    """Build the small map of a fiche: the seat and the territory of action.

    Parameters
    ----------
    record : Ptce
        The aggregate.
    points : mapping, optional
        ``{commune code: (lon, lat)}`` (:func:`geo.lookup.commune_points`), to
        place a seat that has no coordinates of its own.
    boundaries : callable, optional
        ``level -> GeoDataFrame`` with ``code``, ``nom`` and geometry; the
        regional detail of the boundary cache by default.
    tiles : bool
        Add OpenStreetMap tiles (needs a network).
    attribution : str, optional
        Sources line of the map.
    ref : Reference, optional
        The COG reference.

    Returns
    -------
    folium.Map
        The territory of action (communes and EPCI) in the pane
        ``territoire``; when none is recorded, the seat's commune (pane
        ``siege``), or else its département or région (pane ``contexte``);
        a circle marker on the seat whose tooltip is a text node; fitted to
        all of them (France when nothing is known).
    """
    ref = ref or load_reference()
    boundaries = boundaries or _regional
    layers: list[tuple[LayerStyle, gpd.GeoDataFrame]] = []

    wanted = territoire(record, ref)
    epci_codes = [t["code"] for t in wanted if t["niveau"] == "epci"]
    commune_codes = [t["code"] for t in wanted if t["niveau"] == "commune"]
    shapes = []
    if epci_codes:
        gdf = boundaries("epci")
        shapes.append(gdf[gdf["code"].isin(epci_codes)])
    if commune_codes:
        gdf = boundaries("commune")
        shapes.append(gdf[gdf["code"].isin(commune_codes)])
    shapes = [s for s in shapes if len(s)]
    if shapes:
        layers.append((TERRITOIRE_STYLE, _concat(shapes)))
    elif record.commune:
        gdf = boundaries("commune")
        seat = gdf[gdf["code"] == record.commune]
        if len(seat):
            layers.append((SIEGE_STYLE, seat))
    if not layers:
        for level, code in (
            ("departement", record.departement),
            ("region", record.region),
        ):
            if not code:
                continue
            gdf = boundaries(level)
            area = gdf[gdf["code"] == code]
            if len(area):
                label = "Département" if level == "departement" else "Région"
                layers.append((replace(CONTEXTE_STYLE, label=label), area))
                break

    point = seat_point(record, points)
    m = base_map(tiles=tiles, bounds=_bounds(layers, point), attribution=attribution)
    for style, gdf in layers:
        territory_layer(m, _feature_collection(gdf), style)
    if point is not None:
        lon, lat = point
        marker = folium.CircleMarker(
            location=(lat, lon),
            radius=7,
            color="#ffffff",
            weight=2,
            fill_color=SEAT_COLOR,
            fill_opacity=1.0,
        )
        TextTooltip(f"{record.nom} — siège").add_to(marker)
        marker.add_to(m)
    return m


def _concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    if len(frames) == 1:
        return frames[0]
    return gpd.GeoDataFrame(
        pd.concat([f[["code", "nom", "geometry"]] for f in frames], ignore_index=True),
        geometry="geometry",
        crs=frames[0].crs,
    )


def _feature_collection(gdf: gpd.GeoDataFrame) -> dict:
    features = [
        {
            "type": "Feature",
            "properties": {"code": str(code), "nom": str(nom)},
            "geometry": geometry.__geo_interface__,
        }
        for code, nom, geometry in zip(
            gdf["code"], gdf["nom"], gdf.geometry, strict=True
        )
        if geometry is not None
    ]
    return {"type": "FeatureCollection", "features": features}


def _bounds(
    layers: list[tuple[LayerStyle, gpd.GeoDataFrame]],
    point: tuple[float, float] | None,
) -> tuple[tuple[float, float], tuple[float, float]]:
    xs: list[float] = []
    ys: list[float] = []
    for _style, gdf in layers:
        minx, miny, maxx, maxy = gdf.total_bounds
        xs += [minx, maxx]
        ys += [miny, maxy]
    if point is not None:
        xs.append(point[0])
        ys.append(point[1])
    if not xs:
        return FRANCE_BOUNDS
    # A margin of 8 % keeps the seat marker off the edge; a lone point (or a
    # tiny commune) gets at least a few kilometres around it.
    pad_x = max(0.08 * (max(xs) - min(xs)), 0.06 - (max(xs) - min(xs)) / 2)
    pad_y = max(0.08 * (max(ys) - min(ys)), 0.04 - (max(ys) - min(ys)) / 2)
    return (
        (float(min(ys) - pad_y), float(min(xs) - pad_x)),
        (float(max(ys) + pad_y), float(max(xs) + pad_x)),
    )
