"""Rendering: one description of a map vue, drawn by every renderer.

The description (:mod:`lib.rendering.vue`) is drawn by the web maps (folium,
:mod:`lib.rendering.web`) and by the print maps and slides (matplotlib,
:mod:`lib.rendering.print`); the charts are Altair's.
"""

__all__ = [
    "charts",
    "framing",
    "palette",
    "print",
    "vue",
    "web",
]
