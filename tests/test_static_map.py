"""Static exports: PNG/SVG/PDF maps and the A4 fiche territoire (matplotlib)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from PIL import Image
from pypdf import PdfReader

from geo.boundaries import in_region, load_boundaries
from lib.analysis.choropleth import classify, indicator
from lib.domain.model import Ptce, Soutien
from lib.domain.selection import build_frames
from lib.rendering.print.static_map import (
    describe_view,
    export_filename,
    format_date,
    format_km,
    render_fiche_territoire,
    render_map,
    scale_length_km,
)

WHEN = date(2026, 11, 27)
DOLLAR = "Café $x$ <b>"
TITLE = "PTCE des Pays de la Loire"


def make_records() -> list[Ptce]:
    """Four PTCE in Pays de la Loire, one with a name full of markup."""
    return [
        Ptce(id="a", nom=DOLLAR, commune="44109", departement="44", region="52",
             filieres=("culture",),
             soutiens=(Soutien("departement", "44", "investissement", montant=1000.0),
                       Soutien("region", "52", "conseil et ingénierie"))),
        Ptce(id="b", nom="Pôle Ancenis", commune="44003", departement="44",
             region="52", filieres=("énergie",)),
        Ptce(id="c", nom="Angers Coop", commune="49007", departement="49",
             region="52", filieres=("mobilité",),
             soutiens=(Soutien("commune", "49007", "subvention de fonctionnement",
                               montant=2500.0),)),
        Ptce(id="d", nom="Yon Solidaire", commune="85191", departement="85",
             region="52"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def frames(built_cache):
    from geo.lookup import commune_points

    return build_frames(make_records(), commune_points())


def flat(text: str) -> str:
    """Collapse every run of whitespace (line breaks of wrapped text)."""
    return " ".join(text.split())


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, flat("\n".join(page.extract_text() for page in reader.pages))


def app_legend(frames, maille: str, name: str = "nombre", method="quantiles"):
    """The legend the Carte page computes for the same view."""
    territories = in_region(load_boundaries(maille, "regional"), maille, "52")
    population = territories.set_index("code")["population"].astype(float)
    values = indicator(frames, maille, name, population)
    return classify(values, method, indicateur=name, maille=maille)[1]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width_m", "km"),
    [
        (400_000, 100),  # target 80 km: 100 is nearer than 50 (log scale)
        (300_000, 50),  # target 60 km
        (1_000_000, 200),
        (100_000, 20),
        (55_000, 10),
        (2_200_000, 500),
        (3_000, 0.5),
    ],
)
def test_scale_length_is_round_and_near_a_fifth(width_m, km):
    assert scale_length_km(width_m) == km
    assert 0.1 <= km * 1000 / width_m <= 0.32


def test_scale_length_rejects_empty_maps():
    with pytest.raises(ValueError):
        scale_length_km(0)


def test_small_formatters():
    assert format_km(50) == "50 km"
    assert format_km(0.5) == "0,5 km"
    assert format_date(WHEN) == "27 novembre 2026"
    assert format_date(date(2026, 5, 1)) == "1er mai 2026"
    assert format_date(date(2027, 2, 3)) == "3 février 2027"


def test_export_filename_is_safe_ascii():
    assert (
        export_filename("Pays de la Loire", "png", WHEN)
        == "atlas-ptce-pays-de-la-loire-2026-11-27.png"
    )
    name = export_filename("Atlas des PTCE — Île-de-France / $x$ <b>", "PDF", WHEN)
    assert name == "atlas-ptce-ile-de-france-x-b-2026-11-27.pdf"
    assert export_filename("", "svg", WHEN) == "atlas-ptce-2026-11-27.svg"
    long = export_filename("x" * 300, "png", WHEN)
    assert long.isascii() and len(long) < 90


# --------------------------------------------------------------------------
# Map
# --------------------------------------------------------------------------


def test_png_has_the_requested_pixels_and_dpi(frames):
    size = (13.33, 7.5)
    data = render_map(frames, title=TITLE, fmt="png", size=size, when=WHEN)
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG"
    assert img.size == (round(size[0] * 300), round(size[1] * 300))
    assert img.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_png_other_size_and_dpi(frames):
    data = render_map(
        frames, maille="epci", title=TITLE, size=(8, 4.5), dpi=150, when=WHEN
    )
    img = Image.open(io.BytesIO(data))
    assert img.size == (1200, 675)
    # PNG stores whole pixels per metre: 150 dpi reads back as 150.012.
    assert img.info["dpi"] == pytest.approx((150, 150), abs=0.05)


@pytest.mark.parametrize("maille", ["departement", "epci"])
def test_pdf_text_has_title_legend_sources_date_and_scale(frames, maille):
    subtitle = "Région : Pays de la Loire · Filières : culture"
    data = render_map(
        frames, maille=maille, title=TITLE, subtitle=subtitle, fmt="pdf", when=WHEN
    )
    reader, text = pdf_text(data)
    assert len(reader.pages) == 1
    assert TITLE in text and subtitle in text
    legend = app_legend(frames, maille)
    assert legend.labels(), "the fixture must give at least one class"
    assert legend.title in text
    # Every line of the legend, counts of territories in words.
    for entry in legend.entries():
        assert flat(entry.text) in text
    word = "départements" if maille == "departement" else "EPCI"
    assert f"aucun PTCE — {legend.empty} {word}" in text.replace("\xa0", " ")
    assert "(n)" not in text
    # The sources of what is drawn, and how the PTCE are placed.
    line = describe_view(frames, maille=maille).source_line()
    assert "placés" in line and "Contours" in line
    assert flat(line) in text
    assert "27 novembre 2026" in text
    assert " km" in text
    # Points: the filières present are in the legend.
    assert "culture" in text and "mobilité" in text


def test_pdf_with_other_indicator_and_method(frames):
    data = render_map(frames, maille="epci", indicateur="montant", methode="jenks",
                      title=TITLE, fmt="pdf", when=WHEN)  # fmt: skip
    _, text = pdf_text(data)
    legend = app_legend(frames, "epci", "montant", "jenks")
    for label in legend.labels():
        assert flat(label) in text
    assert "seuils naturels" in text


def test_map_without_choropleth_or_points(frames):
    data = render_map(frames, indicateur=None, points=False, title=TITLE,
                      fmt="pdf", when=WHEN)  # fmt: skip
    _, text = pdf_text(data)
    assert TITLE in text and "aucun PTCE" not in text and "culture" not in text
    assert "Limite de département" in text


def test_national_view(frames):
    data = render_map(frames, region=None, title="France entière", fmt="pdf",
                      when=WHEN)  # fmt: skip
    _, text = pdf_text(data)
    assert "France entière" in text
    # Overseas départements in named insets (as on the Carte), not left out.
    for name in ("Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte"):
        assert name in text
    assert "Outre-mer en encarts, à d'autres échelles" in text
    assert "non représenté" not in text


def test_svg_is_xml_with_text(frames):
    data = render_map(frames, title=TITLE, subtitle=DOLLAR, fmt="svg", when=WHEN)
    root = ET.fromstring(data)
    assert root.tag.endswith("svg")
    texts = "".join(root.itertext())
    assert TITLE in texts
    # User strings are drawn literally: no mathtext, markup escaped.
    assert DOLLAR in texts
    assert "27 novembre 2026" in texts


def test_svg_is_deterministic(frames):
    one = render_map(frames, title=TITLE, fmt="svg", when=WHEN)
    two = render_map(frames, title=TITLE, fmt="svg", when=WHEN)
    assert one == two


def test_dollar_title_is_literal_in_pdf(frames):
    data = render_map(frames, title=DOLLAR, fmt="pdf", when=WHEN)
    _, text = pdf_text(data)
    assert DOLLAR in text


def test_bad_arguments(frames):
    with pytest.raises(ValueError, match="format"):
        render_map(frames, title=TITLE, fmt="gif")
    with pytest.raises(ValueError, match="maille"):
        render_map(frames, title=TITLE, maille="commune")
    with pytest.raises(ValueError, match="indicateur"):
        render_map(frames, title=TITLE, indicateur="rien")


# --------------------------------------------------------------------------
# Fiche territoire
# --------------------------------------------------------------------------


def test_fiche_departement_is_one_a4_page(frames):
    from lib.analysis.territoires import fiche_territoire

    data = render_fiche_territoire(frames, "departement", "44", when=WHEN)
    reader, text = pdf_text(data)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert float(box.width) == pytest.approx(595, abs=1)
    assert float(box.height) == pytest.approx(842, abs=1)
    fiche = fiche_territoire(frames, "departement", "44")
    assert "Loire-Atlantique" in text
    assert DOLLAR in text and "Pôle Ancenis" in text
    assert "Angers Coop" not in text  # in the 49
    assert flat(fiche.comparaison) in text
    assert "Soutiens reçus par niveau" in text
    assert "27 novembre 2026" in text and "Licence Ouverte" in text


def test_fiche_epci_png_has_dpi(frames):
    data = render_fiche_territoire(frames, "epci", "244400404", fmt="png", dpi=100,
                                   when=WHEN)  # fmt: skip
    img = Image.open(io.BytesIO(data))
    assert img.size == (827, 1169)
    assert img.info["dpi"] == pytest.approx((100, 100), abs=0.05)


def test_fiche_epci_and_region_pdf(frames):
    _, text = pdf_text(render_fiche_territoire(frames, "epci", "244400404", when=WHEN))
    assert "Nantes Métropole" in text and DOLLAR in text
    _, text = pdf_text(render_fiche_territoire(frames, "region", "52", when=WHEN))
    assert "Pays de la Loire" in text and "Moyenne nationale" in text
    assert "Yon Solidaire" in text


def test_fiche_truncates_long_lists(built_cache):
    from geo.lookup import commune_points

    many = [
        Ptce(id=f"p{i:03d}", nom=f"PTCE numéro {i:03d} " + "x" * 80,
             commune="44109", departement="44", region="52")
        for i in range(80)
    ]  # fmt: skip
    frames = build_frames(many, commune_points())
    _, text = pdf_text(render_fiche_territoire(frames, "departement", "44", when=WHEN))
    assert "PTCE présents (80)" in text
    assert "PTCE numéro 000" in text and "PTCE numéro 079" not in text
    assert "… et " in text and " autres" in text
    assert "x" * 80 not in text  # long names cut with an ellipsis


def test_fiche_bad_arguments(frames):
    with pytest.raises(ValueError):
        render_fiche_territoire(frames, "departement", "44", fmt="svg")
    with pytest.raises(ValueError):
        render_fiche_territoire(frames, "departement", "XX")


def _stacked_records() -> list[Ptce]:
    """Seven PTCE in Loire-Atlantique, six of them at Nantes' chef-lieu."""
    filieres = ("culture", "énergie", "mobilité", "textile", "numérique", None)
    records = [
        Ptce(id=f"n{i}", nom=f"Nantes {i}", commune="44109", departement="44",
             region="52", filieres=(f,) if f else ())
        for i, f in enumerate(filieres)
    ]  # fmt: skip
    records.append(Ptce(id="anc", nom="Ancenis", commune="44003", departement="44",
                        region="52", filieres=("tourisme",)))  # fmt: skip
    return records


