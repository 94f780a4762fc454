"""Real browser: the tooltip of a "qui soutient qui" line, and neutral clusters."""

from __future__ import annotations

import pytest

from lib.rendering.web.maps import support_rows
from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

MAP_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    from lib.io.demo import install_demo
    from lib.store.ptce import Store
    from tests.test_carte import make_records

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'atlas.sqlite'}"
    store = Store(url)
    install_demo(store)
    store.create_many(make_records(), "test")
    return store, {"DATABASE_URL": url}


@pytest.fixture(scope="module")
def page(built_cache, database):
    _store, env = database
    with (
        streamlit_server(ROOT, env=env) as url,
        sync_api.sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{url}/carte?dep=44&couches=choro&couches=ptce&couches=soutiens")
        page.wait_for_selector(
            "iframe[title='streamlit_folium.st_folium']", timeout=MAP_TIMEOUT_MS
        )
        yield page
        browser.close()


def _map_frame(page):
    page.wait_for_function(
        "() => [...document.querySelectorAll('iframe')].some(f => {"
        " try { return f.contentDocument.querySelector('path.ptce-support'); }"
        " catch (e) { return false; } })",
        timeout=MAP_TIMEOUT_MS,
    )
    return next(
        f for f in page.frames if f.query_selector("path.ptce-support") is not None
    )


def _expected(database):
    from geo.lookup import commune_points
    from lib.analysis.layers import supports
    from lib.domain.selection import Filters, build_frames

    store, _env = database
    frames = build_frames(store.load(), commune_points())
    _polys, links = supports(frames.filtered(Filters(departements=("44",))))
    return links


def test_support_line_tooltip_names_ptce_and_type(page, database):
    frame = _map_frame(page)
    # Each tooltip as its entries (a rule separates two supports on one
    # line), each entry as its lines of text.
    tooltips = frame.evaluate(
        """() => {
            const lines = [...document.querySelectorAll('path.ptce-support')];
            return lines.map(line => {
                line.dispatchEvent(new MouseEvent('mouseover', {bubbles: true,
                    clientX: 10, clientY: 10}));
                const tips = document.querySelectorAll('.leaflet-tooltip div');
                const entries = [[]];
                const box = tips[tips.length - 1];
                for (const node of box ? box.childNodes : []) {
                    if (node.nodeName === 'HR') entries.push([]);
                    else if (node.nodeName !== 'BR')
                        entries[entries.length - 1].push(node.textContent);
                }
                line.dispatchEvent(new MouseEvent('mouseout', {bubbles: true}));
                return entries.map(e => e.join('\\n'));
            });
        }"""
    )
    links = _expected(database)
    rows = support_rows(links)
    assert len(tooltips) == len(rows)
    assert all(entries and all(entries) for entries in tooltips)

    def plain(text):
        return text.replace("\u202f", " ").replace("\xa0", " ")

    wanted = {
        plain("\n".join([title, *details])) for row in rows for title, details in row[5]
    }
    names = {link["label"].split(" → ", 1)[1] for link in links}
    seen = set()
    for entries in tooltips:
        # A line lists its supports, each: collectivité → PTCE, then the
        # type, amount, years and source.
        for entry in map(plain, entries):
            assert entry in wanted, entry
            title, kind = entry.splitlines()[:2]
            assert title.split(" → ", 1)[1] in names
            assert kind.startswith("Soutien : ")
            seen.add(entry)
    assert seen == wanted  # every support can be read on the map
    # Each supporting collectivité outlined (read from the view's files).
    outlines = frame.evaluate(
        "() => document.querySelectorAll("
        "'.leaflet-soutiens-pane path.ptce-support-outline').length"
    )
    assert outlines == len({(link["niveau"], link["code"]) for link in links})
    # Lines end on rings at the PTCE themselves, drawn over the clusters.
    ends = frame.evaluate(
        "() => document.querySelectorAll("
        "'.leaflet-soutiens-fin-pane path.ptce-support-end').length"
    )
    # One ring (casing and ink) per place: PTCE of one commune share it.
    places = {tuple(round(v, 5) for v in link["to"]) for link in links}
    assert ends == 2 * len(places)


def test_clusters_are_neutral_white_bubbles(page):
    frame = _map_frame(page)
    colours = frame.evaluate(
        """() => [...document.querySelectorAll('.marker-cluster div')]
            .map(d => getComputedStyle(d).backgroundColor)"""
    )
    assert colours, "no cluster drawn"
    assert set(colours) == {"rgb(255, 255, 255)"}
