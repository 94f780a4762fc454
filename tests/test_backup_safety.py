"""Backups that cannot lose anything: checked restores, rotation per kind.

A restore refuses, before touching anything, a file that is not SQLite, is
damaged, comes from a newer atlas or is another database dressed alike; the
live database stays byte for byte what it was. Refused imports take no
backup, and manual backups are never rotated out by automatic ones.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from lib.domain.errors import DatabaseDamaged
from lib.store.backups import (
    MANUAL,
    BackupNotFound,
    BackupRefused,
    backup,
    check_backup,
    list_backups,
    restore,
)
from lib.store.database import open_store
from lib.store.ptce import SCHEMA_VERSION, Store, dumps, migrate, schema_version
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A demo database in one checkpointed file."""
    from lib.io.demo import install_demo

    path = tmp_path_factory.mktemp("modele") / "atlas.sqlite"
    store = Store(f"sqlite:///{path}")
    install_demo(store)
    store.engine.dispose()
    _checkpoint(path)
    return path


def _checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


@pytest.fixture
def live(template, tmp_path, monkeypatch) -> tuple[str, Path]:
    """The live database (a copy of the demo) and its URL; backups beside it."""
    monkeypatch.delenv("PTCE_BACKUP_DIR", raising=False)
    path = tmp_path / "base" / "atlas.sqlite"
    path.parent.mkdir()
    shutil.copyfile(template, path)
    return f"sqlite:///{path}", path


def _state(folder: Path) -> dict[str, str]:
    """Every file under a folder and the hash of its bytes.

    A ``-shm`` (the readers' shared index) and an empty ``-wal`` hold no data:
    whether a read-only reader leaves them behind, or the last writer removes
    them, depends on which connection closes last.
    """
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and not p.name.endswith("-shm")
        and not (p.name.endswith("-wal") and not p.stat().st_size)
    }


def _snapshot(url: str) -> list[str]:
    store = Store(url)
    try:
        return [dumps(p) for p in store.load()]
    finally:
        store.engine.dispose()


