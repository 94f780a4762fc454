"""Offline HTML export of a map: one file, no server, no network."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from lib.rendering.web.offline import DATA_URL_RE, standalone_bytes, standalone_html
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.test_carte import XSS, make_records

REGION = "52"
TITLE = "Atlas <PTCE> & « Pays de la Loire »"

# http(s) strings that stay in the page without being fetched: the SVG
# namespace, licence banners and comments of the vendored files, and the link
# of Leaflet's attribution prefix (a hyperlink the user may click).
NOT_FETCHED = {
    "http://www.w3.org/2000/svg",
    "https://leafletjs.com",
    "https://github.com/Leaflet/Leaflet.markercluster",
    "https://bugzilla.mozilla.org/show_bug.cgi?id=888319",
}
_URL_RE = re.compile(r"""https?://[^\s"'<>)\\]+""")


@pytest.fixture(scope="module")
def frames(built_cache):
    from geo.lookup import commune_points
    from lib.domain.selection import build_frames

    return build_frames(make_records(), commune_points())


@pytest.fixture(scope="module")
def epci_count(built_cache) -> int:
    from geo.boundaries import in_region, load_boundaries

    return len(in_region(load_boundaries("epci", "regional"), "epci", REGION))


def carte_map(frames, remote_from: int = 10_000, tiles: bool = False):
    """The Carte's map of Pays de la Loire: EPCI choropleth and PTCE markers."""
    from geo.boundaries import (
        ATTRIBUTION,
        in_region,
        load_boundaries,
        static_geojson,
    )
    from lib.analysis.choropleth import INDICATORS, classify, indicator
    from lib.rendering.web.maps import (
        choropleth_layer,
        explorer_base,
        fit_bounds_of,
        ptce_markers,
    )
    from lib.rendering.web.offline import standalone_map

    epci = in_region(load_boundaries("epci", "regional"), "epci", REGION)
    population = epci.set_index("code")["population"].astype(float)
    values = indicator(frames, "epci", "nombre", population)
    colors, _legend = classify(values, "quantiles", 5, *INDICATORS["nombre"])
    region = in_region(load_boundaries("region", "national"), "region", REGION)
    base = explorer_base(
        static_geojson("region", "regional", REGION),
        bounds=fit_bounds_of(region),
        tiles=tiles,
        attribution=ATTRIBUTION,
    )
    groups = [
        choropleth_layer(
            static_geojson("epci", "regional", REGION),
            colors.to_dict(),
            values.to_dict(),
            INDICATORS["nombre"][0],
        ),
        ptce_markers(frames.ptce, remote_from=remote_from),
    ]
    return standalone_map(groups, base)


def fetched_urls(page: str) -> list[str]:
    """URLs a browser would load by itself: src, href of links, CSS url()."""
    found = re.findall(r"""<(?:script|img|iframe)\b[^>]*\bsrc=["']?([^"'\s>]+)""", page)
    found += re.findall(r"""<link\b[^>]*\bhref=["']?([^"'\s>]+)""", page)
    found += re.findall(r"""url\(\s*["']?([^"')]+)""", page)
    return [u for u in found if not u.startswith(("data:", "#"))]


# -- unit ---------------------------------------------------------------------


@pytest.mark.parametrize("remote_from", [10_000, 1])
def test_everything_is_inline(frames, remote_from):
    page = standalone_html(carte_map(frames, remote_from), TITLE)
    assert 'src="/app/static' not in page and "href='/app/static" not in page
    assert 'href="/app/static' not in page
    assert "<link" not in page
    assert fetched_urls(page) == []
    assert set(_URL_RE.findall(page)) <= NOT_FETCHED
    # Leaflet and the marker cluster plugin, with their licence banners.
    assert "Leaflet 1.9.3" in page and "L.markerClusterGroup" in page
    assert "MarkerClusterGroup" in page
    # Images of leaflet.css (layers control, default icon) as data: URIs.
    assert "images/layers.png" not in page and "data:image/png;base64," in page
    # The project's icon-path shim needs a script URL: replaced.
    assert "document.currentScript" not in page
    assert XSS not in page
    assert "<title>Atlas &lt;PTCE&gt; &amp; « Pays de la Loire »</title>" in page
    assert "Atlas &lt;PTCE&gt;" in page.split("<body", 1)[1]
    assert page.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("remote_from", [10_000, 1])
