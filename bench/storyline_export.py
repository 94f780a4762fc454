"""Benchmark: export of a presentation récit as a ZIP of PNG slides plus a PDF.

Target (issue 5): the default récit on the demo data (10+ vues: sourced
figures, maps, matrix of supports, ways to support) exported by
:func:`lib.rendering.print.slides.recit_zip` — one 1920 × 1080 PNG per vue and one
vector PDF
page per vue — in ≤ 30 s for 10 vues (first run, boundary cache warm on disk,
nothing in memory). Prints the time, the number of vues, the time per vue and
the size of the ZIP.
"""

from __future__ import annotations

import io
import tempfile
import time
import zipfile
from datetime import date
from pathlib import Path

from geo.lookup import commune_points
from lib.domain.recits import default_recit
from lib.domain.selection import build_frames
from lib.io.demo import install_demo
from lib.rendering.print.slides import recit_zip
from lib.store.ptce import Store

TARGET_S = 30.0
TARGET_VUES = 10
WHEN = date(2026, 11, 27)


def _data():
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'db.sqlite'}")
        install_demo(store)
        records, faits = store.load(), store.faits()
        store.engine.dispose()
    return build_frames(records, commune_points()), faits


def main() -> None:
    start = time.perf_counter()
    frames, faits = _data()
    story = default_recit(frames.ptce["id"])
    genres = ", ".join(
        f"{g} {sum(v.genre == g for v in story.vues)}"
        for g in ("carte", "chiffres", "matrice", "soutenir")
    )
    print(
        f"data: {len(frames.ptce):,} PTCE, {len(faits)} sourced figures, "
        f"built in {time.perf_counter() - start:.1f} s"
    )
    print(f"récit « {story.titre} »: {len(story.vues)} vues ({genres})")

    start = time.perf_counter()
    data = recit_zip(story, lambda vue: frames.filtered(vue.filters()), faits,
                     when=WHEN)  # fmt: skip
    seconds = time.perf_counter() - start
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
    pdf = next(i for i in infos if i.filename.endswith(".pdf"))
    pngs = [i for i in infos if i.filename.endswith(".png")]
    print(f"{'file':68} {'bytes':>12}")
    for info in infos:
        print(f"{info.filename:68} {info.file_size:>12,}")
    n = len(story.vues)
    per_vue = seconds / n
    scaled = per_vue * TARGET_VUES
    verdict = "ok" if scaled <= TARGET_S else "OVER"
    print(
        f"RESULT storyline_export: {n} vues in {seconds:.1f} s "
        f"({per_vue:.2f} s/vue, {scaled:.1f} s per {TARGET_VUES} vues, target ≤ "
        f"{TARGET_S:.0f} s {verdict}), ZIP {len(data) / 1e6:.2f} MB "
        f"({len(pngs)} PNG + PDF {pdf.file_size / 1e6:.2f} MB)"
    )


if __name__ == "__main__":
    main()
