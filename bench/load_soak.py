"""Load and soak bench (issue 6, point 5): 20 concurrent sessions, no browser.

Targets: p95 response ≤ 1 s on 2 cores with zero errors under 20 concurrent
sessions of realistic use; a soak (10 minutes by default) with server memory
growth ≤ 10 %.

The server is the real app (``streamlit run app.py``, tests.browser helper) on
a temporary SQLite database holding the demo data plus 1,000 synthetic PTCE.
Each simulated user speaks the Streamlit websocket protocol (bench/stclient.py)
as the frontend does, in a seeded random loop of visits: open a deep link
(page + filters as query parameters), then a few actions in that session —
change a filter widget, open the Carte (and fetch over HTTP the GeoJSON and
marker files its map refers to, once per session like a browser cache), open
a PTCE fiche (``annuaire?ptce=<id>``), a fiche territoire
(``collectivites?territoire=departement:<code>``), the Statistiques (and
download one CSV export over HTTP), the Présentation, and sometimes the
Carte's "PNG 300 dpi" export (a click on "Préparer", which runs
lib.rendering.print.static_map.render_map on the server, then the HTTP download of the
file the session keeps). Users think 1–5 s between actions (``--think``).

A "response" is one rerun, from sending it to ``script_finished``. HTTP
fetches and exports are timed separately. Errors: an exception element, an
"erreur inattendue" message, a script status other than success, a missing
page, a websocket or HTTP failure.

Memory: VmRSS of the server process (from /proc), sampled every 10 s during
the soak. RSS swings by ±15 % from one sample to the next (allocator churn,
caches filling), so growth compares the median of the first tenth of the
samples with the median of the last tenth (at least 3 samples each); the
single first and last samples are printed too.

Usage: python -m bench.load_soak [--load-seconds 150] [--soak-seconds 600]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stclient import Http, StreamlitSession  # noqa: E402
from lib.domain.model import FILIERES, STADES  # noqa: E402
from lib.io.demo import install_demo  # noqa: E402
from lib.io.synthetic import generate  # noqa: E402
from lib.store.ptce import Store  # noqa: E402
from tests.browser import streamlit_server  # noqa: E402

P95_TARGET = 1.0
GROWTH_TARGET = 10.0
#: The Carte's export buttons (see pages.prepared_download).
PREPARE_PNG = "Préparer : PNG 300 dpi"
DOWNLOAD_PNG = "Télécharger : PNG 300 dpi"
DEPS = ["44", "49", "53", "72", "85", "35", "29", "75", "69", "13", "33", "59"]
REGIONS = ["france", "52", "53", "11", "84", "75"]


# --------------------------------------------------------------------------
# Server process


def server_pid(port: int) -> int:
    """The ``streamlit run`` process listening on ``port`` (from /proc)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in cmd and str(port).encode() in cmd and b"run" in cmd:
            return int(proc.name)
    raise LookupError(f"no streamlit process for port {port}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError("VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------
# Measurements


class Recorder:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.actions = 0

    def add(self, kind: str, seconds: float) -> None:
        self.times[kind].append(seconds)

    def error(self, what: str) -> None:
        self.errors.append(what)

    def responses(self) -> list[float]:
        return [t for k, v in self.times.items() if k.startswith("run:") for t in v]


def summary(values: list[float]) -> str:
    if not values:
        return "n=0"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"n={len(values):5d}  median {statistics.median(values) * 1000:7.0f} ms  "
        f"p95 {p95 * 1000:7.0f} ms  max {max(values) * 1000:7.0f} ms"
    )


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if values else 0


# --------------------------------------------------------------------------
# One simulated user


def deep_link(rng: random.Random) -> tuple[str, str]:
    params = []
    region = rng.choice([*REGIONS, None])
    if region:
        params.append(f"region={region}")
    if rng.random() < 0.3:
        params.append(f"dep={rng.choice(DEPS)}")
        params = [p for p in params if not p.startswith("region=")]
        params.append("region=france")
    if rng.random() < 0.4:
        params.append(f"filiere={rng.choice(FILIERES)}")
    if rng.random() < 0.2:
        params.append(f"stade={rng.choice(STADES)}")
    page = rng.choices(
        ["carte", "annuaire", "collectivites", "statistiques", "presentation"],
        weights=[5, 2, 2, 2, 1],
    )[0]
    return page, "&".join(params)


