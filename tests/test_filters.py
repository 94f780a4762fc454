"""Filters are defined once: one table gives Filters, the URL and the widgets."""

from __future__ import annotations

import dataclasses

from lib.domain.selection import FILTER_FIELDS, FILTER_PARAMS, Filters


def test_the_table_names_every_field_of_filters_once():
    names = [f.name for f in FILTER_FIELDS]
    assert names == [f.name for f in dataclasses.fields(Filters)]
    assert len(set(FILTER_PARAMS)) == len(FILTER_PARAMS)
    assert len({f.key for f in FILTER_FIELDS}) == len(FILTER_FIELDS)
    assert {f.kind for f in FILTER_FIELDS} <= {"region", "list", "years", "text"}


def test_every_filter_goes_through_the_url_and_back(built_cache):
    from geo.reference import load_reference

    ref = load_reference()
    full = Filters(
        region=None,
        departements=("44",),
        epci=(next(c for c, e in ref.epci.items() if "Nantes" in e.nom),),
        filieres=("culture",),
        stades=("émergence",),
        formes=("association",),
        types_soutien=("investissement",),
        niveaux=("region",),
        ami=(),  # checked below with a value of the vocabulary
        annees=(2010, 2020),
        texte="moulin",
    )
    from lib.domain.model import TYPES_AMI

    full = dataclasses.replace(full, ami=(TYPES_AMI[0],))
    params = full.to_params()
    assert set(params) <= set(FILTER_PARAMS)
    assert Filters.from_params(params, ref) == full


def test_sidebar_and_url_use_the_table():
    from views import filters

    assert filters._KEYS == {f.name: f.key for f in FILTER_FIELDS}
    widgets = filters._widget_values(Filters(departements=("44",), texte="x"))
    assert set(widgets) == {f.key for f in FILTER_FIELDS}
    by_name = {f.name: widgets[f.key] for f in FILTER_FIELDS}
    assert filters._from_widgets(by_name) == Filters(departements=("44",), texte="x")


def test_each_filter_keeps_the_rows_of_its_own_column():
    import pandas as pd

    from lib.domain.selection import mask

    # Two PTCE that differ in every filtered column; each filter alone, set to
    # the first one's value, keeps the first one only.
    ptce = pd.DataFrame(
        {
            "region": ["52", "53"],
            "departement": ["44", "35"],
            "epci_lies": [("244400404",), ("243500139",)],
            "filieres": [("culture", "numérique"), ("énergie",)],
            "stade": ["émergence", "maturité"],
            "forme_juridique": ["association", "SCIC"],
            "types_soutien": [("financier",), ("foncier",)],
            "niveaux_soutien": [("epci",), ("region",)],
            "ami_types": [("AMI 2023",), ()],
            "annee_creation": [2012, 2019],
            "recherche": ["ecossolies nantes", "rennes"],
        }
    )
    first = {
        "region": "52",
        "departements": ("44",),
        "epci": ("244400404",),
        "filieres": ("numérique",),  # one of its several filières is enough
        "stades": ("émergence",),
        "formes": ("association",),
        "types_soutien": ("financier",),
        "niveaux": ("epci",),
        "ami": ("AMI 2023",),
        "annees": (2010, 2015),
        "texte": "Écossolies",
    }
    assert set(first) == {f.name for f in FILTER_FIELDS}
    for name, value in first.items():
        kept = mask(ptce, Filters(**{name: value}))
        assert kept.tolist() == [True, False], name
