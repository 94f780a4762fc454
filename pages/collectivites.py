"""Collectivités: who supports which PTCE and how; the fiche of a territory.

The matrix and the list follow the shared filters. The fiche territoire of an
EPCI, a département or a région is chosen below them and mirrored in the
``territoire`` query parameter (``epci:244400552``, ``departement:44``,
``region:52``), so that a link to it can be shared.
"""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
import streamlit as st

from geo.reference import load_reference
from lib import fr
from lib.charts import with_locale
from lib.fiche import escape_markdown
from lib.static_map import export_filename, render_fiche_territoire
from lib.territoires import (
    MESURES,
    NIVEAUX_TERRITOIRE,
    TERRITOIRE_LABELS,
    FicheTerritoire,
    collectivites,
    fiche_territoire,
    format_rate,
    format_territoire,
    heatmap_chart,
    matrice,
    parse_territoire,
    soutiens_par_niveau,
    support_rows,
    territory_choices,
    territory_label,
)
from pages import (
    current_filters,
    data_key,
    filtered,
    prepared_download,
    run_app,
    selection_of,
    set_query_params,
)

#: Query parameter of the territory whose fiche is open.
PARAM = "territoire"
_LEVEL_KEY = "territoire-niveau"


def _code_key(niveau: str) -> str:
    return f"territoire-{niveau}"


def render() -> None:
    st.title("Collectivités — qui soutient qui, et comment")
    frames = filtered()
    soutiens = frames.soutiens
    n_collectivites = len(soutiens[["niveau", "code"]].drop_duplicates())
    n_ptce = len(frames.ptce)
    st.markdown(
        f"**{fr.count(len(soutiens), 'soutien')}** de "
        f"**{fr.count(n_collectivites, 'collectivité')}** à "
        f"**{fr.count(soutiens['ptce_id'].nunique(), 'PTCE', 'PTCE')}**, parmi "
        + (
            f"les {fr.count(n_ptce, 'PTCE', 'PTCE')} qui correspondent aux filtres."
            if n_ptce > 1
            else f"{fr.count(n_ptce, 'PTCE', 'PTCE')} qui correspond aux filtres."
        )
    )
    _matrix(soutiens)
    _list()
    _territory(frames)


def _matrix(soutiens: pd.DataFrame) -> None:
    st.subheader("Niveau de collectivité × type de soutien")
    mesure = st.segmented_control(
        "Mesure",
        list(MESURES),
        format_func=MESURES.get,
        default="nombre",
        required=True,
        key="collectivites-mesure",
    )
    table, spec = _matrix_parts(data_key(), current_filters(), mesure or "nombre")
    st.vega_lite_chart(
        spec,
        width="stretch",
        alt="Carte de chaleur des soutiens par niveau de collectivité et type",
    )
    known = int(soutiens["montant"].notna().sum())
    st.caption(
        f"Montants : somme des montants connus ({fr.count(known, 'soutien')} sur "
        f"{fr.integer(len(soutiens))} "
        f"{fr.plural(known, 'a', 'ont')} un montant renseigné) ; un montant "
        "inconnu n'est pas un montant nul."
    )
    with st.expander("Valeurs du tableau croisé"):
        column = "Soutiens" if mesure != "montant" else "Montant (€)"
        pivot = table.pivot(index="Niveau", columns="Type de soutien", values=column)
        pivot = pivot.reindex(table["Niveau"].unique())
        if mesure == "montant":
            # French text: the grid would write « 12000.0 » or « 12,000 ».
            pivot = pivot.map(lambda v: fr.euros(v) if v else fr.MISSING)
        st.dataframe(
            pivot,
            width="stretch",
            placeholder=fr.MISSING,
            alt="Valeurs du tableau croisé niveau par type de soutien",
        )


# Sessions that agree on the filters share the matrix, its chart spec and
# the list of collectivités: made once per data version and set of filters.
@st.cache_resource(show_spinner=False, max_entries=128)
def _matrix_parts(
    key: tuple[str, str, str], filters, mesure: str
) -> tuple[pd.DataFrame, dict]:
    table = matrice(selection_of(key, filters).soutiens)
    # Schema validation is the tests' job (tests/test_territoires.py).
    return table, with_locale(heatmap_chart(table, mesure))


@st.cache_resource(show_spinner=False, max_entries=64)
def _collectivites_table(key: tuple[str, str, str], filters) -> pd.DataFrame:
    return collectivites(selection_of(key, filters).soutiens)


