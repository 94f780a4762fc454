"""Accueil: France's régions and départements, and the EPCI of Pays de la Loire."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from geo.boundaries import ATTRIBUTION, PAYS_DE_LA_LOIRE
from lib.fr import integer, plural
from lib.rendering.web.maps import STYLES, home_map
from views import (
    attribution,
    boundaries_error,
    get_store,
    load_geojson,
)

_TILES_PARAM = "fond"


def render() -> None:
    st.title("Atlas des PTCE")
    st.markdown(
        "Les **Pôles Territoriaux de Coopération Économique** (PTCE, article 9 "
        "de la loi ESS de 2014) et les collectivités — région, département, "
        "EPCI, commune — qui les soutiennent. La carte montre les régions et "
        "départements de France et les EPCI des Pays de la Loire, tracés à "
        "partir de nos propres données (aucune connexion requise)."
    )
    _data_line()
    error = boundaries_error()
    if error:
        st.error(error, icon=":material/map:")
        return

    tiles = st.toggle(
        "Fond OpenStreetMap (nécessite une connexion Internet)",
        value=st.query_params.get(_TILES_PARAM) == "osm",
    )
    if tiles:
        st.query_params[_TILES_PARAM] = "osm"
    else:
        st.query_params.pop(_TILES_PARAM, None)

    m = home_map(
        regions=load_geojson("region", "national"),
        departements=load_geojson("departement", "national"),
        epci=load_geojson("epci", "regional", PAYS_DE_LA_LOIRE),
        tiles=tiles,
        attribution=ATTRIBUTION,
    )
    st_folium(
        m,
        key="carte-accueil",
        height=620,
        use_container_width=True,
        returned_objects=[],
    )
    _legend()
    attribution()


def _data_line() -> None:
    counts = get_store().count_by_origine()
    total = sum(counts.values())
    demo = counts.get("démonstration", 0)
    if not total:
        st.info("La base ne contient encore aucun PTCE.")
        return
    parts = [f"**{integer(total)} PTCE** dans la base"]
    if demo:
        parts.append(
            f"dont {integer(demo)} {plural(demo, 'issu')} des **données de "
            "démonstration** (faits sourcés uniquement : chaque fiche cite sa source)"
        )
    st.markdown(", ".join(parts) + ".")


def _legend() -> None:
    items = " ".join(
        f'<span style="display:inline-flex;align-items:center;margin-right:1.2em">'
        f'<span style="width:1.4em;height:0.9em;margin-right:0.4em;'
        f"border:{max(s.weight, 1):.0f}px solid {s.color};"
        f'background:{s.fill_color if s.fill_opacity else "transparent"}"></span>'
        f"{label}</span>"
        for s, label in [
            (STYLES["region"], "Régions"),
            (STYLES["departement"], "Départements"),
            (STYLES["epci"], "EPCI des Pays de la Loire"),
        ]
    )
    st.markdown(items, unsafe_allow_html=True)

