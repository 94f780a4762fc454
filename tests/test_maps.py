"""Structure of the folium maps built by lib.rendering.web.maps (no browser)."""

from __future__ import annotations

import json

import folium
import pytest

from geo.boundaries import geojson
from lib.rendering.web.assets import external_asset_urls
from lib.rendering.web.maps import STYLES, home_map

XSS = "<img src=x onerror=alert(1)>"


def _fc(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def _square(code, nom, x=0.0):
    return {
        "type": "Feature",
        "properties": {"code": code, "nom": nom},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x, 45], [x + 1, 45], [x + 1, 46], [x, 46], [x, 45]]],
        },
    }


@pytest.fixture(scope="module")
def home(built_cache):
    return home_map(
        regions=geojson("region"),
        departements=geojson("departement"),
        epci=geojson("epci", "regional", "52"),
    )


def _layers(m):
    return {
        child.layer_name: child
        for child in m._children.values()
        if isinstance(child, folium.GeoJson)
    }


def test_home_map_layers_and_counts(home, ref):
    layers = _layers(home)
    assert list(layers) == ["Département", "EPCI", "Région"]
    counts = {name: len(layer.data["features"]) for name, layer in layers.items()}
    pdl_epci = {
        e.code
        for e in ref.epci.values()
        if any(ref.communes[c].region == "52" for c in e.membres)
    }
    assert counts == {"Département": 101, "EPCI": len(pdl_epci), "Région": 18}
    codes = {f["properties"]["code"] for f in layers["EPCI"].data["features"]}
    assert codes == pdl_epci


def test_each_layer_in_its_own_pane(home):
    panes = [
        child.get_name()
        for child in home._children.values()
        if isinstance(child, folium.map.CustomPane)
    ]
    assert len(panes) == 3
    layers = _layers(home)
    assert layers["Département"].options["pane"] == "departement"
    assert layers["Région"].options["pane"] == "region"
    assert layers["Région"].options["interactive"] is False


def test_home_map_is_offline_by_default(home):
    as_dict = home.to_dict()
    kinds = [child["name"] for child in as_dict["children"].values()]
    assert "TileLayer" not in kinds
    assert external_asset_urls(home) == []
    html = home.get_root().render()
    assert "https://" not in html.split("<body>")[0]


def test_maps_load_only_leaflet_and_the_shim():
    import re

    page = home_map(_fc(), _fc(), _fc()).get_root().render()
    links = re.findall(r'(?:src|href)="([^"]+)"', page.split("<body>")[0])
    assert links == [
        "/app/static/vendor/leaflet/leaflet.js",
        "/app/static/vendor/atlas/leaflet-icon-path.js",
        "/app/static/vendor/leaflet/leaflet.css",
    ]


def test_tiles_are_an_option():
    m = home_map(_fc(), _fc(), _fc(), tiles=True)
    kinds = [child["name"] for child in m.to_dict()["children"].values()]
    assert "TileLayer" in kinds


def test_tooltips_use_text_nodes_and_names_stay_inert():
    m = home_map(
        regions=_fc(_square("52", "Pays de la Loire")),
        departements=_fc(_square("44", XSS)),
        epci=_fc(_square("244400552", "CC du Pays d'Ancenis", 2)),
        attribution="Contours : test <b>gras</b>",
    )
    html = m.get_root().render()
    assert XSS not in html
    assert "<b>gras</b>" not in html
    assert json.dumps(XSS)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e") in html
    assert "textContent" in html
    assert "innerHTML" not in html


def test_layer_styles_are_distinct():
    colours = {s.fill_color for s in STYLES.values()}
    assert len(colours) == len(STYLES)
