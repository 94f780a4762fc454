"""Territoires et sources: find a commune's territories; data sources and cache."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo.boundaries import ATTRIBUTION, CacheMissing, status
from geo.lookup import find_places
from geo.reference import load_reference
from lib import fr

_QUERY_PARAM = "commune"


def render() -> None:
    st.title("Territoires et sources")
    _search()
    _sources()
    _cache()


def _search() -> None:
    st.subheader("Rattachements d'une commune")
    query = st.text_input(
        "Code INSEE (actuel ou ancien), code postal ou nom de commune",
        value=st.query_params.get(_QUERY_PARAM, ""),
        placeholder="44003, 44150, Ancenis-Saint-Géréon…",
    )
    if query:
        st.query_params[_QUERY_PARAM] = query
    else:
        st.query_params.pop(_QUERY_PARAM, None)
        return
    rows = find_places(query)
    if not rows:
        st.warning(f"Aucune commune trouvée pour « {query} ».")
        return
    st.dataframe(
        fr.table(pd.DataFrame(rows)),
        hide_index=True,
        width="stretch",
        placeholder=fr.MISSING,
    )


def _sources() -> None:
    st.subheader("Sources et licences")
    ref = load_reference()
    # Only the numbers are written by lib.fr: the text keeps its commas.
    st.markdown(
        f"""
- **Référentiel** : Code officiel géographique 2026 (INSEE) et EPCI 2026 (DGCL),
  paquet npm `@etalab/decoupage-administratif@6.0.0`, Licence Ouverte —
  {fr.count(len(ref.communes), "commune")}, {fr.integer(len(ref.epci))} EPCI.
- **Contours** : IGN Admin Express COG 2018 via france-geojson, Licence Ouverte,
  rattachés au COG 2026 (communes fusionnées depuis 2018 regroupées).
- **Carte** : Leaflet et ses extensions, servis par l'application (aucun CDN).
"""
    )
    st.caption(ATTRIBUTION)


def _cache() -> None:
    st.subheader("Cache des contours")
    try:
        report = status()
    except CacheMissing as exc:
        st.error(str(exc))
        return
    levels = pd.DataFrame(
        [
            {
                "Niveau": _LEVELS.get(level, level),
                "Territoires": fr.integer(info["features"]),
                **{
                    f"{zone_label}, {detail_label}": fr.file_size(
                        info["geojson_bytes"].get(zone, {}).get(detail)
                    )
                    for zone, zone_label in _ZONES.items()
                    for detail, detail_label in _DETAILS.items()
                },
            }
            for level, info in report["levels"].items()
        ]
    )
    st.dataframe(
        levels,
        hide_index=True,
        width="stretch",
        placeholder=fr.MISSING,
        alt="Taille des contours par niveau",
        # Numbers written by lib.fr (text): aligned right as numbers are.
        column_config={
            c: st.column_config.TextColumn(alignment="right")
            for c in levels.columns
            if c != "Niveau"
        },
    )
    st.caption(
        "Contours simplifiés : vue de la France entière ; détaillés : vue "
        "d'une région ou d'un département (les communes n'ont que ceux-là)."
    )
    missing = report["communes_sans_contour"]
    ref = load_reference()
    n = missing["count"]
    with st.expander(
        f"{fr.count(n, 'commune actuelle', 'communes actuelles')} sans contour "
        "dans la source"
    ):
        st.dataframe(
            pd.DataFrame(
                fr.sorted_fr(
                    [
                        {"Code": c, "Commune": ref.communes[c].nom}
                        for c in missing["codes"]
                    ],
                    key=lambda row: row["Commune"],
                ),
                columns=["Code", "Commune"],
            ),
            hide_index=True,
            width="stretch",
            placeholder=fr.MISSING,
        )
    # Never the server's path (the page is public), nor an ISO timestamp.
    source = report["source"]
    files = source.get("files")
    st.caption(
        f"Construit le {fr.date_time(report['built_at'])} en "
        f"{fr.number(report['duration_s'], 1)}{_NBSP}s à partir des contours "
        "france-geojson" + (f" ({fr.count(files, 'fichier')})" if files else "") + "."
    )


#: The levels of the cache, as a person says them.
_LEVELS = {
    "commune": "Communes",
    "epci": "EPCI",
    "departement": "Départements",
    "region": "Régions",
}
#: Zones and levels of detail of the GeoJSON files.
_ZONES = {"france": "France", "pays_de_la_loire": "Pays de la Loire"}
_DETAILS = {"national": "contours simplifiés", "regional": "contours détaillés"}
_NBSP = "\u00a0"

