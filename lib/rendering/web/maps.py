"""Map building: folium maps drawn from our own boundaries, offline.

Functions here return :class:`folium.Map` objects and never import
Streamlit. Every layer of territories goes into its own Leaflet pane, which
fixes the drawing order (régions above départements above EPCI) and lets tests
find each layer's paths in the page.
"""

# size: about 590 lines are the Leaflet JS/HTML templates of the folium elements, 462
# their docstrings; the elements share SafeMacroElement's escaping and the
# pane order. 43 functions, the longest 64 lines.

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template
from folium.utilities import JsCode

from geo.boundaries import write_atomic
from lib import fr
from lib.analysis.choropleth import OUTSIDE, OUTSIDE_COLOR, OUTSIDE_HATCH, Legend
from lib.rendering import palette
from lib.rendering.framing import COMPOSITE_BOUNDS, inset_spec
from lib.rendering.web.assets import VENDOR_URL, use_local_assets

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

#: Outlines drawn over the explorer's layers.
OUTLINE_STYLES = {
    "departement": LayerStyle(
        "departement", "Département", "#3a3a3a", 0.9, "#000000", 0.0, 410,
        interactive=False,
    ),
    "region": STYLES["region"],
}  # fmt: skip

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


class _Text(Element):
    """Text already rendered: added to the page as is."""

    def __init__(self, text: str):
        super().__init__()
        self._text = text

    def render(self, **kwargs) -> str:
        """Return the text unchanged."""
        return self._text


class SafeMacroElement(MacroElement):
    """A MacroElement whose output is never parsed again as a Jinja template.

    branca's ``MacroElement.render`` wraps each rendered macro in
    ``Element(text)``, which compiles the text as a new template: a PTCE named
    ``{{ 7*7 }}`` would be evaluated on the server (template injection), and
    compiling 100 kB of marker rows costs tens of milliseconds each rerun.
    Every element of ours that carries user text or bulky data derives from
    this class.
    """

    # branca's MacroElement.render returns None too, but is unannotated, so
    # mypy holds it to Element.render's "-> str": hence the ignore.
    def render(self, **kwargs) -> None:  # type: ignore[override]
        """Add the header, html and script macros' output to the figure."""
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("Cet élément doit appartenir à une figure pour être rendu.")
        module = self._template.module
        for part in ("header", "html", "script"):
            macro = module.__dict__.get(part)
            if macro is not None:
                getattr(figure, part).add_child(
                    _Text(macro(self, kwargs)), name=self.get_name()
                )
        for element in self._children.values():
            element.render(**kwargs)


class TextTooltip(SafeMacroElement):
    """A tooltip whose text is inserted as a text node (never as markup).

    Folium's own :class:`folium.Tooltip` writes its text into a JavaScript
    template literal that Leaflet then parses as HTML; this one serialises the
    text with ``tojson`` and sets it with ``textContent``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindTooltip(function() {
            const box = document.createElement("div");
            box.textContent = {{ this.text|tojson }};
            return box;
        }, {sticky: {{ this.sticky|tojson }}});
        {% endmacro %}
        """
    )

    def __init__(self, text: str, sticky: bool = True):
        super().__init__()
        self._name = "TextTooltip"
        self.text = str(text)
        self.sticky = sticky


#: Colour of the map where no territory is drawn (sea, abroad).
BACKGROUND = palette.BACKGROUND


class Attribution(SafeMacroElement):
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


class MetricScale(MacroElement):
    """Leaflet's scale bar in metres and kilometres only (never miles).

    On a map with insets (France entière), the bar measures around the centre
    of the view: Leaflet's own measure, at the left edge, may fall in an
    inset drawn at another scale.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            const scale = L.control.scale({imperial: false});
            if (map.options.crs.insets) {
                scale._update = function () {
                    const m = this._map, c = m.getSize().divideBy(2);
                    const a = m.containerPointToLatLng(c);
                    const b = m.containerPointToLatLng(c.add([10, 0]));
                    this._updateScales(m.distance(a, b) * this.options.maxWidth / 10);
                };
            }
            scale.addTo(map);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self):
        super().__init__()
        self._name = "MetricScale"


# The composite projection of France entière (see lib.rendering.framing): spherical
# Mercator, except inside each overseas box, moved and scaled into its inset
# frame. Every layer goes through the map's projection, so boundaries,
# markers, clusters and lines are drawn in the insets with no change to the
# data, and clicks come back with true coordinates.
COMPOSITE_CRS_JS = """
L.CRS.AtlasFrance = L.CRS.AtlasFrance || (function (insets) {
    const merc = L.Projection.SphericalMercator;
    const inBox = (ll, b) =>
        ll.lat >= b[0] && ll.lat <= b[2] && ll.lng >= b[1] && ll.lng <= b[3];
    const inRect = (p, r) => p.x >= r[0] && p.x <= r[2] && p.y >= r[1] && p.y <= r[3];
    const projection = {
        bounds: merc.bounds,
        project: function (latlng) {
            const p = merc.project(latlng);
            for (const i of insets) {
                if (inBox(latlng, i.box)) {
                    return L.point((p.x - i.c[0]) * i.k + i.t[0],
                                   (p.y - i.c[1]) * i.k + i.t[1]);
                }
            }
            return p;
        },
        unproject: function (point) {
            for (const i of insets) {
                if (inRect(point, i.rect)) {
                    return merc.unproject(L.point((point.x - i.t[0]) / i.k + i.c[0],
                                                  (point.y - i.t[1]) / i.k + i.c[1]));
                }
            }
            return merc.unproject(point);
        }
    };
    return L.extend({}, L.CRS.EPSG3857,
                    {code: "AtlasFrance", projection: projection, insets: insets});
})(%s);
"""

# Visible bounds of a composite map: the view's own, extended by the true box
# of each inset in sight. Layers that skip what is out of view (marker
# clusters) then keep the overseas markers drawn in the insets.
_COMPOSITE_BOUNDS_JS = """
(function (map) {
    const plain = map.getBounds;
    map.getBounds = function () {
        const bounds = plain.call(this);
        const crs = this.options.crs, view = this.getPixelBounds();
        const scale = crs.scale(this.getZoom());
        const pixel = (x, y) => crs.transformation.transform(L.point(x, y), scale);
        for (const i of crs.insets) {
            const [x0, y0, x1, y1] = i.rect;
            if (L.bounds(pixel(x0, y0), pixel(x1, y1)).intersects(view)) {
                bounds.extend([[i.box[0], i.box[1]], [i.box[2], i.box[3]]]);
            }
        }
        return bounds;
    };
})(%s);
"""


class AtlasMap(folium.Map):
    """A folium map that can use the composite projection of France entière.

    Parameters
    ----------
    insets : bool
        Draw the overseas départements in insets (:mod:`lib.rendering.framing`).
    **kwargs
        Passed to :class:`folium.Map`.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}{{ this._folium("header", kwargs) }}
        {% endmacro %}
        {% macro html(this, kwargs) %}{{ this._folium("html", kwargs) }}{% endmacro %}
        {% macro script(this, kwargs) %}
        {%- if this.insets %}{{ this.crs_js() }}{% endif %}
        {{ this._folium('script', kwargs) }}
        {%- if this.insets %}{{ this.bounds_js() }}{% endif %}
        {% endmacro %}
        """
    )

    def __init__(self, *, insets: bool = False, **kwargs):
        if insets:
            kwargs["crs"] = "AtlasFrance"
        super().__init__(**kwargs)
        self.insets = insets

    def crs_js(self) -> str:
        """Script defining the composite projection (before the map is made)."""
        return COMPOSITE_CRS_JS % json.dumps(inset_spec())

    def bounds_js(self) -> str:
        """Script widening the map's visible bounds to the insets in sight."""
        return _COMPOSITE_BOUNDS_JS % self.get_name()

    def _folium(self, part: str, kwargs: dict) -> str:
        # folium's own macros, so that the map is created as folium does.
        return getattr(folium.Map._template.module, part)(self, kwargs)


