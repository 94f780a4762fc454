"""Présentation: a récit of vues, full width, large type, keyboard navigation."""

from __future__ import annotations

import html

import streamlit as st
from streamlit_folium import st_folium

from lib.auth import WriteRefused
from lib.carte import base_for, map_layers
from lib.choropleth import INDICATORS
from lib.model import NIVEAU_LABELS
from lib.slides import recit_zip, slide
from lib.static_map import export_filename
from lib.store import ConflictError, NotFoundError
from lib.storylines import (
    DEFAULT_ID,
    GENRES,
    WAYS_TO_SUPPORT,
    Recit,
    Vue,
    copy_recit,
    default_recit,
    delete_recit,
    deleted_recits,
    divergences,
    figure_rows,
    figures_of,
    history_rows,
    list_recits,
    load_recit,
    recit_history,
    restore_recit,
    save_recit,
    support_counts,
    vue_link,
)
from lib.territoires import heatmap_chart, matrice
from pages import (
    attribution,
    boundaries_error,
    current_filters,
    current_user,
    filtered,
    get_frames,
    get_store,
    prepared_download,
    query_params,
    read_only,
    run_app,
    set_query_params,
)

_PARAMS = ("recit", "vue")

# Large type for a projector; the shared filters are hidden (each vue has its
# own), and the page uses the whole width.
_STYLE = """
<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {
  display: none;
}
.pres-title { font-size: 2.6rem; font-weight: 700; line-height: 1.15;
  margin: 0 0 .4rem 0; }
.pres-text { font-size: 1.45rem; line-height: 1.45; max-width: 60em; }
.pres-count { font-size: 1.3rem; }
.pres-source { font-size: 1rem; opacity: .75; }
.pres-table { font-size: 1.15rem; border-collapse: collapse; width: 100%; }
.pres-table td, .pres-table th { border-bottom: 1px solid #ccc; padding: .35em .5em;
  text-align: left; vertical-align: top; }
.pres-ways li { font-size: 1.35rem; margin-bottom: .5rem; }
</style>
"""

# The clicker of a presenter sends Page Up / Page Down (or the arrows): the
# keys click the Précédente / Suivante buttons of the page. The listener is
# installed once per browser tab, on the app's document (same origin).
_KEYS = """
<script>
const doc = window.parent.document;
if (!doc.__atlasPresentationKeys) {
  doc.__atlasPresentationKeys = true;
  doc.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target && (target.isContentEditable
        || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) { return; }
    let key = null;
    if (["ArrowRight", "PageDown"].includes(event.key)) { key = "pres_next"; }
    if (["ArrowLeft", "PageUp"].includes(event.key)) { key = "pres_prev"; }
    if (!key) { return; }
    const button = doc.querySelector(`.st-key-${key} button`);
    if (button && !button.disabled) { event.preventDefault(); button.click(); }
  });
}
</script>
"""


def render() -> None:
    store = get_store()
    saved = dict(list_recits(store))
    recit_id, index = _state_from_url(saved)
    story = _story(recit_id)
    st.markdown(_STYLE, unsafe_allow_html=True)
    st.iframe(_KEYS, height=1)
    index = min(index, len(story.vues) - 1)
    _navigation(story, index, saved)
    vue = story.vues[index]
    set_query_params({"recit": story.id, "vue": str(index + 1)}, _PARAMS)
    _show(vue, story, index)
    _exports(story, vue, index)
    _editor(story, index)


def _state_from_url(saved: dict[str, str]) -> tuple[str, int]:
    params = query_params()
    wanted = (params.get("recit") or [DEFAULT_ID])[-1]
    recit_id = wanted if wanted in saved or wanted == DEFAULT_ID else DEFAULT_ID
    if st.session_state.get("pres_recit") != recit_id:
        # A new récit (or the first run): the URL says which vue to open.
        st.session_state["pres_recit"] = recit_id
        try:
            number = int((params.get("vue") or ["1"])[-1])
        except ValueError:
            number = 1
        st.session_state["pres_index"] = max(number - 1, 0)
    return recit_id, st.session_state["pres_index"]


def _story(recit_id: str) -> Recit:
    if recit_id != DEFAULT_ID:
        story = load_recit(get_store(), recit_id)
        if story is not None and story.vues:
            return story
    return default_recit(get_frames().ptce["id"])


def _step(offset: int, last: int) -> None:
    st.session_state["pres_index"] = min(
        max(st.session_state.get("pres_index", 0) + offset, 0), last
    )


def _choose_recit() -> None:
    st.query_params["recit"] = st.session_state["pres_choice"]
    st.query_params["vue"] = "1"


