"""Crawl every page as a person would, under six states, and read everything.

Every page, a PTCE fiche, a fiche territoire, the map's tooltips and popups,
Streamlit's own menus and the text of every export are read in Chromium
under six states: the default (Pays de la Loire), France entière,
Loire-Atlantique with one filière, a selection without any PTCE, a PTCE
whose every optional field is empty, and 100,000 synthetic PTCE. Nothing
raw may reach a person: no "None", "nan", "null", "undefined", no English
left by Streamlit, no scale in miles.
"""

from __future__ import annotations

import io
import re
import zipfile
from urllib.parse import urlencode

import pytest

from tests.browser import streamlit_server
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")


TIMEOUT_MS = 120_000

#: What must never be read: raw values, Streamlit's English, miles.
FORBIDDEN = re.compile(
    r"\b(None|nan|NaN|NaT|null|undefined|inf|Infinity)\b"
    r"|Select all|Page not found|\bPrint\b|Record screen"
    r"|\b\d+\s*(mi|ft)\b"
)

PAGES = (
    "accueil",
    "carte",
    "annuaire",
    "collectivites",
    "statistiques",
    "presentation",
    "reperes",
    "donnees",
    "sources",
)

EMPTY_ID = "ptce-sans-details"

#: (name, query parameters): the states of the explorer, kept in the URL.
STATES = (
    ("défaut", {}),
    ("France entière", {"region": "france"}),
    ("Loire-Atlantique et une filière", {"dep": "44", "filiere": None}),
    ("aucun PTCE", {"q": "zzzz-aucun-ptce-zzzz"}),
    ("PTCE sans détail", {"region": "france", "q": "sans détail"}),
)


def _demo_store(path):
    from lib.domain.model import Ptce
    from lib.io.demo import install_demo
    from lib.store.ptce import Store

    store = Store(f"sqlite:///{path}")
    install_demo(store)
    # Nothing but a name and a commune: every optional field is empty.
    store.save(Ptce(id=EMPTY_ID, nom="PTCE sans détail", commune="44109"), "test")
    return store


@pytest.fixture(scope="module")
def demo_server(built_cache, tmp_path_factory):
    store = _demo_store(tmp_path_factory.mktemp("crawl") / "atlas.sqlite")
    with streamlit_server(ROOT, env={"DATABASE_URL": str(store.engine.url)}) as url:
        yield url


@pytest.fixture(scope="module")
def big_server(built_cache, tmp_path_factory):
    from lib.io.synthetic import generate
    from lib.store.ptce import Store

    path = tmp_path_factory.mktemp("crawl100k") / "atlas.sqlite"
    store = Store(f"sqlite:///{path}")
    store.create_many(generate(100_000, seed=7), "test")
    with streamlit_server(ROOT, env={"DATABASE_URL": str(store.engine.url)}) as url:
        yield url


def _filiere() -> str:
    from lib.domain.model import FILIERES

    return FILIERES[0]


def _query(params: dict) -> str:
    params = {k: (_filiere() if v is None else v) for k, v in params.items()}
    return f"?{urlencode(params)}" if params else ""


def _settle(page) -> None:
    # Streamlit marks its root with the script state: wait until the run
    # ends (its transient "Stop" and spinners are not what a reader sees).
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']",
        timeout=TIMEOUT_MS,
    )
    page.wait_for_selector(
        "[data-testid='stSidebarNav']", state="attached", timeout=TIMEOUT_MS
    )


_MAP_TEXTS_JS = """() => {
    const out = [];
    for (const f of document.querySelectorAll('iframe')) {
        const w = f.contentWindow;
        if (!w || !w.L) continue;
        const map = Object.values(w).find(v => v instanceof w.L.Map);
        if (!map) continue;
        const layers = [];
        map.eachLayer(l => {
            layers.push(l);
            if (l.getLayers) layers.push(...l.getLayers());
        });
        let n = 0;
        for (const l of layers) {
            for (const get of ['getTooltip', 'getPopup']) {
                const t = l[get] && l[get]();
                if (!t || n > 400) continue;
                let c = t.getContent ? t.getContent() : null;
                if (typeof c === 'function') c = c(l);
                if (c instanceof w.Node) c = c.textContent;
                if (c != null) { out.push(String(c)); n += 1; }
            }
        }
        // Legends, controls and the scale, as drawn.
        out.push(w.document.body.innerText);
    }
    return out;
}"""


def _read_map(page) -> list[str]:
    return page.evaluate(_MAP_TEXTS_JS)


def _read_menus(page) -> list[str]:
    texts = []
    if page.locator("[role='dialog']").count():
        # A fiche opens as a dialog, the rest of the page is inert meanwhile.
        return texts
    menu = page.locator("[data-testid='stMainMenu']")
    if menu.count():
        menu.first.click()
        texts.append(page.locator("body").inner_text())
        page.keyboard.press("Escape")
    select = page.locator("[data-testid='stMultiSelect']:visible")
    if select.count():
        select.first.click()
        texts.append(page.locator("body").inner_text())
        page.keyboard.press("Escape")
    return texts