@st.cache_resource(show_spinner=False, max_entries=64)
def _fiche_of(
    key: tuple[str, str, str], filters, niveau: str, code: str
) -> FicheTerritoire:
    return fiche_territoire(selection_of(key, filters), niveau, code)


def _list() -> None:
    st.subheader("Collectivités et PTCE soutenus")
    table = _collectivites_table(data_key(), current_filters())
    if table.empty:
        st.info("Aucun soutien de collectivité parmi les PTCE filtrés.")
        return
    shown = fr.table(
        table.drop(columns=["niveau", "Code"]), money=["Montant connu (€)"]
    )
    st.dataframe(
        shown[list(_LIST_WIDTHS)],
        hide_index=True,
        width="stretch",
        # Rows of four lines: a long list of PTCE wraps instead of running
        # off the right edge (the grid wraps text above 4rem a row).
        row_height=_ROW_HEIGHT,
        height=min(38 + _ROW_HEIGHT * len(table), 38 + _ROW_HEIGHT * 7),
        placeholder=fr.MISSING,
        alt="Collectivités et PTCE qu'elles soutiennent",
        column_config={
            name: st.column_config.Column(width=width, help=_LIST_HELP.get(name))
            for name, width in _LIST_WIDTHS.items()
        },
    )


#: Columns of the list and their widths in pixels, the PTCE next to their
#: number: 955 px, within the ~980 px of the page at 1440 px (they grow
#: wider screens).
_LIST_WIDTHS = {
    "Niveau": 105,
    "Collectivité": 165,
    "PTCE soutenus": 95,
    "PTCE": 275,
    "Soutiens": 70,
    "Montant connu": 105,
    "Types de soutien": 140,
}
_LIST_HELP = {
    "PTCE": "Noms des PTCE soutenus (cliquez une cellule pour tout lire)",
    "Montant connu": "Somme des montants connus (les autres sont inconnus, pas nuls)",
}
_ROW_HEIGHT = 86  # four lines of text


def _territory(frames) -> None:
    st.header("Fiche territoire")
    ref = load_reference()
    state = st.session_state
    param = parse_territoire(st.query_params.get(PARAM), ref)
    if _LEVEL_KEY not in state:
        # First run on this page: the URL leads; afterwards the widgets do.
        state[_LEVEL_KEY] = param[0] if param else None
        if param:
            state[_code_key(param[0])] = param[1]
    choices = territory_choices(frames, ref)

    left, right = st.columns([1, 3])
    niveau = left.selectbox(
        "Niveau",
        NIVEAUX_TERRITOIRE,
        key=_LEVEL_KEY,
        format_func=TERRITOIRE_LABELS.get,
        placeholder="Choisir…",
    )
    code = None
    if niveau:
        key = _code_key(niveau)
        options = list(choices[niveau])
        current = state.get(key)
        if current and current not in options:
            # A shared link, or a choice made before the filters changed.
            options.append(current)
        code = right.selectbox(
            TERRITOIRE_LABELS[niveau],
            options,
            key=key,
            # None leaves the value to the session state (set from the URL).
            index=None,
            format_func=lambda c: territory_label(niveau, c, ref),
            placeholder=(
                f"{fr.count(len(choices[niveau]), 'territoire')} "
                f"{fr.plural(len(choices[niveau]), 'lié', 'liés')} aux PTCE filtrés"
            ),
        )
    set_query_params(
        {PARAM: format_territoire(niveau, code) if niveau and code else None},
        [PARAM],
    )
    if not (niveau and code):
        st.caption(
            "Choisissez un EPCI, un département ou une région où se trouvent "
            "des PTCE filtrés ou qui en soutient."
        )
        return
    scope_filters = current_filters().without_territory()
    scope = selection_of(data_key(), scope_filters)
    fiche = _fiche_of(data_key(), scope_filters, niveau, code)
    _fiche(fiche)
    _fiche_exports(scope, fiche)


def _fiche_exports(scope, fiche: FicheTerritoire) -> None:
    # Made when asked for: a one-page A4 sheet to print or share.
    signature = repr((fiche.niveau, fiche.code, current_filters()))
    cols = st.columns(2)
    for col, fmt, mime in (
        (cols[0], "pdf", "application/pdf"),
        (cols[1], "png", "image/png"),
    ):
        with col:
            prepared_download(
                f"fiche territoire ({fmt.upper()}, A4)",
                f"fiche_export_{fmt}",
                lambda fmt=fmt: render_fiche_territoire(
                    scope, fiche.niveau, fiche.code, fmt=fmt
                ),
                export_filename(f"fiche {fiche.nom}", fmt),
                mime,
                signature,
                icon=":material/description:",
            )


