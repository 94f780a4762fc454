"""Carte: PTCE, choropleth by département or EPCI, territories and supports."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from geo.reference import load_reference
from lib import fr
from lib.analysis.choropleth import INDICATORS, METHOD_HELP, METHODS, summary
from lib.domain.model import LAYERS, MAILLES
from lib.rendering.print.static_map import export_filename, filters_subtitle, render_map
from lib.rendering.vue import view_bounds, view_title
from lib.rendering.web.carte import base_for, framing_layer, map_layers, offline_map
from views import (
    attribution,
    boundaries_error,
    current_filters,
    filtered,
    get_frames,
    markers,
    prepared_download,
    set_query_params,
    url_first,
)

_PARAMS = ("couches", "maille", "indicateur", "classes", "fond", "territoire")
#: Key of the map component (its last returned value is kept under it).
_MAP_KEY = "carte-explorateur"
#: What the map framed on the last run: (selection's key, territory chosen
#: then, territory framed or None for the selection).
_FRAMED = "_carte_cadrage"


#: Widget keys of the map options. Streamlit forgets a widget's state when
#: a run does not draw it (another page): their values are kept aside too.
_WIDGETS = ("carte_couches", "carte_maille", "carte_indicateur", "carte_classes")
_KEPT = "_carte_options"


def _options_from_url(params: dict[str, list[str]]) -> dict[str, object]:
    # Invalid values fall back to the defaults: a link typed by hand opens.
    def last(name: str, default: str, allowed) -> str:
        value = (params.get(name) or [default])[-1]
        return value if value in allowed else default

    couches = [c for c in params.get("couches", []) if c in LAYERS]
    return {
        "carte_couches": couches or ["ptce", "choro"],
        "carte_maille": last("maille", "departement", MAILLES),
        "carte_indicateur": last("indicateur", "nombre", INDICATORS),
        "carte_classes": last("classes", "quantiles", METHODS),
        "carte_fond": (params.get("fond") or [""])[-1] == "osm",
        "carte_territoire": (params.get("territoire") or [""])[-1],
    }


def render() -> None:
    # First run of the session: the URL decides the map options; back from
    # another view, the options kept aside come back.
    url_first("_carte_from_url", _options_from_url, kept=_KEPT)
    everything = get_frames()
    selection = filtered()
    st.title("Carte des PTCE")
    st.markdown(
        f'<p data-testid="ptce-counter" style="font-size:1.25rem">'
        f"<strong>{fr.integer(len(selection.ptce))} PTCE</strong> sur "
        f"{fr.integer(len(everything.ptce))}</p>",
        unsafe_allow_html=True,
    )
    error = boundaries_error()
    if error:
        st.error(error, icon=":material/map:")
        return
    _map_section(selection)


# A fragment: changing the layers, the grid or the indicator reruns the map
# and its legends only, not the whole app (filters, counters, other pages).
# size: one st.fragment: its widgets, map, URL state and exports must rerun
# together; its steps (map_layers, _exports, _territory_summary) are helpers.
@st.fragment
def _map_section(selection) -> None:
    filters = current_filters()
    # At 1440 px no option is cut (« Départements », « PTCE pour 100 000
    # habitants », « intervalles égaux », « Fond OSM »).
    cols = st.columns([2.3, 1.3, 2.15, 1.45, 1.2])
    couches = cols[0].multiselect(
        "Couches",
        list(LAYERS),
        key="carte_couches",
        format_func=LAYERS.get,
        placeholder="Aucune",
        select_all=False,
    )
    maille = cols[1].selectbox(
        "Maille", list(MAILLES), key="carte_maille", format_func=MAILLES.get
    )
    name = cols[2].selectbox(
        "Indicateur",
        list(INDICATORS),
        key="carte_indicateur",
        format_func=lambda k: INDICATORS[k][0],
    )
    method = cols[3].selectbox(
        "Classes",
        list(METHODS),
        key="carte_classes",
        format_func=METHODS.get,
        help="  \n".join(
            f"**{METHODS[key]}** : {text}." for key, text in METHOD_HELP.items()
        ),
    )
    tiles = cols[4].toggle("Fond OSM", key="carte_fond", help="Nécessite Internet")
    st.session_state[_KEPT] = {
        key: st.session_state[key] for key in (*_WIDGETS, "carte_fond")
    }

    region = filters.region
    built = map_layers(
        selection,
        maille=maille,
        indicateur=name,
        methode=method,
        region=region,
        couches=couches,
        markers=markers() if "ptce" in couches else None,
        departements=filters.departements,
        epci=filters.epci,
    )
    values, groups = built.values, built.groups
    if built.aggregated:
        st.info(
            f"{fr.integer(built.aggregated)} PTCE à placer : trop pour un point "
            "chacun. La carte les regroupe par EPCI (taille : nombre de PTCE ; "
            "couleur : filière la plus fréquente). Précisez les filtres "
            "(département, filière…) pour voir chaque PTCE."
        )

    # Rebuilt on each rerun but identical (stable ids): st_folium then only
    # swaps the feature groups, and the user's pan and zoom are kept. The
    # framing group fits the map when what is framed changes (see _framed).
    base = base_for(region, tiles)
    framing = framing_layer(
        region, filters.departements, filters.epci, _framed(region, filters)
    )
    output = st_folium(
        base,
        key=_MAP_KEY,
        height=640,
        use_container_width=True,
        feature_group_to_add=[*groups, framing],
        returned_objects=["last_active_drawing"],
    )
    set_query_params(
        {
            "couches": couches,
            "maille": maille if maille != "departement" else None,
            "indicateur": name if name != "nombre" else None,
            "classes": method if method != "quantiles" else None,
            "fond": "osm" if tiles else None,
            "territoire": _clicked(output) or st.session_state.get("carte_territoire"),
        },
        _PARAMS,
    )
    _unplaced(selection)
    attribution()
    _exports(selection, filters, maille, name, method, couches)
    _territory_summary(selection, values, built.outside)


def _exports(selection, filters, maille, name, method, couches) -> None:
    # Files are made only when asked for ("Préparer"), for this very view.
    region = filters.region
    title = view_title(region)
    subtitle = filters_subtitle(filters)
    view = {"maille": maille, "methode": method, "region": region}
    territoire = (st.session_state.get(_FRAMED) or (None, None, None))[2]
    signature = repr((filters, maille, name, method, list(couches), territoire))

    def static(fmt: str):
        return lambda: render_map(
            selection,
            indicateur=name if "choro" in couches else None,
            points="ptce" in couches,
            title=title,
            subtitle=subtitle,
            fmt=fmt,
            departements=filters.departements,
            epci=filters.epci,
            **view,
        )

    def interactive() -> bytes:
        return offline_map(
            selection,
            indicateur=name,
            couches=couches,
            title=title,
            departements=filters.departements,
            epci=filters.epci,
            territoire=territoire,
            subtitle=subtitle,
            **view,
        )

    with st.expander("Exporter cette carte", icon=":material/download:"):
        st.caption(
            "Carte fixe pour l'impression et les diaporamas (titre, légende, "
            "sources, date, échelle), ou carte interactive en un seul fichier "
            "HTML qui s'ouvre sans Internet."
        )
        cols = st.columns(4)
        exports = (
            ("png", "PNG 300 dpi", "image/png", static("png")),
            ("svg", "SVG", "image/svg+xml", static("svg")),
            ("pdf", "PDF", "application/pdf", static("pdf")),
            ("html", "HTML hors ligne", "text/html", interactive),
        )
        for col, (fmt, label, mime, make) in zip(cols, exports, strict=True):
            with col:
                prepared_download(
                    label,
                    f"carte_export_{fmt}",
                    make,
                    export_filename(title, fmt),
                    mime,
                    signature,
                    icon=":material/language:" if fmt == "html" else ":material/image:",
                )


def _framed(region, filters) -> str | None:
    """Return the clicked territory to frame, or None to frame the selection.

    A new click frames its territory; a change of région, départements or
    EPCI frames the selection again, even with a territory still chosen;
    anything else keeps what was framed. The click is read before the map is
    drawn (the component's value is already in the session state), so its
    territory is framed on this very run. A territory in the link is framed
    on the first run.
    """
    territoire = (
        _clicked(st.session_state.get(_MAP_KEY))
        or st.session_state.get("carte_territoire")
        or None
    )
    view = view_bounds(region, filters.departements, filters.epci)[0]
    last = st.session_state.get(_FRAMED)
    if last is None:
        framed = territoire
    elif last[0] != view:
        framed = None
    elif territoire and territoire != last[1]:
        framed = territoire
    else:
        framed = last[2]
    st.session_state[_FRAMED] = (view, territoire, framed)
    return framed


def _clicked(output) -> str | None:
    drawing = (output or {}).get("last_active_drawing") or {}
    props = drawing.get("properties") or {}
    code = props.get("code")
    if not code:
        return None
    level = props.get("niveau") or _level_of(str(code))
    value = f"{level}:{code}"
    st.session_state["carte_territoire"] = value
    return value


def _level_of(code: str) -> str:
    if len(code) == 9:
        return "epci"
    if len(code) == 5:
        return "commune"
    return "departement" if code in load_reference().departements else "region"


def _unplaced(selection) -> None:
    # The legend is drawn in the map itself (lib.rendering.web.maps.MapLegend), key for
    # key
    # as in every export of the view.
    unplaced = int(selection.ptce["lat"].isna().sum())
    if unplaced:
        st.caption(
            f"{fr.integer(unplaced)} PTCE sans localisation connue "
            + ("n'est pas" if unplaced < 2 else "ne sont pas")
            + " sur la carte."
        )


def _territory_summary(selection, values, outside=()) -> None:
    chosen = st.session_state.get("carte_territoire") or ""
    if ":" not in chosen:
        st.caption("Cliquez sur un territoire de la carte pour afficher sa synthèse.")
        return
    level, code = chosen.split(":", 1)
    info = summary(selection, level, code)
    if info is None:
        return
    st.subheader(f"{info['nom']} ({info['niveau']})")
    if code in outside:
        st.info(
            "Ce territoire est hors de la sélection (filtres Départements ou "
            "EPCI) : ses PTCE n'y sont pas comptés.",
            icon=":material/filter_alt_off:",
        )
    cols = st.columns(4)
    cols[0].metric("PTCE (siège)", fr.integer(info["ptce"]))
    cols[1].metric("Population", fr.integer(info["population"]))
    cols[2].metric("Soutiens reçus", fr.integer(info["soutiens"]))
    cols[3].metric("Montant connu", fr.euros(info["montant"]))
    if info["noms"]:
        st.dataframe({"PTCE": info["noms"]}, hide_index=True, use_container_width=True)

