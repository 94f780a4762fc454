"""Backups (SQLite backup API), restore, and imports that die half-way."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest

from lib.io.demo import install_demo
from lib.store.backups import (
    BackupUnsupported,
    backup,
    backup_dir,
    backup_if_due,
    list_backups,
    restore,
    sqlite_path,
)
from lib.store.ptce import Store, dumps
from tests.conftest import ROOT


def _snapshot(store: Store) -> tuple:
    # What the app reads: every aggregate and every sourced figure.
    return (
        [dumps(p) for p in store.load()],
        [(f.sujet, f.libelle, f.valeur, f.source.libelle) for f in store.faits()],
        store.count(),
    )


@pytest.fixture
def demo(tmp_path):
    url = f"sqlite:///{tmp_path / 'atlas.sqlite'}"
    store = Store(url)
    install_demo(store)
    return url, store


def test_backup_then_restore_gives_identical_results(demo, tmp_path):
    url, store = demo
    before = _snapshot(store)
    saved = backup(url, "test")
    assert saved.parent == tmp_path / "backups" == backup_dir(url)
    # Damage the database: delete a PTCE, drop the figures.
    first = store.load()[0]
    store.delete(first.id, "test", first.version)
    store.replace_faits([])
    assert _snapshot(store) != before
    safety = restore(saved, url)
    assert _snapshot(Store(url)) == before
    assert _snapshot(store) == before  # the open engine sees it too
    # The state before the restore was kept, and can be restored in turn.
    restore(safety, url)
    assert Store(url).count() == before[2] - 1


def test_backups_are_listed_pruned_and_taken_when_due(demo, tmp_path):
    url, _ = demo
    folder = tmp_path / "sauvegardes"
    for _ in range(4):
        backup(url, "x", folder, keep=3)
    assert len(list_backups(folder)) == 3
    assert backup_if_due(url, folder, dt.timedelta(hours=24)) is None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    made = backup_if_due(url, folder, dt.timedelta(hours=24), now=later)
    assert made is not None and made.name.endswith("-planifiee.sqlite")


def test_restore_refuses_foreign_files_and_other_backends(demo, tmp_path):
    url, _ = demo
    other = tmp_path / "autre.sqlite"
    import sqlite3

    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(ValueError, match="pas une base de l'atlas"):
        restore(other, url)
    text = tmp_path / "texte.sqlite"
    text.write_text("pas une base")
    with pytest.raises(ValueError, match="pas une base SQLite"):
        restore(text, url)
    with pytest.raises(FileNotFoundError):
        restore(tmp_path / "absente.sqlite", url)
    with pytest.raises(BackupUnsupported, match="pg_dump"):
        sqlite_path("postgresql+psycopg://u@localhost/atlas")


def _big_csv(path, n: int) -> None:
    from lib.io.exporter import to_csv
    from lib.io.synthetic import generate

    path.write_bytes(to_csv(generate(n, seed=3)))


def _cli(*args, db: str, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "lib.io.cli", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def test_cli_backs_up_before_an_import(demo, tmp_path):
    url, store = demo
    data = tmp_path / "petit.csv"
    _big_csv(data, 3)
    proc = _cli("import", str(data), db=url)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Sauvegarde avant import" in err.decode()
    (saved,) = list_backups(url=url)
    assert Store(f"sqlite:///{saved}").count() == store.count() - 3


#: The app's import path (Données page: lib.io.editing.import_upload), run in a
#: process of its own so that it can be killed like the server.
APP_IMPORT = """
import sys
from pathlib import Path
from lib.store.accounts import User
from lib.io.editing import import_upload
from lib.store.ptce import Store
path = Path(sys.argv[1])
import_upload([(path.name, path.read_bytes())], Store(), User("a", "A", "éditeur"),
              dry_run=False)
"""


@pytest.mark.parametrize("path", ["ligne de commande", "application"])
def test_killing_an_import_half_way_leaves_the_database_as_it_was(demo, tmp_path, path):
    url, store = demo
    before = _snapshot(store)
    data = tmp_path / "gros.csv"
    _big_csv(data, 6000)
    wal = sqlite_path(url).with_name("atlas.sqlite-wal")
    if path == "application":
        proc = subprocess.Popen(
            [sys.executable, "-c", APP_IMPORT, str(data)],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    else:
        proc = _cli("import", str(data), db=url)
    # The import writes in one transaction: once its pages reach the WAL it
    # is half-way (nothing committed yet); kill it there, without warning.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 512 * 1024:
            break
        time.sleep(0.005)  # polling the WAL size, not waiting for a result
    assert proc.poll() is None, "the import ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert _snapshot(Store(url)) == before


def test_a_restored_database_gets_a_new_data_version(demo):
    url, store = demo
    saved = backup(url, "test")
    at_backup = store.data_version()
    first = store.load()[0]
    store.delete(first.id, "test", first.version)
    restore(saved, url)
    # Same content as at the backup, but caches keyed before must not match
    # the writes that will follow (the counter starts again from the backup's).
    assert Store(url).data_version() != at_backup
