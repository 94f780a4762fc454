"""Repères: the guide's sections on the page with their sources, every fait shown.

Issue 13, points 1 and 3. The section list below is the guide's (RTES / CRESS
Pays de la Loire, March 2025), written out here on purpose: a section
dropped from ``lib.analysis.reperes`` or from the page fails. The faits tests run
over the stored data, not over a fixed list: a fait or a disagreement added
to the data must appear too.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib import fr
from lib.analysis import reperes
from lib.domain import soutiens as types_soutien
from lib.domain.model import TYPES_SOUTIEN, Fait, Source
from lib.io.demo import load_demo_file
from lib.store.ptce import Store
from tests.raw import assert_no_raw_text

TIMEOUT = 60

#: The guide's sections (key, words its title must hold, number of items).
SEED_SECTIONS = (
    ("definition", "Définition", None),
    ("decomposition", "P, T, C, E", 4),
    ("origine", "Origine", None),
    ("charte", "charte", None),
    ("raisons", "six raisons", 6),
    ("niveaux", "niveau de collectivité", 4),
    ("soutiens", "Sept façons", 7),
    ("scic", "SCIC", None),
    ("politique", "politique nationale", None),
    ("ressources", "Ressources", 5),
)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A database holding the demo data, used by the pages."""
    from lib.io.demo import install_demo

    url = f"sqlite:///{tmp_path / 'reperes.sqlite'}"
    s = Store(url)
    install_demo(s)
    monkeypatch.setenv("DATABASE_URL", url)
    return s


def _page(partie: str | None = None) -> AppTest:
    at = AppTest.from_string(
        "from views import reperes\nreperes.render()\n", default_timeout=TIMEOUT
    )
    if partie:
        at.query_params["partie"] = partie
    at.run()
    assert not at.exception, at.exception
    assert not at.error
    return at


def _flat(node) -> list:
    # Every element of the page, in the order a person reads them.
    out = []
    for child in getattr(node, "children", {}).values():
        if getattr(child, "children", None):
            out += _flat(child)
        else:
            out.append(child)
    return out


def _texts(at: AppTest) -> list[tuple[str, str]]:
    return [
        (e.type, str(e.value))
        for e in _flat(at.main)
        if e.type in ("title", "subheader", "markdown", "caption")
    ]


def _all_text(at: AppTest) -> str:
    return "\n".join(value for _, value in _texts(at))


def _spans(at: AppTest) -> dict[str, list[tuple[str, str]]]:
    # The elements under each subheader, up to the next one.
    spans: dict[str, list] = {}
    current = None
    for kind, value in _texts(at):
        if kind == "subheader":
            current = value
            spans[current] = []
        elif current is not None:
            spans[current].append((kind, value))
    return spans


# -- the guide as data ---------------------------------------------------------------


def test_lib_holds_every_section_of_the_guide_with_its_items():
    keys = [s.key for s in reperes.SECTIONS]
    assert keys == [key for key, _, _ in SEED_SECTIONS]
    for key, words, n_items in SEED_SECTIONS:
        section = reperes.section(key)
        assert words in section.titre
        if n_items is not None:
            assert len(section.entries) == n_items, key
        for entry in (*section.intro, *section.entries):
            assert entry.source.document and entry.texte, (key, entry.titre)


def test_levels_and_ways_are_those_of_the_guide():
    levels = [e.titre for e in reperes.section("niveaux").entries]
    assert levels == ["Régions", "Départements", "Intercommunalités", "Communes"]
    regions = reperes.section("niveaux").entries[0].texte
    for scheme in ("SRDEII", "SRADDET", "POR", "ACTE", "Initiatives Territoriales"):
        assert scheme in regions
    ways = reperes.section("soutiens").entries
    # The guide's own words (quoted), each with a definition, tied in order
    # to the model's seven support types.
    assert all(w.citation and w.exemple for w in ways)
    assert [w.exemple for w in ways] == [
        types_soutien.definition(code) for code in TYPES_SOUTIEN[:7]
    ]
    assert [w.type_soutien for w in ways] == list(TYPES_SOUTIEN[:7])
    assert "savoir-faire et à l'ingénierie des PTCE en matière de coopération" in (
        ways[5].texte
    )
    assert "coopérer avec les acteurs du territoire" in ways[6].texte


