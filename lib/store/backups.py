"""Consistent backups of the SQLite database, and their checked restore.

Backups use SQLite's online backup API: the copy is a consistent snapshot even
while the app reads and writes, which copying the file (and its ``-wal``)
would not guarantee. A damaged database is never backed up (its copy would
push good backups out).

Kinds of backup, in the file name ``atlas-<UTC time>-<kind>.sqlite``:

- ``manuelle`` (``python -m lib.io.cli backup``): never deleted by the atlas;
- automatic ones, ``avant-import`` (once an import has been validated, right
  before it is applied), ``planifiee`` (in the app, when the last backup is
  older than ``PTCE_BACKUP_HOURS``, 24 by default) and
  ``avant-restauration``: the last :data:`KEEP` of each kind are kept;
- ``endommagee``: a damaged database set aside, as it was, by a restore.

:func:`restore` checks the file before it replaces anything: an SQLite file,
intact (``PRAGMA quick_check`` and ``integrity_check``), of a schema version
this atlas knows, with exactly the tables and columns that version has. It
backs up the current state first, so a restore can itself be undone.

PostgreSQL deployments back up with the server's own tools (``pg_dump``);
these functions then raise :class:`BackupUnsupported` with a French message.
"""

# size: backups, their kinds and rotation, and the checked restore (schema version,
# tables and columns per version) with its safety copy; 20 functions.

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import shutil
import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from lib.domain.errors import AtlasError, DatabaseDamaged, DatabaseMissing
from lib.store.database import (
    SQLITE_HEADER,
    check_file,
    integrity_problem,
    open_readonly,
    require_writable,
    shown,
    sqlite_file,
)
from lib.store.ptce import (
    SCHEMA_VERSION,
    Store,
    database_url,
    migrate,
    new_data_epoch,
)

__all__ = [
    "AUTOMATIC",
    "DAMAGED",
    "KEEP",
    "MANUAL",
    "BackupNotFound",
    "BackupRefused",
    "BackupUnsupported",
    "backup",
    "backup_dir",
    "backup_if_due",
    "check_backup",
    "last_backup_time",
    "list_backups",
    "restore",
    "sqlite_path",
]

#: Automatic backups kept per kind; older ones are deleted.
KEEP = 30
#: The kind of backups asked for by a person: never deleted.
MANUAL = "manuelle"
#: The kinds the atlas takes by itself (each rotated on its own).
AUTOMATIC = ("avant-import", "planifiee", "avant-restauration")
#: A damaged database set aside by :func:`restore`.
DAMAGED = "endommagee"
_NAME = re.compile(r"^atlas-(\d{8}T\d{6}\d{6})-([a-z0-9-]+)\.sqlite$")
_LOCK = threading.Lock()
_LIST_HINT = "(liste : `python -m lib.io.cli backups`)"


class BackupUnsupported(AtlasError, RuntimeError):
    """The database is not a SQLite file (message in French)."""


class BackupRefused(AtlasError, ValueError):
    """A file that must not replace the database (message in French)."""


class BackupNotFound(AtlasError, FileNotFoundError):
    """No such backup file (message in French)."""


def backup_dir(url: str | None = None) -> Path:
    """Return the backup folder of a database.

    Parameters
    ----------
    url : str, optional
        Database URL (``DATABASE_URL`` by default).

    Returns
    -------
    pathlib.Path
        ``PTCE_BACKUP_DIR``, or ``backups/`` beside the database file
        (``data/backups`` for the default database).
    """
    if os.environ.get("PTCE_BACKUP_DIR"):
        return Path(os.environ["PTCE_BACKUP_DIR"])
    return sqlite_path(url).parent / "backups"


def sqlite_path(url: str | None = None) -> Path:
    """Return the file of a SQLite database URL.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; ``DATABASE_URL`` or the default database. The URI
        form (``sqlite:///file:chemin?mode=ro&uri=true``) is understood.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    BackupUnsupported
        Not a SQLite file database.
    """
    path = sqlite_file(url)
    if path is None:
        raise BackupUnsupported(
            "Sauvegarde intégrée réservée à SQLite : pour PostgreSQL, utilisez "
            "pg_dump et pg_restore."
        )
    return path


