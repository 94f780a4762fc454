"""Editing PTCE through forms, with exactly the importer's validation.

A form holds the rows of the three sheets of the import format (``PTCE``,
``Membres``, ``Soutiens``) for one PTCE. Saving turns them into import tables
and runs :func:`lib.io.importer.plan_import`, so a form accepts and refuses what
a file would, with the same French messages (line, column, value). The
version read when the form was opened is checked when it is saved: an edit
made meanwhile by someone else is refused, never overwritten.

Every function here that writes takes the signed-in :class:`lib.store.accounts.User`
and refuses anyone but an éditeur (:func:`lib.store.accounts.require_editor`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from lib.domain.model import Problem, Ptce
from lib.io.columns import SHEETS
from lib.io.exporter import rows
from lib.io.importer import (
    Plan,
    Table,
    apply_plan,
    cell_text,
    import_files,
    plan_import,
)
from lib.store.accounts import User, require_editor
from lib.store.ptce import Store

#: Form names of the sheets.
FORM = "formulaire"


@dataclass(frozen=True)
class FormData:
    """The rows of a PTCE form: one PTCE row, its members and its supports.

    Attributes
    ----------
    ptce : dict
        Column name → text, for the ``PTCE`` sheet.
    membres, soutiens : list of dict
        Rows of the ``Membres`` and ``Soutiens`` sheets (without
        ``identifiant_ptce``, which the PTCE row gives).
    version : int
        Version of the PTCE when the form was opened (0: a new PTCE).
    """

    ptce: dict
    membres: list
    soutiens: list
    version: int = 0


def _columns(sheet: str) -> list[str]:
    return [c.name for c in SHEETS[sheet]]


def form_data(record: Ptce | None) -> FormData:
    """Return the form rows of a PTCE (empty rows for a new one).

    Parameters
    ----------
    record : Ptce or None

    Returns
    -------
    FormData
    """
    if record is None:
        return FormData({name: "" for name in _columns("PTCE")}, [], [], 0)

    def sheet(name: str) -> list[dict]:
        return [
            {k: cell_text(v) for k, v in row.items() if k != "identifiant_ptce"}
            for row in rows([record], name)
        ]

    (ptce,) = sheet("PTCE")
    return FormData(ptce, sheet("Membres"), sheet("Soutiens"), record.version)


def _table(sheet: str, records: Sequence[Mapping], ptce_id: str | None) -> Table:
    headers = _columns(sheet)
    lines = []
    for i, row in enumerate(records, start=2):  # line 1 is the header
        cells = dict(row)
        if ptce_id is not None:
            cells["identifiant_ptce"] = ptce_id
        if not any(
            str(v or "").strip() for k, v in cells.items() if k != "identifiant_ptce"
        ):
            continue  # an empty row left in a table editor
        lines.append((i, [cell_text(cells.get(h)) for h in headers]))
    return Table(sheet, f"{FORM} ({sheet})", headers, lines)


def plan_form(form: FormData, store: Store) -> Plan:
    """Validate a form as the importer validates a file; write nothing.

    Parameters
    ----------
    form : FormData
    store : Store

    Returns
    -------
    Plan
        One PTCE created, updated or unchanged, or the problems found. A
        PTCE changed or deleted since the form was opened, or a new PTCE
        whose identifier is taken, is a problem.
    """
    ptce_table = _table("PTCE", [form.ptce], None)
    if not ptce_table.rows:
        return Plan(problems=[Problem("Le formulaire est vide.", feuille=FORM)])
    plan = plan_import([ptce_table], store)
    if not plan.ok:
        return plan
    (record,) = plan.created + plan.updated + plan.unchanged
    tables = [
        ptce_table,
        _table("Membres", form.membres, record.id),
        _table("Soutiens", form.soutiens, record.id),
    ]
    plan = plan_import(tables, store)
    if not plan.ok:
        return plan
    stored = store.get(record.id)
    if form.version == 0 and stored is not None:
        problem = f"L'identifiant « {record.id} » est déjà celui d'un autre PTCE."
        plan.problems.append(Problem(problem, colonne="identifiant", feuille=FORM))
    elif form.version and stored is None:
        plan.problems.append(
            Problem("Ce PTCE a été supprimé entre-temps.", feuille=FORM)
        )
    elif form.version and stored is not None and stored.version != form.version:
        plan.problems.append(
            Problem(
                "Ce PTCE a été modifié entre-temps par quelqu'un d'autre "
                f"(version {stored.version}, formulaire ouvert à la version "
                f"{form.version}) : rechargez-le avant d'enregistrer.",
                feuille=FORM,
            )
        )
    # The version the form was read at is the one the save must find.
    plan.updated = [replace(r, version=form.version) for r in plan.updated]
    return plan


def save_form(form: FormData, store: Store, user: User) -> Plan:
    """Validate and save a form in one transaction (or write nothing).

    Parameters
    ----------
    form : FormData
    store : Store
    user : User
        A signed-in éditeur, recorded in the history.

    Returns
    -------
    Plan
        What was written, or the problems (then nothing was written).

    Raises
    ------
    lib.store.accounts.WriteRefused
        ``user`` may not write.
    lib.store.ptce.ConflictError
        The PTCE changed between validation and writing.
    """
    user = require_editor(user)
    plan = plan_form(form, store)
    if plan.ok:
        apply_plan(plan, store, user.label)
    return plan


def delete_ptce(store: Store, ptce_id: str, version: int, user: User) -> None:
    """Delete a PTCE read at ``version`` (its history is kept).

    Parameters
    ----------
    store : Store
    ptce_id : str
    version : int
        The version the user saw.
    user : User
        A signed-in éditeur.

    Raises
    ------
    lib.store.accounts.WriteRefused
    lib.store.ptce.NotFoundError
    lib.store.ptce.ConflictError
        It changed since.
    """
    user = require_editor(user)
    store.delete(ptce_id, user.label, version)


def restore_version(store: Store, ptce_id: str, version: int, user: User) -> Ptce:
    """Bring back a PTCE as it was at ``version`` (a new version is made).

    Parameters
    ----------
    store : Store
    ptce_id : str
    version : int
    user : User
        A signed-in éditeur.

    Returns
    -------
    Ptce
        The restored record.
    """
    user = require_editor(user)
    return store.restore(ptce_id, version, user.label)


def import_upload(
    files: list[tuple[str, bytes]], store: Store, user: User, dry_run: bool = True
) -> Plan:
    """Validate uploaded files, and apply them unless ``dry_run``.

    A consistent backup of the database is taken before applying (SQLite).

    Parameters
    ----------
    files : list of (name, bytes)
        Only the base name of each file is kept (``../`` is harmless).
    store : Store
    user : User
        A signed-in éditeur (also for a dry run: the wizard is for éditeurs).
    dry_run : bool
        Only report (upload → report → preview); apply on the last step.

    Returns
    -------
    Plan
    """
    from pathlib import PurePath

    from lib.store.backups import BackupUnsupported, backup
    from lib.store.database import require_writable

    user = require_editor(user)
    named = [
        (PurePath(name.replace("\\", "/")).name or "fichier", data)
        for name, data in files
    ]
    if not dry_run:
        plan = import_files(named, store, user.label, dry_run=True)
        if not plan.ok:
            return plan
        # Said before the backup: a read-only base must not cost a backup.
        require_writable(store)
        try:
            backup(
                str(store.engine.url.render_as_string(hide_password=False)),
                "avant-import",
            )
        except BackupUnsupported:
            pass  # PostgreSQL: the server's own backups
    return import_files(named, store, user.label, dry_run=dry_run)


#: The columns of :func:`problem_rows`, in French.
PROBLEM_COLUMNS = ("Fichier ou feuille", "Ligne", "Colonne", "Valeur", "Problème")


def problem_rows(problems: Sequence[Problem]) -> list[dict[str, str]]:
    """Return validation problems as rows of a French table.

    Parameters
    ----------
    problems : sequence of Problem

    Returns
    -------
    list of dict
        Keyed by :data:`PROBLEM_COLUMNS`; text only, "" where a problem has
        no such place (never None).
    """
    from lib.fr import number

    return [
        dict(
            zip(
                PROBLEM_COLUMNS,
                (
                    p.feuille or "",
                    number(p.ligne) if p.ligne is not None else "",
                    p.colonne or "",
                    p.valeur or "",
                    p.message,
                ),
                strict=True,
            )
        )
        for p in problems
    ]
