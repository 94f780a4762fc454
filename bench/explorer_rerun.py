"""Benchmark: server rerun of the Carte after a filter change, France-wide.

Target (issue 4): choropleth of the 1,255 EPCI + 1,000 PTCE, rerun after a
filter change ≤ 150 ms median, reported next to a do-nothing Streamlit rerun
and a plain folium page drawing the same EPCI through st_folium. Also prints
the size of what the national view sends to the browser (target ≤ 1 MB).
Runs the real page script with Streamlit's AppTest (server side only).
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from geo.boundaries import static_path

RUNS = 9

CARTE = (
    "from views.filters import filters_sidebar\nfrom views import carte\n"
    "filters_sidebar()\ncarte.render()\n"
)
NOTHING = "import streamlit as st\nst.write('rien')\n"
PLAIN_FOLIUM = """
import folium, streamlit as st
from streamlit_folium import st_folium
from geo.boundaries import geojson
m = folium.Map(location=[46.6, 2.4], zoom_start=6, tiles=None)
folium.GeoJson(geojson("epci", "national")).add_to(m)
st_folium(m, key="plain", height=600, returned_objects=[])
"""


def _median_rerun(script: str, change=None, params=None) -> float:
    at = AppTest.from_string(script, default_timeout=120)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    timings = []
    for i in range(RUNS):
        if change:
            change(at, i)
        start = time.perf_counter()
        at.run()
        timings.append((time.perf_counter() - start) * 1000)
        assert not at.exception, at.exception
    return statistics.median(timings)


def _payload(params: dict) -> int:
    import streamlit_folium

    sizes = []
    original = streamlit_folium._component_func

    def spy(**kwargs):
        texts = [
            str(kwargs.get(k) or "")
            for k in ("script", "header", "html", "feature_group")
        ]
        # The GeoJSON files the view fetches, once, besides the scripts.
        urls = set(re.findall(r"/app/static/geo/[\w.-]+\.geojson", "".join(texts)))
        files = sum(static_path(u).stat().st_size for u in urls)
        sizes.append((sum(len(t) for t in texts), files))
        return original(**kwargs)

    streamlit_folium._component_func = spy
    try:
        at = AppTest.from_string(CARTE, default_timeout=120)
        for key, value in params.items():
            at.query_params[key] = value
        at.run()
    finally:
        streamlit_folium._component_func = original
    return sizes[-1]


def main() -> None:
    from lib.io.demo import install_demo
    from lib.io.synthetic import generate
    from lib.store.ptce import Store

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        store = Store(url)
        install_demo(store)
        store.create_many(generate(1000, seed=3), "bench")
        count = store.count()
        os.environ["DATABASE_URL"] = url
        params = {"region": "france", "maille": "epci", "couches": ["ptce", "choro"]}
        filieres = ["culture", "énergie", "mobilité", "numérique"]

        def change(at, i):
            # A filter change each time: the filière multiselect of the sidebar.
            at.sidebar.multiselect[2].set_value([filieres[i % len(filieres)]])

        carte_ms = _median_rerun(CARTE, change, params)
        nothing_ms = _median_rerun(NOTHING)
        plain_ms = _median_rerun(PLAIN_FOLIUM)
        payload = _payload(params)
    payload, files = payload
    total = (payload + files) / 1e6
    print(f"do-nothing Streamlit rerun                : {nothing_ms:7.1f} ms")
    print(f"plain folium + st_folium, 1,255 EPCI      : {plain_ms:7.1f} ms")
    what = f"Carte, filter change, EPCI + {count:,} PTCE"
    print(f"{what:<42}: {carte_ms:7.1f} ms (≤ 150 ms)")
    print(f"national view, rerun payload (scripts)    : {payload / 1e6:7.2f} MB")
    print(f"national view, first load incl. GeoJSON   : {total:7.2f} MB (≤ 1 MB)")
    print(
        f"RESULT explorer_rerun: carte {carte_ms:.0f} ms, nothing {nothing_ms:.0f} ms, "
        f"plain folium {plain_ms:.0f} ms, first load {total:.2f} MB"
    )


if __name__ == "__main__":
    main()
