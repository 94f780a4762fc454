"""Atlas des PTCE — entry point: configuration and navigation, nothing else.

The views live in :mod:`views`; the filters shared by every view in
:mod:`views.filters`; the domain in :mod:`lib`.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import streamlit as st

from lib.domain.errors import explain
from views import (
    accueil,
    annuaire,
    carte,
    collectivites,
    database_notice,
    donnees,
    presentation,
    reperes,
    sources,
    statistiques,
)
from views.filters import filters_sidebar

_LOG = logging.getLogger("atlas")


def _page(module, title: str, icon: str, path: str, **options) -> st.Page:
    options.setdefault("url_path", path)
    return st.Page(module.render, title=title, icon=f":material/{icon}:", **options)


def main() -> None:
    """Configure the page, draw the shared filters and run the chosen view."""
    st.set_page_config(
        page_title="Atlas des PTCE",
        page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),
        layout="wide",
    )
    # (module, title, icon, URL path), in menu order; the first is the home.
    menu = [
        (accueil, "Accueil", "map", "accueil"),
        (carte, "Carte", "location_on", "carte"),
        (annuaire, "Annuaire", "list_alt", "annuaire"),
        (collectivites, "Collectivités", "account_balance", "collectivites"),
        (statistiques, "Statistiques", "bar_chart", "statistiques"),
        (presentation, "Présentation", "slideshow", "presentation"),
        (reperes, "Repères", "menu_book", "reperes"),
        (donnees, "Données", "edit_note", "donnees"),
        (sources, "Territoires et sources", "travel_explore", "sources"),
    ]
    # The home is served at "/" only, whatever its url_path: a hidden page
    # answers "/accueil", which Streamlit would otherwise meet with an
    # English "Page not found" before running the home.
    pages = [
        _page(*menu[0], url_path="accueil-racine", default=True),
        *(_page(*item) for item in menu[1:]),
        _page(*menu[0], visibility="hidden"),
    ]
    page = st.navigation(pages)
    try:
        database_notice()  # a damaged or missing database: said before all else
        filters_sidebar()
        page.run()
    except Exception as exc:
        ref = uuid.uuid4().hex[:8]
        _LOG.exception("Erreur %s sur la page « %s »", ref, page.title)
        # One error path: a known failure (locked, read-only, full, damaged
        # database…) says what to do; anything else, its reference in the log.
        st.error(explain(exc, for_app=True, ref=ref), icon=":material/error:")


if __name__ == "__main__":
    main()
