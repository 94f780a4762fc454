"""Annuaire: the filtered PTCE as a sortable table, and the fiche of one PTCE.

The table shows the same PTCE as the map (both read the shared filters). A
selected row opens its fiche below the table; the PTCE's id is mirrored in the
``ptce`` query parameter, so that a link to a fiche can be shared.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo.boundaries import ATTRIBUTION, CacheMissing
from geo.lookup import commune_points
from lib import fr
from lib.analysis.fiche import (
    Fiche,
    build_fiche,
    directory_table,
    escape_markdown,
    markdown_link,
)
from lib.domain.certitude import DEDUIT, DEDUIT_AIDE, DOUBLONS_AIDE
from lib.domain.model import NIVEAU_LABELS
from lib.rendering.charts import timeline_chart
from lib.rendering.web.fiche_map import fiche_map
from views import (
    attribution,
    filtered,
    get_frames,
    get_store,
    set_query_params,
)

#: Query parameter holding the id of the PTCE whose fiche is open.
PARAM = "ptce"
#: Session key remembering the table's key and selection of the previous run.
_SELECTION = "_annuaire_selection"
_BADGE_COLORS = {"données de démonstration": "orange", "données synthétiques": "gray"}


def render() -> None:
    st.title("Annuaire des PTCE")
    frames = filtered()
    total = len(get_frames().ptce)
    st.markdown(
        f"**{fr.integer(len(frames.ptce))} PTCE sur {fr.integer(total)}** "
        f"{fr.plural(len(frames.ptce), 'correspond', 'correspondent')} aux filtres "
        "(barre latérale). Sélectionnez une ligne (case à gauche, ou au "
        "clavier : flèches puis Maj + Espace) pour ouvrir la fiche du PTCE ; "
        "cliquez sur un titre de colonne pour trier."
    )
    every = get_frames().ptce
    table = directory_table(
        frames.ptce, dict(zip(every.index, every["nom"], strict=True))
    )
    ids = list(table.index)
    selected = _table(table, ids)
    if selected:
        _fiche(selected, in_table=selected in ids)


def _table(table: pd.DataFrame, ids: list[str]) -> str | None:
    """Draw the table; return the id of the PTCE whose fiche is open."""
    param = st.query_params.get(PARAM) or None
    # A new key whenever the rows change: a selection (a row position) never
    # survives a change of filters and lands on another PTCE.
    key = "annuaire-" + hashlib.sha1("\n".join(ids).encode()).hexdigest()[:12]
    default = [ids.index(param)] if param in ids else []
    event = st.dataframe(
        table.reset_index(drop=True),
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        selection_default={"selection": {"rows": default}},
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * max(len(table), 1), 460),
        alt="Annuaire des PTCE correspondant aux filtres",
        # Unknown numbers: a dash, never Streamlit's « None ».
        placeholder=fr.MISSING,
        column_config={
            # Not pinned: Streamlit greys pinned columns, names looked disabled.
            "Nom": st.column_config.TextColumn(width="medium"),
            "Création": st.column_config.NumberColumn(format="%d"),
            "Membres": st.column_config.NumberColumn(format="%d"),
            "Emplois": st.column_config.NumberColumn(format="%d"),
            "Montant connu": st.column_config.TextColumn(
                help="Somme des montants de soutien connus (les autres sont "
                "inconnus, pas nuls)",
            ),
            "Valeurs déduites": st.column_config.TextColumn(help=DEDUIT_AIDE),
            "Même pôle probable que": st.column_config.TextColumn(help=DOUBLONS_AIDE),
        },
    )
    rows = tuple(event.selection.rows)
    previous = st.session_state.get(_SELECTION)
    st.session_state[_SELECTION] = (key, rows)
    if previous is not None and previous[0] == key and previous[1] != rows:
        # The user changed the selection: it leads, the URL follows.
        chosen = ids[rows[0]] if rows and rows[0] < len(ids) else None
        set_query_params({PARAM: chosen}, [PARAM])
        return chosen
    return param


def _close(key: str) -> None:
    st.query_params.pop(PARAM, None)
    if key in st.session_state:
        st.session_state[key] = {"selection": {"rows": []}}
    st.session_state[_SELECTION] = (key, ())


def _fiche(ptce_id: str, in_table: bool) -> None:
    record = get_store().get(ptce_id)
    previous = st.session_state.get(_SELECTION)
    key = previous[0] if previous else ""
    if record is None:
        st.warning(
            f"Aucun PTCE d'identifiant « {escape_markdown(ptce_id)} » dans la base."
        )
        st.button("Fermer", on_click=_close, args=(key,), key="fiche-fermer")
        return
    every = get_frames().ptce
    fiche = build_fiche(record, noms=dict(zip(every.index, every["nom"], strict=True)))
    with st.container(border=True, key="fiche"):
        head, close = st.columns([6, 1], vertical_alignment="center")
        head.header(escape_markdown(fiche.nom), anchor="fiche")
        close.button(
            "Fermer",
            on_click=_close,
            args=(key,),
            key="fiche-fermer",
            icon=":material/close:",
        )
        if not in_table:
            st.info(
                "Ce PTCE ne correspond pas aux filtres actuels : il n'apparaît "
                "pas dans le tableau ci-dessus.",
                icon=":material/filter_alt_off:",
            )
        _badges(fiche)
        _meme_pole(fiche)
        lieu = escape_markdown(fiche.lieu)
        if fiche.deduit("commune") or fiche.deduit("departement"):
            lieu += f" *({DEDUIT})*"
        st.markdown(lieu)
        _identity(fiche)
        _figures(fiche)
        if fiche.description:
            st.markdown(escape_markdown(fiche.description))
        if fiche.site_web:
            st.link_button("Site web", fiche.site_web, icon=":material/open_in_new:")
        _map(record, fiche)
        _membres(fiche)
        _soutiens(fiche)
        _deductions(fiche)
        _sources(fiche)
        st.caption(
            "L'adresse de cette page (paramètre « ptce ») ouvre directement "
            "cette fiche : copiez-la pour la partager."
        )


def _badges(fiche: Fiche) -> None:
    if not fiche.badges:
        return
    with st.container(horizontal=True, gap="small"):
        for label in fiche.badges:
            # st.badge escapes square brackets itself; our labels have none.
            st.badge(
                escape_markdown(label.replace("[", "(").replace("]", ")")),
                color=_BADGE_COLORS.get(label, "green"),
                icon=(
                    ":material/science:"
                    if label in _BADGE_COLORS
                    else ":material/workspace_premium:"
                ),
            )


def _identity(fiche: Fiche) -> None:
    lines = [
        ("filieres", "Filières", ", ".join(fiche.filieres) or "non renseignées"),
        ("stade", "Stade", fiche.stade or "non renseigné"),
        (
            "forme_juridique",
            "Forme juridique",
            fiche.forme_juridique or "non renseignée",
        ),
    ]
    st.markdown(
        "  \n".join(
            f"**{label}** : {escape_markdown(value)}"
            + (f" *({DEDUIT})*" if fiche.deduit(champ) else "")
            for champ, label, value in lines
        )
    )


def _meme_pole(fiche: Fiche) -> None:
    """Probable duplicates: a link to each, the reasoning and why not merged."""
    for pid, nom, why in fiche.meme_pole:
        st.warning(
            f"**Même pôle probable** ({DEDUIT}) : {escape_markdown(why)}  \n"
            f"{escape_markdown(DOUBLONS_AIDE)}",
            icon=":material/join:",
        )
        st.button(
            f"Ouvrir la fiche « {nom} »",
            on_click=_open,
            args=(pid,),
            key=f"fiche-meme-pole-{pid}",
            icon=":material/arrow_forward:",
        )


def _open(ptce_id: str) -> None:
    st.query_params[PARAM] = ptce_id


def _deductions(fiche: Fiche) -> None:
    """Every inferred value with its reasoning (« déduit »)."""
    supports = [
        (row["Collectivité"], row["Type de soutien"], row["Déduit"])
        for _, row in fiche.soutiens.iterrows()
        if not fr.is_missing(row["Déduit"])
    ]
    if not fiche.deductions and not supports:
        return
    st.subheader("Valeurs déduites")
    st.caption(escape_markdown(DEDUIT_AIDE))
    items = [
        f"- **{escape_markdown(name)}** — {DEDUIT} : {escape_markdown(why)}"
        for _, name, why in fiche.deductions
    ]
    items += [
        f"- **Soutien de {escape_markdown(who)}** ({escape_markdown(kind)}) — "
        f"{escape_markdown(why)}"
        for who, kind, why in supports
    ]
    st.markdown("\n".join(items))


def _figures(fiche: Fiche) -> None:
    with st.container(horizontal=True, gap="medium"):
        for label, value in fiche.figures.items():
            st.metric(label, value, width="content")


def _map(record, fiche: Fiche) -> None:
    st.subheader("Siège et territoire d'action")
    try:
        points = commune_points()
    except CacheMissing:
        points = {}
    try:
        m = fiche_map(record, points, attribution=ATTRIBUTION)
    except CacheMissing as exc:
        st.info(f"Carte indisponible : {exc}", icon=":material/map:")
        return
    st_folium(
        m,
        key="fiche-carte",
        height=340,
        use_container_width=True,
        returned_objects=[],
    )
    if fiche.territoire:
        names = ", ".join(
            f"{t['nom']} ({NIVEAU_LABELS[t['niveau']]})" for t in fiche.territoire
        )
        st.caption("Territoire d'action : " + escape_markdown(names))
    else:
        st.caption(
            "Territoire d'action non renseigné : la carte montre la commune du "
            "siège (ou, à défaut, son département ou sa région)."
        )
    attribution()


def _membres(fiche: Fiche) -> None:
    st.subheader("Membres")
    if fiche.membres.empty:
        st.caption("Aucun membre renseigné.")
        return
    st.dataframe(
        fr.table(fiche.membres),
        hide_index=True,
        width="stretch",
        placeholder=fr.MISSING,
        alt="Membres du PTCE",
    )


def _soutiens(fiche: Fiche) -> None:
    st.subheader("Soutiens des collectivités")
    if fiche.soutiens.empty:
        st.caption("Aucun soutien de collectivité renseigné.")
        return
    st.dataframe(
        fr.table(
            fiche.soutiens.drop(columns=["Code"]), money=["Montant (€)"], keep=["Lien"]
        ),
        hide_index=True,
        width="stretch",
        placeholder=fr.MISSING,
        alt="Soutiens des collectivités au PTCE",
        column_config={
            "Début": st.column_config.NumberColumn(format="%d"),
            "Fin": st.column_config.NumberColumn(format="%d"),
            "Lien": st.column_config.LinkColumn(display_text="source"),
        },
    )
    unknown = len(fiche.soutiens) - len(fiche.timeline)
    if not fiche.timeline.empty:
        st.altair_chart(
            timeline_chart(fiche.timeline),
            width="stretch",
            alt="Chronologie des soutiens",
        )
    if unknown:
        st.caption(
            f"{fr.count(unknown, 'soutien')} sans année connue : "
            "dans le tableau, pas sur la chronologie."
        )


def _sources(fiche: Fiche) -> None:
    st.subheader("Sources")
    if not fiche.sources:
        st.caption("Aucune source citée.")
        return
    items = [f"- {markdown_link(s.libelle, s.url)}" for s in fiche.sources]
    st.markdown("\n".join(items))