def _cli(*args: str, url: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("PTCE_BACKUP_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "lib.io.cli", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- files a restore must refuse ---------------------------------------------


def _edit(template: Path, target: Path, *sql: str) -> Path:
    shutil.copyfile(template, target)
    conn = sqlite3.connect(target)
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return target


def _page_damage(template: Path, target: Path) -> Path:
    shutil.copyfile(template, target)
    with target.open("r+b") as f:
        f.seek(4096 * 3)
        f.write(b"\x13\x37" * 2048 * 4)
    return target


def _truncated(template: Path, target: Path) -> Path:
    target.write_bytes(template.read_bytes()[: template.stat().st_size // 2])
    return target


def _written(target: Path, data: bytes) -> Path:
    target.write_bytes(data)
    return target


def _look_alike(template: Path, target: Path) -> Path:
    # Right meta and version, a ptce table, and nothing else of the atlas.
    conn = sqlite3.connect(target)
    conn.executescript(
        "CREATE TABLE meta (cle TEXT PRIMARY KEY, valeur TEXT NOT NULL);"
        f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');"
        "CREATE TABLE ptce (id TEXT PRIMARY KEY, nom TEXT);"
        "INSERT INTO ptce VALUES ('x', 'Étranger');"
    )
    conn.close()
    return target


BAD_FILES = {
    "texte": lambda t, p: _written(p, b"identifiant;nom\nx;y\n" * 300),
    "vide": lambda t, p: _written(p, b""),
    "pages abîmées": _page_damage,
    "tronquée": _truncated,
    "sosie": _look_alike,
    "table en moins": lambda t, p: _edit(t, p, "DROP TABLE soutien"),
    "colonne en moins": lambda t, p: _edit(
        t, p, "ALTER TABLE ptce DROP COLUMN emplois"
    ),
    "colonne en trop": lambda t, p: _edit(t, p, "ALTER TABLE ptce ADD COLUMN x TEXT"),
    "table en trop": lambda t, p: _edit(t, p, "CREATE TABLE autre (x)"),
    "déclencheur": lambda t, p: _edit(
        t,
        p,
        "CREATE TRIGGER piege AFTER INSERT ON ptce BEGIN DELETE FROM ptce; END",
    ),
    "schéma plus récent": lambda t, p: _edit(
        t,
        p,
        f"UPDATE meta SET valeur = '{SCHEMA_VERSION + 1}' WHERE cle = 'schema_version'",
    ),
    "sans version": lambda t, p: _edit(
        t, p, "DELETE FROM meta WHERE cle = 'schema_version'"
    ),
    "version illisible": lambda t, p: _edit(
        t, p, "UPDATE meta SET valeur = 'deux' WHERE cle = 'schema_version'"
    ),
    "clé étrangère cassée": lambda t, p: _edit(
        t,
        p,
        "PRAGMA foreign_keys = OFF",
        "INSERT INTO membre (ptce_id, rang, nom, role) "
        "VALUES ('inexistant', 0, 'Orphelin', 'membre')",
    ),
}


@pytest.mark.parametrize("bad", list(BAD_FILES))
def test_restore_refuses_before_touching_the_live_database(
    template, live, tmp_path, bad
):
    url, path = live
    folder = tmp_path / "fichiers"
    folder.mkdir()
    candidate = BAD_FILES[bad](template, folder / "candidat.sqlite")
    base_before, files_before = _state(path.parent), _state(folder)
    proc = _cli("restore-backup", str(candidate), url=url)
    assert proc.returncode == 1, proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.startswith("Erreur : candidat.sqlite ")
    assert (
        "la base n'a pas été modifiée" in proc.stderr or "plus récente" in proc.stderr
    )
    assert "inattendue" not in proc.stderr
    # Nothing changed or appeared: no safety backup, no -wal beside the file.
    assert _state(path.parent) == base_before
    assert _state(folder) == files_before


def test_restore_of_a_missing_file(live, tmp_path):
    url, path = live
    before = _state(path.parent)
    with pytest.raises(BackupNotFound, match="Sauvegarde introuvable"):
        restore(tmp_path / "absente.sqlite", url)
    proc = _cli("restore-backup", str(tmp_path / "absente.sqlite"), url=url)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "Sauvegarde introuvable" in proc.stderr
    assert _state(path.parent) == before


def test_check_backup_reports_version_and_refusal_reason(template, tmp_path):
    assert check_backup(template) == SCHEMA_VERSION
    newer = BAD_FILES["schéma plus récent"](template, tmp_path / "n.sqlite")
    with pytest.raises(BackupRefused, match="plus récente"):
        check_backup(newer)
    lacking = BAD_FILES["colonne en moins"](template, tmp_path / "c.sqlite")
    with pytest.raises(BackupRefused, match="ptce sans emplois"):
        check_backup(lacking)


@pytest.mark.parametrize("name", ["sauvegarde ?x=1#frag.sqlite", "a%20b?.sqlite"])
def test_restore_from_a_path_with_uri_characters(live, tmp_path, name):
    url, _ = live
    expected = _snapshot(url)
    saved = backup(url, MANUAL)
    folder = tmp_path / "dossier #1?"
    folder.mkdir()
    odd = folder / name
    shutil.copyfile(saved, odd)
    store = Store(url)
    first = store.load()[0]
    store.delete(first.id, "test", first.version)
    store.engine.dispose()
    assert _snapshot(url) != expected
    before = sorted(p.name for p in folder.iterdir())
    proc = _cli("restore-backup", str(odd), url=url)
    assert proc.returncode == 0, proc.stderr
    assert _snapshot(url) == expected
    # Checking and copying the file left nothing beside it, and no empty
    # file named after the part before "?" or "#" anywhere.
    assert sorted(p.name for p in folder.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "dossier #1?"]


def test_restore_of_an_older_schema_upgrades_it(live, tmp_path):
    url, _ = live
    old = tmp_path / "ancienne.sqlite"
    engine = sa.create_engine(f"sqlite:///{old}")
    migrate(engine, 5)
    engine.dispose()
    assert check_backup(old) == 5
    restore(old, url)
    store = Store(url)
    with store.engine.connect() as conn:
        assert schema_version(conn) == SCHEMA_VERSION
    assert store.count() == 0
    store.engine.dispose()


@pytest.mark.parametrize("damage", ["pages", "entête"])
def test_restore_onto_a_damaged_database(template, live, tmp_path, damage):
    url, path = live
    expected = _snapshot(url)
    saved = backup(url, MANUAL)
    if damage == "pages":
        _page_damage(template, path)
    else:
        path.write_bytes(b"\x00garbage" * 5000)
    damaged_bytes = path.read_bytes()
    with pytest.raises(DatabaseDamaged):
        open_store(url)
    proc = _cli("restore-backup", str(saved), url=url)
    assert proc.returncode == 0, proc.stderr
    assert "Redémarrez l'application" in proc.stdout
    assert _snapshot(url) == expected
    # The damaged file was set aside as it was, never silently dropped.
    (aside,) = [
        p for p in list_backups(url=url) if p.name.endswith("-endommagee.sqlite")
    ]
    assert aside.read_bytes() == damaged_bytes
    proc = _cli("init", url=url)
    assert proc.returncode == 0, proc.stderr


def test_restore_into_a_missing_database_creates_it(live, tmp_path):
    url, _ = live
    expected = _snapshot(url)
    saved = shutil.copyfile(backup(url, MANUAL), tmp_path / "copie.sqlite")
    other = tmp_path / "neuve" / "atlas.sqlite"
    assert restore(saved, f"sqlite:///{other}") is None
    assert _snapshot(f"sqlite:///{other}") == expected


def test_restore_on_a_read_only_database_is_refused_without_backup(live, tmp_path):
    url, path = live
    saved = shutil.copyfile(backup(url, MANUAL), tmp_path / "copie.sqlite")
    before = _state(path.parent)
    proc = _cli(
        "restore-backup", str(saved), url=f"sqlite:///file:{path}?mode=ro&uri=true"
    )
    assert proc.returncode == 1
    assert "lecture seule" in proc.stderr and "Traceback" not in proc.stderr
    after = _state(path.parent)
    for state in (before, after):  # an empty -wal and the readers' -shm
        state.pop("atlas.sqlite-wal", None)
        state.pop("atlas.sqlite-shm", None)
    assert after == before
    assert not (path.parent / "atlas.sqlite-wal").stat().st_size


# -- rotation: refused imports take no backup, manual ones stay ------------------


def _bad_csv(tmp_path: Path) -> Path:
    path = tmp_path / "mauvais.csv"
    path.write_text("identifiant;nom;commune\nx;;99999\n")
    return path


def test_thirty_refused_imports_keep_every_earlier_backup(
    live, tmp_path, monkeypatch, capsys
):
    from lib.io import cli as data
    from lib.io.editing import import_upload
    from lib.store.accounts import User

    url, path = live
    monkeypatch.setenv("DATABASE_URL", url)
    manual = backup(url, MANUAL)
    automatic = [backup(url, "avant-import") for _ in range(3)]
    before = _state(path.parent)
    bad = _bad_csv(tmp_path)
    for _ in range(31):
        assert data.main(["import", str(bad)]) == 1
    assert "Import refusé" in capsys.readouterr().out
    # The app's import path validates first too (lib.io.editing.import_upload).
    store = Store(url)
    editor = User("e", "É", "éditeur")
    for _ in range(31):
        plan = import_upload([(bad.name, bad.read_bytes())], store, editor, False)
        assert not plan.ok
    store.engine.dispose()
    assert _state(path.parent) == before
    assert set(list_backups(url=url)) == {manual, *automatic}


def test_manual_backups_survive_any_number_of_automatic_ones(live):
    url, _ = live
    manual = [backup(url, MANUAL) for _ in range(2)]
    planned = [backup(url, "planifiee") for _ in range(2)]
    for _ in range(35):
        backup(url, "avant-import")
    kept = list_backups(url=url)
    assert set(manual) <= set(kept) and set(planned) <= set(kept)
    assert sum(p.name.endswith("-avant-import.sqlite") for p in kept) == 30
    for _ in range(3):
        backup(url, MANUAL)
    assert sum(p.name.endswith("-manuelle.sqlite") for p in list_backups(url=url)) == 5


def test_cli_backup_is_manual_and_kept(live):
    url, _ = live
    proc = _cli("backup", url=url)
    assert proc.returncode == 0, proc.stderr
    (made,) = list_backups(url=url)
    assert made.name.endswith("-manuelle.sqlite")
    for _ in range(31):
        backup(url, "avant-import", keep=30)
    assert made in list_backups(url=url)


def test_a_damaged_database_is_never_backed_up(live, template):
    url, path = live
    good = [backup(url, "planifiee") for _ in range(2)]
    _page_damage(template, path)
    for _ in range(3):
        with pytest.raises(DatabaseDamaged):
            backup(url, "planifiee", keep=1)
    assert list_backups(url=url) == sorted(good, reverse=True)


def test_a_backup_on_a_full_disk_leaves_no_half_file(live, monkeypatch):
    url, _ = live
    first = backup(url, "avant-import")
    real = sqlite3.connect

    def full_disk(*args, **kwargs):
        # A real SQLITE_FULL: no connection may grow its file.
        conn = real(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
        return conn

    monkeypatch.setattr(sqlite3, "connect", full_disk)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        backup(url, "avant-import", keep=1)
    monkeypatch.undo()
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name]
