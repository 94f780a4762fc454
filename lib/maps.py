"""Map building: folium maps drawn from our own boundaries, offline.

Functions here return :class:`folium.Map` objects and never import
Streamlit. Every layer of territories goes into its own Leaflet pane, which
fixes the drawing order (régions above départements above EPCI) and lets tests
find each layer's paths in the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import folium
from branca.element import Element, MacroElement
from folium.template import Template
from folium.utilities import JsCode

from lib.map_assets import use_local_assets

#: Bounds of metropolitan France and Corsica, (south, west), (north, east).
FRANCE_BOUNDS = ((41.3, -5.2), (51.1, 9.6))

OSM_TILES = "OpenStreetMap"
OSM_ATTRIBUTION = "© contributeurs OpenStreetMap"


@dataclass(frozen=True)
class LayerStyle:
    """How a layer of territories is drawn, and what its tooltip says."""

    name: str
    label: str
    color: str
    weight: float
    fill_color: str
    fill_opacity: float
    z_index: int
    interactive: bool = True

    def style(self) -> dict:
        """Leaflet path options of the layer."""
        return {
            "color": self.color,
            "weight": self.weight,
            "fillColor": self.fill_color,
            "fillOpacity": self.fill_opacity,
            # An unfilled layer lets the pointer reach the layers below it.
            "fill": self.fill_opacity > 0 or self.interactive,
        }


#: Layers of the home map. Départements (filled, invisible but hoverable) lie
#: below the EPCI; régions are outlines on top that do not catch the pointer.
STYLES = {
    "departement": LayerStyle(
        "departement", "Département", "#4a4a4a", 0.9, "#fbfaf7", 0.9, 410
    ),
    "epci": LayerStyle("epci", "EPCI", "#4f7597", 0.8, "#cfe0ee", 0.6, 420),
    "region": LayerStyle(
        "region", "Région", "#111111", 2.2, "#000000", 0.0, 430, interactive=False
    ),
}

# Tooltips are built from text nodes: names never reach innerHTML, so nothing
# in a feature's properties can inject markup into the map (same-origin iframe).
_TOOLTIP_JS = """
function(feature, layer) {
    layer.bindTooltip(function() {
        const box = document.createElement("div");
        const title = document.createElement("strong");
        title.textContent = String(feature.properties.nom);
        box.appendChild(title);
        box.appendChild(document.createElement("br"));
        const code = %s + " " + String(feature.properties.code);
        box.appendChild(document.createTextNode(code));
        return box;
    }, {sticky: true});
}
"""


#: Colour of the map where no territory is drawn (sea, abroad).
BACKGROUND = "#e6edf2"


class Attribution(MacroElement):
    """Text added to the map's attribution control (sources and licences).

    The text goes through ``tojson`` and is inserted as text, never as markup.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution(
            document.createTextNode({{ this.text|tojson }}).textContent
                .replace(/&/g, "&amp;").replace(/</g, "&lt;"));
        {% endmacro %}
        """
    )

    def __init__(self, text: str):
        super().__init__()
        self._name = "Attribution"
        self.text = text


def base_map(
    tiles: bool = False, bounds=FRANCE_BOUNDS, attribution: str | None = None
) -> folium.Map:
    """Create an empty map using the vendored Leaflet assets.

    Parameters
    ----------
    tiles : bool
        Add OpenStreetMap tiles (needs a network); off by default, the
        boundaries drawn from our own data are the base.
    bounds : tuple
        ``((south, west), (north, east))`` to fit at start.
    attribution : str, optional
        Sources line shown in the map's attribution control.

    Returns
    -------
    folium.Map
        A map with no tile layer unless asked, fitted to ``bounds``.
    """
    use_local_assets()
    m = folium.Map(
        tiles=OSM_TILES if tiles else None,
        attr=OSM_ATTRIBUTION if tiles else None,
        zoom_snap=0.25,
        # Without a tile layer Leaflet knows no zoom range, and MarkerCluster
        # refuses a map with no maxZoom ("Map has no maxZoom specified").
        min_zoom=4,
        maxZoom=18,
        prefer_canvas=False,
        control_scale=True,
    )
    m.fit_bounds(list(bounds))
    m.get_root().header.add_child(
        Element(
            f"<style>.leaflet-container{{background:{BACKGROUND}}}"
            ".leaflet-control-attribution{font-size:11px;line-height:1.3}</style>"
        )
    )
    if attribution:
        Attribution(attribution).add_to(m)
    return m


def territory_layer(
    m: folium.Map, geojson: str | dict, style: LayerStyle
) -> folium.GeoJson:
    """Add a layer of territories to a map, in a pane of its own.

    Parameters
    ----------
    m : folium.Map
        The map to draw on.
    geojson : str or dict
        A FeatureCollection whose features carry ``code`` and ``nom``.
    style : LayerStyle
        Look, pane name and tooltip label.

    Returns
    -------
    folium.GeoJson
        The layer added.
    """
    data = json.loads(geojson) if isinstance(geojson, str) else geojson
    pane = style.name
    folium.map.CustomPane(pane, z_index=style.z_index).add_to(m)
    path_style = style.style()
    layer = folium.GeoJson(
        data,
        name=style.label,
        style_function=lambda _feature: path_style,
        on_each_feature=(
            JsCode(_TOOLTIP_JS % json.dumps(style.label)) if style.interactive else None
        ),
        pane=pane,
        interactive=style.interactive,
    )
    layer.add_to(m)
    return layer


def home_map(
    regions: str | dict,
    departements: str | dict,
    epci: str | dict,
    tiles: bool = False,
    attribution: str | None = None,
) -> folium.Map:
    """Build the home map: France's régions and départements, and EPCI.

    Parameters
    ----------
    regions, departements : str or dict
        GeoJSON of the régions and départements (national detail).
    epci : str or dict
        GeoJSON of the EPCI to show (those of Pays de la Loire on the home page).
    tiles : bool
        Add OpenStreetMap tiles under the boundaries.
    attribution : str, optional
        Sources line for the map's attribution control.

    Returns
    -------
    folium.Map
        The map, each layer in the Leaflet pane of its name (``departement``,
        ``epci``, ``region``: CSS class ``leaflet-<name>-pane``), with a layer
        control.
    """
    m = base_map(tiles=tiles, attribution=attribution)
    territory_layer(m, departements, STYLES["departement"])
    territory_layer(m, epci, STYLES["epci"])
    territory_layer(m, regions, STYLES["region"])
    folium.LayerControl(collapsed=True).add_to(m)
    return m
