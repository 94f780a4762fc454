"""Qui soutient qui, clusters and markers, checked on the folium map's structure."""

from __future__ import annotations

import json
import re

import pytest

from lib import fr
from lib.analysis.layers import supports
from lib.domain.soutiens import libelle
from lib.rendering import palette
from lib.rendering.web.maps import (
    REMOTE_MARKERS_FROM,
    ClusterMarkers,
    SupportLayer,
    explorer_base,
    marker_rows,
    ptce_markers,
    support_layer,
    support_rows,
)
from tests.test_carte import XSS, make_records


@pytest.fixture(scope="module")
def frames(built_cache):
    from geo.lookup import commune_points
    from lib.domain.selection import build_frames

    return build_frames(make_records(), commune_points())


def _layer(group) -> SupportLayer:
    (element,) = group._children.values()
    assert isinstance(element, SupportLayer)
    return element


def _page(*groups) -> str:
    m = explorer_base("/app/static/geo/regions.geojson")
    for group in groups:
        m.add_child(group)
    return m.get_root().render()


def test_each_line_ends_at_the_marker_of_its_ptce(frames):
    _polys, links = supports(frames)
    markers = {row[6]: (row[0], row[1]) for row in marker_rows(frames.ptce)}
    assert {link["ptce"] for link in links} == {"a", "b"}
    for link in links:
        assert tuple(round(v, 5) for v in link["to"]) == markers[link["ptce"]]
    rows = support_rows(links)
    ends = {(row[2], row[3]) for row in rows}
    assert ends == {markers["a"], markers["b"]}
    # Every support is on exactly one line, under its own title.
    titles = sorted(title for row in rows for title, _details in row[5])
    assert titles == sorted(link["label"] for link in links)


def test_identical_lines_make_one_listing_each_support():
    from lib.rendering.web.maps import LINE_ENTRIES

    def link(i):
        return {"from": (47.0, -1.5), "to": (47.2, -1.55), "niveau": "region",
                "label": f"Pays de la Loire (région) → P{i}",
                "details": ["Soutien : investissement"]}  # fmt: skip

    (row,) = support_rows([link(1), link(2)])
    assert [title for title, _ in row[5]] == [
        "Pays de la Loire (région) → P1",
        "Pays de la Loire (région) → P2",
    ]
    (row,) = support_rows([link(i) for i in range(LINE_ENTRIES + 3)])
    assert len(row[5]) == LINE_ENTRIES
    assert row[5][-1] == [f"… et {fr.count(4, 'autre soutien', 'autres soutiens')}", []]
    other = {**link(9), "to": (47.3, -1.2)}
    assert len(support_rows([link(1), other])) == 2


def test_line_text_names_who_supports_whom_how_much_when_and_source(frames):
    _polys, links = supports(frames)
    by_label = {link["label"]: link["details"] for link in links}
    commune = next(label for label in by_label if "(commune)" in label)
    assert commune.endswith("→ A")
    assert by_label[commune] == [
        # The guide's wording of the type (lib.domain.soutiens), not its stored code.
        f"Soutien : {libelle('investissement')}",
        f"Montant : {fr.euros(1000.0)}",
        "Années : non renseignées",
        "Source : s",
    ]
    departement = by_label["Loire-Atlantique (département) → A"]
    assert departement == [
        "Soutien : conseil et ingénierie",
        "Montant : non renseigné",
        "Années : non renseignées",
        "Source : non renseignée",
    ]
    assert f"Loire-Atlantique (département) → {XSS}" in by_label
    text = json.dumps(links, ensure_ascii=False)
    for raw in ("None", "nan", "NaN", "null"):
        assert raw not in text


def test_years_said_in_french(frames):
    from lib.analysis.layers import _details

    class S:
        type, dispositif, montant, source = "investissement", None, None, None
        annee_debut, annee_fin = 2019.0, 2021.0

    assert _details(S)[2] == "Années : de 2019 à 2021"
    S.annee_fin = float("nan")
    assert _details(S)[2] == "Années : depuis 2019"
    S.annee_fin = 2019
    assert _details(S)[2] == "Années : 2019"


