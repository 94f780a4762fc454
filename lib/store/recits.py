"""Récits in the database: save, load, history, delete, restore, copy.

The SQL of the récits (tables ``recit`` and ``recit_historique`` of
:mod:`lib.store.ptce`); what a récit is lives in :mod:`lib.domain.recits`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import sqlalchemy as sa

from lib.domain.model import fold
from lib.domain.recits import Recit, Vue, new_id
from lib.store.accounts import User, require_editor
from lib.store.ptce import ConflictError, NotFoundError, Store, recit, recit_historique


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def list_recits(store: Store) -> list[tuple[str, str]]:
    """Return ``(id, titre)`` of the saved récits, by title.

    Parameters
    ----------
    store : Store

    Returns
    -------
    list of tuple
    """
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(recit.c.id, recit.c.titre).order_by(recit.c.titre)
        )
        return [(r.id, r.titre) for r in rows]


def load_recit(store: Store, recit_id: str) -> Recit | None:
    """Return a saved récit, or None.

    Parameters
    ----------
    store : Store
    recit_id : str

    Returns
    -------
    Recit or None
    """
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(recit).where(recit.c.id == recit_id)).first()
    if row is None:
        return None
    vues = tuple(Vue.from_dict(v) for v in row.vues or ())
    return Recit(row.id, row.titre, vues, row.version)


def save_recit(
    store: Store, story: Recit, user: User, action: str | None = None
) -> Recit:
    """Save a récit; refuse it if someone saved it since it was read.

    Every save is written to the récit's history (see :func:`recit_history`).

    Parameters
    ----------
    store : Store
    story : Recit
        ``version`` is the version it was read at (0: a new récit).
    user : lib.auth.User
        A signed-in éditeur, recorded as the author.
    action : str, optional
        What the history says of the change (default « création » or
        « modification »).

    Returns
    -------
    Recit
        The récit at its new version.

    Raises
    ------
    lib.auth.WriteRefused
        ``user`` may not write.
    ConflictError
        The récit changed (or was created, or deleted) meanwhile.
    ValueError
        No title, or no vue.
    """
    user = require_editor(user)
    if not story.titre.strip():
        raise ValueError("Le récit doit avoir un titre.")
    if not story.vues:
        raise ValueError("Le récit doit contenir au moins une vue.")
    with store.engine.begin() as conn:
        if story.version == 0:
            exists = conn.execute(
                sa.select(recit.c.id).where(recit.c.id == story.id)
            ).first()
            if exists:
                raise ConflictError(
                    f"Un récit « {story.id} » existe déjà : rechargez la page."
                )
            # A récit made again under a deleted one's id continues its
            # numbering, so that its history never repeats a version.
            version = _last_version(conn, story.id) + 1
            values = _values(story, version, user)
            conn.execute(sa.insert(recit).values(id=story.id, **values))
        else:
            version = story.version + 1
            values = _values(story, version, user)
            done = conn.execute(
                sa.update(recit)
                .where(recit.c.id == story.id, recit.c.version == story.version)
                .values(**values)
            )
            if done.rowcount != 1:
                raise ConflictError(_conflict(conn, story.id, story.version))
        _record(
            conn,
            story.id,
            version,
            action or ("création" if story.version == 0 else "modification"),
            values,
        )
    return replace(story, version=version)


def _values(story: Recit, version: int, user: User) -> dict:
    return {
        "titre": story.titre.strip()[:200],
        "vues": [v.to_dict() for v in story.vues],
        "version": version,
        "modifie_le": _now(),
        "par": user.label[:100],
    }


def _record(conn, recit_id: str, version: int, action: str, values: dict) -> None:
    conn.execute(
        sa.insert(recit_historique).values(
            recit_id=recit_id,
            version=version,
            action=action,
            le=values["modifie_le"],
            par=values["par"],
            titre=values.get("titre"),
            # sa.JSON stores None as the JSON text "null": ask for SQL NULL.
            vues=sa.null() if values.get("vues") is None else values["vues"],
        )
    )


def _last_version(conn, recit_id: str) -> int:
    last = conn.execute(
        sa.select(sa.func.max(recit_historique.c.version)).where(
            recit_historique.c.recit_id == recit_id
        )
    ).scalar()
    return int(last or 0)


def _conflict(conn, recit_id: str, seen: int) -> str:
    row = conn.execute(
        sa.select(recit.c.version, recit.c.par).where(recit.c.id == recit_id)
    ).first()
    if row is None:
        return (
            "Ce récit a été supprimé entre-temps par quelqu'un d'autre : rien n'a "
            "été enregistré. Il peut être restauré depuis son historique."
        )
    return (
        f"Ce récit a été modifié entre-temps par {row.par} (version {row.version}, "
        f"vous regardiez la version {seen}) : rien n'a été changé. Rechargez-le "
        "et refaites votre modification."
    )


def delete_recit(store: Store, recit_id: str, version: int, user: User) -> None:
    """Delete a saved récit read at ``version`` (its history is kept).

    Parameters
    ----------
    store : Store
    recit_id : str
    version : int
        The version the user saw.
    user : lib.auth.User
        A signed-in éditeur.

    Raises
    ------
    lib.auth.WriteRefused
        ``user`` may not write.
    NotFoundError
        No such récit.
    ConflictError
        It changed since ``version``.
    """
    user = require_editor(user)
    with store.engine.begin() as conn:
        current = conn.execute(
            sa.select(recit.c.version).where(recit.c.id == recit_id)
        ).scalar()
        if current is None:
            raise NotFoundError(f"Aucun récit « {recit_id} ».")
        done = conn.execute(
            sa.delete(recit).where(recit.c.id == recit_id, recit.c.version == version)
        )
        if done.rowcount != 1:
            raise ConflictError(_conflict(conn, recit_id, version))
        _record(
            conn,
            recit_id,
            current + 1,
            "suppression",
            {"modifie_le": _now(), "par": user.label[:100]},
        )


def recit_history(store: Store, recit_id: str) -> list[dict]:
    """Return the changes of a récit, oldest first.

    Parameters
    ----------
    store : Store
    recit_id : str

    Returns
    -------
    list of dict
        ``version``, ``action``, ``le`` (UTC ISO time), ``par``, ``titre``
        and ``vues`` (the number of vues; both None after a deletion).
    """
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(recit_historique)
            .where(recit_historique.c.recit_id == recit_id)
            .order_by(recit_historique.c.version)
        ).mappings()
        return [
            {
                **{k: r[k] for k in ("version", "action", "le", "par", "titre")},
                "vues": None if r["vues"] is None else len(r["vues"]),
            }
            for r in rows
        ]


def deleted_recits(store: Store) -> list[tuple[str, str, int]]:
    """Return the deleted récits that can be restored, by title.

    Parameters
    ----------
    store : Store

    Returns
    -------
    list of tuple
        ``(id, titre, version)``: the title the récit had before it was
        deleted, and the version that holds that content.
    """
    with store.engine.connect() as conn:
        live = set(conn.execute(sa.select(recit.c.id)).scalars())
        rows = conn.execute(
            sa.select(
                recit_historique.c.recit_id,
                recit_historique.c.titre,
                recit_historique.c.version,
            )
            .where(recit_historique.c.vues.is_not(None))
            .order_by(recit_historique.c.recit_id, recit_historique.c.version)
        )
        last = {r.recit_id: (r.recit_id, r.titre, r.version) for r in rows}
    found = [item for rid, item in last.items() if rid not in live]
    return sorted(found, key=lambda item: fold(item[1]))


def restore_recit(store: Store, recit_id: str, version: int, user: User) -> Recit:
    """Bring back a récit as it was at ``version`` (as a new version).

    Works for a deleted récit too: it is made again with its history.

    Parameters
    ----------
    store : Store
    recit_id : str
    version : int
        A version of :func:`recit_history` that has content.
    user : lib.auth.User
        A signed-in éditeur.

    Returns
    -------
    Recit
        The restored récit at its new version (unchanged when it already
        had that content).

    Raises
    ------
    lib.auth.WriteRefused
    NotFoundError
        No such version.
    """
    user = require_editor(user)
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(recit_historique).where(
                recit_historique.c.recit_id == recit_id,
                recit_historique.c.version == version,
            )
        ).first()
        current = conn.execute(
            sa.select(recit.c.version).where(recit.c.id == recit_id)
        ).scalar()
    if row is None or row.vues is None:
        raise NotFoundError(f"Pas de version {version} à restaurer pour ce récit.")
    story = Recit(
        recit_id,
        row.titre,
        tuple(Vue.from_dict(v) for v in row.vues),
        current or 0,
    )
    live = load_recit(store, recit_id) if current is not None else None
    if live is not None and (live.titre, live.vues) == (story.titre, story.vues):
        return live  # already so: no new version, no entry
    return save_recit(
        store, story, user, action=f"restauration de la version {version}"
    )


def copy_recit(store: Store, story: Recit, titre: str, user: User) -> Recit:
    """Save the vues of ``story`` as a new récit titled ``titre``.

    The new récit gets a free id, also among deleted récits (their history
    stays theirs).

    Parameters
    ----------
    store : Store
    story : Recit
    titre : str
    user : lib.auth.User
        A signed-in éditeur.

    Returns
    -------
    Recit
        The new récit, saved.

    Raises
    ------
    lib.auth.WriteRefused
    ValueError
        No title.
    ConflictError
        The id was taken meanwhile.
    """
    if not titre.strip():
        raise ValueError("Donnez un titre au nouveau récit.")
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(recit_historique.c.recit_id).distinct())
        taken: set[str] = {*stored.scalars(), *dict(list_recits(store))}
    copy = Recit(new_id(titre, taken), titre.strip(), story.vues)
    return save_recit(store, copy, user)
