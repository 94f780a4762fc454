"""Atlas des PTCE — entry point: global configuration and navigation."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages import accueil, sources


def main() -> None:
    """Configure the page and run the page chosen in the navigation."""
    st.set_page_config(
        page_title="Atlas des PTCE",
        page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),
        layout="wide",
    )
    page = st.navigation(
        [
            st.Page(
                accueil.render,
                title="Accueil",
                icon=":material/map:",
                url_path="accueil",
                default=True,
            ),
            st.Page(
                sources.render,
                title="Territoires et sources",
                icon=":material/travel_explore:",
                url_path="sources",
            ),
        ]
    )
    page.run()


if __name__ == "__main__":
    main()
