"""Présentation: a récit of vues, full width, large type, keyboard navigation."""

# size: 235 lines are the projector's CSS (_STYLE) and keyboard script (_SCRIPT);
# the rest is one page: navigation, a vue of each genre, exports and the editor.

from __future__ import annotations

import hashlib
import html
import json
from urllib.parse import urlencode

import streamlit as st
from streamlit_folium import st_folium

from lib import fr
from lib.analysis.choropleth import INDICATORS
from lib.analysis.territoires import matrice
from lib.domain.recits import (
    DEFAULT_ID,
    GENRES,
    WAYS_TO_SUPPORT,
    Recit,
    Vue,
    default_recit,
    divergences,
    figure_rows,
    figures_of,
    history_rows,
    support_counts,
    vue_link,
)
from lib.domain.soutiens import definition, libelle
from lib.rendering import palette
from lib.rendering.print.slides import recit_zip, slide
from lib.rendering.print.static_map import export_filename
from lib.rendering.vue import describe_vue, vue_source_line
from lib.rendering.web.carte import base_for, map_layers
from lib.rendering.web.maps import legend_html
from lib.store.accounts import WriteRefused
from lib.store.ptce import ConflictError, NotFoundError
from lib.store.recits import (
    copy_recit,
    delete_recit,
    deleted_recits,
    list_recits,
    load_recit,
    recit_history,
    restore_recit,
    save_recit,
)
from views import (
    boundaries_error,
    current_filters,
    current_user,
    filtered,
    get_frames,
    get_store,
    prepared_download,
    query_params,
    read_only,
    set_query_params,
    url_first,
)

_PARAMS = ("recit", "vue")