def test_every_placed_ptce_of_loire_atlantique_is_drawn(built_cache):
    """PTCE at one place are all drawn (side by side or counted), by filière."""
    from geo.lookup import commune_points
    from lib.rendering.palette import FILIERE_COLORS
    from lib.rendering.print.static_map import map_figure

    frames = build_frames(_stacked_records(), commune_points())
    placed = int(frames.ptce["lat"].notna().sum())
    assert placed == 7
    fig = map_figure(frames, title=TITLE, departements=("44",), dpi=72, when=WHEN)
    ax = next(a for a in fig.axes if a.get_gid() == "atlas-map")
    dots = sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() == "ptce")
    counted = sum(int(t.get_text()) for t in ax.texts if t.get_gid() == "ptce-count")
    assert dots + counted == placed
    # Every dot is apart from the others: none hides another.
    offsets = [tuple(p) for c in ax.collections if c.get_gid() == "ptce"
               for p in c.get_offsets()]  # fmt: skip
    assert len(set(offsets)) == len(offsets)
    # Coloured by filière, as the legend says.
    faces = {
        tuple(round(v, 3) for v in face[:3])
        for c in ax.collections
        if c.get_gid() == "ptce"
        for face in c.get_facecolors()
    }
    import matplotlib.colors as mcolors

    for filiere in ("culture", "énergie", "tourisme", "non renseignée"):
        rgb = tuple(round(v, 3) for v in mcolors.to_rgb(FILIERE_COLORS[filiere]))
        assert rgb in faces, filiere