def _export_text(name: str, data: bytes) -> str:
    if name.endswith(".html"):
        return ""  # read as rendered by the browser (its script says "null")
    if name.endswith((".csv", ".svg", ".geojson", ".json")):
        return data.decode("utf-8-sig", errors="replace")
    if name.endswith(".pdf"):
        from pypdf import PdfReader

        return "\n".join(
            p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages
        )
    if name.endswith(".xlsx"):
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(
            " ".join("" if v is None else str(v) for v in row)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
        )
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(_export_text(n, z.read(n)) for n in z.namelist())
    return ""  # images: their text is in the PDF of the same view


def _open_expanders(page) -> None:
    # Expanders in a hidden tab or container stay closed: nobody sees them.
    closed = page.locator(
        "[data-testid='stExpander'] details:not([open]) > summary:visible"
    )
    for _ in range(closed.count()):
        if not closed.count():
            break
        closed.first.click()
    _settle(page)


def _read_exports(page, skip_slow: bool) -> list[str]:
    texts = []
    # The Présentation keeps its exports and editor behind « Outils ».
    tools = page.locator("[data-pres-action='tools'][aria-expanded='false']")
    if tools.count():
        tools.first.click()
    _open_expanders(page)
    texts.append(page.locator("body").inner_text())
    done = set()
    while True:
        buttons = page.locator("button:visible", has_text="Préparer :")
        labels = [
            "Préparer : " + buttons.nth(i).inner_text().split("Préparer :")[1].strip()
            for i in range(buttons.count())
        ]
        todo = [
            label
            for label in labels
            if label not in done and not (skip_slow and "récit" in label)
        ]
        if not todo:
            break
        done.add(todo[0])
        page.locator("button:visible", has_text=todo[0]).first.click()
        _settle(page)
        # Made in a worker, possibly in a fragment's run: wait for the file
        # (or for the error that says why there is none), not only for the run.
        ready = page.locator(
            "[data-testid='stDownloadButton'] button",
            has_text=todo[0].replace("Préparer :", "Télécharger :"),
        ).or_(page.locator("[data-testid='stAlertContentError']"))
        ready.first.wait_for(timeout=TIMEOUT_MS)
    downloads = page.locator("[data-testid='stDownloadButton'] button:visible")
    for i in range(downloads.count()):
        with page.expect_download(timeout=TIMEOUT_MS) as info:
            downloads.nth(i).click()
        download = info.value
        with open(download.path(), "rb") as f:
            data = f.read()
        if download.suggested_filename.endswith(".html"):
            # Read as a person would: opened in the browser.
            other = page.context.new_page()
            other.set_content(data.decode("utf-8"))
            texts.append(other.locator("body").inner_text())
            other.close()
        texts.append(_export_text(download.suggested_filename, data))
        texts.append(download.suggested_filename)
        page.context.exports_read.append(download.suggested_filename)
    return texts


def _crawl(browser, base: str, query: str, exports: bool, skip_slow: bool) -> dict:
    found = {}
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, accept_downloads=True
    )
    context.exports_read = []  # file names, to check that exports were read
    page = context.new_page()
    targets = [(p, f"{base}/{p}{query}") for p in PAGES]
    joiner = "&" if query else "?"
    targets.append(("fiche PTCE", f"{base}/annuaire{query}{joiner}ptce={EMPTY_ID}"))
    targets.append(
        (
            "fiche territoire",
            f"{base}/collectivites{query}{joiner}territoire=departement:44",
        )
    )
    for name, url in targets:
        page.goto(url)
        _settle(page)
        texts = [page.locator("body").inner_text(), page.title()]
        texts += _read_map(page)
        texts += _read_menus(page)
        if exports:
            texts += _read_exports(page, skip_slow)
        for text in texts:
            for match in FORBIDDEN.finditer(text or ""):
                start = max(match.start() - 60, 0)
                found.setdefault(name, []).append(
                    f"{match.group(0)!r} in …{text[start : match.end() + 60]}…"
                )
    exports_read = context.exports_read
    context.close()
    if exports:
        # The Carte's exports are always read; by default every page with
        # exports: Carte (4), fiche territoire, Statistiques, Présentation.
        assert any(n.endswith(".pdf") for n in exports_read), exports_read
        if not query:
            assert len(exports_read) >= 6, exports_read
    return found


@pytest.mark.parametrize(("state", "params"), STATES, ids=[s[0] for s in STATES])
def test_nothing_raw_on_any_page(browser, demo_server, state, params):
    found = _crawl(
        browser, demo_server, _query(params), exports=True, skip_slow=bool(params)
    )
    assert not found, _report(found)


def _report(found: dict) -> str:
    return "\n".join(
        f"{where}: {sorted(set(items))}" for where, items in sorted(found.items())
    )


def test_nothing_raw_with_100000_ptce(browser, big_server):
    found = _crawl(browser, big_server, "", exports=True, skip_slow=True)
    assert not found, _report(found)
