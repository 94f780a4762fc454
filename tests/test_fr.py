"""The French formatting module: one way to write numbers, money, dates, order."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from lib import fr

NNBSP = "\u202f"
NBSP = "\u00a0"

MISSING_VALUES = [
    None,
    float("nan"),
    np.nan,
    np.float64("nan"),
    pd.NaT,
    pd.NA,
    "",
    "  ",
]


def test_thousands_are_grouped_by_a_narrow_no_break_space():
    assert fr.number(1234567) == f"1{NNBSP}234{NNBSP}567"
    assert fr.number(1234.5) == f"1{NNBSP}234,5"
    assert fr.number(0.5, 2) == "0,50"
    assert fr.integer(12345.6) == f"12{NNBSP}346"
    assert fr.integer(np.int64(2500)) == f"2{NNBSP}500"
    assert fr.integer(-0.2) == "0"  # never « -0 »


def test_euros_are_whole_by_default_with_a_no_break_space_before_the_sign():
    assert fr.euros(1234.5) == f"1{NNBSP}234{NBSP}€"
    assert fr.euros(1234.5, 2) == f"1{NNBSP}234,50{NBSP}€"
    assert fr.euros(0) == f"0{NBSP}€"
    assert fr.euros_compact(850) == f"850{NBSP}€"
    assert fr.euros_compact(12_000) == f"12{NBSP}k€"
    assert fr.euros_compact(1_300_000) == f"1,3{NBSP}M€"


def test_percentages_take_a_share_and_a_decimal_comma():
    assert fr.percent(0.123, 1) == f"12,3{NBSP}%"
    assert fr.percent(0.5) == f"50{NBSP}%"
    assert fr.percent(1) == f"100{NBSP}%"


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0\u00a0soutien"),
        (1, "1\u00a0soutien"),
        (2, "2\u00a0soutiens"),
        (19343, "19\u202f343\u00a0soutiens"),
    ],
)
def test_plurals_take_the_singular_for_zero_and_one(n, expected):
    assert fr.count(n, "soutien") == expected


def test_irregular_plurals():
    assert fr.count(3, "territoire d'action", "territoires d'action").endswith(
        "territoires d'action"
    )
    assert fr.plural(0, "EPCI", "EPCI") == "EPCI"
    assert fr.plural(1, "cheval", "chevaux") == "cheval"
    assert fr.plural(2, "cheval", "chevaux") == "chevaux"


@pytest.mark.parametrize("value", MISSING_VALUES, ids=repr)
def test_missing_values_become_a_dash(value):
    assert fr.is_missing(value)
    for write in (fr.number, fr.integer, fr.euros, fr.euros_compact, fr.percent,
                  fr.year, fr.date, fr.text, fr.date_time):  # fmt: skip
        assert write(value) == fr.MISSING, write.__name__


def test_a_missing_category_can_say_non_renseigne():
    assert fr.text(None, fr.NOT_GIVEN) == "non renseigné"
    assert fr.text(" Accompagnement ", fr.NOT_GIVEN) == "Accompagnement"


def test_known_values_are_not_missing():
    for value in (0, 0.0, "0", False, np.int64(0), dt.date(2020, 1, 1)):
        assert not fr.is_missing(value)
    assert fr.number(math.inf) == fr.MISSING  # never « inf » or « ∞ »


def test_no_raw_value_in_any_output():
    for value in [*MISSING_VALUES, math.inf, -math.inf]:
        for write in (fr.number, fr.euros, fr.percent, fr.year, fr.text):
            out = write(value)
            for raw in ("None", "nan", "NaN", "NaT", "inf", "<NA>"):
                assert raw not in out


def test_accent_aware_order():
    regions = ["Pays de la Loire", "Normandie", "Île-de-France", "Hauts-de-France",
               "Occitanie", "Grand Est", "Bretagne"]  # fmt: skip
    ordered = fr.sorted_fr(regions)
    assert ordered.index("Hauts-de-France") < ordered.index("Île-de-France")
    assert ordered.index("Île-de-France") < ordered.index("Normandie")
    names = ["Les Grandlieu'Zarts", "Les Écossolies", "Les Ateliers", "Les Forges"]
    assert fr.sorted_fr(names) == [
        "Les Ateliers",
        "Les Écossolies",
        "Les Forges",
        "Les Grandlieu'Zarts",
    ]
    # Accents and case only break ties; ligatures are spelt out.
    assert fr.sorted_fr(["côte", "Côte", "cote"]) == ["cote", "côte", "Côte"]
    assert fr.sorted_fr(["Oise", "Œuvre", "Orne"]) == ["Œuvre", "Oise", "Orne"]
    # A key function and missing values (last).
    rows = [{"nom": "Écully"}, {"nom": None}, {"nom": "Dax"}]
    assert [r["nom"] for r in fr.sorted_fr(rows, key=lambda r: r["nom"])] == [
        "Dax",
        "Écully",
        None,
    ]


def test_years_are_never_grouped():
    assert fr.year(2019) == "2019"
    assert fr.year(2019.0) == "2019"
    assert fr.year("2019") == "2019"
    assert fr.year(dt.date(2021, 3, 12)) == "2021"
    assert fr.year("vers 2019") == fr.MISSING


def test_dates():
    assert fr.date("2021-03-12") == "12 mars 2021"
    assert fr.date(dt.date(2024, 8, 1)) == "1er août 2024"
    assert fr.date(pd.Timestamp("2020-12-31")) == "31 décembre 2020"
    assert fr.date("pas une date") == fr.MISSING
    # A moment in UTC is shown in Paris time.
    assert fr.date_time("2026-12-02T05:15:00") == "2 déc. 2026 à 06:15"
    assert fr.date_time("2026-07-02T05:15:00+00:00") == "2 juil. 2026 à 07:15"
    assert fr.time_of_day("2026-07-02T05:15:00") == "07:15"


def test_vega_locale_writes_numbers_as_this_module():
    locale = fr.VEGA_LOCALE
    assert locale["number"]["decimal"] == ","
    assert locale["number"]["thousands"] == NNBSP
    assert locale["time"]["months"][2] == "mars"
    assert locale["time"]["days"][0] == "dimanche"


def test_file_sizes():
    assert fr.file_size(19_342_676) == f"19,3{NBSP}Mo"
    assert fr.file_size(703_803) == f"704{NBSP}ko"
    assert fr.file_size(1) == f"1{NBSP}octet"
    assert fr.file_size(None) == fr.MISSING


def test_first_of_the_month_is_an_ordinal():
    import datetime as dt

    from lib import fr

    assert fr.date(dt.date(2026, 5, 1)) == "1er mai 2026"
    assert fr.date("2021-03-12") == "12 mars 2021"
    assert fr.date(dt.date(2026, 11, 27)) == "27 novembre 2026"
