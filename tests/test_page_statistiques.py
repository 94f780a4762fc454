"""AppTest of the Statistiques page, run with the shared filters around it."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from lib.domain.selection import Filters, build_frames
from lib.store.ptce import Store

TIMEOUT = 60
SCRIPT = (
    "from views.filters import filters_sidebar\n"
    "from views import statistiques\n"
    "filters_sidebar()\n"
    "statistiques.render()\n"
)
#: Element type of st.altair_chart in the AppTest tree (Streamlit 1.67).
CHART = "vega_lite_chart"
N_CHARTS = 6


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """The demo data plus 200 synthetic PTCE, in a SQLite file of this module."""
    from lib.io.demo import install_demo
    from lib.io.synthetic import generate

    url = f"sqlite:///{tmp_path_factory.mktemp('stats') / 'stats.sqlite'}"
    store = Store(url)
    install_demo(store)
    store.create_many(generate(200, seed=2), "test")
    return url


@pytest.fixture(scope="module")
def frames(database):
    return build_frames(Store(database).load())


@pytest.fixture(autouse=True)
def _database_url(database, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database)


def _app(**params: str | list[str]) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _counter(at: AppTest) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+) PTCE sur (\d+)", at.metric[0].value)
    assert match, at.metric[0].value
    return int(match[1]), int(match[2])


def _expected(frames, filters: Filters) -> int:
    return len(frames.filtered(filters).ptce)


def test_page_draws_every_chart_with_its_csv(frames):
    at = _app()
    assert not at.exception
    assert at.title[0].value == "Statistiques"
    # Default view: Pays de la Loire, out of every PTCE of the base.
    assert _counter(at) == (_expected(frames, Filters()), len(frames.ptce))
    charts = at.get(CHART)
    assert len(charts) == N_CHARTS
    for chart in charts:
        spec = json.loads(chart.proto.spec)
        assert "url" not in spec.get("data", {})
        assert "Source : base Atlas des PTCE" in " ".join(spec["title"]["subtitle"])
        assert chart.proto.datasets  # data sent inline with the chart
    buttons = at.download_button
    assert len(buttons) == N_CHARTS
    assert {b.label for b in buttons} == {"Télécharger les données (CSV)"}
    assert len({b.key for b in buttons}) == N_CHARTS
    assert all(b.proto.url.endswith(".csv") for b in buttons)


def test_departement_in_url_narrows_the_counter(frames):
    default = _counter(_app())
    at = _app(dep="44")
    assert not at.exception
    assert at.multiselect(key="f_dep").value == ["44"]
    count, total = _counter(at)
    assert count == _expected(frames, Filters(departements=("44",)))
    assert (count, total) != default
    assert 0 < count < default[0]


def test_changing_a_filter_updates_the_counter(frames):
    at = _app()
    before = _counter(at)
    at.multiselect(key="f_dep").set_value(["49"]).run()
    assert not at.exception
    after = _counter(at)
    assert after[0] == _expected(frames, Filters(departements=("49",)))
    assert after != before
    assert at.query_params["dep"] in ("49", ["49"])


def test_query_params_round_trip(frames):
    at = _app()
    at.selectbox(key="f_region").set_value("france").run()
    at.multiselect(key="f_filiere").set_value(["culture", "numérique"]).run()
    at.slider(key="f_annees").set_value((2010, 2020)).run()
    assert not at.exception
    params = dict(at.query_params)
    assert params["region"] in ("france", ["france"])
    assert set(params["filiere"]) == {"culture", "numérique"}
    expected = Filters(
        region=None, filieres=("culture", "numérique"), annees=(2010, 2020)
    )
    assert _counter(at)[0] == _expected(frames, expected)

    fresh = _app(**params)
    assert not fresh.exception
    assert fresh.selectbox(key="f_region").value == "france"
    assert fresh.multiselect(key="f_filiere").value == ["culture", "numérique"]
    assert tuple(fresh.slider(key="f_annees").value) == (2010, 2020)
    assert _counter(fresh) == _counter(at)
    assert len(fresh.get(CHART)) == N_CHARTS


def test_empty_selection_explains_in_french(frames):
    at = _app(q="aucun ptce ne porte ce nom")
    assert not at.exception
    assert _counter(at) == (0, len(frames.ptce))
    assert "Aucun PTCE ne correspond aux filtres" in at.info[0].value
    assert not at.get(CHART)
    assert not at.download_button


def test_whole_country_source_line_mentions_synthetic_data():
    at = _app(region="france")
    assert not at.exception
    subtitle = json.loads(at.get(CHART)[0].proto.spec)["title"]["subtitle"]
    assert " ".join(subtitle).endswith(
        "Source : base Atlas des PTCE (données de démonstration : faits sourcés ; "
        "données synthétiques de test)"
    )


def test_no_level_by_kind_heatmap_here_and_numbers_in_french():
    # The level × kind of support matrix is the Collectivités page's.
    at = _app()
    assert not at.exception
    for chart in at.get(CHART):
        spec = json.loads(chart.proto.spec)
        assert "Soutiens des collectivités par type" not in spec["title"]["text"]
        assert spec["config"]["locale"]["number"]["thousands"] == "\u202f"


def test_no_known_amount_is_said_not_drawn_as_an_empty_axis():
    # The demo's supports have no amount: a sentence replaces the chart.
    at = _app(q="Solilab")
    assert not at.exception
    assert _counter(at)[0] == 1
    assert len(at.get(CHART)) == N_CHARTS - 1
    (info,) = at.info
    assert "n'a pas de montant connu" in info.value
    titles = [json.loads(c.proto.spec)["title"]["text"] for c in at.get(CHART)]
    assert "Montants des soutiens par année" not in titles
    # Its data can still be downloaded.
    assert len(at.download_button) == N_CHARTS