class User:
    def __init__(self, n: int, base: str, ids: list[str], seed: int, args, http):
        self.n = n
        self.base = base
        self.ids = ids
        self.rng = random.Random(seed * 1000 + n)
        self.args = args
        self.http = http
        self.fetched: set[str] = set()

    async def think(self) -> None:
        low, high = self.args.think
        if high > 0:
            await asyncio.sleep(self.rng.uniform(low, high))

    async def run(self, s: StreamlitSession, rec: Recorder, page: str, q: str = ""):
        r = await s.run(page, q)
        rec.actions += 1
        rec.add(f"run:{page}", r.seconds)
        for e in r.errors:
            rec.error(f"{page}?{q}: {e}")
        return r

    async def fetch(self, rec: Recorder, kind: str, url: str) -> None:
        try:
            seconds, _ = await self.http.get(url)
            rec.add(kind, seconds)
        except Exception as exc:
            rec.error(f"HTTP {url}: {exc!r}")

    async def carte_files(self, rec: Recorder, r) -> None:
        # What the map's browser fetches; its cache keeps them for the visit.
        new = sorted(r.static_urls - self.fetched)
        self.fetched.update(new)
        if new:
            await asyncio.gather(*(self.fetch(rec, "http:static", u) for u in new))

    async def action(self, s: StreamlitSession, rec: Recorder) -> None:
        rng = self.rng
        kind = rng.choices(
            ["filter", "carte", "ptce", "territoire", "stats", "presentation",
             "export"],
            weights=[4, 3, 3, 2, 2, 1, self.args.export_weight],
        )[0]  # fmt: skip
        if kind == "filter":
            label, value = rng.choice(
                [
                    ("Filières", rng.sample(FILIERES, rng.randint(0, 2))),
                    ("Stades", rng.sample(STADES, rng.randint(0, 2))),
                    ("Départements", [rng.choice(DEPS)] if rng.random() < 0.5 else []),
                    ("Région", None),
                ]
            )
            if label == "Région":
                value = rng.choice(s.options.get("Région") or [""])
            if label == "Départements":
                allowed = set(s.options.get("Départements", []))
                value = [v for v in allowed if v.split(" ")[0] in value]
            s.set_widget(label, value)
            page = rng.choice(["carte", "carte", "annuaire", "statistiques"])
            r = await self.run(s, rec, page)
            if page == "carte":
                await self.carte_files(rec, r)
        elif kind == "carte":
            r = await self.run(s, rec, "carte")
            await self.carte_files(rec, r)
        elif kind == "ptce":
            await self.run(s, rec, "annuaire", f"ptce={rng.choice(self.ids)}")
        elif kind == "territoire":
            await self.run(
                s, rec, "collectivites", f"territoire=departement:{rng.choice(DEPS)}"
            )
        elif kind == "stats":
            r = await self.run(s, rec, "statistiques")
            csvs = [d.url for d in r.downloads if d.url.endswith(".csv")]
            if csvs:
                await self.fetch(rec, "http:csv", rng.choice(csvs))
            else:  # e.g. filters keeping no PTCE: nothing to export
                rec.add("note:stats-without-csv", 0.0)
        elif kind == "presentation":
            await self.run(s, rec, "presentation")
        elif kind == "export":
            r = await self.run(s, rec, "carte")
            await self.carte_files(rec, r)
            # As a user: "Préparer" makes the PNG in the session, then the
            # download button's file is fetched.
            start = time.perf_counter()
            try:
                made = await s.run("carte", s.query_string, click=PREPARE_PNG)
                png = [d for d in made.downloads if d.label == DOWNLOAD_PNG]
                if not png or not png[0].url:
                    rec.error("carte: no PNG to download after Préparer")
                    return
                await self.http.get(png[0].url)
                rec.add("export:png", time.perf_counter() - start)
            except Exception as exc:
                rec.error(f"export PNG: {exc!r}")

    async def loop(self, until: list[float], recorders: list[Recorder]) -> None:
        """Visit after visit until the last deadline; ``recorders[i]`` is the
        phase whose deadline ``until[i]`` is next."""

        def current() -> Recorder | None:
            now = time.monotonic()
            for deadline, rec in zip(until, recorders, strict=True):
                if now < deadline:
                    return rec
            return None

        # Start the users spread over a few seconds, as people arrive.
        await asyncio.sleep(self.rng.uniform(0, 2))
        while (rec := current()) is not None:
            self.fetched = set()
            try:
                async with StreamlitSession(self.base) as s:
                    page, q = deep_link(self.rng)
                    r = await self.run(s, rec, page, q)
                    if page == "carte":
                        await self.carte_files(rec, r)
                    for _ in range(self.rng.randint(3, 8)):
                        await self.think()
                        if (rec := current()) is None:
                            break
                        await self.action(s, rec)
            except Exception as exc:
                (current() or recorders[-1]).error(
                    f"user {self.n}: {exc!r} "
                    + traceback.format_exc(limit=1).splitlines()[-1]
                )
                await asyncio.sleep(1)
            await self.think()


