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
