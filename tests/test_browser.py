"""Real-browser tests: Playwright driving Debian's chromium against the app."""

from __future__ import annotations

import shutil

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, is_local, streamlit_server
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

if not shutil.which("chromium"):
    pytest.fail(
        "chromium is missing: `make test` installs Debian's package "
        "(apt-get install -y chromium)",
        pytrace=False,
    )

MAP_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """A demo database of the tests' own (never data/atlas.sqlite)."""
    from lib.demo import install_demo
    from lib.store import Store

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'atlas.sqlite'}"
    install_demo(Store(url))
    return {"DATABASE_URL": url}


@pytest.fixture(scope="module")
def server(built_cache, database):
    with streamlit_server(ROOT, env=database) as url:
        yield url


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
