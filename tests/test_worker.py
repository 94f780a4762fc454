"""Exports drawn in a worker process (lib.worker), identical to in-process ones."""

from __future__ import annotations

import os
import time
from datetime import date

import pytest

from lib import worker
from lib.domain.errors import explain
from lib.domain.model import Ptce, Soutien
from lib.domain.recits import Recit, Vue
from lib.domain.selection import build_frames
from lib.rendering.print.slides import recit_zip
from lib.rendering.print.static_map import render_fiche_territoire, render_map

WHEN = date(2026, 11, 27)


@pytest.fixture(scope="module")
def frames(built_cache):
    from geo.lookup import commune_points

    records = [
        Ptce(id="a", nom="Café $x$", commune="44109", departement="44", region="52",
             filieres=("culture",),
             soutiens=(Soutien("departement", "44", "investissement", montant=1e3),)),
        Ptce(id="b", nom="Pôle Ancenis", commune="44003", departement="44",
             region="52", filieres=("énergie",)),
    ]  # fmt: skip
    yield build_frames(records, commune_points())
    worker.shutdown()


def test_run_uses_another_process():
    assert worker.run(os.getpid) != os.getpid()


def test_workers_run_at_a_lower_priority_than_the_server():
    # Exports must not take the CPU from the other sessions' reruns.
    assert worker.run(os.nice, 0) == min(os.nice(0) + worker.NICENESS, 19)


def test_offloaded_map_is_made_elsewhere_and_identical(frames):
    kwargs = {"title": "Les PTCE", "fmt": "png", "dpi": 60, "when": WHEN}
    here = render_map(frames, **kwargs)
    with worker.offloading() as runs:
        there = render_map(frames, **kwargs)
    assert len(runs) == 1
    assert runs[0].pid != os.getpid()
    assert runs[0].name == "lib.rendering.print.static_map.render_map"
    assert there == here


def test_offloaded_recit_zip_and_fiche_are_identical(frames):
    story = Recit(
        "essai",
        "Essai",
        (
            Vue("Carte", "Texte.", couches=("ptce", "soutiens"), surligner=("a",)),
            Vue("Matrice", genre="matrice"),
        ),
    )
    here = recit_zip(story, lambda vue: frames, [], when=WHEN, dpi=40)
    fiche_here = render_fiche_territoire(frames, "departement", "44", when=WHEN)
    with worker.offloading() as runs:
        there = recit_zip(story, lambda vue: frames, [], when=WHEN, dpi=40)
        fiche_there = render_fiche_territoire(frames, "departement", "44", when=WHEN)
    assert [r.name for r in runs] == [
        "lib.rendering.print.slides._recit_zip",
        "lib.rendering.print.static_map.render_fiche_territoire",
    ]
    assert all(r.pid != os.getpid() for r in runs)
    assert there == here
    assert fiche_there == fiche_here


def test_an_error_in_the_worker_reaches_the_caller(frames):
    with worker.offloading(), pytest.raises(ValueError, match="format inconnu"):
        render_map(frames, title="x", fmt="bmp")


def test_a_stuck_export_gives_up_in_french_and_the_pool_recovers():
    with pytest.raises(worker.ExportFailed) as failed:
        worker.run(time.sleep, 60, timeout=0.5)
    message = explain(failed.value, for_app=True)
    assert "n'a pas pu être préparé" in message
    assert worker.run(os.getpid) != os.getpid()