def test_collectivites_are_outlines_with_their_level(frames):
    polys, links = supports(frames)
    texts = dict(zip(polys["code"], polys["texte"], strict=True))
    assert texts["44"] == f"département · soutient {fr.count(2, 'PTCE', 'PTCE')}"
    assert texts["44003"] == f"commune · soutient {fr.count(1, 'PTCE', 'PTCE')}"
    from geo.boundaries import to_geojson

    group = support_layer(to_geojson(polys, ("code", "nom", "niveau", "texte")), links)
    layer = _layer(group)
    assert {f["properties"]["niveau"] for f in layer.outlines["features"]} == {
        "commune",
        "departement",
    }
    page = _page(group)
    script = page[page.index(layer.get_name()) :]
    # Outlines and lines never fill: the choropleth stays readable beneath.
    assert "fill: false" in script
    assert "fillOpacity" not in script and "fillColor" not in script
    assert layer.levels == [
        {
            "color": palette.LEVEL_COLORS[n],
            "dash": palette.LEVEL_DASH[n],
            "weight": palette.LEVEL_WEIGHT[n],
        }
        for n in layer.names
    ]


def test_supports_drawn_between_choropleth_and_markers_ends_above_clusters(frames):
    m = explorer_base("/app/static/geo/regions.geojson")
    panes = {
        child.name: int(child.z_index)
        for child in m._children.values()
        if child.__class__.__name__ == "CustomPane"
    }
    assert 400 < panes["soutiens"] < panes["ptce"] < panes["soutiens-fin"]
    group = ptce_markers(frames.ptce)
    (cluster,) = group._children.values()
    # Clusters are in the markers' pane, so the rings ending the support lines
    # (pane "soutiens-fin") are drawn over them.
    assert cluster.options["clusterPane"] == "ptce"
    page = _page(group, support_layer({"type": "FeatureCollection"}, []))
    assert re.search(r'pane: "soutiens-fin"', page)


def test_hostile_names_stay_text_in_lines(frames):
    _polys, links = supports(frames)
    group = support_layer({"type": "FeatureCollection", "features": []}, links)
    name = _layer(group).get_name()
    page = _page(group)
    assert XSS not in page
    script = page[page.index(name) :]
    assert "textContent" in script and "innerHTML" not in script


def test_many_lines_come_from_a_static_file(frames, tmp_path, monkeypatch):
    import lib.rendering.web.maps

    monkeypatch.setattr(lib.rendering.web.maps, "MARKERS_DIR", tmp_path)
    _polys, links = supports(frames)
    group = support_layer({"type": "FeatureCollection"}, links, remote_from=1)
    layer = _layer(group)
    assert layer.rows == [] and layer.url.endswith(".json")
    (file,) = tmp_path.glob("*.json")
    assert json.loads(file.read_text()) == support_rows(links)
    assert len(links) < REMOTE_MARKERS_FROM  # small selections are embedded
    assert _layer(support_layer({"type": "FeatureCollection"}, links)).url is None


def test_clusters_are_neutral_bubbles():
    assert "markerclusterdefaultcss" not in dict(ClusterMarkers.default_css)
    icon = ClusterMarkers.icon
    assert palette.CLUSTER_FILL in icon and palette.CLUSTER_INK in icon
    assert "marker-cluster" in icon
    for colour in palette.FILIERE_COLORS.values():
        assert colour not in icon


def test_markers_ringed_light_then_dark(frames):
    page = _page(ptce_markers(frames.ptce))
    assert json.dumps(palette.HALO_LIGHT) in page
    assert json.dumps(palette.HALO_DARK) in page
    assert json.dumps(list(palette.FILIERE_COLORS.values())) in page


@pytest.fixture
def database(tmp_path, monkeypatch):
    from lib.io.demo import install_demo
    from lib.store.ptce import Store

    url = f"sqlite:///{tmp_path / 'carte.sqlite'}"
    store = Store(url)
    install_demo(store)
    store.create_many(make_records(), "test")
    monkeypatch.setenv("DATABASE_URL", url)
    return store


