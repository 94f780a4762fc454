"""One description of a map vue, drawn alike by every renderer (issue 12).

For one selection, the legend read back from each output — the folium map's
HTML, the static export (SVG of the very figure, and the PNG's pixels), the
slide and the offline HTML file — is the same list of labels and colours,
the list of :func:`lib.rendering.vue.describe`.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image

from lib.domain.recits import Vue
from lib.domain.selection import Filters
from lib.rendering.vue import describe_vue, vue_source_line

WHEN = date(2026, 5, 1)
COUCHES = ("ptce", "choro", "soutiens")


@pytest.fixture(scope="module")
def demo(built_cache):
    from geo.lookup import commune_points
    from lib.domain.selection import build_frames
    from lib.io.demo import load_demo_file

    return build_frames(load_demo_file()[0], commune_points())


@pytest.fixture(scope="module")
def vue():
    # Pays de la Loire: PTCE by filière, classes, supports of every level.
    return Vue("Soutiens en Pays de la Loire", couches=COUCHES)


@pytest.fixture(scope="module")
def spec(demo, vue):
    return describe_vue(vue, demo.filtered(vue.filters()), WHEN)


def _folium_entries(html: str) -> list[tuple[str, str, str]]:
    """The legend drawn by lib.rendering.web.maps.MapLegend, read from the page's
    script."""
    found = re.findall(r"const spec = (\{.*?\});\n", html)
    legends = [json.loads(text) for text in found if '"sections"' in text]
    assert len(legends) == 1, "one legend per map"
    return [
        (s["title"], k["label"], k["color"])
        for s in legends[0]["sections"]
        for k in s["keys"]
    ]


_SVG = "{http://www.w3.org/2000/svg}"


def _svg_entries(svg: bytes, spec) -> list[tuple[str, str, str]]:
    """The legend keys of a matplotlib SVG: colour of ``legend-key-<i>``, text
    of ``legend-label-<i>``; section titles are matched in the text."""
    root = ElementTree.fromstring(svg)
    groups = {g.get("id"): g for g in root.iter(f"{_SVG}g") if g.get("id")}
    defs = {p.get("id"): p for p in root.iter(f"{_SVG}path") if p.get("id")}
    texts = [" ".join("".join(t.itertext()).split()) for t in root.iter(f"{_SVG}text")]
    entries, i = [], 0
    titles = iter(s.title for s in spec.sections for _ in s.keys)
    while f"legend-key-{i}" in groups:
        key = groups[f"legend-key-{i}"]
        styles = " ".join(el.get("style") or "" for el in key.iter())
        for use in key.iter(f"{_SVG}use"):
            ref = use.get("{http://www.w3.org/1999/xlink}href", "").lstrip("#")
            styles += " " + (defs[ref].get("style") or "" if ref in defs else "")
        colours = {c.upper() for c in re.findall(r"#[0-9a-fA-F]{6}", styles)}
        label = " ".join(
            " ".join("".join(t.itertext()).split())
            for t in groups[f"legend-label-{i}"].iter(f"{_SVG}text")
        )
        title = next(titles)
        assert title in texts, title
        expected = spec.legend_entries()[i][2].upper()
        # The colour the key is painted in, or all of them (then unequal).
        colour = expected if expected in colours else ",".join(sorted(colours))
        entries.append((title, label, colour))
        i += 1
    return entries


def _normal(entries):
    return [(t, " ".join(label.split()), c.upper()) for t, label, c in entries]


def test_every_renderer_draws_the_same_legend(demo, vue, spec, tmp_path):
    from lib.rendering.print.slides import slide_figure
    from lib.rendering.print.static_map import map_figure, save_figure
    from lib.rendering.web.carte import base_for, map_layers, offline_map

    expected = _normal(spec.legend_entries())
    layers = {s.layer for s in spec.sections}
    # The selection draws every kind of layer the comparison is about.
    assert {"choro", "ptce", "soutiens", "contours"} <= layers
    assert len(expected) >= 8
    selection = demo.filtered(vue.filters())

    # Web map (folium), as the Carte and the Présentation draw it.
    built = map_layers(selection, spec)
    m = base_for(spec.region)
    for group in built.groups:
        group.add_to(m)
    web = _folium_entries(m.get_root().render())

    # Static export (the PNG's figure, saved as SVG to read its text).
    fig = map_figure(selection, title=spec.title, spec=spec, dpi=72)
    static = _svg_entries(save_figure(fig, "svg", 72, spec.title), spec)

    # Slide of the vue.
    fig = slide_figure(vue, selection, [], when=WHEN)
    slide = _svg_entries(save_figure(fig, "svg", 72, vue.titre), spec)

    # Offline HTML file.
    page = offline_map(
        selection,
        maille=spec.maille,
        indicateur=spec.indicateur,
        methode=spec.methode,
        region=spec.region,
        couches=spec.couches,
        title=spec.title,
        when=WHEN,
    ).decode()
    offline = _folium_entries(page)

    assert _normal(web) == expected
    assert _normal(static) == expected
    assert _normal(slide) == expected
    assert _normal(offline) == expected


def test_png_shows_every_legend_colour(demo, vue, spec):
    """Every key's colour is painted in the legend column of the PNG."""
    from lib.rendering.print.static_map import render_map

    selection = demo.filtered(vue.filters())
    png = render_map(
        selection, title=spec.title, supports=True, dpi=100, when=WHEN, fmt="png"
    )
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    legend = image[:, int(image.shape[1] * 0.7) :].reshape(-1, 3)
    painted = {"#{:02X}{:02X}{:02X}".format(*p) for p in np.unique(legend, axis=0)}
    for section in spec.sections:
        for key in section.keys:
            if key.kind == "hatch":
                continue
            assert key.color.upper() in painted, (section.title, key.label)


