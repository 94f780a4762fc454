"""Analysis: statistics, choropleth values, territories, fiches, the guide's repères.

Tables and plain values computed from the selection; nothing drawn.
"""

__all__ = [
    "accompagner",
    "choropleth",
    "fiche",
    "layers",
    "reperes",
    "stats",
    "territoires",
]
