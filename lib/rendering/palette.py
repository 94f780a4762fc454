"""Every colour the maps draw with, in one place, and why each was chosen.

The interactive map (folium, :mod:`lib.rendering.web.maps`), the static exports
(matplotlib, :mod:`lib.rendering.print.static_map`) and the legends read their colours
here,
so a PTCE of a filière has the same colour on screen, on paper and in the
legend. ``tests/test_palette.py`` measures the CIEDE2000 distance between
every pair of colours that can be on the map together, for normal vision and
under simulated deuteranopia and protanopia (Machado et al. 2009), and fails
when one falls below the floor it justifies.

Three families never share a look:

- **PTCE markers** are discs in a *chromatic* filière colour, ringed white
  then dark (:data:`HALO_LIGHT`, :data:`HALO_DARK`): whatever the
  choropleth class below, one of the two rings stands out from it.
- **Clusters** of markers are *neutral*: a white bubble with a dark outline
  and the count written in it (:data:`CLUSTER_FILL`, :data:`CLUSTER_INK`);
  no filière is white, so a cluster never reads as a filière.
- **Support lines** ("qui soutient qui") are *dark* inks, one per level of
  collectivité, each with its own dash pattern (:data:`LEVEL_DASH`) and a
  white casing (:data:`LINE_CASING`): a line is a line, not a disc, and the
  dash tells the level even to a reader who cannot tell the inks apart.
"""

from __future__ import annotations

__all__ = [
    "BACKGROUND",
    "CLUSTER_FILL",
    "CLUSTER_INK",
    "EMPTY_COLOR",
    "FILIERE_COLORS",
    "HALO_DARK",
    "HALO_LIGHT",
    "LEVEL_COLORS",
    "LEVEL_DASH",
    "LEVEL_WEIGHT",
    "LINE_CASING",
    "SEQUENTIAL",
]

#: Colour per main filière (fill of the PTCE markers), plus "non renseignée".
#:
#: Thirteen filières are more categories than any colour-blind-safe palette
#: holds (Paul Tol's "muted" stops at nine), and Tol's scheme with four extra
#: colours had pairs at ΔE00 ≈ 6.5 for normal vision (énergie / textile,
#: culture / services) and ≈ 1.4 under protanopia (culture / autre). These
#: were picked greedily, farthest-first, from the sRGB cube restricted to
#: mid lightness (L* 38–82: never near the white of the clusters nor the
#: dark rings and support inks) and chroma above 30, maximising the smallest
#: distance to the colours already chosen under normal vision and both
#: simulated dichromacies; they were then given to filières by meaning
#: (green for the circular economy, orange for energy…). The two greys keep
#: their meaning: no specific filière.
FILIERE_COLORS = {
    "culture": "#FF66FF",
    "économie circulaire et déchets": "#22BB77",
    "alimentation et agriculture": "#DDCC55",
    "sport et santé": "#BB1122",
    "mobilité": "#0099AA",
    "énergie": "#FF6600",
    "habitat et bâtiment": "#884477",
    "numérique": "#6611FF",
    "tourisme": "#3377AA",
    "insertion et emploi": "#007744",
    "services à la personne": "#EEBBEE",
    "textile": "#DD2266",
    "autre": "#777777",
    "non renseignée": "#BBBBBB",
}

#: Inner ring of every PTCE marker: separates the fill from dark classes.
HALO_LIGHT = "#FFFFFF"
#: Outer ring of every PTCE marker: separates it from light classes. The same
#: ink outlines the clusters and writes their count.
HALO_DARK = "#333333"

#: Cluster bubble: white, so that no filière colour (all chromatic or mid
#: grey) can be taken for it, outlined and labelled in :data:`HALO_DARK`.
CLUSTER_FILL = "#FFFFFF"
CLUSTER_INK = HALO_DARK

#: Ink of the "qui soutient qui" lines and outlines, per level of the
#: supporting collectivité. Dark (L* 15–50), picked farthest-first from the
#: filière colours and from each other; the previous Okabe–Ito set gave the
#: "commune" the very pink of "culture".
LEVEL_COLORS = {
    "region": "#111155",
    "departement": "#441100",
    "epci": "#0044AA",
    "commune": "#AA55EE",
}
#: Dash pattern per level (SVG ``stroke-dasharray``): the level reads from
#: the line itself, without relying on colour.
LEVEL_DASH = {
    "region": None,
    "departement": "10 5",
    "epci": "4 4",
    "commune": "2 4",
}
#: Line width per level (pixels): wider for the larger collectivités.
LEVEL_WEIGHT = {"region": 3.0, "departement": 2.5, "epci": 2.5, "commune": 2.5}
#: White casing under each support line, so a dark ink stays visible over the
#: darkest choropleth class.
LINE_CASING = "#FFFFFF"

#: Choropleth classes, light to dark: ColorBrewer YlGnBu, whose lightness
#: rises steadily, so the order of the classes survives colour-vision
#: deficiencies (and grey-scale printing).
SEQUENTIAL = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
#: Territories with no PTCE at all.
EMPTY_COLOR = "#e6e6e6"
#: The map where no territory is drawn (sea, abroad).
BACKGROUND = "#e6edf2"
