"""A map as one self-contained HTML file that works offline (download, e-mail).

In the app, a folium map loads Leaflet from ``/app/static/vendor`` and its
boundaries and marker rows from ``/app/static/geo`` and
``/app/static/markers``: URLs that only the running Streamlit server answers.
:func:`standalone_html` renders the map and puts all of it in the page:

* every ``<script src="/app/static/...">`` becomes an inline script, every
  ``<link rel="stylesheet" href="/app/static/...">`` an inline style sheet
  whose ``url(...)`` images and fonts become ``data:`` URIs;
* Leaflet's default marker images are set as ``data:`` URIs too (the
  project's icon-path shim needs a script URL, which an inline script lacks);
* the GeoJSON and marker files the map scripts request are embedded as JSON
  blocks, and a small shim answers ``XMLHttpRequest`` and ``fetch`` requests
  of those URLs from them, so the templates of :mod:`lib.rendering.web.maps` run
  unchanged.

Only a tile layer (the optional OpenStreetMap background) still needs a
network; the file opens from disk with no server.

Examples
--------
>>> from lib.rendering.web.maps import explorer_base
>>> from geo.boundaries import static_geojson
>>> m = explorer_base(static_geojson("region", "national"))  # doctest: +SKIP
>>> page = standalone_html(m, "Atlas des PTCE")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import posixpath
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import folium

from geo.boundaries import STATIC_URL, static_path
from lib.rendering.web.assets import (
    LEAFLET_ICON_PATH_JS,
    VENDOR_DIR,
    VENDOR_URL,
    local_asset_path,
)
from lib.rendering.web.maps import MARKERS_DIR, MARKERS_URL

__all__ = [
    "DATA_URL_RE",
    "legend_panel",
    "standalone_bytes",
    "standalone_html",
    "standalone_map",
]

#: URL prefix of everything Streamlit serves from ``static/``.
_STATIC_PREFIX = "/app/static/"
_STATIC_ROOT = VENDOR_DIR.parent

#: Data files the map scripts request at run time (boundaries, marker rows).
DATA_URL_RE = re.compile(r"/app/static/(?:geo|markers)/[\w.-]+\.(?:geojson|json)")

# Script and link tags in one pattern, replaced in one pass: the text put in
# their place (Leaflet's code…) is never scanned again for tags.
_TAG_RE = re.compile(
    r"""<script\b[^>]*?\bsrc\s*=\s*(["'])(?P<src>[^"']*)\1[^>]*>\s*</script\s*>"""
    r"|<link\b[^>]*>",
    re.IGNORECASE,
)
_ATTR_RE = re.compile(r"""\b(?P<name>rel|href)\s*=\s*(["'])(?P<value>[^"']*)\2""", re.I)
_CSS_URL_RE = re.compile(r"""url\(\s*(["']?)(?P<ref>[^"')]*?)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT_RE = re.compile(r"@import\b", re.IGNORECASE)

# Some systems' mimetypes tables lack web fonts; a wrong type makes browsers
# refuse a font, so the usual ones are fixed here.
_MIME_TYPES = {
    ".png": "image/png",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".cur": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
}

#: Leaflet's default marker images, as named by ``L.Icon.Default`` options.
_LEAFLET_ICONS = {
    "iconUrl": "marker-icon.png",
    "iconRetinaUrl": "marker-icon-2x.png",
    "shadowUrl": "marker-shadow.png",
}

# Answers requests of embedded files. Sync requests (as the templates of
# lib.rendering.web.maps make) get their answer in send(); async ones get the usual
# events
# on the next turn. Other URLs go to the browser untouched (e.g. tiles).
_REQUEST_SHIM = """
(function () {
    "use strict";
    const ids = %(ids)s;
    const cache = {};
    const ANSWER = ["readyState", "status", "statusText", "responseText",
                    "response", "responseURL"];
    function idOf(url) {
        url = String(url);
        if (Object.prototype.hasOwnProperty.call(ids, url)) { return ids[url]; }
        let path;
        try { path = new URL(url, document.baseURI).pathname; } catch (e) {
            return null;
        }
        return Object.prototype.hasOwnProperty.call(ids, path) ? ids[path] : null;
    }
    function text(id) {
        if (!(id in cache)) {
            cache[id] = document.getElementById(id).textContent;
        }
        return cache[id];
    }
    const proto = XMLHttpRequest.prototype;
    const open = proto.open, send = proto.send;
    proto.open = function (method, url, async) {
        const id = String(method).toUpperCase() === "GET" ? idOf(url) : null;
        this.__atlasFile = id;
        this.__atlasAsync = async !== false;
        // A request object used again: drop the answer of its last request.
        for (const key of ANSWER) { delete this[key]; }
        if (id === null) { return open.apply(this, arguments); }
    };
    proto.send = function () {
        const id = this.__atlasFile;
        if (id === null || id === undefined) { return send.apply(this, arguments); }
        const body = text(id);
        const fixed = {readyState: 4, status: 200, statusText: "OK",
                       responseText: body, response: body,
                       responseURL: document.baseURI};
        for (const key in fixed) {
            Object.defineProperty(this, key, {value: fixed[key], configurable: true});
        }
        const fire = () => {
            for (const type of ["readystatechange", "load", "loadend"]) {
                this.dispatchEvent(new Event(type));
            }
        };
        if (this.__atlasAsync) { setTimeout(fire, 0); } else { fire(); }
    };
    if (window.fetch) {
        const fetch = window.fetch;
        window.fetch = function (input, init) {
            const url = typeof input === "string" ? input : input && input.url;
            const method = (init && init.method) || (input && input.method) || "GET";
            const id = String(method).toUpperCase() === "GET" ? idOf(url) : null;
            if (id === null) { return fetch.apply(this, arguments); }
            return Promise.resolve(new Response(text(id), {
                status: 200, headers: {"Content-Type": "application/json"}}));
        };
    }
})();
"""

# The project's shim finds the images from its own script URL; inline, it has
# none, so the default icon options get data: URIs instead (empty path).
_ICON_SHIM = """
(function () {
    if (!window.L || !L.Icon || !L.Icon.Default) { return; }
    L.Icon.Default.imagePath = "";
    L.Icon.Default.mergeOptions(%s);
})();
"""

_CAPTION_STYLE = (
    "<style>.atlas-offline-caption{position:absolute;top:10px;left:50%%;"
    "transform:translateX(-50%%);z-index:1000;pointer-events:none;"
    "background:rgba(255,255,255,.9);border-radius:4px;padding:4px 12px;"
    "font:600 15px/1.4 system-ui,sans-serif;color:#222;"
    "box-shadow:0 1px 4px rgba(0,0,0,.3);max-width:70%%;text-align:center}"
    "</style>%s"
)


_PANEL_STYLE = (
    "<style>.atlas-offline-legend{position:absolute;top:84px;left:10px;"
    "z-index:1000;max-width:min(320px,40vw);max-height:calc(100vh - 140px);"
    "overflow:auto;background:rgba(255,255,255,.95);border-radius:4px;"
    "padding:8px 12px;font:13px/1.4 system-ui,sans-serif;color:#222;"
    "box-shadow:0 1px 4px rgba(0,0,0,.3)}"
    ".atlas-offline-legend summary{font-weight:600;cursor:pointer}"
    ".atlas-offline-legend h2{font-size:15px;margin:4px 0}"
    ".atlas-offline-legend h3{font-size:13px;margin:8px 0 2px}"
    ".atlas-offline-legend ul{list-style:none;margin:0;padding:0}"
    ".atlas-offline-legend li{display:flex;align-items:center;gap:6px}"
    ".atlas-offline-legend svg{flex:none}"
    ".atlas-offline-legend .atlas-meta{color:#555;font-size:12px;margin:6px 0 0}"
    "</style>"
)


def legend_panel(title: str, subtitle: str, date_text: str, sources: str) -> str:
    """Return the HTML of the offline map's panel: title, filters, date, sources.

    The colour keys are the map's own legend
    (:class:`lib.rendering.web.maps.MapLegend`).

    Parameters
    ----------
    title : str
        Title of the map.
    subtitle : str
        The active filters, in French.
    date_text : str
        The export's date, in French (:func:`lib.fr.date`).
    sources : str
        The sources line (:meth:`lib.rendering.vue.MapSpec.source_line`).

    Returns
    -------
    str
        A ``<details open>`` panel over the top left of the map (it can be
        folded away); every text escaped.
    """
    parts = [f"<h2>{html.escape(title)}</h2>"]
    if subtitle:
        parts.append(f'<p class="atlas-filters">{html.escape(subtitle)}</p>')
    parts.append(
        f'<p class="atlas-meta atlas-date">Export du {html.escape(date_text)}</p>'
        f'<p class="atlas-meta atlas-sources">{html.escape(sources)}</p>'
    )
    return (
        _PANEL_STYLE
        + '<details open class="atlas-offline-legend"><summary>Carte</summary>'
        + "".join(parts)
        + "</details>"
    )


def standalone_map(
    groups: Iterable[folium.FeatureGroup], base: folium.Map
) -> folium.Map:
    """Add the layers the app passes to ``st_folium`` to their base map.

    In the app, feature groups are sent apart from the base so that a rerun
    only redraws them; a file to download needs them in the map itself.

    Parameters
    ----------
    groups : iterable of folium.FeatureGroup
        The changing layers (choropleth, outlines, markers…).
    base : folium.Map
        The base map, e.g. from :func:`lib.rendering.web.maps.explorer_base`. It is
        changed in place.

    Returns
    -------
    folium.Map
        ``base``, holding the groups in their order.
    """
    for group in groups:
        base.add_child(group)
    return base


def standalone_html(
    m: folium.Map, title: str, caption: bool = True, panel: str = ""
) -> str:
    """Render a map as one HTML page that needs neither server nor network.

    Parameters
    ----------
    m : folium.Map
        A complete map (base and layers, see :func:`standalone_map`) whose
        assets are the app's static files
        (:func:`lib.rendering.web.assets.use_local_assets`).
    title : str
        Title of the page, also shown over the map; any text (escaped).
    caption : bool
        Show the title over the top of the map.
    panel : str
        HTML put over the map, e.g. :func:`legend_panel` (trusted: built
        here, every text escaped).

    Returns
    -------
    str
        The HTML document: scripts, style sheets, images, fonts, boundaries
        and marker rows inline. Only a tile layer, if the map has one, still
        loads from the network.

    Raises
    ------
    ValueError
        When a file the map needs is missing from ``static/`` (the page would
        be broken), or when the map loads a script or style sheet from
        another site.
    """
    page = m.get_root().render()
    files = _embedded_files(page)
    remote: list[str] = []
    page = _TAG_RE.sub(lambda match: _inline_tag(match, remote), page)
    if remote:
        raise ValueError(
            "La carte charge des fichiers d'un autre site, elle ne marcherait "
            "pas hors ligne : " + ", ".join(remote)
        )

    blocks = "".join(
        f'<script type="application/json" id="{file_id}">{text}</script>\n'
        for file_id, text in files.values()
    )
    ids = {url: file_id for url, (file_id, _text) in files.items()}
    shim = _REQUEST_SHIM % {"ids": _script_json(ids)}
    head = (
        '<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"{blocks}<script>{shim}</script>\n"
    )
    page = _insert_after(page, r"<head\b[^>]*>", "\n" + head)
    page = re.sub(r"<html\b(?![^>]*\blang=)", '<html lang="fr"', page, count=1)
    if caption:
        box = f'<div class="atlas-offline-caption">{html.escape(title)}</div>'
        page = _insert_after(page, r"<body\b[^>]*>", _CAPTION_STYLE % box)
    if panel:
        page = _insert_after(page, r"<body\b[^>]*>", panel)
    return page


def standalone_bytes(
    m: folium.Map, title: str, caption: bool = True, panel: str = ""
) -> bytes:
    """Return :func:`standalone_html` encoded in UTF-8, for a download button.

    Parameters
    ----------
    m : folium.Map
        A complete map.
    title : str
        Title of the page.
    caption : bool
        Show the title over the map.
    panel : str
        HTML over the map (:func:`legend_panel`).

    Returns
    -------
    bytes
        The HTML document.

    Raises
    ------
    ValueError
        As :func:`standalone_html`.
    """
    return standalone_html(m, title, caption, panel).encode("utf-8")


def _insert_after(page: str, pattern: str, text: str) -> str:
    match = re.search(pattern, page, re.IGNORECASE)
    if match is None:
        raise ValueError(f"Page de carte inattendue : balise {pattern} absente.")
    return page[: match.end()] + text + page[match.end() :]


def _static_file(url: str) -> Path:
    """Return the file Streamlit serves at a ``/app/static/...`` URL.

    Raises ``ValueError`` (French) when it does not exist, or when the URL
    points outside ``static/``.
    """
    path_part = unquote(urlsplit(url).path)
    if path_part.startswith(VENDOR_URL + "/"):
        path = local_asset_path(path_part)
    elif path_part.startswith(STATIC_URL + "/"):
        path = static_path(path_part)
    elif path_part.startswith(MARKERS_URL + "/"):
        path = MARKERS_DIR / path_part.rsplit("/", 1)[-1]
    elif path_part.startswith(_STATIC_PREFIX):
        relative = PurePosixPath(path_part[len(_STATIC_PREFIX) :])
        path = (_STATIC_ROOT / relative).resolve()
        if not path.is_relative_to(_STATIC_ROOT.resolve()):
            raise ValueError(f"Adresse hors du dossier static : {url}")
    else:
        raise ValueError(f"Adresse non servie par l'application : {url}")
    if not path.is_file():
        raise ValueError(
            f"Fichier introuvable pour la carte hors ligne : {url} ({path}). "
            "Relancez « python -m geo build » ou réaffichez la carte."
        )
    return path


def _embedded_files(page: str) -> dict[str, tuple[str, str]]:
    """Map each data URL of the page to (block id, JSON text safe in a script)."""
    files = {}
    for i, url in enumerate(dict.fromkeys(DATA_URL_RE.findall(page))):
        text = _static_file(url).read_text(encoding="utf-8")
        try:
            json.loads(text)
        except ValueError as error:
            raise ValueError(f"Fichier JSON illisible : {url} ({error})") from error
        # In valid JSON "<" only occurs inside strings, where \u003c means the
        # same: no name can close the script block (</script>) or inject markup.
        files[url] = (f"atlas-file-{i}", text.replace("<", "\\u003c"))
    return files


def _script_json(value) -> str:
    """JSON for a script element: "<" escaped so it cannot close the element."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def _script_text(code: str) -> str:
    # "</script" or "<!--" would end or confuse the element; in JS code they
    # can only sit in strings or regexes, where "<\/" reads the same.
    return re.sub(r"</(?=script)", r"<\\/", code, flags=re.IGNORECASE).replace(
        "<!--", "<\\!--"
    )


def _icon_shim() -> str:
    images = VENDOR_DIR / "leaflet" / "images"
    options = {key: _data_uri(images / name) for key, name in _LEAFLET_ICONS.items()}
    return _ICON_SHIM % json.dumps(options)


def _inline_tag(match: re.Match, remote: list[str]) -> str:
    """Return the inline element for a script or style sheet tag.

    URLs that are not the app's are appended to ``remote`` (the caller
    refuses the page); other links (icons…) are kept.
    """
    if match.group("src") is not None:
        url = match.group("src")
        if not url.startswith(_STATIC_PREFIX):
            remote.append(url)
            return match.group(0)
        path = _static_file(url)
        shim = local_asset_path(f"{VENDOR_URL}/{LEAFLET_ICON_PATH_JS[1]}")
        if path == shim:
            return f"<script>{_icon_shim()}</script>"
        code = _script_text(path.read_text(encoding="utf-8"))
        return f"<script>\n{code}\n</script>"
    attrs = {
        m.group("name").lower(): m.group("value") for m in _ATTR_RE.finditer(match[0])
    }
    if "stylesheet" not in attrs.get("rel", "").lower().split():
        return match.group(0)
    url = attrs.get("href", "")
    if not url.startswith(_STATIC_PREFIX):
        remote.append(url)
        return match.group(0)
    css = _inline_css(_static_file(url).read_text(encoding="utf-8"), url)
    return f"<style>\n{css}\n</style>"


def _inline_css(css: str, css_url: str) -> str:
    """Replace the ``url(...)`` of a style sheet served at ``css_url`` by data."""
    if _CSS_IMPORT_RE.search(css):
        raise ValueError(f"@import non pris en charge hors ligne : {css_url}")
    folder = posixpath.dirname(urlsplit(css_url).path)

    def replace(match: re.Match) -> str:
        ref = match.group("ref").strip()
        # Fragments (#default#VML: old IE behaviours) and data are not fetched.
        if not ref or ref.startswith(("data:", "#")):
            return match.group(0)
        if re.match(r"(?:[a-z][\w+.-]*:)?//", ref, re.IGNORECASE):
            raise ValueError(f"Ressource distante dans {css_url} : {ref}")
        target = posixpath.normpath(posixpath.join(folder, urlsplit(ref).path))
        return f'url("{_data_uri(_static_file(target))}")'

    return _CSS_URL_RE.sub(replace, css).replace("</style", "<\\/style")


def _data_uri(path: Path) -> str:
    mime = _MIME_TYPES.get(path.suffix.lower()) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:{mime};base64,{data}"
