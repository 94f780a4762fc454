"""Carte: choropleth values and classes, map layers by structure, page state."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib.analysis.choropleth import class_bins, classify, indicator, summary
from lib.analysis.layers import supports
from lib.domain.model import Membre, Ptce, Source, Soutien
from lib.domain.selection import Filters, build_frames
from lib.rendering.web.maps import explorer_base, ptce_markers

XSS = "<img src=x onerror=alert(1)>"


def make_records() -> list[Ptce]:
    """Deterministic PTCE: two in 44 (one with a hostile name), one in 85."""
    return [
        Ptce(id="a", nom="A", commune="44003", departement="44", region="52",
             filieres=("culture",),
             soutiens=(Soutien("commune", "44003", "investissement", montant=1000.0,
                               source=Source("s")),
                       Soutien("departement", "44", "conseil et ingénierie")),
             membres=(Membre("M", "association", "porteur"),)),
        Ptce(id="b", nom=XSS, commune="44109", departement="44", region="52",
             filieres=("énergie",),
             soutiens=(Soutien("departement", "44", "investissement", montant=500.0),)),
        Ptce(id="c", nom="C", departement="85", region="52"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def frames(built_cache):
    from geo.lookup import commune_points

    return build_frames(make_records(), commune_points())


def test_indicators_by_departement(frames):
    population = pd.Series({"44": 1_500_000.0, "85": 700_000.0, "49": 800_000.0})
    assert indicator(frames, "departement", "nombre", population).to_dict() == {
        "44": 2.0, "85": 1.0, "49": 0.0,
    }  # fmt: skip
    per_hab = indicator(frames, "departement", "par_habitant", population)
    assert per_hab["44"] == pytest.approx(2 / 1.5e6 * 1e5)
    assert indicator(frames, "departement", "montant", population)["44"] == 1500.0
    # (commune 44003) and (departement 44) support PTCE of the 44.
    assert indicator(frames, "departement", "collectivites", population)["44"] == 2.0


def test_classes_mark_territories_without_ptce():
    colors, legend = classify(pd.Series({"a": 0.0, "b": 1.0, "c": 3.0, "d": 9.0}))
    assert colors["a"] == "#e6e6e6"
    assert legend.empty == 1
    assert sum(legend.counts) == 3
    assert len(legend.labels()) == len(legend.colors)
    _, empty = classify(pd.Series({"a": 0.0}))
    assert empty.counts == () and empty.empty == 1


def test_jenks_finds_natural_groups():
    values = np.array([1, 2, 3, 10, 11, 12, 30, 31])
    assert class_bins(values, "jenks", 3).tolist() == [3.0, 12.0, 31.0]


def test_summary_of_a_territory(frames):
    info = summary(frames, "departement", "44")
    assert info["ptce"] == 2 and info["noms"] == sorted(["A", XSS])
    assert info["montant"] == 1500.0
    assert summary(frames, "epci", "000000000") is None


def test_markers_one_per_placed_ptce_and_escaped(frames):
    group = ptce_markers(frames.ptce)
    cluster = next(iter(group._children.values()))
    assert len(cluster.rows) == 3  # "C" sits at the Vendée chef-lieu, flagged
    approx = {row[4]: row[3] for row in cluster.rows}
    assert approx == {"A": False, XSS: False, "C": True}
    m = explorer_base("/app/static/geo/regions.geojson")
    m.add_child(group)
    html = m.get_root().render()
    assert XSS not in html
    assert "textContent" in html


def test_filters_change_markers(frames):
    only_85 = frames.filtered(Filters(departements=("85",)))
    cluster = next(iter(ptce_markers(only_85.ptce)._children.values()))
    assert [row[4] for row in cluster.rows] == ["C"]


def test_support_links(frames):
    polys, links = supports(frames)
    assert set(zip(polys["niveau"], polys["code"], strict=True)) == {
        ("commune", "44003"),
        ("departement", "44"),
    }
    assert len(links) == 3
    assert all("→" in link["label"] for link in links)


# -- page ---------------------------------------------------------------------

SCRIPT = (
    "from views.filters import filters_sidebar\nfrom views import carte\n"
    "filters_sidebar()\ncarte.render()\n"
)


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


def _counter(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "ptce-counter" in m.value)


def test_page_filter_changes_counter(built_cache, database):
    at = AppTest.from_string(SCRIPT, default_timeout=60).run()
    assert not at.exception
    before = _counter(at)
    at.sidebar.multiselect[0].set_value(["85"]).run()
    after = _counter(at)
    assert before != after
    assert at.query_params["dep"] in ("85", ["85"])


def test_page_query_params_round_trip(built_cache, database):
    params = {"dep": ["44"], "couches": ["ptce", "soutiens"], "maille": "epci",
              "indicateur": "montant"}  # fmt: skip
    first = AppTest.from_string(SCRIPT, default_timeout=60)
    for key, value in params.items():
        first.query_params[key] = value
    first.run()
    assert not first.exception
    assert first.sidebar.multiselect[0].value == ["44"]
    assert first.multiselect[0].value == ["ptce", "soutiens"]
    assert first.selectbox[0].value == "epci"
    # Reload with the URL the first run left: same widgets, same counter.
    again = AppTest.from_string(SCRIPT, default_timeout=60)
    for key in first.query_params:
        again.query_params[key] = first.query_params[key]
    again.run()
    assert _counter(again) == _counter(first)
    assert again.multiselect[0].value == first.multiselect[0].value
    assert again.selectbox[1].value == "montant"


def test_sidebar_counter_on_every_page(built_cache, database):
    at = AppTest.from_string(
        "from views.filters import filters_sidebar\nfilters_sidebar()\n",
        default_timeout=60,
    )
    at.query_params["region"] = "france"
    at.run()
    counter = next(m.value for m in at.sidebar.markdown if "sidebar-counter" in m.value)
    total = database.count()
    assert f"<strong>{total} PTCE</strong> sur {total}" in counter
    at.sidebar.multiselect[0].set_value(["44"]).run()
    counter = next(m.value for m in at.sidebar.markdown if "sidebar-counter" in m.value)
    assert f"sur {total}" in counter and f"<strong>{total} PTCE" not in counter


def test_choropleth_layer_structure(frames):
    import json

    from geo.boundaries import in_region, load_boundaries, static_geojson, static_path
    from lib.analysis.choropleth import INDICATORS
    from lib.rendering.web.maps import RemoteGeoJson, choropleth_layer

    epci = in_region(load_boundaries("epci", "regional"), "epci", "52")
    population = epci.set_index("code")["population"].astype(float)
    values = indicator(frames, "epci", "nombre", population)
    colors, legend = classify(values, "quantiles", 5, *INDICATORS["nombre"])
    url = static_geojson("epci", "regional", "52")
    group = choropleth_layer(url, colors.to_dict(), values.to_dict(), "Nombre")
    layer = next(iter(group._children.values()))
    assert isinstance(layer, RemoteGeoJson) and layer.url == url
    features = json.loads(static_path(url).read_text())["features"]
    assert {f["properties"]["code"] for f in features} == set(layer.colors)
    assert len(features) == len(epci)
    # Two EPCI hold the PTCE of make_records() seated in the 44.
    assert sum(v != "aucun PTCE" for v in layer.values.values()) == 2
    assert legend.empty == len(epci) - 2
    m = explorer_base(static_geojson("region", "national"))
    m.add_child(group)
    assert "/app/static/geo/" in m.get_root().render()


def test_choropleth_sends_each_colour_and_text_once():
    import json
    import re

    from lib.rendering.web.maps import RemoteGeoJson

    colors = {"a": "#e6e6e6", "b": "#41b6c4", "c": "#41b6c4", "d": "url(#hatch)"}
    values = {"a": "aucun PTCE", "b": "2", "c": "2", "d": "hors sélection"}
    values["e"] = "3"  # a value without a colour keeps the base fill
    layer = RemoteGeoJson("/app/static/geo/x.geojson", {}, colors, values, "Nombre")
    m = explorer_base("/app/static/geo/regions.geojson")
    layer.add_to(m)
    script = m.get_root().render()
    # The base map's regions come first; this layer is the last one drawn.
    tables = re.findall(r"const \[pairs, at\] = (.+);\n", script)
    assert tables, "the layer's table of pairs is missing"
    pairs, at = json.loads(tables[-1])
    # Four distinct (fill, text) pairs for five territories: b and c share one.
    assert len(pairs) == 4 and at["b"] == at["c"]
    decoded = {code: tuple(pairs[i]) for code, i in at.items()}
    assert decoded == {c: (colors.get(c), values.get(c)) for c in "abcde"}


def test_many_markers_are_served_as_a_static_file(frames):
    import json

    from lib.rendering.web.assets import external_asset_urls
    from lib.rendering.web.maps import MARKERS_DIR, ClusterMarkers, marker_rows

    group = ptce_markers(frames.ptce, remote_from=2)
    element = next(iter(group._children.values()))
    assert isinstance(element, ClusterMarkers)
    path = MARKERS_DIR / element.url.rsplit("/", 1)[-1]
    assert json.loads(path.read_text()) == marker_rows(frames.ptce)
    # Same selection, same file: the browser fetches it once.
    again = next(iter(ptce_markers(frames.ptce, remote_from=2)._children.values()))
    assert again.url == element.url
    m = explorer_base("/app/static/geo/regions.geojson")
    m.add_child(group)
    assert external_asset_urls(m) == []
    assert XSS not in m.get_root().render()


def test_many_ptce_become_one_bubble_per_epci(built_cache):
    from geo.lookup import commune_points
    from lib.analysis.layers import anchors
    from lib.io.synthetic import generate
    from lib.rendering.web.maps import aggregate_layer, aggregate_rows

    records = [*make_records(), *generate(400, seed=11)]
    frames = build_frames(records, commune_points())
    rows = aggregate_rows(frames.ptce, anchors("epci"))
    seated = frames.ptce[frames.ptce["lat"].notna() & frames.ptce["epci"].notna()]
    assert sum(r[2] for r in rows) == len(seated)
    assert len(rows) == seated["epci"].nunique()
    assert [r[2] for r in rows] == sorted((r[2] for r in rows), reverse=True)
    names = {"244400552": XSS}
    m = explorer_base("/app/static/geo/regions.geojson")
    m.add_child(aggregate_layer(rows, names))
    html = m.get_root().render()
    assert XSS not in html and "textContent" in html


# Jinja syntax in a user string: branca compiles each rendered macro again as
# a template, which would evaluate it on the server (template injection).
TEMPLATE = "{{ 7*7 }} {% if true %}si{% endif %}"


def _templated_frames():
    from geo.lookup import commune_points

    records = [replace(r, nom=TEMPLATE) if r.id == "a" else r for r in make_records()]
    return build_frames(records, commune_points())


@pytest.mark.parametrize("remote_from", [1, 10_000])
def test_template_syntax_in_names_stays_inert(built_cache, remote_from):
    import json

    from lib.rendering.web.maps import MARKERS_DIR, support_layer

    frames = _templated_frames()
    m = explorer_base("/app/static/geo/regions.geojson")
    m.add_child(ptce_markers(frames.ptce, remote_from=remote_from))
    _polys, links = supports(frames)
    assert any(TEMPLATE in link["label"] for link in links)
    m.add_child(support_layer({"type": "FeatureCollection", "features": []}, links))
    page = m.get_root().render()
    assert "49 si" not in page
    assert TEMPLATE in page  # in the support links' tooltips
    if remote_from == 1:
        (name,) = [p.name for p in MARKERS_DIR.glob("*.json") if p.name in page]
        assert TEMPLATE in (MARKERS_DIR / name).read_text()
    else:
        assert json.dumps(TEMPLATE) in page


def test_offline_map_of_the_view(frames):
    from lib.rendering.vue import view_title
    from lib.rendering.web.carte import offline_map

    assert view_title("52") == "Les PTCE — Pays de la Loire"
    assert view_title(None) == "Les PTCE — France entière"
    page = offline_map(
        frames,
        maille="epci",
        indicateur="nombre",
        methode="quantiles",
        region="52",
        couches=("ptce", "choro", "soutiens"),
        title=view_title("52"),
    ).decode()
    assert "<title>Les PTCE — Pays de la Loire</title>" in page
    assert 'src="/app/static' not in page and 'href="/app/static' not in page
    assert XSS not in page
    assert "markerClusterGroup" in page


def test_carte_offers_exports(built_cache, database):
    at = AppTest.from_string(SCRIPT, default_timeout=60).run()
    assert not at.exception, at.exception
    prepare = [b for b in at.button if b.label.startswith("Préparer")]
    assert [b.label for b in prepare] == [
        "Préparer : PNG 300 dpi",
        "Préparer : SVG",
        "Préparer : PDF",
        "Préparer : HTML hors ligne",
    ]
    assert not at.get("download_button")  # nothing is made before it is asked
    at.button(key="carte_export_svg_preparer").click().run()
    assert not at.exception, at.exception
    (download,) = at.get("download_button")
    assert download.proto.label == "Télécharger : SVG"
    _signature, data = at.session_state["carte_export_svg"]
    assert data.lstrip().startswith(b"<?xml") and b"<svg" in data
    # Another view: the file made for the previous one is dropped.
    at.selectbox(key="carte_maille").set_value("epci").run()
    assert not at.get("download_button")


def test_map_options_survive_a_visit_to_another_page(built_cache, database):
    # Streamlit forgets the state of widgets a run does not draw: going to
    # another page and back must not reset the map to its defaults.
    script = (
        "import streamlit as st\nfrom views.filters import filters_sidebar\n"
        "from views import carte\nfilters_sidebar()\n"
        "if not st.session_state.get('ailleurs'):\n    carte.render()\n"
    )
    at = AppTest.from_string(script, default_timeout=60)
    at.query_params["maille"] = "epci"
    at.query_params["indicateur"] = "montant"
    at.run()
    at.multiselect(key="carte_couches").set_value(["choro"]).run()
    at.session_state["ailleurs"] = True
    at.run()
    assert "carte_maille" not in at.session_state  # forgotten by Streamlit
    at.session_state["ailleurs"] = False
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="carte_maille").value == "epci"
    assert at.selectbox(key="carte_indicateur").value == "montant"
    assert at.multiselect(key="carte_couches").value == ["choro"]


def test_place_of_a_ptce_without_departement_names_its_commune_s():
    from geo.lookup import commune_points
    from lib.domain.model import Ptce
    from lib.domain.selection import build_frames

    frames = build_frames(
        [Ptce(id="seul", nom="Seul", commune="44109")], commune_points()
    )
    assert frames.ptce["lieu"].tolist() == ["Nantes (44)"]