def _navigation(story: Recit, index: int, saved: dict[str, str]) -> None:
    last = len(story.vues) - 1
    cols = st.columns([1.2, 1.2, 4, 3])
    cols[0].button(
        "◀ Précédente",
        key="pres_prev",
        disabled=index == 0,
        on_click=_step,
        args=(-1, last),
        use_container_width=True,
    )
    cols[1].button(
        "Suivante ▶",
        key="pres_next",
        disabled=index == last,
        on_click=_step,
        args=(1, last),
        use_container_width=True,
    )
    cols[2].markdown(
        f'<p data-testid="pres-position" style="margin-top:.4rem">Vue '
        f"<strong>{index + 1}</strong> sur {len(story.vues)} — "
        f"{html.escape(story.titre)} · touches ← → ou Page préc./suiv.</p>",
        unsafe_allow_html=True,
    )
    options = {DEFAULT_ID: default_recit().titre, **saved}
    st.session_state["pres_choice"] = story.id
    cols[3].selectbox(
        "Récit",
        list(options),
        key="pres_choice",
        format_func=options.get,
        on_change=_choose_recit,
        label_visibility="collapsed",
    )


def _show(vue: Vue, story: Recit, index: int) -> None:
    selection = filtered(vue.filters())
    st.markdown(
        f'<h1 class="pres-title" data-testid="pres-title">'
        f"{html.escape(vue.titre)}</h1>"
        f'<p class="pres-text">{html.escape(vue.texte)}</p>'
        f'<p class="pres-count" data-testid="pres-counter"><strong>'
        f"{len(selection.ptce)} PTCE</strong> dans cette vue</p>",
        unsafe_allow_html=True,
    )
    if vue.genre == "chiffres":
        _figures(vue)
    elif vue.genre == "matrice":
        st.altair_chart(heatmap_chart(matrice(selection.soutiens)))
    elif vue.genre == "soutenir":
        _ways(selection)
    else:
        _map(vue, selection, story, index)
    footer = [
        f'<a href="{html.escape(vue_link(story.id, index))}">Lien de cette vue</a>'
    ]
    if vue.source:
        footer.append(f"Source : {html.escape(vue.source)}")
    st.markdown(
        f'<p class="pres-source">{" · ".join(footer)}</p>', unsafe_allow_html=True
    )


def _figures(vue: Vue) -> None:
    faits = figures_of(get_store().faits(), vue.sujets)
    cells = []
    for row in figure_rows(faits):
        source = html.escape(row["Source"])
        if row["Lien"]:
            source = f'<a href="{html.escape(row["Lien"])}">{source}</a>'
        cells.append(
            f"<tr><td>{html.escape(row['Chiffre'])}</td>"
            f"<td><strong>{html.escape(row['Valeur'])}</strong></td>"
            f"<td>{html.escape(row['Année'])}</td><td>{source}</td></tr>"
        )
    st.markdown(
        '<table class="pres-table"><tr><th>Chiffre</th><th>Valeur</th>'
        f"<th>Année</th><th>Source</th></tr>{''.join(cells)}</table>",
        unsafe_allow_html=True,
    )
    for note in divergences(faits):
        st.warning(note, icon=":material/compare_arrows:")


def _ways(selection) -> None:
    items = "".join(f"<li>{html.escape(way)}</li>" for way in WAYS_TO_SUPPORT)
    st.markdown(f'<ul class="pres-ways">{items}</ul>', unsafe_allow_html=True)
    counts = support_counts(selection.soutiens)
    st.markdown("**Dans l'atlas, soutiens recensés par nature**")
    st.dataframe(
        {"Nature du soutien": list(counts), "Soutiens": list(counts.values())},
        hide_index=True,
    )


def _map(vue: Vue, selection, story: Recit, index: int) -> None:
    error = boundaries_error()
    if error:
        st.error(error, icon=":material/map:")
        return
    filters = vue.filters()
    built = map_layers(
        selection,
        maille=vue.maille,
        indicateur=vue.indicateur if vue.indicateur in INDICATORS else "nombre",
        region=filters.region,
        couches=vue.couches,
        surligner=vue.surligner,
        departements=filters.departements,
        epci=filters.epci,
    )
    base = base_for(filters.region, departements=filters.departements)
    # One map per vue: changing vue fits the new extent.
    st_folium(
        base,
        key=f"pres-carte-{story.id}-{index}",
        height=560,
        use_container_width=True,
        feature_group_to_add=built.groups,
        returned_objects=[],
    )
    if built.legend is not None:
        # The same lines as the legend drawn in the map (counts of territories).
        lines = " ; ".join(e.text for e in built.legend.entries())
        footnote = built.legend.footnote()
        st.caption(
            f"{built.legend.title} : {lines}." + (f" {footnote}." if footnote else "")
        )
    if built.links:
        st.caption(
            "Lignes : collectivités qui soutiennent ("
            + ", ".join(NIVEAU_LABELS.values())
            + ")."
        )
    attribution()