def _live_uri(url: str | None) -> str:
    """Return a ``file:`` URI of the live database keeping the URL's options.

    ``mode=ro`` in ``DATABASE_URL`` then makes SQLite itself refuse a restore.
    """
    parsed = make_url(database_url(url))
    options = {k: v for k, v in parsed.query.items() if k != "uri"}
    query = "&".join(
        f"{quote(k)}={quote(str(v[-1] if isinstance(v, tuple) else v))}"
        for k, v in options.items()
    )
    uri = f"file:{quote(str(sqlite_path(url).absolute()))}"
    return f"{uri}?{query}" if query else uri


def _copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    # Page-by-page copy in one read transaction of the source and one write
    # transaction of the target: a consistent snapshot, all or nothing.
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()


def _remove(path: Path) -> None:
    for companion in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{companion}").unlink(missing_ok=True)


def _parts(path: Path) -> re.Match[str]:
    # The stamp (group 1) and kind (group 2) of a backup's file name.
    m = _NAME.match(path.name)
    if m is None:
        raise ValueError(f"{path.name} n'est pas un nom de sauvegarde")
    return m


def _kind(path: Path) -> str:
    return _parts(path).group(2)


def _new_name(folder: Path, tag: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    return folder / f"atlas-{stamp}-{tag}.sqlite"


def backup(
    url: str | None = None,
    reason: str = MANUAL,
    folder: Path | None = None,
    keep: int = KEEP,
) -> Path:
    """Write a consistent copy of the database; return its path.

    Parameters
    ----------
    url : str, optional
        Database URL (``DATABASE_URL`` by default).
    reason : str
        The kind of backup, in the file name: :data:`MANUAL` (never
        deleted), or an automatic kind (``avant-import``, ``planifiee``…).
    folder : pathlib.Path, optional
        Where to write (:func:`backup_dir` by default).
    keep : int
        Backups of the same kind kept in the folder; the oldest beyond are
        deleted. Manual backups are never deleted.

    Returns
    -------
    pathlib.Path
        ``atlas-<UTC timestamp>-<kind>.sqlite``.

    Raises
    ------
    lib.domain.errors.DatabaseMissing, lib.domain.errors.DatabaseDamaged
        Nothing to back up, or a damaged database (its copy is worthless).
    """
    source = sqlite_path(url)
    if not source.is_file():
        raise DatabaseMissing(
            f"Rien à sauvegarder : la base de données {shown(source)} n'existe pas.",
            "Rien à sauvegarder : la base de données n'existe pas.",
        )
    check_file(source)
    folder = folder or backup_dir(url)
    folder.mkdir(parents=True, exist_ok=True)
    tag = re.sub(r"[^a-z0-9-]+", "-", reason.lower()).strip("-")[:40] or "sauvegarde"
    with _LOCK:
        target = _new_name(folder, tag)
        partial = target.with_suffix(".partial")
        try:
            _copy(open_readonly(source), sqlite3.connect(partial))
            partial.replace(target)  # never a half-written backup under its name
        except BaseException:
            _remove(partial)  # a full disk must not keep a useless half copy
            raise
        if tag != MANUAL:
            same = [p for p in list_backups(folder) if _kind(p) == tag]
            for old in same[keep:]:
                old.unlink(missing_ok=True)
    return target


def list_backups(folder: Path | None = None, url: str | None = None) -> list[Path]:
    """Return the backups of a folder, newest first.

    Parameters
    ----------
    folder : pathlib.Path, optional
        :func:`backup_dir` of ``url`` by default.
    url : str, optional
        Database URL (``DATABASE_URL`` by default).

    Returns
    -------
    list of pathlib.Path
    """
    folder = folder or backup_dir(url)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _NAME.match(p.name)]
    return sorted(found, key=lambda p: _parts(p).group(1), reverse=True)


def last_backup_time(
    folder: Path | None = None, url: str | None = None
) -> dt.datetime | None:
    """Return when the newest backup was taken (UTC), or None.

    A damaged database set aside by a restore is not a backup.

    Parameters
    ----------
    folder : pathlib.Path, optional
    url : str, optional

    Returns
    -------
    datetime.datetime or None
    """
    backups = [p for p in list_backups(folder, url) if _kind(p) != DAMAGED]
    if not backups:
        return None
    stamp = _parts(backups[0]).group(1)
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S%f").replace(tzinfo=dt.UTC)


