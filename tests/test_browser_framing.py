"""Real-browser tests of the Carte's framing: fit, overseas insets, metric scale."""

from __future__ import annotations

import re

import pytest

from tests.browser import streamlit_server
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")


TIMEOUT_MS = 60_000
FRAME = "iframe[title='streamlit_folium.st_folium']"

#: The demo's PTCE of Guadeloupe, placed at the chef-lieu (Basse-Terre).
GUADELOUPE_PTCE = "Les AMIS du Bien-vieillir"
GUADELOUPE_AT = (16.00046, -61.72793)

# The Leaflet map of the Carte, from the page (the iframe is same-origin).
_MAP = """
const f = [...document.querySelectorAll('iframe')].find(
    i => i.title === 'streamlit_folium.st_folium');
const w = f && f.contentWindow;
const map = w && w.L && Object.values(w).find(v => v instanceof w.L.Map);
"""

# The département's drawn bounds (from its choropleth feature), the map's
# visible bounds, and the share of the map the département's box fills.
_FIT_JS = (
    "code => {"
    + _MAP
    + """
    if (!map || !map._atlasFit) return null;
    let layer = null;
    map.eachLayer(l => {
        if (l.feature && l.feature.properties.code === code && l.getBounds) layer = l;
    });
    if (!layer) return null;
    const dep = layer.getBounds(), view = map.getBounds(), size = map.getSize();
    const a = map.latLngToContainerPoint(dep.getSouthWest());
    const b = map.latLngToContainerPoint(dep.getNorthEast());
    return {
        inside: view.contains(dep),
        fill: Math.abs(b.x - a.x) * Math.abs(b.y - a.y) / (size.x * size.y),
        span: Math.max(Math.abs(b.x - a.x) / size.x, Math.abs(b.y - a.y) / size.y),
        pixels: [a.x, b.y, b.x, a.y], size: [size.x, size.y],
        animating: !!map._animatingZoom,
        scale: [...f.contentDocument.querySelectorAll(
            '.leaflet-control-scale-line')].map(e => e.textContent)
    };
}"""
)


@pytest.fixture(scope="module")
def server(built_cache, tmp_path_factory):
    """The app on a demo database of its own (it has PTCE in Guadeloupe)."""
    from lib.io.demo import install_demo
    from lib.store.ptce import Store

    url = f"sqlite:///{tmp_path_factory.mktemp('framing') / 'atlas.sqlite'}"
    install_demo(Store(url))
    with streamlit_server(ROOT, env={"DATABASE_URL": url}) as base:
        yield base


def _fit(page, code: str) -> dict:
    return page.evaluate(_FIT_JS, code)


def _wait_fitted(page, code: str, what: str = "fill", least: float = 0.5) -> None:
    """Wait until territory ``code`` is in view and fills enough of the map."""
    page.wait_for_function(
        "([code, what, least]) => {"
        f"const r = ({_FIT_JS})(code);"
        "return r && r.inside && r[what] >= least; }",
        arg=[code, what, least],
        timeout=TIMEOUT_MS,
    )


def _scrolled_box(page) -> dict:
    # The whole map in the viewport first: a press on a map cut by the fold
    # scrolls it into view between mouse down and up, and the click is lost.
    page.locator(FRAME).scroll_into_view_if_needed()
    return page.locator(FRAME).bounding_box()


def _assert_metric(scale: list[str]) -> None:
    assert scale, "no scale bar"
    for text in scale:
        assert re.fullmatch(r"\d+ (km|m)", text.strip()), scale


