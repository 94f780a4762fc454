"""Opening the database safely: present, intact, of a known schema, writable.

:class:`lib.store.ptce.Store` creates or upgrades whatever file it is given. The
command line and the app open the database through :func:`open_store`
instead, which first refuses, with a French message, a file that is damaged
(SQLite's integrity check), that is not SQLite at all, that was written by a
newer version of the atlas, or that is missing where it may not be created.
:func:`writable` tells whether the database accepts writes (a read-only file
or ``mode=ro`` in ``DATABASE_URL``): the app then still shows the data.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote, unquote

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from lib.domain.errors import (
    RESTORE_HINT,
    DatabaseDamaged,
    DatabaseMissing,
    DatabaseReadOnly,
    DatabaseTooNew,
    failure_kind,
)
from lib.store.ptce import (
    SCHEMA_VERSION,
    Store,
    database_url,
    meta,
    schema_version,
)

__all__ = [
    "SQLITE_HEADER",
    "integrity_problem",
    "open_readonly",
    "open_store",
    "read_only_url",
    "require_writable",
    "shown",
    "sqlite_file",
    "writable",
]

#: The first 16 bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: Key written, then rolled back, to learn whether the database accepts writes.
_PROBE = "_sonde_ecriture"


def _flag(value) -> bool:
    if isinstance(value, tuple):  # a repeated query parameter
        value = value[-1]
    return str(value or "").lower() in ("1", "true", "yes", "on")


def sqlite_file(url: str | None = None) -> Path | None:
    """Return the file of an SQLite database URL, or None for other databases.

    Understands both ``sqlite:///chemin`` and the URI form
    ``sqlite:///file:chemin?mode=ro&uri=true``.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; ``DATABASE_URL`` or the default database.

    Returns
    -------
    pathlib.Path or None
        None for PostgreSQL and in-memory databases.
    """
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if _flag(parsed.query.get("uri")) and database.startswith("file:"):
        if parsed.query.get("mode") == "memory":
            return None
        database = unquote(database.removeprefix("file:"))
        if database.startswith("//"):  # file:///absolute/path
            database = database[2:]
    if database in ("", ":memory:"):
        return None
    return Path(database)


def read_only_url(url: str | None = None) -> bool:
    """Tell whether the URL itself asks for read-only access (``mode=ro``).

    Parameters
    ----------
    url : str, optional

    Returns
    -------
    bool
    """
    query = make_url(database_url(url)).query
    return query.get("mode") == "ro" or _flag(query.get("immutable"))


def shown(path: Path) -> str:
    """Return a path as the person wrote it: relative to the current folder."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def open_readonly(path: Path, snapshot: bool = False) -> sqlite3.Connection:
    """Open an SQLite file read-only, whatever characters its name holds.

    The name is percent-encoded in a ``file:`` URI (``?`` and ``#`` would
    otherwise end it, and SQLite would create another, empty, file).

    Parameters
    ----------
    path : pathlib.Path
        An existing file.
    snapshot : bool
        The file is a copy nobody writes (a backup): opened ``immutable``,
        so that not even its ``-wal`` and ``-shm`` companions are created.
        Ignored when a ``-wal`` file is there (its pages are part of the
        data).

    Returns
    -------
    sqlite3.Connection
    """
    uri = f"file:{quote(str(Path(path).absolute()))}?mode=ro"
    if snapshot and not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True)


def integrity_problem(conn: sqlite3.Connection, full: bool = False) -> str | None:
    """Run SQLite's integrity checks; return what is wrong, or None.

    Parameters
    ----------
    conn : sqlite3.Connection
    full : bool
        ``PRAGMA integrity_check`` too (also checks indexes against tables;
        slower) after ``PRAGMA quick_check``.

    Returns
    -------
    str or None
        The first problem SQLite reports (English, for the log only).

    Raises
    ------
    sqlite3.Error
        Anything but damage (a lock, for instance).
    """
    pragmas = ["quick_check(5)", "integrity_check(5)"] if full else ["quick_check(5)"]
    for pragma in pragmas:
        try:
            rows = [r[0] for r in conn.execute(f"PRAGMA {pragma}")]
            if rows != ["ok"]:
                return "; ".join(str(r) for r in rows)
            # Foreign keys are part of the schema's promise too.
            if full and conn.execute("PRAGMA foreign_key_check").fetchone():
                return "foreign_key_check"
        except sqlite3.DatabaseError as exc:
            if failure_kind(exc) == "endommagee":
                return str(exc)
            raise
    return None


def _damaged(name: str, what: str = "est endommagée") -> DatabaseDamaged:
    return DatabaseDamaged(
        f"La base {name} {what} : {RESTORE_HINT}.",
        "La base de données est endommagée : l'atlas ne peut pas la lire. Un "
        "administrateur doit restaurer une sauvegarde sur le serveur avec "
        "`python -m lib.io.cli restore-backup FICHIER` (liste : "
        "`python -m lib.io.cli backups`).",
    )