def test_legend_says_what_is_drawn(demo):
    from lib.rendering.vue import describe

    selection = demo.filtered(Filters())
    only_points = describe(selection, couches=("ptce",))
    assert [s.layer for s in only_points.sections] == ["ptce", "contours"]
    drawn = set(selection.ptce.loc[selection.ptce["lat"].notna(), "filiere"])
    listed = {k.label for k in only_points.sections[0].keys if k.kind == "disc"}
    assert listed == drawn & listed and listed
    nothing = describe(selection.filtered(Filters(filieres=("aucune",))))
    assert [s.layer for s in nothing.sections] == ["choro", "contours"]


def test_sources_line_names_every_source_and_the_placement(demo, spec, vue):
    selection = demo.filtered(vue.filters())
    line = spec.source_line()
    for row in selection.ptce["sources"]:
        for libelle in row:
            assert libelle.split(" — ")[0] in line
    for libelle in selection.soutiens["source"].dropna():
        assert libelle.split(" — ")[0] in line
    assert "Contours" in line
    placed = selection.ptce["placement"]
    n = int(placed.isin(("département", "région")).sum())
    assert f"{n} au chef-lieu" in line
    assert vue_source_line(vue, selection) == line


def _seed(name: str, line: str) -> bool:
    # The guide, cited as « RTES/CRESS PdL » by the data and « RTES / CRESS
    # Pays de la Loire » by the vue's text: named once.
    return "RepèrESS n°10" in name and "RepèrESS n°10" in line


def test_every_recit_vue_names_every_source_it_draws(demo):
    """Each vue's source line: sources of its PTCE and supports, placement."""
    from lib.domain.recits import default_recit, figures_of
    from lib.io.demo import load_demo_file

    faits = load_demo_file()[1]
    story = default_recit(list(demo.ptce.index))
    for vue in story.vues:
        selection = demo.filtered(vue.filters())
        line = vue_source_line(vue, selection, faits)
        where = vue.titre
        if vue.genre == "carte":
            for row in selection.ptce["sources"]:
                for libelle in row:
                    name = libelle.split(" — ")[0]
                    # One document under two spellings is named once.
                    assert name in line or _seed(name, line), (where, name)
            if "soutiens" in vue.couches:
                for libelle in selection.soutiens["source"].dropna():
                    name = libelle.split(" — ")[0]
                    assert name in line or _seed(name, line), (where, name)
            assert "PTCE placé" in line and "Contours" in line, where
        elif vue.genre == "chiffres":
            for fait in figures_of(faits, vue.sujets):
                assert fait.source.libelle.split(" — ")[0] in line, where
        else:
            for libelle in selection.soutiens["source"].dropna():
                name = libelle.split(" — ")[0]
                assert name in line or _seed(name, line), (where, name)
        assert line.startswith("Sources : "), where
