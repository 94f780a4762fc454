"""Statistiques: charts of the PTCE selected by the shared filters.

The tables come from lib.analysis.stats and the charts from lib.rendering.charts; this
page only
lays them out, each with a button to download its data as CSV.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from lib import fr
from lib.analysis import stats
from lib.domain.selection import Filters, Frames
from lib.rendering import charts
from views import (
    current_filters,
    data_key,
    filtered,
    get_frames,
    selection_of,
)

#: (widget key and file name, table builder, chart builder), in page order;
#: pairs of consecutive entries share a row. The level × kind of support
#: matrix is on the Collectivités page only.
_CHARTS: list[tuple[str, Callable[[Frames], pd.DataFrame], Callable]] = [
    ("ptce-par-filiere", stats.par_filiere, charts.par_filiere),
    ("ptce-par-stade", stats.par_stade, charts.par_stade),
    ("ptce-par-departement", stats.par_departement, charts.par_departement),
    ("creations-par-annee", stats.creations_par_annee, charts.creations_par_annee),
    ("montants-par-annee", stats.montants_par_annee, charts.montants_par_annee),
    ("composition-membres", stats.composition_membres, charts.composition_membres),
]
_WIDE: set[str] = set()
#: Charts that may have nothing to draw: the function saying so instead.
_EMPTY = {"montants-par-annee": charts.montants_absents}
_BUILDERS = {name: (table_of, chart_of) for name, table_of, chart_of in _CHARTS}


def render() -> None:
    st.title("Statistiques")
    selection = filtered()
    total = len(get_frames().ptce)
    count = len(selection.ptce)
    st.metric(
        "PTCE correspondant aux filtres",
        f"{fr.integer(count)} PTCE sur {fr.integer(total)}",
        help="Les filtres se règlent dans le panneau de gauche.",
    )
    if not total:
        st.info("La base ne contient encore aucun PTCE.")
        return
    if not count:
        st.info(
            "Aucun PTCE ne correspond aux filtres choisis : élargissez la "
            "sélection dans le panneau de gauche (ou réinitialisez les filtres)."
        )
        return

    row: list[str] = []
    for name, _, _ in _CHARTS:
        if name in _WIDE:
            _row(row)
            _row([name])
            row = []
            continue
        row.append(name)
        if len(row) == 2:
            _row(row)
            row = []
    _row(row)


def _row(names: list[str]) -> None:
    if not names:
        return
    columns = st.columns(len(names), gap="large")
    for column, name in zip(columns, names, strict=True):
        with column:
            _chart(name)


def _chart(name: str) -> None:
    spec, csv, empty = _chart_parts(data_key(), current_filters(), name)
    if empty:
        st.subheader(spec["title"]["text"], divider=False)
        st.info(empty, icon=":material/info:")
    else:
        # width="stretch" is the Streamlit 1.67 spelling of use_container_width=True.
        st.vega_lite_chart(spec, width="stretch")
    st.download_button(
        "Télécharger les données (CSV)",
        data=csv,
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv-{name}",
        on_click="ignore",
        icon=":material/download:",
    )


# Sessions that agree on the filters share each chart: its table, its
# Vega-Lite spec (made without Altair's schema validation, ~30 ms a chart) and
# its CSV are made once per data version and set of filters.
@st.cache_resource(show_spinner=False, max_entries=256)
def _chart_parts(
    key: tuple[str, str, str], filters: Filters, name: str
) -> tuple[dict, bytes, str | None]:
    selection: Frames = selection_of(key, filters)
    table_of, chart_of = _BUILDERS[name]
    table: pd.DataFrame = table_of(selection)
    chart = chart_of(table, source=stats.source_line(selection))
    empty = _EMPTY[name](table) if name in _EMPTY else None
    # Schema validation is the tests' job (tests/test_stats.py): not per view.
    return charts.with_locale(chart), stats.to_csv(table), empty

