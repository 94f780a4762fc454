"""Consistent backups of the SQLite database, and their restore.

Backups use SQLite's online backup API: the copy is a consistent snapshot even
while the app reads and writes, which copying the file (and its ``-wal``)
would not guarantee. One is taken before every import and, in the app, when
the last one is older than ``PTCE_BACKUP_HOURS`` (24 by default). Restoring
first backs up the current state, so a restore can itself be undone.

PostgreSQL deployments back up with the server's own tools (``pg_dump``);
these functions then raise :class:`BackupUnsupported` with a French message.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import threading
from pathlib import Path

from sqlalchemy.engine import make_url

from lib.store import database_url

#: Backups kept per folder; older ones are deleted.
KEEP = 30
_NAME = re.compile(r"^atlas-(\d{8}T\d{6}\d{6})-([a-z0-9-]+)\.sqlite$")
_LOCK = threading.Lock()


class BackupUnsupported(RuntimeError):
    """The database is not a SQLite file (message in French)."""


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
        SQLAlchemy URL; ``DATABASE_URL`` or the default database.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    BackupUnsupported
        Not a SQLite file database.
    """
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (
        None,
        "",
        ":memory:",
    ):
        raise BackupUnsupported(
            "Sauvegarde intégrée réservée à SQLite : pour PostgreSQL, utilisez "
            "pg_dump et pg_restore."
        )
    return Path(parsed.database)


def _copy(source: Path, target: Path) -> None:
    # Page-by-page copy in one read transaction of the source: a consistent
    # snapshot, whatever other connections are doing.
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def backup(
    url: str | None = None,
    reason: str = "manuelle",
    folder: Path | None = None,
    keep: int = KEEP,
) -> Path:
    """Write a consistent copy of the database; return its path.

    Parameters
    ----------
    url : str, optional
        Database URL (``DATABASE_URL`` by default).
    reason : str
        Short tag in the file name (``avant-import``, ``planifiee``…).
    folder : pathlib.Path, optional
        Where to write (:func:`backup_dir` by default).
    keep : int
        Backups kept in the folder; the oldest beyond are deleted.

    Returns
    -------
    pathlib.Path
        ``atlas-<UTC timestamp>-<reason>.sqlite``.
    """
    source = sqlite_path(url)
    folder = folder or backup_dir(url)
    folder.mkdir(parents=True, exist_ok=True)
    tag = re.sub(r"[^a-z0-9-]+", "-", reason.lower()).strip("-")[:40] or "sauvegarde"
    with _LOCK:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"atlas-{stamp}-{tag}.sqlite"
        partial = target.with_suffix(".partial")
        _copy(source, partial)
        partial.replace(target)  # never a half-written backup under its name
        for old in list_backups(folder)[keep:]:
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
    return sorted(found, key=lambda p: _NAME.match(p.name).group(1), reverse=True)


def last_backup_time(
    folder: Path | None = None, url: str | None = None
) -> dt.datetime | None:
    """Return when the newest backup was taken (UTC), or None.

    Parameters
    ----------
    folder : pathlib.Path, optional
    url : str, optional

    Returns
    -------
    datetime.datetime or None
    """
    backups = list_backups(folder, url)
    if not backups:
        return None
    stamp = _NAME.match(backups[0].name).group(1)
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


def restore(
    backup_file: Path, url: str | None = None, folder: Path | None = None
) -> Path:
    """Replace the database's content with a backup's, in one step.

    The current state is backed up first (``avant-restauration``).

    Parameters
    ----------
    backup_file : pathlib.Path
        A file written by :func:`backup`.
    url : str, optional
        Database URL (``DATABASE_URL`` by default).
    folder : pathlib.Path, optional
        Where the safety backup goes.

    Returns
    -------
    pathlib.Path
        The safety backup of the state before the restore.

    Raises
    ------
    FileNotFoundError
        No such backup.
    ValueError
        The file is not an atlas database.
    """
    backup_file = Path(backup_file)
    if not backup_file.is_file():
        raise FileNotFoundError(f"Sauvegarde introuvable : {backup_file}")
    _check_atlas(backup_file)
    target = sqlite_path(url)
    safety = backup(url, "avant-restauration", folder)
    _copy(backup_file, target)
    # The backup's data version counter may repeat numbers already used for
    # other contents since: a new epoch keeps caches from mixing them up.
    from lib.store import Store, new_data_epoch

    with Store(database_url(url)).engine.begin() as conn:
        new_data_epoch(conn)
    return safety


def _check_atlas(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path.name} n'est pas une base SQLite lisible.") from exc
    if not {"meta", "ptce"} <= tables:
        raise ValueError(f"{path.name} n'est pas une base de l'atlas des PTCE.")