@pytest.mark.parametrize("viewport", [(1440, 900), (1280, 720)])
def test_choosing_loire_atlantique_fits_the_map_to_it(browser, server, viewport):
    width, height = viewport
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{server}/carte?couches=choro")
    page.wait_for_selector(FRAME, timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => ({_FIT_JS})('85') !== null", timeout=TIMEOUT_MS)
    region = _fit(page, "85")
    # The default view (Pays de la Loire) shows the whole of Vendée and Mayenne.
    assert region["inside"], region
    assert _fit(page, "53")["inside"]
    before = _fit(page, "44")
    assert before["fill"] < 0.5, before  # the test can tell a fitted view
    _assert_metric(region["scale"])

    deps = page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']").first
    deps.click()
    page.keyboard.type("Loire-Atlantique")
    page.keyboard.press("Enter")
    _wait_fitted(page, "44")
    fitted = _fit(page, "44")
    assert fitted["inside"], fitted
    assert fitted["fill"] >= 0.5, fitted
    x0, y0, x1, y1 = fitted["pixels"]
    assert x0 >= 0 and y0 >= 0 and x1 <= fitted["size"][0] and y1 <= fitted["size"][1]
    assert "dep=44" in page.url
    _assert_metric(fitted["scale"])
    page.close()


_GUADELOUPE_JS = (
    "([lat, lon]) => {"
    + _MAP
    + """
    if (!map || !w.L.MarkerClusterGroup) return null;
    let cluster = null;
    map.eachLayer(l => { if (l instanceof w.L.MarkerClusterGroup) cluster = l; });
    if (!cluster) return null;
    const marker = cluster.getLayers().find(m =>
        Math.abs(m.getLatLng().lat - lat) < 1e-4 &&
        Math.abs(m.getLatLng().lng - lon) < 1e-4);
    if (!marker) return {found: false};
    const p = map.latLngToContainerPoint(marker.getLatLng()), size = map.getSize();
    const frame = [...f.contentDocument.querySelectorAll('path.atlas-inset-frame')]
        .map(e => e.getBoundingClientRect());
    return {
        found: true,
        alone: cluster.getVisibleParent(marker) === marker,
        point: [p.x, p.y], size: [size.x, size.y],
        frames: frame.map(r => [r.left, r.top, r.right, r.bottom]),
        scale: [...f.contentDocument.querySelectorAll(
            '.leaflet-control-scale-line')].map(e => e.textContent)
    };
}"""
)


@pytest.mark.parametrize("viewport", [(1440, 900), (1280, 720)])
def test_guadeloupe_ptce_is_visible_and_clickable_under_france_entiere(
    browser, server, viewport
):
    width, height = viewport
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{server}/carte?region=france")
    page.wait_for_selector(FRAME, timeout=TIMEOUT_MS)
    page.wait_for_function(
        f"() => {{ const r = ({_GUADELOUPE_JS})({list(GUADELOUPE_AT)}); "
        "return r && r.found && r.alone; }",
        timeout=TIMEOUT_MS,
    )
    shown = page.evaluate(_GUADELOUPE_JS, list(GUADELOUPE_AT))
    x, y = shown["point"]
    width, height = shown["size"]
    # On the map, in the frame of an inset (the five frames are drawn).
    assert 0 <= x <= width and 0 <= y <= height, shown
    assert len(shown["frames"]) == 5
    assert any(
        left <= x <= right and top <= y <= bottom
        for left, top, right, bottom in shown["frames"]
    ), shown
    _assert_metric(shown["scale"])
    # Measured on metropolitan France, not across an inset (was "5000 km").
    (bar,) = shown["scale"]
    assert bar in ("100 km", "200 km", "300 km"), bar

    frame = page.frame_locator(FRAME)
    frame.get_by_text("Guadeloupe", exact=True).wait_for()
    box = _scrolled_box(page)
    page.mouse.click(box["x"] + x, box["y"] + y)
    popup = frame.locator(".leaflet-popup-content")
    popup.wait_for(timeout=TIMEOUT_MS)
    text = popup.inner_text()
    assert GUADELOUPE_PTCE in text
    assert "Ouvrir la fiche" in text
    page.close()


def test_clicking_guadeloupe_in_its_inset_frames_it(browser, server):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server}/carte?region=france&couches=choro")
    page.wait_for_selector(FRAME, timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => ({_FIT_JS})('971') !== null", timeout=TIMEOUT_MS)
    before = _fit(page, "971")
    x0, y0, x1, y1 = before["pixels"]
    assert before["fill"] < 0.05, before  # a small inset before the click
    # Click inside Guadeloupe's Basse-Terre, where the choropleth draws it.
    point = page.evaluate(
        "([lat, lon]) => {"
        + _MAP
        + "const p = map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [16.15, -61.68],
    )
    assert x0 <= point[0] <= x1 and y0 <= point[1] <= y1
    box = _scrolled_box(page)
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    page.get_by_role("heading", name="Guadeloupe (département)").wait_for(
        timeout=TIMEOUT_MS
    )
    _wait_fitted(page, "971")
    assert _fit(page, "971")["inside"]
    page.close()


_VIEW_JS = (
    "() => {"
    + _MAP
    + "return map ? [map.getCenter().lat, map.getCenter().lng, map.getZoom()]"
    + ".join(',') : null; }"
)


# The feature groups' script streamlit-folium last evaluated in the map.
_GROUPS_JS = (
    "() => { const f = [...document.querySelectorAll('iframe')].find("
    "i => i.title === 'streamlit_folium.st_folium');"
    "return f.contentWindow.__GLOBAL_DATA__.last_feature_group; }"
)


def test_territory_of_the_link_then_filters_then_the_users_view(browser, server):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server}/carte?couches=choro&territoire=departement:53")
    page.wait_for_selector(FRAME, timeout=TIMEOUT_MS)
    # A copied link reopens on its territory (Mayenne, taller than wide: it
    # spans the map's height)…
    _wait_fitted(page, "53", "span", 0.8)
    assert _fit(page, "53")["inside"]
    # …choosing a département frames it, though Mayenne is still chosen…
    deps = page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']").first
    deps.click()
    page.keyboard.type("Loire-Atlantique")
    page.keyboard.press("Enter")
    _wait_fitted(page, "44")
    assert _fit(page, "44")["inside"]
    # …and a filter that changes no territory leaves the user's view alone.
    page.locator(FRAME).scroll_into_view_if_needed()
    page.frame_locator(FRAME).locator(".leaflet-control-zoom-in").click()
    page.wait_for_function(
        f"() => {{ const r = ({_FIT_JS})('44'); return r && r.fill > 1 "
        "&& !r.animating; }",
        timeout=TIMEOUT_MS,
    )
    moved = page.evaluate(_VIEW_JS)
    groups = page.evaluate(_GROUPS_JS)
    before = page.get_by_test_id("ptce-counter").inner_text()
    page.get_by_test_id("stSidebar").get_by_role("textbox", name="Recherche").fill(
        "zzz"
    )
    page.keyboard.press("Enter")
    page.wait_for_function(
        "before => document.querySelector('[data-testid=ptce-counter]')"
        ".innerText !== before",
        arg=before,
        timeout=TIMEOUT_MS,
    )
    # Once the map has swapped its feature groups (new colours, same
    # framing), the view is where the user put it.
    page.wait_for_function(
        f"before => ({_GROUPS_JS})() !== before", arg=groups, timeout=TIMEOUT_MS
    )
    assert page.evaluate(_VIEW_JS) == moved
    page.close()


