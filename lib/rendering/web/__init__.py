"""Web maps with folium: the Carte, the fiche's map, the offline HTML file."""

__all__ = [
    "assets",
    "carte",
    "fiche_map",
    "maps",
    "offline",
]
