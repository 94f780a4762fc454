"""One error path: every failure ends in a French sentence saying what to do.

The command line (``python -m lib.io.cli``) and the app on a locked, read-only,
full, damaged or missing database: exit code, French message, no traceback,
no server path in the app, and the database left as it was. Each condition
is real where SQLite allows it as root: a second process holding the lock,
``mode=ro`` in ``DATABASE_URL``, ``PRAGMA max_page_count`` for a full disk
(and ``/dev/full`` for a file), bytes overwritten in the file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from lib.domain.errors import RESTORE_HINT, explain, failure_kind
from tests.conftest import ROOT

TIMEOUT = 60

# -- databases in every condition ----------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A demo database in one file (checkpointed, no -wal), copied per test."""
    from lib.io.demo import install_demo
    from lib.store.ptce import Store

    path = tmp_path_factory.mktemp("modele") / "atlas.sqlite"
    store = Store(f"sqlite:///{path}")
    install_demo(store)
    store.engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def _copy_db(template: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "atlas.sqlite"
    shutil.copyfile(template, path)
    return path


def _damage(path: Path) -> None:
    # Garbage over pages 3 to 8: tables and indexes, not the header.
    with path.open("r+b") as f:
        f.seek(4096 * 2)
        f.write(b"\xde\xad\xbe\xef" * 1024 * 6)


def _fingerprint(path: Path) -> dict[str, str]:
    """Hash the database file and its -wal (the whole state on disk)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.parent.glob(f"{path.name}*"))
        # The -shm is the readers' shared index, and an empty -wal holds
        # nothing: opening a database may create both.
        if not p.name.endswith("-shm") and p.stat().st_size
    }


def _first_id(template: Path) -> str:
    conn = sqlite3.connect(f"file:{template}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT id FROM ptce ORDER BY id LIMIT 1").fetchone()[0]
    finally:
        conn.close()


#: Holds the database locked for the test: ``locking_mode=EXCLUSIVE`` and an
#: open write transaction keep every other connection out, readers included.
HOLD = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode=EXCLUSIVE")
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO meta VALUES ('verrou', 'test')")
print("verrouillée", flush=True)
time.sleep(600)
"""

#: Runs the CLI on a full disk: every SQLite connection may not grow its
#: file (``max_page_count`` = its current size), as when the disk is full.
FULL_DISK = """
import sqlite3, sqlite3.dbapi2, sys
_connect = sqlite3.connect
def connect(*args, **kwargs):
    conn = _connect(*args, **kwargs)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
    return conn
sqlite3.connect = sqlite3.dbapi2.connect = connect
from lib.io.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def _lock(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "verrouillée"
    return proc


def _import_file(folder: Path) -> Path:
    path = folder / "nouveau.csv"
    path.write_text("identifiant;nom;commune\nnouveau-ptce;Nouveau PTCE;44003\n")
    return path


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "PTCE_LOG_DIR": str(tmp_path / "log")}
    env.pop("PTCE_BACKUP_DIR", None)
    return env


def _start(args: list[str], url: str, tmp_path: Path, full_disk: bool = False):
    head = ["-c", FULL_DISK] if full_disk else ["-m", "lib.io.cli"]
    return subprocess.Popen(
        [sys.executable, *head, *args],
        cwd=ROOT,
        env=_env(url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


#: condition → (French words of its message, exit code by command).
EXPECTED = {
    "verrouillée": (
        "occupée",
        {"init": 1, "import": 1, "export": 1, "backup": 1, "history": 1},
    ),
    "lecture seule": (
        "lecture seule",
        # Reading works: only the import must be refused.
        {"init": 0, "import": 1, "export": 0, "backup": 0, "history": 0},
    ),
    "disque plein": (
        "disque est plein",
        {"init": 0, "import": 1, "export": 0, "backup": 1, "history": 0},
    ),
    "endommagée": (
        "endommagée",
        {"init": 1, "import": 1, "export": 1, "backup": 1, "history": 1},
    ),
    "absente": (
        "n'existe pas",
        # init creates the database, import too (as it always did).
        {"init": 0, "import": 0, "export": 1, "backup": 1, "history": 1},
    ),
}


@pytest.mark.parametrize("condition", list(EXPECTED))
def test_cli_on_a_database_in_trouble_answers_in_french(template, tmp_path, condition):
    words, codes = EXPECTED[condition]
    pid = _first_id(template)
    runs, holders, dbs = {}, [], {}
    for command in codes:
        folder = tmp_path / command
        path = _copy_db(template, folder)
        url = f"sqlite:///{path}"
        if condition == "lecture seule":
            url = f"sqlite:///file:{path}?mode=ro&uri=true"
        elif condition == "endommagée":
            _damage(path)
        elif condition == "absente":
            path.unlink()
        elif condition == "verrouillée":
            holders.append(_lock(path))
        dbs[command] = (path, _fingerprint(path) if path.exists() else {})
        args = {
            "init": ["init"],
            "import": ["import", str(_import_file(folder))],
            "export": ["export", "--format", "csv"],
            "backup": ["backup"],
            "history": ["history", pid],
        }[command]
        runs[command] = _start(args, url, tmp_path, condition == "disque plein")
    try:
        results = {c: p.communicate(timeout=120) for c, p in runs.items()}
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()
    for command, (out, err) in results.items():
        code = runs[command].returncode
        assert code == codes[command], (command, code, out[-500:], err)
        assert "Traceback" not in out + err, (command, err)
        path, before = dbs[command]
        if code:
            (line,) = err.strip().splitlines()[-1:]
            assert line.startswith("Erreur : "), (command, err)
            assert words in line, (command, line)
            assert "inattendue" not in line
            # Refused: the database is byte for byte what it was (or absent).
            assert _fingerprint(path) == before if before else not path.exists()
    if condition == "endommagée":
        assert RESTORE_HINT in results["init"][1]
    if condition == "absente":
        assert "Nouveau PTCE" in _dump(dbs["import"][0])
        assert not (tmp_path / "backup" / "backups").exists()


def _dump(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_cli_export_to_a_full_disk_names_the_file(template, tmp_path):
    url = f"sqlite:///{_copy_db(template, tmp_path / 'db')}"
    proc = _start(["export", "-o", "/dev/full"], url, tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in out + err
    assert err.strip() == (
        "Erreur : Impossible d'écrire « /dev/full » : le disque est plein. "
        "Libérez de la place, puis recommencez."
    )


def test_init_refuses_a_damaged_database_instead_of_saying_ready(template, tmp_path):
    path = _copy_db(template, tmp_path)
    _damage(path)
    proc = _start(["init"], f"sqlite:///{path}", tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "Base prête" not in out
    assert f"est endommagée : {RESTORE_HINT}." in err


def test_cli_on_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "atlas.sqlite"
    path.write_bytes(b"ceci n'est pas une base" * 100)
    before = path.read_bytes()
    for args in (["init"], ["export"], ["history", "x"]):
        proc = _start(args, f"sqlite:///{path}", tmp_path)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, args
        assert "Traceback" not in out + err
        assert "n'est pas une base SQLite" in err and "restore-backup" in err
    assert path.read_bytes() == before


def test_cli_unexpected_failure_logs_the_traceback_not_the_screen(
    template, tmp_path, monkeypatch, capsys
):
    from lib.io import cli as data

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{_copy_db(template, tmp_path)}")
    monkeypatch.setenv("PTCE_LOG_DIR", str(tmp_path / "journal"))

    def broken(args):
        raise RuntimeError("détail interne secret")

    monkeypatch.setattr(data, "_history", broken)
    assert data.main(["history", "x"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "secret" not in out + err
    assert err.startswith("Erreur : Une erreur inattendue est survenue (RuntimeError)")
    (log,) = (tmp_path / "journal").iterdir()
    assert str(log) in err
    text = log.read_text()
    assert "Traceback" in text and "détail interne secret" in text


# -- explain: real failures, translated -----------------------------------------


def _real(kind: str, tmp_path: Path) -> BaseException:
    """Provoke a real SQLite or OS failure of a kind; return it."""
    path = tmp_path / f"{kind}.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    try:
        if kind == "verrouillee":
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                sqlite3.connect(path, timeout=0).execute("SELECT * FROM t").fetchall()
            finally:
                holder.close()
        elif kind == "lecture-seule":
            ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            ro.execute("INSERT INTO t VALUES (1)")
        elif kind == "disque-plein":
            full = sqlite3.connect(path)
            full.execute("PRAGMA max_page_count = 2")
            full.execute("INSERT INTO t VALUES (zeroblob(100000))")
        elif kind == "endommagee":
            path.write_bytes(b"x" * 4096)
            sqlite3.connect(path).execute("SELECT * FROM t")
        elif kind == "inaccessible":
            missing = tmp_path / "absent" / "base.sqlite"
            sqlite3.connect(f"file:{missing}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return exc
    raise AssertionError(f"no failure for {kind}")


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("verrouillee", "occupée"),
        ("lecture-seule", "lecture seule"),
        ("disque-plein", "disque"),
        ("endommagee", "endommagée"),
        ("inaccessible", "introuvable ou inaccessible"),
    ],
)
@pytest.mark.parametrize("wrapped", [False, True])
def test_explain_real_sqlite_failures(tmp_path, kind, words, wrapped):
    exc = _real(kind, tmp_path)
    if wrapped:  # as SQLAlchemy raises it, with the SQL statement
        exc = sa.exc.OperationalError("SELECT secret FROM t", {}, exc)
    assert failure_kind(exc) == kind
    for for_app in (False, True):
        message = explain(exc, for_app=for_app, ref="abc")
        assert words in message
        assert "secret" not in message and "SELECT" not in message
        assert str(tmp_path) not in message
        assert "inattendue" not in message


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "disque est plein"),
        (errno.EROFS, "lecture seule"),
        (errno.EACCES, "Accès refusé"),
        (errno.ENOENT, "introuvable"),
    ],
)
def test_explain_file_errors_names_the_file_only_on_the_command_line(code, words):
    exc = OSError(code, os.strerror(code), "/srv/atlas/export.csv")
    cli = explain(exc)
    assert words in cli and "« /srv/atlas/export.csv »" in cli
    app = explain(exc, for_app=True)
    assert "/srv" not in app and os.strerror(code) not in app


def test_explain_unexpected_gives_a_reference_not_the_text():
    exc = ValueError("internal detail /srv/atlas")
    message = explain(exc, for_app=True, ref="1234abcd")
    assert "erreur inattendue" in message and "1234abcd" in message
    assert "internal" not in message and "/srv" not in message


def test_explain_keeps_french_messages_of_lib():
    from lib.store.ptce import ConflictError

    assert explain(ConflictError("Ce PTCE a changé.")) == "Ce PTCE a changé."


# -- the app -------------------------------------------------------------------


def _texts(at: AppTest) -> str:
    parts = []
    for kind in (
        "error",
        "warning",
        "info",
        "success",
        "markdown",
        "caption",
        "title",
        "header",
        "subheader",
        "text",
        "exception",
    ):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "value", element)))
    return "\n".join(parts)


def _app(monkeypatch, url: str, script: str | None = None) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    if script is None:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    else:
        at = AppTest.from_string(script, default_timeout=TIMEOUT)
    return at.run()


def _assert_clean(at: AppTest, tmp_path: Path) -> str:
    assert not at.exception
    text = _texts(at)
    assert "Traceback" not in text
    assert "erreur inattendue" not in text.lower()
    assert str(tmp_path) not in text and "/tmp" not in text
    return text


def test_app_on_a_read_only_database_shows_the_data(
    built_cache, template, tmp_path, monkeypatch
):
    from lib.io.demo import load_demo_file

    path = _copy_db(template, tmp_path)
    before = _fingerprint(path)
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    at = _app(monkeypatch, url)
    text = _assert_clean(at, tmp_path)
    assert not at.error
    assert any("lecture seule" in w.value for w in at.warning)
    demo = load_demo_file()[0]
    assert f"{len(demo)} PTCE" in text
    # The directory lists every PTCE.
    at = _app(
        monkeypatch,
        url,
        "from views.filters import filters_sidebar\n"
        "from views import annuaire, database_notice\n"
        "database_notice()\n"
        "filters_sidebar()\n"
        "annuaire.render()\n",
    )
    _assert_clean(at, tmp_path)
    table = at.dataframe[0].value.to_string()
    assert all(p.nom[:20] in table for p in demo[:5])
    assert _fingerprint(path) == before


def test_editing_pages_on_a_read_only_database_offer_no_write(
    built_cache, template, tmp_path, monkeypatch
):
    path = _copy_db(template, tmp_path)
    before = _fingerprint(path)
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    at = _app(monkeypatch, url, "from views import donnees\ndonnees.render()\n")
    text = _assert_clean(at, tmp_path)
    assert "accessible en écriture" in text
    assert not at.text_input and not at.button  # no sign-in form to fail
    at = _app(
        monkeypatch,
        url,
        "from views import USER_KEY, presentation\n"
        "from lib.store.accounts import User\n"
        "import streamlit as st\n"
        "st.session_state[USER_KEY] = User('alice', 'Alice', 'éditeur')\n"
        "presentation.render()\n",
    )
    text = _assert_clean(at, tmp_path)
    assert "lecture seule" in text
    editing = {"pres_add", "pres_take", "pres_up", "pres_down", "pres_del"}
    assert not [b for b in at.button if b.key in editing]
    assert not [f for f in at.text_input if f.key == "pres_new"]
    assert _fingerprint(path) == before


@pytest.mark.parametrize("damage", ["pages", "entête"])
def test_app_on_a_damaged_database_explains_how_to_restore(
    built_cache, template, tmp_path, monkeypatch, damage
):
    path = _copy_db(template, tmp_path)
    if damage == "pages":
        _damage(path)
    else:
        path.write_bytes(b"plus une base" * 1000)
    before = _fingerprint(path)
    at = _app(monkeypatch, f"sqlite:///{path}")
    _assert_clean(at, tmp_path)
    (error,) = at.error
    assert "endommagée" in error.value
    assert "python -m lib.io.cli restore-backup FICHIER" in error.value
    assert _fingerprint(path) == before


def test_app_on_a_missing_database_creates_it(built_cache, tmp_path, monkeypatch):
    path = tmp_path / "nouvelle" / "atlas.sqlite"
    at = _app(monkeypatch, f"sqlite:///{path}")
    text = _assert_clean(at, tmp_path)
    assert not at.error
    assert "aucun PTCE" in text
    assert path.is_file()


def test_app_on_a_missing_database_it_may_not_create_says_how(
    built_cache, tmp_path, monkeypatch
):
    path = tmp_path / "absente.sqlite"
    at = _app(monkeypatch, f"sqlite:///file:{path}?mode=ro&uri=true")
    _assert_clean(at, tmp_path)
    (error,) = at.error
    assert "introuvable" in error.value and "python -m lib.io.cli init" in error.value
    assert not path.exists()


def test_app_on_a_locked_database_says_to_retry(
    built_cache, template, tmp_path, monkeypatch
):
    path = _copy_db(template, tmp_path)
    holder = _lock(path)
    try:
        start = time.monotonic()
        at = _app(monkeypatch, f"sqlite:///{path}")
        assert time.monotonic() - start < TIMEOUT
    finally:
        holder.kill()
        holder.wait()
    _assert_clean(at, tmp_path)
    (error,) = at.error
    assert "occupée" in error.value and "réessayez" in error.value


def test_app_import_on_a_read_only_database_takes_no_backup(template, tmp_path):
    from lib.domain.errors import DatabaseReadOnly
    from lib.io.editing import import_upload
    from lib.store.accounts import User
    from lib.store.database import open_store

    path = _copy_db(template, tmp_path)
    before = _fingerprint(path)
    store = open_store(f"sqlite:///file:{path}?mode=ro&uri=true")
    content = b"nom;commune\r\nPTCE nouveau;44109\r\n"
    with pytest.raises(DatabaseReadOnly):
        import_upload(
            [("nouveau.csv", content)],
            store,
            User("alice", "Alice", "éditeur"),
            dry_run=False,
        )
    assert not (tmp_path / "backups").exists() or not any(
        (tmp_path / "backups").iterdir()
    )
    assert _fingerprint(path) == before


@pytest.mark.parametrize(
    ("module", "args", "words"),
    [
        ("lib.io.cli", ["frobnicate"], "argument COMMANDE : choix impossible"),
        ("lib.io.cli", ["import"], "arguments obligatoires : FICHIER"),
        ("lib.io.cli", ["export", "--format", "pdf"], "argument --format : choix"),
        ("lib.io.cli", ["export", "--bogus"], "arguments inconnus : --bogus"),
        ("geo", ["lookup"], "arguments obligatoires : CODE"),
    ],
)
def test_cli_usage_errors_are_french(module, args, words):
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("utilisation : ")
    assert f"Erreur : {words}" in proc.stderr
    for english in ("usage:", "error:", "the following", "invalid", "choose"):
        assert english not in proc.stderr


def test_cli_help_is_french():
    proc = subprocess.run(
        [sys.executable, "-m", "lib.io.cli", "export", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert "afficher cette aide" in proc.stdout and "-o FICHIER" in proc.stdout
    for english in ("usage:", "show this help", "positional arguments", "OUTPUT"):
        assert english not in proc.stdout
