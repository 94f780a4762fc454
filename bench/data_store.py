"""Benchmark: import of a 10,000-row CSV, filtered query and size at 100,000 PTCE.

Targets (issue 3): import of a 10,000-row CSV ≤ 10 s; query of 100,000 PTCE
filtered by département and filière ≤ 50 ms; database of 100,000 PTCE
≤ 200 MB. Synthetic records (lib.io.synthetic) spread over real communes.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from lib.io.exporter import to_csv
from lib.io.importer import import_files
from lib.io.synthetic import generate
from lib.store.ptce import Store


def _db_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "import.sqlite"
        store = Store(f"sqlite:///{small}")
        data = to_csv(generate(10_000, seed=1))
        start = time.perf_counter()
        plan = import_files([("10000.csv", data)], store, "bench")
        import_s = time.perf_counter() - start
        assert plan.ok and len(plan.created) == 10_000
        start = time.perf_counter()
        again = import_files([("10000.csv", data)], store, "bench")
        reimport_s = time.perf_counter() - start
        assert len(again.unchanged) == 10_000
        print(
            f"import 10,000-row CSV ({len(data) / 1e6:.1f} MB): "
            f"{import_s:.2f} s (target ≤ 10 s)"
        )
        print(f"re-import, nothing changes            : {reimport_s:.2f} s")

        big = Path(tmp) / "big.sqlite"
        store = Store(f"sqlite:///{big}")
        records = generate(100_000, seed=2)
        start = time.perf_counter()
        for i in range(0, len(records), 5_000):
            store.create_many(records[i : i + 5_000], "bench")
        load_s = time.perf_counter() - start
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        size_mb = _db_size(big) / 1e6
        timings, found = [], 0
        for dep, filiere in [
            ("44", "culture"),
            ("59", "énergie"),
            ("2A", "tourisme"),
            ("974", "numérique"),
            ("75", "mobilité"),
        ] * 4:
            start = time.perf_counter()
            found = len(store.ids(departements=[dep], filieres=[filiere]))
            timings.append((time.perf_counter() - start) * 1000)
        query_ms = statistics.median(timings)
        print(f"bulk load 100,000 PTCE (members, supports, history): {load_s:.1f} s")
        print(f"database size at 100,000 PTCE: {size_mb:.0f} MB (target ≤ 200 MB)")
        print(
            f"query département × filière, median of {len(timings)}: {query_ms:.1f} ms "
            f"(max {max(timings):.1f} ms; last query {found} PTCE; target ≤ 50 ms)"
        )
    print(
        f"RESULT data_store: import {import_s:.2f} s, query {query_ms:.1f} ms, "
        f"size {size_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
