"""Real browser: the Carte's choropleth legend, drawn in the map, tells the truth.

After choosing Loire-Atlantique, the other départements (or their EPCI) are
hatched and listed « hors sélection », never « aucun PTCE »; the legend's
lines are those of the static export of the same view, in the same order;
changing the filter changes the legend (the old one does not stay behind).
"""

from __future__ import annotations

import io

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")


TIMEOUT_MS = 60_000
FRAME = "iframe[title='streamlit_folium.st_folium']"
HATCH = "url(#atlas-hors-selection)"


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    from lib.io.demo import install_demo
    from lib.store.ptce import Store

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'atlas.sqlite'}"
    install_demo(Store(url))
    return url


@pytest.fixture(scope="module")
def server(built_cache, database):
    with streamlit_server(ROOT, env={"DATABASE_URL": database}) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page
        browser.close()
        assert not errors, errors


def expected(database, maille: str, method: str, departements=()):
    """The legend lines the app computes, and the static export's text."""
    from pypdf import PdfReader

    from geo.lookup import commune_points
    from lib.domain.selection import Filters, build_frames
    from lib.rendering.print.static_map import render_map
    from lib.rendering.web.carte import map_layers
    from lib.rendering.web.maps import MapLegend
    from lib.store.ptce import Store

    filters = Filters(departements=departements)
    frames = build_frames(Store(database).load(), commune_points())
    selection = frames.filtered(filters)
    built = map_layers(
        selection,
        maille=maille,
        methode=method,
        couches=("choro",),
        departements=departements,
    )
    (legend,) = [
        child
        for group in built.groups
        for child in group._children.values()
        if isinstance(child, MapLegend)
    ]
    pdf = render_map(
        selection,
        maille=maille,
        methode=method,
        title="Carte",
        fmt="pdf",
        departements=departements,
    )
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    return legend.texts("choro"), built.legend, text


def shown_legend(page, query: str) -> tuple[list[str], int]:
    page.goto(f"{query}")
    frame = page.frame_locator(FRAME)
    box = frame.locator(".atlas-legend")
    box.first.wait_for(timeout=TIMEOUT_MS)
    # Exactly one legend: the one of the current view.
    assert box.count() == 1
    choro = box.locator("[data-layer='choro']")
    lines = [line.strip() for line in choro.inner_text().split("\n") if line.strip()]
    hatched = frame.locator(f"path[fill='{HATCH}']").count()
    return lines, hatched


def same_lines(shown: list[str], wanted: list[str]) -> None:
    # The browser may wrap the grey note; compare text with spaces unified.
    def norm(lines):
        return " ".join(" ".join(lines).replace("\u00a0", " ").split())

    assert norm(shown) == norm(wanted)


@pytest.mark.parametrize(
    ("maille", "method"), [("departement", "quantiles"), ("epci", "jenks")]
)
def test_outside_the_filter_is_hatched_and_listed_apart(
    page, server, database, maille, method
):
    lines, legend, pdf_text = expected(database, maille, method, ("44",))
    query = f"{server}/carte?dep=44&maille={maille}&classes={method}"
    shown, hatched = shown_legend(page, query)
    same_lines(shown, lines)
    assert any(line.startswith("hors sélection") for line in shown)
    if maille == "departement":
        assert any("hors sélection — 4" in line.replace("\u00a0", " ")
                   for line in shown)  # fmt: skip
        assert not any(line.startswith("aucun PTCE") for line in shown)
    # Every territory outside the selection is drawn hatched.
    assert hatched == legend.outside > 0
    page.frame_locator(FRAME).locator("#atlas-hors-selection").wait_for(
        state="attached", timeout=TIMEOUT_MS
    )
    # The PDF export of the same view has the same lines, in the same order.
    position = -1
    for line in lines:
        found = pdf_text.find(" ".join(line.split()), position + 1)
        assert found > position, (line, pdf_text)
        position = found


def test_legend_follows_the_view(page, server, database):
    lines, legend, _ = expected(database, "departement", "quantiles")
    shown, hatched = shown_legend(page, f"{server}/carte")
    same_lines(shown, lines)
    assert hatched == 0 and legend.outside == 0
    assert not any(line.startswith("hors sélection") for line in shown)
    # Every count of territories is said in words.
    for line in shown[2:]:
        if "—" in line:
            assert line.replace("\u00a0", " ").split("— ")[1].split(" ")[1] in (
                "département",
                "départements",
            )
    # Another grid chosen on the page: the map's groups are swapped and the
    # legend with them; the old one does not stay behind.
    page.get_by_test_id("stSelectbox").filter(has_text="Maille").click()
    page.get_by_role("option", name="EPCI").click()
    frame = page.frame_locator(FRAME)
    frame.locator(".atlas-legend", has_text="par EPCI").wait_for(timeout=TIMEOUT_MS)
    box = frame.locator(".atlas-legend")
    assert box.count() == 1
    epci_lines, _, _ = expected(database, "epci", "quantiles")
    same_lines([box.locator("[data-layer='choro']").inner_text()], epci_lines)