def _fiche(fiche: FicheTerritoire) -> None:
    with st.container(border=True, key="fiche-territoire"):
        st.subheader(f"{escape_markdown(fiche.nom)} — {fiche.type_label}")
        ref = fiche.reference
        with st.container(horizontal=True, gap="medium"):
            st.metric("PTCE présents", fr.integer(len(fiche.ptce)), width="content")
            st.metric("Habitants", fr.integer(fiche.population), width="content")
            st.metric(
                "PTCE pour 100 000 hab.", format_rate(fiche.pour_100k), width="content"
            )
            st.metric(ref.titre, format_rate(ref.pour_100k), width="content")
        st.markdown(fiche.comparaison)
        presence = {
            "epci": "siège dans l'EPCI, ou territoire d'action qui le comprend",
            "departement": "siège dans le département",
            "region": "siège dans la région",
        }[fiche.niveau]
        st.caption(
            f"PTCE présents : {presence}. La moyenne compte les PTCE par siège. "
            "Les filtres thématiques de la barre latérale (filières, stades, "
            "soutiens…) s'appliquent ; les filtres de territoire non. "
            "Population : COG 2026 (INSEE)."
        )
        _present(fiche)
        _given(fiche)
        _received(fiche)


def _present(fiche: FicheTerritoire) -> None:
    st.markdown("**PTCE présents**")
    if fiche.ptce.empty:
        st.caption("Aucun PTCE recensé dans ce territoire.")
        return
    ptce = fiche.ptce
    table = pd.DataFrame(
        {
            "Nom": ptce["nom"],
            "Commune": ptce["commune_nom"],
            "Filière": ptce["filiere"],
            "Stade": ptce["stade"],
            "Soutiens": ptce["nb_soutiens"],
            "Fiche": "./annuaire?ptce=" + ptce.index.to_series().map(_quote),
        }
    ).sort_values("Nom", key=lambda s: s.map(fr.sort_key))
    st.dataframe(
        fr.table(table, keep=["Fiche"]),
        hide_index=True,
        width="stretch",
        placeholder=fr.MISSING,
        alt=f"PTCE présents : {fiche.nom}",
        column_config={
            "Fiche": st.column_config.LinkColumn(display_text="ouvrir la fiche"),
        },
    )


def _quote(value: str) -> str:
    return quote(str(value), safe="")


def _given(fiche: FicheTerritoire) -> None:
    given = fiche.soutiens_donnes
    st.markdown(f"**Soutiens donnés par {escape_markdown(fiche.nom)}**")
    if given.empty:
        st.caption("Aucun soutien de cette collectivité n'est recensé.")
        return
    amount = given["montant"].sum(min_count=1)
    st.caption(
        f"{fr.count(len(given), 'soutien')} à "
        f"{fr.integer(given['ptce_id'].nunique())} PTCE ; montants "
        f"connus : {_euros(amount)}."
    )
    st.dataframe(
        fr.table(support_rows(given, with_ptce=True), money=["Montant (€)"]),
        hide_index=True,
        width="stretch",
        placeholder=fr.MISSING,
        alt=f"Soutiens donnés par {fiche.nom}",
        column_config=_SUPPORT_CONFIG,
    )


def _received(fiche: FicheTerritoire) -> None:
    received = fiche.soutiens_recus
    st.markdown("**Soutiens reçus par les PTCE présents**")
    if received.empty:
        st.caption("Aucun soutien recensé pour les PTCE de ce territoire.")
        return
    st.dataframe(
        fr.table(soutiens_par_niveau(received), money=["Montant connu (€)"]),
        hide_index=True,
        width="stretch",
        placeholder=fr.MISSING,
        alt="Soutiens reçus par niveau de collectivité",
    )
    detail = (
        f"Détail des {fr.integer(len(received))} soutiens reçus"
        if len(received) > 1
        else "Détail du soutien reçu"
    )
    with st.expander(detail):
        st.dataframe(
            fr.table(
                support_rows(received, with_ptce=True, with_collectivite=True),
                money=["Montant (€)"],
            ),
            hide_index=True,
            width="stretch",
            placeholder=fr.MISSING,
            alt="Détail des soutiens reçus",
            column_config=_SUPPORT_CONFIG,
        )


_SUPPORT_CONFIG = {
    "Début": st.column_config.NumberColumn(format="%d"),
    "Fin": st.column_config.NumberColumn(format="%d"),
}


def _euros(value: float) -> str:
    return fr.euros(value, missing="aucun")


if __name__ == "__main__":
    run_app()