def _exports(story: Recit, vue: Vue, index: int) -> None:
    # Made when asked for, for this very vue and version of the récit.
    signature = repr((story.id, story.version, index))

    def selection(v: Vue):
        return filtered(v.filters())

    cols = st.columns(3)
    with cols[0]:
        prepared_download(
            "cette vue (PNG)",
            "pres_export_vue",
            lambda: slide(vue, selection(vue), get_store().faits()),
            export_filename(vue.titre, "png"),
            "image/png",
            signature,
            icon=":material/image:",
        )
    with cols[1]:
        prepared_download(
            "le récit (ZIP : diapositives PNG et PDF)",
            "pres_export_zip",
            lambda: recit_zip(story, selection, get_store().faits()),
            export_filename(story.titre, "zip"),
            "application/zip",
            repr((story.id, story.version)),
            icon=":material/folder_zip:",
        )


# -- editing ----------------------------------------------------------------------


# Every write below runs in a button's callback, with the récit *as the
# editor saw it* when the button was drawn (its version and its order of
# vues). A change made meanwhile by someone else is then refused by the
# version check instead of being applied to another vue.
_FLASH = "pres_flash"


def _editor(story: Recit, index: int) -> None:
    # After an action of the editor, it stays open on its message.
    flash = st.session_state.pop(_FLASH, None)
    with st.expander(
        "Créer ou modifier un récit", icon=":material/edit:", expanded=bool(flash)
    ):
        st.caption(
            "Le récit par défaut n'est construit que sur des faits sourcés ; "
            "copiez-le pour en faire le vôtre. Les récits sont enregistrés dans "
            "la base de l'atlas, avec leur historique."
        )
        if read_only():
            st.info(
                "La base est en lecture seule : les récits ne peuvent pas être "
                "modifiés pour le moment.",
                icon=":material/lock:",
            )
            return
        user = current_user()
        if user is None or not user.can_edit:
            st.info(
                "Connectez-vous avec un compte éditeur (page Données) pour créer "
                "ou modifier un récit.",
                icon=":material/lock:",
            )
            return
        if flash:
            (st.success if flash[0] == "ok" else st.error)(flash[1])
        with st.form("pres_copy", clear_on_submit=True):
            st.text_input("Titre du nouveau récit", max_chars=200, key="pres_new")
            st.form_submit_button(
                "Créer une copie de ce récit", on_click=_copy, args=(story, user)
            )
        _deleted(user)
        if story.id == DEFAULT_ID:
            return
        _vue_form(story, index, user)
        vue = story.vues[index]
        # A row that wraps: labels are never cut, whatever the width.
        row = st.container(horizontal=True)
        row.button(
            "Ajouter la vue de l'explorateur",
            key="pres_add",
            on_click=_write,
            args=(story.with_vue(_explorer_vue()), "Vue ajoutée en fin de récit."),
            kwargs={"index": len(story.vues), "user": user},
        )
        row.button(
            "Prendre les filtres de l'explorateur",
            key="pres_take",
            on_click=_write,
            args=(
                story.with_vue(vue.with_view_of(_explorer_vue()), index),
                "Filtres remplacés.",
            ),
            kwargs={"user": user},
        )
        row.button(
            "Monter",
            key="pres_up",
            disabled=index == 0,
            on_click=_write,
            args=(story.moved(index, -1), "Vue déplacée."),
            kwargs={"index": index - 1, "user": user},
        )
        row.button(
            "Descendre",
            key="pres_down",
            disabled=index == len(story.vues) - 1,
            on_click=_write,
            args=(story.moved(index, 1), "Vue déplacée."),
            kwargs={"index": index + 1, "user": user},
        )
        row.button(
            "Supprimer la vue",
            key="pres_del_vue",
            disabled=len(story.vues) == 1,
            help="Un récit garde au moins une vue.",
            on_click=_write,
            args=(story.without(index), f"Vue « {vue.titre} » supprimée."),
            kwargs={"index": max(index - 1, 0), "user": user},
        )
        row.button(
            "Supprimer le récit",
            key="pres_del",
            on_click=_delete_story,
            args=(story, user),
        )
        _story_history(story, user)


