"""Territoires et sources: find a commune's territories; data sources and cache."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo.boundaries import ATTRIBUTION, CacheMissing, shown_path, status
from geo.lookup import find_places
from geo.reference import load_reference
from pages import run_app

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
    st.dataframe(pd.DataFrame(rows), hide_index=True, use_container_width=True)


def _sources() -> None:
    st.subheader("Sources et licences")
    ref = load_reference()
    st.markdown(
        f"""
- **Référentiel** : Code officiel géographique 2026 (INSEE) et EPCI 2026 (DGCL),
  paquet npm `@etalab/decoupage-administratif@6.0.0`, Licence Ouverte —
  {len(ref.communes):,} communes, {len(ref.epci):,} EPCI.
- **Contours** : IGN Admin Express COG 2018 via france-geojson, Licence Ouverte,
  rattachés au COG 2026 (communes fusionnées depuis 2018 regroupées).
- **Carte** : Leaflet et ses extensions, servis par l'application (aucun CDN).
""".replace(",", "\u202f")
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
                "Niveau": level,
                "Territoires": info["features"],
                "GeoJSON France (Ko)": _kb(info["geojson_bytes"]["france"]),
                "GeoJSON Pays de la Loire (Ko)": _kb(
                    info["geojson_bytes"]["pays_de_la_loire"]
                ),
            }
            for level, info in report["levels"].items()
        ]
    )
    st.dataframe(levels, hide_index=True, use_container_width=True)
    missing = report["communes_sans_contour"]
    ref = load_reference()
    with st.expander(
        f"{missing['count']} communes actuelles sans contour dans la source"
    ):
        st.dataframe(
            pd.DataFrame(
                [{"Code": c, "Commune": ref.communes[c].nom} for c in missing["codes"]]
            ),
            hide_index=True,
            use_container_width=True,
        )
    # Never the server's own path: the page is public.
    source = shown_path(
        report["source"]["path"], "le dossier des contours (PTCE_GEO_SOURCE)"
    )
    st.caption(
        f"Construit le {report['built_at']} en {report['duration_s']} s depuis "
        f"{source}."
    )


def _kb(sizes: dict[str, int]) -> str:
    return " / ".join(f"{detail} {n / 1000:.0f}" for detail, n in sizes.items())


if __name__ == "__main__":
    run_app()