def check_file(path: Path, full: bool = False) -> None:
    """Refuse a live database file that is not SQLite or is damaged.

    Parameters
    ----------
    path : pathlib.Path
        An existing file (an empty one is a new database: accepted).
    full : bool
        Full integrity check (``init``), not only the quick one.

    Raises
    ------
    lib.domain.errors.DatabaseDamaged
    """
    name = shown(path)
    if not path.stat().st_size:
        return
    # Read through SQLite only, never with open(): closing any descriptor of
    # the file drops every POSIX lock this process holds on it, those of its
    # live connections included, and another process would then take itself
    # for the last one and delete the -wal and -shm in use here. SQLite
    # itself checks the header ("file is not a database").
    conn = open_readonly(path)
    try:
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError as exc:
            if failure_kind(exc) != "endommagee":
                raise
            raise _damaged(
                name, "n'est pas une base SQLite (fichier endommagé ou autre)"
            ) from None
        problem = integrity_problem(conn, full)
    finally:
        conn.close()
    if problem is not None:
        raise _damaged(name)


def open_store(
    url: str | None = None, create: bool = True, full_check: bool = False
) -> Store:
    """Open the database after checking it; create it when missing.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; ``DATABASE_URL`` or ``data/atlas.sqlite`` by default.
    create : bool
        Create a missing SQLite database (``init``, ``import``); otherwise
        a missing file is refused (``export`` of a mistyped path must not
        quietly make an empty database).
    full_check : bool
        Run the full integrity check (slower) instead of the quick one.

    Returns
    -------
    lib.store.ptce.Store
        Upgraded to the current schema.

    Raises
    ------
    lib.domain.errors.DatabaseMissing, lib.domain.errors.DatabaseDamaged,
    lib.domain.errors.DatabaseTooNew
        With a French message (:func:`lib.domain.errors.explain`); other failures
        (locked, read-only, disk full) are SQLAlchemy's, which
        :func:`lib.domain.errors.explain` translates as well.
    """
    url = database_url(url)
    path = sqlite_file(url)
    if path is not None:
        name = shown(path)
        if path.is_dir():
            raise DatabaseMissing(
                f"{name} est un dossier, pas une base de données : corrigez "
                "DATABASE_URL.",
                "La base de données indiquée par DATABASE_URL est un dossier : "
                "un administrateur doit corriger ce réglage sur le serveur.",
            )
        if path.is_file():
            check_file(path, full_check)
        elif not create or read_only_url(url):
            raise DatabaseMissing(
                f"La base de données {name} n'existe pas : créez-la avec "
                "`python -m lib.io.cli init` (ou importez des données), ou "
                "corrigez DATABASE_URL.",
                "La base de données est introuvable : un administrateur doit la "
                "créer sur le serveur avec `python -m lib.io.cli init`, ou "
                "corriger DATABASE_URL.",
            )
    store = Store(url)
    with store.engine.connect() as conn:
        version = schema_version(conn)
    if version > SCHEMA_VERSION:
        store.engine.dispose()
        raise DatabaseTooNew(
            f"La base de données a été écrite par une version plus récente de "
            f"l'atlas (schéma {version}, cette version connaît le "
            f"{SCHEMA_VERSION}) : mettez l'application à jour.",
        )
    return store


def writable(store: Store) -> bool:
    """Tell whether the database accepts writes.

    A row is inserted and rolled back: only the database can tell (a
    ``mode=ro`` URL, a read-only file, a PostgreSQL standby). A busy
    database counts as writable (its writes will wait or explain).

    Parameters
    ----------
    store : lib.store.ptce.Store

    Returns
    -------
    bool
    """
    try:
        with store.engine.connect() as conn:
            # Do not wait 5 s behind a running import just to ask.
            raw = (
                conn.connection.driver_connection
                if conn.dialect.name == "sqlite"
                else None
            )
            if raw is not None:
                raw.execute("PRAGMA busy_timeout=200")
            try:
                conn.execute(sa.insert(meta).values(cle=_PROBE, valeur="?"))
            finally:
                conn.rollback()
                if raw is not None:
                    raw.execute("PRAGMA busy_timeout=5000")
    except sa.exc.DBAPIError as exc:
        kind = failure_kind(exc)
        if kind == "lecture-seule":
            return False
        if kind in ("verrouillee", "disque-plein") or isinstance(
            exc, sa.exc.IntegrityError
        ):
            return True
        raise
    return True


def require_writable(store: Store) -> None:
    """Refuse, in French, to go on with a database that cannot be written.

    Parameters
    ----------
    store : lib.store.ptce.Store

    Raises
    ------
    lib.domain.errors.DatabaseReadOnly
    """
    if not writable(store):
        raise DatabaseReadOnly(
            "La base de données est en lecture seule : elle n'a pas été "
            "modifiée. Pour écrire, rendez le fichier de la base et son "
            "dossier accessibles en écriture (ou retirez mode=ro de "
            "DATABASE_URL), puis recommencez.",
            "La base de données est en lecture seule : la consultation reste "
            "possible, mais rien ne peut être modifié. Demandez à "
            "l'administrateur du serveur de la rendre accessible en écriture.",
        )