# Made for a projector. Every size is a multiple of --pres-u, 1 % of the
# width of a 16:9 screen (19.2 px at 1920×1080, 12.8 px at 1280×720; on a
# wider screen the height decides), so a vue is laid out the same at any
# resolution and fits one screen: body text 1.5u (28.8 px at 1920×1080),
# titles 2.6u (49.9 px). Selectors start at [data-testid=stMain] so that
# they beat Streamlit's own rules for paragraphs, headings and buttons.
# The shared filters are hidden (each vue has its own), and so are the
# exports and the editor until « Outils » opens them (see _SCRIPT): the
# vue is the whole screen, nothing below it to scroll to.
_STYLE = """
<style>
:root { --pres-u: min(1vw, 1.7778vh); }
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
header[data-testid="stHeader"], .st-key-pres_head, .st-key-pres_tools {
  display: none;
}
html.pres-tools-open .st-key-pres_tools { display: flex; }
[data-testid="stMain"] [data-testid="stMainBlockContainer"] {
  max-width: none;
  padding: calc(var(--pres-u) * .7) calc(var(--pres-u) * 2) calc(var(--pres-u) * .5);
}
[data-testid="stMain"] .st-key-pres_vue { gap: calc(var(--pres-u) * .7); }
[data-testid="stMain"] .st-key-pres_nav button,
[data-testid="stMain"] .pres-btn {
  min-height: calc(var(--pres-u) * 2.5); padding: 0 calc(var(--pres-u) * .9);
  font-size: calc(var(--pres-u) * 1.1); line-height: 1.2; border-radius: .4em;
}
[data-testid="stMain"] .st-key-pres_nav button * { font-size: inherit; }
[data-testid="stMain"] .st-key-pres_nav [data-baseweb="select"] > div {
  min-height: calc(var(--pres-u) * 2.5); font-size: calc(var(--pres-u) * 1);
}
[data-testid="stMain"] .st-key-pres_nav [data-testid="stSelectbox"] * {
  font-size: calc(var(--pres-u) * 1);
}
[data-testid="stMain"] .pres-position {
  font-size: calc(var(--pres-u) * 1); line-height: 1.3; margin: 0;
}
[data-testid="stMain"] .pres-position kbd {
  font: inherit; border: 1px solid #bbb; border-radius: .25em; padding: 0 .3em;
}
[data-testid="stMain"] .pres-actions {
  display: flex; gap: calc(var(--pres-u) * .5); justify-content: flex-end;
}
[data-testid="stMain"] .pres-btn {
  display: inline-flex; align-items: center; gap: .35em; cursor: pointer;
  background: #fff; color: inherit; border: 1px solid rgba(49, 51, 63, .25);
  font-family: inherit; text-decoration: none; white-space: nowrap;
}
[data-testid="stMain"] .pres-btn:hover { border-color: #d62728; color: #d62728; }
[data-testid="stMain"] .pres-btn:focus-visible { outline: 3px solid #0044AA; }
[data-testid="stMain"] .pres-quit { font-weight: 600; }
[data-testid="stMain"] h1.pres-title {
  font-size: calc(var(--pres-u) * 2.6); font-weight: 700; line-height: 1.15;
  margin: 0; padding: 0;
}
[data-testid="stMain"] p.pres-text {
  font-size: calc(var(--pres-u) * 1.5); line-height: 1.35; margin: 0;
  max-width: 64em;
}
[data-testid="stMain"] .pres-count {
  font-size: calc(var(--pres-u) * 1.5); line-height: 1.3; margin: 0 0 .4em 0;
}
[data-testid="stMain"] .pres-foot {
  font-size: calc(var(--pres-u) * .85); line-height: 1.3; margin: 0; opacity: .8;
}
[data-testid="stMain"] table.pres-table {
  font-size: calc(var(--pres-u) * 1.5); line-height: 1.25;
  border-collapse: collapse; width: 100%; margin: 0; border: none;
}
[data-testid="stMain"] table.pres-table.pres-dense {
  font-size: calc(var(--pres-u) * 1.15);
}
[data-testid="stMain"] table.pres-table.pres-mid {
  font-size: calc(var(--pres-u) * 1.4);
}
[data-testid="stMain"] .pres-table th, [data-testid="stMain"] .pres-table td {
  border: none; border-bottom: 2px solid #ccc; padding: .3em .45em;
  text-align: left; vertical-align: top; font-size: inherit;
}
[data-testid="stMain"] .pres-table th { font-weight: 700; }
[data-testid="stMain"] .pres-table td.pres-num {
  text-align: right; white-space: nowrap;
}
[data-testid="stMain"] .pres-table td.pres-cell {
  text-align: center; vertical-align: middle; font-weight: 700;
}
[data-testid="stMain"] .pres-table th.pres-col { text-align: center; }
[data-testid="stMain"] .pres-note {
  font-size: calc(var(--pres-u) * 1.4); line-height: 1.3; margin: 0 0 .6em 0;
  padding: .5em .7em; border-left: .3em solid #c58b00; background: #fff6dd;
}
[data-testid="stMain"] .pres-note strong { display: block; }
[data-testid="stMain"] ol.pres-ways { margin: 0; padding-left: 1.3em; }
[data-testid="stMain"] ol.pres-ways li {
  font-size: calc(var(--pres-u) * 1.5); line-height: 1.3; margin: 0 0 .45em 0;
}
[data-testid="stMain"] .pres-legend {
  font-size: calc(var(--pres-u) * 1.2); line-height: 1.3;
}
[data-testid="stMain"] .pres-legend p { font-size: inherit; margin: 0; }
[data-testid="stMain"] .pres-legend.pres-explain {
  font-size: calc(var(--pres-u) * 1.4);
}
[data-testid="stMain"] .pres-legend .pres-legend-title {
  font-weight: 700; margin-top: .5em;
}
[data-testid="stMain"] .pres-legend .pres-legend-note { opacity: .75; }
[data-testid="stMain"] .pres-legend ul {
  list-style: none; margin: .1em 0 0 0; padding: 0;
  display: grid; grid-template-columns: 1fr; column-gap: .8em;
}
[data-testid="stMain"] .pres-legend ul.pres-two { grid-template-columns: 1fr 1fr; }
[data-testid="stMain"] .pres-legend li {
  display: flex; align-items: center; gap: .45em; margin: 0 0 .15em 0;
  font-size: inherit;
}
[data-testid="stMain"] .pres-key { flex: none; box-sizing: border-box; }
[data-testid="stMain"] .pres-key-dot {
  width: .85em; height: .85em; border-radius: 50%;
  border: .12em solid #fff; box-shadow: 0 0 0 .06em #333;
}
[data-testid="stMain"] .pres-key-box {
  width: 1.6em; height: 1em; border: 1px solid #777;
}
[data-testid="stMain"] .pres-key-line { width: 2em; height: .8em; }
[data-testid="stMain"] .pres-key-ring {
  width: 1.1em; height: 1.1em; border-radius: 50%; background: transparent;
}
[data-testid="stMain"] .pres-key-cluster {
  width: 1.25em; height: 1.25em; border-radius: 50%; font-size: .8em;
  display: inline-flex; align-items: center; justify-content: center;
  font-weight: 700;
}
</style>
"""