# --------------------------------------------------------------------------
# Phases


async def warm_up(base: str, ids: list[str]) -> None:
    # Fill the server caches (frames, GeoJSON, filtered selections) once.
    async with StreamlitSession(base) as s:
        for page, q in [
            ("carte", "region=france"),
            ("carte", ""),
            ("annuaire", f"ptce={ids[0]}"),
            ("collectivites", "territoire=departement:44"),
            ("statistiques", ""),
            ("presentation", ""),
            ("accueil", ""),
        ]:
            r = await s.run(page, q)
            if r.errors:
                raise RuntimeError(f"warm-up {page}?{q}: {r.errors}")


def _rss(pids: list[int]) -> float:
    return sum(rss_mb(pid) for pid in pids)


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


async def phases(bases: list[str], pids: list[int], ids: list[str], args) -> dict:
    # Each simulated user stays on one server process, as behind a load
    # balancer with sticky sessions (Streamlit's websocket and media files
    # belong to one process).
    https = [Http(base) for base in bases]
    for base in bases:
        await warm_up(base, ids)
    load, soak = Recorder(), Recorder()
    rss: list[tuple[float, float]] = []
    t0 = time.monotonic()
    until = [t0 + args.load_seconds, t0 + args.load_seconds + args.soak_seconds]
    users = [
        User(i, bases[i % len(bases)], ids, args.seed, args, https[i % len(bases)])
        for i in range(args.sessions)
    ]
    cpu0, bench0 = _cpu(pids), time.process_time()
    cpu_at_load_end = None

    async def sampler() -> None:
        nonlocal cpu_at_load_end
        await asyncio.sleep(max(0, until[0] - time.monotonic()))
        cpu_at_load_end = (_cpu(pids), time.process_time())
        while True:
            now = time.monotonic()
            rss.append((now - until[0], _rss(pids)))
            print(f"  soak t={now - until[0]:5.0f} s  RSS {rss[-1][1]:7.1f} MB  "
                  f"responses {len(soak.responses())}  errors {len(soak.errors)}",
                  flush=True)  # fmt: skip
            if now >= until[1]:
                return
            await asyncio.sleep(min(10, max(0.1, until[1] - now)))

    sampling = asyncio.create_task(sampler())
    await asyncio.gather(*(u.loop(until, [load, soak]) for u in users))
    await sampling
    cpu1, bench1 = _cpu(pids), time.process_time()
    for http in https:
        http.close()
    return {
        "load": load,
        "soak": soak,
        "rss": rss,
        "cpu_load": (cpu_at_load_end[0] - cpu0, cpu_at_load_end[1] - bench0),
        "cpu_soak": (cpu1 - cpu_at_load_end[0], bench1 - cpu_at_load_end[1]),
    }


