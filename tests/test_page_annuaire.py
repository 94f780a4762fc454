"""AppTest of the Annuaire page: counter, filters, table selection and fiche URL."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from lib import fr
from lib.analysis.fiche import escape_markdown
from lib.domain.model import Ptce, Soutien
from lib.io.demo import load_demo_file
from lib.io.synthetic import generate
from tests.raw import assert_no_raw_frame, assert_no_raw_text

TIMEOUT = 60
SCRIPT = (
    "from views.filters import filters_sidebar\n"
    "from views import annuaire\n"
    "filters_sidebar()\n"
    "annuaire.render()\n"
)
XSS = "<img src=x onerror=alert(1)>"
#: A user record whose name and description try to inject markup.
HOSTILE = Ptce(
    id="hostile",
    nom=f"{XSS} **gras** [lien](javascript:alert(1))",
    description=f"{XSS} :red[rouge]",
    commune="44109",
    departement="44",
    region="52",
    site_web="javascript:alert(1)",
    soutiens=(Soutien("epci", "244400404", "investissement", annee_debut=2020),),
)

#: A PTCE without a seat and whose every optional field is empty.
EMPTY = Ptce(
    id="vide",
    nom="Écrin sans siège",
    soutiens=(Soutien("region", "52", "investissement"),),
)


@pytest.fixture(scope="module")
def records(ref):
    demo, _ = load_demo_file()
    return [*demo, *generate(300, seed=1, ref=ref), HOSTILE, EMPTY]


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch, records):
    """The demo data, 300 synthetic PTCE, one hostile name and one empty PTCE."""
    from lib.io.demo import install_demo
    from lib.store.ptce import Store

    url = f"sqlite:///{tmp_path / 'annuaire.sqlite'}"
    store = Store(url)
    install_demo(store)
    store.create_many(records[-302:], "test")
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def _app() -> AppTest:
    return AppTest.from_string(SCRIPT, default_timeout=TIMEOUT)


def _counter(at: AppTest) -> tuple[int, int]:
    for m in at.markdown:
        found = re.search(r"(\d+) PTCE sur (\d+)", m.value)
        if found:
            return int(found[1]), int(found[2])
    raise AssertionError("no counter")


def _table(at: AppTest):
    (table,) = [d for d in at.dataframe if (d.key or "").startswith("annuaire-")]
    return table


def _headers(at: AppTest) -> list[str]:
    # The fiche's title (the sidebar has its own header, "Filtres").
    return [h.value for h in at.main.header]


def test_counter_and_table(built_cache, records):
    at = _app().run()
    assert not at.exception
    in_region = [r for r in records if r.region == "52"]
    assert _counter(at) == (len(in_region), len(records))
    table = _table(at)
    frame = table.value
    assert len(frame) == len(in_region)
    assert list(frame.columns[:4]) == ["Nom", "Commune", "Département", "Filières"]
    assert "Montant connu" in frame.columns
    names = list(frame["Nom"])
    assert names == fr.sorted_fr(names)  # accents do not send a name last
    assert_no_raw_frame(table)
    assert not _headers(at)  # no fiche open
    assert "ptce" not in at.query_params


def test_sidebar_filter_changes_the_counter(built_cache, records):
    at = _app().run()
    before = _counter(at)
    at.multiselect(key="f_dep").set_value(["44"]).run()
    assert not at.exception
    in_44 = [r for r in records if r.departement == "44"]
    assert _counter(at) == (len(in_44), len(records))
    assert _counter(at) != before
    assert at.query_params["dep"] in ("44", ["44"])
    assert len(_table(at).value) == len(in_44)


def test_url_filter_changes_the_counter(built_cache, records):
    at = _app()
    at.query_params["dep"] = "44"
    at.run()
    assert not at.exception
    assert _counter(at)[0] == len([r for r in records if r.departement == "44"])


def test_no_match(built_cache, records):
    at = _app()
    at.query_params["q"] = "aucun ptce ne porte ce nom"
    at.run()
    assert not at.exception
    assert _counter(at) == (0, len(records))
    assert _table(at).value.empty


def test_ptce_param_opens_the_fiche(built_cache):
    at = _app()
    at.query_params["ptce"] = "le-moulin-creatif"
    at.run()
    assert not at.exception
    assert _headers(at) == ["Le Moulin Créatif"]
    text = " ".join(m.value for m in at.markdown)
    assert "données de démonstration" in text  # badge
    assert "Montaigu-Vendée — Vendée (85) — Pays de la Loire" in text
    subheaders = [s.value for s in at.subheader]
    assert subheaders == [
        "Siège et territoire d'action",
        "Membres",
        "Soutiens des collectivités",
        "Valeurs déduites",  # its Région years and EPCI support (issue 13)
        "Sources",
    ]
    soutiens = [d.value for d in at.dataframe if "Type de soutien" in d.value.columns]
    assert list(soutiens[0]["Collectivité"]) == [
        "Pays de la Loire",
        "CA Terres de Montaigu",
    ]
    assert "(https://www.cress-pdl.org/grains-de-creation/)" in text  # sources
    captions = " ".join(c.value for c in at.caption)
    assert "1\u00a0soutien sans année connue" in captions
    # The row of the PTCE is selected in the table, and the URL kept.
    table = _table(at)
    row = list(table.value["Nom"]).index("Le Moulin Créatif")
    assert at.session_state[table.key]["selection"]["rows"] == [row]
    assert at.query_params["ptce"] in ("le-moulin-creatif", ["le-moulin-creatif"])


def test_selecting_a_row_sets_the_param_and_closing_clears_it(built_cache):
    at = _app().run()
    table = _table(at)
    names = list(table.value["Nom"])
    row = names.index("Les Écossolies")
    at.session_state[table.key] = {"selection": {"rows": [row]}}
    at.run()
    assert not at.exception
    assert _headers(at) == ["Les Écossolies"]
    assert at.query_params["ptce"] in ("les-ecossolies", ["les-ecossolies"])

    # Another row: the fiche and the URL follow.
    other = names.index("Le Solilab")
    at.session_state[table.key] = {"selection": {"rows": [other]}}
    at.run()
    assert _headers(at) == ["Le Solilab"]
    assert at.query_params["ptce"] in ("le-solilab", ["le-solilab"])

    at.button(key="fiche-fermer").click().run()
    assert not at.exception
    assert not _headers(at)
    assert "ptce" not in at.query_params
    assert at.session_state[table.key]["selection"]["rows"] == []


def test_changing_filters_keeps_the_open_fiche(built_cache):
    at = _app()
    at.query_params["ptce"] = "le-moulin-creatif"
    at.run()
    key = _table(at).key
    at.multiselect(key="f_dep").set_value(["44"]).run()
    assert not at.exception
    # New rows, new table (no stale selection), same fiche, flagged as filtered out.
    assert _table(at).key != key
    assert _headers(at) == ["Le Moulin Créatif"]
    assert "ne correspond pas aux filtres" in at.info[0].value
    assert at.query_params["ptce"] in ("le-moulin-creatif", ["le-moulin-creatif"])


def test_fiche_outside_the_filters_and_unknown_id(built_cache):
    at = _app()
    at.query_params["ptce"] = "edenn"  # Occitanie, outside the default région
    at.run()
    assert not at.exception
    assert _headers(at) == ["EDENN"]
    assert "ne correspond pas aux filtres" in at.info[0].value
    badges = " ".join(m.value for m in at.markdown)
    assert "AMI 2021 : financé" in badges.replace("\\:", ":")

    at = _app()
    at.query_params["ptce"] = "n-existe-pas"
    at.run()
    assert not at.exception
    assert "Aucun PTCE" in at.warning[0].value


def test_hostile_text_is_escaped(built_cache):
    at = _app()
    at.query_params["ptce"] = "hostile"
    at.run()
    assert not at.exception
    assert _headers(at) == [escape_markdown(HOSTILE.nom)]
    for element in (*at.header, *at.markdown, *at.caption):
        assert XSS not in element.value
        # No live link: every "]" before "(" is escaped.
        assert not re.search(r"(?<!\\)\]\(javascript", element.value)
    assert not at.get("link_button")  # the javascript: site web is dropped


def test_no_raw_value_in_the_table_or_the_fiche_france_entiere(built_cache, records):
    # France entière includes PTCE without a seat (no département).
    at = _app()
    at.query_params["region"] = "france"
    at.run()
    assert not at.exception
    assert_no_raw_frame(_table(at))
    spec = json.loads(_table(at).proto.columns) if _table(at).proto.columns else {}
    assert not spec.get("Nom", {}).get("pinned")  # a pinned column is greyed
    frame = _table(at).value
    (row,) = frame[frame["Nom"] == EMPTY.nom].to_dict("records")
    assert row["Département"] == fr.MISSING
    assert row["Montant connu"] == fr.MISSING
    # Its fiche: no raw value either, in the figures or the supports table.
    at.query_params["ptce"] = EMPTY.id
    at.run()
    assert not at.exception
    for frame in at.main.dataframe[1:]:
        assert_no_raw_frame(frame)
    for metric in at.main.metric:
        assert_no_raw_text(metric.value)