# Installed once per browser tab, on the app's document (same origin):
# - the clicker of a presenter sends Page Up / Page Down (or the arrows):
#   the keys click the Précédente / Suivante buttons of the page;
# - Échap closes the tools when open, else clicks « Quitter » (back to the
#   Carte with the vue's filters; the browser itself takes the first Échap
#   to leave full screen), F toggles
#   full screen (Fullscreen API), as do the buttons of the bar;
# - « Outils » shows the exports and the editor below the vue;
# - the map of a vue is given the height left on the screen once the text
#   and the legend are laid out (the component's own height is in pixels),
#   and fitted again to the vue's bounds.
_SCRIPT = """
<script>
const doc = window.parent.document;
const win = window.parent;
if (!doc.__atlasPresentationKeys) {
  doc.__atlasPresentationKeys = true;
  const onPage = () => doc.querySelector(".st-key-pres_nav") !== null;
  const fullscreen = () => {
    if (doc.fullscreenElement) { doc.exitFullscreen(); return; }
    const root = doc.documentElement;
    if (root.requestFullscreen) { root.requestFullscreen().catch(() => {}); }
  };
  const toolsState = () => {
    // The bar is drawn again on each run: its button says the state anew.
    const open = doc.documentElement.classList.contains("pres-tools-open");
    doc.querySelectorAll('[data-pres-action="tools"]').forEach(
      (b) => b.setAttribute("aria-expanded", String(open)));
    return open;
  };
  const tools = () => {
    doc.documentElement.classList.toggle("pres-tools-open");
    const open = toolsState();
    const box = doc.querySelector(".st-key-pres_tools");
    const main = doc.querySelector('[data-testid="stMain"]');
    if (open && box) {
      win.requestAnimationFrame(() => box.scrollIntoView({block: "start"}));
    } else if (main) {
      main.scrollTo(0, 0);
    }
  };
  doc.addEventListener("keydown", (event) => {
    if (!onPage()) { return; }
    const target = event.target;
    if (target && (target.isContentEditable
        || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) { return; }
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    let key = null;
    if (["ArrowRight", "PageDown"].includes(event.key)) { key = "pres_next"; }
    if (["ArrowLeft", "PageUp"].includes(event.key)) { key = "pres_prev"; }
    if (key) {
      const button = doc.querySelector(`.st-key-${key} button`);
      if (button && !button.disabled) { event.preventDefault(); button.click(); }
      return;
    }
    if (event.key === "Escape") {
      // Open tools are closed first; then Échap leaves the Présentation.
      if (doc.documentElement.classList.contains("pres-tools-open")) {
        event.preventDefault();
        tools();
        return;
      }
      const quit = doc.querySelector('[data-pres-action="quit"]');
      if (quit) { event.preventDefault(); quit.click(); }
    } else if (event.key === "f" || event.key === "F") {
      event.preventDefault();
      fullscreen();
    }
  });
  doc.addEventListener("click", (event) => {
    const el = event.target.closest && event.target.closest("[data-pres-action]");
    if (!el) { return; }
    const action = el.dataset.presAction;
    if (action === "fullscreen") { event.preventDefault(); fullscreen(); }
    if (action === "tools") { event.preventDefault(); tools(); }
    // « Quitter » is a plain link (target _self), followed by the browser:
    // a new page load, so the Carte reads its filters from the URL. (This
    // script's frame is sandboxed: it may not navigate the page itself.)
  });
  const fitMap = () => {
    const box = doc.querySelector(".st-key-pres_map");
    const frame = box && box.querySelector("iframe");
    const foot = doc.querySelector(".pres-foot");
    if (!frame || !foot || !frame.contentWindow) { return; }
    const inner = frame.contentDocument;
    const map = frame.contentWindow.map;
    if (!inner || !inner.head || !map) { return; }
    const unit = Math.min(win.innerWidth / 100, win.innerHeight * 1.7778 / 100);
    const current = frame.getBoundingClientRect().height;
    const bottom = foot.getBoundingClientRect().bottom;
    const slack = win.innerHeight - unit * 0.5 - 2 - bottom;
    const height = Math.max(200, Math.floor(current + slack));
    const meta = box.querySelector("[data-bounds]");
    const bounds = meta ? JSON.parse(meta.dataset.bounds) : null;
    const key = (meta ? meta.dataset.bounds : "") + "|" + height;
    let style = inner.getElementById("pres-map-size");
    // A new map in the same frame (another vue) is sized and fitted anew.
    if (frame.__presFit === key && frame.__presMap === map && style
        && Math.abs(slack) < 2) { return; }
    frame.__presFit = key;
    frame.__presMap = map;
    if (!style) {
      style = inner.createElement("style");
      style.id = "pres-map-size";
      inner.head.appendChild(style);
    }
    // The legend is beside the map, in projector type: not in its corner.
    // Zoom buttons, scale and sources grow with the screen like the text.
    style.textContent = `#map_div { height: ${height}px !important; }` +
      ".atlas-legend { display: none !important; }" +
      `.leaflet-control { zoom: ${Math.max(1, unit / 12.8)}; }`;
    frame.style.setProperty("height", `${height}px`, "important");
    map.invalidateSize(false);
    if (bounds) { map.fitBounds(bounds, {padding: [16, 16], animate: false}); }
    frame.dataset.presHeight = String(height);
  };
  win.setInterval(() => { toolsState(); fitMap(); }, 200);
}
</script>
"""


