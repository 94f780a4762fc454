"""Real-browser tests: Playwright driving Debian's chromium against the app."""

from __future__ import annotations

import pytest

from tests.browser import is_local, streamlit_server
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")


MAP_TIMEOUT_MS = 60_000


class Watch:
    """Record every request of a page; block and remember non-local ones."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.external: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()


def _map_frame(page):
    page.wait_for_selector(
        "iframe[title='streamlit_folium.st_folium']", timeout=MAP_TIMEOUT_MS
    )
    return page.frame_locator("iframe[title='streamlit_folium.st_folium']")


def test_home_draws_departements_offline(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    watch = Watch(page)
    page.goto(server)
    _map_frame(page)
    # Wait for what is drawn, not for time.
    page.wait_for_function(
        """() => {
            const f = [...document.querySelectorAll('iframe')].find(
                i => i.title === 'streamlit_folium.st_folium');
            return f && f.contentDocument &&
                f.contentDocument.querySelectorAll('path').length >= 101 + 18;
        }""",
        timeout=MAP_TIMEOUT_MS,
    )
    counts = page.evaluate(
        """() => {
            const f = [...document.querySelectorAll('iframe')].find(
                i => i.title === 'streamlit_folium.st_folium');
            const d = f.contentDocument;
            const n = (pane) => d.querySelectorAll(
                '.leaflet-' + pane + '-pane path').length;
            return {departement: n('departement'), region: n('region'),
                    epci: n('epci'),
                    tiles: d.querySelectorAll('img.leaflet-tile').length};
        }"""
    )
    assert counts["departement"] >= 101, counts
    assert counts["region"] == 18, counts
    assert counts["epci"] >= 70, counts
    assert counts["tiles"] == 0
    assert "Contours : IGN Admin Express COG 2018" in page.inner_text("body")
    assert watch.external == [], watch.external
    assert all(is_local(u) for u in watch.requests)
    assert watch.errors == []
    page.close()


def test_deep_link_as_first_request_after_start(browser, built_cache, database):
    # A fresh server: the very first page request is a deep link.
    with streamlit_server(ROOT, env=database) as url:
        page = browser.new_page()
        watch = Watch(page)
        page.goto(f"{url}/sources")
        heading = page.get_by_role("heading", name="Territoires et sources")
        heading.wait_for(timeout=MAP_TIMEOUT_MS)
        nav = page.locator("[data-testid='stSidebarNav']")
        assert "Accueil" in nav.inner_text()
        assert "Territoires et sources" in nav.inner_text()
        assert page.get_by_text("Rattachements d'une commune").count() == 1
        assert watch.external == []
        page.close()


# -- Carte -----------------------------------------------------------------------

_MARKERS_JS = """() => {
    const f = [...document.querySelectorAll('iframe')].find(
        i => i.title === 'streamlit_folium.st_folium');
    const w = f && f.contentWindow;
    if (!w || !w.L || !w.L.MarkerClusterGroup) return null;
    const map = Object.values(w).find(v => v instanceof w.L.Map);
    if (!map) return null;
    const groups = [];
    map.eachLayer(l => { if (l instanceof w.L.MarkerClusterGroup) groups.push(l); });
    const markers = groups.flatMap(g => g.getLayers());
    return markers.map(m => [m.getLatLng().lat, m.getLatLng().lng]);
}"""


def _counter(page) -> str:
    return page.get_by_test_id("ptce-counter").inner_text()


def _expected_markers(database, departement=None):
    from geo.lookup import commune_points
    from lib.domain.selection import Filters, build_frames
    from lib.store.ptce import Store

    frames = build_frames(Store(database["DATABASE_URL"]).load(), commune_points())
    chosen = frames.filtered(
        Filters(departements=(departement,) if departement else ())
    ).ptce
    chosen = chosen[chosen["lat"].notna()]
    return sorted(
        (round(a, 5), round(b, 5))
        for a, b in zip(chosen["lat"], chosen["lon"], strict=True)
    )


def _wait_markers(page, expected):
    page.wait_for_function(
        f"() => {{ const m = ({_MARKERS_JS})(); "
        f"return m && m.length === {len(expected)}; }}",
        timeout=MAP_TIMEOUT_MS,
    )
    found = page.evaluate(_MARKERS_JS)
    return sorted((round(a, 5), round(b, 5)) for a, b in found)


def test_choosing_a_departement_leaves_its_markers(browser, server, database):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    watch = Watch(page)
    page.goto(f"{server}/carte?couches=ptce")
    assert _wait_markers(page, _expected_markers(database)) == _expected_markers(
        database
    )
    before = _counter(page)
    deps = page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']").first
    deps.click()
    page.keyboard.type("Vendée")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "before => document.querySelector('[data-testid=ptce-counter]')"
        ".innerText !== before",
        arg=before,
        timeout=MAP_TIMEOUT_MS,
    )
    expected = _expected_markers(database, "85")
    assert _wait_markers(page, expected) == expected
    assert "dep=85" in page.url
    assert watch.external == []
    page.close()


def test_copied_link_restores_filters_and_layers(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/carte?dep=44&couches=ptce&couches=soutiens&maille=epci")
    # The supports layer is drawn once its block of the map's legend is there.
    _map_frame(page).locator(".atlas-legend [data-layer='soutiens']").wait_for(
        timeout=MAP_TIMEOUT_MS
    )
    page.wait_for_function("() => location.search.includes('maille=epci')")
    link, counter = page.url, _counter(page)
    page.close()
    again = browser.new_page(viewport={"width": 1400, "height": 1000})
    again.goto(link)
    # The whole page is drawn once the legend of the supports layer is there.
    _map_frame(again).locator(".atlas-legend [data-layer='soutiens']").wait_for(
        timeout=MAP_TIMEOUT_MS
    )
    assert _counter(again) == counter
    again.get_by_test_id("stMain").get_by_text(
        "Collectivités qui soutiennent"
    ).first.wait_for(state="attached", timeout=MAP_TIMEOUT_MS)
    # textContent, not innerText: a chip clipped by the widget's width still
    # holds its whole label.
    sidebar = again.get_by_test_id("stSidebar").text_content()
    assert "Loire-Atlantique" in sidebar
    main = again.get_by_test_id("stMain").text_content()
    assert "Collectivités qui soutiennent" in main
    grid = again.get_by_test_id("stSelectbox").filter(has_text="Maille")
    assert grid.locator("input").first.input_value() == "EPCI"
    assert "maille=epci" in again.url and "couches=soutiens" in again.url
    again.close()


def test_hostile_ptce_name_shows_as_text(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server}/carte?couches=ptce&q=onerror")
    page.wait_for_function(
        f"() => {{ const m = ({_MARKERS_JS})(); return m && m.length === 1; }}",
        timeout=MAP_TIMEOUT_MS,
    )
    shown = page.evaluate(
        """() => {
            const f = [...document.querySelectorAll('iframe')].find(
                i => i.title === 'streamlit_folium.st_folium');
            const w = f.contentWindow;
            const map = Object.values(w).find(v => v instanceof w.L.Map);
            let group = null;
            map.eachLayer(l => { if (l instanceof w.L.MarkerClusterGroup) group = l; });
            const marker = group.getLayers()[0];
            group.zoomToShowLayer(marker, () => {});
            marker.openPopup();
            const popup = f.contentDocument.querySelector('.leaflet-popup-content');
            return {text: popup.innerText,
                    imgs: popup.querySelectorAll('img').length};
        }"""
    )
    assert "<img src=x onerror=alert(1)>" in shown["text"]
    assert shown["imgs"] == 0
    assert dialogs == []
    page.close()


def test_dragging_and_zooming_cause_no_rerun(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: sent.append(f)))
    page.goto(f"{server}/carte?couches=ptce")
    page.wait_for_function(
        f"() => {{ const m = ({_MARKERS_JS})(); return m && m.length > 0; }}",
        timeout=MAP_TIMEOUT_MS,
    )
    frame = page.frame_locator("iframe[title='streamlit_folium.st_folium']")
    view_js = """() => {
        const f = [...document.querySelectorAll('iframe')].find(
            i => i.title === 'streamlit_folium.st_folium');
        const w = f.contentWindow;
        const map = Object.values(w).find(v => v instanceof w.L.Map);
        return [map.getCenter().lat, map.getCenter().lng, map.getZoom()].join(',');
    }"""
    start_view = page.evaluate(view_js)
    baseline = len(sent)
    box = page.locator("iframe[title='streamlit_folium.st_folium']").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 150, y + 80, steps=8)
    page.mouse.up()
    frame.locator(".leaflet-control-zoom-in").click()
    page.wait_for_function(f"() => ({view_js})() !== {start_view!r}")
    # A deliberate widget change must be the only message sent since then.
    before = _counter(page)
    page.get_by_test_id("stSidebar").get_by_role("textbox", name="Recherche").fill(
        "zzz"
    )
    page.keyboard.press("Enter")
    page.wait_for_function(
        "before => document.querySelector('[data-testid=ptce-counter]')"
        ".innerText !== before",
        arg=before,
        timeout=MAP_TIMEOUT_MS,
    )
    assert len(sent) - baseline == 1, f"{len(sent) - baseline} messages"
    page.close()


def test_clicking_a_territory_opens_its_summary(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/carte?couches=choro")
    frame_sel = "iframe[title='streamlit_folium.st_folium']"
    page.wait_for_function(
        """() => {
            const f = [...document.querySelectorAll('iframe')].find(
                i => i.title === 'streamlit_folium.st_folium');
            return f && f.contentDocument &&
                f.contentDocument.querySelectorAll('.leaflet-overlay-pane path')
                    .length >= 5;
        }""",
        timeout=MAP_TIMEOUT_MS,
    )
    # Where the Mayenne is drawn, in page pixels.
    point = page.evaluate(
        """() => {
            const f = [...document.querySelectorAll('iframe')].find(
                i => i.title === 'streamlit_folium.st_folium');
            const w = f.contentWindow;
            const map = Object.values(w).find(v => v instanceof w.L.Map);
            let target = null;
            map.eachLayer(l => {
                if (l.feature && l.feature.properties.code === '53') target = l;
            });
            const p = map.latLngToContainerPoint(target.getCenter());
            return [p.x, p.y];
        }"""
    )
    box = page.locator(frame_sel).bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    page.get_by_role("heading", name="Mayenne (département)").wait_for(
        timeout=MAP_TIMEOUT_MS
    )
    assert "territoire=departement" in page.url and "53" in page.url
    page.close()


def test_presentation_is_stepped_through_with_the_keyboard(server, browser, database):
    from geo.lookup import commune_points
    from lib.domain.recits import default_recit
    from lib.domain.selection import build_frames
    from lib.store.ptce import Store

    frames = build_frames(Store(database["DATABASE_URL"]).load(), commune_points())
    story = default_recit(frames.ptce["id"])
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    watch = Watch(page)
    page.goto(f"{server}/presentation")
    page.wait_for_function(
        "() => window.document.__atlasPresentationKeys === true",
        timeout=MAP_TIMEOUT_MS,
    )
    title = page.locator('[data-testid="pres-title"]')
    counter = page.locator('[data-testid="pres-counter"]')
    keys = ("ArrowRight", "PageDown")
    for i, vue in enumerate(story.vues):
        expected = len(frames.filtered(vue.filters()).ptce)
        sync_api.expect(title).to_have_text(vue.titre, timeout=MAP_TIMEOUT_MS)
        sync_api.expect(counter).to_contain_text(f"{expected} PTCE")
        box = title.bounding_box()
        assert box is not None and box["y"] + box["height"] < 720  # readable
        if i < len(story.vues) - 1:
            page.keyboard.press(keys[i % 2])
    page.keyboard.press("PageUp")
    sync_api.expect(title).to_have_text(story.vues[-2].titre, timeout=MAP_TIMEOUT_MS)
    assert "vue=" in page.url
    assert not watch.external and not watch.errors
    page.close()


def test_saved_recit_survives_a_restart_and_its_link_reopens_it(
    built_cache, browser, tmp_path
):
    from lib.domain.recits import Recit, Vue, vue_link
    from lib.io.demo import install_demo
    from lib.store.accounts import User
    from lib.store.ptce import Store
    from lib.store.recits import save_recit

    url = f"sqlite:///{tmp_path / 'recits.sqlite'}"
    store = Store(url)
    install_demo(store)
    story = Recit(
        "club-2026",
        "Club 2026",
        (
            Vue("Ouverture", filtres={}),
            Vue("La Vendée", "Deux vues seulement.", filtres={"dep": ["85"]}),
        ),
    )
    save_recit(store, story, User("alice", "Alice", "éditeur"))
    expected = sum(p.departement == "85" for p in store.load())
    # A server started after the save (a restart), opened on the vue's link as
    # its very first request.
    with streamlit_server(ROOT, env={"DATABASE_URL": url}) as server:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        watch = Watch(page)
        page.goto(f"{server}/{vue_link(story.id, 1).removeprefix('./')}")
        title = page.locator('[data-testid="pres-title"]')
        sync_api.expect(title).to_have_text("La Vendée", timeout=MAP_TIMEOUT_MS)
        counter = page.locator('[data-testid="pres-counter"]')
        sync_api.expect(counter).to_contain_text(f"{expected} PTCE")
        assert not watch.external and not watch.errors
        page.close()