def test_examples_name_ptce_of_the_demo_data():
    ids = {p.id for p in load_demo_file()[0]}
    named = [pid for s in reperes.SECTIONS for e in s.entries for pid in e.ptce]
    assert len(named) >= 7  # five reasons and three levels with a PTCE
    assert set(named) <= ids


def test_fait_values_are_french():
    fait = Fait("s", "l", 1_500_000, "€", 2023, Source("x"))
    assert reperes.fait_value(fait) == "1\u202f500\u202f000\u00a0€"
    assert reperes.fait_value(dataclasses.replace(fait, unite="PTCE")) == (
        "1\u202f500\u202f000 PTCE"
    )
    assert reperes.fait_value(dataclasses.replace(fait, valeur=None)) == ""
    assert reperes.fait_value(dataclasses.replace(fait, valeur=float("nan"))) == ""


# -- the guide on the page -----------------------------------------------------------


def test_each_section_of_the_guide_is_on_the_page_with_a_source(store):
    spans = _spans(_page())
    titles = list(spans)
    for key, words, _ in SEED_SECTIONS:
        section = reperes.section(key)
        title = next((t for t in titles if words in t), None)
        assert title == section.titre, (key, titles)
        body = spans[title]
        text = "\n".join(v for _, v in body)
        sources = [v for kind, v in body if kind == "caption" and "Source :" in v]
        assert sources, f"section « {title} » sans source"
        for entry in (*section.intro, *section.entries):
            assert entry.titre in text, (key, entry.titre)
            assert reperes.source_text(entry.source) in sources, (key, entry.titre)


def test_definition_quotes_article_9(store):
    body = _spans(_page())["Définition"]
    quoted = [v for kind, v in body if kind == "markdown" and "> «" in v]
    assert quoted and "stratégie commune et continue" in quoted[0]
    captions = " ".join(v for kind, v in body if kind == "caption")
    assert "2014-856" in captions and "article 9" in captions


def test_examples_link_to_their_fiche_and_the_map(store):
    text = _all_text(_page())
    for section in reperes.SECTIONS:
        for entry in section.entries:
            for pid in entry.ptce:
                assert f"]({reperes.fiche_url(pid)})" in text, pid
                nom = store.get(pid).nom
                assert f"]({reperes.carte_url(nom, store.get(pid).region)})" in text


def test_level_examples_link_to_the_supports_of_the_data(store):
    text = _all_text(_page())
    soutiens = [
        {**s.flat(), "ptce_id": p.id, "ptce_nom": p.nom, "collectivite": None}
        for p in store.load()
        for s in p.soutiens
    ]
    for s in soutiens:
        s["source"] = s.pop("source_libelle")
    checked = 0
    for entry in reperes.section("niveaux").entries:
        rows = reperes.support_rows(soutiens, *entry.soutien)
        for row in rows:
            assert f"[{row['ptce_nom']}]({reperes.fiche_url(row['ptce_id'])})" in text
            if row["deduit"]:  # an inferred support says so, with its reasoning
                assert f"*déduit* : {row['deduit']}" in text
            checked += 1
        url = reperes.territoire_url(*entry.soutien)
        if rows and url:
            assert f"]({url})" in text
    assert checked >= 4  # région, département, EPCI and commune of the demo


def test_national_timeline_is_drawn_from_the_faits(store):
    at = _page()
    body = "\n".join(v for _, v in _spans(at)["La politique nationale des PTCE"])
    faits = store.faits()
    steps = reperes.timeline(faits)
    assert [e.step.annees for e in steps] == [
        "2013", "2015 ou 2016", "2021", "2023", "2025"
    ]  # fmt: skip
    for etape in steps:
        assert f"{etape.step.annees} — {etape.step.titre}" in body
        assert etape.faits, etape.step.annees
        for fait in etape.faits:
            assert fait.libelle in body, fait.libelle
        for desaccord in etape.desaccords:
            assert desaccord.note in body
    # The year of the second call: both dates read in the same step.
    second = steps[1]
    assert second.desaccords and any("2016" in d.note for d in second.desaccords)
    # A new fait of the data joins its step.
    extra = Fait("AMI PTCE 2025", "Un chiffre ajouté", 3, "PTCE", 2025, Source("X"))
    store.replace_faits([*faits, extra])
    assert "Un chiffre ajouté" in _all_text(_page())


# -- chiffres et sources -------------------------------------------------------------


