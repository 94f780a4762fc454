"""Hostile text in every field: inert in maps, pages, presentation and exports.

One PTCE carries markup, template syntax, a spreadsheet formula and SQL in
each of its text fields (name, description, members, supports, sources); the
same strings are typed as a search. Nothing may run, break or leak.
"""

from __future__ import annotations

import io

import pytest
from streamlit.testing.v1 import AppTest

from lib.domain.model import Membre, Ptce, Source, Soutien
from lib.store.accounts import User

XSS = "<img src=x onerror=alert(1)>"
TEMPLATE = "{{ 7*7 }}"
FORMULA = '=HYPERLINK("http://x";"clic")'
SQL = "'); DROP TABLE ptce; --"
HOSTILE_TEXT = f"{XSS} {TEMPLATE} {SQL}"
EDITOR = User("alice", "Alice", "éditeur")


def hostile() -> Ptce:
    source = Source(HOSTILE_TEXT, "javascript:alert(1)")
    return Ptce(
        id="hostile",
        nom=f"{XSS} {TEMPLATE}",
        description=f"{FORMULA} {HOSTILE_TEXT}",
        commune="44109",
        departement="44",
        region="52",
        filieres=("culture",),
        site_web="javascript:alert(1)",
        membres=(Membre(HOSTILE_TEXT, "association", "porteur"),),
        soutiens=(
            Soutien(
                "departement",
                "44",
                "investissement",
                dispositif=HOSTILE_TEXT,
                montant=1000.0,
                source=source,
                note=HOSTILE_TEXT,
            ),
        ),
        sources=(source,),
    )


@pytest.fixture
def store(tmp_path, monkeypatch, built_cache):
    from lib.io.demo import install_demo
    from lib.store.ptce import Store

    url = f"sqlite:///{tmp_path / 'hostile.sqlite'}"
    store = Store(url)
    install_demo(store)
    store.create_many([hostile()], "test")
    monkeypatch.setenv("DATABASE_URL", url)
    return store


@pytest.fixture
def frames(store):
    from geo.lookup import commune_points
    from lib.domain.selection import build_frames

    return build_frames(store.load(), commune_points())


def test_carte_layers_and_offline_html(frames):
    from lib.domain.selection import Filters
    from lib.rendering.web.carte import base_for, map_layers, offline_map

    built = map_layers(
        frames.filtered(Filters()),
        couches=("ptce", "choro", "territoires", "soutiens"),
    )
    m = base_for("52")
    for group in built.groups:
        m.add_child(group)
    page = m.get_root().render()
    assert XSS not in page and TEMPLATE in page
    offline = offline_map(
        frames,
        maille="epci",
        indicateur="montant",
        methode="jenks",
        region="52",
        couches=("ptce", "choro", "soutiens"),
        title=HOSTILE_TEXT,
    ).decode()
    assert XSS not in offline
    assert "<title>&lt;img src=x onerror=alert(1)&gt;" in offline


def test_fiche_map_and_presentation_highlight(store, frames):
    from geo.lookup import commune_points
    from lib.rendering.web.carte import highlight_layer
    from lib.rendering.web.fiche_map import fiche_map
    from lib.rendering.web.maps import explorer_base

    page = fiche_map(store.get("hostile"), commune_points()).get_root().render()
    assert XSS not in page and TEMPLATE in page
    m = explorer_base("/app/static/geo/x.geojson")
    m.add_child(highlight_layer(frames, ("hostile",)))
    page = m.get_root().render()
    assert (
        XSS not in page and "\\u003cimg src=x onerror=alert(1)\\u003e {{ 7*7 }}" in page
    )


def _html_markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "<" in m.value]


@pytest.mark.parametrize(
    ("page", "params"),
    [
        ("annuaire", {"ptce": "hostile"}),
        ("collectivites", {"territoire": "departement:44"}),
        ("presentation", {"vue": "5"}),
        ("carte", {"territoire": "departement:44"}),
    ],
)
def test_pages_show_hostile_text_as_text(store, page, params):
    at = AppTest.from_string(
        f"from views.filters import filters_sidebar\nfrom views import {page}\n"
        f"filters_sidebar()\n{page}.render()\n",
        default_timeout=90,
    )
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    for text in _html_markdown(at):
        assert XSS not in text, text


def test_exports_keep_text_literal_and_neutralise_formulas(store, frames):
    import pypdf

    from lib.io.exporter import to_csv
    from lib.rendering.print.static_map import render_fiche_territoire

    csv = to_csv([store.get("hostile")]).decode("utf-8-sig")
    assert f"'{FORMULA}" in csv or f"\"'{FORMULA}" in csv.replace('""', '"')
    pdf = render_fiche_territoire(frames, "departement", "44", fmt="pdf")
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert TEMPLATE in text  # drawn as it is, never evaluated


@pytest.mark.parametrize("query", [SQL, "%", "' OR '1'='1", "\\", "[a-z]*", "(?i).*"])
def test_search_text_with_sql_or_pattern_characters_is_inert(store, frames, query):
    from lib.domain.selection import Filters

    found = frames.filtered(Filters(region=None, texte=query)).ptce
    expected = {"hostile"} if query in HOSTILE_TEXT + FORMULA else set()
    assert set(found["id"]) <= {"hostile"} and set(found["id"]) == expected
    assert store.count() == len(frames.ptce)  # the table is still there