def render() -> None:
    store = get_store()
    saved = dict(list_recits(store))
    recit_id, index = _state_from_url(saved)
    story = _story(recit_id)
    with st.container(key="pres_head"):
        st.markdown(_STYLE, unsafe_allow_html=True)
        st.iframe(_SCRIPT, height=1)
    index = min(index, len(story.vues) - 1)
    vue = story.vues[index]
    with st.container(key="pres_vue"):
        _navigation(story, index, saved, vue)
        set_query_params({"recit": story.id, "vue": str(index + 1)}, _PARAMS)
        _show(vue, story, index)
    # Below the vue, shown by « Outils »: the vue alone fills the screen.
    with st.container(key="pres_tools"):
        _exports(story, vue, index)
        _editor(story, index)


def _state_from_url(saved: dict[str, str]) -> tuple[str, int]:
    wanted = (query_params().get("recit") or [DEFAULT_ID])[-1]
    recit_id = wanted if wanted in saved or wanted == DEFAULT_ID else DEFAULT_ID
    # A new récit (or the first run): the URL says which vue to open.
    url_first("pres_recit", _vue_from_url, token=recit_id)
    return recit_id, st.session_state["pres_index"]


def _vue_from_url(params: dict[str, list[str]]) -> dict[str, int]:
    try:
        number = int((params.get("vue") or ["1"])[-1])
    except ValueError:
        number = 1
    return {"pres_index": max(number - 1, 0)}


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