def test_many_ptce_at_one_place_are_counted(built_cache):
    """More than eight PTCE at one place: one bubble with their number."""
    from geo.lookup import commune_points
    from lib.rendering.print.static_map import map_figure

    records = [
        Ptce(id=f"p{i}", nom=f"P {i}", commune="44109", departement="44",
             region="52", filieres=("culture",))
        for i in range(12)
    ]  # fmt: skip
    frames = build_frames(records, commune_points())
    fig = map_figure(frames, title=TITLE, departements=("44",), dpi=72, when=WHEN)
    ax = next(a for a in fig.axes if a.get_gid() == "atlas-map")
    labels = [t.get_text() for t in ax.texts if t.get_gid() == "ptce-count"]
    assert labels == ["12"]


def test_fiche_names_the_ptce_and_the_kinds_of_support(frames):
    """Supports given are listed one by one: PTCE, kind, amount; map legend."""
    _, text = pdf_text(render_fiche_territoire(frames, "departement", "44", when=WHEN))
    # Given by the département 44: 1 000 € of investissement to « Café $x$ ».
    assert "1 soutien à 1 PTCE" in text
    assert f"{DOLLAR} — investissement, 1 000 €" in text.replace("\u202f", " ")
    # Received, in detail: who supports whom, and how.
    assert "Soutiens reçus en détail" in text
    assert "conseil et ingénierie" in text
    # The map explains itself.
    assert "PTCE (filière principale)" in text
    assert "Limite : Loire-Atlantique" in text and "Limite d'EPCI" in text
    assert "culture" in text and "énergie" in text


def test_fiche_wraps_a_long_title_and_fills_its_page(frames):
    """The whole name is printed within the page; the map grows into the room."""
    from lib.rendering.print.static_map import A4

    name = "CA de la Région Nazairienne et de l'Estuaire (CARENE)"
    _, text = pdf_text(render_fiche_territoire(frames, "epci", "244400644", when=WHEN))
    assert name in text
    data = render_fiche_territoire(
        frames, "epci", "244400644", fmt="png", dpi=60, when=WHEN
    )
    with Image.open(io.BytesIO(data)) as image:
        grey = image.convert("L")
        width, height = grey.size
        # Right margin (0.6 in) stays white: nothing runs off the page.
        right = grey.crop((width - int(0.45 * 60), 0, width, height))
        assert right.getextrema()[0] > 240
        # Ink reaches the lower part of the page above the footer: the page
        # is used, not left 40 % empty (rows of the lowest 30 % drawn on).
        rows = [
            y for y in range(int(height * 0.55), int(height * 0.88))
            if grey.crop((0, y, width, y + 1)).getextrema()[0] < 200
        ]  # fmt: skip
        assert len(rows) > 0.5 * (height * 0.33)
    assert A4[1] * 60 == pytest.approx(height, abs=1)