class InsetFrames(SafeMacroElement):
    """Frames and names of the overseas insets (under France entière).

    The frames are filled with the sea colour: with OpenStreetMap tiles on,
    they hide what lies under them in metropolitan coordinates. Names are
    set as text, never as markup.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            const pane = map.createPane("insets");
            pane.style.zIndex = 250;
            pane.style.pointerEvents = "none";
            for (const i of {{ this.spec|tojson }}) {
                L.rectangle(i.corners, {
                    pane: "insets", interactive: false, color: "#6b7b88",
                    weight: 1, fillColor: {{ this.fill|tojson }}, fillOpacity: 1,
                    className: "atlas-inset-frame"
                }).addTo(map);
                const label = document.createElement("span");
                label.textContent = i.nom;
                L.marker(i.label, {
                    pane: "insets", interactive: false, keyboard: false,
                    icon: L.divIcon({className: "atlas-inset-label", html: label,
                                     iconSize: null, iconAnchor: [0, 16]})
                }).addTo(map);
            }
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, fill: str):
        super().__init__()
        self._name = "InsetFrames"
        self.spec = inset_spec()
        self.fill = fill


class FitView(SafeMacroElement):
    """Fit the map to bounds when what is framed changes (the user's view is kept).

    Sent with the feature groups on each rerun: the map is fitted when
    ``key`` differs from the last one fitted on this map, and left where the
    user put it otherwise (a filière changed, say). A new map (another
    région) fits at once.

    Parameters
    ----------
    key : str
        What is framed (e.g. ``"52|departement:44"``).
    bounds : tuple
        ``((south, west), (north, east))`` as drawn (insets applied).
    padding : int
        Pixels kept free around the bounds (controls, attribution).
    corner : bool
        Keep the bounds clear of the bottom-right controls (the legend) even
        if the map must zoom out one step (a quarter level) for it; otherwise
        only when that costs no zoom. For France entière, whose bottom-right
        corner is Corsica.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            const key = {{ this.key|tojson }};
            if (map._atlasFit === key) { return; }
            map._atlasFit = key;
            const bounds = L.latLngBounds({{ this.bounds|tojson }});
            const topLeft = L.point({{ this.top_left|tojson }});
            let bottomRight = L.point({{ this.bottom_right|tojson }});
            // A control in the bottom-right corner (the legend) would hide
            // part of the bounds: keep its width free when that costs no zoom.
            let width = 0;
            map.getContainer().querySelectorAll(
                ".leaflet-bottom.leaflet-right .leaflet-control"
            ).forEach(c => {
                if (!c.classList.contains("leaflet-control-attribution")) {
                    width = Math.max(width, c.offsetWidth + 10);
                }
            });
            const room = bottomRight.add([width, 0]);
            const cost = map.getBoundsZoom(bounds, false, topLeft.add(bottomRight)) -
                map.getBoundsZoom(bounds, false, topLeft.add(room));
            if (width && cost <= {{ this.cost|tojson }}) {
                bottomRight = room;
            }
            map.fitBounds(bounds, {
                paddingTopLeft: topLeft, paddingBottomRight: bottomRight,
                animate: false
            });
        })({{ this._parent._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, key: str, bounds, padding: int = 16, corner: bool = False):
        super().__init__()
        self._name = "FitView"
        self.key = key
        # Zoom levels the legend's room may cost (one zoomSnap step).
        self.cost = 0.25 if corner else 0
        self.bounds = [list(bounds[0]), list(bounds[1])]
        # Left: the zoom buttons; bottom: the scale bar and the sources line.
        self.top_left = [padding + 36, padding]
        self.bottom_right = [padding, padding + 20]


#: Names of folium's default assets that no map of the atlas needs.
_UNUSED_ASSETS = frozenset(
    {
        "jquery",
        "bootstrap",
        "awesome_markers",
        "bootstrap_css",
        "awesome_markers_font_css",
        "awesome_markers_css",
        "awesome_rotate_css",
        "glyphicons_css",
    }
)


def base_map(
    tiles: bool = False,
    bounds=FRANCE_BOUNDS,
    attribution: str | None = None,
    insets: bool = False,
) -> folium.Map:
    """Create an empty map using the vendored Leaflet assets.

    Parameters
    ----------
    tiles : bool
        Add OpenStreetMap tiles (needs a network); off by default, the
        boundaries drawn from our own data are the base.
    bounds : tuple
        ``((south, west), (north, east))`` to fit at start, as drawn.
    attribution : str, optional
        Sources line shown in the map's attribution control.
    insets : bool
        Draw the overseas départements in insets west of metropolitan France
        (France entière, see :mod:`lib.rendering.framing`).

    Returns
    -------
    folium.Map
        A map with no tile layer unless asked, fitted to ``bounds``, with a
        metric scale bar.
    """
    use_local_assets()
    m = AtlasMap(
        insets=insets,
        tiles=OSM_TILES if tiles else None,
        attr=OSM_ATTRIBUTION if tiles else None,
        zoom_snap=0.25,
        # Without a tile layer Leaflet knows no zoom range, and MarkerCluster
        # refuses a map with no maxZoom ("Map has no maxZoom specified").
        min_zoom=4,
        maxZoom=18,
        prefer_canvas=False,
        # folium's scale bar shows miles too: ours is metric only.
        control_scale=False,
    )
    MetricScale().add_to(m)
    # The atlas draws no folium.Icon, no Bootstrap widget: jQuery, Bootstrap
    # and the awesome-markers files would be four more scripts and style
    # sheets that streamlit-folium loads one after the other in the iframe.
    m.default_js = [p for p in m.default_js if p[0] not in _UNUSED_ASSETS]
    m.default_css = [p for p in m.default_css if p[0] not in _UNUSED_ASSETS]
    # Room for the zoom buttons (left) and the scale and sources (bottom).
    m.fit_bounds(list(bounds), padding_top_left=(52, 16), padding_bottom_right=(16, 36))
    if insets:
        InsetFrames(BACKGROUND).add_to(m)
    figure = m.get_root()
    assert isinstance(figure, Figure)  # folium.Map puts itself in a Figure
    figure.header.add_child(
        Element(
            f"<style>.leaflet-container{{background:{BACKGROUND}}}"
            ".leaflet-control-attribution{font-size:11px;line-height:1.3}"
            ".atlas-inset-label{font:600 12px/1.2 sans-serif;color:#333;"
            "white-space:nowrap}</style>"
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
    insets: bool = True,
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
    insets : bool
        Overseas départements in insets west of metropolitan France, as on
        the Carte under France entière.

    Returns
    -------
    folium.Map
        The map, each layer in the Leaflet pane of its name (``departement``,
        ``epci``, ``region``: CSS class ``leaflet-<name>-pane``), with a layer
        control.
    """
    bounds = COMPOSITE_BOUNDS if insets else FRANCE_BOUNDS
    m = base_map(tiles=tiles, bounds=bounds, attribution=attribution, insets=insets)
    territory_layer(m, departements, STYLES["departement"])
    territory_layer(m, epci, STYLES["epci"])
    territory_layer(m, regions, STYLES["region"])
    folium.LayerControl(collapsed=True).add_to(m)
    return m


# --------------------------------------------------------------------------
# Explorer map
# --------------------------------------------------------------------------

# Colours live in lib.rendering.palette (one place for folium, matplotlib and legends);
# re-exported here, where the map code and older imports look for them.
FILIERE_COLORS = palette.FILIERE_COLORS
LEVEL_COLORS = palette.LEVEL_COLORS

# Markers are drawn in the browser from a JSON array (fast with 100,000 PTCE)
# and every text goes through textContent: names typed by users can never
# become markup in the map's same-origin iframe. Each marker is a disc in its
# filière colour ringed white then dark (HTML, so two rings cost one element),
# readable on every choropleth class; one icon per filière is shared by all
# markers. The icons' markup holds only colours of lib.rendering.palette, no user text.
_MARKER_JS = """
(function () {
const FILIERES = %(filieres)s;
const COLORS = %(colors)s;
const FICHE = %(fiche)s;
const LIGHT = %(light)s, DARK = %(dark)s;
const icons = {};
const icon = (index, approx) => {
    const key = index + (approx ? "~" : "");
    if (!icons[key]) {
        // Approximate position (chef-lieu): dashed dark ring, paler fill.
        const ring = approx
            ? "border:2px dashed " + DARK + ";box-shadow:0 0 0 1px " + LIGHT + ";"
              + "background:" + COLORS[index] + "99"
            : "border:2px solid " + LIGHT + ";box-shadow:0 0 0 1px " + DARK + ";"
              + "background:" + COLORS[index];
        icons[key] = L.divIcon({
            className: "ptce-marker" + (approx ? " ptce-approx" : ""),
            html: '<span style="display:block;box-sizing:border-box;width:16px;'
                + 'height:16px;border-radius:50%%;' + ring + '"></span>',
            iconSize: [16, 16], iconAnchor: [8, 8],
            tooltipAnchor: [8, 0], popupAnchor: [0, -8]
        });
    }
    return icons[key];
};
return function (row) {
    const [lat, lon, index, approx, nom, lieu, id, deduit] = row;
    const filiere = FILIERES[index];
    const href = FICHE + encodeURIComponent(id);
    const marker = L.marker(new L.LatLng(lat, lon), {
        icon: icon(index, approx), pane: "ptce", keyboard: false
    });
    const text = (tag, value) => {
        const el = document.createElement(tag);
        el.textContent = value;
        return el;
    };
    marker.bindTooltip(function () {
        const box = document.createElement("div");
        box.appendChild(text("strong", nom));
        box.appendChild(document.createElement("br"));
        box.appendChild(document.createTextNode(lieu));
        if (deduit) box.appendChild(text("div", deduit));
        return box;
    });
    marker.bindPopup(function () {
        const box = document.createElement("div");
        box.appendChild(text("strong", nom));
        box.appendChild(text("div", lieu));
        box.appendChild(text("div", "Filière : " + filiere));
        if (deduit) box.appendChild(text("div", deduit));
        const link = text("a", "Ouvrir la fiche");
        link.setAttribute("href", href);
        link.setAttribute("target", "_top");
        box.appendChild(link);
        return box;
    });
    return marker;
};
})()
"""

# Clusters are neutral: a white bubble outlined in dark ink with the count
# (French digit grouping), sized by count. Leaflet's default green, yellow
# and orange bubbles looked like filière colours.
_CLUSTER_ICON_JS = """
function (cluster) {
    const n = cluster.getChildCount();
    const size = n < 10 ? 28 : n < 100 ? 34 : n < 1000 ? 40 : 46;
    const bubble = document.createElement("div");
    bubble.style.cssText = "box-sizing:border-box;width:" + size + "px;height:"
        + size + "px;line-height:" + (size - 6) + "px;margin:0;border-radius:50%%;"
        + "background:__FILL__;border:3px solid __INK__;color:__INK__;"
        + "box-shadow:0 0 0 2px __FILL__;text-align:center;"
        + "font:600 12px/" + (size - 6) + "px system-ui,sans-serif";
    bubble.textContent = n.toLocaleString("fr-FR");
    return L.divIcon({
        html: bubble.outerHTML, className: "marker-cluster ptce-cluster",
        iconSize: L.point(size, size)
    });
}
"""
_CLUSTER_ICON_JS = (
    _CLUSTER_ICON_JS.replace("%%", "%")
    .replace("__FILL__", palette.CLUSTER_FILL)
    .replace("__INK__", palette.CLUSTER_INK)
)


def fit_bounds_of(gdf) -> tuple[tuple[float, float], tuple[float, float]]:
    """Return ``((south, west), (north, east))`` of a GeoDataFrame."""
    minx, miny, maxx, maxy = gdf.total_bounds
    return ((float(miny), float(minx)), (float(maxy), float(maxx)))


def explorer_base(
    regions_url: str,
    bounds=FRANCE_BOUNDS,
    tiles: bool = False,
    attribution: str | None = None,
    insets: bool = False,
) -> folium.Map:
    """Build the explorer's base map: région outlines and the layers' panes.

    The base never depends on the filters and renders to the same script on
    every rerun (see :func:`stable_ids`): pass the changing layers to
    ``st_folium`` as feature groups, so that a filter change redraws points
    and colours, never the base, and the user's view is kept.

    Parameters
    ----------
    regions_url : str
        URL of the régions' GeoJSON (:func:`geo.boundaries.static_geojson`).
    bounds : tuple
        View to fit at start.
    tiles : bool
        Add OpenStreetMap tiles (needs a network).
    attribution : str, optional
        Sources line of the map.
    insets : bool
        Overseas départements in insets (France entière, see :func:`base_map`).

    Returns
    -------
    folium.Map
        With panes ``departement`` (outlines, above the choropleth), ``ptce``
        (markers) and ``region`` (outlines, on top).
    """
    m = base_map(tiles=tiles, bounds=bounds, attribution=attribution, insets=insets)
    panes = (
        ("departement", 410),
        ("soutiens", 440),  # support outlines and lines, under the markers
        ("ptce", 450),
        ("soutiens-fin", 455),  # ends of the support lines, over the clusters
        ("region", 460),
    )
    for name, z_index in panes:
        folium.map.CustomPane(name, z_index=z_index).add_to(m)
    style = OUTLINE_STYLES["region"]
    RemoteGeoJson(regions_url, style.style(), interactive=False, pane="region").add_to(
        m
    )
    return stable_ids(m)


def outlines(url: str, level: str = "departement") -> folium.FeatureGroup:
    """Outlines of territories above the choropleth, not catching the pointer.

    Parameters
    ----------
    url : str
        URL of the GeoJSON.
    level : str
        ``departement`` (drawn in the pane of that name).

    Returns
    -------
    folium.FeatureGroup
    """
    group = folium.FeatureGroup(name="Contours")
    style = OUTLINE_STYLES[level].style()
    RemoteGeoJson(url, style, interactive=False, pane=level).add_to(group)
    return group


#: Above this many markers, the rows go to a static file fetched once by the
#: browser instead of riding in every rerun's script.
REMOTE_MARKERS_FROM = 1500
MARKERS_DIR = Path(__file__).resolve().parents[3] / "static" / "markers"
MARKERS_URL = "/app/static/markers"
#: Marker files kept (content-addressed; the oldest go first).
MARKERS_KEPT = 100
_CLUSTER_OPTIONS = {
    "maxClusterRadius": 40,
    "disableClusteringAtZoom": 11,
    "chunkedLoading": True,
    # Bubbles in the markers' pane: the ends of the support lines, drawn in
    # the pane above, stay visible over them.
    "clusterPane": "ptce",
}


def marker_rows(ptce) -> list[list]:
    """Return one compact row per placed PTCE, as the map's markers read them.

    Parameters
    ----------
    ptce : pandas.DataFrame
        Rows of :attr:`lib.domain.selection.Frames.ptce` (``lon``/``lat`` may be NaN:
        those PTCE cannot be placed and are left out).

    Returns
    -------
    list of list
        ``[lat, lon, filière index, approximate, name, place, id, certainty]``;
        the filière is an index into :data:`FILIERE_COLORS` (sent once);
        certainty is :func:`marker_certainty` (empty when every value is read).
    """
    placed = ptce[ptce["lon"].notna() & ptce["lat"].notna()]
    index = {name: i for i, name in enumerate(FILIERE_COLORS)}
    filieres = placed["filiere"].map(index).fillna(index["autre"]).astype(int)
    approximate = ~placed["placement"].isin(("commune", "coordonnées"))
    # Column-wise: this runs over 100,000 rows in the national view.
    return [
        list(row)
        for row in zip(
            placed["lat"].round(5).tolist(),
            placed["lon"].round(5).tolist(),
            filieres.tolist(),
            approximate.tolist(),
            placed["nom"].astype(str).tolist(),
            placed["lieu"].tolist(),
            placed["id"].astype(str).tolist(),
            marker_certainty(placed),
            strict=True,
        )
    ]


def marker_certainty(ptce) -> list[str]:
    """Say which values of each PTCE are inferred, for its tooltip and popup.

    Parameters
    ----------
    ptce : pandas.DataFrame
        Rows of :attr:`lib.domain.selection.Frames.ptce`.

    Returns
    -------
    list of str
        E.g. « Valeurs déduites : département · même pôle probable qu'une
        autre fiche », or "" when every value was read in a source.
    """
    if "deduit" not in ptce:
        return [""] * len(ptce)
    out = []
    for fields, doubles in zip(ptce["deduit"], ptce["meme_pole_que"], strict=True):
        parts = []
        if fields:
            parts.append("Valeurs déduites : " + ", ".join(fields))
        if doubles:
            parts.append("même pôle probable qu'une autre fiche")
        out.append(" · ".join(parts))
    return out


def marker_file(rows: list[list]) -> str:
    """Write marker rows to a static, content-addressed file; return its URL.

    Parameters
    ----------
    rows : list of list
        As returned by :func:`marker_rows`.

    Returns
    -------
    str
        ``/app/static/markers/<sha1>.json``; the same rows give the same URL,
        so the browser fetches a selection once.
    """
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha1(text.encode()).hexdigest()[:20]
    path = MARKERS_DIR / f"{digest}.json"
    if not path.exists():
        write_atomic(path, text)
        _prune(MARKERS_DIR, MARKERS_KEPT)
    return f"{MARKERS_URL}/{path.name}"


def _prune(folder: Path, kept: int) -> None:
    # Other sessions may prune at the same time: a file gone meanwhile is fine.
    dated = []
    for file in folder.glob("*.json"):
        try:
            dated.append((file.stat().st_mtime, file))
        except FileNotFoundError:
            continue
    for _, old in sorted(dated)[:-kept]:
        old.unlink(missing_ok=True)


class ClusterMarkers(JSCSSMixin, SafeMacroElement):
    """A marker cluster of compact rows, embedded or read from a static file.

    Rows (see :func:`marker_rows`) are embedded in the script for small
    selections; from ``remote_from`` rows on, they are read from a static file
    (see :func:`marker_file`) that the browser caches.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            const callback = {{ this.callback }};
            const cluster = L.markerClusterGroup(Object.assign(
                {{ this.options|tojson }}, {iconCreateFunction: {{ this.icon }}}));
            {%- if this.url %}
            const request = new XMLHttpRequest();
            request.open("GET", {{ this.url|tojson }}, false);
            request.send(null);
            const rows = request.status === 200 ? JSON.parse(request.responseText) : [];
            {%- else %}
            const rows = {{ this.rows|tojson }};
            {%- endif %}
            cluster.addLayers(rows.map(callback));
            return cluster;
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )
    _CLUSTER = f"{VENDOR_URL}/leaflet.markercluster"
    # Class lists (lib.rendering.web.assets rewrites them on the class), but
    # folium's JSCSSMixin annotates them as instance variables: hence the ignores.
    default_js: ClassVar = [  # type: ignore[misc]
        ("markerclusterjs", f"{_CLUSTER}/leaflet.markercluster.js")
    ]
    # Not MarkerCluster.Default.css: its coloured bubbles are replaced.
    default_css: ClassVar = [  # type: ignore[misc]
        ("markerclustercss", f"{_CLUSTER}/MarkerCluster.css")
    ]
    icon = _CLUSTER_ICON_JS

    def __init__(
        self,
        callback: str,
        options: dict,
        url: str | None = None,
        rows: list[list] | None = None,
    ):
        super().__init__()
        self._name = "ClusterMarkers"
        self.url = url
        self.rows = rows or []
        self.callback = callback
        self.options = options


def ptce_markers(
    ptce,
    fiche_url: str = "./annuaire?ptce=",
    remote_from: int = REMOTE_MARKERS_FROM,
    rows: list[list] | None = None,
    url: str | None = None,
) -> folium.FeatureGroup:
    """Markers of PTCE coloured by main filière, clustered when dense.

    Parameters
    ----------
    ptce : pandas.DataFrame
        Rows of :attr:`lib.domain.selection.Frames.ptce` (unplaced PTCE are left out).
    fiche_url : str
        Link prefix of a PTCE fiche; the id is appended, URL-encoded (in the
        browser).
    remote_from : int
        From this many markers on, rows are served as a static file
        rather than embedded in the script.
    rows, url : optional
        Rows already made by :func:`marker_rows`, and their file's URL if it
        is already written (callers cache both per selection).

    Returns
    -------
    folium.FeatureGroup
        Named "PTCE", holding one :class:`ClusterMarkers`.
    """
    rows = marker_rows(ptce) if rows is None else rows
    callback = _MARKER_JS % {
        "filieres": json.dumps(list(FILIERE_COLORS), ensure_ascii=False),
        "colors": json.dumps(list(FILIERE_COLORS.values())),
        "fiche": json.dumps(fiche_url),
        "light": json.dumps(palette.HALO_LIGHT),
        "dark": json.dumps(palette.HALO_DARK),
    }
    group = folium.FeatureGroup(name="PTCE")
    if url is not None or len(rows) >= remote_from:
        url = url or marker_file(rows)
        ClusterMarkers(callback, _CLUSTER_OPTIONS, url=url).add_to(group)
    else:
        ClusterMarkers(callback, _CLUSTER_OPTIONS, rows=rows).add_to(group)
    return group


def choropleth_layer(
    url: str,
    colors: dict[str, str],
    values: dict[str, float],
    label: str,
    legend: Legend | None = None,
    outside: Iterable[str] = (),
) -> folium.FeatureGroup:
    """Territories filled by class colour, with their value in the tooltip.

    Parameters
    ----------
    url : str
        URL of the territories' GeoJSON (``code`` and ``nom`` properties).
    colors : dict
        Fill colour per code (see :func:`lib.analysis.choropleth.classify`).
    values : dict
        Indicator value per code, shown in the tooltip.
    label : str
        Name of the indicator.
    legend : Legend, optional
        The classes: they write the tooltips' values (unit, label of 0);
        the legend itself is drawn by :class:`MapLegend`.
    outside : iterable of str
        Codes of the territories outside the selection: hatched, their
        tooltip says « hors sélection ».

    Returns
    -------
    folium.FeatureGroup
        Named "Choroplèthe"; territories are clickable (their properties
        come back to the app). Only colours, values and the legend travel
        on a rerun.
    """
    outside = set(outside)
    # Without a legend, values are written as counts of PTCE.
    write = (legend or Legend("", "", (), (), (), 0)).value_text
    texts = {
        code: OUTSIDE if code in outside else write(v) for code, v in values.items()
    }
    fills = dict(colors)
    group = folium.FeatureGroup(name="Choroplèthe")
    if outside:
        HatchPattern().add_to(group)
        for code in outside:
            fills[code] = f"url(#{HatchPattern.ID})"
    RemoteGeoJson(
        url,
        {"fillOpacity": 0.8, "color": "#555555", "weight": 0.6, "fillColor": "#e6e6e6"},
        colors=fills,
        values=texts,
        label=label,
    ).add_to(group)
    return group


class HatchPattern(SafeMacroElement):
    """The SVG hatch that fills territories outside the selection.

    Leaflet draws paths in SVG: a fill ``url(#atlas-hors-selection)`` finds
    this pattern, defined once in a hidden SVG of the page.
    """

    ID = "atlas-hors-selection"
    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            const id = {{ this.ID|tojson }};
            if (document.getElementById(id)) { return; }
            const ns = "http://www.w3.org/2000/svg";
            const svg = document.createElementNS(ns, "svg");
            svg.setAttribute("width", "0");
            svg.setAttribute("height", "0");
            svg.setAttribute("aria-hidden", "true");
            svg.style.position = "absolute";
            const pattern = document.createElementNS(ns, "pattern");
            pattern.setAttribute("id", id);
            pattern.setAttribute("patternUnits", "userSpaceOnUse");
            pattern.setAttribute("width", "7");
            pattern.setAttribute("height", "7");
            pattern.setAttribute("patternTransform", "rotate(45)");
            const back = document.createElementNS(ns, "rect");
            back.setAttribute("width", "7");
            back.setAttribute("height", "7");
            back.setAttribute("fill", {{ this.background|tojson }});
            const line = document.createElementNS(ns, "line");
            line.setAttribute("x1", "0");
            line.setAttribute("y1", "0");
            line.setAttribute("x2", "0");
            line.setAttribute("y2", "7");
            line.setAttribute("stroke", {{ this.hatch|tojson }});
            line.setAttribute("stroke-width", "2");
            pattern.appendChild(back);
            pattern.appendChild(line);
            const defs = document.createElementNS(ns, "defs");
            defs.appendChild(pattern);
            svg.appendChild(defs);
            document.body.appendChild(svg);
        })();
        {% endmacro %}
        """
    )

    def __init__(self):
        super().__init__()
        self._name = "HatchPattern"
        self.background = OUTSIDE_COLOR
        self.hatch = OUTSIDE_HATCH


class MapLegend(SafeMacroElement):
    """The legend of a map vue, drawn in the map's bottom-right corner.

    One box, one block per layer drawn (:attr:`lib.rendering.vue.MapSpec.sections`:
    the choropleth's classes, the PTCE by filière, the supports by level…),
    each key drawn as the map draws it. A Leaflet layer of its own feature
    group: it comes and goes with the groups (``st_folium`` swaps them on a
    rerun), so the legend always matches what is drawn. Every label is set
    as text, never as markup. The box folds (« Légende ») to free the map.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            const spec = {{ this.spec|tojson }};
            const SVG = "http://www.w3.org/2000/svg";
            function svg(tag, attrs, parent) {
                const el = document.createElementNS(SVG, tag);
                for (const [k, v] of Object.entries(attrs)) {
                    if (v !== null && v !== undefined) { el.setAttribute(k, v); }
                }
                if (parent) { parent.appendChild(el); }
                return el;
            }
            function swatch(key) {
                if (key.kind === "patch" || key.kind === "hatch") {
                    const box = document.createElement("span");
                    box.style.cssText = "flex:none;width:1.6em;height:1em;" +
                        "margin-right:.45em;border:1px solid #777;background:" +
                        (key.kind === "hatch" ? spec.hatch : key.color);
                    return box;
                }
                const s = svg("svg", {width: 26, height: 16, viewBox: "0 0 26 16",
                                      "aria-hidden": "true"});
                s.style.cssText = "flex:none;margin-right:.45em";
                if (key.kind === "line") {
                    svg("line", {x1: 1, y1: 8, x2: 25, y2: 8, stroke: spec.casing,
                                 "stroke-width": key.weight + 3}, s);
                    svg("line", {x1: 1, y1: 8, x2: 25, y2: 8, stroke: key.color,
                                 "stroke-width": key.weight,
                                 "stroke-dasharray": key.dash}, s);
                } else if (key.kind === "outline") {
                    svg("rect", {x: 2, y: 2, width: 22, height: 12, fill: "none",
                                 stroke: key.color, "stroke-width": 2,
                                 "stroke-dasharray": key.dash}, s);
                } else if (key.kind === "bubble") {
                    svg("circle", {cx: 13, cy: 8, r: 7, fill: key.color,
                                   stroke: spec.ink, "stroke-width": 1.5}, s);
                    const t = svg("text", {x: 13, y: 11.5, "font-size": 9,
                                           "text-anchor": "middle",
                                           fill: spec.ink}, s);
                    t.textContent = "3";
                } else if (key.kind === "ring") {
                    svg("circle", {cx: 13, cy: 8, r: 6, fill: "none",
                                   stroke: key.color, "stroke-width": 2.5}, s);
                } else {
                    svg("circle", {cx: 13, cy: 8, r: 6, fill: key.color,
                                   stroke: spec.halo[0], "stroke-width": 1.5}, s);
                    svg("circle", {cx: 13, cy: 8, r: 7, fill: "none",
                                   stroke: spec.halo[1], "stroke-width": 1}, s);
                }
                return s;
            }
            function text(tag, value, css, parent) {
                const el = document.createElement(tag);
                el.textContent = value;
                if (css) { el.style.cssText = css; }
                parent.appendChild(el);
                return el;
            }
            const Legend = L.Layer.extend({
                onAdd: function (map) {
                    this._control = L.control({position: "bottomright"});
                    this._control.onAdd = function () {
                        const box = L.DomUtil.create("details", "atlas-legend");
                        box.open = true;
                        box.setAttribute("role", "group");
                        box.setAttribute("aria-label", "Légende de la carte");
                        box.style.cssText = "background:rgba(255,255,255,.93);" +
                            "padding:6px 9px;border-radius:4px;font:12px/1.4 " +
                            "system-ui,sans-serif;color:#222;max-width:23em;" +
                            "max-height:calc(" + spec.room + " - 40px);" +
                            "overflow:auto;box-shadow:0 1px 4px rgba(0,0,0,.3)";
                        text("summary", "Légende", "cursor:pointer;font-weight:600;" +
                             "color:#555", box);
                        for (const section of spec.sections) {
                            const part = document.createElement("div");
                            part.className = "atlas-legend-section";
                            part.dataset.layer = section.layer;
                            part.style.marginTop = "3px";
                            text("strong", section.title, "", part);
                            if (section.note) {
                                text("div", section.note, "color:#555", part);
                            }
                            for (const key of section.keys) {
                                const row = document.createElement("div");
                                row.className = "atlas-legend-entry";
                                row.dataset.kind = key.kind;
                                row.dataset.color = key.color;
                                row.style.cssText = "display:flex;align-items:center";
                                row.appendChild(swatch(key));
                                text("span", key.label, "", row);
                                part.appendChild(row);
                            }
                            if (section.footnote) {
                                text("div", section.footnote,
                                     "color:#555;margin-top:2px", part);
                            }
                            box.appendChild(part);
                        }
                        L.DomEvent.disableClickPropagation(box);
                        L.DomEvent.disableScrollPropagation(box);
                        return box;
                    };
                    this._control.addTo(map);
                    return this;
                },
                onRemove: function (map) {
                    map.removeControl(this._control);
                    return this;
                }
            });
            return new Legend();
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, sections, room: str = "100%"):
        super().__init__()
        self._name = "MapLegend"
        self.spec: dict[str, Any] = {
            "sections": [
                {
                    "layer": s.layer,
                    "title": s.title,
                    "note": s.note,
                    "footnote": s.footnote,
                    "keys": [
                        {
                            "kind": k.kind,
                            "color": k.color,
                            "label": k.label,
                            "dash": k.dash,
                            "weight": k.weight,
                        }
                        for k in s.keys
                    ],
                }
                for s in sections
            ],
            "room": room,
            # Drawn as the map draws its marks (lib.rendering.palette).
            "halo": [palette.HALO_LIGHT, palette.HALO_DARK],
            "ink": palette.CLUSTER_INK,
            "casing": palette.LINE_CASING,
            "hatch": (
                f"repeating-linear-gradient(45deg,{OUTSIDE_HATCH} 0 1.5px,"
                f"{OUTSIDE_COLOR} 1.5px 5px)"
            ),
        }

    def entries(self) -> list[tuple[str, str, str]]:
        """Return ``(section title, label, colour)`` per key, as drawn."""
        return [
            (s["title"], k["label"], k["color"])
            for s in self.spec["sections"]
            for k in s["keys"]
        ]

    def texts(self, layer: str) -> list[str]:
        """Return the lines of one layer's block, as drawn (title, note, keys…)."""
        for s in self.spec["sections"]:
            if s["layer"] == layer:
                lines = [s["title"], s["note"], *(k["label"] for k in s["keys"])]
                return [t for t in (*lines, s["footnote"]) if t]
        return []


def _key_html(key) -> str:
    """One colour key of :func:`legend_html`, drawn as the map draws it."""
    color = html.escape(key.color, quote=True)
    attrs = f'data-kind="{key.kind}" data-color="{color}"'
    if key.kind in ("patch", "hatch"):
        fill = (
            f"repeating-linear-gradient(45deg,{OUTSIDE_HATCH} 0 2px,"
            f"{OUTSIDE_COLOR} 2px 6px)"
            if key.kind == "hatch"
            else color
        )
        return (
            f'<span class="pres-key pres-key-box" {attrs} '
            f'style="background:{fill}"></span>'
        )
    if key.kind == "disc":
        return (
            f'<span class="pres-key pres-key-dot" {attrs} '
            f'style="background:{color}"></span>'
        )
    if key.kind == "bubble":
        return (
            f'<span class="pres-key pres-key-cluster" {attrs} style="background:'
            f'{color};border:.12em solid {palette.CLUSTER_INK}">3</span>'
        )
    if key.kind == "ring":
        return (
            f'<span class="pres-key pres-key-ring" {attrs} '
            f'style="border:.2em solid {color}"></span>'
        )
    if key.kind == "outline":
        return (
            f'<span class="pres-key pres-key-box" {attrs} '
            f'style="background:transparent;border:.15em dashed {color}"></span>'
        )
    dashed = f" stroke-dasharray='{html.escape(key.dash)}'" if key.dash else ""
    return (
        f'<svg class="pres-key pres-key-line" {attrs} viewBox="0 0 40 12" '
        'aria-hidden="true">'
        f"<line x1='1' y1='6' x2='39' y2='6' stroke='{palette.LINE_CASING}' "
        f"stroke-width='{key.weight + 3}'/>"
        f"<line x1='1' y1='6' x2='39' y2='6' stroke='{color}' "
        f"stroke-width='{key.weight}'{dashed}/></svg>"
    )


def legend_html(spec) -> str:
    """Return a map's legend as HTML, to draw beside the map (Présentation).

    The same sections and keys as :class:`MapLegend` draws in the map
    (:attr:`lib.rendering.vue.MapSpec.sections`), sized by the page's style
    sheet (classes ``pres-legend``, ``pres-key-*``); every text escaped.

    Parameters
    ----------
    spec : lib.rendering.vue.MapSpec

    Returns
    -------
    str
        A ``div`` with one block per layer (``data-layer``), each key
        carrying ``data-kind`` and ``data-color``.
    """
    blocks = []
    for section in spec.sections:
        title = section.title + (f" ({section.note})" if section.note else "")
        items = "".join(
            f"<li>{_key_html(key)}<span>{html.escape(key.label)}</span></li>"
            for key in section.keys
        )
        if section.footnote:
            foot = html.escape(section.footnote)
            items += f'<li class="pres-legend-note">{foot}.</li>'
        # Many keys (every filière): two columns, to stay beside the map.
        two = " class=pres-two" if len(section.keys) > 8 else ""
        blocks.append(
            f'<div data-layer="{section.layer}"><p class="pres-legend-title">'
            f"{html.escape(title)}</p><ul{two}>{items}</ul></div>"
        )
    if spec.unplaced and spec.points:
        verb = "n'est pas" if spec.unplaced < 2 else "ne sont pas"
        blocks.append(
            '<p class="pres-legend-note">'
            + html.escape(
                f"{fr.count(spec.unplaced, 'PTCE', 'PTCE')} sans localisation "
                f"connue {verb} sur la carte."
            )
            + "</p>"
        )
    return (
        '<div class="pres-legend" data-testid="pres-legend" role="group" '
        f'aria-label="Légende de la carte">{"".join(blocks)}</div>'
    )


def legend_layer(sections) -> folium.FeatureGroup:
    """Return the feature group holding a map's legend (:class:`MapLegend`).

    Parameters
    ----------
    sections : sequence of lib.rendering.vue.Section

    Returns
    -------
    folium.FeatureGroup
        Named "Légende".
    """
    group = folium.FeatureGroup(name="Légende")
    MapLegend(sections).add_to(group)
    return group


def outline_layer(
    geojson: str | dict, name: str, color: str, dash: str | None = "6 4"
) -> folium.FeatureGroup:
    """Outlines of territories (territories of action, supporting collectivités).

    Parameters
    ----------
    geojson : str or dict
        Territories with ``code`` and ``nom``.
    name : str
        Name of the group.
    color : str
        Line colour.
    dash : str, optional
        SVG dash pattern.

    Returns
    -------
    folium.FeatureGroup
    """
    group = folium.FeatureGroup(name=name)
    folium.GeoJson(
        json.loads(geojson) if isinstance(geojson, str) else geojson,
        style_function=lambda _f: {
            "color": color,
            "weight": 2,
            "dashArray": dash,
            "fillColor": color,
            "fillOpacity": 0.08,
        },
        on_each_feature=JsCode(_TOOLTIP_JS % json.dumps(name)),
    ).add_to(group)
    return group


class SupportLayer(SafeMacroElement):
    """Qui soutient qui: collectivités outlined, a line to each PTCE supported.

    Outlines and lines are inked by level of collectivité (colour, dash and
    width of :mod:`lib.rendering.palette`) over a white casing, in the pane
    ``soutiens`` (above the choropleth, under the markers). Each line ends at
    the PTCE's own coordinates, where a ring is drawn in the pane
    ``soutiens-fin``, above the marker clusters: the end of a line is a PTCE
    whether its marker is shown or gathered in a bubble. Every text (names,
    type, amount, years, source) is set with ``textContent``.

    Rows are ``[from lat, from lon, to lat, to lon, level index, entries]``
    (see :func:`support_rows`); from ``remote_from`` rows on they are read
    from a static file (see :func:`marker_file`), many lines are drawn on a
    canvas.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            const levels = {{ this.levels|tojson }};
            const names = {{ this.names|tojson }};
            const casing = {{ this.casing|tojson }};
            const group = L.featureGroup();
            {%- if this.url %}
            const request = new XMLHttpRequest();
            request.open("GET", {{ this.url|tojson }}, false);
            request.send(null);
            const rows = request.status === 200 ? JSON.parse(request.responseText) : [];
            {%- else %}
            const rows = {{ this.rows|tojson }};
            {%- endif %}
            const many = rows.length > {{ this.canvas_from|tojson }};
            const lineRenderer = many ? L.canvas({pane: "soutiens"}) : undefined;
            const endRenderer = many ? L.canvas({pane: "soutiens-fin"}) : undefined;
            // One entry per support on the line: title, then its lines.
            const tip = (entries) => function () {
                const box = document.createElement("div");
                entries.forEach(([title, lines], i) => {
                    if (i > 0) {
                        const rule = document.createElement("hr");
                        rule.style.margin = "4px 0";
                        box.appendChild(rule);
                    }
                    const strong = document.createElement("strong");
                    strong.textContent = title;
                    box.appendChild(strong);
                    for (const line of lines) {
                        box.appendChild(document.createElement("br"));
                        box.appendChild(document.createTextNode(line));
                    }
                });
                return box;
            };
            // Outlines: those embedded, and those read from the static files
            // of the view's territories (cached by the browser), by code.
            const features = ({{ this.outlines|tojson }}.features || []).slice();
            for (const source of {{ this.sources|tojson }}) {
                const request = new XMLHttpRequest();
                request.open("GET", source.url, false);
                request.send(null);
                if (request.status !== 200) { continue; }
                for (const f of JSON.parse(request.responseText).features) {
                    const texte = source.texts[f.properties.code];
                    if (texte === undefined) { continue; }
                    features.push({type: "Feature", geometry: f.geometry,
                        properties: {nom: f.properties.nom, niveau: source.niveau,
                                     texte: texte}});
                }
            }
            const outlines = {type: "FeatureCollection", features: features};
            const ink = (f) => levels[Math.max(0, names.indexOf(f.properties.niveau))];
            L.geoJson(outlines, {
                pane: "soutiens", interactive: false,
                style: (f) => ({color: casing, weight: ink(f).weight + 3,
                                opacity: 0.8, fill: false})
            }).addTo(group);
            L.geoJson(outlines, {
                pane: "soutiens",
                style: (f) => ({color: ink(f).color, weight: ink(f).weight,
                                dashArray: ink(f).dash, fill: false,
                                className: "ptce-support-outline"}),
                onEachFeature: (f, layer) => layer.bindTooltip(
                    tip([[String(f.properties.nom), [String(f.properties.texte)]]]),
                    {sticky: true})
            }).addTo(group);
            const ends = {};
            for (const [fromLat, fromLon, toLat, toLon, index, entries] of rows) {
                const style = levels[index];
                const path = [[fromLat, fromLon], [toLat, toLon]];
                L.polyline(path, {pane: "soutiens", renderer: lineRenderer,
                    interactive: false, color: casing, weight: style.weight + 3,
                    opacity: 0.8}).addTo(group);
                L.polyline(path, {pane: "soutiens", renderer: lineRenderer,
                    color: style.color, weight: style.weight, dashArray: style.dash,
                    opacity: 0.95, className: "ptce-support"}
                ).bindTooltip(tip(entries), {sticky: true}).addTo(group);
                ends[toLat + "," + toLon] = [toLat, toLon];
            }
            for (const end of Object.values(ends)) {
                const rings = [[casing, 5], [{{ this.ink|tojson }}, 2]];
                for (const [color, weight] of rings) {
                    L.circleMarker(end, {pane: "soutiens-fin", renderer: endRenderer,
                        interactive: false, radius: 11, color: color, weight: weight,
                        fill: false, className: "ptce-support-end"}).addTo(group);
                }
            }
            return group;
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        outlines: dict,
        rows: list[list] | None = None,
        url: str | None = None,
        canvas_from: int = 2000,
        sources: list[dict] | tuple = (),
    ):
        super().__init__()
        self._name = "SupportLayer"
        self.outlines = outlines
        self.sources = list(sources)
        self.rows = rows or []
        self.url = url
        self.canvas_from = canvas_from
        self.casing = palette.LINE_CASING
        self.ink = palette.HALO_DARK
        styles = {
            level: {
                "color": color,
                "dash": palette.LEVEL_DASH[level],
                "weight": palette.LEVEL_WEIGHT[level],
            }
            for level, color in palette.LEVEL_COLORS.items()
        }
        # By position in the rows, by name (``names``) in the outlines.
        self.levels = list(styles.values())
        self.names = list(styles)


def support_rows(links: list[dict]) -> list[list]:
    """Return the compact rows :class:`SupportLayer` draws, one per line.

    Supports from one collectivité to PTCE at the same place would be drawn
    as identical lines, of which only the top one could be hovered: they
    make one line, whose tooltip lists each support (at most
    :data:`LINE_ENTRIES`, then how many more).

    Parameters
    ----------
    links : list of dict
        As returned by :func:`lib.analysis.layers.supports`.

    Returns
    -------
    list of list
        ``[from lat, from lon, to lat, to lon, level index, entries]``, the
        level an index into :data:`LEVEL_COLORS`, each entry ``[title,
        details]`` (plain text).
    """
    index = {level: i for i, level in enumerate(LEVEL_COLORS)}
    lines: dict[tuple, list] = {}
    for link in links:
        key = (
            *(round(float(v), 5) for v in link["from"]),
            *(round(float(v), 5) for v in link["to"]),
            index[link["niveau"]],
        )
        lines.setdefault(key, []).append([link["label"], list(link.get("details", ()))])
    rows = []
    for key, entries in lines.items():
        if len(entries) > LINE_ENTRIES:
            rest = len(entries) - LINE_ENTRIES + 1
            more = fr.count(rest, "autre soutien", "autres soutiens")
            entries = [*entries[: LINE_ENTRIES - 1], [f"… et {more}", []]]
        rows.append([*key, entries])
    return rows


#: Supports listed at most in the tooltip of one line.
LINE_ENTRIES = 6


def support_layer(
    collectivites: str | dict,
    links: list[dict],
    remote_from: int = REMOTE_MARKERS_FROM,
    sources: list[dict] | tuple = (),
) -> folium.FeatureGroup:
    """Supporting collectivités outlined by level, with a line to each PTCE.

    Parameters
    ----------
    collectivites : str or dict
        GeoJSON of the supporting collectivités, properties ``code``, ``nom``,
        ``niveau`` and ``texte`` (second line of their tooltip).
    links : list of dict
        One per support ("qui soutient qui"), see :func:`lib.analysis.layers.supports`:
        ``from`` (a point inside the collectivité), ``to`` (the PTCE's own
        coordinates), ``niveau``, ``label`` (collectivité → PTCE) and
        ``details`` (type, amount, years, source), all plain text.
    remote_from : int
        From this many lines on, rows are served as a static file.
    sources : list of dict
        Collectivités outlined from static files instead
        (:func:`lib.analysis.layers.outline_sources`): only their codes travel.

    Returns
    -------
    folium.FeatureGroup
        Named "Collectivités qui soutiennent", holding one
        :class:`SupportLayer`.
    """
    outlines = (
        json.loads(collectivites) if isinstance(collectivites, str) else collectivites
    )
    for feature in outlines.get("features", []):
        props = feature.setdefault("properties", {})
        props.setdefault("texte", "Collectivité qui soutient")
    rows = support_rows(links)
    group = folium.FeatureGroup(name="Collectivités qui soutiennent")
    if len(rows) >= remote_from:
        SupportLayer(outlines, url=marker_file(rows), sources=sources).add_to(group)
    else:
        SupportLayer(outlines, rows=rows, sources=sources).add_to(group)
    return group


def stable_ids(m: folium.Map) -> folium.Map:
    """Give every element of a map an id derived from its place in the tree.

    folium names elements with random ids, so the same map built twice gives
    two different scripts, and ``st_folium`` rebuilds the map (losing the
    user's pan and zoom) even when only its feature groups changed. With
    stable ids, a base rebuilt on each rerun renders to the same script.

    Parameters
    ----------
    m : folium.Map
        A fully built map (call this last).

    Returns
    -------
    folium.Map
        The same map.
    """

    def walk(element, path: str) -> None:
        element._id = path
        for i, child in enumerate(list(element._children.values())):
            walk(child, f"{path}x{i}")

    walk(m, "s0")
    m.get_root()._id = "root"
    return m


class RemoteGeoJson(SafeMacroElement):
    """Territories loaded from a static GeoJSON file served by the app.

    The geometry is fetched by the browser (and cached by it), so a rerun only
    sends the colours and values that changed. The file is read with a
    synchronous request, as folium does for ``GeoJson(embed=False)``, so the
    layer exists when streamlit-folium wires its click handlers.

    Parameters
    ----------
    url : str
        URL path of the GeoJSON (see :func:`geo.boundaries.static_geojson`).
    style : dict
        Leaflet path options common to all features.
    colors : dict, optional
        Fill colour per feature ``code``.
    values : dict, optional
        Text per feature ``code`` shown in the tooltip after ``label``.
    label : str
        Tooltip label ("Département", or the indicator's name).
    interactive : bool
        Whether the layer catches the pointer (tooltips, clicks).
    pane : str, optional
        Leaflet pane to draw in (created by the caller).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            // [fill, text] pairs, and each territory's pair by its code.
            const [pairs, at] = {{ this.compact()|tojson }};
            const pair = code => pairs[at[code]] || [null, null];
            const base = {{ this.path_style|tojson }};
            const label = {{ this.label|tojson }};
            const layer = L.geoJson(null, {
                {%- if this.pane %}pane: {{ this.pane|tojson }},{% endif %}
                interactive: {{ this.interactive|tojson }},
                style: function (feature) {
                    const color = pair(feature.properties.code)[0];
                    return color ? Object.assign({}, base, {fillColor: color}) : base;
                },
                onEachFeature: function (feature, layer) {
                    if (!{{ this.interactive|tojson }}) { return; }
                    layer.bindTooltip(function () {
                        const box = document.createElement("div");
                        const title = document.createElement("strong");
                        title.textContent = String(feature.properties.nom);
                        box.appendChild(title);
                        box.appendChild(document.createElement("br"));
                        const value = pair(feature.properties.code)[1];
                        box.appendChild(document.createTextNode(
                            label + " " + (value === null
                                ? String(feature.properties.code) : ": " + value)));
                        return box;
                    }, {sticky: true});
                }
            });
            const request = new XMLHttpRequest();
            request.open("GET", {{ this.url|tojson }}, false);
            request.send(null);
            if (request.status === 200) {
                layer.addData(JSON.parse(request.responseText));
            }
            return layer;
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        url: str,
        style: dict,
        colors: dict | None = None,
        values: dict | None = None,
        label: str = "",
        interactive: bool = True,
        pane: str | None = None,
    ):
        super().__init__()
        self._name = "RemoteGeoJson"
        self.url = url
        self.path_style = style
        self.colors = colors or {}
        self.values = values or {}
        self.label = label
        self.interactive = interactive
        self.pane = pane

    def compact(self) -> tuple[list[tuple[str | None, str | None]], dict[str, int]]:
        """Colours and values as distinct ``(fill, text)`` pairs plus an index.

        Territories share few pairs (a count of PTCE has a handful of
        classes), so each code carries a small number instead of a colour and
        a text: the national EPCI view sends 20 KB instead of 58 KB on every
        rerun, and its first load stays under 1 MB (bench.explorer_rerun).
        """
        pairs: dict[tuple[str | None, str | None], int] = {}
        at = {}
        for code in {**self.colors, **self.values}:
            pair = (self.colors.get(code), self.values.get(code))
            at[code] = pairs.setdefault(pair, len(pairs))
        return list(pairs), at


def aggregate_rows(ptce, anchors: dict[str, tuple[float, float]]) -> list[list]:
    """Group placed PTCE by the EPCI of their seat, one row per EPCI.

    Parameters
    ----------
    ptce : pandas.DataFrame
        Rows of :attr:`lib.domain.selection.Frames.ptce`.
    anchors : dict
        ``{EPCI code: (lat, lon)}``, a point inside each EPCI.

    Returns
    -------
    list of list
        ``[lat, lon, count, main filière index, label]``, largest first;
        PTCE whose seat has no EPCI are left out (counted in the label of
        none: callers report them).
    """
    placed = ptce[ptce["lat"].notna() & ptce["epci"].notna()]
    index = {name: i for i, name in enumerate(FILIERE_COLORS)}
    rows = []
    for code, group in placed.groupby("epci"):
        if code not in anchors:
            continue
        lat, lon = anchors[code]
        main = group["filiere"].value_counts().index[0]
        rows.append([lat, lon, len(group), index.get(main, index["autre"]), code])
    rows.sort(key=lambda r: -r[2])
    return rows


class AggregateMarkers(SafeMacroElement):
    """Bubbles sized by count, one per territory (see :func:`aggregate_rows`).

    Labels are set as text (``textContent``), never as markup.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            const names = {{ this.names|tojson }};
            const colors = {{ this.colors|tojson }};
            const group = L.featureGroup();
            for (const [lat, lon, count, index, code] of {{ this.rows|tojson }}) {
                // Ringed white then dark like the PTCE markers: readable on
                // every choropleth class.
                const radius = 4 + 2.5 * Math.sqrt(count);
                group.addLayer(L.circleMarker([lat, lon], {
                    radius: radius + 1.5, color: {{ this.dark|tojson }}, weight: 1,
                    fill: false, interactive: false, pane: "ptce"
                }));
                const marker = L.circleMarker([lat, lon], {
                    radius: radius, color: {{ this.light|tojson }}, weight: 2,
                    fillColor: colors[index], fillOpacity: 0.9, pane: "ptce",
                    className: "ptce-bubble"
                });
                marker.bindTooltip(function () {
                    const box = document.createElement("div");
                    const title = document.createElement("strong");
                    title.textContent = count + " PTCE";
                    box.appendChild(title);
                    box.appendChild(document.createElement("br"));
                    box.appendChild(document.createTextNode(names[code] || code));
                    return box;
                });
                group.addLayer(marker);
            }
            return group;
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list], names: dict[str, str]):
        super().__init__()
        self._name = "AggregateMarkers"
        self.rows = rows
        self.names = names
        self.colors = list(FILIERE_COLORS.values())
        self.light = palette.HALO_LIGHT
        self.dark = palette.HALO_DARK


def aggregate_layer(rows: list[list], names: dict[str, str]) -> folium.FeatureGroup:
    """Return the "PTCE" group drawn as one bubble per EPCI.

    Parameters
    ----------
    rows : list of list
        As returned by :func:`aggregate_rows`.
    names : dict
        Territory name per code, for the tooltips.

    Returns
    -------
    folium.FeatureGroup
    """
    group = folium.FeatureGroup(name="PTCE")
    AggregateMarkers(rows, {r[4]: names.get(r[4], r[4]) for r in rows}).add_to(group)
    return group
