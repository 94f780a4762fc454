"""Collectivités and fiche territoire: matrix, list, populations, comparisons."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lib import fr
from lib.analysis.territoires import (
    COLLECTIVITE_COLUMNS,
    MATRICE_COLUMNS,
    collectivites,
    fiche_territoire,
    format_amount,
    format_rate,
    format_territoire,
    matrice,
    parse_territoire,
    per_100k,
    population,
    ptce_mask,
    region_of,
    soutiens_par_niveau,
    territory_choices,
    territory_label,
)
from lib.domain.model import NIVEAUX, TYPES_SOUTIEN, Ptce, Soutien
from lib.domain.selection import Filters, build_frames
from lib.domain.soutiens import libelle
from lib.io.synthetic import generate
from lib.rendering.charts import heatmap_chart

PAYS_D_ANCENIS = "244400552"
NANTES_METROPOLE = "244400404"


def _ptce(id_, commune, departement, region, territoire=(), soutiens=()) -> Ptce:
    return Ptce(
        id=id_,
        nom=f"PTCE {id_}",
        commune=commune,
        departement=departement,
        region=region,
        territoire=territoire,
        soutiens=soutiens,
    )


@pytest.fixture(scope="module")
def hand_made(ref):
    """Five PTCE: three in Loire-Atlantique, one in Maine-et-Loire, one in Gers."""
    records = [
        # Seat in the CC du Pays d'Ancenis.
        _ptce("ancenis", "44003", "44", "52", soutiens=(
            Soutien("epci", PAYS_D_ANCENIS, "investissement", montant=10_000.0),
            Soutien("region", "52", "investissement", montant=5_000.0),
            Soutien("commune", "44003", "commande publique"),
        )),
        # Seat in Nantes, acting on a commune of the CC du Pays d'Ancenis.
        _ptce("nantes", "44109", "44", "52", territoire=("44213",), soutiens=(
            Soutien("epci", NANTES_METROPOLE, "investissement", montant=20_000.0),
            Soutien("departement", "44", "conseil et ingénierie"),
            Soutien("region", "52", "autre", montant=1_000.0),
        )),
        # Seat unknown within Loire-Atlantique; supported by the CC d'Ancenis.
        _ptce("loire-atlantique", None, "44", "52", soutiens=(
            Soutien("epci", PAYS_D_ANCENIS, "acteur de la gouvernance"),
        )),
        _ptce("angers", "49007", "49", "52"),
        _ptce("gers", None, "32", "76", soutiens=(
            Soutien("region", "76", "investissement", montant=7_000.0),
        )),
    ]  # fmt: skip
    return build_frames(records, {}, ref)


# -- URL value -----------------------------------------------------------------


def test_parse_and_format_territoire(ref):
    for niveau, code in [("epci", PAYS_D_ANCENIS), ("departement", "44"),
                         ("region", "52"), ("departement", "2A"),
                         ("commune", "44003"), ("commune", "2A004")]:  # fmt: skip
        assert parse_territoire(format_territoire(niveau, code), ref) == (niveau, code)
    assert parse_territoire("departement:2a", ref) == ("departement", "2A")
    assert parse_territoire("commune:2a004", ref) == ("commune", "2A004")
    # A former code (Saint-Géréon, merged into Ancenis-Saint-Géréon) has no fiche.
    for bad in (None, "", "44", "commune:99999", "commune:44160", "epci:123",
                "region:99", "x:y"):  # fmt: skip
        assert parse_territoire(bad, ref) is None


def test_territory_label(ref):
    assert territory_label("departement", "44", ref) == "Loire-Atlantique (44)"
    assert territory_label("epci", PAYS_D_ANCENIS, ref) == "CC du Pays d'Ancenis"
    assert territory_label("region", "52", ref) == "Pays de la Loire"
    # Communes share names: the département tells them apart.
    assert territory_label("commune", "44003", ref) == "Ancenis-Saint-Géréon (44)"


# -- populations -----------------------------------------------------------------


def test_populations_from_the_reference(ref):
    assert (
        population("epci", PAYS_D_ANCENIS, ref) == ref.epci[PAYS_D_ANCENIS].population
    )
    dep44 = sum(
        c.population or 0 for c in ref.communes.values() if c.departement == "44"
    )
    assert population("departement", "44", ref) == dep44
    deps52 = [d.code for d in ref.departements.values() if d.region == "52"]
    assert population("region", "52", ref) == sum(
        population("departement", d, ref) for d in deps52
    )
    metro_drom = sum(
        c.population or 0 for c in ref.communes.values() if c.zone != "com"
    )
    assert population("france", None, ref) == metro_drom
    assert population("epci", "000000000", ref) is None
    assert population("departement", "00", ref) is None
    assert population("commune", "44003", ref) == ref.communes["44003"].population
    assert population("commune", "99999", ref) is None
    with pytest.raises(ValueError):
        population("canton", "4401", ref)


def test_region_of(ref):
    assert region_of("departement", "44", ref) == "52"
    assert region_of("epci", PAYS_D_ANCENIS, ref) == "52"
    assert region_of("region", "76", ref) == "76"
    assert region_of("commune", "44003", ref) == "52"


def test_rates():
    assert per_100k(3, 300_000) == pytest.approx(1.0)
    assert per_100k(3, None) is None
    assert per_100k(3, 0) is None
    assert format_rate(1.234) == "1,23"
    assert format_rate(None) == "—"


# -- fiche territoire --------------------------------------------------------------


def test_ptce_present_in_an_epci_through_seat_or_territory(hand_made):
    present = hand_made.ptce.index[ptce_mask(hand_made.ptce, "epci", PAYS_D_ANCENIS)]
    assert sorted(present) == ["ancenis", "nantes"]
    dep = hand_made.ptce.index[ptce_mask(hand_made.ptce, "departement", "44")]
    assert sorted(dep) == ["ancenis", "loire-atlantique", "nantes"]


def test_fiche_epci(hand_made, ref):
    fiche = fiche_territoire(hand_made, "epci", PAYS_D_ANCENIS, ref)
    assert fiche.nom == "CC du Pays d'Ancenis"
    assert fiche.type_label == "Communauté de communes"
    assert sorted(fiche.ptce.index) == ["ancenis", "nantes"]
    # Given: by the CC, wherever the PTCE is.
    assert sorted(fiche.soutiens_donnes["ptce_id"]) == ["ancenis", "loire-atlantique"]
    assert set(fiche.soutiens_donnes["code"]) == {PAYS_D_ANCENIS}
    # Received: every support of the PTCE present.
    assert len(fiche.soutiens_recus) == 6
    pop = ref.epci[PAYS_D_ANCENIS].population
    assert fiche.population == pop
    assert fiche.pour_100k == pytest.approx(2 * 100_000 / pop)
    # Compared with the région: the four PTCE seated in Pays de la Loire.
    assert fiche.reference.titre == "Moyenne régionale (Pays de la Loire)"
    assert fiche.reference.ptce == 4
    assert fiche.reference.population == population("region", "52", ref)
    assert fiche.reference.pour_100k == pytest.approx(
        4 * 100_000 / population("region", "52", ref)
    )
    text = fiche.comparaison
    assert text.startswith(
        f"{format_rate(fiche.pour_100k)} PTCE pour 100 000 habitants"
    )
    assert "en moyenne pour la région Pays de la Loire" in text
    assert "fois plus" in text


def test_fiche_departement_and_region(hand_made, ref):
    dep = fiche_territoire(hand_made, "departement", "44", ref)
    assert len(dep.ptce) == 3
    assert list(dep.soutiens_donnes["ptce_id"]) == ["nantes"]
    assert len(dep.soutiens_recus) == 7
    assert dep.reference.libelle == "la région Pays de la Loire"

    region = fiche_territoire(hand_made, "region", "52", ref)
    assert len(region.ptce) == 4
    assert sorted(region.soutiens_donnes["ptce_id"]) == ["ancenis", "nantes"]
    assert region.reference.titre == "Moyenne nationale"
    assert region.reference.ptce == 5
    assert region.reference.population == population("france", None, ref)

    empty = fiche_territoire(hand_made, "departement", "2A", ref)
    assert empty.ptce.empty
    assert empty.soutiens_donnes.empty
    assert empty.pour_100k == 0
    assert empty.comparaison.startswith("0,00 PTCE pour 100 000 habitants (0 PTCE, ")
    assert "fois" not in empty.comparaison


def test_fiche_rejects_unknown_territories(hand_made, ref):
    with pytest.raises(ValueError):
        fiche_territoire(hand_made, "epci", "000000000", ref)
    with pytest.raises(ValueError, match="Commune inconnue"):
        fiche_territoire(hand_made, "commune", "99999", ref)
    with pytest.raises(ValueError):
        fiche_territoire(hand_made, "canton", "4401", ref)


def test_fiche_commune(hand_made, ref):
    # Ancenis-Saint-Géréon: the seat of « ancenis »; Loireauxence (44213), in
    # the territory of action of « nantes »; Nantes, seat of « nantes ».
    fiche = fiche_territoire(hand_made, "commune", "44003", ref)
    assert fiche.nom == "Ancenis-Saint-Géréon"
    assert fiche.type_label == "Commune"
    assert list(fiche.ptce.index) == ["ancenis"]
    assert list(fiche.soutiens_donnes["type"]) == ["commande publique"]
    assert len(fiche.soutiens_recus) == 3
    assert fiche.population == ref.communes["44003"].population
    assert fiche.reference.titre == "Moyenne régionale (Pays de la Loire)"
    assert list(fiche_territoire(hand_made, "commune", "44213", ref).ptce.index) == [
        "nantes"
    ]
    assert list(fiche_territoire(hand_made, "commune", "44109", ref).ptce.index) == [
        "nantes"
    ]
    assert fiche_territoire(hand_made, "commune", "49007", ref).soutiens_recus.empty


def test_soutiens_par_niveau(hand_made, ref):
    fiche = fiche_territoire(hand_made, "departement", "44", ref)
    table = soutiens_par_niveau(fiche.soutiens_recus).set_index("Niveau")
    assert list(table.index) == ["région", "département", "EPCI", "commune"]
    assert table.loc["région", "Soutiens"] == 2
    assert table.loc["région", "Montant connu (€)"] == 6_000
    assert table.loc["EPCI", "Collectivités"] == 2
    assert math.isnan(table.loc["département", "Montant connu (€)"])


# -- matrix and list ---------------------------------------------------------------


def test_matrice_every_combination(hand_made):
    table = matrice(hand_made.soutiens)
    assert list(table.columns) == MATRICE_COLUMNS
    assert len(table) == len(NIVEAUX) * len(TYPES_SOUTIEN)
    assert table["Soutiens"].sum() == len(hand_made.soutiens)
    # Types in the guide's wording (lib.domain.soutiens), not their stored codes.
    invest, gouvernance = libelle("investissement"), libelle("acteur de la gouvernance")
    assert set(table["Type de soutien"]) == {libelle(t) for t in TYPES_SOUTIEN}
    cell = table.set_index(["niveau", "Type de soutien"])
    assert cell.loc[("region", invest), "Soutiens"] == 2
    assert cell.loc[("region", invest), "Montant (€)"] == 12_000
    assert cell.loc[("epci", invest), "Montant (€)"] == 30_000
    assert cell.loc[("epci", gouvernance), "Montants connus"] == 0
    assert cell.loc[("commune", "autre"), "Soutiens"] == 0
    empty = matrice(hand_made.soutiens.iloc[0:0])
    assert len(empty) == 32
    assert empty["Soutiens"].sum() == 0


def test_matrice_synthetic(ref):
    frames = build_frames(generate(300, seed=1, ref=ref), {}, ref)
    table = matrice(frames.soutiens)
    assert table["Soutiens"].sum() == len(frames.soutiens)
    assert table["Montant (€)"].sum() == pytest.approx(frames.soutiens["montant"].sum())
    assert table["Montants connus"].sum() == frames.soutiens["montant"].notna().sum()
    by_level = table.groupby("niveau")["Soutiens"].sum()
    assert by_level.to_dict() == frames.soutiens["niveau"].value_counts().to_dict()


def test_collectivites_list(hand_made):
    table = collectivites(hand_made.soutiens)
    assert list(table.columns) == COLLECTIVITE_COLUMNS
    assert len(table) == len(hand_made.soutiens[["niveau", "code"]].drop_duplicates())
    first = table.iloc[0]
    # Région Pays de la Loire and CC d'Ancenis support two PTCE each; the
    # région comes first (levels in order région, département, EPCI, commune).
    assert (first["Collectivité"], first["PTCE soutenus"]) == ("Pays de la Loire", 2)
    assert first["PTCE"] == "PTCE ancenis ; PTCE nantes"
    assert first["Montant connu (€)"] == 6_000
    row = table.set_index("Code").loc[PAYS_D_ANCENIS]
    assert row["PTCE soutenus"] == 2
    assert row["Types de soutien"] == (
        f"{libelle('acteur de la gouvernance')} ; {libelle('investissement')}"
    )
    assert table.set_index("Code").loc["44", "Montant connu (€)"] != 0
    assert pd.isna(table.set_index("Code").loc["44", "Montant connu (€)"])
    assert table["PTCE soutenus"].is_monotonic_decreasing
    assert collectivites(hand_made.soutiens.iloc[0:0]).empty


def test_collectivites_synthetic(ref):
    frames = build_frames(generate(300, seed=1, ref=ref), {}, ref)
    table = collectivites(frames.soutiens)
    assert table["Soutiens"].sum() == len(frames.soutiens)
    expected = frames.soutiens.groupby(["niveau", "code"])["ptce_id"].nunique()
    got = table.set_index(["niveau", "Code"])["PTCE soutenus"]
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()


def test_territory_choices(hand_made, ref):
    choices = territory_choices(hand_made.filtered(Filters(region="52")), ref)
    assert choices["region"] == ["52"]
    assert choices["departement"] == ["44", "49"]
    # Seat EPCI, EPCI of the territory of action, supporting EPCI.
    assert set(choices["epci"]) == {PAYS_D_ANCENIS, NANTES_METROPOLE, "244900015"}
    names = [ref.epci[c].nom for c in choices["epci"]]
    assert names == fr.sorted_fr(names)  # French order: accents ignored
    # Seats, communes of a territory of action, supporting communes.
    assert set(choices["commune"]) == {"44003", "44109", "44213", "49007"}
    everywhere = territory_choices(hand_made, ref)
    assert everywhere["region"] == ["76", "52"]  # Occitanie, Pays de la Loire
    assert "32" in everywhere["departement"]


def test_heatmap_chart(hand_made):
    table = matrice(hand_made.soutiens)
    counts = heatmap_chart(table, "nombre").to_dict()
    layers = counts["layer"]
    assert layers[0]["title"] == (
        "Soutiens par niveau de collectivité et type (nombre)"
    )
    assert layers[0]["mark"]["type"] == "rect"
    assert layers[1]["mark"]["type"] == "text"
    values = next(iter(counts["datasets"].values()))
    texts = {(v["niveau"], v["Type de soutien"]): v["texte"] for v in values}
    assert texts[("region", libelle("investissement"))] == "2"
    assert texts[("commune", "autre")] == ""
    amounts = heatmap_chart(table, "montant").to_dict()
    values = next(iter(amounts["datasets"].values()))
    texts = {(v["niveau"], v["Type de soutien"]): v["texte"] for v in values}
    assert texts[("epci", libelle("investissement"))] == "30\u00a0k€"
    tips = {t.get("title") for t in counts["layer"][0]["encoding"]["tooltip"]}
    assert "Définition (guide RTES/CRESS)" in tips
    definitions = {v["Type de soutien"]: v["definition"] for v in values}
    assert definitions[libelle("investissement")].startswith("Aider à investir")
    assert format_amount(1_260_000) == "1,3\u00a0M€"
    assert format_amount(850) == "850\u00a0€"
    assert format_amount(0) == ""


def test_heatmap_writes_french_and_whole_counts(hand_made):
    from tests.raw import assert_no_raw_text

    table = matrice(hand_made.soutiens)
    for mesure in ("nombre", "montant"):
        spec = heatmap_chart(table, mesure).to_dict()
        for row in next(iter(spec["datasets"].values())):
            assert_no_raw_text(row["texte"])
            assert_no_raw_text(row["montant_texte"])
            if not row["Montants connus"]:
                assert row["montant_texte"] == "aucun montant connu"
        color = spec["layer"][0]["encoding"]["color"]["condition"]
        if mesure == "nombre":
            assert all(isinstance(v, int) for v in color["legend"]["values"])
            assert color["scale"]["domain"][0] == 0
    assert format_amount(12_000) == "12\u00a0k€"


def test_supported_ptce_listed_in_french_order(hand_made):
    for cell in collectivites(hand_made.soutiens)["PTCE"]:
        parts = cell.split(" ; ")
        assert parts == fr.sorted_fr(parts)
