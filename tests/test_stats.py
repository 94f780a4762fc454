"""Statistics tables (lib.analysis.stats) and their charts (lib.rendering.charts)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lib.analysis import stats
from lib.domain.model import (
    CATEGORIES_MEMBRE,
    FILIERES,
    NIVEAU_LABELS,
    NIVEAUX,
    ROLES_MEMBRE,
    STADES,
    TYPES_SOUTIEN,
    Membre,
    Ptce,
    Soutien,
)
from lib.domain.selection import Filters, build_frames
from lib.domain.soutiens import libelle
from lib.io.synthetic import generate
from lib.rendering import charts

TABLES = (
    "par_filiere",
    "par_stade",
    "par_departement",
    "soutiens_type_niveau",
    "creations_par_annee",
    "montants_par_annee",
    "composition_membres",
)
TITLES = {
    "par_filiere": "PTCE par filière",
    "par_stade": "PTCE par stade de développement",
    "par_departement": "PTCE par département",
    "soutiens_type_niveau": "Soutiens des collectivités par type et par niveau",
    "creations_par_annee": "Créations de PTCE par année",
    "montants_par_annee": "Montants des soutiens par année",
    "composition_membres": "Composition des PTCE : membres par catégorie et par rôle",
}


def _ptce(ident: str, **fields) -> Ptce:
    return Ptce(id=ident, nom=f"PTCE {ident}", region="52", **fields)


@pytest.fixture(scope="module")
def small():
    """Four hand-made PTCE whose statistics are known."""
    return build_frames(
        [
            _ptce(
                "a",
                departement="44",
                filieres=("culture", "énergie"),
                stade="émergence",
                annee_creation=2015,
                soutiens=(
                    Soutien(
                        "region",
                        "52",
                        "investissement",
                        montant=1000.0,
                        annee_debut=2020,
                    ),
                    Soutien(
                        "commune",
                        "44109",
                        "investissement",
                        montant=None,
                        annee_debut=2020,
                    ),
                    Soutien(
                        "departement",
                        "44",
                        "commande publique",
                        montant=None,
                        annee_debut=2021,
                    ),
                ),
                membres=(
                    Membre("Asso 1", "association", "porteur"),
                    Membre("Coop 1", "coopérative", "membre"),
                    Membre("Asso 2", "association", "membre"),
                ),
            ),
            _ptce(
                "b",
                departement="44",
                filieres=("culture",),
                stade="consolidation",
                annee_creation=2018,
                soutiens=(
                    Soutien(
                        "region",
                        "52",
                        "investissement",
                        montant=2500.0,
                        annee_debut=None,
                    ),
                ),
                membres=(Membre("Inconnue", None, "partenaire"),),
            ),
            _ptce("c", departement="49", stade=None, annee_creation=None),
            _ptce("d", departement=None, filieres=("culture",), stade="émergence"),
        ]
    )


@pytest.fixture(scope="module")
def synthetic():
    return build_frames(generate(300, seed=1))


@pytest.fixture(scope="module")
def empty(synthetic):
    frames = synthetic.filtered(
        Filters(region=None, texte="aucun ptce ne porte ce nom")
    )
    assert frames.ptce.empty
    return frames


# -- tables -------------------------------------------------------------------


def test_par_filiere_counts_each_filiere_of_a_ptce(small):
    table = stats.par_filiere(small)
    assert list(table.columns) == ["Filière", "PTCE", "Part des PTCE (%)"]
    counts = dict(zip(table["Filière"], table["PTCE"], strict=True))
    assert counts["culture"] == 3
    assert counts["énergie"] == 1
    assert counts[stats.NON_RENSEIGNEE] == 1  # "c" has no filière
    # Multi-counting: 5 > 4 PTCE, and the shares add up to more than 100 %.
    assert table["PTCE"].sum() == 5
    assert table["Part des PTCE (%)"].sum() > 100
    assert table["Part des PTCE (%)"].iloc[0] == 75.0
    # Every filière is listed (zeros included), by decreasing count, the
    # unknown last.
    assert set(FILIERES) <= set(table["Filière"])
    assert table["Filière"].iloc[0] == "culture"
    assert table["Filière"].iloc[-1] == stats.NON_RENSEIGNEE
    known = table["PTCE"].iloc[:-1]
    assert list(known) == sorted(known, reverse=True)


def test_par_stade_in_vocabulary_order_plus_unknown(small):
    table = stats.par_stade(small)
    assert list(table["Stade"]) == [*STADES, stats.NON_RENSEIGNE]
    assert list(table["PTCE"]) == [0, 2, 0, 1, 1]
    assert table["PTCE"].sum() == len(small.ptce)
    assert table["Part des PTCE (%)"].tolist() == [0.0, 50.0, 0.0, 25.0, 25.0]


def test_par_departement_code_and_name(small):
    table = stats.par_departement(small)
    assert list(table.columns) == ["Code", "Département", "PTCE", "Part des PTCE (%)"]
    assert table.to_dict("records")[:2] == [
        {"Code": "44", "Département": "Loire-Atlantique", "PTCE": 2,
         "Part des PTCE (%)": 50.0},
        {"Code": "49", "Département": "Maine-et-Loire", "PTCE": 1,
         "Part des PTCE (%)": 25.0},
    ]  # fmt: skip
    last = table.iloc[-1]
    assert (last["Code"], last["Département"], last["PTCE"]) == (
        "",
        stats.NON_RENSEIGNE,
        1,
    )


def test_soutiens_type_niveau_every_combination(small):
    table = stats.soutiens_type_niveau(small)
    assert len(table) == len(TYPES_SOUTIEN) * len(NIVEAUX)
    # In the guide's wording (lib.domain.soutiens), in vocabulary order.
    assert list(table["Type de soutien"].unique()) == [
        libelle(t) for t in TYPES_SOUTIEN
    ]
    assert list(table["Niveau"].unique()) == [NIVEAU_LABELS[n] for n in NIVEAUX]
    cells = table.set_index(["Type de soutien", "Niveau"])
    region = cells.loc[(libelle("investissement"), "région")]
    assert region["Soutiens"] == 2
    assert region["PTCE soutenus"] == 2
    assert region["Montant connu (€)"] == 3500
    commune = cells.loc[(libelle("investissement"), "commune")]
    # Only an unknown amount: the total is empty, not 0 €.
    assert (commune["Soutiens"], commune["Soutiens au montant inconnu"]) == (1, 1)
    assert pd.isna(commune["Montant connu (€)"])
    nothing = cells.loc[(libelle("conseil et ingénierie"), "EPCI")]
    assert nothing["Soutiens"] == 0
    assert pd.isna(nothing["Montant connu (€)"])
    assert table["Soutiens"].sum() == len(small.soutiens)


def test_creations_par_annee_fills_gaps_and_counts_unknown(small):
    table = stats.creations_par_annee(small)
    assert table.to_dict("list") == {
        "Année": ["2015", "2016", "2017", "2018", stats.NON_RENSEIGNEE],
        "PTCE créés": [1, 0, 0, 1, 2],
    }
    assert table["PTCE créés"].sum() == len(small.ptce)


def test_montants_par_annee_never_counts_unknown_amounts_as_zero(small):
    table = stats.montants_par_annee(small).set_index("Année de début")
    assert list(table.index) == ["2020", "2021", stats.NON_RENSEIGNEE]
    assert table.loc["2020", "Montant connu (€)"] == 1000
    assert table.loc["2020", "Soutiens au montant connu"] == 1
    assert table.loc["2020", "Soutiens au montant inconnu"] == 1
    # 2021 has one support, of unknown amount: no total at all.
    assert pd.isna(table.loc["2021", "Montant connu (€)"])
    assert table.loc["2021", "Soutiens au montant inconnu"] == 1
    assert table.loc[stats.NON_RENSEIGNEE, "Montant connu (€)"] == 2500
    assert table["Soutiens"].sum() == len(small.soutiens)
    assert table["Montant connu (€)"].sum() == 3500


def test_composition_membres_by_category_and_role(small):
    table = stats.composition_membres(small)
    categories = [*CATEGORIES_MEMBRE, stats.NON_RENSEIGNEE]
    assert len(table) == len(categories) * len(ROLES_MEMBRE)
    assert list(table["Catégorie"].unique()) == categories
    cells = table.set_index(["Catégorie", "Rôle"])["Membres"]
    assert cells[("association", "porteur")] == 1
    assert cells[("association", "membre")] == 1
    assert cells[("coopérative", "membre")] == 1
    assert cells[(stats.NON_RENSEIGNEE, "partenaire")] == 1
    assert table["Membres"].sum() == len(small.membres)


def test_tables_add_up_on_synthetic_data(synthetic):
    n = len(synthetic.ptce)
    assert stats.par_stade(synthetic)["PTCE"].sum() == n
    assert stats.par_departement(synthetic)["PTCE"].sum() == n
    assert stats.creations_par_annee(synthetic)["PTCE créés"].sum() == n
    assert stats.par_filiere(synthetic)["PTCE"].sum() == sum(
        len(f) or 1 for f in synthetic.ptce["filieres"]
    )
    soutiens = synthetic.soutiens
    known = soutiens["montant"].notna()
    for table in (
        stats.soutiens_type_niveau(synthetic),
        stats.montants_par_annee(synthetic),
    ):
        assert table["Soutiens"].sum() == len(soutiens)
        assert table["Soutiens au montant connu"].sum() == known.sum()
        assert table["Soutiens au montant inconnu"].sum() == (~known).sum()
        assert math.isclose(table["Montant connu (€)"].sum(), soutiens["montant"].sum())
        # A total is empty exactly when no amount is known.
        assert (
            table["Montant connu (€)"].isna()
            == (table["Soutiens au montant connu"] == 0)
        ).all()
    assert stats.composition_membres(synthetic)["Membres"].sum() == len(
        synthetic.membres
    )


@pytest.mark.parametrize("name", TABLES)
def test_tables_of_an_empty_selection(empty, name):
    table = getattr(stats, name)(empty)
    assert isinstance(table, pd.DataFrame)
    for column in table.columns:
        if column in ("PTCE", "PTCE créés", "Soutiens", "Membres"):
            assert table[column].sum() == 0


def test_empty_selection_shapes(empty):
    assert list(stats.par_stade(empty)["PTCE"]) == [0] * (len(STADES) + 1)
    assert stats.par_stade(empty)["Part des PTCE (%)"].isna().all()
    assert stats.par_departement(empty).empty
    assert stats.creations_par_annee(empty).empty
    assert stats.montants_par_annee(empty).empty
    assert len(stats.soutiens_type_niveau(empty)) == len(TYPES_SOUTIEN) * len(NIVEAUX)


# -- CSV ----------------------------------------------------------------------


def test_to_csv_for_french_spreadsheets():
    table = pd.DataFrame(
        {
            "Nom": ['=HYPERLINK("x")', "@SUM", "Nantes"],
            "Montant (€)": pd.array([1500.0, None, 12.5], dtype="Float64"),
            "PTCE": [1, 2, 3],
        }
    )
    data = stats.to_csv(table)
    assert data.startswith("\ufeff".encode())
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "Nom;Montant (€);PTCE"
    assert lines[1] == '"\'=HYPERLINK(""x"")";1500;1'
    assert lines[2] == "'@SUM;;2"
    assert lines[3] == "Nantes;12,5;3"


def test_to_csv_of_real_tables(synthetic):
    text = stats.to_csv(stats.montants_par_annee(synthetic)).decode("utf-8-sig")
    header, first = text.split("\r\n")[:2]
    assert header.split(";") == list(stats.montants_par_annee(synthetic).columns)
    assert first.startswith("2014;")


def test_source_line(small, synthetic):
    demo = build_frames([Ptce(id="x", nom="X", region="52", origine="démonstration")])
    assert stats.source_line(demo) == charts.SOURCE
    assert "synthétiques" in stats.source_line(synthetic)
    assert stats.source_line(small).startswith("Source : base Atlas des PTCE (")


# -- charts -------------------------------------------------------------------


def _walk(node):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _chart(frames, name: str, **kwargs) -> dict:
    return getattr(charts, name)(getattr(stats, name)(frames), **kwargs).to_dict()


@pytest.mark.parametrize("name", TABLES)
def test_charts_have_french_title_source_and_inline_data(synthetic, name):
    spec = _chart(synthetic, name)
    assert spec["title"]["text"] == TITLES[name]
    assert spec["title"]["subtitle"][-1] == charts.SOURCE
    # Data are embedded, never fetched: no "url" data anywhere.
    assert not any(isinstance(node, dict) and "url" in node for node in _walk(spec))
    assert spec["datasets"]
    assert all(spec["datasets"].values())


@pytest.mark.parametrize("name", TABLES)
def test_charts_of_an_empty_selection(empty, name):
    spec = _chart(empty, name, source="Source : essai")
    assert spec["title"]["text"] == TITLES[name]
    assert spec["title"]["subtitle"][-1] == "Source : essai"


def test_filiere_chart_says_multi_counting(small):
    subtitle = " ".join(_chart(small, "par_filiere")["title"]["subtitle"])
    assert "plusieurs filières compte dans chacune" in subtitle


def test_stade_chart_keeps_stage_order(small):
    spec = _chart(small, "par_stade")
    assert spec["encoding"]["y"]["sort"] == [*STADES, stats.NON_RENSEIGNE]


def test_montants_chart_draws_no_zero_for_unknown_amounts(small):
    spec = _chart(small, "montants_par_annee")
    (rows,) = spec["datasets"].values()
    by_year = {r["Année de début"]: r for r in rows}
    assert set(by_year) == {"2020", "2021"}  # the unknown year is not drawn
    assert by_year["2020"]["Montant connu (€)"] == 1000
    assert by_year["2021"]["Montant connu (€)"] is None
    assert by_year["2021"]["Montant (texte)"] == "inconnu"
    subtitle = spec["title"]["subtitle"]
    assert "2 soutiens sur 4 ont un montant inconnu, non comptés (ni comme 0)." in (
        subtitle
    )
    assert "1 soutien sans année de début n'est pas représenté." in subtitle


def test_creations_chart_mentions_unknown_years(small):
    spec = _chart(small, "creations_par_annee")
    (rows,) = spec["datasets"].values()
    assert [r["Année"] for r in rows] == ["2015", "2016", "2017", "2018"]
    assert any("2 PTCE dont l'année" in line for line in spec["title"]["subtitle"])


def test_heatmap_layers_cells_and_counts(synthetic):
    spec = _chart(synthetic, "soutiens_type_niveau")
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["rect", "text"]
    x = spec["layer"][0]["encoding"]["x"]
    assert x["sort"] == [NIVEAU_LABELS[n] for n in NIVEAUX]
    assert x["axis"]["title"] == "Niveau de la collectivité"


def test_departement_chart_shows_the_first_ones(synthetic):
    table = stats.par_departement(synthetic)
    assert len(table) > charts.MAX_DEPARTEMENTS
    spec = charts.par_departement(table).to_dict()
    (rows,) = spec["datasets"].values()
    assert len(rows) == charts.MAX_DEPARTEMENTS
    assert rows[0]["Libellé"] == f"{table['Code'][0]} — {table['Département'][0]}"
    assert any("Les 30 départements" in line for line in spec["title"]["subtitle"])


def test_composition_chart_colours_roles_colour_blind_safe(synthetic):
    spec = _chart(synthetic, "composition_membres")
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"] == list(ROLES_MEMBRE)
    assert set(scale["range"]) <= set(charts.OKABE_ITO)


def test_fr_number():
    assert charts.fr_number(1234567.5, 1) == "1\u202f234\u202f567,5"
    assert charts.fr_number(None) == ""
    assert charts.fr_number(float("nan")) == ""


def test_count_ticks_are_whole_numbers():
    assert charts.count_values(2) == [0, 1, 2]
    assert charts.count_values(0) == [0, 1]
    for high in (1, 3, 7, 12, 99, 1234, 19343):
        ticks = charts.count_values(high)
        assert all(isinstance(t, int) for t in ticks)
        assert len(set(ticks)) == len(ticks) <= 6
        assert ticks[-1] >= high


def test_heatmap_legend_of_counts_has_integer_values(small):
    spec = _chart(small, "soutiens_type_niveau")
    legend = spec["layer"][0]["encoding"]["color"]["legend"]
    assert legend["values"] == charts.count_values(
        stats.soutiens_type_niveau(small)[stats.SOUTIENS].max()
    )
    assert all(isinstance(v, int) for v in legend["values"])


def test_chart_specs_carry_the_french_locale(small):
    spec = charts.with_locale(charts.par_filiere(stats.par_filiere(small)))
    assert spec["config"]["locale"]["number"]["decimal"] == ","


def test_no_known_amount_gives_a_sentence(small):
    table = stats.montants_par_annee(small)
    assert charts.montants_absents(table) is None or table[stats.CONNUS].sum() == 0
    none_known = table.assign(**{stats.CONNUS: 0})
    message = charts.montants_absents(none_known)
    assert message and "Aucun montant n'est connu" in message
    assert charts.montants_absents(none_known.head(0)) == (
        "Aucun soutien de collectivité n'est enregistré pour ces PTCE."
    )
