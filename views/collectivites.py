"""Collectivités: who supports which PTCE and how; the fiche of a territory.

The matrix and the list follow the shared filters. The fiche territoire of a
commune, an EPCI, a département or a région is chosen below them and
mirrored in the ``territoire`` query parameter (``commune:44003``,
``epci:244400552``, ``departement:44``, ``region:52``), so that a link to it
can be shared. Each fiche ends with « Que peut faire cette collectivité ? »
(:mod:`lib.analysis.accompagner`): the guide for its level, what its peers do, the
PTCE around it.
"""

# size: one page: matrix, list, then the fiche territoire and its « Que peut faire
# cette collectivité ? » sections, which share the territory chosen in the URL;
# 25 functions, the longest 80 lines (_autour).

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
import streamlit as st

from geo.reference import load_reference
from lib import fr
from lib.analysis.accompagner import QueFaire, que_faire
from lib.analysis.fiche import escape_markdown
from lib.analysis.reperes import source_text
from lib.analysis.territoires import (
    MESURES,
    NIVEAUX_TERRITOIRE,
    TERRITOIRE_LABELS,
    FicheTerritoire,
    collectivites,
    fiche_territoire,
    format_rate,
    format_territoire,
    matrice,
    parse_territoire,
    soutiens_par_niveau,
    support_rows,
    territory_choices,
    territory_label,
)
from lib.rendering.charts import heatmap_chart, with_locale
from lib.rendering.print.static_map import export_filename, render_fiche_territoire
from views import (
    current_filters,
    data_key,
    filtered,
    prepared_download,
    selection_of,
    set_query_params,
    url_first,
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


@st.cache_resource(show_spinner=False, max_entries=64)
def _que_faire_of(
    key: tuple[str, str, str], filters, niveau: str, code: str
) -> QueFaire:
    return que_faire(selection_of(key, filters), niveau, code)


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


def _territory_from_url(params: dict[str, list[str]], ref) -> dict[str, object]:
    param = parse_territoire((params.get(PARAM) or [None])[-1], ref)
    if not param:
        return {_LEVEL_KEY: None}
    return {_LEVEL_KEY: param[0], _code_key(param[0]): param[1]}


def _territory(frames) -> None:
    st.header("Fiche territoire")
    ref = load_reference()
    state = st.session_state
    # First run on this view: the URL leads; afterwards the widgets do.
    url_first(_LEVEL_KEY + "_from_url", lambda params: _territory_from_url(params, ref))
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
            "Choisissez une commune, un EPCI, un département ou une région où "
            "se trouvent des PTCE filtrés ou qui en soutient."
        )
        return
    scope_filters = current_filters().without_territory()
    scope = selection_of(data_key(), scope_filters)
    fiche = _fiche_of(data_key(), scope_filters, niveau, code)
    _fiche(fiche, _que_faire_of(data_key(), scope_filters, niveau, code))
    if niveau == "commune":
        st.caption(
            "La fiche A4 à télécharger existe pour les EPCI, les départements "
            "et les régions."
        )
    else:
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


def _fiche(fiche: FicheTerritoire, accompagner: QueFaire) -> None:
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
            "commune": "siège dans la commune, ou territoire d'action qui la "
            "comprend (elle ou son EPCI)",
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
        _que_faire(accompagner)


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


# -- « Que peut faire cette collectivité ? » ------------------------------------------


def _que_faire(q: QueFaire) -> None:
    st.subheader("Que peut faire cette collectivité ?", anchor="que-faire")
    _role(q)
    _pratiques(q)
    _pairs(q)
    _autour(q)


def _role(q: QueFaire) -> None:
    role = q.role
    # The guide's text (lib.analysis.reperes), not user data.
    body = f"**Le rôle des {role.titre.lower()} selon le guide** — {role.texte}"
    if role.exemple:
        body += f"\n\n*Exemple du guide* — {role.exemple}"
    st.markdown(body)
    st.caption(
        f"{source_text(role.source)} · [le guide dans Repères](./reperes#niveaux)"
    )


def _pratiques(q: QueFaire) -> None:
    st.markdown(f"**Comment les {q.pluriel} soutiennent les PTCE dans les données**")
    if q.pratiques:
        lines = [
            f"- **{p.libelle}** : {fr.count(p.soutiens, 'soutien')} de "
            f"{fr.count(p.collectivites, q.singulier, q.pluriel)} à "
            f"{fr.count(p.ptce, 'PTCE', 'PTCE')}"
            for p in q.pratiques
        ]
        st.markdown(
            "Les façons de soutenir les plus utilisées, sur "
            f"{fr.count(q.soutiens_niveau, 'soutien')} de "
            f"{fr.count(q.collectivites_niveau, q.singulier, q.pluriel)} :\n\n"
            + "\n".join(lines)
        )
    else:
        st.caption(
            f"Aucun soutien {q.de_niveau} n'est recensé parmi les PTCE qui "
            "correspondent aux filtres thématiques."
        )
    if q.jamais:
        st.caption(
            f"Jamais relevé pour les {q.pluriel} dans les données : "
            + " ; ".join(q.jamais)
            + "."
        )