def backup_if_due(
    url: str | None = None,
    folder: Path | None = None,
    every: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> Path | None:
    """Back up when the newest backup is older than ``every``.

    Parameters
    ----------
    url : str, optional
    folder : pathlib.Path, optional
    every : datetime.timedelta, optional
        ``PTCE_BACKUP_HOURS`` hours (24 by default).
    now : datetime.datetime, optional
        The current time (tests).

    Returns
    -------
    pathlib.Path or None
        The new backup, or None when none was due (or not SQLite).
    """
    if every is None:
        every = dt.timedelta(hours=float(os.environ.get("PTCE_BACKUP_HOURS", "24")))
    now = now or dt.datetime.now(dt.UTC)
    try:
        last = last_backup_time(folder, url)
        if last is not None and now - last < every:
            return None
        return backup(url, "planifiee", folder)
    except BackupUnsupported:
        return None


# -- checking a file before it replaces the database --------------------------


def _objects(conn: sqlite3.Connection) -> dict[str, frozenset[str]]:
    """Return the tables (with their columns), views and triggers of a file."""
    found: dict[str, frozenset[str]] = {}
    for kind, name in conn.execute(
        "SELECT type, name FROM sqlite_master "
        "WHERE type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite_%'"
    ).fetchall():
        if kind == "table":
            quoted = '"' + name.replace('"', '""') + '"'
            columns = frozenset(
                r[1] for r in conn.execute(f"PRAGMA table_info({quoted})")
            )
            found[name] = columns
        else:
            found[f"{kind} {name}"] = frozenset()
    return found


@functools.cache
def _expected(version: int) -> dict[str, frozenset[str]]:
    """Return the tables and columns of an atlas database at ``version``.

    Built by running the migrations themselves in memory: always exactly
    what this code would have written.
    """
    engine = sa.create_engine("sqlite://")
    try:
        migrate(engine, version)
        raw = engine.raw_connection()
        try:
            assert raw.driver_connection is not None  # a fresh, valid connection
            return _objects(raw.driver_connection)
        finally:
            raw.close()
    finally:
        engine.dispose()


def _refused(name: str, why: str) -> BackupRefused:
    return BackupRefused(
        f"{name} {why} : la base n'a pas été modifiée. Choisissez une autre "
        f"sauvegarde {_LIST_HINT}."
    )


def _differences(found: dict, wanted: dict) -> str:
    parts = []
    missing = sorted(set(wanted) - set(found))
    extra = sorted(set(found) - set(wanted))
    if missing:
        parts.append("manque " + ", ".join(missing))
    if extra:
        parts.append("en trop " + ", ".join(extra))
    for table in sorted(set(found) & set(wanted)):
        lacking = sorted(wanted[table] - found[table])
        added = sorted(found[table] - wanted[table])
        if lacking:
            parts.append(f"{table} sans " + ", ".join(lacking))
        if added:
            parts.append(f"{table} avec en trop " + ", ".join(added))
    text = " ; ".join(parts)
    return text if len(text) <= 300 else text[:297] + "…"


def check_backup(path: Path) -> int:
    """Check that a file may replace the database; return its schema version.

    Nothing is created or changed, even beside the file (it is opened
    read-only, ``immutable`` when it has no ``-wal``, by a quoted ``file:``
    URI whatever characters its name holds).

    Parameters
    ----------
    path : pathlib.Path
        A backup written by :func:`backup` (or another atlas database).

    Returns
    -------
    int
        Its schema version (at most :data:`lib.store.ptce.SCHEMA_VERSION`).

    Raises
    ------
    BackupNotFound
        No such file.
    BackupRefused
        Not SQLite, damaged, of a newer or unknown schema, or with other
        tables or columns than an atlas database of its version.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise BackupNotFound(
            f"Sauvegarde introuvable : {path}. Vérifiez le chemin {_LIST_HINT}."
        )
    with path.open("rb") as f:
        head = f.read(len(SQLITE_HEADER))
    if head != SQLITE_HEADER:
        raise _refused(name, "n'est pas une base SQLite lisible")
    try:
        conn = open_readonly(path, snapshot=True)
        try:
            problem = integrity_problem(conn, full=True)
            if problem is not None:
                raise _refused(name, "est endommagée (contrôle d'intégrité)")
            objects = _objects(conn)
            version = None
            if "meta" in objects:
                value = conn.execute(
                    "SELECT valeur FROM meta WHERE cle = 'schema_version'"
                ).fetchone()
                version = value[0] if value else None
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise _refused(name, "n'est pas une base SQLite lisible") from exc
    if not {"meta", "ptce"} <= set(objects):
        raise _refused(name, "n'est pas une base de l'atlas des PTCE")
    try:
        version = int(str(version))
    except ValueError:
        raise _refused(
            name, "n'est pas une base de l'atlas des PTCE (version du schéma absente)"
        ) from None
    if version > SCHEMA_VERSION:
        raise BackupRefused(
            f"{name} vient d'une version plus récente de l'atlas (schéma "
            f"{version}, celle-ci connaît le {SCHEMA_VERSION}) : la base n'a pas "
            "été modifiée. Mettez l'application à jour avant de la restaurer."
        )
    if version < 1:
        raise _refused(
            name, f"n'est pas une base de l'atlas des PTCE (schéma {version})"
        )
    differences = _differences(objects, _expected(version))
    if differences:
        raise _refused(
            name,
            f"n'est pas une base de l'atlas des PTCE (schéma {version} : "
            f"{differences})",
        )
    return version


# -- restore ------------------------------------------------------------------


def _set_aside(target: Path, folder: Path) -> Path:
    """Copy a damaged database as it is (file and ``-wal``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    aside = _new_name(folder, DAMAGED)
    try:
        shutil.copyfile(target, aside)
        wal = Path(f"{target}-wal")
        if wal.is_file() and wal.stat().st_size:
            shutil.copyfile(wal, f"{aside}-wal")
    except BaseException:
        _remove(aside)
        raise
    return aside


def _live_state(target: Path) -> str:
    """Return ``absente``, ``saine`` or ``endommagee`` for the live file."""
    if not target.is_file() or target.stat().st_size == 0:
        return "absente"
    try:
        check_file(target)
    except DatabaseDamaged:
        return "endommagee"
    return "saine"


# size: 30-line numpy docstring; the two ways to replace the database
# (healthy: online copy; damaged or missing: set aside, swap the file).
def restore(
    backup_file: Path, url: str | None = None, folder: Path | None = None
) -> Path | None:
    """Replace the database's content with a backup's, in one step.

    The backup is checked first (:func:`check_backup`): a refused file
    changes nothing. A healthy database is backed up (``avant-restauration``)
    and overwritten through SQLite's backup API, in one transaction that
    running apps see at once. A damaged one is set aside as it is
    (``endommagee``) and its file replaced (restart the app afterwards).

    Parameters
    ----------
    backup_file : pathlib.Path
        A file written by :func:`backup`.
    url : str, optional
        Database URL (``DATABASE_URL`` by default).
    folder : pathlib.Path, optional
        Where the safety copy goes (:func:`backup_dir` by default).

    Returns
    -------
    pathlib.Path or None
        The copy of the state before the restore (None when there was no
        database).

    Raises
    ------
    BackupNotFound
        No such backup.
    BackupRefused
        The file must not replace the database (see :func:`check_backup`).
    """
    backup_file = Path(backup_file)
    check_backup(backup_file)
    target = sqlite_path(url)
    if target.exists() and backup_file.resolve() == target.resolve():
        raise BackupRefused(
            f"{backup_file.name} est la base de données elle-même : choisissez "
            f"une sauvegarde {_LIST_HINT}."
        )
    folder = folder or backup_dir(url)
    state = _live_state(target)
    safety = None
    if state == "saine":
        # A read-only database would refuse the copy: say so before writing
        # a safety backup for nothing.
        live = Store(database_url(url))
        try:
            require_writable(live)
        finally:
            live.engine.dispose()
        safety = backup(url, "avant-restauration", folder)
        _copy(
            open_readonly(backup_file, snapshot=True),
            sqlite3.connect(_live_uri(url), uri=True),
        )
    else:
        if state == "endommagee":
            safety = _set_aside(target, folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        fresh = target.with_name(f".{target.name}.restauration")
        _remove(fresh)
        try:
            _copy(open_readonly(backup_file, snapshot=True), sqlite3.connect(fresh))
            # The old -wal and -shm belong to the old content: replayed onto
            # the new file they would damage it.
            for companion in ("-wal", "-shm", "-journal"):
                Path(f"{target}{companion}").unlink(missing_ok=True)
            fresh.replace(target)
        except BaseException:
            _remove(fresh)
            raise
    # The backup's data version counter may repeat numbers already used for
    # other contents since: a new epoch keeps caches from mixing them up. An
    # older backup is upgraded to the current schema on the way.
    store = Store(database_url(url))
    try:
        with store.engine.begin() as conn:
            new_data_epoch(conn)
    finally:
        store.engine.dispose()
    return safety