def test_map_legend_draws_marks_as_the_map_does(frames):
    from lib.rendering.web.carte import map_layers
    from lib.rendering.web.maps import MapLegend

    built = map_layers(frames, couches=("ptce", "soutiens"))
    (legend,) = [
        child
        for group in built.groups
        for child in group._children.values()
        if isinstance(child, MapLegend)
    ]
    sections = {s["layer"]: s for s in legend.spec["sections"]}
    drawn = {link["niveau"] for link in built.links}
    keys = sections["soutiens"]["keys"]
    assert [k["color"] for k in keys] == [
        palette.LEVEL_COLORS[n] for n in palette.LEVEL_COLORS if n in drawn
    ]
    for key in keys:
        level = next(n for n, c in palette.LEVEL_COLORS.items() if c == key["color"])
        assert key["dash"] == palette.LEVEL_DASH[level]
        assert key["weight"] == palette.LEVEL_WEIGHT[level]
    # Markers ringed as on the map; a white bubble for the clusters; lines
    # on their white casing.
    assert legend.spec["halo"] == [palette.HALO_LIGHT, palette.HALO_DARK]
    assert legend.spec["ink"] == palette.CLUSTER_INK
    (bubble,) = [k for k in sections["ptce"]["keys"] if k["kind"] == "bubble"]
    assert bubble["color"] == palette.CLUSTER_FILL
    assert legend.spec["casing"] == palette.LINE_CASING
    script = _page(built.groups[-1])
    assert "stroke: spec.halo[0]" in script and "stroke: spec.ink" in script
    assert '"stroke-dasharray": key.dash' in script


def test_epci_bubbles_ringed_like_markers():
    from lib.rendering.web.maps import aggregate_layer

    group = aggregate_layer([[47.2, -1.5, 12, 3, "244400404"]], {"244400404": "N"})
    (bubbles,) = group._children.values()
    assert (bubbles.light, bubbles.dark) == (palette.HALO_LIGHT, palette.HALO_DARK)
    page = _page(group)
    assert f"color: {json.dumps(palette.HALO_DARK)}" in page
    assert f"color: {json.dumps(palette.HALO_LIGHT)}" in page


def test_outlines_of_the_view_come_from_static_files(frames):
    from geo.boundaries import static_geojson, static_path, to_geojson
    from lib.analysis.layers import outline_sources

    polys, _links = supports(frames)
    sources, rest = outline_sources(polys, "52")
    assert rest.empty
    assert {s["niveau"]: s["url"] for s in sources} == {
        "commune": static_geojson("commune", "regional", "52"),
        "departement": static_geojson("departement", "regional", "52"),
    }
    for source in sources:
        served = json.loads(static_path(source["url"]).read_text())
        codes = {f["properties"]["code"] for f in served["features"]}
        assert set(source["texts"]) <= codes
    # France entière: no national file of communes, the commune travels.
    sources, rest = outline_sources(polys, None)
    assert [s["url"] for s in sources] == [static_geojson("departement", "national")]
    assert list(rest["code"]) == ["44003"]
    group = support_layer(
        to_geojson(rest, ("code", "nom", "niveau", "texte")), [], sources=sources
    )
    layer = _layer(group)
    assert [f["properties"]["code"] for f in layer.outlines["features"]] == ["44003"]
    assert layer.sources == sources
    assert sources[0]["url"] in _page(group)


def test_offline_export_carries_the_outline_files(frames):
    from geo.boundaries import static_geojson
    from lib.rendering.web.carte import offline_map

    page = offline_map(
        frames,
        maille="departement",
        indicateur="nombre",
        methode="quantiles",
        region="52",
        couches=("ptce", "soutiens"),
        title="t",
    ).decode()
    ids = json.loads(re.search(r"const ids = (\{.*?\});", page).group(1))
    for level in ("commune", "departement"):
        assert static_geojson(level, "regional", "52") in ids
