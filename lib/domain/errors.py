"""One error path: every failure becomes a French sentence saying what to do.

The command line (``python -m lib.io.cli``) and the app both end every failure
with :func:`explain`: a locked, read-only, full, damaged or missing database,
a file that cannot be written, or anything unexpected. No traceback reaches a
person; :func:`log_failure` keeps it in a log file for whoever maintains the
server.

Messages come in two versions. The command line may name the files the
person gave (``DATABASE_URL``, ``-o FICHIER``); the app never shows a path of
the server (``for_app=True``).
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "RESTORE_HINT",
    "AtlasError",
    "DatabaseDamaged",
    "DatabaseMissing",
    "DatabaseReadOnly",
    "DatabaseTooNew",
    "SaidInFrench",
    "explain",
    "failure_kind",
    "log_failure",
]

#: How to get a damaged database back (named by every "endommagée" message).
RESTORE_HINT = (
    "restaurez une sauvegarde avec `python -m lib.io.cli restore-backup FICHIER` "
    "(liste : `python -m lib.io.cli backups`)"
)


class SaidInFrench:
    """Mark an exception class whose message is French and names no server path.

    Such a message is shown as it is (sign-in refused, write refused, file
    rejected, record changed or gone meanwhile).
    """


class AtlasError(Exception):
    """A failure whose message is French and says what to do.

    Parameters
    ----------
    message : str
        For the command line: may name a file the person gave.
    public : str, optional
        For the app: the same without any path of the server (``message`` by
        default, when it names none).
    """

    def __init__(self, message: str, public: str | None = None):
        super().__init__(message)
        self.public = public or message


class DatabaseDamaged(AtlasError):
    """The database file is corrupt or is not an SQLite database."""


class DatabaseMissing(AtlasError):
    """The database does not exist and may not be created here."""


class DatabaseTooNew(AtlasError):
    """The database was written by a newer version of the atlas."""


class DatabaseReadOnly(AtlasError):
    """The database cannot be written (file, folder or ``mode=ro``)."""


# -- what went wrong ----------------------------------------------------------

#: Kinds of failure, with the command-line and the app message.
_MESSAGES = {
    "verrouillee": (
        "La base de données est occupée : un autre programme (import, "
        "sauvegarde, application) y écrit en ce moment. Elle n'a pas été "
        "modifiée ; réessayez dans quelques instants.",
        "La base de données est occupée par une autre opération (import, "
        "sauvegarde). Rien n'a été modifié ; réessayez dans quelques instants.",
    ),
    "lecture-seule": (
        "La base de données est en lecture seule : elle n'a pas été modifiée. "
        "Pour écrire, rendez le fichier de la base et son dossier accessibles "
        "en écriture (ou retirez mode=ro de DATABASE_URL), puis recommencez.",
        "La base de données est en lecture seule : la consultation reste "
        "possible, mais rien ne peut être modifié. Demandez à l'administrateur "
        "du serveur de la rendre accessible en écriture.",
    ),
    "disque-plein": (
        "Le disque est plein : la base de données n'a pas été modifiée. "
        "Libérez de la place (par exemple d'anciennes sauvegardes "
        "automatiques), puis recommencez.",
        "Le disque du serveur est plein : rien n'a été modifié. Prévenez "
        "l'administrateur du serveur, qui doit libérer de la place.",
    ),
    "endommagee": (
        f"La base de données est endommagée : {RESTORE_HINT}.",
        "La base de données est endommagée : l'atlas ne peut pas la lire. Un "
        "administrateur doit restaurer une sauvegarde sur le serveur avec "
        "`python -m lib.io.cli restore-backup FICHIER` (liste : "
        "`python -m lib.io.cli backups`).",
    ),
    "inaccessible": (
        "Impossible d'ouvrir la base de données : son fichier ou son dossier "
        "est introuvable ou inaccessible. Vérifiez DATABASE_URL et les droits "
        "sur le dossier, ou créez la base avec `python -m lib.io.cli init`.",
        "La base de données est introuvable ou inaccessible. Un administrateur "
        "doit vérifier DATABASE_URL sur le serveur, ou créer la base avec "
        "`python -m lib.io.cli init`.",
    ),
    "entrees-sorties": (
        "Erreur de lecture ou d'écriture sur le disque : la base de données "
        "n'a pas été modifiée. Vérifiez l'état du disque, puis recommencez.",
        "Erreur de lecture ou d'écriture sur le disque du serveur : rien n'a "
        "été modifié. Réessayez ; si cela se répète, prévenez l'administrateur.",
    ),
    "serveur": (
        "Le serveur de base de données ne répond pas : vérifiez qu'il est "
        "démarré et que DATABASE_URL est juste, puis recommencez.",
        "Le serveur de base de données ne répond pas. Réessayez dans quelques "
        "instants ; si cela dure, prévenez l'administrateur.",
    ),
    "memoire": (
        "Mémoire insuffisante : fermez d'autres programmes ou traitez moins "
        "de données à la fois, puis recommencez.",
        "Le serveur manque de mémoire : réessayez avec moins de données (des "
        "filtres plus étroits) ou plus tard.",
    ),
}

#: SQLite result codes (``sqlite3.Error.sqlite_errorname``, prefix) → kind.
_SQLITE_CODES = (
    ("SQLITE_BUSY", "verrouillee"),
    ("SQLITE_LOCKED", "verrouillee"),
    ("SQLITE_READONLY", "lecture-seule"),
    ("SQLITE_FULL", "disque-plein"),
    ("SQLITE_CORRUPT", "endommagee"),
    ("SQLITE_NOTADB", "endommagee"),
    ("SQLITE_CANTOPEN", "inaccessible"),
    ("SQLITE_IOERR", "entrees-sorties"),
    ("SQLITE_NOMEM", "memoire"),
)
#: The same from the message text (older drivers, wrapped errors).
_SQLITE_TEXTS = (
    ("database is locked", "verrouillee"),
    ("database table is locked", "verrouillee"),
    ("readonly database", "lecture-seule"),
    ("read-only", "lecture-seule"),
    ("database or disk is full", "disque-plein"),
    ("disk image is malformed", "endommagee"),
    ("file is not a database", "endommagee"),
    ("file is encrypted or is not a database", "endommagee"),
    ("unable to open database file", "inaccessible"),
    ("disk i/o error", "entrees-sorties"),
    ("out of memory", "memoire"),
)
#: PostgreSQL SQLSTATE (psycopg ``sqlstate``, prefix) → kind.
_SQLSTATES = (
    ("53100", "disque-plein"),
    ("25006", "lecture-seule"),
    ("55P03", "verrouillee"),
    ("40P01", "verrouillee"),
    ("53200", "memoire"),
    ("08", "serveur"),
    ("57P", "serveur"),
    ("XX001", "endommagee"),
    ("XX002", "endommagee"),
)
#: OSError errno → kind (files the atlas reads or writes itself).
_ERRNOS = {
    errno.ENOSPC: "disque-plein",
    errno.EDQUOT: "disque-plein",
    errno.EFBIG: "fichier-trop-gros",
    errno.EROFS: "disque-lecture-seule",
    errno.EACCES: "acces-refuse",
    errno.EPERM: "acces-refuse",
    errno.ENOENT: "introuvable",
    errno.EISDIR: "dossier",
    errno.ENOTDIR: "introuvable",
    errno.EIO: "entrees-sorties",
}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """Yield an exception and what it wraps (driver error, cause, context)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(
            [getattr(current, "orig", None), current.__cause__, current.__context__]
        )