def _horizontal_blocks(at: AppTest) -> list[list[str]]:
    # Each row of columns, as the text of each of its columns.
    rows = []

    def walk(node):
        children = list(getattr(node, "children", {}).values())
        if children and all(getattr(c, "type", None) == "column" for c in children):
            rows.append(["\n".join(str(e.value) for e in _flat(c)) for c in children])
        for child in children:
            walk(child)

    walk(at.main)
    return rows


def _check_chiffres(at: AppTest, faits: list[Fait]) -> None:
    text = _all_text(at)
    assert "Chiffres et sources" in text
    for fait in faits:
        assert fait.libelle in text, fait.libelle
        assert fait.source.libelle in text, fait.source.libelle
        if fait.source.url:
            assert f"]({fait.source.url})" in text
        value = reperes.fait_value(fait)
        if value:
            assert (
                f"**{value}** — {fait.libelle} ({fr.year(fait.annee, 'non daté')})"
                in (text)
            )
    rows = _horizontal_blocks(at)
    disagreements = reperes.desaccords(faits)
    for d in disagreements:
        assert d.note in text
        sides = [f"{f.libelle} ({fr.year(f.annee, 'non daté')})" for f in d.faits]
        assert any(
            len(row) == len(sides)
            and all(s in c for s, c in zip(sides, row, strict=True))
            for row in rows
        ), f"désaccord non montré côte à côte : {d.sujet}"
    assert_no_raw_text(text)


def test_every_fait_and_every_disagreement_is_shown(store):
    faits = store.faits()
    assert len(reperes.desaccords(faits)) >= 3  # the demo data's
    _check_chiffres(_page("chiffres"), faits)


def test_a_new_disagreement_of_the_data_is_shown_side_by_side(store):
    # Not a fixed list: counts that disagree, added to the data, appear.
    note = "Les sources divergent sur le nombre de PTCE en France."
    added = [
        Fait("PTCE recensés", "PTCE estimés par le Labo de l'ESS", 160, "PTCE",
             2017, Source("Encyclopédie du développement durable"), note),
        Fait("PTCE recensés", "Un peu plus de 150 PTCE", None, None, None,
             Source("CRESS Pays de la Loire", "http://studylibfr.com/doc/3752995/"),
             note),
    ]  # fmt: skip
    store.replace_faits([*store.faits(), *added])
    faits = store.faits()
    _check_chiffres(_page("chiffres"), faits)
    assert any(d.note == note and len(d.faits) == 2 for d in reperes.desaccords(faits))


def test_pages_read_no_raw_value_even_without_data(tmp_path, monkeypatch):
    # An empty database: no PTCE for the examples, no fait, nothing raw.
    url = f"sqlite:///{tmp_path / 'vide.sqlite'}"
    empty = Store(url)
    empty.replace_faits(
        [Fait("Sujet", "Un chiffre sans valeur ni date", None, None, None, Source("X"))]
    )
    monkeypatch.setenv("DATABASE_URL", url)
    for partie in (None, "chiffres"):
        at = _page(partie)
        text = _all_text(at)
        assert_no_raw_text(text)
        assert "./annuaire?ptce=" not in text
    assert "Un chiffre sans valeur ni date (non daté)" in text


def test_demo_pages_read_no_raw_value(store):
    for partie in (None, "chiffres"):
        assert_no_raw_text(_all_text(_page(partie)))


def test_charte_and_scic_say_what_the_data_holds(store):
    from lib.domain.model import Ptce

    store.save(
        Ptce(id="une-scic", nom="Une SCIC", commune="44109", forme_juridique="SCIC",
             charte_signee=True),
        "test",
    )  # fmt: skip
    total = fr.integer(len(store.load()))
    n_scic = sum(p.forme_juridique == "SCIC" for p in store.load())
    assert n_scic > 1  # the SCIC of the demo data, and this one
    spans = _spans(_page())
    charte = "\n".join(v for _, v in spans["La charte des PTCE"])
    assert f"renseignée pour 1\u00a0PTCE sur {total} (1\u00a0signataire)" in charte
    scic = "\n".join(v for _, v in spans["PTCE et SCIC"])
    assert f"{n_scic}\u00a0PTCE sur {total} ont la forme SCIC" in scic
    assert "./annuaire?region=france&forme=SCIC" in scic
    one = pd.DataFrame({"forme_juridique": ["SCIC", None], "charte_signee": [None] * 2})
    assert "1\u00a0PTCE sur 2 a la forme SCIC" in reperes.data_line("scic", one)
