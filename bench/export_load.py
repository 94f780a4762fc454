"""Bench: reruns of 10 sessions while two récit ZIPs are being made (issue 12).

Target: while two sessions each make the Présentation's récit ZIP (11 vues,
PNG slides and PDF, drawn in lib.worker's processes), 10 other sessions keep
their p95 rerun ≤ 1.5 × their p95 with no export running, in the same run on
the same server.

The server is the real app (``streamlit run app.py``, tests.browser helper) on
a temporary SQLite database holding the demo data plus 1,000 synthetic PTCE,
as bench/load_soak.py. The 10 sessions are load_soak's simulated users (deep
links, filter changes, Carte with its files, fiches, Statistiques with a CSV,
Présentation), speaking the Streamlit websocket protocol (bench/stclient.py),
without load_soak's PNG export: nothing is exported in phase A.

- Phase A (``--phase-seconds``): the 10 sessions alone; p95 of their reruns.
- Settle (``--settle-seconds``): two exporter sessions start; the first ZIPs
  also start the worker processes (spawn, imports). Not measured.
- Phase B (``--phase-seconds``): the same 10 sessions, while each exporter
  makes the ZIP again and again as a user would: on the Présentation, a click
  on « Préparer : le récit (ZIP…) » (pages.prepared_download, the ZIP made in
  a worker), then the HTTP download of the file. Each exporter opens its next
  session while its export runs, so that a new export starts as soon as the
  last one ends; the share of phase B with two exports in flight is printed.

A rerun is timed from sending it to ``script_finished`` (stclient). Streamlit's
floor is a probe session rerunning a one-line script (``st.write``) on a second
server every 0.5 s through both phases: its p95 shows how much of a slowdown
is the machine's CPU rather than the app's server. Server CPU (and, in phase
B, the worker processes' CPU) is read from /proc, and so is the CPU used by
the rest of the machine: a result taken while other processes used more than
a quarter of a core is flagged NOISY.

Usage: python -m bench.export_load [--phase-seconds 60] [--settle-seconds 10]
       [--sessions 10] [--exporters 2] [--think 1 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from bench.load_soak import (
    ROOT,
    Recorder,
    User,
    add_user_arguments,
    cpu_seconds,
    p95,
    report,
    server_pid,
    summary,
    warm_up,
)
from bench.stclient import Http, StreamlitSession
from lib.io.demo import install_demo
from lib.io.synthetic import generate
from lib.store.ptce import Store
from tests.browser import streamlit_server

RATIO_TARGET = 1.5
#: Share of phase B during which every exporter must have a ZIP in the making.
COVERAGE_TARGET = 0.8
#: The Présentation's récit export (views.presentation._exports).
ZIP_LABEL = "le récit (ZIP : diapositives PNG et PDF)"
PREPARE_ZIP = f"Préparer : {ZIP_LABEL}"
DOWNLOAD_ZIP = f"Télécharger : {ZIP_LABEL}"
#: Streamlit's floor: a script that does (nearly) nothing.
NOTHING = "import streamlit as st\n\nst.write('rien')\n"
PROBE_EVERY = 0.5
#: Cores used by other processes above which the figures are flagged NOISY.
OTHERS_LIMIT = 0.25


# --------------------------------------------------------------------------
# Processes


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (the export workers of a server)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(proc.name))
    return found


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (every process, /proc/stat)."""
    import os

    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


# --------------------------------------------------------------------------
# Exporters and floor probe


class Exporter:
    """A session making the récit ZIP again and again until ``stop``."""

    def __init__(self, n: int, base: str, http: Http, rec: Recorder):
        self.n = n
        self.base = base
        self.http = http
        self.rec = rec
        # Monotonic times, click → ZIP; the end is None while it is made.
        self.spans: list[list[float | None]] = []

    async def _ready(self) -> StreamlitSession:
        s = StreamlitSession(self.base, timeout=300)
        await s.connect()
        r = await s.run("presentation")
        for e in r.errors:
            self.rec.error(f"exporter {self.n}, presentation: {e}")
        if PREPARE_ZIP not in s.buttons:
            await s.close()
            raise RuntimeError(f"no button {PREPARE_ZIP!r} on the Présentation")
        return s

    async def _export(self, s: StreamlitSession) -> None:
        start = time.monotonic()
        span = [start, None]
        self.spans.append(span)
        try:
            made = await s.run("presentation", s.query_string, click=PREPARE_ZIP)
            done = span[1] = time.monotonic()
            for e in made.errors:
                self.rec.error(f"exporter {self.n}, Préparer: {e}")
            zips = [d for d in made.downloads if d.label == DOWNLOAD_ZIP]
            if not zips or not zips[0].url:
                self.rec.error(f"exporter {self.n}: no ZIP to download after Préparer")
                return
            self.rec.add("export:zip", done - start)
            seconds, size = await self.http.get(zips[0].url)
            self.rec.add("http:zip", seconds)
            if size < 100_000:
                self.rec.error(f"exporter {self.n}: ZIP of {size} bytes")
        except Exception as exc:
            self.rec.error(f"exporter {self.n}: {exc!r}")
        finally:
            if span[1] is None:
                span[1] = time.monotonic()
            await s.close()

    async def loop(self, stop: float) -> None:
        nxt = None
        while time.monotonic() < stop:
            try:
                if nxt is None:
                    nxt = await self._ready()
                making = asyncio.create_task(self._export(nxt))
                nxt = None
                # The next session waits on the Présentation while this ZIP
                # is made: the next export starts as soon as this one ends.
                try:
                    nxt = await self._ready()
                finally:
                    await making
            except Exception as exc:
                self.rec.error(f"exporter {self.n}: {exc!r}")
                await asyncio.sleep(1)
        if nxt is not None:
            await nxt.close()


