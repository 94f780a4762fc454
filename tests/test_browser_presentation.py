"""Présentation on a projector: every vue of the default récit in one screen.

Playwright drives Debian's chromium at 1920×1080 and 1280×720 through the
default récit: nothing scrolls, the type is projector-sized (and scales with
the screen), a map comes with a legend holding a colour key for every layer
it draws, and « Quitter » or Échap leads back to the Carte with the vue's
filters in the URL.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

TIMEOUT_MS = 60_000
SIZES = [(1920, 1080), (1280, 720)]

#: The run is over, the page's script is installed (keys) and, when the vue
#: has a map, the map has been given its height (the script writes it in the
#: frame) and holds a Leaflet map.
_SETTLED = """title => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.dataset.testScriptState !== "notRunning") { return false; }
  if (document.__atlasPresentationKeys !== true) { return false; }
  const h1 = document.querySelector("[data-testid='pres-title']");
  if (!h1 || h1.innerText !== title) { return false; }
  const frame = document.querySelector(".st-key-pres_map iframe");
  if (!frame) { return !document.querySelector(".st-key-pres_map"); }
  const inner = frame.contentDocument;
  return !!(inner && inner.getElementById("pres-map-size")
    && frame.contentWindow.map && frame.dataset.presHeight
    && Math.abs(frame.getBoundingClientRect().height
                - Number(frame.dataset.presHeight)) < 1);
}"""

_MEASURE = """() => {
  const main = document.querySelector("[data-testid='stMain']");
  const px = (el) => el ? parseFloat(getComputedStyle(el).fontSize) : null;
  const bottom = (sel) => {
    const els = [...document.querySelectorAll(sel)];
    return els.length ? Math.max(...els.map(e => e.getBoundingClientRect().bottom))
                      : null;
  };
  const frame = document.querySelector(".st-key-pres_map iframe");
  const legend = document.querySelector("[data-testid='pres-legend']");
  const layers = {};
  if (legend) {
    legend.querySelectorAll("[data-layer]").forEach(block => {
      layers[block.dataset.layer] = [...block.querySelectorAll(".pres-key")].map(
        k => k.dataset.color);
    });
  }
  return {
    docScroll: document.scrollingElement.scrollHeight,
    mainScroll: main.scrollHeight, mainClient: main.clientHeight,
    innerHeight: innerHeight,
    text: px(document.querySelector("p.pres-text")),
    title: px(document.querySelector("[data-testid='pres-title']")),
    tables: [...document.querySelectorAll(".st-key-pres_vue .pres-table")].map(px),
    notes: [...document.querySelectorAll("[data-testid='pres-divergence']")].map(
      n => ({text: n.innerText, bottom: n.getBoundingClientRect().bottom,
             px: px(n)})),
    vueBottom: bottom(".st-key-pres_vue .pres-foot"),
    map: frame ? frame.getBoundingClientRect().toJSON() : null,
    legendBottom: legend ? legend.getBoundingClientRect().bottom : null,
    legendPx: px(legend),
    layers: layers,
    buttons: [...document.querySelectorAll(
      ".st-key-pres_nav [data-testid^='stBaseButton'], .pres-btn")].map(b => ({
        text: b.innerText, px: px(b), height: b.getBoundingClientRect().height})),
  };
}"""


@pytest.fixture(scope="module")
def story(database):
    """The default récit, and the frames its vues select from."""
    from geo.lookup import commune_points
    from lib.domain.recits import default_recit
    from lib.domain.selection import build_frames
    from lib.store.ptce import Store

    frames = build_frames(Store(database["DATABASE_URL"]).load(), commune_points())
    return default_recit(frames.ptce["id"]), frames


def _expected_layers(vue, frames) -> dict[str, set[str]]:
    """Colours the legend must key, per layer the vue's map draws."""
    from lib.analysis import layers
    from lib.rendering.palette import CLUSTER_FILL, FILIERE_COLORS, LEVEL_COLORS
    from lib.rendering.web.carte import map_layers

    selection = frames.filtered(vue.filters())
    placed = selection.ptce[selection.ptce["lat"].notna()]
    expected: dict[str, set[str]] = {}
    if "ptce" in vue.couches and len(placed):
        # The bubble of PTCE grouped is keyed when there are two to group.
        expected["ptce"] = {FILIERE_COLORS[f] for f in placed["filiere"]} | (
            {CLUSTER_FILL} if len(placed) > 1 else set()
        )
    if "soutiens" in vue.couches:
        links = layers.supports(selection)[1]
        if links:
            expected["soutiens"] = {LEVEL_COLORS[link["niveau"]] for link in links}
    if "choro" in vue.couches:
        filters = vue.filters()
        built = map_layers(
            selection,
            maille=vue.maille,
            indicateur=vue.indicateur,
            region=filters.region,
            couches=("choro",),
            departements=filters.departements,
            epci=filters.epci,
        )
        expected["choro"] = {e.color for e in built.legend.entries()}
    return expected


