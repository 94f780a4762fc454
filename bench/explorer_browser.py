"""Benchmark in a real browser (Debian's chromium): the Carte, drawn.

Targets (issue 4): from navigation to map drawn ≤ 2 s (France-wide, EPCI
choropleth, 1,000 PTCE); with 100,000 synthetic PTCE the map stays usable,
clusters drawn ≤ 3 s. Times are taken from ``page.goto`` to the moment the
expected paths and markers are in the map's iframe (server already warm: the
first load of each database is done once before measuring).

Three navigations are measured: a click on "Carte" in the app's menu (the
page switch inside the app), a first visit (new browser profile, empty HTTP
cache, full page load) and a return visit (same profile, Streamlit's and
Leaflet's files cached). Streamlit's own floor is reported beside them: an
app of one line, from navigation to its text drawn, on the same machine.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from lib.io.demo import install_demo
from lib.io.synthetic import generate
from lib.store.ptce import Store
from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server

ROOT = Path(__file__).resolve().parent.parent
DRAWN_JS = """() => {
    const f = [...document.querySelectorAll('iframe')].find(
        i => i.title === 'streamlit_folium.st_folium');
    const d = f && f.contentDocument;
    return !!d && d.querySelectorAll('path').length > 1200
        && d.querySelectorAll('.marker-cluster, .ptce-marker, .ptce-bubble').length > 0;
}"""
VIEW = "/carte?region=france&maille=epci&couches=ptce&couches=choro"


FLOOR_APP = "import streamlit as st\nst.write('plancher')\n"
FLOOR_JS = "() => document.body.innerText.includes('plancher')"


def _time_to_drawn(browser, url: str, runs: int, drawn: str = DRAWN_JS) -> dict:
    """Median seconds from ``goto`` to drawn, first visit and return visit."""
    viewport = {"width": 1400, "height": 1000}
    timings = {"première visite": [], "visite suivante": []}
    returning = browser.new_context(viewport=viewport)
    for i in range(runs + 1):  # the first load warms the server's caches
        first = browser.new_context(viewport=viewport)
        for label, context in (
            ("première visite", first),
            ("visite suivante", returning),
        ):
            page = context.new_page()
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_function(drawn, timeout=120_000, polling=50)
            if i:
                timings[label].append(time.perf_counter() - start)
            page.close()
        first.close()
    returning.close()
    return {label: statistics.median(t) for label, t in timings.items()}


def _in_app(browser, server: str, runs: int) -> float:
    """Median seconds from a click on "Carte" in the app's menu to map drawn.

    The session first opens the national EPCI view (so its options are in the
    session), goes to Accueil, then comes back through the menu: the page
    switch a user makes, Streamlit's shell already loaded.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server + VIEW)
    page.wait_for_function(DRAWN_JS, timeout=120_000, polling=50)
    timings = []
    for i in range(runs + 1):
        page.get_by_role("link", name="Accueil").click()
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=ptce-counter]')",
            timeout=120_000,
            polling=50,
        )
        start = time.perf_counter()
        page.get_by_role("link", name="Carte").click()
        page.wait_for_function(DRAWN_JS, timeout=120_000, polling=50)
        if i:
            timings.append(time.perf_counter() - start)
    context.close()
    return statistics.median(timings)


def _floor(browser, runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "app.py").write_text(FLOOR_APP)
        (root / ".streamlit").mkdir()
        (root / ".streamlit" / "config.toml").write_text(
            (ROOT / ".streamlit" / "config.toml").read_text()
        )
        with streamlit_server(root) as server:
            return _time_to_drawn(browser, server, runs, FLOOR_JS)


def _line(name: str, timings: dict) -> str:
    return f"{name}: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())


def _database(folder: Path, n: int) -> str:
    url = f"sqlite:///{folder / f'{n}.sqlite'}"
    store = Store(url)
    install_demo(store)
    records = generate(n, seed=5)
    for i in range(0, n, 5_000):
        store.create_many(records[i : i + 5_000], "bench")
    return url


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        floor = _floor(browser, 5)
        print(_line("Streamlit seul (une ligne de texte)", floor))
        for n, runs in ((1_000, 5), (100_000, 2)):
            url = _database(Path(tmp), n)
            with streamlit_server(ROOT, env={"DATABASE_URL": url}) as server:
                results[n] = _time_to_drawn(browser, server + VIEW, runs)
                results[n]["menu"] = _in_app(browser, server, runs)
            print(_line(f"{n:>7,} PTCE, navigation → carte dessinée", results[n]))
        browser.close()
    print("targets: 1,000 PTCE ≤ 2 s; 100,000 PTCE clusters ≤ 3 s")
    print(
        "RESULT explorer_browser (menu click / first visit / return visit): "
        + "; ".join(
            f"{n:,} PTCE {r['menu']:.2f} / {r['première visite']:.2f} / "
            f"{r['visite suivante']:.2f} s"
            for n, r in results.items()
        )
        + f"; Streamlit floor {floor['première visite']:.2f} / "
        f"{floor['visite suivante']:.2f} s"
    )


if __name__ == "__main__":
    main()
