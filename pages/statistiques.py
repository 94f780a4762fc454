"""Statistiques: charts of the PTCE selected by the shared filters.

The tables come from lib.stats and the charts from lib.charts; this page only
lays them out, each with a button to download its data as CSV.
"""

from __future__ import annotations

from collections.abc import Callable

import altair as alt
import pandas as pd
import streamlit as st

from lib import charts, stats
from lib.explore import Frames
from pages import filtered, get_frames, run_app

#: (widget key and file name, table builder, chart builder), in page order;
#: pairs of consecutive entries share a row, except the heatmap.
_CHARTS: list[tuple[str, Callable[[Frames], pd.DataFrame], Callable]] = [
    ("ptce-par-filiere", stats.par_filiere, charts.par_filiere),
    ("ptce-par-stade", stats.par_stade, charts.par_stade),
    ("ptce-par-departement", stats.par_departement, charts.par_departement),
    ("creations-par-annee", stats.creations_par_annee, charts.creations_par_annee),
    ("soutiens-type-niveau", stats.soutiens_type_niveau, charts.soutiens_type_niveau),
    ("montants-par-annee", stats.montants_par_annee, charts.montants_par_annee),
    ("composition-membres", stats.composition_membres, charts.composition_membres),
]
_WIDE = {"soutiens-type-niveau"}


def render() -> None:
    st.title("Statistiques")
    selection = filtered()
    total = len(get_frames().ptce)
    count = len(selection.ptce)
    st.metric(
        "PTCE correspondant aux filtres",
        f"{count} PTCE sur {total}",
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

    source = stats.source_line(selection)
    row: list[tuple[str, Callable, Callable]] = []
    for entry in _CHARTS:
        if entry[0] in _WIDE:
            _row(row, selection, source)
            _row([entry], selection, source)
            row = []
            continue
        row.append(entry)
        if len(row) == 2:
            _row(row, selection, source)
            row = []
    _row(row, selection, source)


def _row(entries: list, selection: Frames, source: str) -> None:
    if not entries:
        return
    columns = st.columns(len(entries), gap="large")
    for column, (name, table_of, chart_of) in zip(columns, entries, strict=True):
        with column:
            table = table_of(selection)
            _chart(chart_of(table, source=source), table, name)


def _chart(chart: alt.TopLevelMixin, table: pd.DataFrame, name: str) -> None:
    # width="stretch" is the Streamlit 1.67 spelling of use_container_width=True.
    st.altair_chart(chart, width="stretch")
    st.download_button(
        "Télécharger les données (CSV)",
        data=stats.to_csv(table),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv-{name}",
        on_click="ignore",
        icon=":material/download:",
    )


if __name__ == "__main__":
    run_app()
