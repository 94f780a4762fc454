"""``python -m lib.io.cli``: templates, import, export, history, restore, demo.

Every command uses the database of ``DATABASE_URL`` (default
``data/atlas.sqlite``).

Commands
--------
``template --format csv|xlsx [--feuille PTCE|Membres|Soutiens] [-o FILE]``
``import FILE [FILE …] [--dry-run] [--par NOM]``
    Prints the report; its last line is the JSON summary
    ``{"created", "updated", "unchanged", "errors"}``. Exit code 1 when the
    file is rejected (nothing is written then).
``export --format csv|xlsx|geojson [--feuille …] [--origine …] [-o FILE]``
``history ID`` and ``restore ID VERSION [--par NOM]``
``init [--demo]``
    Create or upgrade the database; ``--demo`` loads the demo data into an
    empty database.
``create-admin IDENTIFIANT [--nom NOM]``
    Create an admin account; the password is read from
    ``PTCE_ADMIN_PASSWORD`` or asked twice.
``backup``, ``backups`` and ``restore-backup FILE``
    Consistent SQLite backup (also taken before every import that passed
    validation), list, restore (the file is checked first; the state before
    the restore is backed up first).

Every failure ends in one French sentence on stderr saying what to do, and
exit code 1 (:func:`lib.domain.errors.explain`); an unexpected one leaves its
traceback in the log of :func:`lib.domain.errors.log_failure`, never on screen.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from lib.fr import ArgumentParser, count


def _who(args: argparse.Namespace) -> str:
    if args.par:
        return args.par
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "ligne de commande"


def _write(data: bytes, output: str | None) -> None:
    if output:
        try:
            Path(output).write_bytes(data)
        except OSError as exc:
            exc.filename = exc.filename or output  # named in the French message
            raise
        print(f"Écrit : {output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)


def _store(create: bool = False, full_check: bool = False):
    # Checked first (missing, damaged, newer schema: a French refusal); only
    # the commands that write data may create a missing database.
    from lib.store.database import open_store

    return open_store(create=create, full_check=full_check)


def _template(args: argparse.Namespace) -> int:
    from lib.io.exporter import template_csv, template_xlsx

    data = template_xlsx() if args.format == "xlsx" else template_csv(args.feuille)
    _write(data, args.output)
    return 0


def _import(args: argparse.Namespace) -> int:
    from lib.io.importer import import_files

    files = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            print(
                json.dumps(
                    {
                        "created": 0,
                        "updated": 0,
                        "unchanged": 0,
                        "errors": [{"probleme": f"fichier introuvable : {name}"}],
                    },
                    ensure_ascii=False,
                )
            )
            return 1
        files.append((path.name, path.read_bytes()))
    store = _store(create=True)
    # Validate first: a refused file writes nothing, not even a backup (30
    # refused imports would otherwise rotate every earlier backup out).
    plan = import_files(files, store, _who(args), dry_run=True)
    if plan.ok and not args.dry_run:
        from lib.io.importer import apply_plan
        from lib.store.database import require_writable

        require_writable(store)
        _backup_before_import()
        apply_plan(plan, store, _who(args))
    for warning in plan.warnings:
        print(f"Attention : {warning}")
    for p in plan.problems:
        where = ", ".join(
            x
            for x in (
                p.feuille,
                f"ligne {p.ligne}" if p.ligne else None,
                f"colonne {p.colonne}" if p.colonne else None,
                f"valeur « {p.valeur} »" if p.valeur else None,
            )
            if x
        )
        print(f"Erreur : {where} : {p.message}")
    verb = "serait" if args.dry_run else "est"
    if plan.ok:
        print(
            f"Import {'simulé' if args.dry_run else 'appliqué'} : "
            f"{count(len(plan.created), 'créé')}, "
            f"{count(len(plan.updated), 'modifié')}, "
            f"{count(len(plan.unchanged), 'inchangé')}."
        )
    else:
        print(
            f"Import refusé : rien n'{verb} écrit "
            f"({count(len(plan.problems), 'erreur')})."
        )
    print(json.dumps(plan.summary(), ensure_ascii=False))
    return 0 if plan.ok else 1


def _export(args: argparse.Namespace) -> int:
    from lib.io.exporter import to_csv, to_geojson, to_xlsx

    store = _store()
    ids = store.ids(origines=args.origine) if args.origine else None
    records = store.load(ids)
    if args.format == "csv":
        data = to_csv(records, args.feuille)
    elif args.format == "xlsx":
        data = to_xlsx(records)
    else:
        data = to_geojson(records, _points())
    _write(data, args.output)
    return 0


def _points() -> dict[str, tuple[float, float]] | None:
    from geo.boundaries import CacheMissing, load_boundaries

    try:
        gdf = load_boundaries("commune", "regional")
    except CacheMissing:
        return None
    return dict(zip(gdf["code"], zip(gdf["x"], gdf["y"], strict=True), strict=True))


def _history(args: argparse.Namespace) -> int:
    entries = _store().history(args.id)
    if not entries:
        print(f"Aucun historique pour « {args.id} ».", file=sys.stderr)
        return 1
    for e in entries:
        print(json.dumps(e, ensure_ascii=False))
    return 0


def _restore(args: argparse.Namespace) -> int:
    from lib.store.ptce import NotFoundError

    try:
        record = _store().restore(args.id, args.version, _who(args))
    except NotFoundError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 1
    print(
        f"« {record.nom} » restauré (version {args.version}) : "
        f"nouvelle version {record.version}."
    )
    return 0


def _backup_before_import() -> None:
    from lib.store.backups import BackupUnsupported, backup

    try:
        saved = backup(reason="avant-import")
    except BackupUnsupported:
        return
    print(f"Sauvegarde avant import : {saved}", file=sys.stderr)


def _backup(args: argparse.Namespace) -> int:
    from lib.store.backups import MANUAL, BackupUnsupported, backup

    _store()  # the database exists and is up to date
    try:
        print(f"Sauvegarde écrite : {backup(reason=MANUAL)}")
    except BackupUnsupported as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 1
    return 0


def _backups(args: argparse.Namespace) -> int:
    from lib.store.backups import BackupUnsupported, backup_dir, list_backups

    try:
        found = list_backups()
    except BackupUnsupported as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 1
    if not found:
        print(f"Aucune sauvegarde dans {backup_dir()}.")
    for path in found:
        print(path)
    return 0


def _restore_backup(args: argparse.Namespace) -> int:
    from lib.store.backups import DAMAGED, restore

    safety = restore(Path(args.file))
    if safety is None:
        print(f"Base créée depuis {args.file}.")
    elif DAMAGED in safety.name:
        print(
            f"Base restaurée depuis {args.file} ; la base endommagée est mise de "
            f"côté dans {safety}. Redémarrez l'application."
        )
    else:
        print(
            f"Base restaurée depuis {args.file} (état précédent sauvegardé : {safety})."
        )
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    import os

    from lib.store.accounts import create_account, operator

    password = os.environ.get("PTCE_ADMIN_PASSWORD")
    if not password:
        password = getpass.getpass("Mot de passe : ")
        if getpass.getpass("Mot de passe (encore) : ") != password:
            print("Erreur : les deux mots de passe diffèrent.", file=sys.stderr)
            return 1
    try:
        create_account(
            _store(create=True),
            args.identifiant,
            args.nom or args.identifiant,
            password,
            "admin",
            operator(_who(args)),
        )
    except ValueError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 1
    print(f"Compte administrateur créé : {args.identifiant.strip().lower()}")
    return 0


def _init(args: argparse.Namespace) -> int:
    from lib.store.database import writable

    store = _store(create=True, full_check=True)
    print(f"Base prête : {store.engine.url.render_as_string(hide_password=True)}")
    if not writable(store):
        print("Attention : la base est en lecture seule ; elle ne peut être que lue.")
    if args.demo:
        from lib.io.demo import ensure_demo

        added = ensure_demo(store)
        if added:
            print(f"Données de démonstration chargées : {added} PTCE.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``python -m lib.io.cli`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Process exit code.
    """
    parser = ArgumentParser(prog="python -m lib.io.cli", description="Données des PTCE")
    sub = parser.add_subparsers(dest="command", required=True)
    feuilles = ["PTCE", "Membres", "Soutiens"]

    p = sub.add_parser("template", help="modèle d'import")
    p.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    p.add_argument("--feuille", choices=feuilles, default="PTCE")
    p.add_argument(
        "-o", "--output", metavar="FICHIER", help="sinon : la sortie standard"
    )
    p.set_defaults(func=_template)

    p = sub.add_parser("import", help="importer des fichiers CSV, XLSX ou GeoJSON")
    p.add_argument("files", nargs="+", metavar="FICHIER")
    p.add_argument("--dry-run", action="store_true", help="simuler sans écrire")
    p.add_argument("--par", help="auteur inscrit dans l'historique")
    p.set_defaults(func=_import)

    p = sub.add_parser("export", help="exporter")
    p.add_argument("--format", choices=["csv", "xlsx", "geojson"], default="csv")
    p.add_argument("--feuille", choices=feuilles, default="PTCE")
    p.add_argument(
        "--origine", action="append", help="saisie, démonstration, synthétique"
    )
    p.add_argument(
        "-o", "--output", metavar="FICHIER", help="sinon : la sortie standard"
    )
    p.set_defaults(func=_export)

    p = sub.add_parser("history", help="historique d'un PTCE")
    p.add_argument("id")
    p.set_defaults(func=_history)

    p = sub.add_parser("restore", help="restaurer une version")
    p.add_argument("id")
    p.add_argument("version", type=int)
    p.add_argument("--par", help="auteur inscrit dans l'historique")
    p.set_defaults(func=_restore)

    p = sub.add_parser("init", help="créer ou mettre à jour la base")
    p.add_argument(
        "--demo", action="store_true", help="charger la démo si la base est vide"
    )
    p.set_defaults(func=_init)

    p = sub.add_parser("create-admin", help="créer un compte administrateur")
    p.add_argument("identifiant")
    p.add_argument("--nom", help="nom affiché")
    p.add_argument("--par", help="auteur")
    p.set_defaults(func=_create_admin)

    p = sub.add_parser("backup", help="sauvegarder la base (SQLite)")
    p.set_defaults(func=_backup)
    p = sub.add_parser("backups", help="lister les sauvegardes")
    p.set_defaults(func=_backups)
    p = sub.add_parser("restore-backup", help="restaurer une sauvegarde")
    p.add_argument("file", metavar="FICHIER")
    p.set_defaults(func=_restore_backup)

    args = parser.parse_args(argv)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run a command; any failure becomes one French line on stderr."""
    from lib.domain.errors import explain, failure_kind, log_failure

    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(
            "Interrompu : ce qui était en cours n'a pas été enregistré.",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        # The reader of the output went away (``… | head``): nothing to say.
        # Python flushes stdout at exit: point it at /dev/null first, as the
        # documentation of the signal module advises.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        ref = (
            log_failure(exc, f"lib.io.cli {args.command}")
            if (failure_kind(exc) is None)
            else None
        )
        print(f"Erreur : {explain(exc, ref=ref)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
