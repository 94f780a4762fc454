"""Benchmark: full boundary build (time, peak memory) and cached start.

Targets (issue 2): full build ≤ 60 s and ≤ 3 GB peak on 2 cores; a start on
a built cache ≤ 2 s. Each measurement runs in a fresh process so that peak
memory (ru_maxrss of the child) and import costs are the real ones.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BUILD = """
import sys
from pathlib import Path
from geo.build import build, locate_source
build(locate_source(), out=Path(sys.argv[1]), force=True, log=lambda _l: None)
"""

CACHED_START = """
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from geo.build import build, locate_source
from geo.boundaries import geojson
build(locate_source(), log=lambda _l: None)  # up to date: only checks
for level in ("region", "departement"):
    geojson(level, "national")
geojson("epci", "regional", "52")
print(time.perf_counter() - t0)
"""


def _child(code: str, *args: str) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak_kb, before) / 1024, out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        build_s, peak_mb, _ = _child(BUILD, tmp)
        manifest = json.loads((Path(tmp) / "manifest.json").read_text())
    print(f"build (process wall time)      : {build_s:6.1f} s   (target ≤ 60 s)")
    print(f"build (inside, manifest)       : {manifest['duration_s']:6.1f} s")
    print(f"build peak memory (max RSS)    : {peak_mb:6.0f} MB  (target ≤ 3000 MB)")
    starts = []
    for _ in range(3):
        total, _, out = _child(CACHED_START)
        starts.append((total, float(out.strip())))
    best_total, best_inside = min(starts)
    print(
        f"cached start (process, incl. interpreter): {best_total:.2f} s; "
        f"imports + check + load: {best_inside:.2f} s   (target ≤ 2 s)"
    )
    print(
        f"RESULT geo_build: build {build_s:.1f} s, peak {peak_mb:.0f} MB, "
        f"cached start {best_total:.2f} s"
    )


if __name__ == "__main__":
    main()
