"""The folium map must only load assets vendored under static/vendor."""

from __future__ import annotations

import re
from pathlib import Path

import folium
import folium.plugins
import pytest

from lib.rendering.web.assets import (
    CDN_TO_LOCAL,
    DROPPED_CDN_URLS,
    LEAFLET_ICON_PATH_JS,
    VENDOR_DIR,
    VENDOR_URL,
    external_asset_urls,
    local_asset_path,
    use_local_assets,
)
from scripts.vendor_assets import PACKAGES

CSS_URL_RE = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""")

GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"nom": "Lyon"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[4.8, 45.7], [4.9, 45.7], [4.9, 45.8], [4.8, 45.8], [4.8, 45.7]]
                ],
            },
        }
    ],
}


@pytest.fixture(autouse=True)
def _local_assets():
    use_local_assets()


def build_map() -> folium.Map:
    m = folium.Map(location=[46.5, 2.5], zoom_start=6, tiles=None)
    folium.GeoJson(GEOJSON, name="Communes", tooltip="Lyon").add_to(m)
    cluster = folium.plugins.MarkerCluster(name="PTCE").add_to(m)
    folium.Marker([45.75, 4.85], popup="Un PTCE", tooltip="PTCE").add_to(cluster)
    folium.LayerControl().add_to(m)
    return m


def referenced_urls(m: folium.Map) -> list[str]:
    """All default_js/default_css URLs of the element tree (as st_folium sees)."""
    urls: list[str] = []
    stack = [m]
    while stack:
        element = stack.pop()
        urls += [url for _, url in getattr(element, "default_js", [])]
        urls += [url for _, url in getattr(element, "default_css", [])]
        stack.extend(getattr(element, "_children", {}).values())
    return list(dict.fromkeys(urls))


def css_refs(css_file: Path) -> list[str]:
    refs = []
    for _, ref in CSS_URL_RE.findall(css_file.read_text(encoding="utf-8")):
        if ref and not ref.startswith(("data:", "#")):
            refs.append(re.split(r"[?#]", ref, maxsplit=1)[0])
    return refs


def test_map_has_no_external_assets():
    assert external_asset_urls(build_map()) == []


def test_rendered_html_has_no_cdn():
    html = build_map().get_root().render()
    for url in [*CDN_TO_LOCAL, *DROPPED_CDN_URLS]:
        assert url not in html
    assert f'src="{VENDOR_URL}/leaflet/leaflet.js"' in html


def test_every_local_url_exists_on_disk():
    urls = referenced_urls(build_map())
    assert f"{VENDOR_URL}/leaflet.markercluster/leaflet.markercluster.js" in urls
    for url in urls:
        assert url.startswith(VENDOR_URL + "/"), url
        path = local_asset_path(url)
        assert path.is_file(), url
        assert path.stat().st_size > 0, url


def test_every_mapped_file_exists():
    for relative in {*CDN_TO_LOCAL.values(), LEAFLET_ICON_PATH_JS[1]}:
        path = VENDOR_DIR / relative
        assert path.is_file() and path.stat().st_size > 0, relative


def test_dropped_assets_are_gone():
    css = [url for _, url in folium.Map.default_css]
    assert not DROPPED_CDN_URLS & set(css)
    names = [name for name, _ in folium.Map.default_css]
    assert "glyphicons_css" not in names
    assert "awesome_rotate_css" not in names


def test_icon_path_shim_follows_leaflet():
    names = [name for name, _ in folium.Map.default_js]
    assert names.index(LEAFLET_ICON_PATH_JS[0]) == names.index("leaflet") + 1


def test_use_local_assets_is_idempotent():
    before = (
        list(folium.Map.default_js),
        list(folium.Map.default_css),
        list(folium.plugins.MarkerCluster.default_css),
    )
    use_local_assets()
    use_local_assets()
    after = (
        folium.Map.default_js,
        folium.Map.default_css,
        folium.plugins.MarkerCluster.default_css,
    )
    assert list(map(list, after)) == list(before)


def test_use_local_assets_can_rebase():
    try:
        use_local_assets("http://localhost:8501/app/static/vendor/")
        js = dict(folium.Map.default_js)
        assert (
            js["leaflet"]
            == "http://localhost:8501/app/static/vendor/leaflet/leaflet.js"
        )
        m = build_map()
        assert external_asset_urls(m, "http://localhost:8501/app/static/vendor") == []
        assert "http://localhost:8501/app/static/vendor/leaflet/leaflet.js" in (
            external_asset_urls(m)
        )
    finally:
        use_local_assets()


def test_leaflet_css_images_exist():
    css = VENDOR_DIR / "leaflet" / "leaflet.css"
    refs = [ref for ref in css_refs(css) if ref.startswith("images/")]
    assert "images/marker-icon.png" in refs
    for ref in refs:
        assert (css.parent / ref).is_file(), ref
    # Used by leaflet.js itself (L.Icon.Default), not by the stylesheet.
    for name in ("marker-icon-2x.png", "marker-shadow.png"):
        assert (css.parent / "images" / name).is_file(), name


def test_fontawesome_webfonts_exist():
    css = VENDOR_DIR / "fontawesome" / "css" / "all.min.css"
    refs = [ref for ref in css_refs(css) if ref.startswith("../webfonts/")]
    woff2 = [ref for ref in refs if ref.endswith(".woff2")]
    assert "../webfonts/fa-solid-900.woff2" in woff2
    for ref in refs:
        path = (css.parent / ref).resolve()
        assert path.is_file() and path.stat().st_size > 0, ref


def test_no_vendored_css_points_at_missing_or_remote_files():
    for css in VENDOR_DIR.rglob("*.css"):
        for ref in css_refs(css):
            assert not re.match(r"^(https?:)?//", ref), (css, ref)
            assert (css.parent / ref).is_file(), (css, ref)


def test_no_source_maps_vendored():
    assert not list(VENDOR_DIR.rglob("*.map"))


def test_each_package_has_a_licence():
    for pkg in PACKAGES:
        folder = VENDOR_DIR / pkg.short
        licences = [
            p for p in folder.iterdir() if re.match(r"(?i)(mit-)?licen[cs]e", p.name)
        ]
        assert licences, pkg.spec


def test_sources_md_lists_every_package_and_version():
    sources = (VENDOR_DIR / "SOURCES.md").read_text(encoding="utf-8")
    expected = {
        "leaflet": "1.9.3",
        "leaflet.markercluster": "1.1.0",
        "jquery": "3.7.1",
        "bootstrap": "5.2.2",
        "@fortawesome/fontawesome-free": "6.2.0",
        "drmonty-leaflet-awesome-markers": "2.0.2",
    }
    assert {pkg.name: pkg.version for pkg in PACKAGES} == expected
    for name, version in expected.items():
        row = re.search(
            rf"^\| `{re.escape(name)}` \| {re.escape(version)} \|.*$", sources, re.M
        )
        assert row, name
        assert "sha512-" in row.group(0), name


def test_vendored_versions_match_folium():
    """The pinned versions are the ones folium's CDN URLs name."""
    for url in CDN_TO_LOCAL:
        assert any(pkg.version in url for pkg in PACKAGES), url


