"""Serve folium's JavaScript and CSS from the vendored copies in static/vendor.

folium 0.20.0 and its plugins list the assets they need as ``(name, url)``
pairs in the ``default_js`` / ``default_css`` class attributes of
:class:`folium.Map` and of every :class:`folium.elements.JSCSSMixin` subclass,
all pointing at CDNs. Both folium's own HTML and streamlit-folium's component
read those attributes, so rewriting them is enough to make the map work
offline. The files themselves are copied from npm by
``scripts/vendor_assets.py`` and served by Streamlit (``enableStaticServing``)
under ``/app/static/vendor``.

Examples
--------
>>> import folium
>>> from lib.rendering.web.assets import external_asset_urls, use_local_assets
>>> use_local_assets()
>>> external_asset_urls(folium.Map(tiles=None))
[]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Final
from urllib.parse import unquote, urlsplit

import branca.colormap
import folium
import folium.plugins
from branca.element import Element
from folium.elements import JSCSSMixin

__all__ = [
    "CDN_TO_LOCAL",
    "DROPPED_CDN_URLS",
    "LEAFLET_ICON_PATH_JS",
    "STREAMLIT_FOLIUM_COLORMAP_JS",
    "VENDOR_DIR",
    "VENDOR_URL",
    "external_asset_urls",
    "local_asset_path",
    "use_local_assets",
]

VENDOR_URL: Final = "/app/static/vendor"
"""URL under which Streamlit serves ``static/vendor`` (``/app/static/...``)."""

VENDOR_DIR: Final = Path(__file__).resolve().parents[3] / "static" / "vendor"
"""Directory holding the vendored files (see ``static/vendor/SOURCES.md``)."""

_CDN_TO_LOCAL_PAIRS = (
    # folium.Map
    (
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js",
        "leaflet/leaflet.js",
    ),
    (
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css",
        "leaflet/leaflet.css",
    ),
    (
        "https://code.jquery.com/jquery-3.7.1.min.js",
        "jquery/jquery.min.js",
    ),
    (
        "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js",
        "bootstrap/bootstrap.bundle.min.js",
    ),
    (
        "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css",
        "bootstrap/bootstrap.min.css",
    ),
    (
        "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css",
        "fontawesome/css/all.min.css",
    ),
    (
        "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js",
        "leaflet.awesome-markers/leaflet.awesome-markers.js",
    ),
    (
        "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css",
        "leaflet.awesome-markers/leaflet.awesome-markers.css",
    ),
    # folium.plugins.MarkerCluster
    (
        "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js",
        "leaflet.markercluster/leaflet.markercluster.js",
    ),
    (
        "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css",
        "leaflet.markercluster/MarkerCluster.css",
    ),
    (
        "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css",
        "leaflet.markercluster/MarkerCluster.Default.css",
    ),
    # The same jQuery from another CDN (TimestampedGeoJson, TimestampedWmsTileLayers).
    (
        "https://cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js",
        "jquery/jquery.min.js",
    ),
)

CDN_TO_LOCAL: Final = MappingProxyType(dict(_CDN_TO_LOCAL_PAIRS))
"""CDN URL used by folium or a plugin -> vendored file, relative to VENDOR_DIR."""

DROPPED_CDN_URLS: Final = frozenset(
    {
        # Bootstrap 3 glyphicons, only for folium.Icon(prefix="glyphicon").
        "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css",
        # Only for rotated awesome markers (folium.Icon(angle=...)).
        "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css",
    }
)
"""CDN assets removed outright rather than vendored (not needed by the atlas)."""

LEAFLET_ICON_PATH_JS: Final = ("leaflet_icon_path", "atlas/leaflet-icon-path.js")
"""Project shim inserted after leaflet.js: pins ``L.Icon.Default.imagePath``.

Leaflet 1.9.3 finds its default marker images from the applied leaflet.css;
streamlit-folium runs the map script before that stylesheet is applied, and
Leaflet's fallback then requests ``.../leafletmarker-icon.png``.
"""

STREAMLIT_FOLIUM_COLORMAP_JS: Final = (
    "https://d3js.org/d3.v4.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js",
)
"""d3 URLs hard-coded in streamlit-folium for any branca ColorMap in the map."""

_ORIGINALS: dict[type, dict[str, list[tuple[str, str]]]] = {}
_HTML_URL_RE = re.compile(
    r"""\b(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", re.IGNORECASE
)


def _jscss_classes() -> Iterator[type]:
    """Yield every JSCSSMixin subclass defined in folium (plugins included)."""
    seen: set[type] = set()
    stack = list(JSCSSMixin.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] == "folium":
            yield cls


def _localise(links: list[tuple[str, str]], base_url: str) -> list[tuple[str, str]]:
    """Return ``links`` with mapped CDN URLs made local and dropped ones removed."""
    result = []
    for name, url in links:
        if url in DROPPED_CDN_URLS:
            continue
        if url in CDN_TO_LOCAL:
            url = f"{base_url}/{CDN_TO_LOCAL[url]}"
        result.append((name, url))
    return result


