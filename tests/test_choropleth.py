"""Choropleth classes and legends: mapclassify, no empty class, honest counts.

Every indicator × method × maille is classified on the demo data (Pays de la
Loire and France entière) and on synthetic PTCE spread over France; each
legend must hold only non-empty classes, count every territory once, and say
in words what it counts. Territories left out by a département filter are
« hors sélection », never « aucun PTCE ». The interactive map's legend and
the static export's legend show the same lines.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from geo.boundaries import in_region, load_boundaries
from lib.analysis.choropleth import (
    EMPTY_COLOR,
    INDICATORS,
    METHODS,
    OUTSIDE,
    OUTSIDE_COLOR,
    SEQUENTIAL,
    ZERO_LABELS,
    class_bins,
    classify,
    indicator,
    outside_selection,
)
from lib.domain.selection import Filters, build_frames

MAILLES = ("departement", "epci")
WORDS = {"departement": ("département", "départements"), "epci": ("EPCI", "EPCI")}


@pytest.fixture(scope="module")
def demo(built_cache):
    from geo.lookup import commune_points
    from lib.io.demo import load_demo_file

    records, _ = load_demo_file()
    return build_frames(records, commune_points())


@pytest.fixture(scope="module")
def synthetic(built_cache):
    from geo.lookup import commune_points
    from lib.io.synthetic import generate

    return build_frames(generate(3000, seed=11), commune_points())


def territories_of(maille: str, region: str | None):
    detail = "regional" if region else "national"
    gdf = load_boundaries(maille, detail)
    return in_region(gdf, maille, region) if region else gdf


def legend_of(frames, maille, name, method, region="52", filters=None):
    filters = filters or Filters(region=region)
    territories = territories_of(maille, region)
    population = territories.set_index("code")["population"].astype(float)
    selection = frames.filtered(filters)
    values = indicator(selection, maille, name, population)
    outside = outside_selection(
        territories, maille, selection, filters.departements, filters.epci
    )
    colors, legend = classify(
        values, method, indicateur=name, maille=maille, outside=outside
    )
    return values, colors, legend


def check_legend(values, colors, legend, maille):
    """Assertions every legend must pass."""
    n = len(legend.colors)
    assert n == len(legend.counts) == len(legend.labels()) == len(legend.ranges)
    assert n <= 5
    assert all(c > 0 for c in legend.counts), legend  # never an empty class
    # Every territory counted once: classes, zero, outside.
    assert sum(legend.counts) + legend.empty + legend.outside == len(values)
    # Each territory has the colour of its class, and classes do not overlap.
    drawn = colors.value_counts()
    for color, count in zip(legend.colors, legend.counts, strict=True):
        assert drawn[color] == count
    assert drawn.get(EMPTY_COLOR, 0) == legend.empty
    assert drawn.get(OUTSIDE_COLOR, 0) == legend.outside
    for (_, hi), (lo, _) in zip(legend.ranges[:-1], legend.ranges[1:], strict=True):
        assert hi < lo
    # Labels are distinct, bounds of counts are whole numbers.
    labels = legend.labels()
    assert len(set(labels)) == len(labels)
    if legend.integer:
        assert not any("," in label for label in labels), labels
        assert all(float(b).is_integer() for b in legend.bounds), legend.bounds
    # Every line counts territories, in words, never a bare "(3)".
    singular, plural = WORDS[maille]
    for entry in legend.entries():
        assert entry.count > 0
        word = singular if entry.count < 2 else plural
        assert entry.text.endswith(f"\u00a0{word}"), entry.text
        assert not re.search(r"\(\d+\)", entry.text)
    for text in (e.text for e in legend.entries()):
        assert "nan" not in text.lower() and "None" not in text


@pytest.mark.parametrize("maille", MAILLES)
@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("name", list(INDICATORS))
def test_no_empty_class_on_demo_data(demo, name, method, maille):
    for region in ("52", None):
        values, colors, legend = legend_of(demo, maille, name, method, region)
        if name != "montant":  # no amount is known in the demo data
            assert (values > 0).any(), "the demo data must fill at least one class"
        check_legend(values, colors, legend, maille)
        assert legend.entries(), "a legend always has a line"


@pytest.mark.parametrize("maille", MAILLES)
@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("name", list(INDICATORS))
def test_no_empty_class_on_synthetic_data(synthetic, name, method, maille):
    values, colors, legend = legend_of(synthetic, maille, name, method, None)
    # Thousands of PTCE over France: many distinct values, five classes…
    assert len(np.unique(values[values > 0])) > 5
    check_legend(values, colors, legend, maille)
    if method != "tete_queue":
        assert len(legend.colors) >= 3
    # …and in a region with a filter on one département (few values).
    filters = Filters(departements=("44",))
    values, colors, legend = legend_of(synthetic, maille, name, method, "52", filters)
    check_legend(values, colors, legend, maille)


@pytest.mark.parametrize("method", list(METHODS))
def test_fewer_distinct_values_than_classes_give_one_class_each(method):
    values = pd.Series({"a": 0.0, "b": 1, "c": 1, "d": 2, "e": 5, "f": 5, "g": 5})
    colors, legend = classify(values, method, 5, indicateur="nombre", maille="epci")
    assert legend.labels() == ["1\u00a0PTCE", "2\u00a0PTCE", "5\u00a0PTCE"]
    assert legend.counts == (2, 1, 3)
    assert legend.empty == 1
    assert len(set(legend.colors)) == 3
    assert colors["a"] == EMPTY_COLOR
    assert [e.text for e in legend.entries()] == [
        "1\u00a0PTCE — 2\u00a0EPCI",
        "2\u00a0PTCE — 1\u00a0EPCI",
        "5\u00a0PTCE — 3\u00a0EPCI",
        "aucun PTCE — 1\u00a0EPCI",
    ]


@pytest.mark.parametrize("method", list(METHODS))
def test_ties_never_leave_an_empty_class(method):
    # Quantiles of many ties repeat a bound; equal intervals leave gaps.
    values = pd.Series([1.0] * 40 + [2.0] * 5 + [3.0, 4.0, 9.0, 30.0, 31.0, 90.0])
    _, legend = classify(values, method, 5, indicateur="nombre", maille="epci")
    assert all(c > 0 for c in legend.counts)
    assert sum(legend.counts) == len(values)
    bins = class_bins(values.to_numpy(), method, 5)
    assert len(bins) == len(legend.colors) and bins[-1] == 90.0


def test_whole_number_bounds():
    # Quantiles of these counts fall between whole numbers (3.6, 6.2…).
    values = pd.Series(np.arange(1.0, 15.0))
    _, legend = classify(values, "quantiles", 5, indicateur="nombre")
    assert legend.integer
    assert legend.labels() == [
        "1 à 3\u00a0PTCE",
        "4 à 6\u00a0PTCE",
        "7 à 8\u00a0PTCE",
        "9 à 11\u00a0PTCE",
        "12 à 14\u00a0PTCE",
    ]
    assert legend.counts == (3, 3, 2, 3, 3)


def test_units_and_zero_labels():
    money = pd.Series({"a": 0.0, "b": 1500.0, "c": 250_000.0})
    _, legend = classify(money, "jenks", indicateur="montant", maille="departement")
    assert legend.labels() == ["1\u202f500\u00a0€", "250\u202f000\u00a0€"]
    assert legend.entries()[-1].text == "aucun montant connu — 1\u00a0département"
    assert legend.value_text(1500.0) == "1\u202f500\u00a0€"
    # Without a grid, territories are counted as such.
    _, legend = classify(pd.Series({"a": 2.0, "b": 2.0, "c": 0.0}))
    assert [e.text for e in legend.entries()] == [
        "2\u00a0PTCE — 2\u00a0territoires",
        "aucun PTCE — 1\u00a0territoire",
    ]
    supports = pd.Series({"a": 1.0, "b": 2.0})
    _, legend = classify(supports, indicateur="collectivites", maille="epci")
    assert legend.labels() == ["1\u00a0collectivité", "2\u00a0collectivités"]
    rates = pd.Series({"a": 0.43, "b": 1.26, "c": 0.0})
    _, legend = classify(rates, indicateur="par_habitant", maille="departement")
    # The rate's unit is in the title, not repeated on every line.
    assert legend.labels() == ["0,4", "1,3"]
    assert legend.title == "PTCE pour 100\u202f000 habitants"
    assert legend.value_text(1.26) == "1,3"
    assert ZERO_LABELS["par_habitant"] == "aucun PTCE"


def test_outside_the_selection_is_not_aucun_ptce(demo):
    """Loire-Atlantique chosen: the four other départements are « hors sélection »."""
    filters = Filters(departements=("44",))
    values, colors, legend = legend_of(demo, "departement", "nombre", "quantiles",
                                       "52", filters)  # fmt: skip
    assert legend.outside == 4
    assert legend.empty == 0  # Loire-Atlantique has PTCE
    assert colors["44"] in legend.colors
    for code in ("49", "53", "72", "85"):
        assert colors[code] == OUTSIDE_COLOR
    texts = [e.text for e in legend.entries()]
    assert texts[-1] == f"{OUTSIDE} — 4\u00a0départements"
    assert not any(t.startswith("aucun PTCE") for t in texts)
    check_legend(values, colors, legend, "departement")
    # EPCI grid: only the EPCI touching Loire-Atlantique are in the selection,
    # and those without PTCE there read « aucun PTCE », counted apart.
    values, colors, legend = legend_of(demo, "epci", "nombre", "jenks", "52", filters)
    epci = territories_of("epci", "52")
    touching = epci["departements"].str.split().map(lambda d: "44" in d)
    assert legend.outside == int((~touching).sum()) > 0
    assert legend.empty == int(touching.sum()) - sum(legend.counts) > 0
    kinds = [e.kind for e in legend.entries()]
    assert kinds[-2:] == ["zero", "hors"]
    check_legend(values, colors, legend, "epci")


def test_filters_on_other_things_leave_every_territory_in(demo):
    # A filière narrows the PTCE, not the territories: zeros are « aucun PTCE ».
    filters = Filters(filieres=("culture",))
    _, _, legend = legend_of(demo, "departement", "nombre", "quantiles", "52", filters)
    assert legend.outside == 0


def test_outside_by_epci_filter_keeps_seats_of_selected_ptce(demo):
    ptce = demo.ptce[demo.ptce["region"] == "52"].dropna(subset=["epci"])
    chosen = str(ptce["epci"].iloc[0])
    filters = Filters(epci=(chosen,))
    selection = demo.filtered(filters)
    epci = territories_of("epci", "52")
    outside = outside_selection(epci, "epci", selection, (), (chosen,))
    seats = set(selection.ptce["epci"].dropna())
    assert chosen not in outside
    assert not seats.intersection(outside)
    assert len(outside) == len(epci) - len(seats | {chosen})
    # Départements: those holding part of the EPCI, or a seat, are in.
    deps = outside_selection(
        territories_of("departement", "52"), "departement", selection, (), (chosen,)
    )
    row = epci[epci["code"] == chosen].iloc[0]
    inside = set(row["departements"].split()) | set(selection.ptce["departement"])
    assert set(deps) == {"44", "49", "53", "72", "85"} - inside


def test_ptce_without_a_territory_are_said_apart(demo):
    # Demo PTCE in Loire-Atlantique known only by their département.
    selection = demo.filtered(Filters(departements=("44",)))
    n = int(selection.ptce["epci"].isna().sum())
    assert n >= 2
    _, legend = classify(
        pd.Series({"a": 1.0}), indicateur="nombre", maille="epci", uncounted=n
    )
    assert legend.footnote() == f"{n}\u00a0PTCE sans EPCI connu : non comptés"
    _, legend = classify(
        pd.Series({"a": 1.0}), indicateur="nombre", maille="departement", uncounted=1
    )
    assert legend.footnote() == "1\u00a0PTCE sans département connu : non compté"
    _, legend = classify(pd.Series({"a": 1.0}), indicateur="nombre")
    assert legend.footnote() == ""


def test_a_single_class_is_not_the_palest_colour():
    colors, legend = classify(pd.Series({"a": 0.0, "b": 3.0}), indicateur="nombre")
    assert legend.colors == (SEQUENTIAL[2],) and colors["b"] == SEQUENTIAL[2]


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="méthode"):
        class_bins(np.arange(10.0), "au hasard")


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(p.extract_text() for p in reader.pages).split())


@pytest.mark.parametrize(
    ("maille", "method"), [("departement", "quantiles"), ("epci", "tete_queue")]
)
def test_map_legend_and_static_legend_show_the_same_lines(demo, maille, method):
    from lib.rendering.print.static_map import render_map
    from lib.rendering.web.carte import map_layers
    from lib.rendering.web.maps import MapLegend

    filters = Filters(departements=("44",))
    selection = demo.filtered(filters)
    built = map_layers(
        selection,
        maille=maille,
        indicateur="nombre",
        methode=method,
        region="52",
        couches=("choro",),
        departements=filters.departements,
    )
    elements = [
        child
        for group in built.groups
        for child in group._children.values()
        if isinstance(child, MapLegend)
    ]
    assert len(elements) == 1
    shown = elements[0].texts("choro")
    assert shown[0] == INDICATORS["nombre"][0]
    (choro,) = [s for s in elements[0].spec["sections"] if s["layer"] == "choro"]
    entries = [k["label"] for k in choro["keys"]]
    assert entries == [e.text for e in built.legend.entries()]
    assert entries[-1].startswith(OUTSIDE)
    if maille == "epci":  # demo PTCE of the 44 known only by their département
        assert shown[-1] == built.legend.footnote() != ""
    data = render_map(
        selection,
        maille=maille,
        methode=method,
        region="52",
        title="Carte",
        fmt="pdf",
        departements=filters.departements,
    )
    text = pdf_text(data)
    # Same lines, in the same order, in the exported file.
    position = -1
    for line in shown:
        flat = " ".join(line.split())
        found = text.find(flat, position + 1)
        assert found > position, (flat, text)
        position = found


# -- the Carte page -------------------------------------------------------------

SCRIPT = (
    "from views.filters import filters_sidebar\nfrom views import carte\n"
    "filters_sidebar()\ncarte.render()\n"
)


@pytest.fixture
def demo_database(tmp_path, monkeypatch, built_cache):
    from lib.io.demo import install_demo
    from lib.store.ptce import Store

    url = f"sqlite:///{tmp_path / 'carte.sqlite'}"
    install_demo(Store(url))
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def run_carte(params: dict):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(SCRIPT, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def test_clicked_territory_outside_the_selection_says_so(demo_database):
    outside = run_carte({"dep": ["44"], "territoire": "departement:49"})
    assert any("hors de la sélection" in i.value for i in outside.info)
    inside = run_carte({"dep": ["44"], "territoire": "departement:44"})
    assert not any("hors de la sélection" in i.value for i in inside.info)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_runs_on_the_page(demo_database, method):
    at = run_carte({"dep": ["44"], "maille": "epci", "classes": method})
    classes = next(s for s in at.selectbox if s.label == "Classes")
    assert classes.value == method
    assert all(label in classes.help for label in METHODS.values())
