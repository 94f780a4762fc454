"""Exports made in a worker process, off the server's event loop.

Drawing a map or a récit with matplotlib is pure Python most of the time: in
the Streamlit server's process it holds the GIL, and every other session
waits for its own reruns (1–2 s per export, ~20 s for a récit ZIP). Here the
drawing runs in a small pool of worker processes; the server's thread only
pickles the inputs, then waits for the bytes without holding the GIL.

The export functions are marked :func:`offloadable`. Called normally (tests,
benches, the command line), they run where they are called. Called inside
``with offloading():`` — as :func:`pages.prepared_download` does for every
file a page prepares — they run in the pool instead, so the pages' own
``make`` callables need not change::

    with offloading(timeout=120) as runs:
        data = render_map(selection, title="…")  # drawn in a worker
    runs[0].pid  # the worker's process id

The pool is created on first use, with the ``spawn`` start method: the
Streamlit server has threads, and ``fork`` would copy its locks in whatever
state other threads hold them. A worker that dies, or a call that takes
longer than its timeout, raises :class:`ExportFailed` (a French message for
:func:`lib.domain.errors.explain`); the pool is then replaced, so the next export
starts afresh.

The workers run at a lower scheduling priority (:data:`NICENESS`): with two
cores, two exports would otherwise take the server's CPU share and slow every
other session's reruns (p95 ×3.9 in bench/export_load.py, ×1.0–1.1 niced);
niced, the exports use the time the server leaves.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import contextlib
import contextvars
import functools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lib.domain.errors import AtlasError

__all__ = [
    "DEFAULT_TIMEOUT",
    "NICENESS",
    "WORKERS",
    "ExportFailed",
    "Run",
    "offloadable",
    "offloading",
    "run",
    "shutdown",
]

#: Worker processes: the machine's cores, at most 2 (exports are rare and
#: each worker holds its own copy of the boundary caches).
WORKERS = max(1, min(2, os.cpu_count() or 1))
#: Seconds an export may take before it is given up (a récit of 11 vues
#: takes ~10 s; a cold worker first imports matplotlib and geopandas).
DEFAULT_TIMEOUT = 180.0
#: Added to the workers' niceness: the server's reruns come first on the CPU.
NICENESS = 10

_LOG = logging.getLogger("atlas")
_LOCK = threading.Lock()
_POOL: cf.ProcessPoolExecutor | None = None
# Set by offloading(): the list the runs are recorded in, and the timeout.
_ACTIVE: contextvars.ContextVar[tuple[list, float] | None] = contextvars.ContextVar(
    "atlas_offloading", default=None
)


class ExportFailed(AtlasError):
    """The export could not be made (worker stopped, too long, or an error)."""


@dataclass(frozen=True)
class Run:
    """One call made in a worker.

    Attributes
    ----------
    name : str
        Qualified name of the function.
    pid : int
        Process id of the worker that ran it.
    seconds : float
        Time the worker took, inputs and result included.
    """

    name: str
    pid: int
    seconds: float


def _pool() -> cf.ProcessPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = cf.ProcessPoolExecutor(
                max_workers=WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_background,
            )
        return _POOL


def _background() -> None:
    """Run in each new worker: lower its priority below the server's."""
    with contextlib.suppress(OSError):
        os.nice(NICENESS)


def _drop(pool: cf.ProcessPoolExecutor) -> None:
    """Forget a pool that failed and stop its processes (a stuck export)."""
    global _POOL
    with _LOCK:
        if _POOL is pool:
            _POOL = None
    # ProcessPoolExecutor has no public way to stop a running task before
    # Python 3.14 (terminate_workers): its processes are ended directly.
    for process in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the worker processes (they are started again when needed)."""
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown)


def _call(fn: Callable, args: tuple, kwargs: dict):
    """Run in the worker: the function's result and the worker's pid."""
    return os.getpid(), fn(*args, **kwargs)


def run(fn: Callable, *args, timeout: float = DEFAULT_TIMEOUT, **kwargs):
    """Run ``fn(*args, **kwargs)`` in a worker process and return its result.

    Parameters
    ----------
    fn : callable
        A module-level function (pickled by name); its arguments and result
        must be picklable.
    *args, **kwargs
        Its arguments.
    timeout : float
        Seconds to wait before giving up.

    Returns
    -------
    object
        What ``fn`` returned.

    Raises
    ------
    ExportFailed
        When the worker stopped, the call took longer than ``timeout``, or
        the arguments could not be sent.
    Exception
        An exception raised by ``fn`` itself (``ValueError``…), unchanged.
    """
    return _submit(fn, args, kwargs, timeout)[2]


def _submit(fn, args, kwargs, timeout):
    name = f"{fn.__module__}.{fn.__qualname__}"
    pool = _pool()
    start = time.perf_counter()
    try:
        future = pool.submit(_call, fn, args, kwargs)
    except cf.BrokenExecutor:
        _drop(pool)
        pool = _pool()
        future = pool.submit(_call, fn, args, kwargs)
    try:
        pid, result = future.result(timeout=timeout)
    except cf.TimeoutError as exc:
        _drop(pool)
        raise ExportFailed(
            f"Le fichier n'a pas pu être préparé en {round(timeout)} secondes. "
            "Réessayez, ou exportez une sélection plus petite."
        ) from exc
    except cf.BrokenExecutor as exc:
        _drop(pool)
        raise ExportFailed(
            "Le processus qui prépare les fichiers s'est arrêté (mémoire "
            "insuffisante ?). Réessayez ; il est relancé."
        ) from exc
    except (TypeError, AttributeError) as exc:
        if "pickle" not in str(exc).lower():
            raise
        raise ExportFailed(
            "Les données de cet export n'ont pas pu être transmises au "
            "processus qui prépare les fichiers."
        ) from exc
    seconds = time.perf_counter() - start
    _LOG.info("Export %s fait par le processus %s en %.1f s", name, pid, seconds)
    return Run(name, pid, seconds), pid, result


@contextlib.contextmanager
def offloading(timeout: float = DEFAULT_TIMEOUT) -> Iterator[list[Run]]:
    """Run the :func:`offloadable` functions called in this block in a worker.

    Parameters
    ----------
    timeout : float
        Seconds each call may take.

    Yields
    ------
    list of Run
        Filled with one :class:`Run` per call made in a worker.
    """
    runs: list[Run] = []
    token = _ACTIVE.set((runs, timeout))
    try:
        yield runs
    finally:
        _ACTIVE.reset(token)


def offloadable(fn: Callable) -> Callable:
    """Mark an export function: inside :func:`offloading`, it runs in a worker.

    Parameters
    ----------
    fn : callable
        A module-level function whose arguments and result are picklable.

    Returns
    -------
    callable
        The same function; in a worker (or outside :func:`offloading`) it
        runs in place.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        active = _ACTIVE.get()
        if active is None:
            return fn(*args, **kwargs)
        runs, timeout = active
        # The worker runs the plain function: pickled by name, the wrapper
        # resolves to itself there, where nothing is being offloaded.
        record, _, result = _submit(wrapper, args, kwargs, timeout)
        runs.append(record)
        return result

    return wrapper