def test_local_asset_path_rejects_foreign_urls():
    with pytest.raises(ValueError):
        local_asset_path("https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js")
    with pytest.raises(ValueError):
        local_asset_path(f"{VENDOR_URL}/../../pyproject.toml")
    assert local_asset_path(f"{VENDOR_URL}/leaflet/leaflet.css?v=1") == (
        VENDOR_DIR / "leaflet" / "leaflet.css"
    )


def test_reintroduced_cdn_url_is_reported(monkeypatch):
    cdn = "https://unpkg.com/leaflet.markercluster@1.5.3/dist/leaflet.markercluster.js"
    monkeypatch.setattr(
        folium.plugins.MarkerCluster, "default_js", [("markerclusterjs", cdn)]
    )
    assert external_asset_urls(build_map()) == [cdn]


def test_reintroduced_cdn_css_on_map_is_reported(monkeypatch):
    cdn = "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css"
    monkeypatch.setattr(
        folium.Map, "default_css", [*folium.Map.default_css, ("glyphicons_css", cdn)]
    )
    assert external_asset_urls(build_map()) == [cdn]


def test_external_link_in_html_is_reported():
    m = build_map()
    m.get_root().header.add_child(
        folium.Element('<link rel="stylesheet" href="//fonts.example.org/f.css">')
    )
    assert external_asset_urls(m) == ["//fonts.example.org/f.css"]