_STATE = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  const h1 = document.querySelector("[data-testid='pres-title']");
  const frame = document.querySelector(".st-key-pres_map iframe");
  return {state: app && app.dataset.testScriptState, title: h1 && h1.innerText,
    keys: document.__atlasPresentationKeys === true, frame: !!frame,
    sized: !!(frame && frame.contentDocument
              && frame.contentDocument.getElementById("pres-map-size")),
    map: !!(frame && frame.contentWindow && frame.contentWindow.map),
    height: frame && [frame.dataset.presHeight,
                      frame.getBoundingClientRect().height]};
}"""


def _settle(page, title: str) -> dict:
    try:
        page.wait_for_function(_SETTLED, arg=title, timeout=TIMEOUT_MS)
    except sync_api.TimeoutError:
        pytest.fail(f"« {title} » not settled: {page.evaluate(_STATE)}")
    return page.evaluate(_MEASURE)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_every_vue_fits_one_screen_in_projector_type(
    browser, server, story, width, height
):
    recit, frames = story
    page = browser.new_page(viewport={"width": width, "height": height})
    scale = width / 1920
    for i, vue in enumerate(recit.vues):
        # Each vue opened from its link (the keys are tested apart).
        page.goto(f"{server}/presentation?vue={i + 1}")
        where = f"vue {i + 1} « {vue.titre} » at {width}×{height}"
        m = _settle(page, vue.titre)
        # Nothing scrolls: neither the document nor Streamlit's main pane.
        assert m["docScroll"] <= m["innerHeight"], where
        assert m["mainScroll"] <= m["mainClient"], (where, m)
        assert m["vueBottom"] is not None and m["vueBottom"] <= height, where
        # Projector type at 1920×1080, the same layout scaled at 1280×720.
        assert m["title"] >= 48 * scale - 0.5, where
        if vue.texte:
            assert m["text"] >= 28 * scale - 0.5, where
        assert all(px >= 24 * scale - 0.5 for px in m["tables"]), (where, m)
        for button in m["buttons"]:
            assert button["px"] >= 20 * scale - 0.5, (where, button)
            assert button["height"] >= 44 * scale - 0.5, (where, button)
        if vue.genre == "chiffres" and i == 0:
            # The point of the first vue: the sources disagree, on screen.
            assert len(m["notes"]) >= 2, where
            for note in m["notes"]:
                assert note["text"].startswith("Les sources divergent"), where
                assert note["bottom"] <= height, where
                assert note["px"] >= 26 * scale - 0.5, where
        if vue.genre == "carte":
            box = m["map"]
            assert box is not None, where
            # The map takes the room left: at least half the screen's height.
            assert box["bottom"] <= height and box["height"] >= 0.5 * height, where
            assert m["legendBottom"] <= height, where
            assert m["legendPx"] >= 22 * scale - 0.5, where
            expected = _expected_layers(vue, frames)
            assert expected, where
            shown = {layer: set(colors) for layer, colors in m["layers"].items()}
            for layer, colors in expected.items():
                assert shown.get(layer) == colors, (where, layer, shown)
        else:
            assert m["map"] is None and not m["layers"], where
    page.close()


def _carte_filters(url: str):
    from lib.domain.selection import Filters

    parsed = urlparse(url)
    assert parsed.path.endswith("/carte"), url
    return Filters.from_params(parse_qs(parsed.query)), parse_qs(parsed.query)


def _on_carte(page) -> None:
    page.wait_for_url("**/carte?**", timeout=TIMEOUT_MS)
    page.get_by_test_id("ptce-counter").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']",
        timeout=TIMEOUT_MS,
    )


def test_quitter_and_escape_return_to_the_carte_with_the_vue_filters(
    browser, server, story
):
    recit, frames = story
    # A vue on one département, with the supports layer.
    number, vue = next(
        (i + 1, v) for i, v in enumerate(recit.vues) if v.filtres.get("dep")
    )
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{server}/presentation?vue={number}")
    _settle(page, vue.titre)
    quit_link = page.get_by_role("link", name="Quitter")
    assert quit_link.is_visible()
    quit_link.click()
    _on_carte(page)
    filters, params = _carte_filters(page.url)
    assert filters == vue.filters()
    assert set(params["couches"]) == set(vue.couches)
    # Back on the Carte, the sidebar (its filters, the menu) is there again,
    # and the Carte counts the vue's PTCE.
    assert page.get_by_test_id("stSidebar").is_visible()
    expected = len(frames.filtered(vue.filters()).ptce)
    counter = page.get_by_test_id("ptce-counter").inner_text()
    assert counter.startswith(f"{expected} PTCE"), counter

    # Échap from another vue (Pays de la Loire, the default région).
    first, second = recit.vues[0], recit.vues[1]
    page.goto(f"{server}/presentation?vue=2")
    _settle(page, second.titre)
    page.keyboard.press("Escape")
    _on_carte(page)
    filters, _ = _carte_filters(page.url)
    assert filters == second.filters()
    page.goto(f"{server}/presentation?vue=1")
    _settle(page, first.titre)
    page.keyboard.press("Escape")
    _on_carte(page)
    filters, params = _carte_filters(page.url)
    assert filters == first.filters() and params["region"] == ["france"]
    page.close()


def test_full_screen_tools_on_demand_and_quitter_by_keyboard(browser, server, story):
    recit, _ = story
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/presentation?vue=2")
    _settle(page, recit.vues[1].titre)
    # Exports and the editor are not part of the vue: hidden until asked for.
    tools = page.locator(".st-key-pres_tools")
    assert not tools.is_visible()
    page.get_by_role("button", name="Outils").click()
    sync_api.expect(tools).to_be_visible()
    sync_api.expect(
        page.get_by_text("Créer ou modifier un récit", exact=True)
    ).to_be_visible()
    assert page.get_by_role("button", name="Outils").get_attribute("aria-expanded") == (
        "true"
    )
    # Closed again (Échap closes the tools, not the Présentation), the vue
    # alone is on screen.
    page.keyboard.press("Escape")
    sync_api.expect(tools).to_be_hidden()
    assert "/presentation" in page.url
    page.get_by_role("button", name="Outils").click()
    sync_api.expect(tools).to_be_visible()
    page.get_by_role("button", name="Outils").click()
    sync_api.expect(tools).to_be_hidden()
    page.wait_for_function(
        "() => document.querySelector(\"[data-testid='stMain']\").scrollTop === 0"
    )
    # Full screen with the button, and back with the key F.
    page.get_by_role("button", name="Plein écran").click()
    page.wait_for_function("() => document.fullscreenElement !== null")
    page.keyboard.press("f")
    page.wait_for_function("() => document.fullscreenElement === null")
    # Tab order reaches « Quitter »; Entrée follows it.
    page.get_by_role("button", name="Plein écran").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.innerText").endswith("Quitter")
    page.keyboard.press("Enter")
    _on_carte(page)
    filters, _ = _carte_filters(page.url)
    assert filters == recit.vues[1].filters()
    page.close()