def _vue_form(story: Recit, index: int, user) -> None:
    vue = story.vues[index]
    # Keys name the version and the vue: the fields of a form drawn for
    # another state of the récit are other widgets.
    tag = f"{story.id}_{story.version}_{index}"
    with st.form(f"pres_vue_{tag}"):
        st.markdown(f"**Vue {index + 1}**")
        st.text_input("Titre", value=vue.titre, max_chars=200, key=f"pt_{tag}")
        st.text_area("Texte", value=vue.texte, max_chars=2000, key=f"px_{tag}")
        st.selectbox(
            "Contenu",
            list(GENRES),
            index=list(GENRES).index(vue.genre),
            format_func=GENRES.get,
            key=f"pg_{tag}",
        )
        names = dict(
            zip(get_frames().ptce["id"], get_frames().ptce["nom"], strict=True)
        )
        st.multiselect(
            "PTCE mis en évidence",
            list(names),
            default=[i for i in vue.surligner if i in names],
            format_func=names.get,
            key=f"ps_{tag}",
            placeholder="Aucun",
            select_all=False,
        )
        st.form_submit_button(
            "Enregistrer la vue", on_click=_save_vue, args=(story, index, tag, user)
        )


def _save_vue(story: Recit, index: int, tag: str, user) -> None:
    state = st.session_state
    changed = Vue.from_dict(
        {
            **story.vues[index].to_dict(),
            "titre": state[f"pt_{tag}"],
            "texte": state[f"px_{tag}"],
            "genre": state[f"pg_{tag}"],
            "surligner": state[f"ps_{tag}"],
        }
    )
    _write(story.with_vue(changed, index), "Vue enregistrée.", user=user)


def _explorer_vue() -> Vue:
    # The Carte's current state: shared filters and the map options.
    return Vue(
        titre="Nouvelle vue",
        filtres=current_filters().to_params(),
        maille=st.session_state.get("carte_maille", "departement"),
        indicateur=st.session_state.get("carte_indicateur", "nombre"),
        couches=tuple(st.session_state.get("carte_couches", ["ptce", "choro"])),
    )


def _open(recit_id: str) -> None:
    st.query_params["recit"] = recit_id
    st.query_params["vue"] = "1"


def _copy(story: Recit, user) -> None:
    try:
        copy = copy_recit(get_store(), story, st.session_state["pres_new"], user)
    except (ConflictError, ValueError, WriteRefused) as exc:
        st.session_state[_FLASH] = ("erreur", str(exc))
        return
    _open(copy.id)
    st.session_state[_FLASH] = (
        "ok",
        f"Récit « {copy.titre} » créé : il est modifiable ci-dessous.",
    )


def _write(story: Recit, message: str, *, index: int | None = None, user) -> None:
    try:
        save_recit(get_store(), story, user)
    except (ConflictError, ValueError, WriteRefused) as exc:
        st.session_state[_FLASH] = ("erreur", str(exc))
        return
    if index is not None:
        st.session_state["pres_index"] = min(max(index, 0), len(story.vues) - 1)
    st.session_state[_FLASH] = ("ok", message)


def _delete_story(story: Recit, user) -> None:
    try:
        delete_recit(get_store(), story.id, story.version, user)
    except (WriteRefused, NotFoundError, ConflictError) as exc:
        st.session_state[_FLASH] = ("erreur", str(exc))
        return
    st.session_state[_FLASH] = (
        "ok",
        f"Récit « {story.titre} » supprimé : son historique permet de le restaurer.",
    )
    _open(DEFAULT_ID)


def _restore(recit_id: str, version: int, user) -> None:
    try:
        restored = restore_recit(get_store(), recit_id, version, user)
    except (WriteRefused, NotFoundError, ConflictError, ValueError) as exc:
        st.session_state[_FLASH] = ("erreur", str(exc))
        return
    st.session_state[_FLASH] = ("ok", f"Récit « {restored.titre} » restauré.")
    _open(recit_id)


def _story_history(story: Recit, user) -> None:
    entries = recit_history(get_store(), story.id)
    st.markdown("**Historique du récit**")
    st.dataframe(history_rows(entries), hide_index=True, use_container_width=True)
    versions = [e["version"] for e in entries if e["vues"] is not None]
    choice = st.selectbox(
        "Version à restaurer",
        versions[::-1],
        format_func=lambda v: f"version {v}",
        key=f"pres_hist_{story.id}",
    )
    st.button(
        "Restaurer cette version",
        key="pres_hist_restore",
        disabled=choice is None or choice == story.version,
        on_click=_restore,
        args=(story.id, choice, user),
    )


def _deleted(user) -> None:
    gone = {
        rid: (titre, version) for rid, titre, version in deleted_recits(get_store())
    }
    if not gone:
        return
    cols = st.columns([3, 1])
    choice = cols[0].selectbox(
        "Récits supprimés",
        list(gone),
        format_func=lambda rid: gone[rid][0],
        key="pres_deleted",
    )
    cols[1].button(
        "Restaurer ce récit",
        key="pres_deleted_restore",
        on_click=_restore,
        args=(choice, gone[choice][1], user),
    )


if __name__ == "__main__":
    run_app()
