"""Slides of a récit: one 16:9 PNG per vue, the whole récit as ZIP + PDF."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import replace
from datetime import date

import pytest
from PIL import Image
from pypdf import PdfReader

from lib.domain.recits import Recit, Vue, default_recit
from lib.domain.selection import build_frames
from lib.rendering.print.slides import pdf_name, recit_zip, slide, slide_names
from lib.store.ptce import Store

WHEN = date(2026, 11, 27)
NASTY = "../../x $y$ <b>"
SAFE_NAME = re.compile(r"^[0-9]{2,}-[a-z0-9]+(-[a-z0-9]+)*\.png$")


@pytest.fixture(scope="module")
def demo(built_cache, tmp_path_factory):
    """Demo store, its frames, the default récit and the sourced figures."""
    from geo.lookup import commune_points
    from lib.io.demo import install_demo

    path = tmp_path_factory.mktemp("slides") / "db.sqlite"
    store = Store(f"sqlite:///{path}")
    install_demo(store)
    frames = build_frames(store.load(), commune_points())
    story = default_recit(frames.ptce["id"])
    faits = store.faits()
    store.engine.dispose()
    return frames, story, faits


def select(frames):
    return lambda vue: frames.filtered(vue.filters())


def first_of(story: Recit, genre: str) -> Vue:
    return next(v for v in story.vues if v.genre == genre)


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        return image.size


@pytest.mark.parametrize("genre", ["carte", "chiffres", "matrice", "soutenir"])
def test_each_genre_renders_a_full_hd_png(demo, genre):
    frames, story, faits = demo
    vue = first_of(story, genre)
    data = slide(vue, select(frames)(vue), faits, when=WHEN)
    assert png_size(data) == (1920, 1080)


@pytest.mark.parametrize("genre", ["chiffres", "matrice", "soutenir"])
def test_slide_pdf_shows_count_source_and_date(demo, genre):
    frames, story, faits = demo
    vue = first_of(story, genre)
    selection = select(frames)(vue)
    data = slide(vue, selection, faits, fmt="pdf", when=WHEN)
    text = " ".join(PdfReader(io.BytesIO(data)).pages[0].extract_text().split())
    assert f"{len(selection.ptce)} PTCE" in text
    assert "27 novembre 2026" in text
    assert ("Source" in text) and (vue.titre.split()[0] in text)


def test_map_slide_pdf_keeps_count_and_source(demo):
    frames, story, faits = demo
    vue = first_of(story, "carte")
    selection = select(frames)(vue)
    data = slide(vue, selection, faits, fmt="pdf", when=WHEN)
    text = " ".join(PdfReader(io.BytesIO(data)).pages[0].extract_text().split())
    assert f"{len(selection.ptce)} PTCE" in text
    assert "RepèrESS" in text and "27 novembre 2026" in text


def test_unknown_format_is_refused(demo):
    frames, story, faits = demo
    vue = first_of(story, "matrice")
    with pytest.raises(ValueError, match="format"):
        slide(vue, select(frames)(vue), faits, fmt="gif")


def test_zip_holds_one_png_per_vue_in_order_and_one_pdf(demo):
    frames, story, faits = demo
    assert len(story.vues) >= 10
    data = recit_zip(story, select(frames), faits, when=WHEN)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        pngs = [n for n in names if n.endswith(".png")]
        assert pngs == slide_names(story)
        assert names == [*pngs, f"{story.id}.pdf"] == [*pngs, pdf_name(story)]
        for i, name in enumerate(pngs, 1):
            assert SAFE_NAME.match(name) and name.startswith(f"{i:02d}-")
            assert png_size(archive.read(name)) == (1920, 1080)
        assert {info.date_time[:3] for info in archive.infolist()} == {(2026, 11, 27)}
        pdf = PdfReader(io.BytesIO(archive.read(pdf_name(story))))
    assert len(pdf.pages) == len(story.vues)
    # Pages follow the vues: each page shows its vue's title (vector text).
    for page, vue in zip(pdf.pages, story.vues, strict=True):
        text = " ".join(page.extract_text().split())
        assert " ".join(vue.titre.split()[:3]) in text


def test_nasty_title_renders_and_gets_a_safe_name(demo):
    frames, story, faits = demo
    vues = (
        replace(first_of(story, "matrice"), titre=NASTY, texte="Prix $5 et $6"),
        replace(first_of(story, "carte"), titre=NASTY, source="$a$ <i>"),
        Vue("", genre="soutenir"),
    )
    nasty = Recit("../../etc/passwd", NASTY, vues)
    for vue in vues:
        assert png_size(slide(vue, select(frames)(vue), faits, when=WHEN)) == (
            1920,
            1080,
        )
    names = slide_names(nasty)
    assert names == ["01-x-y-b.png", "02-x-y-b.png", "03-vue.png"]
    data = recit_zip(nasty, select(frames), faits, when=WHEN)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            assert "/" not in name and ".." not in name and name.isascii()
        assert archive.namelist()[-1] == "etc-passwd.pdf"
        pdf = PdfReader(io.BytesIO(archive.read("etc-passwd.pdf")))
        text = pdf.pages[0].extract_text()
    assert "$y$" in text  # drawn literally, not as mathtext


def test_fixed_date_gives_identical_bytes(demo):
    frames, story, faits = demo
    for genre in ("carte", "chiffres"):
        vue = first_of(story, genre)
        selection = select(frames)(vue)
        assert slide(vue, selection, faits, when=WHEN) == slide(
            vue, selection, faits, when=WHEN
        )
    short = Recit("court", "Court", (first_of(story, "matrice"),))
    assert recit_zip(short, select(frames), faits, when=WHEN) == recit_zip(
        short, select(frames), faits, when=WHEN
    )


def _moulin(story: Recit) -> Vue:
    return next(v for v in story.vues if "le-moulin-creatif" in v.surligner)


def test_slide_of_a_supported_ptce_shows_the_screen(demo):
    """Zoom of the screen, the PTCE's filière colour, support lines by level."""
    import numpy as np
    from pyproj import Transformer

    from lib.analysis.layers import supports
    from lib.rendering.palette import FILIERE_COLORS, LEVEL_COLORS
    from lib.rendering.print.slides import slide_figure
    from lib.rendering.vue import view_bounds

    frames, story, faits = demo
    vue = _moulin(story)
    selection = select(frames)(vue)
    ptce = selection.ptce.loc["le-moulin-creatif"]
    data = slide(vue, selection, faits, when=WHEN)
    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)

    def present(color: str, tolerance: int = 6) -> bool:
        rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
        return bool((np.abs(pixels - rgb).max(axis=1) <= tolerance).sum() >= 12)

    assert present(FILIERE_COLORS[ptce["filiere"]]), ptce["filiere"]
    niveaux = {link["niveau"] for link in supports(selection)[1]
               if link["ptce"] == "le-moulin-creatif"}  # fmt: skip
    assert niveaux
    assert any(present(LEVEL_COLORS[n]) for n in niveaux)

    # Extent: the map frames what the screen frames (lib.rendering.vue.view_bounds).
    filters = vue.filters()
    (south, west), (north, east) = view_bounds(
        filters.region, filters.departements, filters.epci
    )[1]
    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True)
    xs, ys = to_l93.transform([west, east, west, east], [south, south, north, north])
    screen_w, screen_h = max(xs) - min(xs), max(ys) - min(ys)
    fig = slide_figure(vue, selection, faits, when=WHEN)
    ax = next(a for a in fig.axes if a.get_gid() == "atlas-map")
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    # The map holds the screen's bounds; along the tighter side it is at
    # most 5 % larger (the other side widens to the slide's shape).
    assert x0 <= min(xs) + 0.05 * screen_w and x1 >= max(xs) - 0.05 * screen_w
    assert y0 <= min(ys) + 0.05 * screen_h and y1 >= max(ys) - 0.05 * screen_h
    assert min((x1 - x0) / screen_w, (y1 - y0) / screen_h) <= 1.05


def test_slide_text_is_wrapped_never_cut(demo):
    """A long text is drawn whole, on as many lines as it needs: no « … »."""
    from lib.rendering.print.slides import slide_figure

    frames, story, faits = demo
    long_text = " ".join(f"mot{i}" for i in range(160)) + " fin."
    vue = replace(_moulin(story), titre="Titre " * 20 + "final", texte=long_text)
    fig = slide_figure(vue, select(frames)(vue), faits, when=WHEN)
    drawn = " ".join(t.get_text() for t in fig.texts)
    assert "…" not in drawn
    words = " ".join(drawn.split())
    assert "mot0 mot1" in words and "mot159 fin." in words and "final" in words
    renderer = fig.canvas.get_renderer()
    width = fig.get_size_inches()[0] * fig.dpi
    for text in fig.texts:
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width, text.get_text()