def use_local_assets(base_url: str = VENDOR_URL) -> None:
    """Point folium's ``default_js`` / ``default_css`` at the vendored files.

    Rewrites the class attributes of :class:`folium.Map` and of every
    :class:`~folium.elements.JSCSSMixin` subclass in folium and
    :mod:`folium.plugins` that uses a URL of :data:`CDN_TO_LOCAL`. The assets
    of :data:`DROPPED_CDN_URLS` are removed, and the Leaflet icon-path shim
    (:data:`LEAFLET_ICON_PATH_JS`) is inserted right after ``leaflet.js`` in
    ``folium.Map.default_js``. URLs that are not mapped (plugins the atlas does
    not use) are left untouched; :func:`external_asset_urls` reports them.

    The call is idempotent: each call recomputes the lists from the original
    folium values recorded on the first call, so calling it again (even with
    another ``base_url``) never stacks rewrites. New lists are assigned, the
    original folium lists are not mutated.

    Parameters
    ----------
    base_url : str, optional
        URL prefix under which ``static/vendor`` is served, without trailing
        slash. Defaults to :data:`VENDOR_URL`.

    Notes
    -----
    Elements already rendered into a :class:`branca.element.Figure` keep the
    links written into its header; call this before building maps.
    """
    base_url = base_url.rstrip("/")
    for cls in _jscss_classes():
        if cls not in _ORIGINALS:
            own = {
                attr: list(cls.__dict__[attr])
                for attr in ("default_js", "default_css")
                if attr in cls.__dict__
            }
            urls = {url for links in own.values() for _, url in links}
            if not urls & (CDN_TO_LOCAL.keys() | DROPPED_CDN_URLS):
                continue
            _ORIGINALS[cls] = own
        for attr, links in _ORIGINALS[cls].items():
            setattr(cls, attr, _localise(links, base_url))

    # Pin Leaflet's default icon path right after leaflet.js.
    shim_name, shim_path = LEAFLET_ICON_PATH_JS
    js = [pair for pair in folium.Map.default_js if pair[0] != shim_name]
    names = [name for name, _ in js]
    at = names.index("leaflet") + 1 if "leaflet" in names else 0
    js.insert(at, (shim_name, f"{base_url}/{shim_path}"))
    folium.Map.default_js = js


def _is_local(url: str, base_url: str) -> bool:
    """Tell whether an asset URL is served by the app itself."""
    if url.startswith("//"):  # protocol-relative: another host
        return False
    return url.startswith((base_url.rstrip("/") + "/", "/"))


def _walk(element: Element) -> Iterator[Element]:
    """Yield an element and its descendants, as streamlit-folium walks them."""
    yield element
    if isinstance(element, folium.plugins.DualMap):
        yield from _walk(element.m1)
        yield from _walk(element.m2)
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


def external_asset_urls(m: folium.Map, base_url: str = VENDOR_URL) -> list[str]:
    """List the non-local assets a map would make the browser download.

    Two sources are checked:

    * the ``default_js`` / ``default_css`` URLs of ``m`` and all its
      descendants (the element tree streamlit-folium walks to build its script
      and stylesheet lists), plus the d3 URLs streamlit-folium hard-codes when
      the tree holds a :class:`branca.colormap.ColorMap`;
    * the ``src=`` / ``href=`` attributes with an ``http://``, ``https://`` or
      protocol-relative URL in the HTML of ``m.get_root().render()``.

    A URL is local when it starts with ``base_url`` or with a single ``/``.

    Parameters
    ----------
    m : folium.Map
        The map (any :class:`branca.element.Element` works, e.g. a
        ``folium.plugins.DualMap``). Rendering it adds links to its figure
        header, as folium and streamlit-folium do anyway.
    base_url : str, optional
        URL prefix of the vendored files. Defaults to :data:`VENDOR_URL`.

    Returns
    -------
    list of str
        External URLs, without duplicates, in order of first appearance; an
        empty list means the map only loads local assets.
    """
    urls: list[str] = []
    for element in _walk(m):
        if isinstance(element, branca.colormap.ColorMap):
            urls.extend(STREAMLIT_FOLIUM_COLORMAP_JS)
        if isinstance(element, JSCSSMixin):
            urls.extend(url for _, url in element.default_js)
            urls.extend(url for _, url in element.default_css)

    html = m.get_root().render()
    urls.extend(match.group(1) for match in _HTML_URL_RE.finditer(html))

    return [url for url in dict.fromkeys(urls) if not _is_local(url, base_url)]


def local_asset_path(url: str, base_url: str = VENDOR_URL) -> Path:
    """Return the vendored file served at a local asset URL.

    Parameters
    ----------
    url : str
        A URL starting with ``base_url``, e.g.
        ``"/app/static/vendor/leaflet/leaflet.js"``. A query string or
        fragment is ignored.
    base_url : str, optional
        URL prefix of the vendored files. Defaults to :data:`VENDOR_URL`.

    Returns
    -------
    pathlib.Path
        The corresponding path under :data:`VENDOR_DIR` (it may not exist).

    Raises
    ------
    ValueError
        If ``url`` is not under ``base_url`` or escapes :data:`VENDOR_DIR`.
    """
    prefix = base_url.rstrip("/") + "/"
    if not url.startswith(prefix):
        raise ValueError(f"not a vendored asset URL (expected {prefix}...): {url}")
    relative = PurePosixPath(unquote(urlsplit(url[len(prefix) :]).path))
    path = (VENDOR_DIR / relative).resolve()
    if not path.is_relative_to(VENDOR_DIR) or path == VENDOR_DIR:
        raise ValueError(f"asset URL escapes {VENDOR_DIR}: {url}")
    return path
