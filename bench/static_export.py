"""Benchmark: server-side static exports of the map (matplotlib, no browser).

Target (issue 5): a 300 dpi PNG of Pays de la Loire with the EPCI
choropleth and the PTCE points in ≤ 3 s (median of 3 runs after one warm-up),
with the demo PTCE plus 1,000 synthetic ones. Also times the same view as PDF
and SVG, the France view by département, and the A4 fiche of an EPCI.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from geo.boundaries import PAYS_DE_LA_LOIRE
from geo.lookup import commune_points
from lib.domain.selection import Filters, build_frames
from lib.io.demo import install_demo
from lib.io.synthetic import generate
from lib.rendering.print.static_map import (
    filters_subtitle,
    render_fiche_territoire,
    render_map,
)
from lib.store.ptce import Store

TARGET_S = 3.0
WHEN = date(2026, 11, 27)


def _frames():
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'db.sqlite'}")
        install_demo(store)
        records = store.load()
        store.engine.dispose()
    return build_frames(records + generate(1000, seed=5), commune_points())


def _time(fn, runs: int = 3) -> tuple[float, float, int]:
    start = time.perf_counter()
    size = len(fn())  # warm-up: boundary cache, projection, fonts
    first = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times), size


def main() -> None:
    start = time.perf_counter()
    frames = _frames()
    filters = Filters(region=PAYS_DE_LA_LOIRE)
    selection = frames.filtered(filters)
    print(
        f"frames: {len(frames.ptce):,} PTCE ({len(selection.ptce):,} in Pays de la "
        f"Loire), built in {time.perf_counter() - start:.1f} s"
    )
    subtitle = filters_subtitle(filters)

    def view(fmt: str, **kwargs):
        options = {"maille": "epci", "region": PAYS_DE_LA_LOIRE} | kwargs
        return lambda: render_map(
            selection if options["region"] else frames,
            title="PTCE des Pays de la Loire",
            subtitle=subtitle,
            fmt=fmt,
            when=WHEN,
            **options,
        )

    cases = {
        "PNG 300 dpi, EPCI, Pays de la Loire": view("png"),
        "PDF, EPCI, Pays de la Loire": view("pdf"),
        "SVG, EPCI, Pays de la Loire": view("svg"),
        "PNG 300 dpi, départements, France": view(
            "png", maille="departement", region=None
        ),
        "fiche A4 PDF, Nantes Métropole": lambda: render_fiche_territoire(
            frames, "epci", "244400404", "pdf", WHEN
        ),
    }
    results = {}
    print(f"{'case':40} {'first':>7} {'median':>8} {'bytes':>12}")
    for name, fn in cases.items():
        first, seconds, size = _time(fn)
        results[name] = seconds
        print(f"{name:40} {first:>6.2f}s {seconds:>7.2f}s {size:>12,}")
    png = results["PNG 300 dpi, EPCI, Pays de la Loire"]
    pdf = results["PDF, EPCI, Pays de la Loire"]
    verdict = "ok" if png <= TARGET_S else "OVER"
    print(
        f"RESULT static_export: PNG 300 dpi EPCI Pays de la Loire {png:.2f} s "
        f"(target ≤ {TARGET_S:.0f} s {verdict}), PDF {pdf:.2f} s, "
        f"{len(selection.ptce):,} PTCE drawn"
    )


if __name__ == "__main__":
    main()
