"""Benchmark in a real browser (Debian's chromium): the Carte, drawn.

Targets (issue 4): from navigation to map drawn ≤ 2 s (France-wide, EPCI
choropleth, 1,000 PTCE); with 100,000 synthetic PTCE the map stays usable,
clusters drawn ≤ 3 s. Times are taken from ``page.goto`` to the moment the
expected paths and markers are in the map's iframe (server already warm: the
first load of each database is done once before measuring).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from lib.demo import install_demo
from lib.store import Store
from lib.synthetic import generate
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


def _time_to_drawn(browser, url: str, runs: int) -> float:
    timings = []
    for _ in range(runs + 1):  # the first load warms the server's caches
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function(DRAWN_JS, timeout=120_000, polling=50)
        timings.append(time.perf_counter() - start)
        page.close()
    return statistics.median(timings[1:])


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
        for n, runs in ((1_000, 5), (100_000, 2)):
            url = _database(Path(tmp), n)
            with streamlit_server(ROOT, env={"DATABASE_URL": url}) as server:
                results[n] = _time_to_drawn(browser, server + VIEW, runs)
            print(f"{n:>7,} PTCE: navigation → map drawn {results[n]:.2f} s")
        browser.close()
    print("targets: 1,000 PTCE ≤ 2 s; 100,000 PTCE clusters ≤ 3 s")
    print(
        f"RESULT explorer_browser: 1,000 PTCE {results[1_000]:.2f} s, "
        f"100,000 PTCE {results[100_000]:.2f} s"
    )


if __name__ == "__main__":
    main()