def _pairs(q: QueFaire) -> None:
    st.markdown(f"**Ce que font les autres {q.pluriel}, par type de soutien**")
    if not q.pairs:
        st.caption(f"Aucun soutien d'autres {q.pluriel} n'est recensé.")
        return
    autre = "autre " + q.singulier, "autres " + q.pluriel
    lines = []
    for group in q.pairs:
        peers = []
        for pair in group.pairs:
            links = [_ptce_link(pid, nom) for pid, nom in pair.ptce]
            rest = pair.ptce_total - len(pair.ptce)
            peers.append(
                f"{_territoire_link(q.niveau, pair.code, pair.nom)} → "
                + ", ".join(links)
                + (f" et {fr.count(rest, 'autre')}" if rest else "")
            )
        if group.autres:
            peers.append(f"et {fr.count(group.autres, *autre)}")
        lines.append(
            f"- **{group.libelle}** ({fr.count(group.soutiens, 'soutien')}) : "
            + " ; ".join(peers)
        )
    st.markdown("\n".join(lines))
    st.caption(
        ("Ordre : même région d'abord, puis " if q.niveau != "region" else "Ordre : ")
        + "le plus de PTCE soutenus, puis le nom."
    )


def _autour(q: QueFaire) -> None:
    st.markdown("**PTCE du territoire et de ses voisins**")
    if q.ptce:
        shown = [f"- {_ptce_item(p)}" for p in q.ptce]
        rest = q.ptce_total - len(q.ptce)
        if rest:
            shown.append(
                f"- et {fr.count(rest, 'autre')} (tableau « PTCE présents » ci-dessus)"
            )
        st.markdown(
            f"Dans le territoire, {fr.count(q.ptce_total, 'PTCE', 'PTCE')} :\n\n"
            + "\n".join(shown)
        )
    else:
        lines = ["Aucun PTCE recensé dans le territoire."]
        near = q.plus_proche
        if near is not None:
            lines.append(
                f"Le plus proche : **{_ptce_link(near.id, near.nom)}** — "
                f"{escape_markdown(near.lieu)}, à {near.distance} de la limite "
                "du territoire, à vol d'oiseau."
            )
        elif q.contours:
            lines.append("Aucun PTCE dont la position est connue.")
        if q.sans_position:
            n = q.sans_position_total
            rest = n - len(q.sans_position)
            seul = (
                "seule la région est connue"
                if q.niveau == "departement"
                else "seul le département est connu"
            )
            lines.append(
                f"{fr.count(n, 'PTCE', 'PTCE')} dont {seul} "
                f"{fr.plural(n, 'pourrait', 'pourraient')} s'y trouver : "
                + ", ".join(_ptce_link(p.id, p.nom) for p in q.sans_position)
                + (f" et {fr.count(rest, 'autre')}" if rest else "")
                + "."
            )
        st.markdown("  \n".join(lines))
    if not q.contours:
        st.caption(
            "Voisins et distances indisponibles : le cache des contours n'est "
            "pas construit (python -m geo build)."
        )
        return
    n = len(q.voisins)
    voisin = ("voisine", "voisines") if q.feminin else ("voisin", "voisins")
    if not n:
        aucun = "Aucune" if q.feminin else "Aucun"
        st.caption(f"{aucun} {q.singulier} {voisin[0]} : pas de limite partagée.")
        return
    if n > 1:
        lines = [f"Ses {fr.count(n, q.singulier, q.pluriel)} {voisin[1]} :"]
    else:
        lines = [f"{'Sa' if q.feminin else 'Son'} {q.singulier} {voisin[0]} :"]
    for v in q.voisins:
        if not v.ptce:
            continue
        shown = [_ptce_item(p, lieu=False) for p in v.ptce]
        rest = v.ptce_total - len(shown)
        lines.append(
            f"- {_territoire_link(q.niveau, v.code, v.nom)} : "
            + ", ".join(shown)
            + (f" et {fr.count(rest, 'autre')}" if rest else "")
        )
    without = [v for v in q.voisins if not v.ptce]
    if without:
        lines.append(
            "- sans PTCE recensé : "
            + ", ".join(_territoire_link(q.niveau, v.code, v.nom) for v in without)
        )
    st.markdown("\n".join(lines))
    st.caption(
        f"Voisins : {q.pluriel} qui partagent une limite avec le territoire. "
        "Distances à vol d'oiseau depuis la limite du territoire, pour les PTCE "
        "dont la commune ou les coordonnées sont connues. Contours : IGN Admin "
        "Express COG 2018. Les filtres thématiques s'appliquent, ceux de "
        "territoire non."
    )


def _ptce_link(ptce_id: str, nom: str) -> str:
    return f"[{escape_markdown(nom)}](./annuaire?ptce={_quote(ptce_id)})"


def _ptce_item(p, lieu: bool = True) -> str:
    # « [nom](fiche) — lieu », or « [nom](fiche) (à 12,4 km) » for a neighbour.
    if lieu:
        return _ptce_link(p.id, p.nom) + (
            f" — {escape_markdown(p.lieu)}" if p.lieu else ""
        )
    return _ptce_link(p.id, p.nom) + (f" (à {p.distance})" if p.distance else "")


def _territoire_link(niveau: str, code: str, nom: str) -> str:
    target = f"./collectivites?{PARAM}={_quote(format_territoire(niveau, code))}"
    return f"[{escape_markdown(nom)}]({target})"


_SUPPORT_CONFIG = {
    "Début": st.column_config.NumberColumn(format="%d"),
    "Fin": st.column_config.NumberColumn(format="%d"),
}


def _euros(value: float) -> str:
    return fr.euros(value, missing="aucun")