async def probe(base: str, until: list[float], recs: list[Recorder]) -> None:
    """Rerun the do-nothing script every PROBE_EVERY s; one recorder a phase."""
    async with StreamlitSession(base) as s:
        await s.run("")
        while True:
            now = time.monotonic()
            rec = next((r for d, r in zip(until, recs, strict=True) if now < d), None)
            if rec is None:
                return
            r = await s.run("")
            rec.add("run:floor", r.seconds)
            for e in r.errors:
                rec.error(f"floor: {e}")
            await asyncio.sleep(PROBE_EVERY)


def coverage(spans: list[list[list]], start: float, end: float):
    """Shares of [start, end] with at least one, and with every exporter busy
    (an export still being made counts as busy to the end)."""
    step = 0.05
    n = int((end - start) / step)
    one = every = 0
    for i in range(n):
        t = start + (i + 0.5) * step
        busy = [any(a <= t < (b or end) for a, b in own) for own in spans]
        one += any(busy)
        every += all(busy)
    return one / max(n, 1), every / max(n, 1)


# --------------------------------------------------------------------------
# Run


async def phases(base, floor_base, pid: int, floor_pid: int, ids: list[str], args):
    http = Http(base)
    await warm_up(base, ids)
    a, settle, b = Recorder(), Recorder(), Recorder()
    fa, fsettle, fb = Recorder(), Recorder(), Recorder()
    exports = Recorder()
    t0 = time.monotonic()
    until = [
        t0 + args.phase_seconds,
        t0 + args.phase_seconds + args.settle_seconds,
        t0 + 2 * args.phase_seconds + args.settle_seconds,
    ]
    # load_soak's users, without its PNG export.
    user_args = argparse.Namespace(think=args.think, export_weight=0)
    users = [
        User(i, base, ids, args.seed, user_args, http) for i in range(args.sessions)
    ]
    exporters = [Exporter(i, base, http, exports) for i in range(args.exporters)]
    cpu: dict[str, tuple[float, ...]] = {}

    async def sample(name: str, at: float) -> None:
        await asyncio.sleep(max(0, at - time.monotonic()))
        cpu[name] = (
            _cpu([pid]),
            _cpu(children(pid)),
            time.process_time(),
            _cpu([floor_pid]),
            machine_busy(),
        )

    async def export_phase() -> None:
        await asyncio.sleep(max(0, until[0] - time.monotonic()))
        await asyncio.gather(*(e.loop(until[2]) for e in exporters))

    samplers = [
        sample("start", t0),
        sample("a", until[0]),
        sample("b0", until[1]),
        sample("b", until[2]),
    ]
    exporting = asyncio.create_task(export_phase())
    await asyncio.gather(
        *(u.loop(until, [a, settle, b]) for u in users),
        probe(floor_base, until, [fa, fsettle, fb]),
        *samplers,
    )
    # The exports in flight at the end of phase B are not waited for long.
    try:
        await asyncio.wait_for(exporting, args.settle_seconds + 60)
    except TimeoutError:
        exports.error("exports still running 60 s after phase B")
    http.close()
    return {
        "a": a,
        "b": b,
        "floor_a": fa,
        "floor_b": fb,
        "exports": exports,
        "spans": [e.spans for e in exporters],
        "until": until,
        "cpu": cpu,
        "t0": t0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--exporters", type=int, default=2)
    parser.add_argument("--phase-seconds", type=float, default=60)
    parser.add_argument("--settle-seconds", type=float, default=10)
    add_user_arguments(parser)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="atlas-export-load-") as tmp,
        contextlib.ExitStack() as servers,
    ):
        url = f"sqlite:///{tmp}/atlas.sqlite"
        store = Store(url)
        install_demo(store)
        store.create_many(generate(args.ptce, seed=5), "bench")
        ids = store.ids()
        store.engine.dispose()
        nothing = Path(tmp) / "floor"
        nothing.mkdir()
        (nothing / "app.py").write_text(NOTHING)
        base = servers.enter_context(streamlit_server(ROOT, env={"DATABASE_URL": url}))
        floor_base = servers.enter_context(streamlit_server(nothing))
        pid = server_pid(int(base.rsplit(":", 1)[1]))
        floor_pid = server_pid(int(floor_base.rsplit(":", 1)[1]))
        print(f"database: {len(ids)} PTCE (demo + {args.ptce} synthetic); server "
              f"{base} pid {pid}; {args.sessions} sessions, think "
              f"{args.think[0]:g}–{args.think[1]:g} s; {args.exporters} exporters; "
              f"floor server {floor_base}")  # fmt: skip
        result = asyncio.run(phases(base, floor_base, pid, floor_pid, ids, args))

    a, b, exports, cpu = result["a"], result["b"], result["exports"], result["cpu"]
    seconds = args.phase_seconds
    a_cpu = (cpu["a"][0] - cpu["start"][0], cpu["a"][2] - cpu["start"][2])
    b_cpu = (cpu["b"][0] - cpu["b0"][0], cpu["b"][2] - cpu["b0"][2])
    workers_b = cpu["b"][1] - cpu["b0"][1]
    report("PHASE A, no export", a, seconds, a_cpu)
    print(f"  {'floor (probe)':16s} {summary(result['floor_a'].responses())}")
    print(f"  {_machine(cpu['start'], cpu['a'], seconds)}")
    report(f"PHASE B, {args.exporters} récit ZIPs in the making", b, seconds, b_cpu)
    print(f"  {'floor (probe)':16s} {summary(result['floor_b'].responses())}")
    print(f"  export workers CPU {workers_b / seconds:.2f} cores; "
          f"{_machine(cpu['b0'], cpu['b'], seconds)}")  # fmt: skip
    start, end = result["until"][1], result["until"][2]
    one, every = coverage(result["spans"], start, end)
    zips = exports.times.get("export:zip", [])
    print(f"\nEXPORTS ({len(zips)} ZIPs from the end of phase A)")
    for kind in sorted(exports.times):
        print(f"  {kind:16s} {summary(exports.times[kind])}")
    print(f"  phase B with ≥ 1 export in flight {one:.0%}, with all "
          f"{args.exporters} {every:.0%}")  # fmt: skip
    print(f"  errors: {len(exports.errors)}")
    for e in exports.errors[:10]:
        print(f"    {e}")

    p95_a, p95_b = p95(a.responses()), p95(b.responses())
    floor_a = p95(result["floor_a"].responses())
    floor_b = p95(result["floor_b"].responses())
    ratio = p95_b / p95_a if p95_a else float("inf")
    errors = len(a.errors) + len(b.errors) + len(exports.errors)
    ok = ratio <= RATIO_TARGET and errors == 0 and every >= COVERAGE_TARGET
    others = max(_others(cpu["start"], cpu["a"], seconds),
                 _others(cpu["b0"], cpu["b"], seconds))  # fmt: skip
    noisy = (
        f"; NOISY: other processes used up to {others:.2f} cores"
        if others > OTHERS_LIMIT
        else ""
    )
    print(f"\ntargets: ratio ≤ {RATIO_TARGET:g}, 0 errors, all exporters busy "
          f"≥ {COVERAGE_TARGET:.0%} of phase B")  # fmt: skip
    print(
        f"RESULT export_load: p95 without export {p95_a * 1000:.0f} ms, with two "
        f"récit ZIPs {p95_b * 1000:.0f} ms, ratio {ratio:.2f} (target ≤ "
        f"{RATIO_TARGET:g}) {'PASS' if ok else 'FAIL'} — {args.sessions} sessions, "
        f"{len(a.responses())}/{len(b.responses())} reruns, floor p95 "
        f"{floor_a * 1000:.0f}/{floor_b * 1000:.0f} ms, {len(zips)} ZIPs "
        f"(median {_median(zips):.1f} s), both exporting {every:.0%} of phase B, "
        f"errors {errors}{noisy}"
    )


def _others(before: tuple, after: tuple, seconds: float) -> float:
    """Cores the machine spent busy besides this bench's processes."""
    ours = sum(after[i] - before[i] for i in range(4))
    return max(0.0, after[4] - before[4] - ours) / seconds


def _machine(before: tuple, after: tuple, seconds: float) -> str:
    # Other work on a shared machine makes every figure slower.
    return (
        f"machine busy {(after[4] - before[4]) / seconds:.2f} cores, of which "
        f"other processes {_others(before, after, seconds):.2f}"
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


if __name__ == "__main__":
    main()