def _french_types() -> tuple[type, ...]:
    # Exceptions of lib/ whose message is already French and path-free.
    return (SaidInFrench,)


def failure_kind(exc: BaseException) -> str | None:
    """Return the kind of a failure, or None when it is unexpected.

    Parameters
    ----------
    exc : BaseException
        Any exception; SQLAlchemy errors are looked through to the driver's.

    Returns
    -------
    str or None
        ``verrouillee``, ``lecture-seule``, ``disque-plein``, ``endommagee``,
        ``inaccessible``, ``entrees-sorties``, ``serveur``, ``memoire``; for
        files ``fichier-trop-gros``, ``disque-lecture-seule``,
        ``acces-refuse``, ``introuvable``, ``dossier``; ``atlas`` for an
        exception that carries its own French message.
    """
    french = _french_types()
    for current in _chain(exc):
        if isinstance(current, (AtlasError, *french)):
            return "atlas"
        if isinstance(current, MemoryError):
            return "memoire"
        name = getattr(current, "sqlite_errorname", None)
        if isinstance(name, str):
            for prefix, kind in _SQLITE_CODES:
                if name.startswith(prefix):
                    return kind
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str):
            for prefix, kind in _SQLSTATES:
                if state.startswith(prefix):
                    return kind
        if isinstance(current, OSError) and current.errno in _ERRNOS:
            return _ERRNOS[current.errno]
    for current in _chain(exc):
        if type(current).__module__.split(".")[0] in ("sqlite3", "sqlalchemy"):
            text = str(getattr(current, "orig", None) or current).lower()
            for needle, kind in _SQLITE_TEXTS:
                if needle in text:
                    return kind
        if type(current).__module__.split(".")[0] == "psycopg" and (
            "connection" in str(current).lower()
        ):
            return "serveur"
    return None


