"""Pages of the atlas, and the Streamlit helpers they share.

Each page module holds one ``render()`` function that ``app.py`` registers
with ``st.navigation``. The helpers below are the only place where pages
load cached data, so that no page reads or simplifies geodata itself.

Why each page module ends with a ``__main__`` guard: when the folder next to
the entry point is called ``pages/``, Streamlit runs the *first* script run
after the server starts in its legacy multipage mode, executing a page file
on its own when that first request is a deep link (``/sources``). The guard
hands such a run over to ``app.main()``, whose ``st.navigation`` call ends
that mode and renders the requested page with the whole app around it.
"""

from __future__ import annotations

import streamlit as st

from geo.boundaries import ATTRIBUTION, CacheMissing, geojson
from geo.build import cache_dir
from lib.store import Store, database_url


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    # One engine (connection pool) shared by every session: a thread-safe
    # handle, hence cache_resource.
    return Store(url)


def get_store() -> Store:
    """Return the store of ``DATABASE_URL`` (default ``data/atlas.sqlite``)."""
    return _store(database_url())


def load_geojson(
    level: str, detail: str = "national", region: str | None = None
) -> str:
    """Return the compact GeoJSON of a level (read once, shared by sessions)."""
    return _load_geojson(level, detail, region, str(cache_dir()))


# The text is immutable, so one copy is shared by every session (no per-rerun
# copy of hundreds of kilobytes); the cache folder is part of the key.
@st.cache_resource(show_spinner="Chargement des contours…")
def _load_geojson(level: str, detail: str, region: str | None, folder: str) -> str:
    del folder  # only part of the cache key: geojson() reads cache_dir() itself
    return geojson(level, detail, region)


def boundaries_error() -> str | None:
    """Return a French explanation when the boundary cache is unusable."""
    try:
        load_geojson("region")
    except CacheMissing as exc:
        return (
            f"{exc} Si la source des contours n'est pas dans "
            "../shared/geo/france-geojson-2018, indiquez son chemin dans la "
            "variable d'environnement PTCE_GEO_SOURCE (dossier france-geojson "
            "ou fichier IGN ADMIN EXPRESS COG), puis relancez « make run »."
        )
    return None


def attribution() -> None:
    """Show the data sources and licences line under a map."""
    st.caption(ATTRIBUTION)


def run_app() -> None:
    """Run the whole app (used by the ``__main__`` guard of each page)."""
    from app import main

    main()