def test_france_entiere_keeps_corsica_clear_of_the_legend(browser, server):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server}/carte?region=france&couches=choro")
    page.wait_for_selector(FRAME, timeout=TIMEOUT_MS)
    _wait_fitted(page, "2B", "span", 0.01)
    legend = page.evaluate(
        "() => {"
        + _MAP
        + """
        const controls = [...map.getContainer().querySelectorAll(
            '.leaflet-bottom.leaflet-right .leaflet-control')].filter(
            c => !c.classList.contains('leaflet-control-attribution'));
        const box = map.getContainer().getBoundingClientRect();
        return controls.map(c => { const r = c.getBoundingClientRect();
            return [r.left - box.left, r.top - box.top,
                    r.right - box.left, r.bottom - box.top]; });
    }"""
    )
    assert legend, "the choropleth's legend is drawn in the map"
    for code in ("2A", "2B"):
        x0, y0, x1, y1 = _fit(page, code)["pixels"]
        for left, top, right, bottom in legend:
            assert x1 < left or x0 > right or y1 < top or y0 > bottom, (code, legend)
    page.close()


def test_an_epci_of_the_link_fills_the_map(browser, server):
    nantes = "244400404"  # Nantes Métropole
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/carte?couches=choro&maille=epci&epci={nantes}")
    page.wait_for_selector(FRAME, timeout=TIMEOUT_MS)
    _wait_fitted(page, nantes, "span", 0.8)
    fitted = _fit(page, nantes)
    assert fitted["inside"] and fitted["fill"] >= 0.4, fitted
    page.close()