def _file_message(kind: str, exc: BaseException, for_app: bool) -> str:
    name = None
    for current in _chain(exc):
        if isinstance(current, OSError) and current.filename and not for_app:
            name = os.fsdecode(current.filename)
            break
    what = f"« {name} »" if name else "un fichier"
    messages = {
        "fichier-trop-gros": f"Impossible d'écrire {what} : fichier trop gros pour "
        "ce disque. Choisissez un autre emplacement, puis recommencez.",
        "disque-lecture-seule": f"Impossible d'écrire {what} : le disque est en "
        "lecture seule. Choisissez un autre emplacement, puis recommencez.",
        "acces-refuse": f"Accès refusé à {what} : vérifiez les droits sur ce "
        "fichier et sur son dossier, puis recommencez.",
        "introuvable": f"Fichier ou dossier introuvable : {what}. Vérifiez le "
        "chemin, puis recommencez.",
        "dossier": f"{what[0].upper()}{what[1:]} est un dossier, pas un fichier : "
        "indiquez un nom de fichier.",
    }
    if kind == "disque-plein":
        if for_app:
            return _MESSAGES[kind][1]
        target = f" {what}" if name else ""
        return (
            f"Impossible d'écrire{target} : le disque est plein. Libérez de la "
            "place, puis recommencez."
        )
    if for_app and kind in messages:
        return (
            "Un fichier du serveur n'a pas pu être lu ou écrit. Réessayez ; si "
            "cela se répète, prévenez l'administrateur du serveur."
        )
    return messages[kind]


def explain(
    exc: BaseException, *, for_app: bool = False, ref: str | None = None
) -> str:
    """Return the French sentence that tells a person what failed and what to do.

    Parameters
    ----------
    exc : BaseException
        The failure.
    for_app : bool
        The message is shown in the app: it never names a path of the server.
    ref : str, optional
        Where the details of an unexpected failure were logged (a reference
        in the app, a file and reference on the command line).

    Returns
    -------
    str
        Never a traceback, never the text of an unexpected error.
    """
    kind = failure_kind(exc)
    if kind == "atlas":
        for current in _chain(exc):
            if isinstance(current, AtlasError):
                return current.public if for_app else str(current)
            if isinstance(current, _french_types()):
                return str(current)
    if kind in _MESSAGES:
        if kind == "disque-plein" and any(isinstance(c, OSError) for c in _chain(exc)):
            # A file the atlas writes (an export), not the database.
            return _file_message(kind, exc, for_app)
        cli, app = _MESSAGES[kind]
        return app if for_app else cli
    if kind is not None:
        return _file_message(kind, exc, for_app)
    name = type(exc).__name__
    if for_app:
        return (
            f"Une erreur inattendue est survenue ({name}). Elle a été consignée "
            f"sur le serveur sous la référence {ref or 'inconnue'} ; rechargez "
            "la page ou signalez cette référence."
        )
    if ref:
        return (
            f"Une erreur inattendue est survenue ({name}). Le détail est "
            f"consigné dans {ref} : signalez-la avec ce fichier."
        )
    return (
        f"Une erreur inattendue est survenue ({name}) : signalez-la en "
        "indiquant la commande lancée."
    )


# -- the log of failures ----------------------------------------------------------


def log_dir() -> Path:
    """Return the folder of the failure log.

    Returns
    -------
    pathlib.Path
        ``PTCE_LOG_DIR``, or ``data/logs`` in the project.
    """
    if os.environ.get("PTCE_LOG_DIR"):
        return Path(os.environ["PTCE_LOG_DIR"])
    return Path(__file__).resolve().parents[2] / "data" / "logs"


def log_failure(exc: BaseException, where: str = "lib.io.cli") -> str | None:
    """Append a failure and its traceback to the log; return a reference.

    Parameters
    ----------
    exc : BaseException
        The failure.
    where : str
        What was running (the command).

    Returns
    -------
    str or None
        ``"<file> (référence <ref>)"``, or None when the log could not be
        written (a full or read-only disk must not hide the first failure).
    """
    ref = uuid.uuid4().hex[:8]
    path = log_dir() / "atlas-erreurs.log"
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = "".join(traceback.format_exception(exc))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {stamp} {where} référence {ref}\n{text}\n")
    except OSError:
        return None
    return f"{path} (référence {ref})"