# --- Real browser, offline: the map inside streamlit-folium's iframe -----------

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
E2E_APP = """\
import sys

sys.path.insert(0, {repo!r})

import folium
import folium.plugins
from streamlit_folium import st_folium

from lib.rendering.web.assets import use_local_assets

use_local_assets()
# With tiles=None nothing sets maxZoom, which MarkerCluster requires.
m = folium.Map(location=[46.5, 2.5], zoom_start=6, tiles=None, maxZoom=18)
folium.GeoJson({geojson!r}).add_to(m)
cluster = folium.plugins.MarkerCluster().add_to(m)
for i in range(5):
    folium.Marker([47.0 + i * 0.01, 3.0]).add_to(cluster)
folium.Marker([45.75, 4.85]).add_to(m)
folium.Marker([48.85, 2.35], icon=folium.Icon(prefix="fa", icon="star")).add_to(m)
st_folium(m, height=400, returned_objects=[])
"""


@pytest.mark.browser
def test_streamlit_map_loads_only_local_assets(tmp_path):
    import shutil

    from tests.browser import CHROMIUM_ARGS, is_local, streamlit_server

    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.fail("needs Debian's chromium (make test installs it)")

    (tmp_path / "app.py").write_text(
        E2E_APP.format(repo=str(REPO_ROOT), geojson=GEOJSON), encoding="utf-8"
    )
    (tmp_path / "static").symlink_to(REPO_ROOT / "static")
    shutil.copytree(REPO_ROOT / ".streamlit", tmp_path / ".streamlit")

    external: list[str] = []
    bad: list[str] = []
    errors: list[str] = []
    with streamlit_server(tmp_path) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()

        def route(r):
            if is_local(r.request.url):
                r.continue_()
            else:
                external.append(r.request.url)
                r.abort()

        def response(r):
            if r.status >= 400:
                bad.append(f"{r.status} {r.url}")

        page.route("**/*", route)
        page.on("response", response)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base)
        page.wait_for_selector(
            "iframe[title='streamlit_folium.st_folium']", timeout=60_000
        )
        frame = next(f for f in page.frames if "streamlit_folium" in f.url)
        # Wait for what is drawn: a cluster and a loaded marker image.
        frame.wait_for_selector(".marker-cluster", timeout=60_000)
        frame.wait_for_function(
            "[...document.querySelectorAll('img.leaflet-marker-icon')]"
            ".some(i => i.complete && i.naturalWidth > 0)",
            timeout=15_000,
        )
        state = frame.evaluate(
            """async () => ({
                imagePath: L.Icon.Default.imagePath,
                clusters: document.querySelectorAll('.marker-cluster').length,
                brokenImgs: [...document.querySelectorAll('img')]
                    .filter(i => i.complete && i.naturalWidth === 0)
                    .map(i => i.src),
                faLoaded: (
                    await document.fonts.load('900 16px "Font Awesome 6 Free"')
                ).length > 0,
            })"""
        )
        browser.close()

    assert external == []
    assert bad == []
    assert errors == []
    assert state["imagePath"] == f"{base}{VENDOR_URL}/leaflet/images/"
    assert state["clusters"] >= 1
    assert state["brokenImgs"] == []
    assert state["faLoaded"]