def test_data_files_are_embedded(frames, remote_from):
    from geo.boundaries import static_path
    from lib.rendering.web.maps import MARKERS_DIR

    page = standalone_html(carte_map(frames, remote_from), TITLE)
    blocks = dict(
        re.findall(
            r'<script type="application/json" id="([\w-]+)">(.*?)</script>',
            page,
            re.DOTALL,
        )
    )
    urls = list(dict.fromkeys(DATA_URL_RE.findall(page)))
    kinds = sorted(url.split("/")[3] for url in urls)
    assert kinds == (["geo", "geo", "markers"] if remote_from == 1 else ["geo", "geo"])
    assert len(blocks) == len(urls)
    texts = {json.dumps(json.loads(text), sort_keys=True) for text in blocks.values()}
    for url in urls:
        if "/markers/" in url:
            path = MARKERS_DIR / url.rsplit("/", 1)[-1]
        else:
            path = static_path(url)
        original = json.loads(path.read_text(encoding="utf-8"))
        assert json.dumps(original, sort_keys=True) in texts
    if remote_from == 1:
        # The hostile name travels in the marker file, escaped for the page.
        assert any("\\u003cimg src=x" in text for text in blocks.values())


def test_bytes_are_utf8(frames):
    data = standalone_bytes(carte_map(frames), "Carte")
    assert data.decode("utf-8").count("<title>Carte</title>") == 1


def test_tiles_are_the_only_network_use(frames):
    page = standalone_html(carte_map(frames, tiles=True), TITLE)
    assert fetched_urls(page) == []
    remote = set(_URL_RE.findall(page)) - NOT_FETCHED
    assert remote and all("openstreetmap" in url for url in remote), remote


def test_missing_static_file_is_an_error(built_cache):
    from lib.rendering.web.maps import explorer_base

    m = explorer_base("/app/static/geo/absent-00000000.geojson")
    with pytest.raises(ValueError, match="introuvable"):
        standalone_html(m, "Carte")


def test_asset_from_another_site_is_an_error(built_cache):
    import folium.plugins

    from lib.rendering.web.maps import base_map

    m = base_map()
    folium.plugins.Fullscreen().add_to(m)
    with pytest.raises(ValueError, match="autre site"):
        standalone_html(m, "Carte")


def test_no_caption(built_cache):
    from lib.rendering.web.maps import base_map

    page = standalone_html(base_map(), "Carte", caption=False)
    assert "atlas-offline-caption" not in page and "<title>Carte</title>" in page


# -- browser ------------------------------------------------------------------

_STATE_JS = """() => {
    const map = Object.values(window).find(v => v instanceof L.Map);
    if (!map) return null;
    const groups = [];
    map.eachLayer(l => { if (l instanceof L.MarkerClusterGroup) groups.push(l); });
    return {
        choropleth: document.querySelectorAll('.leaflet-overlay-pane path').length,
        region: document.querySelectorAll('.leaflet-region-pane path').length,
        markers: groups.flatMap(g => g.getLayers()).length,
        drawn: document.querySelectorAll('.marker-cluster, .ptce-marker').length,
        caption: document.querySelector('.atlas-offline-caption').textContent,
        tiles: document.querySelectorAll('img.leaflet-tile').length,
    };
}"""

# Opens each marker's popup content (built with textContent) and a default
# Leaflet marker, whose images must come from data: URIs.
_POPUPS_JS = """() => {
    const map = Object.values(window).find(v => v instanceof L.Map);
    const texts = [];
    map.eachLayer(l => {
        if (!(l instanceof L.MarkerClusterGroup)) return;
        for (const marker of l.getLayers()) {
            const box = marker.getPopup()._content(marker);
            L.popup().setLatLng(marker.getLatLng()).setContent(box).openOn(map);
            texts.push(box.isConnected ? box.textContent : null);
        }
    });
    const pin = L.marker(map.getCenter()).addTo(map);
    return {texts, icon: pin._icon.src, shadow: pin._shadow.src,
            images: document.querySelectorAll('img[src="x"]').length};
}"""


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.fail("chromium is missing (apt-get install -y chromium)", pytrace=False)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.mark.browser
@pytest.mark.parametrize("remote_from", [10_000, 1])
def test_file_draws_offline(browser, frames, epci_count, tmp_path, remote_from):
    path = tmp_path / "carte.html"
    path.write_text(standalone_html(carte_map(frames, remote_from), TITLE), "utf-8")
    url = path.as_uri()
    blocked, dialogs, errors = [], [], []
    page = browser.new_page(viewport={"width": 1200, "height": 900})

    def route(r):
        # Only the file itself: a request of /app/static/... (file:///app/...)
        # would mean the embedded data were not used.
        if r.request.url == url or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on(
        "request",
        lambda r: r.url == url or r.url.startswith("data:") or blocked.append(r.url),
    )
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    # A failed request or a script error also shows in the console.
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(url)
    page.wait_for_function(
        f"() => {{ const s = ({_STATE_JS})(); return s && s.markers === 3 "
        f"&& s.drawn > 0 && s.choropleth >= {epci_count - 2}; }}",
        timeout=30_000,
    )
    state = page.evaluate(_STATE_JS)
    assert state["choropleth"] >= epci_count - 2, state
    assert state["region"] == 1, state
    assert state["tiles"] == 0
    assert state["caption"] == TITLE
    assert page.title() == TITLE
    shown = page.evaluate(_POPUPS_JS)
    assert len(shown["texts"]) == 3 and any(XSS in t for t in shown["texts"])
    assert shown["images"] == 0
    assert shown["icon"].startswith("data:image/png;base64,")
    assert shown["shadow"].startswith("data:image/png;base64,")
    assert blocked == [], blocked
    assert dialogs == [], dialogs
    assert errors == [], errors
    page.close()