def report(name: str, rec: Recorder, seconds: float, cpu: tuple) -> None:
    print(f"\n{name} ({seconds:.0f} s, {rec.actions} responses, "
          f"{rec.actions / seconds:.1f}/s; server CPU {cpu[0] / seconds:.2f} cores, "
          f"bench client CPU {cpu[1] / seconds:.2f} cores)")  # fmt: skip
    print(f"  {'all responses':16s} {summary(rec.responses())}")
    for kind in sorted(rec.times):
        print(f"  {kind:16s} {summary(rec.times[kind])}")
    print(f"  errors: {len(rec.errors)}")
    for e in rec.errors[:10]:
        print(f"    {e}")


def add_user_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulated users' options (database size, seed, think time).

    Shared with bench.export_load, whose sessions are these users.
    """
    parser.add_argument("--ptce", type=int, default=1000, help="synthetic PTCE")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(1.0, 5.0),
        metavar=("MIN", "MAX"),
        help="seconds a user waits between actions (uniform); 0 0 = none",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="server processes on one database (one per core; README)",
    )
    # Longer than Streamlit's disconnected-session TTL (120 s): the soak then
    # starts with its steady population of recently closed sessions.
    parser.add_argument("--load-seconds", type=float, default=150)
    parser.add_argument("--soak-seconds", type=float, default=600)
    add_user_arguments(parser)
    parser.add_argument(
        "--export-weight",
        type=float,
        default=0.5,
        help="weight of the PNG export among actions (others: 1 to 4)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="atlas-load-") as tmp:
        url = f"sqlite:///{tmp}/atlas.sqlite"
        store = Store(url)
        install_demo(store)
        store.create_many(generate(args.ptce, seed=5), "bench")
        ids = store.ids()
        store.engine.dispose()
        print(f"database: {len(ids)} PTCE (demo + {args.ptce} synthetic)")
        with contextlib.ExitStack() as servers:
            bases = [
                servers.enter_context(streamlit_server(ROOT, env={"DATABASE_URL": url}))
                for _ in range(args.processes)
            ]
            pids = [server_pid(int(base.rsplit(":", 1)[1])) for base in bases]
            print(f"{args.processes} server process(es) {bases} pids {pids}; "
                  f"{args.sessions} sessions, think "
                  f"{args.think[0]:g}–{args.think[1]:g} s")  # fmt: skip
            result = asyncio.run(phases(bases, pids, ids, args))
            rss_after = _rss(pids)

    load, soak, rss = result["load"], result["soak"], result["rss"]
    report("LOAD", load, args.load_seconds, result["cpu_load"])
    report("SOAK", soak, args.soak_seconds, result["cpu_soak"])
    values = [v for _, v in rss]
    window = max(3, len(values) // 10)
    start_mb = statistics.median(values[:window])
    end_mb = statistics.median(values[-window:])
    growth = (end_mb - start_mb) / start_mb * 100
    peak = max(values)
    print(f"\nserver RSS (median of the first / last {window} samples): start of "
          f"soak {start_mb:.1f} MB, end {end_mb:.1f} MB (growth {growth:+.1f} %); "
          f"single samples {values[0]:.1f} → {values[-1]:.1f} MB; peak {peak:.1f} "
          f"MB; after the last session closed {rss_after:.1f} MB")  # fmt: skip
    load_p95 = p95(load.responses())
    soak_p95 = p95(soak.responses())
    errors = len(load.errors) + len(soak.errors)
    ok = (
        load_p95 <= P95_TARGET
        and soak_p95 <= P95_TARGET
        and errors == 0
        and growth <= GROWTH_TARGET
    )
    print(f"targets: p95 ≤ {P95_TARGET:g} s, 0 errors, RSS growth ≤ "
          f"{GROWTH_TARGET:g} % over the soak")  # fmt: skip
    print(
        f"RESULT load_soak: {'PASS' if ok else 'FAIL'} — {args.sessions} sessions "
        f"on {args.processes} process(es), "
        f"load {args.load_seconds:.0f} s p95 {load_p95 * 1000:.0f} ms "
        f"({len(load.responses())} responses), soak {args.soak_seconds:.0f} s "
        f"p95 {soak_p95 * 1000:.0f} ms ({len(soak.responses())} responses), "
        f"errors {errors}, RSS {start_mb:.0f}→{end_mb:.0f} MB ({growth:+.1f} %)"
    )


if __name__ == "__main__":
    main()
