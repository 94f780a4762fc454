"""The server's own checks never drop its SQLite locks.

POSIX advisory locks belong to a process and a file: closing *any*
descriptor of the database file releases every lock the process holds on
it, including those of its open SQLite connections. Another process (the
command line, a second server) then believes it closes the last connection,
checkpoints and deletes the ``-wal`` and ``-shm`` files under the server's
feet: the server's next connection reads "file is not a database". So the
server's checks (the hourly backup, opening the store) read the live file
through SQLite only.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from lib.domain.model import Ptce
from lib.store.backups import backup
from lib.store.database import check_file
from lib.store.ptce import Store

ROOT = Path(__file__).resolve().parents[1]

_OTHER_PROCESS = """
import dataclasses, sys
from lib.store.ptce import Store
store = Store(sys.argv[1])
p = store.get("pole")
store.save(dataclasses.replace(p, description="par un autre processus"), "bob")
store.engine.dispose()
"""


def _other_process_writes(url: str) -> None:
    subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, url], cwd=ROOT, check=True, timeout=120
    )


def _server_like(tmp_path) -> tuple[Store, Path, sa.Connection]:
    path = tmp_path / "atlas.sqlite"
    store = Store(f"sqlite:///{path}")
    store.save(Ptce(id="pole", nom="Pôle", commune="44109"), "alice")
    held = store.engine.connect()  # a session of the server, reading
    held.execute(sa.text("SELECT count(*) FROM ptce")).scalar()
    return store, path, held


def _still_sound(store: Store, path: Path, held: sa.Connection) -> None:
    # The server keeps its -shm, and a new connection of it reads and writes.
    assert Path(f"{path}-shm").exists()
    fresh = store.engine.connect()
    try:
        assert fresh.execute(sa.text("SELECT count(*) FROM ptce")).scalar() == 1
    finally:
        fresh.close()
    saved = store.get("pole")
    assert saved.description == "par un autre processus"
    store.save(dataclasses.replace(saved, nom="Pôle ensuite"), "alice")
    assert store.get("pole").nom == "Pôle ensuite"
    held.close()
    store.engine.dispose()


def test_check_file_keeps_the_locks_of_open_connections(tmp_path):
    store, path, held = _server_like(tmp_path)
    check_file(path)
    _other_process_writes(str(store.engine.url))
    _still_sound(store, path, held)


def test_scheduled_backup_keeps_the_locks_of_open_connections(tmp_path):
    store, path, held = _server_like(tmp_path)
    backup(str(store.engine.url), "planifiee", folder=tmp_path / "sauvegardes")
    _other_process_writes(str(store.engine.url))
    _still_sound(store, path, held)