def carte_link(vue: Vue) -> str:
    """Return the Carte's link showing the vue's filters, grid and layers.

    Parameters
    ----------
    vue : Vue

    Returns
    -------
    str
        Relative to the app (``./carte?…``), as the Carte mirrors its state
        in the URL: a new page load opens the Carte on the very selection.
    """
    params: dict[str, str | list[str]] = dict(vue.filters().to_params())
    params["couches"] = list(vue.couches) or ["ptce"]
    if vue.maille != "departement":
        params["maille"] = vue.maille
    if vue.indicateur != "nombre" and vue.indicateur in INDICATORS:
        params["indicateur"] = vue.indicateur
    return "./carte?" + urlencode(params, doseq=True)


def _navigation(story: Recit, index: int, saved: dict[str, str], vue: Vue) -> None:
    last = len(story.vues) - 1
    with st.container(key="pres_nav"):
        cols = st.columns(
            [1.25, 1.15, 3.6, 2.6, 3.4], vertical_alignment="center", gap="small"
        )
    with cols[0]:
        st.button(
            "◀ Précédente",
            key="pres_prev",
            disabled=index == 0,
            on_click=_step,
            args=(-1, last),
            use_container_width=True,
        )
    with cols[1]:
        st.button(
            "Suivante ▶",
            key="pres_next",
            disabled=index == last,
            on_click=_step,
            args=(1, last),
            use_container_width=True,
        )
    cols[2].markdown(
        f'<p class="pres-position" data-testid="pres-position">Vue '
        f"<strong>{index + 1}</strong> sur {len(story.vues)} — "
        f"{html.escape(story.titre)}<br><kbd>←</kbd> <kbd>→</kbd> vue "
        "précédente, suivante · <kbd>F</kbd> plein écran · <kbd>Échap</kbd> "
        "quitter</p>",
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
    cols[4].markdown(
        '<div class="pres-actions">'
        '<button type="button" class="pres-btn" data-pres-action="tools" '
        'aria-expanded="false" title="Exporter, modifier le récit">Outils</button>'
        '<button type="button" class="pres-btn" data-pres-action="fullscreen" '
        f'title="Plein écran (touche F)">{_FULLSCREEN_ICON} Plein écran</button>'
        f'<a class="pres-btn pres-quit" data-pres-action="quit" target="_self" '
        f'href="{html.escape(carte_link(vue))}" '
        'title="Revenir à la Carte avec les filtres de cette vue (touche Échap)">'
        "✕ Quitter</a></div>",
        unsafe_allow_html=True,
    )


#: Four corners (the glyph ⛶ is missing from common fonts).
_FULLSCREEN_ICON = (
    '<svg width="1em" height="1em" viewBox="0 0 16 16" aria-hidden="true" '
    'fill="none" stroke="currentColor" stroke-width="2">'
    '<path d="M1 5V1h4M11 1h4v4M15 11v4h-4M5 15H1v-4"/></svg>'
)


def _show(vue: Vue, story: Recit, index: int) -> None:
    selection = filtered(vue.filters())
    count = (
        f'<p class="pres-count" data-testid="pres-counter"><strong>'
        f"{fr.integer(len(selection.ptce))} PTCE</strong> dans cette vue</p>"
    )
    st.markdown(
        f'<h1 class="pres-title" data-testid="pres-title">'
        f"{html.escape(vue.titre)}</h1>"
        + (f'<p class="pres-text">{html.escape(vue.texte)}</p>' if vue.texte else ""),
        unsafe_allow_html=True,
    )
    if vue.genre == "chiffres":
        _figures(vue, count)
    elif vue.genre == "matrice":
        _matrix(selection, count)
    elif vue.genre == "soutenir":
        _ways(selection, count)
    else:
        _map(vue, selection, count)
    footer = [
        f'<a href="{html.escape(vue_link(story.id, index))}">Lien de cette vue</a>'
    ]
    sources = vue_source_line(vue, selection, get_store().faits())
    footer.append(f'<span data-testid="pres-sources">{html.escape(sources)}</span>')
    st.markdown(
        f'<p class="pres-foot">{" · ".join(footer)}</p>', unsafe_allow_html=True
    )


#: Rows of figures read from the back of a room at full size; a longer table
#: (a récit of one's own) is set smaller rather than past the screen's edge.
_FIGURES_AT_FULL_SIZE = 7


def _source_html(row: dict, short: bool = False) -> str:
    title = html.escape(row["Source"])
    text = html.escape(_short_source(row["Source"]) if short else row["Source"])
    if row["Lien"]:
        return f'<a href="{html.escape(row["Lien"])}" title="{title}">{text}</a>'
    return f'<span title="{title}">{text}</span>'


def _short_source(label: str) -> str:
    # « Chorum — 15 nouveaux PTCE obtiennent… » reads « Chorum » on a
    # projector; the whole title stays in the link's tooltip.
    return label.split(" — ", 1)[0]


def _figures(vue: Vue, count: str) -> None:
    faits = figures_of(get_store().faits(), vue.sujets)
    rows = figure_rows(faits)
    # Columns no figure fills (no value, no year) are left out, and a source
    # shared by every figure is written once under the table.
    shown = [c for c in ("Valeur", "Année") if any(r[c] not in ("", "—") for r in rows)]
    sources = {(r["Source"], r["Lien"]) for r in rows}
    shared = len(sources) == 1
    cells = []
    for row in rows:
        extra = "".join(
            '<td class="pres-num">'
            + (
                f"<strong>{html.escape(row[c])}</strong>"
                if c == "Valeur"
                else html.escape(row[c])
            )
            + "</td>"
            for c in shown
        )
        source = "" if shared else f"<td>{_source_html(row, short=True)}</td>"
        cells.append(f"<tr><td>{html.escape(row['Chiffre'])}</td>{extra}{source}</tr>")
    dense = " pres-dense" if len(rows) > _FIGURES_AT_FULL_SIZE else ""
    columns = ("Chiffre", *shown) if shared else ("Chiffre", *shown, "Source")
    head = "".join(f"<th>{c}</th>" for c in columns)
    table = (
        f'<table class="pres-table{dense}" data-testid="pres-figures">'
        f"<tr>{head}</tr>{''.join(cells)}</table>"
    )
    if shared and rows:
        table += f'<p class="pres-foot">Source : {_source_html(rows[0])}</p>'
    notes = divergences(faits)
    if not notes:
        st.markdown(count + table, unsafe_allow_html=True)
        return
    # The notes are the point of such a vue: beside the table, in view, under
    # the count of PTCE of the vue's territory.
    left, right = st.columns([1.75, 1], gap="large")
    left.markdown(table, unsafe_allow_html=True)
    right.markdown(
        count
        + "".join(
            f'<p class="pres-note" data-testid="pres-divergence">'
            f"{_divergence_html(note)}</p>"
            for note in notes
        ),
        unsafe_allow_html=True,
    )


def _divergence_html(note: str) -> str:
    head, sep, rest = note.partition(" : ")
    if not sep:
        return html.escape(note)
    return f"<strong>{html.escape(head)}</strong>{html.escape(rest)}"


def _matrix(selection, count: str) -> None:
    # An HTML table, not a chart: its type scales with the screen like the
    # text, and every count is written in its cell.
    data = matrice(selection.soutiens)
    levels = list(dict.fromkeys(data["Niveau"]))
    kinds = list(dict.fromkeys(data["Type de soutien"]))
    values = {
        (k, lv): int(n)
        for k, lv, n in zip(
            data["Type de soutien"], data["Niveau"], data["Soutiens"], strict=True
        )
    }
    top = max(values.values(), default=0)
    rows = []
    for kind in kinds:
        tds = []
        for level in levels:
            n = values.get((kind, level), 0)
            if n:
                shade = palette.SEQUENTIAL[
                    min(int(n / top * (len(palette.SEQUENTIAL) - 1) + 0.5), 4)
                ]
                ink = "#fff" if shade in palette.SEQUENTIAL[3:] else "#222"
                style = f"background:{shade};color:{ink}"
                text = fr.integer(n)
            else:
                style, text = f"background:{palette.EMPTY_COLOR};color:#777", "—"
            tds.append(f'<td class="pres-cell" style="{style}">{text}</td>')
        rows.append(f"<tr><td>{html.escape(kind)}</td>{''.join(tds)}</tr>")
    head = "".join(
        f'<th class="pres-col">{html.escape(level)}</th>' for level in levels
    )
    table = (
        '<table class="pres-table" data-testid="pres-matrix">'
        f"<tr><th>Type de soutien</th>{head}</tr>{''.join(rows)}</table>"
    )
    left, right = st.columns([2.4, 1], gap="large")
    left.markdown(table, unsafe_allow_html=True)
    total = sum(values.values())
    right.markdown(
        count + '<div class="pres-legend pres-explain"><p>Nombre de soutiens recensés '
        "dans l'atlas, "
        "par niveau de la collectivité qui soutient et par type de soutien "
        f"({fr.count(total, 'soutien', 'soutiens')}) ; plus la case est foncée, "
        "plus ils sont nombreux.</p></div>",
        unsafe_allow_html=True,
    )


def _ways(selection, count: str) -> None:
    items = "".join(f"<li>{html.escape(way)}</li>" for way in WAYS_TO_SUPPORT)
    counts = support_counts(selection.soutiens)
    rows = "".join(
        f'<tr><td title="{html.escape(definition(kind))}">'
        f"{html.escape(libelle(kind))}</td>"
        f'<td class="pres-num"><strong>{fr.integer(n)}</strong></td></tr>'
        for kind, n in counts.items()
    )
    left, right = st.columns([1.5, 1], gap="large")
    left.markdown(f'<ol class="pres-ways">{items}</ol>', unsafe_allow_html=True)
    right.markdown(
        count + '<table class="pres-table pres-mid" data-testid="pres-supports">'
        "<tr><th>Dans l'atlas, soutiens recensés par nature</th>"
        f"<th>Soutiens</th></tr>{rows}</table>",
        unsafe_allow_html=True,
    )


def _map(vue: Vue, selection, count: str) -> None:
    error = boundaries_error()
    if error:
        st.error(error, icon=":material/map:")
        return
    spec = describe_vue(vue, selection)
    built = map_layers(selection, spec)
    filters = vue.filters()
    base = base_for(filters.region, departements=filters.departements)
    left, right = st.columns([2.2, 1], gap="medium")
    with left, st.container(key="pres_map"):
        # The bounds the script fits the map to once it has its height.
        st.markdown(
            f'<span hidden data-bounds="{html.escape(json.dumps(spec.bounds))}">'
            "</span>",
            unsafe_allow_html=True,
        )
        # One map per vue: changing vue fits the new extent.
        st_folium(
            base,
            key=f"pres-carte-{vue_key(vue)}",
            height=480,
            use_container_width=True,
            feature_group_to_add=built.groups,
            returned_objects=[],
        )
    right.markdown(count + legend_html(spec), unsafe_allow_html=True)


def vue_key(vue: Vue) -> str:
    """Return a short stable key of what a vue's map shows."""
    text = json.dumps(vue.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


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


# size: the editor's permission checks, copy form and one button per action,
# each with its callback and arguments, in the order they appear on screen.
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