def test_fonts_and_images_of_style_sheets_become_data():
    import folium

    from lib.rendering.web.assets import use_local_assets

    use_local_assets()
    # folium's full default set: Bootstrap, Font Awesome (web fonts relative
    # to its CSS, "../webfonts/…"), awesome-markers' sprites.
    page = standalone_html(folium.Map(tiles=None), "Carte")
    assert "data:font/woff2;base64," in page and "data:font/ttf;base64," in page
    assert "../webfonts/" not in page
    assert fetched_urls(page) == []


@pytest.mark.browser
def test_carte_file_shows_legend_title_filters_date_and_sources(
    browser, frames, tmp_path
):
    """The Carte's offline file explains itself with every request blocked."""
    from datetime import date

    from lib.rendering.palette import FILIERE_COLORS, LEVEL_COLORS
    from lib.rendering.web.carte import offline_map

    filters_text = "Région : Pays de la Loire · Filières : culture"
    path = tmp_path / "carte.html"
    path.write_bytes(
        offline_map(
            frames,
            maille="departement",
            indicateur="nombre",
            methode="quantiles",
            region=REGION,
            couches=("ptce", "choro", "soutiens"),
            title=TITLE,
            subtitle=filters_text,
            when=date(2026, 5, 1),
        )
    )
    url = path.as_uri()
    blocked = []
    page = browser.new_page(viewport={"width": 1280, "height": 720})

    def route(r):
        if r.request.url == url or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url)
    panel = page.locator(".atlas-offline-legend")
    panel.wait_for(state="visible", timeout=30_000)
    text = " ".join(panel.inner_text().split())
    assert TITLE in text
    assert filters_text in text
    assert "Export du 1er mai 2026" in text
    # The sources of what is drawn, and how the PTCE are placed.
    assert "Sources : " in text and "Contours" in text and "PTCE placés" in text
    # The colour keys: the map's own legend, as on the Carte.
    legend = page.locator(".atlas-legend")
    legend.wait_for(state="visible", timeout=30_000)
    keys = page.evaluate(
        """() => [...document.querySelectorAll('.atlas-legend-entry')].map(
            row => ({label: row.textContent.trim(),
                     color: row.dataset.color,
                     drawn: [...row.querySelectorAll('circle, line, span')].map(
                        e => (e.getAttribute('fill') || '') + ' ' +
                             (e.getAttribute('stroke') || '') + ' ' +
                             e.style.background)
            }))"""
    )
    by_label = {k["label"]: k for k in keys}
    drawn = set(frames.ptce.loc[frames.ptce["lat"].notna(), "filiere"].dropna())
    assert drawn
    for filiere in drawn & set(FILIERE_COLORS):
        assert by_label[filiere]["color"] == FILIERE_COLORS[filiere]
        assert FILIERE_COLORS[filiere] in " ".join(by_label[filiere]["drawn"])
    assert any(
        color in " ".join(" ".join(k["drawn"]) for k in keys)
        for color in LEVEL_COLORS.values()
    )
    assert legend.bounding_box()["y"] < 720
    # Every key is visible on screen, inside the viewport.
    box = panel.bounding_box()
    assert box and box["width"] > 100 and box["y"] + 10 < 720
    assert blocked == [], blocked
    page.close()
