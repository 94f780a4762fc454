"""AppTest smoke tests: one per page, plus the missing-cache message."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from geo.boundaries import ATTRIBUTION
from lib.io.demo import load_demo_file
from tests.conftest import ROOT

TIMEOUT = 60


def _page(name: str) -> AppTest:
    # AppTest resets Streamlit's page mode on every run, so each page function
    # is run through a one-line script rather than through st.navigation.
    return AppTest.from_string(
        f"from views import {name}\n{name}.render()\n", default_timeout=TIMEOUT
    )


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_app_entry_point_runs(built_cache):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "Atlas des PTCE"


@pytest.fixture(autouse=True)
def demo_database(tmp_path, monkeypatch):
    """Each page test gets its own database holding the demo data."""
    from lib.io.demo import install_demo
    from lib.store.ptce import Store

    url = f"sqlite:///{tmp_path / 'pages.sqlite'}"
    install_demo(Store(url))
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def test_accueil_draws_map_and_attribution(built_cache):
    at = _page("accueil").run()
    assert not at.exception
    assert not at.error
    assert ATTRIBUTION in _captions(at)
    assert at.toggle[0].value is False
    text = " ".join(m.value for m in at.markdown)
    assert "données de démonstration" in text
    assert f"{len(load_demo_file()[0])} PTCE" in text


def test_accueil_tiles_toggle_in_query_params(built_cache):
    at = _page("accueil")
    at.query_params["fond"] = "osm"
    at.run()
    assert at.toggle[0].value is True
    at.toggle[0].set_value(False).run()
    assert "fond" not in at.query_params


def test_accueil_without_cache_explains_in_french(tmp_path, monkeypatch):
    monkeypatch.setenv("PTCE_CACHE_DIR", str(tmp_path / "vide"))
    at = _page("accueil").run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "PTCE_GEO_SOURCE" in message
    assert "contours" in message


@pytest.mark.parametrize(
    ("query", "expected"),
    [("44003", "Ancenis-Saint-Géréon"), ("Saint-Denis (974)", "97411")],
)
def test_sources_search(built_cache, query, expected):
    at = _page("sources")
    at.query_params["commune"] = query
    at.run()
    assert not at.exception
    assert at.text_input[0].value == query
    table = at.dataframe[0].value
    assert expected in table.to_string()


def test_sources_search_unknown_warns(built_cache):
    at = _page("sources").run()
    at.text_input[0].input("zzzz").run()
    assert "Aucune commune" in at.warning[0].value
    assert at.query_params["commune"] in ("zzzz", ["zzzz"])


def test_sources_shows_cache_status(built_cache):
    at = _page("sources").run()
    levels = at.dataframe[0].value
    assert set(levels["Niveau"]) == {"Communes", "EPCI", "Départements", "Régions"}
    assert levels.set_index("Niveau")["Territoires"]["Départements"] == "101"
    # Sizes in French units; no raw level of detail (« regional 19343 »).
    shown = levels.to_string()
    assert "regional" not in shown and "national" not in shown
    assert re.search(r"\d+,\d\u00a0Mo", shown)


def test_sources_keep_their_commas_and_hide_server_details(built_cache):
    at = _page("sources").run()
    text = " ".join(m.value for m in at.markdown)
    # Commas of the text stay commas; numbers are grouped by lib.fr.
    assert "Code officiel géographique 2026 (INSEE) et EPCI 2026 (DGCL)," in text
    assert "IGN Admin Express COG 2018 via france-geojson, Licence Ouverte," in text
    assert re.search(r"\d{2}\u202f\d{3}\u00a0communes", text)
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", _captions(at))  # no ISO timestamp
    (built,) = [c.value for c in at.caption if c.value.startswith("Construit le")]
    assert "/" not in built  # no server path
    assert re.search(r"Construit le \d{1,2} \w+\.? \d{4} à \d{2}:\d{2}", built)


def test_unexpected_errors_are_shown_in_french_without_details(built_cache):
    script = (
        "import views.accueil\n"
        "def broken():\n"
        "    raise RuntimeError('détail interne secret')\n"
        "views.accueil.render = broken\n"
        "import app\n"
        "app.main()\n"
    )
    at = AppTest.from_string(script, default_timeout=TIMEOUT).run()
    assert not at.exception
    (error,) = at.error
    assert "erreur inattendue" in error.value and "RuntimeError" in error.value
    shown = " ".join(str(e.value) for e in at.main if hasattr(e, "value"))
    assert "détail interne secret" not in shown
