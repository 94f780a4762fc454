"""Colours that can be on the map together stay apart (CIEDE2000).

Distances are CIEDE2000 (ΔE00) in CIELAB (D65), computed with colour-science,
for normal vision and under simulated deuteranopia and protanopia: the
dichromat's view of an sRGB colour is the Machado, Oliveira & Fernandes
(2009) matrix at severity 1, applied to linear RGB.

What must be told apart, and the floors:

- ΔE00 ≈ 1 is a just-noticeable difference between two large patches side by
  side. Map marks are small (14 px discs, 2–3 px lines) and seen apart, which
  needs several times more (Szafir, "Modeling Color Difference for
  Visualization Design", IEEE VIS 2017). Categorical palettes are commonly
  held to ΔE00 ≥ 10; **categorical pairs** here (filière / filière, level /
  level, filière / level) must reach **15 for normal vision**.
- Under deuteranopia and protanopia no palette of fourteen filières keeps
  such distances (Paul Tol's colour-blind-safe "muted" stops at nine
  colours). The floor there is **8** for categorical pairs: still clearly
  different side by side in the legend, not always at a glance; the filière
  is also named in every marker's tooltip and popup, and support levels also
  differ by dash pattern and width (checked below), so colour is never the
  only cue.
- **Neutral versus chromatic** (the white cluster bubble against every
  filière colour and support ink) relies on lightness and chroma, which
  dichromacy does not remove: **15 in every vision**. A cluster must never be
  read as a filière.
- **A mark against what lies under it**: a PTCE marker, a cluster or a
  support line is drawn with two edges, one light and one dark (the marker's
  white and dark rings, the cluster's white fill and dark outline, the line's
  white casing and dark ink). On every fill that can be under it (each
  choropleth class, "aucun PTCE", any other fill the choropleth module
  defines such as "hors sélection", and the map background) the edge that
  contrasts more must reach **20 in every vision**, whatever the filière:
  the "sport et santé" marker no longer vanishes on the darkest class.
- **Choropleth classes** are ordered by lightness; neighbouring classes, and
  "aucun PTCE" against the lightest class, must stay ≥ 5 apart in every
  vision (the classes are also told by the legend's order).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():
    # colour-science warns that SciPy is absent: nothing used here needs it.
    warnings.simplefilter("ignore")
    import colour

from lib.analysis import choropleth
from lib.rendering import palette

VISIONS = {
    "vision normale": None,
    "deutéranopie": "Deuteranomaly",
    "protanopie": "Protanomaly",
}
CATEGORICAL = {"vision normale": 15.0, "deutéranopie": 8.0, "protanopie": 8.0}
NEUTRAL = 15.0
UNDER = 20.0
CLASSES = 5.0


def _lab(hex_colour: str, deficiency: str | None) -> np.ndarray:
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    if deficiency is not None:
        matrix = colour.blindness.matrix_cvd_Machado2009(deficiency, 1.0)
        linear = np.clip(matrix @ colour.models.eotf_sRGB(rgb), 0, 1)
        rgb = colour.models.eotf_inverse_sRGB(linear)
    return colour.XYZ_to_Lab(colour.sRGB_to_XYZ(rgb))


def delta_e(a: str, b: str, deficiency: str | None = None) -> float:
    """CIEDE2000 distance between two sRGB colours, as seen by a vision."""
    return float(
        colour.delta_E(_lab(a, deficiency), _lab(b, deficiency), method="CIE 2000")
    )


def _fills() -> dict[str, str]:
    """Every fill that can lie under a mark: classes, other fills, background."""
    fills = {f"classe {i + 1}": c for i, c in enumerate(choropleth.SEQUENTIAL)}
    for name, value in vars(choropleth).items():
        if name.endswith("_COLOR") and isinstance(value, str):
            fills[name] = value
    fills["fond de carte"] = palette.BACKGROUND
    return fills


def _closest(pairs, deficiency):
    return min((delta_e(a, b, deficiency), x, y) for (x, a), (y, b) in pairs)


@pytest.mark.parametrize("vision", VISIONS)
def test_filieres_apart(vision):
    pairs = itertools.combinations(palette.FILIERE_COLORS.items(), 2)
    distance, a, b = _closest(pairs, VISIONS[vision])
    assert distance >= CATEGORICAL[vision], f"{a} / {b} : {distance:.1f}"


@pytest.mark.parametrize("vision", VISIONS)
def test_support_levels_apart_from_each_other_and_from_filieres(vision):
    levels = palette.LEVEL_COLORS.items()
    pairs = [
        *itertools.combinations(levels, 2),
        *itertools.product(levels, palette.FILIERE_COLORS.items()),
    ]
    distance, a, b = _closest(pairs, VISIONS[vision])
    assert distance >= CATEGORICAL[vision], f"{a} / {b} : {distance:.1f}"


def test_support_levels_also_differ_by_line():
    styles = {
        (palette.LEVEL_DASH[n], palette.LEVEL_WEIGHT[n]) for n in palette.LEVEL_COLORS
    }
    assert len(styles) == len(palette.LEVEL_COLORS)


@pytest.mark.parametrize("vision", VISIONS)
def test_clusters_never_look_like_a_filiere_or_a_level(vision):
    others = {**palette.FILIERE_COLORS, **palette.LEVEL_COLORS}
    pairs = [(("bulle", palette.CLUSTER_FILL), item) for item in others.items()]
    distance, a, b = _closest(pairs, VISIONS[vision])
    assert distance >= NEUTRAL, f"{a} / {b} : {distance:.1f}"


def _edges():
    """The two edges (light, dark) of every kind of mark."""
    yield "marqueur PTCE", (palette.HALO_LIGHT, palette.HALO_DARK)
    yield "bulle", (palette.CLUSTER_FILL, palette.CLUSTER_INK)
    for level, ink in palette.LEVEL_COLORS.items():
        yield f"ligne {level}", (palette.LINE_CASING, ink)


@pytest.mark.parametrize("vision", VISIONS)
def test_every_mark_stands_out_on_every_fill(vision):
    deficiency = VISIONS[vision]
    weakest = min(
        (max(delta_e(edge, fill, deficiency) for edge in edges), mark, name)
        for mark, edges in _edges()
        for name, fill in _fills().items()
    )
    distance, mark, name = weakest
    assert distance >= UNDER, f"{mark} sur {name} : {distance:.1f}"


@pytest.mark.parametrize("vision", VISIONS)
def test_choropleth_classes_apart(vision):
    deficiency = VISIONS[vision]
    classes = list(choropleth.SEQUENTIAL)
    steps = [delta_e(a, b, deficiency) for a, b in itertools.pairwise(classes)]
    steps.append(delta_e(choropleth.EMPTY_COLOR, classes[0], deficiency))
    assert min(steps) >= CLASSES, steps


def test_the_measure_is_ciede2000():
    # Sharma, Wu & Dalal (2005), test pair 1 of their CIEDE2000 data set.
    pair = np.array([[50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485]])
    assert colour.delta_E(*pair, method="CIE 2000") == pytest.approx(2.0425, abs=1e-4)
    # A dichromat cannot tell red from green as well as normal vision does.
    assert delta_e("#FF0000", "#00AA00", "Deuteranomaly") < delta_e(
        "#FF0000", "#00AA00"
    )


def test_maps_and_exports_read_the_palette():
    from lib.rendering.print import static_map
    from lib.rendering.web import maps

    assert maps.FILIERE_COLORS is palette.FILIERE_COLORS
    assert maps.LEVEL_COLORS is palette.LEVEL_COLORS
    assert static_map.FILIERE_COLORS is palette.FILIERE_COLORS


def test_fiche_timeline_colours_levels_as_the_map():
    from lib.analysis.fiche import timeline_frame
    from lib.domain.model import NIVEAU_LABELS, Ptce, Soutien
    from lib.rendering.charts import timeline_chart

    record = Ptce(
        id="t", nom="T", departement="44", region="52",
        soutiens=(Soutien("region", "52", "investissement", annee_debut=2020),),
    )  # fmt: skip
    spec = timeline_chart(timeline_frame(record)).to_dict()
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"] == list(NIVEAU_LABELS.values())
    assert scale["range"] == [palette.LEVEL_COLORS[n] for n in NIVEAU_LABELS]
