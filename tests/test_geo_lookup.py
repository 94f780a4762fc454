"""Lookups commune → EPCI → département → région, search, placement."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import shapely

from geo.lookup import (
    UnknownCode,
    by_postal_code,
    find_places,
    fold,
    lookup,
    representative_point,
    search,
    territory_name,
)
from tests.conftest import ROOT


def test_lookup_ancenis():
    assert lookup("44003") == {
        "commune": {"code": "44003", "nom": "Ancenis-Saint-Géréon"},
        "epci": {"code": "244400552", "nom": "CC du Pays d'Ancenis"},
        "departement": {"code": "44", "nom": "Loire-Atlantique"},
        "region": {"code": "52", "nom": "Pays de la Loire"},
    }


@pytest.mark.parametrize(
    ("code", "commune", "epci", "departement", "region"),
    [
        ("44160", "44003", "244400552", "44", "52"),  # former code (merged 2019)
        ("2A004", "2A004", "242010056", "2A", "94"),  # Ajaccio
        ("2b033", "2B033", "242000354", "2B", "94"),  # Bastia, typed lower-case
        ("97411", "97411", "249740119", "974", "04"),  # Saint-Denis, La Réunion
        ("97101", "97101", "200018653", "971", "01"),  # Les Abymes (CAP Excellence)
        ("97611", "97611", "200060457", "976", "06"),  # Mamoudzou, Mayotte
        ("75056", "75056", "200054781", "75", "11"),  # Paris
        ("75112", "75056", "200054781", "75", "11"),  # Paris 12e arrondissement
        ("69123", "69123", "200046977", "69", "84"),  # Lyon
        ("69385", "69123", "200046977", "69", "84"),  # Lyon 5e
        ("13055", "13055", "200054807", "13", "93"),  # Marseille
        ("13208", "13055", "200054807", "13", "93"),  # Marseille 8e
        ("1001", "01001", "200069193", "01", "84"),  # leading zero lost
    ],
)
def test_lookup_cases(code, commune, epci, departement, region):
    result = lookup(code)
    assert result["commune"]["code"] == commune
    assert result["epci"]["code"] == epci
    assert result["departement"]["code"] == departement
    assert result["region"]["code"] == region


def test_commune_outside_any_epci():
    yeu = lookup("85113")  # L'Île-d'Yeu, a single-commune island
    assert yeu["epci"] is None
    assert yeu["departement"]["code"] == "85"


def test_overseas_collectivity():
    spm = lookup("97502")
    assert spm["departement"] == {"code": "975", "nom": "Saint-Pierre-et-Miquelon"}
    assert spm["epci"] is None


def test_unknown_code_raises_french_error():
    with pytest.raises(UnknownCode, match="inconnu"):
        lookup("99999")


def test_cli_lookup_prints_one_json_line_per_code():
    proc = subprocess.run(
        [sys.executable, "-m", "geo", "lookup", "44003", "99999", "75101"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1
    assert len(lines) == 3
    assert lines[0]["epci"]["nom"] == "CC du Pays d'Ancenis"
    assert set(lines[1]) == {"error"} and "99999" in lines[1]["error"]
    assert lines[2]["commune"]["nom"] == "Paris"


def test_cli_lookup_known_codes_exit_zero():
    proc = subprocess.run(
        [sys.executable, "-m", "geo", "lookup", "44003"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0


def test_fold_ignores_accents_case_and_punctuation():
    assert fold("Ancenis-Saint-Géréon") == fold("ancenis saint gereon")
    assert fold("St-Nazaire") == fold("Saint Nazaire")
    assert fold("L'Île-d'Yeu") == "l ile d yeu"


def test_search_by_name_with_departement():
    assert [m.code for m in search("ancenis saint gereon")] == ["44003"]
    homonyms = search("Saint-Denis")
    assert len(homonyms) > 1
    assert [m.code for m in search("Saint-Denis", departement="974")] == ["97411"]
    assert [m.code for m in search("st nazaire", departement="44")] == ["44184"]


def test_search_by_postal_code():
    codes = {m.code for m in by_postal_code("44150")}
    assert "44003" in codes
    assert all(m.via == "code postal" for m in by_postal_code("44150"))
    assert [m.code for m in search("Ancenis-Saint-Géréon", postal_code="44150")] == [
        "44003"
    ]
    assert search("Ancenis-Saint-Géréon", postal_code="75001") == []


def test_search_by_delegated_commune_name():
    # Delegated communes lead to today's commune.
    matches = search("Montaigu", departement="85")
    assert any(m.code == "85146" for m in matches)


def test_find_places_for_the_search_box():
    assert find_places("44003")[0]["Commune"] == "Ancenis-Saint-Géréon"
    assert find_places("44160")[0]["Trouvée par"] == "ancien code INSEE"
    assert find_places("Saint-Denis (974)")[0]["Code INSEE"] == "97411"
    assert find_places("rien du tout") == []


def test_representative_point_inside_commune(built_cache):
    from geo.boundaries import load_boundaries

    communes = load_boundaries("commune", "regional").set_index("code")
    for code in ("44003", "2A004", "97411", "75056", "85113"):
        x, y = representative_point(code)
        assert communes.geometry[code].contains(shapely.Point(x, y))
    assert representative_point("44160") == representative_point("44003")


def test_representative_point_of_commune_without_polygon(built_cache):
    with pytest.raises(UnknownCode, match="pas de contour"):
        representative_point("85165")


@pytest.mark.parametrize(
    ("level", "code", "name"),
    [
        ("region", "52", "Pays de la Loire"),
        ("departement", "2A", "Corse-du-Sud"),
        ("epci", "244400552", "CC du Pays d'Ancenis"),
        ("commune", "44003", "Ancenis-Saint-Géréon"),
    ],
)
def test_territory_name(level, code, name):
    assert territory_name(level, code) == name


def test_territory_name_unknown():
    with pytest.raises(UnknownCode):
        territory_name("epci", "44003")


@pytest.mark.parametrize("deps", [("44",), ("44", "85"), ("2A", "2B"), ("974",), ()])
def test_epci_in_departements(ref, deps):
    from geo.lookup import epci_in
    from lib.fr import sort_key

    expected = {
        e.code
        for e in ref.epci.values()
        if any(ref.communes[m].departement in deps for m in e.membres)
    }
    got = epci_in(deps)
    assert set(got) == expected
    # French order: « CA Évreux » among the E, not after the Z.
    assert list(got) == sorted(got, key=lambda c: sort_key(ref.epci[c].nom))
    if "44" in deps:
        assert "244400404" in got  # Nantes Métropole
